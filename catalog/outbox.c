#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mailtext.h"
#include "pd.h"
#include "text.h"

extern char **environ;

#define MAX_LINE 998    /* RFC 5322 2.1.1, without the line break */
#define QP_LINE 76      /* RFC 2045 6.7 */
#define WORD_BYTES 45   /* raw bytes per encoded-word: 60 base64 chars, 75 with " " before */
#define WORD_LINE 76    /* RFC 2047 2: a line with encoded-words */
#define MAX_ARGV 32     /* words of the sendmail command */
#define MAX_HEADER 4000 /* a header value, before encoding */

static int has_crlf(const char *s)
{
    return s && strpbrk(s, "\r\n") != NULL;
}

static int is_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

/* a bare addr-spec, ASCII, one recipient: nothing a header or sendmail -t could misread */
static int plain_address(const char *a)
{
    size_t len = a ? strlen(a) : 0;
    const char *at = a ? strchr(a, '@') : NULL;
    if (!at || at == a || len > 254 || strchr(at + 1, '@'))
        return 0;
    const char *dom = at + 1;
    size_t dl = strlen(dom);
    if (dl < 3 || !strchr(dom, '.') || dom[0] == '.' || dom[dl - 1] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c <= ' ' || c >= 0x7f || strchr(",;<>()[]\"\\:", c))
            return 0;
    }
    return 1;
}

/* RFC 2047 encoded-words (B encoding), split at character boundaries, folded onto lines of at
 * most 76 characters; col: where the first word starts on its line ("Subject: " is 9) */
static void put_encoded_words(buf *out, const char *s, size_t len, size_t col)
{
    char b64[sodium_base64_ENCODED_LEN(WORD_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    size_t i = 0;
    int first = 1;
    /* "=?UTF-8?B?" and "?=" are 12; every 3 bytes take 4 characters */
    size_t room = col + 12 + 8 < WORD_LINE ? (WORD_LINE - col - 12) / 4 * 3 : 6;
    while (i < len) {
        size_t max = first && room < WORD_BYTES ? room : WORD_BYTES;
        size_t n = len - i < max ? len - i : max;
        /* do not cut a UTF-8 sequence: back up over continuation bytes */
        while (i + n < len && n > 1 && ((unsigned char)s[i + n] & 0xC0) == 0x80)
            n--;
        sodium_bin2base64(b64, sizeof b64, (const unsigned char *)s + i, n,
                          sodium_base64_VARIANT_ORIGINAL);
        buf_printf(out, "%s=?UTF-8?B?%s?=", first ? "" : "\n ", b64);
        first = 0;
        i += n;
    }
}

/* an unstructured header value (Subject): as is when short ASCII, else encoded-words */
static void put_text(buf *out, const char *s, size_t col)
{
    size_t len = strlen(s);
    if (is_ascii(s, len) && len <= 900 && !strstr(s, "=?"))
        buf_append(out, s, len);
    else
        put_encoded_words(out, s, len, col);
}

/* From: "Display Name" <addr>, the name quoted or encoded */
static void put_mailbox(buf *out, const char *name, const char *addr, size_t col)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0) {
        buf_puts(out, addr);
        return;
    }
    if (is_ascii(name, len) && len <= 200) {
        buf_putc(out, '"');
        for (size_t i = 0; i < len; i++) {
            if (name[i] == '"' || name[i] == '\\')
                buf_putc(out, '\\');
            buf_putc(out, name[i]);
        }
        buf_putc(out, '"');
    } else {
        put_encoded_words(out, name, len, col);
    }
    buf_printf(out, " <%s>", addr);
}

static void put_date(buf *out, time_t now)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    long off = 0;
    if (localtime_r(&now, &tm))
        off = tm.tm_gmtoff / 60;
    else
        gmtime_r(&now, &tm);
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    buf_printf(out, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday % 7],
               tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
               tm.tm_sec, sign, off / 60, off % 60);
}

static int body_needs_qp(const char *b)
{
    size_t line = 0;
    for (; *b; b++) {
        if (*b == '\n') {
            line = 0;
        } else if (*b == '\r' || ++line > MAX_LINE) {
            return 1;
        }
    }
    return 0;
}

