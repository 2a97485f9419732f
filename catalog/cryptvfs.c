#include "cryptvfs.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pd.h"

/*
 * On-disk layout. A page of the database file (page n at (n - 1) * 4096) or of a WAL frame:
 *
 *   [0, 4056)     ciphertext of the plaintext's first 4056 bytes
 *   [4056, 4080)  random nonce, fresh for every write
 *   [4080, 4096)  Poly1305 tag
 *
 * The plaintext's last 40 bytes are the area SQLite reserves (page 1 byte 20 says 40), so
 * nothing of SQLite's is lost. Page 1's first 16 bytes ("SQLite format 3\0") are replaced by
 * the database's random salt, in clear, and the ciphertext covers [16, 4056).
 *
 * The WAL keeps SQLite's layout: a 32-byte header, then frames of a 24-byte frame header and
 * a page. Headers stay in clear (page number, commit size, salts, checksums: no content);
 * pages are sealed like database pages, additionally bound to the frame number, the frame
 * header's commit size and the salts of the WAL header (the WAL generation).
 */
#define PAGE CRYPTVFS_PAGE_SIZE
#define RESERVE CRYPTVFS_RESERVE
#define BODY (PAGE - RESERVE)
#define NONCE_SIZE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_SIZE crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SALT CRYPTVFS_SALT_SIZE
#define MAGIC "SQLite format 3" /* with its NUL: 16 bytes */
#define WAL_HDR 32
#define FRAME_HDR 24
#define FRAME (FRAME_HDR + PAGE)
#define FRAME_BIND 16 /* frame number (uint32 LE), commit size, WAL header salts */
#define AD_MAX (SALT + 4 + CRYPTVFS_BIND_MAX)
#define OPEN_TYPES                                                                                 \
    (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_TEMP_DB | SQLITE_OPEN_TRANSIENT_DB |                        \
     SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_TEMP_JOURNAL | SQLITE_OPEN_SUBJOURNAL |                \
     SQLITE_OPEN_SUPER_JOURNAL | SQLITE_OPEN_WAL)

_Static_assert(NONCE_SIZE + TAG_SIZE == RESERVE, "reserve holds exactly nonce and tag");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == CRYPTVFS_KEY_SIZE, "key size");
_Static_assert(sizeof(MAGIC) == SALT, "page 1 magic is 16 bytes");

/* ---- page codec ---- */

static size_t ad_build(unsigned char *ad, const unsigned char *salt, uint32_t pgno,
                       const unsigned char *bind, size_t bind_len)
{
    memcpy(ad, salt, SALT);
    ad[SALT] = (unsigned char)pgno;
    ad[SALT + 1] = (unsigned char)(pgno >> 8);
    ad[SALT + 2] = (unsigned char)(pgno >> 16);
    ad[SALT + 3] = (unsigned char)(pgno >> 24);
    if (bind_len)
        memcpy(ad + SALT + 4, bind, bind_len);
    return SALT + 4 + bind_len;
}

int cryptvfs_page_seal(const unsigned char key[CRYPTVFS_KEY_SIZE],
                       const unsigned char salt[CRYPTVFS_SALT_SIZE], uint32_t pgno,
                       const unsigned char *bind, size_t bind_len, const unsigned char *plain,
                       unsigned char *page)
{
    unsigned char ad[AD_MAX], nonce[NONCE_SIZE], tag[TAG_SIZE];
    size_t skip = pgno == 1 ? SALT : 0;

    if (!key || !salt || !plain || !page || pgno == 0 || bind_len > CRYPTVFS_BIND_MAX ||
        (bind_len && !bind))
        return SQLITE_MISUSE;
    if (pgno == 1 && memcmp(plain, MAGIC, SALT) != 0)
        return SQLITE_MISUSE;
    size_t ad_len = ad_build(ad, salt, pgno, bind, bind_len);
    pd_random(nonce, sizeof nonce); /* a nonce per page write: unique, not secret */
    crypto_aead_xchacha20poly1305_ietf_encrypt_detached(page + skip, tag, NULL, plain + skip,
                                                        BODY - skip, ad, ad_len, NULL, nonce, key);
    if (pgno == 1)
        memcpy(page, salt, SALT);
    memcpy(page + BODY, nonce, NONCE_SIZE);
    memcpy(page + BODY + NONCE_SIZE, tag, TAG_SIZE);
    return SQLITE_OK;
}

int cryptvfs_page_open(const unsigned char key[CRYPTVFS_KEY_SIZE],
                       const unsigned char salt[CRYPTVFS_SALT_SIZE], uint32_t pgno,
                       const unsigned char *bind, size_t bind_len, const unsigned char *page,
                       unsigned char *plain)
{
    unsigned char ad[AD_MAX], nonce[NONCE_SIZE], tag[TAG_SIZE];
    size_t skip = pgno == 1 ? SALT : 0;

    if (!key || !salt || !page || !plain || bind_len > CRYPTVFS_BIND_MAX || (bind_len && !bind))
        return SQLITE_MISUSE;
    if (pgno == 0 || (pgno == 1 && memcmp(page, salt, SALT) != 0))
        goto fail;
    size_t ad_len = ad_build(ad, salt, pgno, bind, bind_len);
    memcpy(nonce, page + BODY, NONCE_SIZE);
    memcpy(tag, page + BODY + NONCE_SIZE, TAG_SIZE);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
            plain + skip, NULL, page + skip, BODY - skip, tag, ad, ad_len, nonce, key) != 0)
        goto fail;
    if (pgno == 1)
        memcpy(plain, MAGIC, SALT);
    memset(plain + BODY, 0, RESERVE);
    return SQLITE_OK;
