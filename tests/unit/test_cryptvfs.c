/* the "pdcrypt" VFS on real databases: round trips through the WAL, no clear text on disk,
 * wrong keys, flipped bits, swapped, foreign and cut pages, refused files, concurrency */
#include <dirent.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>

#include "check.h"
#include "cryptvfs.h"
#include "testutil.h"

#define PAGE CRYPTVFS_PAGE_SIZE
#define FRAME (24 + PAGE)

static char dir[300];
static unsigned char key1[32], key2[32];
static char last_log[512];
static int log_auth_failures, log_refusals, log_dropped;

/* ---- helpers ---- */

static void log_cb(void *arg, int code, const char *msg)
{
    (void)arg;
    snprintf(last_log, sizeof last_log, "%s", msg);
    if (strstr(msg, "pdcrypt:")) {
        if (strstr(msg, "does not authenticate (wrong key"))
            log_auth_failures++;
        if (strstr(msg, "refusing"))
            log_refusals++;
        if (strstr(msg, "dropped like a torn write"))
            log_dropped++;
    }
    if (getenv("CRYPTVFS_TEST_LOG"))
        fprintf(stderr, "log %d: %s\n", code, msg);
}

static void path_in(char *out, size_t size, const char *sub, const char *name)
{
    snprintf(out, size, "%s/%s/%s", dir, sub, name);
}

static void mkdir_in(const char *sub)
{
    char p[400];
    snprintf(p, sizeof p, "%s/%s", dir, sub);
    if (mkdir(p, 0700) != 0) {
        perror(p);
        exit(2);
    }
}

static int db_open(const char *path, int create, sqlite3 **out)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX;
    if (create)
        flags |= SQLITE_OPEN_CREATE;
    *out = NULL;
    int rc = sqlite3_open_v2(path, out, flags, CRYPTVFS_NAME);
    if (rc != SQLITE_OK) {
        sqlite3_close(*out);
        *out = NULL;
        return rc;
    }
    sqlite3_busy_timeout(*out, 5000);
    return SQLITE_OK;
}

static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK && getenv("CRYPTVFS_TEST_LOG"))
        fprintf(stderr, "exec %.60s: %d %s\n", sql, rc, msg ? msg : "");
    sqlite3_free(msg);
    return rc;
}

