#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cryptvfs.h"
#include "keys.h"
#include "log.h"
#include "pd.h"
#include "store_int.h"

/* Every statement the project runs. Prepared once per connection, on first use. */
enum stmt_id {
    ST_PING,
    ST_PRODUCT_GET,
    ST_PRODUCT_ALL,
    ST_PRODUCT_STOCK,
    ST_PRODUCT_UPSERT,
    ST_CATALOG_GEN,
    ST_CATALOG_BUMP,
    ST_ORDER_ITEMS,
    ST_ORDER_FIND,
    ST_ORDER_INSERT,
    ST_ORDER_UPDATE,
    ST_ORDER_ITEMS_DELETE,
    ST_ORDER_ITEM_INSERT,
    ST_PRODUCT_EXISTS,
    ST_AUDIT_LAST,
    ST_AUDIT_INSERT,
    ST_AUDIT_ALL,
    ST_AUDIT_RECENT,
    ST_AUDIT_ANCHOR,
    ST_AUDIT_PRUNE_LAST,
    ST_AUDIT_PRUNE_FLAG,
    ST_AUDIT_PRUNE_DELETE,
    ST_AUDIT_PRUNE_ANCHOR,
    ST_COUNT
};

#define PRODUCT_COLS                                                                               \
    "pzn, name, manufacturer, active_ingredient, strength, dosage_form, pack_size, dispensing, "   \
    "price_cents, stock, supply, aliases"

#define AUDIT_COLS                                                                                 \
    "seq, at, kind, conversation, decision, intent, rule, policy_version, health_data, detail, "   \
    "prev_hash, hash"

/* the audit log is append-only: the application never changes or deletes an entry. (The
 * triggers stop mistakes, not an attacker with the key; the hash chain shows those.) */
/* from schema 6: deleting is refused unless the retention's pruning set its flag (the flag is
 * set and cleared within the pruning transaction) */
#define AUDIT_DELETE_TRIGGER                                                                       \
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"                                \
    " WHEN coalesce((SELECT value FROM meta WHERE key = 'audit_pruning'), 0) <> 1"                 \
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"

#define AUDIT_TRIGGERS                                                                             \
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"                                \
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"                             \
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"                                \
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_PING] = "SELECT 1",
    [ST_PRODUCT_GET] = "SELECT " PRODUCT_COLS " FROM products WHERE pzn = ?1",
    [ST_PRODUCT_ALL] = "SELECT " PRODUCT_COLS " FROM products ORDER BY pzn",
    [ST_PRODUCT_STOCK] = "SELECT stock FROM products WHERE pzn = ?1",
    [ST_PRODUCT_UPSERT] =
        "INSERT INTO products (" PRODUCT_COLS ", updated_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
        "strftime('%Y-%m-%dT%H:%M:%SZ')) "
        "ON CONFLICT (pzn) DO UPDATE SET name = excluded.name, "
        "manufacturer = excluded.manufacturer, active_ingredient = excluded.active_ingredient, "
        "strength = excluded.strength, dosage_form = excluded.dosage_form, "
        "pack_size = excluded.pack_size, dispensing = excluded.dispensing, "
        "price_cents = excluded.price_cents, stock = excluded.stock, supply = excluded.supply, "
        "aliases = excluded.aliases, updated_at = excluded.updated_at "
        "WHERE (name, manufacturer, active_ingredient, strength, dosage_form, pack_size, "
        "dispensing, price_cents, stock, supply, aliases) IS NOT (excluded.name, "
        "excluded.manufacturer, excluded.active_ingredient, excluded.strength, "
        "excluded.dosage_form, excluded.pack_size, excluded.dispensing, excluded.price_cents, "
        "excluded.stock, excluded.supply, excluded.aliases)",
    [ST_CATALOG_GEN] = "SELECT value FROM meta WHERE key = 'catalog_generation'",
    [ST_CATALOG_BUMP] = "UPDATE meta SET value = value + 1 WHERE key = 'catalog_generation'",
    [ST_ORDER_ITEMS] = "SELECT pzn, qty FROM order_items WHERE order_number = ?1 ORDER BY pzn",
    [ST_ORDER_FIND] = "SELECT created_at, last_name, postcode, email, status, expected, note, "
                      "status_mails FROM orders WHERE number = ?1",
    [ST_ORDER_INSERT] = "INSERT INTO orders (number, created_at, last_name, postcode, email, "
                        "status, expected, note, updated_at, status_mails) VALUES (?1, ?2, ?3, ?4, "
                        "?5, ?6, ?7, ?8, strftime('%Y-%m-%dT%H:%M:%SZ'), max(?9, 0))",
    [ST_ORDER_UPDATE] = "UPDATE orders SET created_at = ?2, last_name = ?3, postcode = ?4, "
                        "email = ?5, status = ?6, expected = ?7, note = ?8, "
                        "updated_at = strftime('%Y-%m-%dT%H:%M:%SZ'), "
                        "status_mails = CASE WHEN ?9 < 0 THEN status_mails ELSE ?9 END "
                        "WHERE number = ?1",
    [ST_ORDER_ITEMS_DELETE] = "DELETE FROM order_items WHERE order_number = ?1",
    [ST_ORDER_ITEM_INSERT] =
        "INSERT INTO order_items (order_number, pzn, qty) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (order_number, pzn) DO UPDATE SET qty = qty + excluded.qty",
    [ST_PRODUCT_EXISTS] = "SELECT 1 FROM products WHERE pzn = ?1",
    [ST_AUDIT_LAST] = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
    [ST_AUDIT_INSERT] = "INSERT INTO audit_log (" AUDIT_COLS ") "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [ST_AUDIT_ALL] = "SELECT " AUDIT_COLS " FROM audit_log ORDER BY seq",
    [ST_AUDIT_RECENT] = "SELECT " AUDIT_COLS " FROM audit_log ORDER BY seq DESC",
    [ST_AUDIT_ANCHOR] = "SELECT seq, hash FROM audit_anchor WHERE id = 1",
    /* the newest entry older than ?1, never the log's last entry (the chain continues from it) */
    [ST_AUDIT_PRUNE_LAST] = "SELECT seq, hash, at FROM audit_log WHERE at < ?1 AND"
                            " seq < (SELECT max(seq) FROM audit_log) ORDER BY seq DESC LIMIT 1",
    [ST_AUDIT_PRUNE_FLAG] = "INSERT INTO meta (key, value) VALUES ('audit_pruning', ?1)"
                            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [ST_AUDIT_PRUNE_DELETE] = "DELETE FROM audit_log WHERE seq <= ?1",
    [ST_AUDIT_PRUNE_ANCHOR] = "INSERT INTO audit_anchor (id, seq, hash, at, pruned_at)"
                              " VALUES (1, ?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET"
                              " seq = excluded.seq, hash = excluded.hash, at = excluded.at,"
                              " pruned_at = excluded.pruned_at",
};

