#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pd.h"

/* the kdf file: magic, version, Argon2id limits, the salt and a check hash over them;
 * nothing secret. The hash turns a damaged file into a clear error instead of an Argon2id run
 * with absurd limits. */
#define KDF_MAGIC "PDKDF2\n"
#define KDF_BODY (8 + 8 + 8 + crypto_pwhash_SALTBYTES)
#define KDF_CHECK 16
#define KDF_SIZE (KDF_BODY + KDF_CHECK)
/* sane bounds for what we write (moderate limits) and could ever want to read */
#define KDF_OPS_MAX 16ULL
#define KDF_MEM_MAX (1ULL << 30)

static int key_alloc(keys_key *k)
{
    k->bytes = sodium_malloc(KEYS_BYTES);
    return k->bytes ? PD_OK : PD_ENOMEM;
}

void keys_free(keys_key *k)
{
    if (k && k->bytes) {
        sodium_free(k->bytes); /* zeroes before freeing */
        k->bytes = NULL;
    }
}

static void path_of(buf *p, const char *dir, const char *name)
{
    buf_reset(p);
    buf_printf(p, "%s/%s", dir, name);
}

static int write_new_file(const char *path, const void *data, size_t len, buf *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        buf_printf(err, "cannot create %s: %s", path, strerror(errno));
        return errno == EEXIST ? PD_EEXIST : PD_EIO;
    }
    int ok = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
    int saved = errno;
    close(fd);
    if (!ok) {
        buf_printf(err, "cannot write %s: %s", path, strerror(saved));
        unlink(path);
        return PD_EIO;
    }
    return PD_OK;
}