/* first column of the first row as an integer; *rc the extended result */
static long long query_int(sqlite3 *db, const char *sql, int *rc)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    *rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (*rc == SQLITE_OK) {
        *rc = sqlite3_step(st);
        if (*rc == SQLITE_ROW) {
            v = sqlite3_column_int64(st, 0);
            *rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return v;
}

static int query_text(sqlite3 *db, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    out[0] = 0;
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* a new database on "pdcrypt", ready as the store would have it */
static int db_create(const char *path, const unsigned char *key, sqlite3 **out)
{
    int rc;
    if ((rc = cryptvfs_key_set(path, key)) != SQLITE_OK)
        return rc;
    if ((rc = db_open(path, 1, out)) != SQLITE_OK)
        return rc;
    if ((rc = cryptvfs_prepare_new(*out)) != SQLITE_OK)
        return rc;
    return exec(*out, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                      "PRAGMA temp_store = MEMORY; PRAGMA foreign_keys = ON;");
}

static int db_reopen(const char *path, sqlite3 **out)
{
    int rc = db_open(path, 0, out);
    if (rc != SQLITE_OK)
        return rc;
    return exec(*out, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                      "PRAGMA temp_store = MEMORY;");
}

static const char schema[] =
    "CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT NOT NULL);"
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL, city TEXT);"
    "CREATE INDEX customers_email ON customers (email);";

/* rows [from, to) of both tables, in one transaction */
static int fill(sqlite3 *db, int from, int to)
{
    sqlite3_stmt *p = NULL, *c = NULL;
    char name[128], note[256], email[96];
    int rc = exec(db, "BEGIN");
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_prepare_v2(db, "INSERT INTO products (id, name, note) VALUES (?1, ?2, ?3)", -1, &p,
                            NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "INSERT INTO customers (id, email, city) VALUES (?1, ?2, ?3)",
                                -1, &c, NULL);
    for (int i = from; rc == SQLITE_OK && i < to; i++) {
        snprintf(name, sizeof name, "Ibuprofen %d mg Filmtabletten N%d", 200 + i % 600, i);
        snprintf(note, sizeof note,
                 "Ibuprofen: nach dem Essen einnehmen; Packung %d, Charge %08x, Hinweis fuer "
                 "Kundin ines.becker@example.org",
                 i, (unsigned)(i * 2654435761u));
        if (i % 7 == 0)
            snprintf(email, sizeof email, "ines.becker@example.org");
        else
            snprintf(email, sizeof email, "ines.becker+%d@example.org", i);
        sqlite3_bind_int(p, 1, i);
        sqlite3_bind_text(p, 2, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(p, 3, note, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(c, 1, i);
        sqlite3_bind_text(c, 2, email, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(c, 3, i % 2 ? "Bamberg" : "Passau", -1, SQLITE_STATIC);
        rc = sqlite3_step(p);
        if (rc == SQLITE_DONE)
            rc = sqlite3_step(c);
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
        sqlite3_reset(p);
        sqlite3_reset(c);
    }
    sqlite3_finalize(p);
    sqlite3_finalize(c);
    if (rc != SQLITE_OK) {
        exec(db, "ROLLBACK");
        return rc;
    }
    return exec(db, "COMMIT");
}

/* reads every row and runs integrity_check; the first error, or SQLITE_OK */
static int read_all(sqlite3 *db, long long *products, long long *customers)
{
    char text[64];
    int rc;
    *products = query_int(db, "SELECT count(*) FROM products WHERE name LIKE 'Ibuprofen %'", &rc);
    if (rc != SQLITE_OK)
        return rc;
    query_int(db, "SELECT sum(length(note)) FROM products", &rc);
    if (rc != SQLITE_OK)
        return rc;
    *customers = query_int(db, "SELECT count(*) FROM customers", &rc);
    if (rc != SQLITE_OK)
        return rc;
    query_int(db, "SELECT count(*) FROM customers WHERE email = 'ines.becker@example.org'", &rc);
    if (rc != SQLITE_OK)
        return rc;
    /* every page: both tables, the index, the schema */
    static const char *const scans[] = {
        "SELECT sum(length(email) + length(city)) FROM customers NOT INDEXED",
        "SELECT count(*) FROM customers INDEXED BY customers_email WHERE email > ''",
        "SELECT count(*) FROM sqlite_schema WHERE sql IS NOT NULL",
    };
    for (size_t i = 0; i < sizeof scans / sizeof scans[0]; i++) {
        query_int(db, scans[i], &rc);
        if (rc != SQLITE_OK)
            return rc;
    }
    if ((rc = query_text(db, "PRAGMA integrity_check", text, sizeof text)) != SQLITE_OK)
        return rc;
    return strcmp(text, "ok") == 0 ? SQLITE_OK : SQLITE_CORRUPT;
}

static unsigned char *file_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *data = NULL;
    long n;
    *len = 0;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        data = malloc((size_t)n + 1);
        if (data && fread(data, 1, (size_t)n, f) == (size_t)n)
            *len = (size_t)n;
    }
    fclose(f);
    return data;
}

static void file_write(const char *path, const unsigned char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

static void file_copy(const char *from, const char *to)
{
    size_t len;
    unsigned char *data = file_read(from, &len);
    if (data)
        file_write(to, data, len);
    free(data);
}

static void file_flip(const char *path, long long off, unsigned char mask)
{
    size_t len;
    unsigned char *data = file_read(path, &len);
    if (data && off >= 0 && (size_t)off < len) {
        data[off] ^= mask;
        file_write(path, data, len);
    } else {
        fprintf(stderr, "cannot flip %s at %lld\n", path, off);
        check_fail_n++;
    }
    free(data);
}

static long long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* how many files under folder contain marker (binary search of every byte) */
static int folder_hits(const char *folder, const char *marker)
{
    DIR *d = opendir(folder);
    struct dirent *de;
    char p[600];
    int hits = 0;
    if (!d)
        return -1;
    while ((de = readdir(d))) {
        size_t len;
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", folder, de->d_name);
        unsigned char *data = file_read(p, &len);
        if (data && memmem(data, len, marker, strlen(marker)))
            hits++;
        free(data);
    }
    closedir(d);
    return hits;
}

static int folder_files(const char *folder)
{
    DIR *d = opendir(folder);
    struct dirent *de;
    int n = 0;
    if (!d)
        return -1;
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* one hash over the database, its WAL and its -shm (absent files count as absent) */
static void folder_hash(const char *db_path, unsigned char out[32])
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    crypto_generichash_state st;
    char p[600];
    crypto_generichash_init(&st, NULL, 0, 32);
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        size_t len;
        snprintf(p, sizeof p, "%s%s", db_path, suffix[i]);
        unsigned char *data = file_read(p, &len);
        unsigned char tag = data ? 1 : 0;
        crypto_generichash_update(&st, &tag, 1);
        if (data)
            crypto_generichash_update(&st, data, len);
        free(data);
    }
    crypto_generichash_final(&st, out, 32);
}

static void scan_clean(const char *folder)
{
    static const char *const markers[] = {
        "Ibuprofen",    "ines.becker@example.org", "example.org",    "SQLite format 3",
        "CREATE TABLE", "Filmtabletten",           "customers_email"};
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++) {
        int hits = folder_hits(folder, markers[i]);
        if (hits != 0)
            fprintf(stderr, "marker \"%s\" found in %d file(s) of %s\n", markers[i], hits, folder);
        CHECK_EQ_INT(hits, 0);
    }
}

/* ---- the codec ---- */

static void test_codec(void)
{
    unsigned char k[32], salt[16], salt2[16], plain[PAGE], page[PAGE], out[PAGE], bind[16];
    randombytes_buf(k, sizeof k);
    randombytes_buf(salt, sizeof salt);
    randombytes_buf(salt2, sizeof salt2);
    randombytes_buf(plain, sizeof plain);
    randombytes_buf(bind, sizeof bind);
    memset(plain + PAGE - CRYPTVFS_RESERVE, 0, CRYPTVFS_RESERVE);

    CHECK_EQ_INT(cryptvfs_page_seal(k, salt, 7, NULL, 0, plain, page), SQLITE_OK);
    CHECK(memcmp(page, plain, 64) != 0);
    CHECK_EQ_INT(cryptvfs_page_open(k, salt, 7, NULL, 0, page, out), SQLITE_OK);
    CHECK(memcmp(out, plain, PAGE) == 0);
    /* fresh nonce: sealing twice differs */
    unsigned char page2[PAGE];
    CHECK_EQ_INT(cryptvfs_page_seal(k, salt, 7, NULL, 0, plain, page2), SQLITE_OK);
    CHECK(memcmp(page, page2, PAGE) != 0);
    /* bound to page number, salt, key, bind */
    CHECK_EQ_INT(cryptvfs_page_open(k, salt, 8, NULL, 0, page, out), SQLITE_IOERR_DATA);
    CHECK_EQ_INT(cryptvfs_page_open(k, salt2, 7, NULL, 0, page, out), SQLITE_IOERR_DATA);
    CHECK_EQ_INT(cryptvfs_page_open(k, salt, 7, bind, sizeof bind, page, out), SQLITE_IOERR_DATA);
    unsigned char k2[32];
    memcpy(k2, k, 32);
    k2[31] ^= 1;
    CHECK_EQ_INT(cryptvfs_page_open(k2, salt, 7, NULL, 0, page, out), SQLITE_IOERR_DATA);
    /* failure leaves zeros, never a byte of the page */
    int zero = 1;
    for (int i = 0; i < PAGE; i++)
        zero &= out[i] == 0;
    CHECK(zero);
    /* every region of the page is authenticated: ciphertext, nonce, tag */
    static const int spots[] = {0, 100, 4055, 4056, 4079, 4080, 4095};
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        memcpy(page2, page, PAGE);
        page2[spots[i]] ^= 0x10;
        CHECK_EQ_INT(cryptvfs_page_open(k, salt, 7, NULL, 0, page2, out), SQLITE_IOERR_DATA);
    }
    /* the reserved area is dropped and reads as zeros */
    plain[PAGE - 1] = 0x55;
    CHECK_EQ_INT(cryptvfs_page_seal(k, salt, 7, bind, sizeof bind, plain, page), SQLITE_OK);
    CHECK_EQ_INT(cryptvfs_page_open(k, salt, 7, bind, sizeof bind, page, out), SQLITE_OK);
    CHECK(memcmp(out, plain, PAGE - CRYPTVFS_RESERVE) == 0 && out[PAGE - 1] == 0);
    plain[PAGE - 1] = 0;
    /* in place */
    memcpy(page2, plain, PAGE);
    CHECK_EQ_INT(cryptvfs_page_seal(k, salt, 9, NULL, 0, page2, page2), SQLITE_OK);
    CHECK_EQ_INT(cryptvfs_page_open(k, salt, 9, NULL, 0, page2, page2), SQLITE_OK);
    CHECK(memcmp(page2, plain, PAGE) == 0);

    /* page 1: salt in clear instead of the magic, magic restored */
    memcpy(plain, "SQLite format 3", 16);
    CHECK_EQ_INT(cryptvfs_page_seal(k, salt, 1, NULL, 0, plain, page), SQLITE_OK);
    CHECK(memcmp(page, salt, 16) == 0);
    CHECK(memmem(page, PAGE, "SQLite", 6) == NULL);
    CHECK_EQ_INT(cryptvfs_page_open(k, salt, 1, NULL, 0, page, out), SQLITE_OK);
    CHECK(memcmp(out, plain, PAGE) == 0);
    CHECK_EQ_INT(cryptvfs_page_open(k, salt2, 1, NULL, 0, page, out), SQLITE_IOERR_DATA);
    page[3] ^= 1; /* the clear salt is checked too */
    CHECK_EQ_INT(cryptvfs_page_open(k, salt, 1, NULL, 0, page, out), SQLITE_IOERR_DATA);
    plain[0] = 'X';
    CHECK_EQ_INT(cryptvfs_page_seal(k, salt, 1, NULL, 0, plain, page), SQLITE_MISUSE);

    /* bad arguments */
    CHECK_EQ_INT(cryptvfs_page_seal(k, salt, 0, NULL, 0, plain, page), SQLITE_MISUSE);
    CHECK_EQ_INT(cryptvfs_page_seal(k, salt, 2, NULL, 5, plain, page), SQLITE_MISUSE);
    CHECK_EQ_INT(cryptvfs_page_seal(k, salt, 2, bind, CRYPTVFS_BIND_MAX + 1, plain, page),
                 SQLITE_MISUSE);
    CHECK_EQ_INT(cryptvfs_page_open(k, salt, 0, NULL, 0, page, out), SQLITE_IOERR_DATA);
}