fail:
    memset(plain, 0, PAGE);
    return SQLITE_IOERR_DATA;
}

/* ---- key registry ---- */

typedef struct keyent {
    struct keyent *next;
    char *path;         /* canonical main database path, as SQLite passes it to xOpen */
    unsigned char *key; /* page subkey, sodium_malloc'd */
    unsigned char salt[SALT];
    int have_salt; /* published by a main database file that knows it */
} keyent;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static keyent *reg_head;
static sqlite3_vfs *reg_base; /* the default VFS underneath; set once by cryptvfs_register */

static keyent *reg_find(const char *path)
{
    for (keyent *e = reg_head; e; e = e->next)
        if (strcmp(e->path, path) == 0)
            return e;
    return NULL;
}

/* copies the page key (and the salt, when known) of the database at path */
static int reg_get(const char *path, unsigned char *key, unsigned char *salt, int *have_salt)
{
    int rc = SQLITE_AUTH;
    pthread_mutex_lock(&reg_lock);
    keyent *e = reg_find(path);
    if (e) {
        memcpy(key, e->key, CRYPTVFS_KEY_SIZE);
        if (e->have_salt) {
            memcpy(salt, e->salt, SALT);
            *have_salt = 1;
        }
        rc = SQLITE_OK;
    }
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

static int reg_get_salt(const char *path, unsigned char *salt)
{
    int rc = SQLITE_NOTFOUND;
    pthread_mutex_lock(&reg_lock);
    keyent *e = reg_find(path);
    if (e && e->have_salt) {
        memcpy(salt, e->salt, SALT);
        rc = SQLITE_OK;
    }
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

static void reg_put_salt(const char *path, const unsigned char *salt)
{
    pthread_mutex_lock(&reg_lock);
    keyent *e = reg_find(path);
    if (e) {
        memcpy(e->salt, salt, SALT);
        e->have_salt = 1;
    }
    pthread_mutex_unlock(&reg_lock);
}

/* the path as SQLite will name the database to xOpen; sqlite3_free() it */
static char *canonical_path(sqlite3_vfs *base, const char *path)
{
    char *full = sqlite3_malloc(base->mxPathname + 1);
    if (!full)
        return NULL;
    if (base->xFullPathname(base, path, base->mxPathname + 1, full) != SQLITE_OK) {
        sqlite3_free(full);
        return NULL;
    }
    return full;
}

int cryptvfs_key_set(const char *db_path, const unsigned char key[CRYPTVFS_KEY_SIZE])
{
    sqlite3_vfs *base;
    char *full = NULL;
    int rc = SQLITE_OK;

    if (!db_path || !key)
        return SQLITE_MISUSE;
    pthread_mutex_lock(&reg_lock);
    base = reg_base;
    pthread_mutex_unlock(&reg_lock);
    if (!base)
        return SQLITE_MISUSE;
    if (!(full = canonical_path(base, db_path)))
        return SQLITE_CANTOPEN;

    pthread_mutex_lock(&reg_lock);
    keyent *e = reg_find(full);
    if (!e) {
        unsigned char *k = sodium_malloc(CRYPTVFS_KEY_SIZE);
        if (!k) {
            rc = SQLITE_NOMEM;
            goto out;
        }
        e = pd_xcalloc(1, sizeof *e);
        e->path = pd_xstrdup(full);
        e->key = k;
        e->next = reg_head;
        reg_head = e;
    }
    crypto_kdf_derive_from_key(e->key, CRYPTVFS_KEY_SIZE, 1, "pdpages_", key);
    e->have_salt = 0; /* learnt again from the database file */
out:
    pthread_mutex_unlock(&reg_lock);
    sqlite3_free(full);
    return rc;
}

void cryptvfs_key_clear(const char *db_path)
{
    sqlite3_vfs *base;
    char *full;

    pthread_mutex_lock(&reg_lock);
    base = reg_base;
    pthread_mutex_unlock(&reg_lock);
    if (!db_path || !base || !(full = canonical_path(base, db_path)))
        return;
    pthread_mutex_lock(&reg_lock);
    for (keyent **pp = &reg_head; *pp; pp = &(*pp)->next) {
        keyent *e = *pp;
        if (strcmp(e->path, full) == 0) {
            *pp = e->next;
            sodium_memzero(e->key, CRYPTVFS_KEY_SIZE);
            sodium_free(e->key);
            sodium_memzero(e->salt, SALT);
            free(e->path);
            free(e);
            break;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    sqlite3_free(full);
}

/* ---- files ---- */

enum file_kind { KIND_MAIN, KIND_WAL };

/* secrets and plaintext of one open file, in locked, guarded memory */
typedef struct secret {
    unsigned char key[CRYPTVFS_KEY_SIZE];
    unsigned char plain[PAGE]; /* a page's plaintext */
    unsigned char buf[FRAME];  /* a sealed page or frame as read from or written to disk */
} secret;

typedef struct cryptfile {
    sqlite3_file base;  /* first: SQLite sees this */
    sqlite3_file *real; /* the default VFS's file, right after this struct */
    int kind;
    int lock; /* lock level held (main database), for retries of unlocked reads */
    int have_salt;
    const char *dbname; /* main database path: the registry key; SQLite keeps it alive */
    unsigned char salt[SALT];
    secret *sec;
} cryptfile;

#define REAL(f) ((f)->real->pMethods)
#define BASE_VFS(v) ((sqlite3_vfs *)(v)->pAppData)

static sqlite3_vfs cv_vfs;

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static sqlite3_int64 min64(sqlite3_int64 a, sqlite3_int64 b)
{
    return a < b ? a : b;
}

/* a page SQLite hands over must leave the reserved area alone; page 1 must say so */
static int check_plain(const cryptfile *f, uint32_t pgno, const unsigned char *plain)
{
    static const unsigned char zero[RESERVE];
    if (pgno == 1 && (memcmp(plain, MAGIC, SALT) != 0 || plain[16] != (PAGE >> 8) ||
                      plain[17] != (PAGE & 0xff) || plain[20] != RESERVE)) {
        sqlite3_log(SQLITE_IOERR_WRITE,
                    "pdcrypt: %s: page 1 must declare page size %d and %d reserved bytes (has "
                    "%d and %d): prepare new databases with cryptvfs_prepare_new",
                    f->dbname, PAGE, RESERVE, plain[16] << 8 | plain[17], plain[20]);
        return SQLITE_IOERR_WRITE;
    }
    if (memcmp(plain + BODY, zero, RESERVE) != 0) {
        sqlite3_log(SQLITE_IOERR_WRITE, "pdcrypt: %s: page %u uses the reserved bytes", f->dbname,
                    (unsigned)pgno);
        return SQLITE_IOERR_WRITE;
    }
    return SQLITE_OK;
}

/* reads the salt from page 1; SQLITE_NOTFOUND for an empty file */
static int main_load_salt(cryptfile *f)
{
    sqlite3_int64 size;
    int rc = REAL(f)->xFileSize(f->real, &size);
    if (rc != SQLITE_OK)
        return rc;
    if (size == 0)
        return SQLITE_NOTFOUND;
    if (size % PAGE != 0) {
        sqlite3_log(SQLITE_NOTADB, "pdcrypt: %s: size %lld is not a multiple of %d", f->dbname,
                    size, PAGE);
        return SQLITE_NOTADB;
    }
    rc = REAL(f)->xRead(f->real, f->salt, SALT, 0);
    if (rc != SQLITE_OK)
        return rc == SQLITE_IOERR_SHORT_READ ? SQLITE_NOTADB : rc;
    f->have_salt = 1;
    reg_put_salt(f->dbname, f->salt);
    return SQLITE_OK;
}

/* SQLITE_IOERR_SHORT_READ when the page lies wholly beyond the end of the file */
static int main_read_page(cryptfile *f, uint32_t pgno, unsigned char *plain)
{
    sqlite3_int64 start = (sqlite3_int64)(pgno - 1) * PAGE, size;
    unsigned char *sealed = f->sec->buf;
    int rc;

    for (int attempt = 0;; attempt++) {
        rc = REAL(f)->xRead(f->real, sealed, PAGE, start);
        if (rc == SQLITE_IOERR_SHORT_READ) {
            if ((rc = REAL(f)->xFileSize(f->real, &size)) != SQLITE_OK)
                return rc;
            if (size <= start)
                return SQLITE_IOERR_SHORT_READ;
            sqlite3_log(SQLITE_CORRUPT, "pdcrypt: %s: size %lld is not a multiple of %d", f->dbname,
                        size, PAGE);
            return SQLITE_CORRUPT;
        }
        if (rc != SQLITE_OK)
            return rc;
        if (!f->have_salt && (rc = main_load_salt(f)) != SQLITE_OK)
            return rc == SQLITE_NOTFOUND ? SQLITE_IOERR_SHORT_READ : rc;
        if (cryptvfs_page_open(f->sec->key, f->salt, pgno, NULL, 0, sealed, plain) == SQLITE_OK)
            return SQLITE_OK;
        /*
         * SQLite reads the header of page 1 before it takes a lock, so that read may meet a page
         * half rewritten by a checkpoint of another connection. Locked reads never do.
         */
        if (f->lock != SQLITE_LOCK_NONE || attempt == 3)
            break;
        BASE_VFS(&cv_vfs)->xSleep(BASE_VFS(&cv_vfs), 1000);
    }
    sqlite3_log(SQLITE_IOERR_DATA,
                "pdcrypt: %s: page %u does not authenticate (wrong key or damaged file)", f->dbname,
                (unsigned)pgno);
    return SQLITE_IOERR_DATA;
}

static int main_read(cryptfile *f, unsigned char *out, int amt, sqlite3_int64 off)
{
    sqlite3_int64 end = off + amt;
    int short_read = 0;

    for (sqlite3_int64 pos = off; pos < end;) {
        sqlite3_int64 pg = pos / PAGE, start = pg * PAGE, hi = min64(end, start + PAGE);
        int whole = pos == start && hi == start + PAGE;
        unsigned char *plain = whole ? out + (pos - off) : f->sec->plain;
        int rc = pg < UINT32_MAX ? main_read_page(f, (uint32_t)pg + 1, plain) : SQLITE_IOERR_READ;
        if (rc == SQLITE_IOERR_SHORT_READ) {
            memset(out + (pos - off), 0, (size_t)(hi - pos));
            short_read = 1;
        } else if (rc != SQLITE_OK) {
            memset(out, 0, (size_t)amt);
            return rc;
        } else if (!whole) {
            memcpy(out + (pos - off), plain + (pos - start), (size_t)(hi - pos));
        }
        pos = hi;
    }
    return short_read ? SQLITE_IOERR_SHORT_READ : SQLITE_OK;
}

/* the salt for a write of page pgno: the file's, or a new one for page 1 of an empty file */
static int main_write_salt(cryptfile *f, uint32_t pgno)
{
    int rc = main_load_salt(f);
    if (rc != SQLITE_NOTFOUND)
        return rc;
    if (pgno != 1) {
        sqlite3_log(SQLITE_IOERR_WRITE, "pdcrypt: %s: page %u written before page 1", f->dbname,
                    (unsigned)pgno);
        return SQLITE_IOERR_WRITE;
    }
    randombytes_buf(f->salt, SALT);
    f->have_salt = 1;
    reg_put_salt(f->dbname, f->salt);
    return SQLITE_OK;
}

static int main_write(cryptfile *f, const unsigned char *in, int amt, sqlite3_int64 off)
{
    sqlite3_int64 end = off + amt;
    int rc;

    for (sqlite3_int64 pos = off; pos < end;) {
        sqlite3_int64 pg = pos / PAGE, start = pg * PAGE, hi = min64(end, start + PAGE);
        const unsigned char *plain = in + (pos - off);
        if (pg >= UINT32_MAX)
            return SQLITE_IOERR_WRITE;
        uint32_t pgno = (uint32_t)pg + 1;
        if (pos != start || hi != start + PAGE) {
            /* SQLite writes whole pages; anything else is read, modified and sealed again */
            rc = main_read_page(f, pgno, f->sec->plain);
            if (rc == SQLITE_IOERR_SHORT_READ)
                memset(f->sec->plain, 0, PAGE);
            else if (rc != SQLITE_OK)
                return rc;
            memcpy(f->sec->plain + (pos - start), plain, (size_t)(hi - pos));
            plain = f->sec->plain;
        }
        if ((rc = check_plain(f, pgno, plain)) != SQLITE_OK)
            return rc;
        if (!f->have_salt && (rc = main_write_salt(f, pgno)) != SQLITE_OK)
            return rc;
        if (cryptvfs_page_seal(f->sec->key, f->salt, pgno, NULL, 0, plain, f->sec->buf) !=
            SQLITE_OK)
            return SQLITE_IOERR_WRITE;
        if ((rc = REAL(f)->xWrite(f->real, f->sec->buf, PAGE, start)) != SQLITE_OK)
            return rc;
        pos = hi;
    }
    return SQLITE_OK;
}

/* the WAL uses the main database's salt, published by its open file */
static int wal_salt(cryptfile *f)
{
    if (f->have_salt)
        return SQLITE_OK;
    if (reg_get_salt(f->dbname, f->salt) != SQLITE_OK) {
        sqlite3_log(SQLITE_IOERR, "pdcrypt: %s: WAL without a database salt", f->dbname);
        return SQLITE_IOERR;
    }
    f->have_salt = 1;
    return SQLITE_OK;
}

/*
 * Frame k (0-based) binds its number, its header's commit size and the WAL generation: the
 * salts of the WAL header. Not the salts of the frame header: while SQLite means to rewrite
 * checksums at commit (a page written twice in one transaction), it writes frame headers with
 * salts and checksums zero and fills them in later.
 */
static int frame_bind(cryptfile *f, unsigned char bind[FRAME_BIND], sqlite3_int64 k,
                      const unsigned char *hdr)
{
    uint32_t n = (uint32_t)(k + 1);
    bind[0] = (unsigned char)n;
    bind[1] = (unsigned char)(n >> 8);
    bind[2] = (unsigned char)(n >> 16);
    bind[3] = (unsigned char)(n >> 24);
    memcpy(bind + 4, hdr + 4, 4);
    return REAL(f)->xRead(f->real, bind + 8, 8, 16);
}

/*
 * Whether frame k, which does not authenticate, holds no committed data, so that SQLite, which
 * checks salts and checksums of what it reads with the header, discards it anyway: a frame
 * whose header salts differ from the WAL header's (another WAL generation, or a frame of the
 * transaction in flight whose salts SQLite fills in at commit), or a frame after the last
 * commit frame of this generation (a transaction cut short by a crash: a process killed
 * between writing a frame header and its page, or a torn write at power loss).
 */
static int wal_frame_is_dead(cryptfile *f, sqlite3_int64 k, const unsigned char *hdr)
{
    unsigned char wal_hdr[WAL_HDR], h[FRAME_HDR];
    sqlite3_int64 size;

    if (REAL(f)->xRead(f->real, wal_hdr, WAL_HDR, 0) != SQLITE_OK)
        return 0;
    if (memcmp(hdr + 8, wal_hdr + 16, 8) != 0)
        return 1;
    if (REAL(f)->xFileSize(f->real, &size) != SQLITE_OK)
        return 0;
    for (sqlite3_int64 j = k + 1; WAL_HDR + (j + 1) * FRAME <= size; j++) {
        if (REAL(f)->xRead(f->real, h, FRAME_HDR, WAL_HDR + j * FRAME) != SQLITE_OK)
            return 0;
        if (memcmp(h + 8, wal_hdr + 16, 8) == 0 && get_be32(h + 4) != 0)
            return 0; /* a later commit: the frame belongs to committed data */
    }
    sqlite3_log(SQLITE_WARNING,
                "pdcrypt: %s-wal: frame %lld after the last commit does not authenticate: "
                "dropped like a torn write",
                f->dbname, k + 1);
    return 1;
}

/*
 * Page of WAL frame k. When the caller's read covers the frame header, SQLite checks salts
 * and checksum itself (recovery) and a dead frame reads as zeros, which fail that check.
 */
static int wal_read_page(cryptfile *f, sqlite3_int64 k, int with_header, unsigned char *plain)
{
    unsigned char bind[FRAME_BIND], *frame = f->sec->buf;
    int rc = REAL(f)->xRead(f->real, frame, FRAME, WAL_HDR + k * FRAME);

    if (rc != SQLITE_OK)
        return rc; /* a short read: SQLite never uses a frame the file does not hold whole */
    if ((rc = wal_salt(f)) != SQLITE_OK)
        return rc;
    if ((rc = frame_bind(f, bind, k, frame)) != SQLITE_OK)
        return rc == SQLITE_IOERR_SHORT_READ ? SQLITE_IOERR_READ : rc;
    if (cryptvfs_page_open(f->sec->key, f->salt, get_be32(frame), bind, sizeof bind,
                           frame + FRAME_HDR, plain) == SQLITE_OK)
        return SQLITE_OK;
    if (with_header && wal_frame_is_dead(f, k, frame))
        return SQLITE_OK; /* plain is all zero */
    sqlite3_log(SQLITE_IOERR_DATA,
                "pdcrypt: %s-wal: frame %lld does not authenticate (wrong key or damaged file)",
                f->dbname, k + 1);
    return SQLITE_IOERR_DATA;
}

/* where the region holding pos ends: [start, clear) in clear, [clear, end) a sealed page */
static void wal_region(sqlite3_int64 pos, sqlite3_int64 *k, sqlite3_int64 *start,
                       sqlite3_int64 *clear, sqlite3_int64 *end)
{
    if (pos < WAL_HDR) {
        *k = -1;
        *start = 0;
        *clear = *end = WAL_HDR;
        return;
    }
    *k = (pos - WAL_HDR) / FRAME;
    *start = WAL_HDR + *k * FRAME;
    *clear = *start + FRAME_HDR;
    *end = *start + FRAME;
}

static int wal_read(cryptfile *f, unsigned char *out, int amt, sqlite3_int64 off)
{
    sqlite3_int64 end = off + amt, k, start, clear, stop;
    int short_read = 0, rc;

    for (sqlite3_int64 pos = off; pos < end;) {
        wal_region(pos, &k, &start, &clear, &stop);
        if (pos < clear) {
            sqlite3_int64 hi = min64(end, clear);
            rc = REAL(f)->xRead(f->real, out + (pos - off), (int)(hi - pos), pos);
            if (rc == SQLITE_IOERR_SHORT_READ) {
                short_read = 1;
            } else if (rc != SQLITE_OK) {
                memset(out, 0, (size_t)amt);
                return rc;
            }
            pos = hi;
            continue;
        }
        sqlite3_int64 hi = min64(end, stop);
        int whole = pos == clear && hi == stop;
        unsigned char *plain = whole ? out + (pos - off) : f->sec->plain;
        rc = k < UINT32_MAX - 1 ? wal_read_page(f, k, off <= start, plain) : SQLITE_IOERR_READ;
        if (rc == SQLITE_IOERR_SHORT_READ) {
            memset(out + (pos - off), 0, (size_t)(hi - pos));
            short_read = 1;
        } else if (rc != SQLITE_OK) {
            memset(out, 0, (size_t)amt);
            return rc;
        } else if (!whole) {
            memcpy(out + (pos - off), plain + (pos - clear), (size_t)(hi - pos));
        }
        pos = hi;
    }
    return short_read ? SQLITE_IOERR_SHORT_READ : SQLITE_OK;
}

static int wal_write(cryptfile *f, const unsigned char *in, int amt, sqlite3_int64 off)
{
    sqlite3_int64 end = off + amt, k, start, clear, stop;
    unsigned char hdr[FRAME_HDR], bind[FRAME_BIND];
    int rc;

    for (sqlite3_int64 pos = off; pos < end;) {
        wal_region(pos, &k, &start, &clear, &stop);
        if (pos < clear) {
            sqlite3_int64 hi = min64(end, clear);
            if ((rc = REAL(f)->xWrite(f->real, in + (pos - off), (int)(hi - pos), pos)) !=
                SQLITE_OK)
                return rc;
            pos = hi;
            continue;
        }
        if (k >= UINT32_MAX - 1)
            return SQLITE_IOERR_WRITE;
        sqlite3_int64 hi = min64(end, stop);
        const unsigned char *plain = in + (pos - off);
        /* SQLite writes the frame header first, in its own call: read it back */
        if (off <= start)
            memcpy(hdr, in + (start - off), FRAME_HDR);
        else if (REAL(f)->xRead(f->real, hdr, FRAME_HDR, start) != SQLITE_OK)
            goto no_header;
        if (pos != clear || hi != stop) {
            if (wal_read_page(f, k, 0, f->sec->plain) != SQLITE_OK)
                goto no_header;
            memcpy(f->sec->plain + (pos - clear), plain, (size_t)(hi - pos));
            plain = f->sec->plain;
        }
        uint32_t pgno = get_be32(hdr);
        if ((rc = check_plain(f, pgno, plain)) != SQLITE_OK)
            return rc;
        if (wal_salt(f) != SQLITE_OK || frame_bind(f, bind, k, hdr) != SQLITE_OK)
            return SQLITE_IOERR_WRITE;
        if (cryptvfs_page_seal(f->sec->key, f->salt, pgno, bind, sizeof bind, plain, f->sec->buf) !=
            SQLITE_OK)
            return SQLITE_IOERR_WRITE;
        if ((rc = REAL(f)->xWrite(f->real, f->sec->buf, PAGE, clear)) != SQLITE_OK)
            return rc;
        pos = hi;
    }
    return SQLITE_OK;
no_header:
    sqlite3_log(SQLITE_IOERR_WRITE,
                "pdcrypt: %s-wal: frame %lld: partial page, or page without its frame header",
                f->dbname, k + 1);
    return SQLITE_IOERR_WRITE;
}

/* ---- io methods ---- */

static int cv_close(sqlite3_file *pf)
{
    cryptfile *f = (cryptfile *)pf;
    int rc = SQLITE_OK;
    if (f->real->pMethods)
        rc = REAL(f)->xClose(f->real);
    if (f->sec) {
        sodium_memzero(f->sec, sizeof *f->sec);
        sodium_free(f->sec);
        f->sec = NULL;
    }
    sodium_memzero(f->salt, SALT);
    return rc;
}

static int cv_read(sqlite3_file *pf, void *out, int amt, sqlite3_int64 off)
{
    cryptfile *f = (cryptfile *)pf;
    if (amt < 0 || off < 0)
        return SQLITE_IOERR_READ;
    return f->kind == KIND_MAIN ? main_read(f, out, amt, off) : wal_read(f, out, amt, off);
}

#ifdef PD_FAULT_INJECTION
/*
 * Test builds only: a full disk. When PHARMDESK_FAULT_DISK_LIMIT names a file, a write that
 * would grow a database or WAL file past the number of bytes that file holds fails with
 * SQLITE_FULL, as a write into a full file system fails with ENOSPC; writes within a file's
 * size still succeed. The file is read at every growing write, so a test can fill the "disk"
 * and free it again while the service runs.
 */
static int disk_full(cryptfile *f, int amt, sqlite3_int64 off)
{
    const char *path = getenv("PHARMDESK_FAULT_DISK_LIMIT");
    sqlite3_int64 size = 0;
    if (!path || REAL(f)->xFileSize(f->real, &size) != SQLITE_OK || off + amt <= size)
        return 0;
    FILE *fp = fopen(path, "r");
    long long limit = -1;
    if (fp) {
        if (fscanf(fp, "%lld", &limit) != 1)
            limit = -1;
        fclose(fp);
    }
    return limit >= 0 && off + amt > limit;
}
#endif

static int cv_write(sqlite3_file *pf, const void *in, int amt, sqlite3_int64 off)
{
    cryptfile *f = (cryptfile *)pf;
    if (amt < 0 || off < 0)
        return SQLITE_IOERR_WRITE;
#ifdef PD_FAULT_INJECTION
    if (disk_full(f, amt, off))
        return SQLITE_FULL;
#endif
    return f->kind == KIND_MAIN ? main_write(f, in, amt, off) : wal_write(f, in, amt, off);
}

static int cv_truncate(sqlite3_file *pf, sqlite3_int64 size)
{
    cryptfile *f = (cryptfile *)pf;
    if (f->kind == KIND_MAIN && size % PAGE != 0)
        return SQLITE_IOERR_TRUNCATE;
    return REAL(f)->xTruncate(f->real, size);
}

static int cv_sync(sqlite3_file *pf, int flags)
{
    cryptfile *f = (cryptfile *)pf;
    return REAL(f)->xSync(f->real, flags);
}

static int cv_file_size(sqlite3_file *pf, sqlite3_int64 *size)
{
    cryptfile *f = (cryptfile *)pf;
    return REAL(f)->xFileSize(f->real, size);
}

static int cv_lock(sqlite3_file *pf, int level)
{
    cryptfile *f = (cryptfile *)pf;
    int rc = REAL(f)->xLock(f->real, level);
    if (rc == SQLITE_OK)
        f->lock = level;
    return rc;
}

static int cv_unlock(sqlite3_file *pf, int level)
{
    cryptfile *f = (cryptfile *)pf;
    int rc = REAL(f)->xUnlock(f->real, level);
    if (rc == SQLITE_OK)
        f->lock = level;
    return rc;
}

static int cv_check_reserved_lock(sqlite3_file *pf, int *out)
{
    cryptfile *f = (cryptfile *)pf;
    return REAL(f)->xCheckReservedLock(f->real, out);
}

static int cv_file_control(sqlite3_file *pf, int op, void *arg)
{
    cryptfile *f = (cryptfile *)pf;
    int rc;

    switch (op) {
    case SQLITE_FCNTL_MMAP_SIZE: {
        /* a memory map would bypass xRead: never */
        sqlite3_int64 zero = 0;
        REAL(f)->xFileControl(f->real, SQLITE_FCNTL_MMAP_SIZE, &zero);
        *(sqlite3_int64 *)arg = 0;
        return SQLITE_OK;
    }
    case SQLITE_FCNTL_CHUNK_SIZE:
    case SQLITE_FCNTL_SIZE_HINT:
        /* both would grow the file by pages of zeros, which do not authenticate */
        return SQLITE_OK;
    case SQLITE_FCNTL_VFSNAME:
        rc = REAL(f)->xFileControl(f->real, op, arg);
        *(char **)arg = rc == SQLITE_OK ? sqlite3_mprintf("%s/%z", CRYPTVFS_NAME, *(char **)arg)
                                        : sqlite3_mprintf("%s", CRYPTVFS_NAME);
        return SQLITE_OK;
    default:
        return REAL(f)->xFileControl(f->real, op, arg);
    }
}

static int cv_sector_size(sqlite3_file *pf)
{
    cryptfile *f = (cryptfile *)pf;
    return REAL(f)->xSectorSize(f->real);
}

static int cv_device_characteristics(sqlite3_file *pf)
{
    cryptfile *f = (cryptfile *)pf;
    return REAL(f)->xDeviceCharacteristics(f->real) & ~SQLITE_IOCAP_BATCH_ATOMIC;
}

/* the -shm file holds only the WAL index (page numbers and frame numbers): passed through */
static int cv_shm_map(sqlite3_file *pf, int pg, int pgsz, int extend, void volatile **pp)
{
    cryptfile *f = (cryptfile *)pf;
    return REAL(f)->iVersion >= 2 ? REAL(f)->xShmMap(f->real, pg, pgsz, extend, pp)
                                  : SQLITE_IOERR_SHMMAP;
}

static int cv_shm_lock(sqlite3_file *pf, int offset, int n, int flags)
{
    cryptfile *f = (cryptfile *)pf;
    return REAL(f)->iVersion >= 2 ? REAL(f)->xShmLock(f->real, offset, n, flags)
                                  : SQLITE_IOERR_SHMLOCK;
}

static void cv_shm_barrier(sqlite3_file *pf)
{
    cryptfile *f = (cryptfile *)pf;
    if (REAL(f)->iVersion >= 2)
        REAL(f)->xShmBarrier(f->real);
}

static int cv_shm_unmap(sqlite3_file *pf, int delete_flag)
{
    cryptfile *f = (cryptfile *)pf;
    return REAL(f)->iVersion >= 2 ? REAL(f)->xShmUnmap(f->real, delete_flag) : SQLITE_OK;
}

/* version 2: no xFetch, so SQLite never maps the file and reads through xRead */
static const sqlite3_io_methods cv_io = {
    2,
    cv_close,
    cv_read,
    cv_write,
    cv_truncate,
    cv_sync,
    cv_file_size,
    cv_lock,
    cv_unlock,
    cv_check_reserved_lock,
    cv_file_control,
    cv_sector_size,
    cv_device_characteristics,
    cv_shm_map,
    cv_shm_lock,
    cv_shm_barrier,
    cv_shm_unmap,
    NULL,
    NULL,
};

/* ---- vfs ---- */

static int cv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *pf, int flags, int *out_flags)
{
    sqlite3_vfs *base = BASE_VFS(vfs);
    cryptfile *f = (cryptfile *)pf;
    int type = flags & OPEN_TYPES, rc;
    sqlite3_int64 size = 0;

    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    f->real->pMethods = NULL;
    if (type == SQLITE_OPEN_MAIN_DB && name) {
        f->kind = KIND_MAIN;
        f->dbname = name;
    } else if (type == SQLITE_OPEN_WAL && name) {
        f->kind = KIND_WAL;
        f->dbname = sqlite3_filename_database(name);
    } else {
        /* journals, temp files: their content would reach the disk in clear */
        sqlite3_log(SQLITE_CANTOPEN,
                    "pdcrypt: refusing %s (flags 0x%x): only a database and its WAL are "
                    "encrypted; use journal_mode=WAL and temp_store=MEMORY",
                    name ? name : "a temporary file", flags);
        return SQLITE_CANTOPEN;
    }
    if (!(f->sec = sodium_malloc(sizeof *f->sec)))
        return SQLITE_NOMEM;
    if ((rc = reg_get(f->dbname, f->sec->key, f->salt, &f->have_salt)) != SQLITE_OK) {
        sqlite3_log(SQLITE_AUTH, "pdcrypt: %s: no key", f->dbname);
        goto fail;
    }
    if ((rc = base->xOpen(base, name, f->real, flags, out_flags)) != SQLITE_OK) {
        f->real->pMethods = NULL;
        goto fail;
    }
    if (REAL(f)) {
        sqlite3_int64 zero = 0;
        REAL(f)->xFileControl(f->real, SQLITE_FCNTL_MMAP_SIZE, &zero);
    }
    if (f->kind == KIND_MAIN) {
        /* the WAL's salt comes from here, so never trust one learnt by an earlier file */
        f->have_salt = 0;
        rc = REAL(f)->xFileSize(f->real, &size);
        if (rc == SQLITE_OK && size > 0)
            rc = main_load_salt(f);
        if (rc != SQLITE_OK)
            goto fail;
    }
    pf->pMethods = &cv_io;
    return SQLITE_OK;
fail:
    cv_close(pf);
    pf->pMethods = NULL;
    return rc;
}

static int cv_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    return BASE_VFS(vfs)->xDelete(BASE_VFS(vfs), name, sync_dir);
}

static int cv_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    return BASE_VFS(vfs)->xAccess(BASE_VFS(vfs), name, flags, out);
}

static int cv_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    return BASE_VFS(vfs)->xFullPathname(BASE_VFS(vfs), name, n, out);
}