/* Schema migrations: entry i brings user_version from i to i + 1. Append only. */
static const char *const migrations[] = {
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value ANY NOT NULL) STRICT;"
    "INSERT INTO meta (key, value) VALUES ('catalog_generation', 0);"
    "CREATE TABLE products ("
    " pzn INTEGER PRIMARY KEY CHECK (pzn BETWEEN 0 AND 99999999),"
    " name TEXT NOT NULL CHECK (name <> ''),"
    " manufacturer TEXT NOT NULL,"
    " active_ingredient TEXT NOT NULL,"
    " strength TEXT NOT NULL,"
    " dosage_form TEXT NOT NULL,"
    " pack_size TEXT NOT NULL,"
    " dispensing TEXT NOT NULL CHECK (dispensing IN ('pharmacy', 'rx', 'free')),"
    " price_cents INTEGER NOT NULL CHECK (price_cents >= 0),"
    " stock INTEGER NOT NULL CHECK (stock >= 0),"
    " supply TEXT NOT NULL CHECK (supply IN ('available', 'shortage', 'discontinued')),"
    " aliases TEXT NOT NULL DEFAULT '',"
    " updated_at TEXT NOT NULL) STRICT;"
    "CREATE TABLE orders ("
    " number TEXT PRIMARY KEY,"
    " created_at TEXT NOT NULL,"
    " last_name TEXT NOT NULL,"
    " postcode TEXT NOT NULL,"
    " email TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('received', 'waiting_for_prescription',"
    "  'in_preparation', 'ordered_from_wholesaler', 'partially_available', 'ready_for_pickup',"
    "  'out_for_delivery', 'delivered', 'picked_up', 'cancelled')),"
    " expected TEXT NOT NULL,"
    " note TEXT NOT NULL,"
    " updated_at TEXT NOT NULL) STRICT, WITHOUT ROWID;"
    "CREATE TABLE order_items ("
    " order_number TEXT NOT NULL REFERENCES orders (number) ON DELETE CASCADE,"
    " pzn INTEGER NOT NULL REFERENCES products (pzn),"
    " qty INTEGER NOT NULL CHECK (qty > 0),"
    " PRIMARY KEY (order_number, pzn)) STRICT, WITHOUT ROWID;",
    /* 2: the tamper-evident audit log (catalog/audit.c); never a message text */
    "CREATE TABLE audit_log ("
    " seq INTEGER PRIMARY KEY CHECK (seq > 0),"
    " at TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " conversation TEXT NOT NULL,"
    " decision TEXT NOT NULL,"
    " intent TEXT NOT NULL,"
    " rule TEXT NOT NULL,"
    " policy_version TEXT NOT NULL,"
    " health_data INTEGER NOT NULL,"
    " detail TEXT NOT NULL,"
    " prev_hash BLOB NOT NULL,"
    " hash BLOB NOT NULL) STRICT;" AUDIT_TRIGGERS,
    /* 3: the customer's consent to status mails (orders.csv's optional column status_mails) */
    ("ALTER TABLE orders ADD COLUMN status_mails INTEGER NOT NULL DEFAULT 0"
     " CHECK (status_mails IN (0, 1));"),
    /* 4: handoff tickets, staff accounts and sessions (store_tickets.c) */
    store_migration_tickets,
    /* 5: leads, the consent ledger and the mail queue (store_leads.c) */
    store_migration_leads,
    /* 6: retention of the audit log. Entries past it are deleted from the start of the chain;
     * the anchor keeps the last deleted entry's seq and hash, so the rest still verifies. The
     * delete trigger lets only that pruning through (a flag set in the same transaction). */
    ("CREATE TABLE audit_anchor ("
     " id INTEGER PRIMARY KEY CHECK (id = 1),"
     " seq INTEGER NOT NULL CHECK (seq > 0),"
     " hash BLOB NOT NULL CHECK (length(hash) = 32),"
     " at TEXT NOT NULL,"
     " pruned_at TEXT NOT NULL) STRICT;"
     "DROP TRIGGER audit_log_no_delete;" AUDIT_DELETE_TRIGGER),
    /* 7: the newsletters sent (store_leads.c) */
    store_migration_newsletter,
};

/* the user_version each migration sets, as literal SQL (no SQL is ever formatted): one line
 * per migration, checked at compile time */
#define SCHEMA_VERSION(n) "PRAGMA user_version = " #n
static const char *const schema_versions[] = {
    SCHEMA_VERSION(1), SCHEMA_VERSION(2), SCHEMA_VERSION(3), SCHEMA_VERSION(4),
    SCHEMA_VERSION(5), SCHEMA_VERSION(6), SCHEMA_VERSION(7)};
_Static_assert(PD_ARRAY_LEN(schema_versions) == PD_ARRAY_LEN(migrations),
               "every migration needs its line in schema_versions");

typedef struct store_conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[ST_COUNT];
    sqlite3_stmt *mod_stmt[STORE_SLOTS_COUNT]; /* the modules' statements (store_int.h) */
    struct store_conn *next_free;
} store_conn;

struct store {
    int plain;        /* unencrypted (benchmarks only) */
    char *keyed_path; /* the database whose key the VFS holds for us */
    store_conn *conns;
    int nconns;
    store_conn *free_list;
    pthread_mutex_t lock;
    pthread_cond_t available;
};

struct store_txn {
    store *s;
    store_conn *c;
    int bulk; /* an import: a bigger page cache while it runs */
};

static int map_rc(int rc)
{
    if (rc == SQLITE_IOERR_DATA)
        return PD_ECORRUPT; /* a page that does not authenticate */
    switch (rc & 0xFF) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return PD_OK;
    case SQLITE_FULL:
        return PD_EFULL;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return PD_EBUSY;
    case SQLITE_NOMEM:
        return PD_ENOMEM;
    case SQLITE_CONSTRAINT:
        return PD_EINVAL;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return PD_ECORRUPT;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        return PD_EIO;
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return PD_EPERM;
    default:
        return PD_EDB;
    }
}

static int db_fail(sqlite3 *db, int rc, const char *what)
{
    /* SQLite's message names tables and constraints, never bound values */
    log_error("event=db_error op=%s rc=%d msg=\"%s\"", what, rc, sqlite3_errmsg(db));
    return map_rc(rc);
}

static sqlite3_stmt *stmt_get(store_conn *c, enum stmt_id id)
{
    if (!c->stmt[id]) {
        int rc = sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &c->stmt[id], NULL);
        if (rc != SQLITE_OK) {
            db_fail(c->db, rc, "prepare");
            return NULL;
        }
    }
    return c->stmt[id];
}

static void stmt_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static int exec_sql(sqlite3 *db, const char *sql)
{
    /* only for fixed SQL of this file: pragmas, migrations, transaction control */
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? PD_OK : db_fail(db, rc, "exec");
}

static int path_join(buf *out, const char *dir, const char *name)
{
    buf_reset(out);
    buf_printf(out, "%s/%s", dir, name);
    return PD_OK;
}

static void sqlite_log(void *arg, int code, const char *msg)
{
    (void)arg;
    /* SQLite's and the VFS's messages name files and pages, never data or keys. rekey renames
     * the re-encrypted copy over the open database on purpose. */
    enum log_level lvl = strncmp(msg, "file unlinked while open", 24) == 0 ? LOG_DEBUG : LOG_WARN;
    log_msg(lvl, "event=sqlite code=%d msg=\"%s\"", code, msg);
}

static void global_init(void)
{
    sqlite3_config(SQLITE_CONFIG_LOG, sqlite_log, NULL);
    if (sodium_init() < 0 || cryptvfs_register() != SQLITE_OK)
        log_error("event=crypto_init_failed");
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

/* opens one connection; create: a new, empty database, prepared for encryption */
static int conn_open(const char *path, int create, int plain, sqlite3 **out, buf *err)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    if (create)
        flags |= SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &db, flags, plain ? NULL : CRYPTVFS_NAME);
    if (rc != SQLITE_OK) {
        buf_printf(err, "cannot open the database %s: %s", path,
                   db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return map_rc(rc);
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_extended_result_codes(db, 1);
    /* temporary data stays in memory: the VFS refuses to write temporary files */
    rc = sqlite3_exec(db, "PRAGMA temp_store = MEMORY", NULL, NULL, NULL);
    if (rc == SQLITE_OK && create && !plain)
        rc = cryptvfs_prepare_new(db); /* page size, reserved bytes, WAL */
    /*
     * WAL lets the service read while an import writes. synchronous=FULL syncs the WAL at
     * every commit, so an acknowledged write survives power loss, not only a process crash.
     */
    static const char pragmas[] = "PRAGMA journal_mode = WAL;"
                                  "PRAGMA synchronous = FULL;"
                                  "PRAGMA foreign_keys = ON;"
                                  "PRAGMA trusted_schema = OFF;";
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, pragmas, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int e = map_rc(rc);
        if (e == PD_ECORRUPT)
            buf_printf(err, "wrong key or damaged data folder: %s: %s", path, sqlite3_errmsg(db));
        else
            buf_printf(err, "cannot use the database %s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return e;
    }
    *out = db;
    return PD_OK;
}

static int migrate(sqlite3 *db, buf *err)
{
    sqlite3_stmt *st = NULL;
    int version = 0, rc, ret = PD_OK;
    rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        buf_printf(err, "cannot read the schema version: %s", sqlite3_errmsg(db));
        ret = map_rc(rc ? rc : SQLITE_ERROR);
        goto out;
    }
    version = sqlite3_column_int(st, 0);
    if (version > (int)PD_ARRAY_LEN(migrations)) {
        buf_printf(err,
                   "the database has schema version %d, newer than this pharmdesk knows "
                   "(%d): use a newer pharmdesk",
                   version, (int)PD_ARRAY_LEN(migrations));
        ret = PD_EINVAL;
        goto out;
    }
    for (int v = version; v < (int)PD_ARRAY_LEN(migrations); v++) {
        if ((ret = exec_sql(db, "BEGIN IMMEDIATE")) != PD_OK)
            goto fail;
        if ((ret = exec_sql(db, migrations[v])) != PD_OK ||
            (ret = exec_sql(db, schema_versions[v])) != PD_OK) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            goto fail;
        }
        if ((ret = exec_sql(db, "COMMIT")) != PD_OK)
            goto fail;
        log_info("event=migrated schema_version=%d", v + 1);
    }
    goto out;