/* ---- registry, refusals ---- */

static void test_keys_and_refusals(void)
{
    char path[400], rel[400], cwd[400];
    sqlite3 *db = NULL;
    int rc;

    mkdir_in("k");
    path_in(path, sizeof path, "k", "pd.db");
    /* no key: no file */
    cryptvfs_key_clear(path);
    rc = db_open(path, 1, &db);
    CHECK(rc == SQLITE_AUTH || rc == SQLITE_CANTOPEN);
    CHECK(file_size(path) < 0);

    /* a relative path names the same database */
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(dir) == 0);
    snprintf(rel, sizeof rel, "k/pd.db");
    CHECK_EQ_INT(cryptvfs_key_set(rel, key1), SQLITE_OK);
    CHECK(chdir(cwd) == 0);
    CHECK_EQ_INT(db_open(path, 1, &db), SQLITE_OK);

    /* without prepare_new: WAL would need a rollback journal, which is refused */
    int before = log_refusals;
    char text[32];
    rc = query_text(db, "PRAGMA journal_mode = WAL", text, sizeof text);
    CHECK(rc != SQLITE_OK || strcmp(text, "wal") != 0);
    CHECK(log_refusals > before);
    CHECK(file_size(path) <= 0);
    /* without the reserve, page 1 is refused */
    CHECK_EQ_INT(exec(db, "PRAGMA journal_mode = OFF"), SQLITE_OK);
    CHECK_EQ_INT(exec(db, "CREATE TABLE t (a)"), SQLITE_IOERR_WRITE);
    CHECK(strstr(last_log, "reserved bytes") != NULL);
    CHECK(file_size(path) <= 0);
    sqlite3_close(db);
    db = NULL;

    /* prepare_new: only on an empty pdcrypt database */
    CHECK_EQ_INT(db_open(path, 1, &db), SQLITE_OK);
    CHECK_EQ_INT(cryptvfs_prepare_new(db), SQLITE_OK);
    CHECK_EQ_INT(cryptvfs_prepare_new(db), SQLITE_MISUSE);
    int n = -1;
    CHECK_EQ_INT(sqlite3_file_control(db, "main", SQLITE_FCNTL_RESERVE_BYTES, &n), SQLITE_OK);
    CHECK_EQ_INT(n, CRYPTVFS_RESERVE);
    CHECK_EQ_INT(query_text(db, "PRAGMA journal_mode", text, sizeof text), SQLITE_OK);
    CHECK_EQ_STR(text, "wal");
    CHECK_EQ_INT(file_size(path), PAGE);
    char *vfsname = NULL;
    CHECK_EQ_INT(sqlite3_file_control(db, "main", SQLITE_FCNTL_VFSNAME, &vfsname), SQLITE_OK);
    CHECK(vfsname && strncmp(vfsname, "pdcrypt", 7) == 0);
    sqlite3_free(vfsname);
    sqlite3 *plain_db = NULL;
    CHECK_EQ_INT(sqlite3_open(":memory:", &plain_db), SQLITE_OK);
    CHECK_EQ_INT(cryptvfs_prepare_new(plain_db), SQLITE_MISUSE);
    sqlite3_close(plain_db);

    /* temp files are refused: with temp_store=FILE a big sort fails loudly */
    CHECK_EQ_INT(exec(db, "PRAGMA temp_store = MEMORY; CREATE TABLE t (a, b);"
                          "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                          "WHERE x < 30000) INSERT INTO t SELECT x, hex(randomblob(40)) FROM c;"),
                 SQLITE_OK);
    CHECK_EQ_INT(exec(db, "PRAGMA temp_store = FILE; PRAGMA cache_size = 20"), SQLITE_OK);
    before = log_refusals;
    query_int(db, "SELECT count(*) FROM (SELECT b FROM t ORDER BY b || 'x')", &rc);
    CHECK_EQ_INT(rc, SQLITE_CANTOPEN);
    CHECK(log_refusals > before);
    rc = exec(db, "VACUUM");
    CHECK_EQ_INT(rc, SQLITE_CANTOPEN);
    /* with temp_store=MEMORY all of them work */
    CHECK_EQ_INT(exec(db, "PRAGMA temp_store = MEMORY"), SQLITE_OK);
    CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM (SELECT b FROM t ORDER BY b || 'x')", &rc),
                 30000);
    CHECK_EQ_INT(exec(db, "CREATE INDEX tb ON t (b); VACUUM;"), SQLITE_OK);
    CHECK_EQ_INT(exec(db, "SAVEPOINT s; DELETE FROM t WHERE a % 2 = 0; ROLLBACK TO s; RELEASE s;"),
                 SQLITE_OK);
    CHECK_EQ_INT(exec(db, "CREATE TEMP TABLE tt AS SELECT * FROM t; DROP TABLE tt;"), SQLITE_OK);
    /* leaving WAL needs a rollback journal: refused, the database stays in WAL */
    rc = query_text(db, "PRAGMA journal_mode = DELETE", text, sizeof text);
    CHECK(rc != SQLITE_OK || strcmp(text, "wal") == 0);
    CHECK_EQ_INT(query_text(db, "PRAGMA journal_mode", text, sizeof text), SQLITE_OK);
    CHECK_EQ_STR(text, "wal");
    /* no mmap: the pager must read through xRead */
    CHECK_EQ_INT(query_int(db, "PRAGMA mmap_size = 1000000", &rc), 0);
    CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM t", &rc), 30000);
    sqlite3_close(db);
    db = NULL;

    /* key cleared: no more opens; a key set again works */
    cryptvfs_key_clear(path);
    rc = db_open(path, 0, &db);
    CHECK(rc == SQLITE_AUTH || rc == SQLITE_CANTOPEN);
    CHECK_EQ_INT(cryptvfs_key_set(path, key1), SQLITE_OK);
    CHECK_EQ_INT(db_reopen(path, &db), SQLITE_OK);
    CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM t", &rc), 30000);
    CHECK_EQ_INT(rc, SQLITE_OK);
    sqlite3_close(db);
    cryptvfs_key_clear(path);
    path_in(path, sizeof path, "k", "");
    scan_clean(path);
}