static void *cv_dl_open(sqlite3_vfs *vfs, const char *name)
{
    return BASE_VFS(vfs)->xDlOpen(BASE_VFS(vfs), name);
}

static void cv_dl_error(sqlite3_vfs *vfs, int n, char *msg)
{
    BASE_VFS(vfs)->xDlError(BASE_VFS(vfs), n, msg);
}

static void (*cv_dl_sym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    return BASE_VFS(vfs)->xDlSym(BASE_VFS(vfs), h, sym);
}

static void cv_dl_close(sqlite3_vfs *vfs, void *h)
{
    BASE_VFS(vfs)->xDlClose(BASE_VFS(vfs), h);
}

static int cv_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    return BASE_VFS(vfs)->xRandomness(BASE_VFS(vfs), n, out);
}

static int cv_sleep(sqlite3_vfs *vfs, int us)
{
    return BASE_VFS(vfs)->xSleep(BASE_VFS(vfs), us);
}

static int cv_current_time(sqlite3_vfs *vfs, double *out)
{
    return BASE_VFS(vfs)->xCurrentTime(BASE_VFS(vfs), out);
}

static int cv_get_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    return BASE_VFS(vfs)->xGetLastError ? BASE_VFS(vfs)->xGetLastError(BASE_VFS(vfs), n, out) : 0;
}