fail:
    buf_printf(err, "schema migration failed: %s", sqlite3_errmsg(db));
out:
    sqlite3_finalize(st);
    return ret;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return PD_EIO;
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? PD_OK : PD_EIO;
}

/* the file names of a rekey in flight; see store_rekey */
#define REKEY_DB STORE_DB_NAME ".rekey"
#define REKEY_KEY KEYS_FILE ".new"
#define REKEY_KDF KEYS_KDF_FILE ".new"
#define REKEY_LOCK "pharmdesk.lock"

static int exists(const buf *dir_path)
{
    struct stat sb;
    return stat(dir_path->data, &sb) == 0;
}

static void unlink_in(const char *dir, const char *name)
{
    buf p = BUF_INIT;
    path_join(&p, dir, name);
    unlink(p.data);
    buf_free(&p);
}

static int rename_in(const char *dir, const char *from, const char *to, buf *err)
{
    buf a = BUF_INIT, b = BUF_INIT;
    path_join(&a, dir, from);
    path_join(&b, dir, to);
    int ret = rename(a.data, b.data) == 0 ? PD_OK : PD_EIO;
    if (ret != PD_OK)
        buf_printf(err, "cannot rename %s to %s: %s", a.data, b.data, strerror(errno));
    buf_free(&a);
    buf_free(&b);
    return ret;
}

/*
 * Finishes or undoes a rekey that was interrupted. The rekey's commit point is the rename of
 * the re-encrypted copy over the database: before it, the copy (.rekey) exists and the old key
 * is right; after it, only the new key file (.new) may be left to rename.
 */
static int rekey_settle(const char *dir, int after_crash, buf *err)
{
    buf p = BUF_INIT;
    int ret = PD_OK;
    path_join(&p, dir, REKEY_DB);
    if (exists(&p)) {
        static const char *const junk[] = {REKEY_DB, REKEY_DB "-wal", REKEY_DB "-shm", REKEY_KEY,
                                           REKEY_KDF};
        for (size_t i = 0; i < PD_ARRAY_LEN(junk); i++)
            unlink_in(dir, junk[i]);
        fsync_dir(dir);
        log_warn("event=rekey_rolled_back msg=\"an interrupted rekey was undone; the old key "
                 "stays\"");
        goto out;
    }
    const char *const news[] = {REKEY_KEY, REKEY_KDF};
    const char *const finals[] = {KEYS_FILE, KEYS_KDF_FILE};
    for (int i = 0; i < 2; i++) {
        path_join(&p, dir, news[i]);
        if (!exists(&p))
            continue;
        /* the other kind of key goes first: a crash between the two steps then leaves only
         * the new key, never the old one beside it */
        unlink_in(dir, finals[1 - i]);
        fsync_dir(dir);
        if ((ret = rename_in(dir, news[i], finals[i], err)) != PD_OK)
            goto out;
        fsync_dir(dir);
        if (after_crash)
            log_warn("event=rekey_completed msg=\"an interrupted rekey was finished; the new "
                     "key is in use\"");
    }
out:
    buf_free(&p);
    return ret;
}

/* the folder's rekey lock: rekey holds it exclusively while it runs; an opener takes it only
 * to settle what a crashed rekey left, and refuses while a rekey is running */
static int rekey_lock(const char *dir, int wait, int *fd_out, buf *err)
{
    buf p = BUF_INIT;
    path_join(&p, dir, REKEY_LOCK);
    int fd = open(p.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    buf_free(&p);
    if (fd < 0) {
        buf_printf(err, "cannot open the lock file in %s: %s", dir, strerror(errno));
        return PD_EIO;
    }
    if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
        close(fd);
        buf_printf(err, "a rekey of %s is running: try again when it has finished", dir);
        return PD_EBUSY;
    }
    *fd_out = fd;
    return PD_OK;
}

static void rekey_unlock(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

static int rekey_recover(const char *dir, buf *err)
{
    int fd = -1;
    int ret = rekey_lock(dir, 0, &fd, err);
    if (ret != PD_OK)
        return ret;
    ret = rekey_settle(dir, 1, err);
    rekey_unlock(fd);
    return ret;
}

/* registers the key for the database at path and checks page 1 before SQLite touches it */
static int key_attach(const char *path, const keys_key *k, buf *err)
{
    if (cryptvfs_key_set(path, k->bytes) != SQLITE_OK) {
        buf_printf(err, "cannot use the key for %s", path);
        return PD_EIO;
    }
    int rc = cryptvfs_check(path);
    if (rc == SQLITE_OK)
        return PD_OK;
    cryptvfs_key_clear(path);
    if (rc == SQLITE_IOERR_DATA)
        buf_printf(err,
                   "wrong key or damaged data folder: %s does not open with this key "
                   "(check %s or %s)",
                   path, KEYS_FILE, KEYS_ENV);
    else if (rc == SQLITE_NOTADB)
        buf_printf(err,
                   "wrong key or damaged data folder: %s is cut short, empty or not a "
                   "pharmdesk database",
                   path);
    else
        buf_printf(err, "cannot read %s: %s", path, sqlite3_errstr(rc));
    return PD_ECORRUPT;
}

static int create_impl(const char *dir, int plain, buf *err)
{
    buf path = BUF_INIT;
    keys_key key = {NULL};
    sqlite3 *db = NULL;
    int ret = PD_OK;
    static const char *const taken[] = {KEYS_FILE, KEYS_KDF_FILE, STORE_DB_NAME};

    pthread_once(&global_once, global_init);
    if (!plain && getenv(KEYS_ENV) && !keys_passphrase(KEYS_ENV, err))
        return PD_EINVAL; /* before anything is created */
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        buf_printf(err, "cannot create the data folder %s: %s", dir, strerror(errno));
        return PD_EIO;
    }
    for (size_t i = 0; i < PD_ARRAY_LEN(taken); i++) {
        path_join(&path, dir, taken[i]);
        if (exists(&path)) {
            buf_printf(err, "%s already exists: init refuses to overwrite a data folder",
                       path.data);
            ret = PD_EEXIST;
            goto out;
        }
    }
    if (!plain && (ret = keys_create(dir, &key, err)) != PD_OK)
        goto out;
    path_join(&path, dir, STORE_DB_NAME);
    if (!plain && cryptvfs_key_set(path.data, key.bytes) != SQLITE_OK) {
        buf_printf(err, "cannot use the key for %s", path.data);
        ret = PD_EIO;
        goto out;
    }
    if ((ret = conn_open(path.data, 1, plain, &db, err)) != PD_OK)
        goto out;
    if ((ret = migrate(db, err)) != PD_OK)
        goto out;
    if (fsync_dir(dir) != PD_OK) {
        buf_printf(err, "cannot sync the data folder %s: %s", dir, strerror(errno));
        ret = PD_EIO;
    }
out:
    sqlite3_close(db);
    if (!plain && path.data)
        cryptvfs_key_clear(path.data);
    keys_free(&key);
    buf_free(&path);
    return ret;
}

int store_create(const char *dir, buf *err)
{
    return create_impl(dir, 0, err);
}

int store_create_plain(const char *dir, buf *err)
{
    return create_impl(dir, 1, err);
}

static void conn_close(store_conn *c)
{
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->stmt[i]);
    for (int i = 0; i < STORE_SLOTS_COUNT; i++)
        sqlite3_finalize(c->mod_stmt[i]);
    sqlite3_close(c->db);
}

static int open_impl(const char *dir, int pool_size, int plain, store **out, buf *err)
{
    buf path = BUF_INIT;
    keys_key key = {NULL};
    store *s = NULL;
    int ret = PD_OK;

    pthread_once(&global_once, global_init);
    if (pool_size < 1)
        pool_size = 1;
    path_join(&path, dir, STORE_DB_NAME);
    if (!exists(&path)) {
        buf_printf(err, "no database at %s: run 'pharmdesk init --data %s' first", path.data, dir);
        ret = PD_ENOTFOUND;
        goto out;
    }
    s = pd_xcalloc(1, sizeof *s);
    s->conns = pd_xcalloc((size_t)pool_size, sizeof *s->conns);
    s->plain = plain;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->available, NULL);
    if (!plain) {
        if ((ret = rekey_recover(dir, err)) != PD_OK || (ret = keys_load(dir, &key, err)) != PD_OK)
            goto out;
        if ((ret = key_attach(path.data, &key, err)) != PD_OK)
            goto out;
        s->keyed_path = pd_xstrdup(path.data);
    }
    for (int i = 0; i < pool_size; i++) {
        if ((ret = conn_open(path.data, 0, plain, &s->conns[i].db, err)) != PD_OK)
            goto out;
        s->nconns++;
        if (i == 0 && (ret = migrate(s->conns[0].db, err)) != PD_OK)
            goto out;
        s->conns[i].next_free = s->free_list;
        s->free_list = &s->conns[i];
    }
    *out = s;
    s = NULL;