/* ---- round trip ---- */

static long long n_ckpt_p, n_ckpt_c, n3_p, n_all_p, n_all_c;

/*
 * main/pd.db: fill, checkpoint, savepoints, more transactions left in the WAL at close.
 * ckpt/pd.db: the same data, all checkpointed. other/: same key, other salt; foreign/: other
 * key.
 */
static void test_roundtrip(void)
{
    char path[400], folder[400];
    sqlite3 *db = NULL;
    int rc;

    mkdir_in("main");
    path_in(path, sizeof path, "main", "pd.db");
    path_in(folder, sizeof folder, "main", "");
    CHECK_EQ_INT(db_create(path, key1, &db), SQLITE_OK);
    CHECK_EQ_INT(exec(db, schema), SQLITE_OK);
    CHECK_EQ_INT(fill(db, 0, 4000), SQLITE_OK);
    CHECK_EQ_INT(exec(db, "PRAGMA wal_checkpoint(TRUNCATE)"), SQLITE_OK);
    CHECK_EQ_INT(file_size(path) % PAGE, 0);
    CHECK(file_size(path) > 200 * PAGE);

    /* savepoints: one kept, one rolled back */
    CHECK_EQ_INT(exec(db, "SAVEPOINT a;"
                          "UPDATE products SET note = note || ' geprueft' WHERE id % 3 = 0;"
                          "SAVEPOINT b;"
                          "DELETE FROM customers WHERE id % 2 = 0;"
                          "ROLLBACK TO b;"
                          "INSERT INTO customers (id, email) VALUES (100000, "
                          "'ines.becker@example.org');"
                          "RELEASE a;"),
                 SQLITE_OK);
    n_ckpt_p = query_int(db, "SELECT count(*) FROM products", &rc);
    n_ckpt_c = query_int(db, "SELECT count(*) FROM customers", &rc);
    CHECK_EQ_INT(exec(db, "PRAGMA wal_checkpoint(TRUNCATE)"), SQLITE_OK);
    CHECK_EQ_INT(file_size(path) % PAGE, 0);

    /* three transactions left in the WAL */
    CHECK_EQ_INT(fill(db, 4000, 5000), SQLITE_OK);
    CHECK_EQ_INT(fill(db, 5000, 5500), SQLITE_OK);
    n3_p = query_int(db, "SELECT count(*) FROM products", &rc);
    CHECK_EQ_INT(fill(db, 5500, 5600), SQLITE_OK);
    n_all_p = query_int(db, "SELECT count(*) FROM products", &rc);
    n_all_c = query_int(db, "SELECT count(*) FROM customers", &rc);
    CHECK_EQ_INT(n_all_p, 5600);
    CHECK_EQ_INT(n_all_c, 5601);
    char wal[420];
    snprintf(wal, sizeof wal, "%s-wal", path);
    CHECK(file_size(wal) > 10 * FRAME);
    CHECK_EQ_INT((file_size(wal) - 32) % FRAME, 0);
    scan_clean(folder); /* database, WAL and -shm while open */
    CHECK_EQ_INT(sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_close(db), SQLITE_OK);
    db = NULL;
    CHECK(file_size(wal) > 10 * FRAME);
    scan_clean(folder);

    /* copies for the tamper tests before anything reopens it */
    mkdir_in("walcopy");
    path_in(folder, sizeof folder, "walcopy", "pd.db");
    file_copy(path, folder);
    snprintf(folder + strlen(folder), sizeof folder - strlen(folder), "-wal");
    file_copy(wal, folder);

    /* reopen: WAL recovery, everything back */
    long long np = 0, nc = 0;
    CHECK_EQ_INT(db_reopen(path, &db), SQLITE_OK);
    CHECK_EQ_INT(read_all(db, &np, &nc), SQLITE_OK);
    CHECK_EQ_INT(np, n_all_p);
    CHECK_EQ_INT(nc, n_all_c);
    char text[200];
    CHECK_EQ_INT(query_text(db, "SELECT note FROM products WHERE id = 4242", text, sizeof text),
                 SQLITE_OK);
    CHECK(strstr(text, "Ibuprofen: nach dem Essen einnehmen; Packung 4242") == text);
    CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM products WHERE note LIKE '% geprueft'", &rc),
                 1334);
    CHECK_EQ_INT(query_int(db,
                           "SELECT count(*) FROM customers WHERE email = "
                           "'ines.becker@example.org'",
                           &rc),
                 5600 / 7 + 1);
    /* the index is used and consistent */
    CHECK_EQ_INT(query_int(db,
                           "SELECT count(*) FROM customers INDEXED BY customers_email "
                           "WHERE email > 'ines.becker+5'",
                           &rc),
                 query_int(db,
                           "SELECT count(*) FROM customers NOT INDEXED "
                           "WHERE email > 'ines.becker+5'",
                           &rc));
    CHECK_EQ_INT(sqlite3_close(db), SQLITE_OK); /* checkpoints and removes the WAL */
    db = NULL;
    CHECK(file_size(wal) < 0);
    path_in(folder, sizeof folder, "main", "");
    scan_clean(folder);
    CHECK_EQ_INT(folder_files(folder), 1);

    /* the all-checkpointed copy */
    mkdir_in("ckpt");
    path_in(folder, sizeof folder, "ckpt", "pd.db");
    file_copy(path, folder);

    /* same key, other salt; other key */
    mkdir_in("other");
    path_in(path, sizeof path, "other", "pd.db");
    CHECK_EQ_INT(db_create(path, key1, &db), SQLITE_OK);
    CHECK_EQ_INT(exec(db, schema), SQLITE_OK);
    CHECK_EQ_INT(fill(db, 0, 4000), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_close(db), SQLITE_OK);
    mkdir_in("foreign");
    path_in(path, sizeof path, "foreign", "pd.db");
    CHECK_EQ_INT(db_create(path, key2, &db), SQLITE_OK);
    CHECK_EQ_INT(exec(db, schema), SQLITE_OK);
    CHECK_EQ_INT(fill(db, 0, 4000), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_close(db), SQLITE_OK);
}