static int cv_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    sqlite3_vfs *base = BASE_VFS(vfs);
    if (base->iVersion >= 2 && base->xCurrentTimeInt64)
        return base->xCurrentTimeInt64(base, out);
    double now;
    int rc = base->xCurrentTime(base, &now);
    *out = (sqlite3_int64)(now * 86400000.0);
    return rc;
}

int cryptvfs_register(void)
{
    int rc = SQLITE_OK;

    if (sodium_init() < 0)
        return SQLITE_ERROR;
    if ((rc = sqlite3_initialize()) != SQLITE_OK)
        return rc;
    pthread_mutex_lock(&reg_lock);
    if (!reg_base) {
        sqlite3_vfs *base = sqlite3_vfs_find(NULL);
        if (!base) {
            rc = SQLITE_ERROR;
            goto out;
        }
        cv_vfs = (sqlite3_vfs){
            .iVersion = 2,
            .szOsFile = (int)sizeof(cryptfile) + base->szOsFile,
            .mxPathname = base->mxPathname,
            .zName = CRYPTVFS_NAME,
            .pAppData = base,
            .xOpen = cv_open,
            .xDelete = cv_delete,
            .xAccess = cv_access,
            .xFullPathname = cv_full_pathname,
            .xDlOpen = cv_dl_open,
            .xDlError = cv_dl_error,
            .xDlSym = cv_dl_sym,
            .xDlClose = cv_dl_close,
            .xRandomness = cv_randomness,
            .xSleep = cv_sleep,
            .xCurrentTime = cv_current_time,
            .xGetLastError = cv_get_last_error,
            .xCurrentTimeInt64 = cv_current_time_int64,
        };
        if ((rc = sqlite3_vfs_register(&cv_vfs, 0)) == SQLITE_OK)
            reg_base = base;
    }
out:
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

/* the first column of the first row of sql, as text */
static int query_text(sqlite3 *db, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto out;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out, size, "%s", t ? (const char *)t : "");
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_ERROR;
    }