out:
    keys_free(&key); /* the VFS keeps its own copy of the page key */
    store_close(s);
    buf_free(&path);
    return ret;
}

int store_open(const char *dir, int pool_size, store **out, buf *err)
{
    return open_impl(dir, pool_size, 0, out, err);
}

int store_open_plain(const char *dir, int pool_size, store **out, buf *err)
{
    return open_impl(dir, pool_size, 1, out, err);
}

void store_close(store *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->nconns; i++)
        conn_close(&s->conns[i]);
    if (s->keyed_path) {
        cryptvfs_key_clear(s->keyed_path);
        free(s->keyed_path);
    }
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->available);
    free(s->conns);
    free(s);
}

/* copies every page of src into the new database at path, keyed with k, and checks it */
static int copy_to(sqlite3 *src, const char *path, const keys_key *k, buf *err)
{
    sqlite3 *dst = NULL;
    sqlite3_backup *bk = NULL;
    int ret, rc;
    if (cryptvfs_key_set(path, k->bytes) != SQLITE_OK) {
        buf_printf(err, "cannot use the key for %s", path);
        return PD_EIO;
    }
    if ((ret = conn_open(path, 1, 0, &dst, err)) != PD_OK)
        goto out;
    bk = sqlite3_backup_init(dst, "main", src, "main");
    if (!bk) {
        buf_printf(err, "cannot start the copy: %s", sqlite3_errmsg(dst));
        ret = map_rc(sqlite3_errcode(dst));
        goto out;
    }
    /* in steps, so that a running service's writers are not held up for the whole copy */
    while ((rc = sqlite3_backup_step(bk, 256)) == SQLITE_OK || rc == SQLITE_BUSY ||
           rc == SQLITE_LOCKED)
        if (rc != SQLITE_OK)
            sqlite3_sleep(10);
    rc = sqlite3_backup_finish(bk);
    bk = NULL;
    if (rc != SQLITE_OK) {
        buf_printf(err, "the copy failed: %s", sqlite3_errmsg(dst));
        ret = map_rc(rc);
        goto out;
    }
    char result[64] = "";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(dst, "PRAGMA quick_check", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        snprintf(result, sizeof result, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (strcmp(result, "ok") != 0) {
        buf_printf(err, "the copy does not pass SQLite's check: %s", result);
        ret = PD_ECORRUPT;
    }
out:
    if (bk)
        sqlite3_backup_finish(bk);
    sqlite3_close(dst); /* checkpoints the copy's WAL into its file and syncs */
    cryptvfs_key_clear(path);
    return ret;
}

static int dir_empty_or_absent(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int empty = 1;
    if (!d)
        return errno == ENOENT;
    while (empty && (e = readdir(d)) != NULL)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    return empty;
}

int store_backup(const char *dir, const char *dest, buf *err)
{
    buf src_path = BUF_INIT, dst_path = BUF_INIT, tmp = BUF_INIT;
    keys_key key = {NULL};
    sqlite3 *src = NULL;
    int ret, created = 0;

    pthread_once(&global_once, global_init);
    path_join(&src_path, dir, STORE_DB_NAME);
    path_join(&dst_path, dest, STORE_DB_NAME);
    if (!exists(&src_path)) {
        buf_printf(err, "no database at %s: run 'pharmdesk init --data %s' first", src_path.data,
                   dir);
        ret = PD_ENOTFOUND;
        goto out;
    }
    if (!dir_empty_or_absent(dest)) {
        buf_printf(err, "%s is not empty: choose a new or empty destination folder", dest);
        ret = PD_EEXIST;
        goto out;
    }
    /* the key first: a refused backup leaves no folder behind */
    if ((ret = rekey_recover(dir, err)) != PD_OK || (ret = keys_load(dir, &key, err)) != PD_OK ||
        (ret = key_attach(src_path.data, &key, err)) != PD_OK)
        goto out;
    if (mkdir(dest, 0700) != 0 && errno != EEXIST) {
        buf_printf(err, "cannot create the backup folder %s: %s", dest, strerror(errno));
        ret = PD_EIO;
        goto out;
    }
    if ((ret = conn_open(src_path.data, 0, 0, &src, err)) != PD_OK)
        goto out;
    created = 1;
    if ((ret = copy_to(src, dst_path.data, &key, err)) != PD_OK)
        goto out;
    /* a passphrase folder needs its salt file to be opened again; it holds no secret */
    if ((ret = keys_copy_kdf(dir, dest, err)) != PD_OK)
        goto out;
    if (fsync_dir(dest) != PD_OK) {
        buf_printf(err, "cannot sync %s", dest);
        ret = PD_EIO;
    }
out:
    if (ret != PD_OK && created) {
        unlink(dst_path.data);
        buf_reset(&tmp);
        buf_printf(&tmp, "%s-wal", dst_path.data);
        unlink(tmp.data);
        buf_reset(&tmp);
        buf_printf(&tmp, "%s-shm", dst_path.data);
        unlink(tmp.data);
    }
    sqlite3_close(src);
    if (src_path.data)
        cryptvfs_key_clear(src_path.data);
    keys_free(&key);
    buf_free(&src_path);
    buf_free(&dst_path);
    buf_free(&tmp);
    return ret;
}

/* test builds stop here at step n when PHARMDESK_REKEY_CRASH_AT=n, to prove crash safety */
static void crash_point(int step)
{
#ifdef PD_FAULT_INJECTION
    const char *at = getenv("PHARMDESK_REKEY_CRASH_AT");
    if (at && atoi(at) == step)
        _exit(99);
#else
    (void)step;
#endif
}

int store_rekey(const char *dir, const char *new_pass, buf *err)
{
    buf path = BUF_INIT, tmp_path = BUF_INIT;
    keys_key old = {NULL};
    keys_new fresh = {0};
    sqlite3 *src = NULL;
    int ret, lock = -1, committed = 0;

    pthread_once(&global_once, global_init);
    path_join(&path, dir, STORE_DB_NAME);
    path_join(&tmp_path, dir, REKEY_DB);
    if (!exists(&path)) {
        buf_printf(err, "no database at %s", path.data);
        ret = PD_ENOTFOUND;
        goto out;
    }
    /* held to the end: no other command settles (and so removes) this run's files */
    if ((ret = rekey_lock(dir, 0, &lock, err)) != PD_OK)
        goto out;
    if ((ret = rekey_settle(dir, 1, err)) != PD_OK || (ret = keys_load(dir, &old, err)) != PD_OK ||
        (ret = key_attach(path.data, &old, err)) != PD_OK)
        goto out;
    if ((ret = conn_open(path.data, 0, 0, &src, err)) != PD_OK)
        goto out;
    /* exclusive: fails while the service (or anything else) has the database open */
    sqlite3_busy_timeout(src, 200);
    if (sqlite3_exec(src, "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;", NULL, NULL,
                     NULL) != SQLITE_OK) {
        buf_printf(err, "the data folder is in use (is the service running?): stop it, then "
                        "rekey");
        ret = PD_EBUSY;
        goto out;
    }
    if (sqlite3_exec(src, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) != SQLITE_OK) {
        buf_printf(err, "cannot checkpoint: %s", sqlite3_errmsg(src));
        ret = PD_EDB;
        goto out;
    }
    if ((ret = keys_generate(new_pass, &fresh, err)) != PD_OK)
        goto out;
    crash_point(1);
    /* 1. a re-encrypted copy under a temporary name: the old key still opens the folder */
    if ((ret = copy_to(src, tmp_path.data, &fresh.key, err)) != PD_OK)
        goto out;
    crash_point(2);
    /* 2. the new key beside the old one, synced */
    if ((ret = keys_write(dir, fresh.passphrase ? REKEY_KDF : REKEY_KEY, &fresh, err)) != PD_OK)
        goto out;
    crash_point(3);
    /* 3. the commit point: the copy replaces the database in one rename */
    if ((ret = rename_in(dir, REKEY_DB, STORE_DB_NAME, err)) != PD_OK)
        goto out;
    committed = 1;
    fsync_dir(dir);
    crash_point(4);
    /* 4. the new key replaces the old one; the next open does this step after a crash */
    ret = rekey_settle(dir, 0, err);
out:
    if (ret != PD_OK && !committed && lock >= 0) {
        /* undo what this run left; the old key stays right */
        static const char *const junk[] = {REKEY_DB, REKEY_DB "-wal", REKEY_DB "-shm", REKEY_KEY,
                                           REKEY_KDF};
        for (size_t i = 0; i < PD_ARRAY_LEN(junk); i++)
            unlink_in(dir, junk[i]);
    }
    /* the old -shm stays: SQLite rebuilds a stale index when the next first connection opens */
    sqlite3_close(src);
    rekey_unlock(lock);
    if (path.data)
        cryptvfs_key_clear(path.data);
    keys_free(&old);
    keys_new_free(&fresh);
    buf_free(&path);
    buf_free(&tmp_path);
    return ret;
}

static store_conn *acquire(store *s)
{
    pthread_mutex_lock(&s->lock);
    while (!s->free_list)
        pthread_cond_wait(&s->available, &s->lock);
    store_conn *c = s->free_list;
    s->free_list = c->next_free;
    pthread_mutex_unlock(&s->lock);
    return c;
}

static void release(store *s, store_conn *c)
{
    pthread_mutex_lock(&s->lock);
    c->next_free = s->free_list;
    s->free_list = c;
    pthread_cond_signal(&s->available);
    pthread_mutex_unlock(&s->lock);
}

/* ---- the inside for the table modules (store_int.h) ---- */

store_conn *store_acquire(store *s)
{
    return acquire(s);
}

void store_release(store *s, store_conn *c)
{
    release(s, c);
}

sqlite3 *store_conn_db(store_conn *c)
{
    return c->db;
}

sqlite3_stmt *store_stmt(store_conn *c, int slot, const char *sql)
{
    if (slot < 0 || slot >= STORE_SLOTS_COUNT)
        return NULL;
    if (!c->mod_stmt[slot]) {
        int rc =
            sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->mod_stmt[slot], NULL);
        if (rc != SQLITE_OK) {
            db_fail(c->db, rc, "prepare");
            return NULL;
        }
    }
    return c->mod_stmt[slot];
}

void store_stmt_done(sqlite3_stmt *st)
{
    if (st)
        stmt_done(st);
}

int store_step_done(store_conn *c, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    return rc == SQLITE_DONE ? PD_OK : db_fail(c->db, rc, what);
}

int store_map_rc(int rc)
{
    return map_rc(rc);
}

int store_fail(store_conn *c, int rc, const char *what)
{
    return db_fail(c->db, rc, what);
}

int store_begin(store_conn *c)
{
    return exec_sql(c->db, "BEGIN IMMEDIATE");
}

int store_commit(store_conn *c)
{
    int ret = exec_sql(c->db, "COMMIT");
    if (ret != PD_OK)
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return ret;
}

void store_rollback(store_conn *c)
{
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

int store_ping(store *s)
{
    store_conn *c = acquire(s);
    sqlite3_stmt *st = stmt_get(c, ST_PING);
    int ret = st && sqlite3_step(st) == SQLITE_ROW ? PD_OK : PD_EDB;
    if (st)
        stmt_done(st);
    release(s, c);
    return ret;
}

int store_check(store *s, buf *result)
{
    store_conn *c = acquire(s);
    sqlite3_stmt *st = NULL;
    int ret = PD_OK, rc, rows = 0;
    /* fixed SQL, prepared here once: the check is rare and needs no cache slot */
    rc = sqlite3_prepare_v2(c->db, "PRAGMA integrity_check(20)", -1, &st, NULL);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(st)) != SQLITE_ROW)
            break;
        const char *line = (const char *)sqlite3_column_text(st, 0);
        buf_printf(result, "%s%s", rows++ ? "; " : "", line ? line : "");
    }
    if (rc != SQLITE_DONE) {
        buf_printf(result, "%s%s", rows ? "; " : "", sqlite3_errmsg(c->db));
        ret = map_rc(rc) == PD_ECORRUPT ? PD_ECORRUPT : db_fail(c->db, rc, "integrity_check");
        if (ret == PD_OK)
            ret = PD_EDB;
    } else if (rows != 1 || strcmp(buf_cstr(result), "ok") != 0) {
        ret = PD_ECORRUPT;
    }
    sqlite3_finalize(st);
    release(s, c);
    return ret;
}