/* ---- reads of any range through the file objects ---- */

static void test_ranges(void)
{
    char path[400];
    sqlite3 *db = NULL;
    sqlite3_file *fp = NULL, *wp = NULL;
    int rc;

    path_in(path, sizeof path, "main", "pd.db");
    CHECK_EQ_INT(db_reopen(path, &db), SQLITE_OK);
    CHECK_EQ_INT(fill(db, 10000, 10050), SQLITE_OK); /* something in the WAL */
    CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM products", &rc), n_all_p + 50);
    CHECK_EQ_INT(sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &fp), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wp), SQLITE_OK);
    if (!fp || !wp || !fp->pMethods || !wp->pMethods) {
        CHECK(0);
        sqlite3_close(db);
        return;
    }
    sqlite3_int64 size = 0, wsize = 0;
    fp->pMethods->xFileSize(fp, &size);
    wp->pMethods->xFileSize(wp, &wsize);
    CHECK(size >= 4 * PAGE);
    CHECK(wsize >= 32 + 3 * FRAME);

    unsigned char *pages = malloc(4 * PAGE), *one = malloc(PAGE), *buf = malloc(4 * PAGE + 100);
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(fp->pMethods->xRead(fp, pages + i * PAGE, PAGE, (sqlite3_int64)i * PAGE),
                     SQLITE_OK);
    CHECK(memcmp(pages, "SQLite format 3", 16) == 0);
    CHECK_EQ_INT(pages[20], CRYPTVFS_RESERVE);
    /* several pages at once, a partial first page, a range across a page boundary */
    CHECK_EQ_INT(fp->pMethods->xRead(fp, buf, 4 * PAGE, 0), SQLITE_OK);
    CHECK(memcmp(buf, pages, 4 * PAGE) == 0);
    CHECK_EQ_INT(fp->pMethods->xRead(fp, buf, 100, 0), SQLITE_OK);
    CHECK(memcmp(buf, pages, 100) == 0);
    CHECK_EQ_INT(fp->pMethods->xRead(fp, buf, 16, 24), SQLITE_OK);
    CHECK(memcmp(buf, pages + 24, 16) == 0);
    CHECK_EQ_INT(fp->pMethods->xRead(fp, buf, 2 * PAGE + 77, PAGE - 33), SQLITE_OK);
    CHECK(memcmp(buf, pages + PAGE - 33, 2 * PAGE + 77) == 0);
    /* beyond the end: zero fill and a short read, like the default VFS */
    memset(buf, 0xAA, PAGE + 100);
    CHECK_EQ_INT(fp->pMethods->xRead(fp, buf, PAGE + 100, size - PAGE), SQLITE_IOERR_SHORT_READ);
    CHECK_EQ_INT(fp->pMethods->xRead(fp, one, PAGE, size - PAGE), SQLITE_OK);
    CHECK(memcmp(buf, one, PAGE) == 0);
    int zeros = 1;
    for (int i = 0; i < 100; i++)
        zeros &= buf[PAGE + i] == 0;
    CHECK(zeros);

    /* WAL: header and frames in one read, or piece by piece */
    unsigned char hdr[32];
    CHECK_EQ_INT(wp->pMethods->xRead(wp, hdr, 32, 0), SQLITE_OK);
    CHECK_EQ_INT(wp->pMethods->xRead(wp, buf, 32 + 2 * FRAME, 0), SQLITE_OK);
    CHECK(memcmp(buf, hdr, 32) == 0);
    for (int k = 0; k < 2; k++) {
        unsigned char fh[24];
        CHECK_EQ_INT(wp->pMethods->xRead(wp, fh, 24, 32 + k * FRAME), SQLITE_OK);
        CHECK(memcmp(buf + 32 + k * FRAME, fh, 24) == 0);
        CHECK_EQ_INT(wp->pMethods->xRead(wp, one, PAGE, 32 + k * FRAME + 24), SQLITE_OK);
        CHECK(memcmp(buf + 32 + k * FRAME + 24, one, PAGE) == 0);
        CHECK(memcmp(one + PAGE - CRYPTVFS_RESERVE, "\0\0\0\0\0\0\0\0", 8) == 0);
    }
    unsigned char part[300];
    CHECK_EQ_INT(wp->pMethods->xRead(wp, part, sizeof part, 32 + FRAME - 150), SQLITE_OK);
    CHECK(memcmp(part, buf + 32 + FRAME - 150, sizeof part) == 0);
    free(pages);
    free(one);
    free(buf);
    CHECK_EQ_INT(exec(db, "DELETE FROM products WHERE id >= 10000;"
                          "DELETE FROM customers WHERE id >= 10000;"),
                 SQLITE_OK);
    CHECK_EQ_INT(sqlite3_close(db), SQLITE_OK);
}