out:
    sqlite3_finalize(st);
    return rc;
}

int cryptvfs_prepare_new(sqlite3 *db)
{
    sqlite3_vfs *vfs = NULL;
    char text[32];
    int rc, n;

    if (!db)
        return SQLITE_MISUSE;
    rc = sqlite3_file_control(db, "main", SQLITE_FCNTL_VFS_POINTER, &vfs);
    if (rc != SQLITE_OK || vfs != &cv_vfs)
        return SQLITE_MISUSE;
    if ((rc = query_text(db, "PRAGMA page_count", text, sizeof text)) != SQLITE_OK)
        return rc;
    if (strcmp(text, "0") != 0)
        return SQLITE_MISUSE;
    /* page size first: the reserve is kept by a later page size change, not the other way */
    if ((rc = sqlite3_exec(db, "PRAGMA page_size = 4096", NULL, NULL, NULL)) != SQLITE_OK)
        return rc;
    n = RESERVE;
    if ((rc = sqlite3_file_control(db, "main", SQLITE_FCNTL_RESERVE_BYTES, &n)) != SQLITE_OK)
        return rc;
    n = -1; /* query */
    if ((rc = sqlite3_file_control(db, "main", SQLITE_FCNTL_RESERVE_BYTES, &n)) != SQLITE_OK)
        return rc;
    if (n != RESERVE)
        return SQLITE_ERROR;
    if ((rc = query_text(db, "PRAGMA journal_mode = OFF", text, sizeof text)) != SQLITE_OK)
        return rc;
    if (strcmp(text, "off") != 0)
        return SQLITE_ERROR;
    if ((rc = query_text(db, "PRAGMA journal_mode = WAL", text, sizeof text)) != SQLITE_OK)
        return rc;
    if (strcmp(text, "wal") != 0)
        return SQLITE_ERROR;
    if ((rc = query_text(db, "PRAGMA page_size", text, sizeof text)) != SQLITE_OK)
        return rc;
    return strcmp(text, "4096") == 0 ? SQLITE_OK : SQLITE_ERROR;
}