/* RFC 2045 quoted-printable of UTF-8 text with "\n" line breaks */
static void put_qp(buf *out, const char *b)
{
    size_t col = 0;
    for (; *b; b++) {
        unsigned char c = (unsigned char)*b;
        if (c == '\n') {
            buf_putc(out, '\n');
            col = 0;
            continue;
        }
        int trailing_ws = (c == ' ' || c == '\t') && (b[1] == '\n' || b[1] == '\0');
        int lit = !trailing_ws && (c == ' ' || c == '\t' || (c >= 33 && c <= 126 && c != '='));
        size_t w = lit ? 1 : 3;
        if (col + w > QP_LINE - 1) {
            buf_puts(out, "=\n");
            col = 0;
        }
        if (lit)
            buf_putc(out, (char)c);
        else
            buf_printf(out, "=%02X", c);
        col += w;
    }
}

static void random_hex(char *out, size_t nbytes)
{
    unsigned char r[16];
    if (nbytes > sizeof r)
        nbytes = sizeof r;
    if (sodium_init() < 0) /* idempotent; libsodium's generator needs it */
        abort();
    randombytes_buf(r, nbytes);
    sodium_bin2hex(out, nbytes * 2 + 1, r, nbytes);
}

/* the whole message, or PD_EINVAL with the reason */
/* a URL for List-Unsubscribe: http(s), printable ASCII, nothing that ends the <...> */
static int header_url(const char *u)
{
    if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
        return 0;
    if (strlen(u) > 900)
        return 0;
    for (const unsigned char *p = (const unsigned char *)u; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || *p == '<' || *p == '>' || *p == '"' || *p == ',')
            return 0;
    return 1;
}

int outbox_compose(const outbox_opts *o, const outbox_mail *m, const char *list_unsubscribe,
                   buf *msg, buf *err)
{
    const char *vals[] = {m->to, m->subject, o->from, o->pharmacy_name};
    const char *names[] = {"To", "Subject", "From", "the From display name"};
    for (size_t i = 0; i < PD_ARRAY_LEN(vals); i++) {
        if (has_crlf(vals[i])) {
            buf_printf(err, "%s contains a line break (header injection refused)", names[i]);
            return PD_EINVAL;
        }
        if (vals[i] &&
            (strlen(vals[i]) > MAX_HEADER || !text_utf8_valid(vals[i], strlen(vals[i])))) {
            buf_printf(err, "%s is not UTF-8 text of at most %d bytes", names[i], MAX_HEADER);
            return PD_EINVAL;
        }
    }
    if (!plain_address(m->to)) {
        buf_puts(err, "the recipient is not a plain address like name@example.org");
        return PD_EINVAL;
    }
    if (!plain_address(o->from)) {
        buf_puts(err, "mail.from is not a plain address like name@example.org");
        return PD_EINVAL;
    }
    if (list_unsubscribe && !header_url(list_unsubscribe)) {
        buf_puts(err, "the unsubscribe link is not a plain http(s) URL");
        return PD_EINVAL;
    }
    const char *body = m->body ? m->body : "";
    if (!text_utf8_valid(body, strlen(body))) {
        buf_puts(err, "the body is not UTF-8");
        return PD_EINVAL;
    }

    struct timeval tv;
    gettimeofday(&tv, NULL);
    char rnd[33];
    random_hex(rnd, 12);
    buf_puts(msg, "From: ");
    put_mailbox(msg, o->pharmacy_name, o->from, strlen("From: "));
    buf_printf(msg, "\nTo: %s\nSubject: ", m->to);
    put_text(msg, m->subject ? m->subject : "", strlen("Subject: "));
    buf_puts(msg, "\nDate: ");
    put_date(msg, tv.tv_sec);
    buf_printf(msg, "\nMessage-ID: <%lld.%ld.%s@%s>\n", (long long)tv.tv_sec, (long)getpid(), rnd,
               strchr(o->from, '@') + 1);
    if (list_unsubscribe)
        buf_printf(msg,
                   "List-Unsubscribe: <%s>\n"
                   "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n",
                   list_unsubscribe);
    buf_puts(msg, "MIME-Version: 1.0\n"
                  "Content-Type: text/plain; charset=utf-8\n");
    int qp = body_needs_qp(body);
    buf_printf(msg, "Content-Transfer-Encoding: %s\n", qp ? "quoted-printable" : "8bit");
    buf_puts(msg, "Auto-Submitted: auto-generated\n\n");
    if (qp)
        put_qp(msg, body);
    else
        buf_puts(msg, body);
    if (msg->len && msg->data[msg->len - 1] != '\n')
        buf_putc(msg, '\n');
    return PD_OK;
}