/* ---- wrong keys, damage ---- */

/* copies DIR/from/pd.db (and -wal) to DIR/to/pd.db with key, returns its path */
static void make_copy(const char *from, const char *to, const unsigned char *key, char *path,
                      size_t size)
{
    char src[400], dst[400];
    mkdir_in(to);
    path_in(src, sizeof src, from, "pd.db");
    path_in(path, size, to, "pd.db");
    file_copy(src, path);
    strcat(src, "-wal");
    snprintf(dst, sizeof dst, "%s-wal", path);
    file_copy(src, dst);
    CHECK_EQ_INT(cryptvfs_key_set(path, key), SQLITE_OK);
}

/* opens and reads everything: the first error */
static int try_all(const char *path, long long *np, long long *nc)
{
    sqlite3 *db = NULL;
    int rc = db_open(path, 0, &db);
    *np = *nc = -1;
    if (rc == SQLITE_OK)
        rc = read_all(db, np, nc);
    sqlite3_close(db);
    return rc;
}

static void test_wrong_key(void)
{
    char path[400];
    unsigned char before[32], after[32];
    long long np, nc;

    /* a WAL with content and an all-checkpointed database */
    static const char *const sources[] = {"walcopy", "ckpt"};
    for (int i = 0; i < 2; i++) {
        char to[32];
        snprintf(to, sizeof to, "wrong%d", i);
        make_copy(sources[i], to, key2, path, sizeof path);
        folder_hash(path, before);
        int fails = log_auth_failures;
        int rc = try_all(path, &np, &nc);
        CHECK_EQ_INT(rc, SQLITE_IOERR_DATA);
        CHECK(log_auth_failures > fails);
        folder_hash(path, after);
        CHECK(memcmp(before, after, 32) == 0);
        /* twice, and with a database handle kept open */
        CHECK_EQ_INT(try_all(path, &np, &nc), SQLITE_IOERR_DATA);
        folder_hash(path, after);
        CHECK(memcmp(before, after, 32) == 0);
        /* the right key still works afterwards */
        CHECK_EQ_INT(cryptvfs_key_set(path, key1), SQLITE_OK);
        CHECK_EQ_INT(try_all(path, &np, &nc), SQLITE_OK);
        CHECK_EQ_INT(np, n_all_p);
        cryptvfs_key_clear(path);
    }
}