int cryptvfs_check(const char *db_path)
{
    unsigned char key[CRYPTVFS_KEY_SIZE], salt[SALT], page[PAGE], plain[PAGE];
    sqlite3_vfs *base;
    char *full = NULL;
    int have_salt = 0, rc, fd = -1;
    struct stat sb;

    pthread_mutex_lock(&reg_lock);
    base = reg_base;
    pthread_mutex_unlock(&reg_lock);
    if (!db_path || !base)
        return SQLITE_MISUSE;
    if (!(full = canonical_path(base, db_path)))
        return SQLITE_CANTOPEN;
    if ((rc = reg_get(full, key, salt, &have_salt)) != SQLITE_OK)
        goto out;
    fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = SQLITE_CANTOPEN;
        goto out;
    }
    if (fstat(fd, &sb) != 0 || sb.st_size < PAGE || sb.st_size % PAGE != 0 ||
        pread(fd, page, PAGE, 0) != PAGE) {
        rc = SQLITE_NOTADB;
        goto out;
    }
    memcpy(salt, page, SALT); /* page 1 begins with the database's salt, in clear */
    rc = cryptvfs_page_open(key, salt, 1, NULL, 0, page, plain);
out:
    if (fd >= 0)
        close(fd);
    sodium_memzero(key, sizeof key);
    sodium_memzero(plain, sizeof plain);
    sqlite3_free(full);
    return rc;
}