/* copies the current row of a PRODUCT_COLS statement into one allocation */
static product *product_from_row(sqlite3_stmt *st)
{
    size_t total = sizeof(product);
    for (int i = 1; i <= 6; i++)
        total += (size_t)sqlite3_column_bytes(st, i) + 1;
    total += (size_t)sqlite3_column_bytes(st, 11) + 1;
    product *p = pd_xmalloc(total);
    char *mem = (char *)(p + 1);
    const char **fields[] = {&p->name,     &p->manufacturer, &p->active_ingredient,
                             &p->strength, &p->dosage_form,  &p->pack_size};
    for (int i = 0; i < 6; i++) {
        size_t n = (size_t)sqlite3_column_bytes(st, i + 1);
        const unsigned char *t = sqlite3_column_text(st, i + 1);
        memcpy(mem, t ? (const char *)t : "", n);
        mem[n] = '\0';
        *fields[i] = mem;
        mem += n + 1;
    }
    size_t n = (size_t)sqlite3_column_bytes(st, 11);
    const unsigned char *t = sqlite3_column_text(st, 11);
    memcpy(mem, t ? (const char *)t : "", n);
    mem[n] = '\0';
    p->aliases = mem;
    p->pzn = (uint32_t)sqlite3_column_int64(st, 0);
    p->price_cents = sqlite3_column_int64(st, 8);
    p->stock = sqlite3_column_int64(st, 9);
    /* the schema's CHECK constraints guarantee these parse */
    if (dispensing_parse((const char *)sqlite3_column_text(st, 7), &p->dispensing) != PD_OK)
        p->dispensing = DISPENSING_RX;
    if (supply_parse((const char *)sqlite3_column_text(st, 10), &p->supply) != PD_OK)
        p->supply = SUPPLY_DISCONTINUED;
    return p;
}

static int product_get_on(store_conn *c, uint32_t pzn, product **out)
{
    sqlite3_stmt *st = stmt_get(c, ST_PRODUCT_GET);
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, pzn);
    int rc = sqlite3_step(st), ret = PD_OK;
    if (rc == SQLITE_ROW)
        *out = product_from_row(st);
    else if (rc == SQLITE_DONE)
        ret = PD_ENOTFOUND;
    else
        ret = db_fail(c->db, rc, "product_get");
    stmt_done(st);
    return ret;
}

int store_product_get(store *s, uint32_t pzn, product **out)
{
    store_conn *c = acquire(s);
    int ret = product_get_on(c, pzn, out);
    release(s, c);
    return ret;
}

int store_products_get(store *s, const uint32_t *pzns, size_t n, product **out)
{
    store_conn *c = acquire(s);
    int ret = PD_OK;
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    for (size_t i = 0; i < n && ret == PD_OK; i++) {
        ret = product_get_on(c, pzns[i], &out[i]);
        if (ret == PD_ENOTFOUND)
            ret = PD_OK; /* removed since the caller looked: leave NULL */
    }
    release(s, c);
    if (ret != PD_OK) {
        for (size_t i = 0; i < n; i++) {
            free(out[i]);
            out[i] = NULL;
        }
    }
    return ret;
}

int store_products_foreach(store *s, int (*cb)(const product *p, void *arg), void *arg)
{
    store_conn *c = acquire(s);
    sqlite3_stmt *st = stmt_get(c, ST_PRODUCT_ALL);
    int ret = PD_OK, rc;
    if (!st) {
        ret = PD_EDB;
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        product p = {0};
        const char **fields[] = {&p.name,     &p.manufacturer, &p.active_ingredient,
                                 &p.strength, &p.dosage_form,  &p.pack_size};
        for (int i = 0; i < 6; i++) {
            const unsigned char *t = sqlite3_column_text(st, i + 1);
            *fields[i] = t ? (const char *)t : "";
        }
        const unsigned char *al = sqlite3_column_text(st, 11);
        p.aliases = al ? (const char *)al : "";
        p.pzn = (uint32_t)sqlite3_column_int64(st, 0);
        p.price_cents = sqlite3_column_int64(st, 8);
        p.stock = sqlite3_column_int64(st, 9);
        if (dispensing_parse((const char *)sqlite3_column_text(st, 7), &p.dispensing) != PD_OK)
            p.dispensing = DISPENSING_RX;
        if (supply_parse((const char *)sqlite3_column_text(st, 10), &p.supply) != PD_OK)
            p.supply = SUPPLY_DISCONTINUED;
        if ((ret = cb(&p, arg)) != 0)
            break;
    }
    if (ret == PD_OK && rc != SQLITE_DONE)
        ret = db_fail(c->db, rc, "products_foreach");
    stmt_done(st);
out:
    release(s, c);
    return ret;
}