static void expect_damage(const char *name, const char *path, int want)
{
    long long np, nc;
    int rc = try_all(path, &np, &nc);
    if (rc != want)
        fprintf(stderr, "%s: got %d, wanted %d\n", name, rc, want);
    CHECK_EQ_INT(rc, want);
    cryptvfs_key_clear(path);
}

static void test_damage(void)
{
    char path[400], src[400], wal[420];
    long long np, nc;

    /* one flipped bit in a database page (ciphertext, nonce, tag), and in page 1 */
    make_copy("ckpt", "flip_db", key1, path, sizeof path);
    file_flip(path, 5 * PAGE + 1000, 0x04);
    expect_damage("flip db", path, SQLITE_IOERR_DATA);
    make_copy("ckpt", "flip_nonce", key1, path, sizeof path);
    file_flip(path, 9 * PAGE + PAGE - 30, 0x80);
    expect_damage("flip nonce", path, SQLITE_IOERR_DATA);
    make_copy("ckpt", "flip_p1", key1, path, sizeof path);
    file_flip(path, 200, 0x01);
    expect_damage("flip page 1", path, SQLITE_IOERR_DATA);
    make_copy("ckpt", "flip_salt", key1, path, sizeof path);
    file_flip(path, 3, 0x01);
    expect_damage("flip salt", path, SQLITE_IOERR_DATA);

    /* one flipped bit in a WAL frame of a committed transaction: page, or its header's page
     * number */
    make_copy("walcopy", "flip_wal", key1, path, sizeof path);
    snprintf(wal, sizeof wal, "%s-wal", path);
    file_flip(wal, 32 + 24 + 500, 0x20);
    expect_damage("flip wal page", path, SQLITE_IOERR_DATA);
    make_copy("walcopy", "flip_walhdr", key1, path, sizeof path);
    snprintf(wal, sizeof wal, "%s-wal", path);
    file_flip(wal, 32 + 3 * FRAME + 3, 0x01);
    expect_damage("flip wal pgno", path, SQLITE_IOERR_DATA);

    /* damage in the last frame (the last commit) cannot be told from a torn write: SQLite
     * drops that transaction, as it would a torn one, and says so in the log */
    make_copy("walcopy", "flip_wallast", key1, path, sizeof path);
    snprintf(wal, sizeof wal, "%s-wal", path);
    long long wsize = file_size(wal);
    file_flip(wal, wsize - 2000, 0x01);
    int dropped = log_dropped;
    CHECK_EQ_INT(try_all(path, &np, &nc), SQLITE_OK);
    CHECK_EQ_INT(np, n3_p);
    CHECK(log_dropped > dropped);
    cryptvfs_key_clear(path);

    /* a transaction cut short by a crash: header of a new frame written, its page not */
    make_copy("walcopy", "torn", key1, path, sizeof path);
    snprintf(wal, sizeof wal, "%s-wal", path);
    {
        size_t len;
        unsigned char *data = file_read(wal, &len);
        unsigned char *more = data ? realloc(data, len + FRAME) : NULL;
        if (more) {
            /* a copy of the last frame's header with commit size 0, then stale bytes */
            memcpy(more + len, more + len - FRAME, 24);
            memset(more + len + 4, 0, 4);
            randombytes_buf(more + len + 24, PAGE);
            file_write(wal, more, len + FRAME);
            data = more;
        }
        free(data);
    }
    CHECK_EQ_INT(try_all(path, &np, &nc), SQLITE_OK);
    CHECK_EQ_INT(np, n_all_p);
    cryptvfs_key_clear(path);

    /* two pages swapped */
    make_copy("ckpt", "swap", key1, path, sizeof path);
    {
        size_t len;
        unsigned char *data = file_read(path, &len), tmp[PAGE];
        if (data && len >= 12 * PAGE) {
            memcpy(tmp, data + 10 * PAGE, PAGE);
            memcpy(data + 10 * PAGE, data + 11 * PAGE, PAGE);
            memcpy(data + 11 * PAGE, tmp, PAGE);
            file_write(path, data, len);
        }
        free(data);
    }
    expect_damage("swap", path, SQLITE_IOERR_DATA);

    /* cut to a size that is no multiple of the page size */
    make_copy("ckpt", "cut", key1, path, sizeof path);
    CHECK(truncate(path, file_size(path) - 100) == 0);
    {
        sqlite3 *db = NULL;
        int rc = db_open(path, 0, &db);
        if (rc == SQLITE_OK)
            rc = read_all(db, &np, &nc);
        sqlite3_close(db);
        CHECK(rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT);
    }
    cryptvfs_key_clear(path);

    /* a page from another database: same key and other salt, or other key */
    static const char *const donors[] = {"other", "foreign"};
    for (int i = 0; i < 2; i++) {
        char to[32];
        snprintf(to, sizeof to, "graft%d", i);
        make_copy("ckpt", to, key1, path, sizeof path);
        path_in(src, sizeof src, donors[i], "pd.db");
        size_t len, dlen;
        unsigned char *data = file_read(path, &len), *donor = file_read(src, &dlen);
        if (data && donor && len >= 8 * PAGE && dlen >= 8 * PAGE) {
            memcpy(data + 7 * PAGE, donor + 7 * PAGE, PAGE);
            file_write(path, data, len);
        } else {
            CHECK(0);
        }
        free(data);
        free(donor);
        expect_damage("graft", path, SQLITE_IOERR_DATA);
    }

    /* a database page copied into a WAL frame of the same page number */
    make_copy("walcopy", "dbtowal", key1, path, sizeof path);
    snprintf(wal, sizeof wal, "%s-wal", path);
    {
        size_t len, dlen;
        unsigned char *w = file_read(wal, &len), *d = file_read(path, &dlen);
        size_t k = 0;
        uint32_t pgno = 0;
        /* the first frame of a page the database file holds too */
        for (; w && d && 32 + (k + 1) * FRAME <= len; k++) {
            const unsigned char *h = w + 32 + k * FRAME;
            pgno = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
            if (pgno >= 2 && (size_t)pgno * PAGE <= dlen)
                break;
        }
        if (w && d && 32 + (k + 1) * FRAME <= len) {
            memcpy(w + 32 + k * FRAME + 24, d + (size_t)(pgno - 1) * PAGE, PAGE);
            file_write(wal, w, len);
        } else {
            CHECK(0);
        }
        free(w);
        free(d);
    }
    expect_damage("db page in wal", path, SQLITE_IOERR_DATA);
}