static int write_all(int fd, const char *p, size_t n, int sock)
{
    while (n) {
        ssize_t w = sock ? send(fd, p, n, MSG_NOSIGNAL) : write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int make_dir(const char *path, buf *err)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return PD_OK;
    buf_printf(err, "cannot create %s: %s", path, strerror(errno));
    return PD_EIO;
}

/* maildir delivery: tmp/NAME written with O_EXCL and synced, renamed into new/, dir synced */
static int to_maildir(const char *dir, const char *msg, size_t len, buf *err)
{
    buf tmp = BUF_INIT, dst = BUF_INIT, d = BUF_INIT;
    int fd = -1, ret = PD_OK;
    char host[64] = "localhost", rnd[17];
    static const char *const sub[] = {"", "/tmp", "/new", "/cur"};

    for (size_t i = 0; i < PD_ARRAY_LEN(sub); i++) {
        buf_reset(&d);
        buf_printf(&d, "%s/outbox%s", dir, sub[i]);
        if ((ret = make_dir(buf_cstr(&d), err)) != PD_OK)
            goto out;
    }
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    for (char *h = host; *h; h++)
        if (*h == '/' || *h == ':' || (unsigned char)*h <= ' ')
            *h = '_';
    struct timeval tv;
    gettimeofday(&tv, NULL);
    random_hex(rnd, 8);
    buf_reset(&d);
    buf_printf(&d, "%lld.M%06ldP%ldR%s.%s", (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
               rnd, host);
    buf_printf(&tmp, "%s/outbox/tmp/%s", dir, buf_cstr(&d));
    buf_printf(&dst, "%s/outbox/new/%s", dir, buf_cstr(&d));

    fd = open(buf_cstr(&tmp), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        buf_printf(err, "cannot create %s: %s", buf_cstr(&tmp), strerror(errno));
        ret = PD_EIO;
        goto out;
    }
    if (write_all(fd, msg, len, 0) != 0 || fsync(fd) != 0) {
        buf_printf(err, "cannot write %s: %s", buf_cstr(&tmp), strerror(errno));
        ret = PD_EIO;
        goto out;
    }
    int rc = close(fd);
    fd = -1;
    if (rc != 0 || rename(buf_cstr(&tmp), buf_cstr(&dst)) != 0) {
        buf_printf(err, "cannot move the message into %s/outbox/new: %s", dir, strerror(errno));
        ret = PD_EIO;
        goto out;
    }
    buf_reset(&d);
    buf_printf(&d, "%s/outbox/new", dir);
    int dfd = open(buf_cstr(&d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        buf_printf(err, "cannot sync %s: %s", buf_cstr(&d), strerror(errno));
        ret = PD_EIO; /* the message is in new/ but may not survive a crash */
    }
    if (dfd >= 0)
        close(dfd);
out:
    if (fd >= 0)
        close(fd);
    if (ret != PD_OK && tmp.len)
        unlink(buf_cstr(&tmp));
    buf_free(&tmp);
    buf_free(&dst);
    buf_free(&d);
    return ret;
}

/* the command's words (no shell); its stdin a socket so a dead reader is EPIPE, not SIGPIPE */
static int to_command(const char *command, const char *msg, size_t len, buf *err)
{
    char *words = pd_xstrdup(command), *save = NULL, *argv[MAX_ARGV + 1];
    int n = 0, sv[2] = {-1, -1}, ret = PD_OK, fa_ok = 0;
    pid_t pid = -1;
    posix_spawn_file_actions_t fa;

    for (char *w = strtok_r(words, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (n == MAX_ARGV) {
            buf_printf(err, "mail.sendmail has more than %d words", MAX_ARGV);
            ret = PD_EINVAL;
            goto out;
        }
        argv[n++] = w;
    }
    argv[n] = NULL;
    if (n == 0) {
        buf_puts(err, "mail.sendmail is blank");
        ret = PD_EINVAL;
        goto out;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
        posix_spawn_file_actions_init(&fa) != 0) {
        buf_printf(err, "cannot run %s: %s", argv[0], strerror(errno));
        ret = PD_EIO;
        goto out;
    }
    fa_ok = 1;
    posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
    posix_spawn_file_actions_adddup2(&fa, 2, 1); /* its chatter away from our stdout */
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    if (rc != 0) {
        buf_printf(err, "cannot run %s: %s", argv[0], strerror(rc));
        pid = -1;
        ret = PD_EIO;
        goto out;
    }
    close(sv[1]);
    sv[1] = -1;
    int werr = write_all(sv[0], msg, len, 1) != 0 ? errno : 0;
    close(sv[0]);
    sv[0] = -1;
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    pid = -1;
    if (w < 0) {
        buf_printf(err, "cannot wait for %s: %s", argv[0], strerror(errno));
        ret = PD_EIO;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        buf_printf(err, "%s exited with status %d", argv[0], WEXITSTATUS(status));
        ret = PD_EIO;
    } else if (WIFSIGNALED(status)) {
        buf_printf(err, "%s was killed by signal %d", argv[0], WTERMSIG(status));
        ret = PD_EIO;
    } else if (werr) {
        buf_printf(err, "%s did not read the whole message: %s", argv[0], strerror(werr));
        ret = PD_EIO;
    }
out:
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    free(words);
    return ret;
}

int outbox_deliver(const outbox_opts *o, const char *msg, size_t len, buf *err)
{
    if (o->sendmail && o->sendmail[0])
        return to_command(o->sendmail, msg, len, err);
    if (o->dir && o->dir[0])
        return to_maildir(o->dir, msg, len, err);
    buf_puts(err, "neither a data folder nor mail.sendmail to send mail with");
    return PD_EINVAL;
}

int outbox_send(const outbox_opts *o, const outbox_mail *m, buf *err)
{
    buf msg = BUF_INIT;
    int ret = outbox_compose(o, m, NULL, &msg, err);
    if (ret == PD_OK)
        ret = outbox_deliver(o, msg.data, msg.len, err);
    buf_free(&msg);
    return ret;
}

static int filled(const char *s)
{
    return s && s[0];
}

int outbox_order_ready(const outbox_opts *o, const char *number, const char *to, const char *note,
                       buf *err)
{
    if (!o->texts) {
        buf_puts(err, "the mail texts (policies/mails.*.txt) are not loaded");
        return PD_EINVAL;
    }
    buf subject = BUF_INIT, body = BUF_INIT;
    const mailtext_var v[] = {{"number", number},
                              {"note", note},
                              {"pharmacy_phone", o->pharmacy_phone},
                              {"hours", o->pharmacy_hours}};
    /* orders carry no language: the German file's text is bilingual */
    mailtext_render(o->texts, "order_ready.subject", "de", v, PD_ARRAY_LEN(v), &subject);
    mailtext_render(o->texts, "order_ready.body", "de", v, PD_ARRAY_LEN(v), &body);
    buf_putc(&body, '\n');
    if (filled(note)) {
        buf_putc(&body, '\n');
        mailtext_render(o->texts, "order_ready.note", "de", v, PD_ARRAY_LEN(v), &body);
        buf_putc(&body, '\n');
    }
    buf_putc(&body, '\n');
    mailtext_render(o->texts, "order_ready.closing", "de", v, PD_ARRAY_LEN(v), &body);
    buf_putc(&body, '\n');
    if (filled(o->pharmacy_name))
        buf_printf(&body, "%s\n", o->pharmacy_name);
    if (filled(o->pharmacy_address))
        buf_printf(&body, "%s\n", o->pharmacy_address);
    static const char *const optional[] = {"order_ready.phone", "order_ready.hours"};
    const char *vals[] = {o->pharmacy_phone, o->pharmacy_hours};
    for (size_t i = 0; i < PD_ARRAY_LEN(optional); i++)
        if (filled(vals[i])) {
            mailtext_render(o->texts, optional[i], "de", v, PD_ARRAY_LEN(v), &body);
            buf_putc(&body, '\n');
        }
    buf_putc(&body, '\n');
    mailtext_render(o->texts, "order_ready.reason", "de", v, PD_ARRAY_LEN(v), &body);
    buf_putc(&body, '\n');
    outbox_mail m = {to, buf_cstr(&subject), buf_cstr(&body)};
    int ret = outbox_send(o, &m, err);
    buf_free(&subject);
    buf_free(&body);
    return ret;
}