int store_catalog_generation(store *s, long long *gen)
{
    store_conn *c = acquire(s);
    sqlite3_stmt *st = stmt_get(c, ST_CATALOG_GEN);
    int ret = PD_EDB;
    if (st) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *gen = sqlite3_column_int64(st, 0);
            ret = PD_OK;
        } else {
            ret = db_fail(c->db, rc, "catalog_generation");
        }
        stmt_done(st);
    }
    release(s, c);
    return ret;
}

int store_order_get(store *s, const char *number, order **out)
{
    store_conn *c = acquire(s);
    sqlite3_stmt *st = stmt_get(c, ST_ORDER_FIND), *it = stmt_get(c, ST_ORDER_ITEMS);
    buf items = BUF_INIT;
    int ret = PD_OK, rc, nitems = 0;
    if (!st || !it) {
        ret = PD_EDB;
        goto out;
    }
    sqlite3_bind_text(it, 1, number, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(it)) == SQLITE_ROW) {
        order_item item = {(uint32_t)sqlite3_column_int64(it, 0), sqlite3_column_int(it, 1)};
        buf_append(&items, &item, sizeof item);
        nitems++;
    }
    if (rc != SQLITE_DONE) {
        ret = db_fail(c->db, rc, "order_items");
        goto out;
    }
    sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        ret = PD_ENOTFOUND;
        goto out;
    }
    if (rc != SQLITE_ROW) {
        ret = db_fail(c->db, rc, "order_get");
        goto out;
    }
    size_t total = sizeof(order) + items.len + 6 * 1;
    int textcols[] = {0, 1, 2, 3, 5, 6};
    for (size_t i = 0; i < PD_ARRAY_LEN(textcols); i++)
        total += (size_t)sqlite3_column_bytes(st, textcols[i]);
    order *o = pd_xcalloc(1, total);
    char *mem = (char *)(o + 1);
    if (items.len) {
        memcpy(mem, items.data, items.len);
        o->items = (const order_item *)mem;
        mem += items.len;
    }
    o->nitems = nitems;
    const char **dst[] = {&o->created_at, &o->last_name, &o->postcode,
                          &o->email,      &o->expected,  &o->note};
    for (size_t i = 0; i < PD_ARRAY_LEN(textcols); i++) {
        size_t n = (size_t)sqlite3_column_bytes(st, textcols[i]);
        const unsigned char *t = sqlite3_column_text(st, textcols[i]);
        memcpy(mem, t ? (const char *)t : "", n);
        mem[n] = '\0';
        *dst[i] = mem;
        mem += n + 1;
    }
    snprintf(o->number, sizeof o->number, "%s", number);
    if (order_status_parse((const char *)sqlite3_column_text(st, 4), &o->status) != PD_OK)
        o->status = ORDER_RECEIVED;
    *out = o;
out:
    if (st)
        stmt_done(st);
    if (it)
        stmt_done(it);
    release(s, c);
    buf_free(&items);
    return ret;
}

static int txn_begin(store *s, int bulk, store_txn **out)
{
    store_conn *c = acquire(s);
    /* an import touches many pages: a bigger cache for its transaction spares re-reading (and
     * re-decrypting) spilled pages; back to the default after it */
    if (bulk)
        sqlite3_exec(c->db, "PRAGMA cache_size = -65536", NULL, NULL, NULL);
    int ret = exec_sql(c->db, "BEGIN IMMEDIATE");
    if (ret != PD_OK) {
        if (bulk)
            sqlite3_exec(c->db, "PRAGMA cache_size = -2000", NULL, NULL, NULL);
        release(s, c);
        return ret;
    }
    store_txn *t = pd_xcalloc(1, sizeof *t);
    t->s = s;
    t->c = c;
    t->bulk = bulk;
    *out = t;
    return PD_OK;
}

int store_txn_begin(store *s, store_txn **out)
{
    return txn_begin(s, 1, out);
}

static void txn_end(store_txn *t)
{
    if (t->bulk)
        sqlite3_exec(t->c->db, "PRAGMA cache_size = -2000", NULL, NULL, NULL);
    release(t->s, t->c);
    free(t);
}

int store_txn_commit(store_txn *t)
{
    int ret = exec_sql(t->c->db, "COMMIT");
    if (ret != PD_OK)
        sqlite3_exec(t->c->db, "ROLLBACK", NULL, NULL, NULL);
    txn_end(t);
    return ret;
}

void store_txn_rollback(store_txn *t)
{
    if (!t)
        return;
    sqlite3_exec(t->c->db, "ROLLBACK", NULL, NULL, NULL);
    txn_end(t);
}

int store_product_upsert(store_txn *t, const product *p, enum store_upsert *result,
                         long long *old_stock)
{
    sqlite3_stmt *st = stmt_get(t->c, ST_PRODUCT_STOCK), *up = stmt_get(t->c, ST_PRODUCT_UPSERT);
    long long before = -1;
    int rc, ret = PD_OK;
    if (!st || !up)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, p->pzn);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        before = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        ret = db_fail(t->c->db, rc, "product_stock");
    stmt_done(st);
    if (ret != PD_OK)
        return ret;

    sqlite3_bind_int64(up, 1, p->pzn);
    const char *texts[] = {p->name,     p->manufacturer, p->active_ingredient,
                           p->strength, p->dosage_form,  p->pack_size};
    for (int i = 0; i < 6; i++)
        sqlite3_bind_text(up, i + 2, texts[i], -1, SQLITE_STATIC);
    sqlite3_bind_text(up, 8, dispensing_name(p->dispensing), -1, SQLITE_STATIC);
    sqlite3_bind_int64(up, 9, p->price_cents);
    sqlite3_bind_int64(up, 10, p->stock);
    sqlite3_bind_text(up, 11, supply_name(p->supply), -1, SQLITE_STATIC);
    sqlite3_bind_text(up, 12, p->aliases ? p->aliases : "", -1, SQLITE_STATIC);
    rc = sqlite3_step(up);
    if (rc != SQLITE_DONE)
        ret = db_fail(t->c->db, rc, "product_upsert");
    else if (before < 0)
        *result = STORE_INSERTED;
    else
        *result = sqlite3_changes(t->c->db) ? STORE_UPDATED : STORE_UNCHANGED;
    stmt_done(up);
    if (old_stock)
        *old_stock = before;
    return ret;
}

static int step_once(store_conn *c, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE || rc == SQLITE_ROW ? PD_OK : db_fail(c->db, rc, what);
    stmt_done(st);
    return ret;
}

int store_order_upsert(store_txn *t, const order *o, enum store_upsert *result)
{
    return store_order_upsert_ex(t, o, -1, result, NULL);
}