/* ---- concurrency ---- */

static void test_two_handles(void)
{
    char path[400];
    sqlite3 *w = NULL, *r = NULL;
    int rc;

    mkdir_in("conc");
    path_in(path, sizeof path, "conc", "pd.db");
    CHECK_EQ_INT(db_create(path, key1, &w), SQLITE_OK);
    CHECK_EQ_INT(exec(w, schema), SQLITE_OK);
    CHECK_EQ_INT(fill(w, 0, 500), SQLITE_OK);
    CHECK_EQ_INT(db_reopen(path, &r), SQLITE_OK);
    CHECK_EQ_INT(query_int(r, "SELECT count(*) FROM products", &rc), 500);
    /* a reader's snapshot stays put while the writer commits */
    CHECK_EQ_INT(exec(r, "BEGIN"), SQLITE_OK);
    CHECK_EQ_INT(query_int(r, "SELECT count(*) FROM products", &rc), 500);
    for (int i = 1; i <= 5; i++)
        CHECK_EQ_INT(fill(w, 500 * i, 500 * (i + 1)), SQLITE_OK);
    CHECK_EQ_INT(query_int(r, "SELECT count(*) FROM products", &rc), 500);
    CHECK_EQ_INT(exec(r, "COMMIT"), SQLITE_OK);
    CHECK_EQ_INT(query_int(r, "SELECT count(*) FROM products", &rc), 3000);
    /* a checkpoint by the reader's connection, writes go on */
    CHECK_EQ_INT(exec(r, "PRAGMA wal_checkpoint(RESTART)"), SQLITE_OK);
    CHECK_EQ_INT(fill(w, 3000, 3500), SQLITE_OK);
    CHECK_EQ_INT(query_int(r, "SELECT count(*) FROM customers", &rc), 3500);
    char text[32];
    CHECK_EQ_INT(query_text(r, "PRAGMA integrity_check", text, sizeof text), SQLITE_OK);
    CHECK_EQ_STR(text, "ok");
    sqlite3_close(r);
    sqlite3_close(w);
}

typedef struct worker {
    const char *path;
    int writer;
    int rc;
    long long last;
} worker;

static void *worker_run(void *arg)
{
    worker *wk = arg;
    sqlite3 *db = NULL;
    int rc = db_reopen(wk->path, &db);
    for (int i = 0; rc == SQLITE_OK && i < 40; i++) {
        if (wk->writer) {
            rc = fill(db, 100000 + i * 25, 100000 + (i + 1) * 25);
        } else {
            long long n = query_int(db, "SELECT count(*) FROM products", &rc);
            if (rc == SQLITE_OK && n < wk->last)
                rc = SQLITE_CORRUPT; /* counts only grow */
            wk->last = n;
            if (rc == SQLITE_OK)
                query_int(db, "SELECT sum(length(note)) FROM products", &rc);
        }
    }
    wk->rc = rc;
    sqlite3_close(db);
    return NULL;
}

static void test_threads(void)
{
    char path[400];
    pthread_t t[2];
    worker wk[2] = {{NULL, 1, -1, 0}, {NULL, 0, -1, 0}};
    int rc;

    path_in(path, sizeof path, "conc", "pd.db");
    for (int i = 0; i < 2; i++) {
        wk[i].path = path;
        CHECK_EQ_INT(pthread_create(&t[i], NULL, worker_run, &wk[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_INT(wk[0].rc, SQLITE_OK);
    CHECK_EQ_INT(wk[1].rc, SQLITE_OK);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(db_reopen(path, &db), SQLITE_OK);
    CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM products", &rc), 3500 + 40 * 25);
    sqlite3_close(db);
    path_in(path, sizeof path, "conc", "");
    scan_clean(path);
    path_in(path, sizeof path, "conc", "pd.db");
    cryptvfs_key_clear(path);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s", testutil_tmpdir());
    sqlite3_config(SQLITE_CONFIG_LOG, log_cb, NULL);
    CHECK_EQ_INT(cryptvfs_register(), SQLITE_OK);
    CHECK_EQ_INT(cryptvfs_register(), SQLITE_OK);
    CHECK(sqlite3_vfs_find(CRYPTVFS_NAME) != NULL);
    CHECK(sqlite3_vfs_find(NULL) != sqlite3_vfs_find(CRYPTVFS_NAME));
    randombytes_buf(key1, sizeof key1);
    randombytes_buf(key2, sizeof key2);

    test_codec();
    test_keys_and_refusals();
    test_roundtrip();
    test_ranges();
    test_wrong_key();
    test_damage();
    test_two_handles();
    test_threads();

    static const char *const subs[] = {"main", "other", "foreign", "ckpt", "walcopy"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        char path[400];
        path_in(path, sizeof path, subs[i], "pd.db");
        cryptvfs_key_clear(path);
    }
    return check_done();
}