static int derive(const char *pass, const unsigned char *kdf, keys_key *out, buf *err)
{
    unsigned long long ops = 0, mem = 0;
    for (int i = 0; i < 8; i++) {
        ops |= (unsigned long long)kdf[8 + i] << (8 * i);
        mem |= (unsigned long long)kdf[16 + i] << (8 * i);
    }
    unsigned char check[KDF_CHECK];
    crypto_generichash(check, sizeof check, kdf, KDF_BODY, NULL, 0);
    if (sodium_memcmp(check, kdf + KDF_BODY, KDF_CHECK) != 0 || ops < crypto_pwhash_OPSLIMIT_MIN ||
        ops > KDF_OPS_MAX || mem < crypto_pwhash_MEMLIMIT_MIN || mem > KDF_MEM_MAX) {
        buf_printf(err, "the passphrase settings in %s are damaged", KEYS_KDF_FILE);
        return PD_ECORRUPT;
    }
    int ret = key_alloc(out);
    if (ret != PD_OK)
        return ret;
    if (crypto_pwhash(out->bytes, KEYS_BYTES, pass, strlen(pass), kdf + 24, ops, (size_t)mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        keys_free(out);
        buf_printf(err, "not enough memory to stretch the passphrase");
        return PD_ENOMEM;
    }
    return PD_OK;
}

const char *keys_passphrase(const char *env, buf *err)
{
    const char *p = getenv(env);
    if (p && strlen(p) < 12) {
        buf_printf(err, "%s is shorter than 12 characters: choose a longer passphrase", env);
        return NULL;
    }
    if (!p)
        buf_printf(err, "%s is not set", env);
    return p;
}

int keys_generate(const char *pass, keys_new *out, buf *err)
{
    memset(out, 0, sizeof *out);
    if (sodium_init() < 0) {
        buf_puts(err, "libsodium could not be initialised");
        return PD_EIO;
    }
    if (pass) {
        unsigned long long ops = crypto_pwhash_OPSLIMIT_MODERATE;
        unsigned long long mem = crypto_pwhash_MEMLIMIT_MODERATE;
        memcpy(out->file, KDF_MAGIC, 8);
        for (int i = 0; i < 8; i++) {
            out->file[8 + i] = (unsigned char)(ops >> (8 * i));
            out->file[16 + i] = (unsigned char)(mem >> (8 * i));
        }
        randombytes_buf(out->file + 24, crypto_pwhash_SALTBYTES);
        crypto_generichash(out->file + KDF_BODY, KDF_CHECK, out->file, KDF_BODY, NULL, 0);
        out->file_len = KDF_SIZE;
        out->passphrase = 1;
        return derive(pass, out->file, &out->key, err);
    }
    int ret = key_alloc(&out->key);
    if (ret != PD_OK)
        return ret;
    randombytes_buf(out->key.bytes, KEYS_BYTES);
    memcpy(out->file, out->key.bytes, KEYS_BYTES);
    out->file_len = KEYS_BYTES;
    return PD_OK;
}

int keys_write(const char *dir, const char *name, const keys_new *k, buf *err)
{
    buf path = BUF_INIT;
    path_of(&path, dir, name ? name : k->passphrase ? KEYS_KDF_FILE : KEYS_FILE);
    int ret = write_new_file(path.data, k->file, k->file_len, err);
    buf_free(&path);
    return ret;
}

void keys_new_free(keys_new *k)
{
    keys_free(&k->key);
    sodium_memzero(k->file, sizeof k->file);
}

int keys_create(const char *dir, keys_key *out, buf *err)
{
    keys_new k;
    const char *pass = NULL;
    out->bytes = NULL;
    if (getenv(KEYS_ENV) && !(pass = keys_passphrase(KEYS_ENV, err)))
        return PD_EINVAL;
    int ret = keys_generate(pass, &k, err);
    if (ret == PD_OK)
        ret = keys_write(dir, NULL, &k, err);
    if (ret == PD_OK) {
        *out = k.key; /* hand the key over; the file copy is wiped below */
        k.key.bytes = NULL;
    }
    keys_new_free(&k);
    return ret;
}

static int read_exact(const char *path, unsigned char *dst, size_t len, int secret, buf *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    int ret = PD_OK;
    if (fd < 0) {
        buf_printf(err, "cannot open %s: %s", path, strerror(errno));
        return errno == ENOENT ? PD_ENOTFOUND : PD_EIO;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        buf_printf(err, "%s is not a regular file", path);
        ret = PD_EIO;
    } else if (secret && (sb.st_mode & 077)) {
        buf_printf(err, "%s may be read by group or others (mode %03o): run 'chmod 600 %s'", path,
                   (unsigned)(sb.st_mode & 0777), path);
        ret = PD_EPERM;
    } else if ((size_t)sb.st_size != len) {
        buf_printf(err, "%s has %lld bytes, expected %zu: wrong or damaged file", path,
                   (long long)sb.st_size, len);
        ret = PD_ECORRUPT;
    } else if (read(fd, dst, len) != (ssize_t)len) {
        buf_printf(err, "cannot read %s", path);
        ret = PD_EIO;
    }
    close(fd);
    return ret;
}

int keys_load(const char *dir, keys_key *out, buf *err)
{
    buf path = BUF_INIT;
    struct stat sb;
    int ret;
    out->bytes = NULL;
    if (sodium_init() < 0) {
        buf_puts(err, "libsodium could not be initialised");
        return PD_EIO;
    }
    path_of(&path, dir, KEYS_KDF_FILE);
    if (stat(path.data, &sb) == 0) {
        unsigned char kdf[KDF_SIZE];
        const char *pass = getenv(KEYS_ENV);
        if (!pass) {
            buf_printf(err, "this data folder is protected by a passphrase: set %s", KEYS_ENV);
            ret = PD_EPERM;
            goto out;
        }
        if ((ret = read_exact(path.data, kdf, sizeof kdf, 0, err)) != PD_OK)
            goto out;
        if (memcmp(kdf, KDF_MAGIC, 8) != 0) {
            buf_printf(err, "%s is not a pharmdesk passphrase file", path.data);
            ret = PD_ECORRUPT;
            goto out;
        }
        ret = derive(pass, kdf, out, err);
        goto out;
    }
    path_of(&path, dir, KEYS_FILE);
    if ((ret = key_alloc(out)) != PD_OK)
        goto out;
    ret = read_exact(path.data, out->bytes, KEYS_BYTES, 1, err);
    if (ret == PD_ENOTFOUND) {
        buf_reset(err);
        buf_printf(err, "no key in %s (neither %s nor %s): is this a pharmdesk data folder?", dir,
                   KEYS_FILE, KEYS_KDF_FILE);
    }
out:
    if (ret != PD_OK)
        keys_free(out);
    buf_free(&path);
    return ret;
}

int keys_copy_kdf(const char *from_dir, const char *to_dir, buf *err)
{
    buf path = BUF_INIT;
    keys_new kdf = {.passphrase = 1, .file_len = KDF_SIZE};
    struct stat sb;
    int ret = PD_OK;
    path_of(&path, from_dir, KEYS_KDF_FILE);
    if (stat(path.data, &sb) == 0 &&
        (ret = read_exact(path.data, kdf.file, KDF_SIZE, 0, err)) == PD_OK)
        ret = keys_write(to_dir, KEYS_KDF_FILE, &kdf, err);
    buf_free(&path);
    return ret;
}