int store_order_upsert_ex(store_txn *t, const order *o, int status_mails, enum store_upsert *result,
                          int *old_status)
{
    store_conn *c = t->c;
    int ret, rc;
    sqlite3_stmt *st;

    /* items must name known products: report that as the row's reason, not as a DB error */
    for (int i = 0; i < o->nitems; i++) {
        if (!(st = stmt_get(c, ST_PRODUCT_EXISTS)))
            return PD_EDB;
        sqlite3_bind_int64(st, 1, o->items[i].pzn);
        rc = sqlite3_step(st);
        stmt_done(st);
        if (rc == SQLITE_DONE)
            return PD_ENOTFOUND;
        if (rc != SQLITE_ROW)
            return db_fail(c->db, rc, "product_exists");
    }
    /* the txn holds this connection, so read the old row through the same one */
    st = stmt_get(c, ST_ORDER_FIND);
    if (!st)
        return PD_EDB;
    sqlite3_bind_text(st, 1, o->number, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    int exists = rc == SQLITE_ROW;
    int same = 0;
    if (old_status)
        *old_status = -1;
    if (exists) {
        const char *vals[] = {
            o->created_at, o->last_name, o->postcode, o->email, order_status_name(o->status),
            o->expected,   o->note};
        same = 1;
        for (int i = 0; i < 7; i++) {
            const unsigned char *v = sqlite3_column_text(st, i);
            if (!v || strcmp((const char *)v, vals[i]) != 0)
                same = 0;
        }
        if (status_mails >= 0 && sqlite3_column_int(st, 7) != status_mails)
            same = 0;
        enum order_status before;
        if (old_status &&
            order_status_parse((const char *)sqlite3_column_text(st, 4), &before) == PD_OK)
            *old_status = (int)before;
    } else if (rc != SQLITE_DONE) {
        ret = db_fail(c->db, rc, "order_find");
        stmt_done(st);
        return ret;
    }
    stmt_done(st);

    if ((ret = exec_sql(c->db, "SAVEPOINT order_row")) != PD_OK)
        return ret;
    if (same) {
        /* compare the items too; unchanged rows are not rewritten */
        sqlite3_stmt *it = stmt_get(c, ST_ORDER_ITEMS);
        if (!it) {
            ret = PD_EDB;
            goto out;
        }
        sqlite3_bind_text(it, 1, o->number, -1, SQLITE_STATIC);
        int n = 0;
        while ((rc = sqlite3_step(it)) == SQLITE_ROW) {
            uint32_t pzn = (uint32_t)sqlite3_column_int64(it, 0);
            int qty = sqlite3_column_int(it, 1), found = 0;
            for (int i = 0; i < o->nitems; i++)
                if (o->items[i].pzn == pzn && o->items[i].qty == qty)
                    found = 1;
            same &= found;
            n++;
        }
        stmt_done(it);
        if (n != o->nitems)
            same = 0;
        if (same) {
            *result = STORE_UNCHANGED;
            goto out;
        }
    }
    st = stmt_get(c, exists ? ST_ORDER_UPDATE : ST_ORDER_INSERT);
    if (!st) {
        ret = PD_EDB;
        goto out;
    }
    sqlite3_bind_text(st, 1, o->number, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, o->created_at, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, o->last_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, o->postcode, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, o->email, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, order_status_name(o->status), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, o->expected, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, o->note, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 9, status_mails < 0 ? -1 : !!status_mails);
    if ((ret = step_once(c, st, "order_write")) != PD_OK)
        goto out;
    if (!(st = stmt_get(c, ST_ORDER_ITEMS_DELETE))) {
        ret = PD_EDB;
        goto out;
    }
    sqlite3_bind_text(st, 1, o->number, -1, SQLITE_STATIC);
    if ((ret = step_once(c, st, "order_items_delete")) != PD_OK)
        goto out;
    for (int i = 0; i < o->nitems; i++) {
        if (!(st = stmt_get(c, ST_ORDER_ITEM_INSERT))) {
            ret = PD_EDB;
            goto out;
        }
        sqlite3_bind_text(st, 1, o->number, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, o->items[i].pzn);
        sqlite3_bind_int(st, 3, o->items[i].qty);
        if ((ret = step_once(c, st, "order_item_insert")) != PD_OK)
            goto out;
    }
    *result = exists ? STORE_UPDATED : STORE_INSERTED;
out:
    if (ret == PD_OK) {
        ret = exec_sql(c->db, "RELEASE order_row");
    } else {
        sqlite3_exec(c->db, "ROLLBACK TO order_row; RELEASE order_row", NULL, NULL, NULL);
    }
    return ret;
}

int store_catalog_bump(store_txn *t)
{
    sqlite3_stmt *st = stmt_get(t->c, ST_CATALOG_BUMP);
    return st ? step_once(t->c, st, "catalog_bump") : PD_EDB;
}

/* one (seq, 32-byte hash) row of statement id, or 0 and zeros when there is none: the log's
 * head and the retention's anchor are read alike */
static int seq_hash_on(store_conn *c, enum stmt_id id, const char *what, long long *seq,
                       unsigned char hash[32])
{
    sqlite3_stmt *st = stmt_get(c, id);
    int ret = PD_OK;
    if (!st)
        return PD_EDB;
    *seq = 0;
    memset(hash, 0, 32);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        const void *h = sqlite3_column_blob(st, 1);
        if (h && sqlite3_column_bytes(st, 1) == 32)
            memcpy(hash, h, 32);
        else
            ret = PD_ECORRUPT; /* altered outside the store; audit_verify names it */
    } else if (rc != SQLITE_DONE) {
        ret = db_fail(c->db, rc, what);
    }
    stmt_done(st);
    return ret;
}

static int audit_last_on(store_conn *c, long long *seq, unsigned char hash[32])
{
    return seq_hash_on(c, ST_AUDIT_LAST, "audit_last", seq, hash);
}

int store_audit_last(store *s, long long *seq, unsigned char hash[32])
{
    store_conn *c = acquire(s);
    int ret = audit_last_on(c, seq, hash);
    release(s, c);
    return ret;
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

/*
 * One transaction per batch: one WAL sync (synchronous=FULL) makes the whole batch durable, so
 * the writer of catalog/audit.c shares one fsync among all waiting appenders. The check of the
 * chain's head runs under the write lock (BEGIN IMMEDIATE), so two processes appending to the
 * same folder (the service and an import) cannot fork the chain.
 */
int store_audit_append_batch(store *s, const audit_entry *e, size_t n)
{
    store_txn *t = NULL;
    long long last = 0;
    unsigned char head[32];
    int ret;
    if (n == 0)
        return PD_OK;
    for (size_t i = 1; i < n; i++)
        if (e[i].seq != e[i - 1].seq + 1 || memcmp(e[i].prev_hash, e[i - 1].hash, 32) != 0)
            return PD_EINVAL; /* the caller did not chain the batch */
    if ((ret = txn_begin(s, 0, &t)) != PD_OK)
        return ret;
    if ((ret = audit_last_on(t->c, &last, head)) != PD_OK)
        goto out;
    if (e[0].seq != last + 1 || memcmp(e[0].prev_hash, head, 32) != 0) {
        ret = PD_EEXIST;
        goto out;
    }
    for (size_t i = 0; i < n && ret == PD_OK; i++) {
        sqlite3_stmt *st = stmt_get(t->c, ST_AUDIT_INSERT);
        if (!st) {
            ret = PD_EDB;
            break;
        }
        const char *texts[] = {e[i].at,     e[i].kind, e[i].conversation,  e[i].decision,
                               e[i].intent, e[i].rule, e[i].policy_version};
        sqlite3_bind_int64(st, 1, e[i].seq);
        for (int k = 0; k < 7; k++)
            sqlite3_bind_text(st, k + 2, nz(texts[k]), -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 9, e[i].health_data ? 1 : 0);
        sqlite3_bind_text(st, 10, nz(e[i].detail), -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 11, e[i].prev_hash, 32, SQLITE_STATIC);
        sqlite3_bind_blob(st, 12, e[i].hash, 32, SQLITE_STATIC);
        ret = step_once(t->c, st, "audit_insert");
    }
out:
    if (ret != PD_OK) {
        store_txn_rollback(t);
        return ret;
    }
    return store_txn_commit(t);
}

/* a text column as a C string; *bad when it holds a NUL that the store never writes */
static const char *audit_text(sqlite3_stmt *st, int col, int *bad)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (!t)
        return "";
    if (strlen(t) != n)
        *bad = 1;
    return t;
}

static void audit_hash_col(sqlite3_stmt *st, int col, unsigned char out[32], int *bad)
{
    const void *h = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);
    memset(out, 0, 32);
    if (h && n > 0)
        memcpy(out, h, n < 32 ? (size_t)n : 32);
    if (!h || n != 32 || sqlite3_column_type(st, col) != SQLITE_BLOB)
        *bad = 1;
}

/* the rows of statement id (every column of AUDIT_COLS) through cb; with since, stops at the
 * first entry older than it (the newest-first statement) */
static int audit_scan_on(store_conn *c, enum stmt_id id, const char *since,
                         int (*cb)(const audit_entry *e, void *arg), void *arg)
{
    sqlite3_stmt *st = stmt_get(c, id);
    int ret = PD_OK, rc = SQLITE_DONE;
    if (!st) {
        ret = PD_EDB;
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        audit_entry e = {0};
        e.seq = sqlite3_column_int64(st, 0);
        e.at = audit_text(st, 1, &e.bad_encoding);
        e.kind = audit_text(st, 2, &e.bad_encoding);
        e.conversation = audit_text(st, 3, &e.bad_encoding);
        e.decision = audit_text(st, 4, &e.bad_encoding);
        e.intent = audit_text(st, 5, &e.bad_encoding);
        e.rule = audit_text(st, 6, &e.bad_encoding);
        e.policy_version = audit_text(st, 7, &e.bad_encoding);
        long long hd = sqlite3_column_int64(st, 8);
        e.health_data = (int)(hd != 0);
        if (hd != 0 && hd != 1)
            e.bad_encoding = 1;
        e.detail = audit_text(st, 9, &e.bad_encoding);
        audit_hash_col(st, 10, e.prev_hash, &e.bad_encoding);
        audit_hash_col(st, 11, e.hash, &e.bad_encoding);
        if (since && strcmp(e.at, since) < 0)
            break;
        if ((ret = cb(&e, arg)) != 0)
            break;
    }
    if (ret == PD_OK && rc != SQLITE_DONE)
        ret = db_fail(c->db, rc, "audit_foreach");
    stmt_done(st);
out:
    return ret;
}

static int audit_scan(store *s, enum stmt_id id, const char *since,
                      int (*cb)(const audit_entry *e, void *arg), void *arg)
{
    store_conn *c = acquire(s);
    int ret = audit_scan_on(c, id, since, cb, arg);
    release(s, c);
    return ret;
}

int store_audit_foreach(store *s, int (*cb)(const audit_entry *e, void *arg), void *arg)
{
    return audit_scan(s, ST_AUDIT_ALL, NULL, cb, arg);
}

static int audit_anchor_on(store_conn *c, long long *seq, unsigned char hash[32])
{
    return seq_hash_on(c, ST_AUDIT_ANCHOR, "audit_anchor", seq, hash);
}

int store_audit_foreach_anchored(store *s, long long *anchor_seq, unsigned char anchor_hash[32],
                                 int (*cb)(const audit_entry *e, void *arg), void *arg)
{
    /* the anchor and the entries from one snapshot, so a pruning meanwhile cannot split them */
    store_conn *c = acquire(s);
    int ret = exec_sql(c->db, "BEGIN");
    if (ret == PD_OK) {
        ret = audit_anchor_on(c, anchor_seq, anchor_hash);
        if (ret == PD_OK)
            ret = audit_scan_on(c, ST_AUDIT_ALL, NULL, cb, arg);
        sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    }
    release(s, c);
    return ret;
}

int store_audit_prune(store *s, const char *before, long long *last_pruned)
{
    store_txn *t = NULL;
    char now[32];
    long long seq = 0;
    unsigned char hash[32];
    char at[32] = "";
    *last_pruned = 0;
    int ret = txn_begin(s, 0, &t);
    if (ret != PD_OK)
        return ret;
    store_conn *c = t->c;
    sqlite3_stmt *st = stmt_get(c, ST_AUDIT_PRUNE_LAST);
    if (!st) {
        ret = PD_EDB;
        goto out;
    }
    sqlite3_bind_text(st, 1, before, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        seq = sqlite3_column_int64(st, 0);
        const void *h = sqlite3_column_blob(st, 1);
        const unsigned char *a = sqlite3_column_text(st, 2);
        if (!h || sqlite3_column_bytes(st, 1) != 32 || !a || strlen((const char *)a) >= sizeof at)
            ret = PD_ECORRUPT; /* altered outside pharmdesk: audit-verify names it */
        else {
            memcpy(hash, h, 32);
            snprintf(at, sizeof at, "%s", (const char *)a);
        }
    } else if (rc != SQLITE_DONE) {
        ret = db_fail(c->db, rc, "audit_prune");
    }
    stmt_done(st);
    if (ret != PD_OK || seq == 0)
        goto out;
    pd_iso_time(pd_wall_us(), now);
    sqlite3_stmt *flag = stmt_get(c, ST_AUDIT_PRUNE_FLAG);
    sqlite3_stmt *del = stmt_get(c, ST_AUDIT_PRUNE_DELETE);
    sqlite3_stmt *anchor = stmt_get(c, ST_AUDIT_PRUNE_ANCHOR);
    if (!flag || !del || !anchor) {
        ret = PD_EDB;
        goto out;
    }
    sqlite3_bind_int(flag, 1, 1);
    ret = step_once(c, flag, "audit_prune");
    sqlite3_bind_int64(del, 1, seq);
    if (ret == PD_OK)
        ret = step_once(c, del, "audit_prune");
    sqlite3_bind_int64(anchor, 1, seq);
    sqlite3_bind_blob(anchor, 2, hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(anchor, 3, at, -1, SQLITE_STATIC);
    sqlite3_bind_text(anchor, 4, now, -1, SQLITE_STATIC);
    if (ret == PD_OK)
        ret = step_once(c, anchor, "audit_prune");
    sqlite3_bind_int(flag, 1, 0);
    if (ret == PD_OK)
        ret = step_once(c, flag, "audit_prune");
    if (ret == PD_OK)
        *last_pruned = seq;
out:
    if (ret != PD_OK) {
        store_txn_rollback(t);
        return ret;
    }
    return store_txn_commit(t);
}

int store_audit_foreach_since(store *s, const char *since,
                              int (*cb)(const audit_entry *e, void *arg), void *arg)
{
    return audit_scan(s, ST_AUDIT_RECENT, since, cb, arg);
}

#ifdef PD_FAULT_INJECTION
/* test builds only: fixed statements that alter the audit log past its triggers */
#define AUDIT_SET(col) "UPDATE audit_log SET " col " = ?2 WHERE seq = ?1"
static const struct {
    const char *column, *sql;
} audit_tamper_sql[] = {
    {"seq", AUDIT_SET("seq")},
    {"at", AUDIT_SET("at")},
    {"kind", AUDIT_SET("kind")},
    {"conversation", AUDIT_SET("conversation")},
    {"decision", AUDIT_SET("decision")},
    {"intent", AUDIT_SET("intent")},
    {"rule", AUDIT_SET("rule")},
    {"policy_version", AUDIT_SET("policy_version")},
    {"detail", AUDIT_SET("detail")},
    {"health_data", AUDIT_SET("health_data")},
    {"prev_hash", AUDIT_SET("prev_hash")},
    {"hash", AUDIT_SET("hash")},
};

/* runs sql with seq in ?1 and in ?2 value as text ('t') or blob ('b'), or ival ('i'), with
 * the append-only triggers dropped for the while */
static int audit_tamper_run(store *s, const char *sql, long long seq, const void *value, size_t len,
                            int kind, long long ival)
{
    store_txn *t = NULL;
    sqlite3_stmt *st = NULL;
    int ret = txn_begin(s, 0, &t);
    if (ret != PD_OK)
        return ret;
    sqlite3 *db = t->c->db;
    static const char drop[] = "DROP TRIGGER audit_log_no_update;"
                               "DROP TRIGGER audit_log_no_delete;";
    if ((ret = exec_sql(db, drop)) != PD_OK)
        goto out;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        ret = db_fail(db, rc, "audit_tamper");
        goto out;
    }
    sqlite3_bind_int64(st, 1, seq);
    if (kind == 't')
        sqlite3_bind_text(st, 2, value, (int)len, SQLITE_STATIC);
    else if (kind == 'b')
        sqlite3_bind_blob(st, 2, value, (int)len, SQLITE_STATIC);
    else if (kind == 'i')
        sqlite3_bind_int64(st, 2, ival);
    if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
        ret = db_fail(db, rc, "audit_tamper");
        goto out;
    }
    if (sqlite3_changes(db) != 1) {
        ret = PD_ENOTFOUND;
        goto out;
    }
    ret = exec_sql(
        db,
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
        " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;" AUDIT_DELETE_TRIGGER);
out:
    sqlite3_finalize(st);
    if (ret != PD_OK) {
        store_txn_rollback(t);
        return ret;
    }
    return store_txn_commit(t);
}

int store_audit_tamper(store *s, long long seq, const char *column, const void *value, size_t len)
{
    for (size_t i = 0; i < PD_ARRAY_LEN(audit_tamper_sql); i++) {
        if (strcmp(column, audit_tamper_sql[i].column) != 0)
            continue;
        int blob = strcmp(column, "hash") == 0 || strcmp(column, "prev_hash") == 0;
        return audit_tamper_run(s, audit_tamper_sql[i].sql, seq, value, len, blob ? 'b' : 't', 0);
    }
    return PD_EINVAL;
}

int store_audit_tamper_int(store *s, long long seq, const char *column, long long value)
{
    for (size_t i = 0; i < PD_ARRAY_LEN(audit_tamper_sql); i++)
        if (strcmp(column, audit_tamper_sql[i].column) == 0)
            return audit_tamper_run(s, audit_tamper_sql[i].sql, seq, NULL, 0, 'i', value);
    return PD_EINVAL;
}

int store_audit_delete(store *s, long long seq)
{
    return audit_tamper_run(s, "DELETE FROM audit_log WHERE seq = ?1", seq, NULL, 0, 0, 0);
}
#endif
