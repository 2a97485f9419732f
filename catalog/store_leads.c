/* leads, the consent ledger, tokens, data-rights requests and the mail queue: their tables and
 * SQL (leads_store.h) */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "leads_store.h"
#include "pd.h"
#include "store_int.h"

/* migration 5. Addresses are kept lower-case; every hash is 32 bytes (BLAKE2b-256). Tokens are
 * stored only as hashes. The ledger keeps its rows when a lead goes; an erasure leaves of a row
 * only the keyed hash of the address (email NULL, pseudonymised_us set). */
const char store_migration_leads[] =
    "CREATE TABLE lead_secret ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " key BLOB NOT NULL CHECK (length(key) = 32)) STRICT;"
    "CREATE TABLE consent_ledger ("
    " id INTEGER PRIMARY KEY,"
    " email TEXT CHECK (email IS NULL OR length(email) BETWEEN 3 AND 254),"
    " email_hash BLOB NOT NULL CHECK (length(email_hash) = 32),"
    " purpose TEXT NOT NULL CHECK (purpose IN ('newsletter', 'back_in_stock')),"
    " pzn INTEGER NOT NULL CHECK (pzn BETWEEN 0 AND 99999999),"
    " text_version TEXT NOT NULL CHECK (text_version <> ''),"
    " text_lang TEXT NOT NULL CHECK (text_lang IN ('de', 'en')),"
    " text_hash TEXT NOT NULL CHECK (length(text_hash) = 64),"
    " consent_text TEXT NOT NULL CHECK (consent_text <> ''),"
    " page TEXT NOT NULL,"
    " ip_hash BLOB CHECK (ip_hash IS NULL OR length(ip_hash) = 32),"
    " signed_up_us INTEGER NOT NULL,"
    " mail_sent_us INTEGER,"
    " confirmed_us INTEGER,"
    " fulfilled_us INTEGER,"
    " withdrawn_us INTEGER,"
    " withdrawn_via TEXT CHECK (withdrawn_via IS NULL OR"
    "  withdrawn_via IN ('link', 'one_click', 'erasure')),"
    " pseudonymised_us INTEGER,"
    " CHECK ((email IS NULL) = (pseudonymised_us IS NOT NULL)),"
    " CHECK ((withdrawn_us IS NULL) = (withdrawn_via IS NULL))) STRICT;"
    "CREATE INDEX consent_ledger_hash ON consent_ledger (email_hash);"
    "CREATE TABLE leads ("
    " id INTEGER PRIMARY KEY,"
    " email TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),"
    " email_hash BLOB NOT NULL CHECK (length(email_hash) = 32),"
    " purpose TEXT NOT NULL CHECK (purpose IN ('newsletter', 'back_in_stock')),"
    " pzn INTEGER NOT NULL CHECK (pzn BETWEEN 0 AND 99999999),"
    " lang TEXT NOT NULL CHECK (lang IN ('de', 'en')),"
    " status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'withdrawn', 'fulfilled')),"
    " ledger_id INTEGER NOT NULL REFERENCES consent_ledger (id),"
    " created_us INTEGER NOT NULL,"
    " confirmed_us INTEGER,"
    " ended_us INTEGER,"
    " last_mail_us INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE (email_hash, purpose, pzn),"
    " CHECK ((purpose = 'back_in_stock') = (pzn > 0)),"
    " CHECK ((status IN ('withdrawn', 'fulfilled')) = (ended_us IS NOT NULL))) STRICT;"
    "CREATE INDEX leads_pzn ON leads (pzn, status);"
    "CREATE TABLE lead_tokens ("
    " hash BLOB PRIMARY KEY CHECK (length(hash) = 32),"
    " lead_id INTEGER NOT NULL REFERENCES leads (id) ON DELETE CASCADE,"
    " kind TEXT NOT NULL CHECK (kind IN ('confirm', 'withdraw')),"
    " created_us INTEGER NOT NULL,"
    " expires_us INTEGER,"
    " used_us INTEGER) STRICT, WITHOUT ROWID;"
    "CREATE INDEX lead_tokens_lead ON lead_tokens (lead_id);"
    "CREATE TABLE data_requests ("
    " id INTEGER PRIMARY KEY,"
    " email TEXT CHECK (email IS NULL OR length(email) BETWEEN 3 AND 254),"
    " email_hash BLOB NOT NULL CHECK (length(email_hash) = 32),"
    " kind TEXT NOT NULL CHECK (kind IN ('export', 'erasure')),"
    " lang TEXT NOT NULL CHECK (lang IN ('de', 'en')),"
    " token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),"
    " created_us INTEGER NOT NULL,"
    " expires_us INTEGER NOT NULL,"
    " completed_us INTEGER) STRICT;"
    "CREATE INDEX data_requests_hash ON data_requests (email_hash);"
    "CREATE TABLE mail_queue ("
    " id INTEGER PRIMARY KEY,"
    " kind TEXT NOT NULL CHECK (kind <> ''),"
    " recipient_hash BLOB CHECK (recipient_hash IS NULL OR length(recipient_hash) = 32),"
    " lead_id INTEGER,"
    " message BLOB NOT NULL CHECK (length(message) > 0),"
    " created_us INTEGER NOT NULL,"
    " next_us INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),"
    " last_error TEXT NOT NULL DEFAULT '') STRICT;"
    "CREATE INDEX mail_queue_next ON mail_queue (next_us);"
    "CREATE INDEX mail_queue_lead ON mail_queue (lead_id);"
    "CREATE INDEX mail_queue_recipient ON mail_queue (recipient_hash);";

/* migration 7: every newsletter sent (pharmdesk newsletter-send). No address and no text: the
 * time, the mails queued per language and the content's hash, which also guards against sending
 * the same content twice by accident. */
const char store_migration_newsletter[] =
    "CREATE TABLE newsletter_sends ("
    " id INTEGER PRIMARY KEY,"
    " content_hash BLOB NOT NULL CHECK (length(content_hash) = 32),"
    " sent_us INTEGER NOT NULL,"
    " mails_de INTEGER NOT NULL CHECK (mails_de >= 0),"
    " mails_en INTEGER NOT NULL CHECK (mails_en >= 0),"
    " forced INTEGER NOT NULL CHECK (forced IN (0, 1))) STRICT;"
    "CREATE INDEX newsletter_sends_hash ON newsletter_sends (content_hash, sent_us);";

#define LEAD_COLS                                                                                  \
    "id, email, purpose, pzn, lang, status, ledger_id, created_us, coalesce(confirmed_us, 0),"     \
    " coalesce(ended_us, 0), last_mail_us"

enum {
    Q_SECRET_GET,
    Q_SECRET_PUT,
    Q_LEAD_FIND,
    Q_LEAD_GET,
    Q_LEAD_INSERT,
    Q_LEAD_RESTART,
    Q_LEAD_STATUS,
    Q_LEAD_MAILED,
    Q_LEAD_LAST_MAIL,
    Q_LEADS_WAITING,
    Q_LEDGER_INSERT,
    Q_LEDGER_MAIL_SENT,
    Q_LEDGER_CONFIRMED,
    Q_LEDGER_FULFILLED,
    Q_LEDGER_WITHDRAWN,
    Q_TOKEN_INSERT,
    Q_TOKEN_FIND,
    Q_TOKEN_USE,
    Q_TOKENS_DROP_CONFIRM,
    Q_REQ_INSERT,
    Q_REQ_BY_TOKEN,
    Q_REQ_LAST,
    Q_REQ_COMPLETE,
    Q_EXP_LEADS,
    Q_EXP_LEDGER,
    Q_EXP_REQUESTS,
    Q_EXP_MAILS,
    Q_ERASE_MAILS,
    Q_ERASE_LEADS,
    Q_ERASE_LEDGER_WITHDRAW,
    Q_ERASE_LEDGER,
    Q_ERASE_REQUESTS,
    Q_MAIL_INSERT,
    Q_MAIL_NEXT,
    Q_MAIL_LEASE,
    Q_MAIL_DONE,
    Q_MAIL_FAILED,
    Q_MAIL_DROP_LEAD,
    Q_MAIL_STATS,
    Q_PURGE_MAILS,
    Q_PURGE_LEDGER,
    Q_PURGE_UNCONFIRMED,
    Q_PURGE_ENDED,
    Q_PURGE_TOKENS,
    Q_PURGE_REQUESTS,
    Q_PURGE_REQ_PSEUDO,
    Q_PURGE_PSEUDO,
    Q_NEWSLETTER_LEADS,
    Q_NEWSLETTER_LAST,
    Q_NEWSLETTER_INSERT,
    Q_COUNT
};

static const char *const sql[Q_COUNT] = {
    [Q_SECRET_GET] = "SELECT key FROM lead_secret WHERE id = 1",
    [Q_SECRET_PUT] = "INSERT INTO lead_secret (id, key) VALUES (1, ?1)",
    [Q_LEAD_FIND] = "SELECT " LEAD_COLS " FROM leads WHERE email_hash = ?1 AND purpose = ?2 AND"
                    " pzn = ?3",
    [Q_LEAD_GET] = "SELECT " LEAD_COLS " FROM leads WHERE id = ?1",
    [Q_LEAD_INSERT] = "INSERT INTO leads (email, email_hash, purpose, pzn, lang, status, ledger_id,"
                      " created_us) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7)",
    [Q_LEAD_RESTART] = "UPDATE leads SET status = 'pending', lang = ?2, ledger_id = ?3,"
                       " created_us = ?4, confirmed_us = NULL, ended_us = NULL WHERE id = ?1",
    [Q_LEAD_STATUS] = "UPDATE leads SET status = ?2,"
                      " confirmed_us = CASE WHEN ?2 = 'confirmed' THEN ?3 ELSE confirmed_us END,"
                      " ended_us = CASE WHEN ?2 IN ('withdrawn', 'fulfilled') THEN ?3 END"
                      " WHERE id = ?1",
    [Q_LEAD_MAILED] = "UPDATE leads SET last_mail_us = ?2 WHERE id = ?1",
    [Q_LEAD_LAST_MAIL] = "SELECT count(*) FROM leads WHERE email_hash = ?1 AND last_mail_us >= ?2",
    [Q_LEADS_WAITING] = "SELECT " LEAD_COLS " FROM leads WHERE pzn = ?1 AND purpose ="
                        " 'back_in_stock' AND status = 'confirmed' ORDER BY id",
    [Q_LEDGER_INSERT] = "INSERT INTO consent_ledger (email, email_hash, purpose, pzn, text_version,"
                        " text_lang, text_hash, consent_text, page, ip_hash, signed_up_us)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [Q_LEDGER_MAIL_SENT] = "UPDATE consent_ledger SET mail_sent_us = coalesce(mail_sent_us, ?2)"
                           " WHERE id = ?1",
    [Q_LEDGER_CONFIRMED] = "UPDATE consent_ledger SET confirmed_us = coalesce(confirmed_us, ?2)"
                           " WHERE id = ?1",
    [Q_LEDGER_FULFILLED] = "UPDATE consent_ledger SET fulfilled_us = coalesce(fulfilled_us, ?2)"
                           " WHERE id = ?1",
    [Q_LEDGER_WITHDRAWN] = "UPDATE consent_ledger SET withdrawn_us = ?2, withdrawn_via = ?3"
                           " WHERE id = ?1 AND withdrawn_us IS NULL",
    [Q_TOKEN_INSERT] = "INSERT INTO lead_tokens (hash, lead_id, kind, created_us, expires_us)"
                       " VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_TOKEN_FIND] = "SELECT hash, lead_id, kind, coalesce(expires_us, 0), coalesce(used_us, 0)"
                     " FROM lead_tokens WHERE hash = ?1",
    [Q_TOKEN_USE] = "UPDATE lead_tokens SET used_us = coalesce(used_us, ?2) WHERE hash = ?1",
    [Q_TOKENS_DROP_CONFIRM] = "DELETE FROM lead_tokens WHERE lead_id = ?1 AND kind = 'confirm'"
                              " AND used_us IS NULL",
    [Q_REQ_INSERT] = "INSERT INTO data_requests (email, email_hash, kind, lang, token_hash,"
                     " created_us, expires_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_REQ_BY_TOKEN] = "SELECT id, coalesce(email, ''), kind, lang, created_us, expires_us,"
                       " coalesce(completed_us, 0), token_hash FROM data_requests"
                       " WHERE token_hash = ?1",
    [Q_REQ_LAST] = "SELECT coalesce(max(created_us), 0) FROM data_requests WHERE email_hash = ?1",
    [Q_REQ_COMPLETE] = "UPDATE data_requests SET completed_us = ?2 WHERE id = ?1",
    [Q_EXP_LEADS] = "SELECT id, email, purpose, nullif(pzn, 0) AS pzn, lang, status,"
                    " ledger_id AS consent_id, created_us AS created_at,"
                    " confirmed_us AS confirmed_at, ended_us AS ended_at,"
                    " nullif(last_mail_us, 0) AS last_confirmation_mail_at"
                    " FROM leads WHERE email_hash = ?1 ORDER BY id",
    [Q_EXP_LEDGER] = "SELECT id, email, email_hash AS email_pseudonym, purpose,"
                     " nullif(pzn, 0) AS pzn, text_version, text_lang, text_hash, consent_text,"
                     " page, ip_hash, signed_up_us AS signed_up_at,"
                     " mail_sent_us AS confirmation_mail_at, confirmed_us AS confirmed_at,"
                     " fulfilled_us AS fulfilled_at, withdrawn_us AS withdrawn_at, withdrawn_via,"
                     " pseudonymised_us AS pseudonymised_at"
                     " FROM consent_ledger WHERE email_hash = ?1 ORDER BY id",
    [Q_EXP_REQUESTS] = "SELECT id, email, kind, lang, created_us AS created_at,"
                       " expires_us AS expires_at, completed_us AS completed_at"
                       " FROM data_requests WHERE email_hash = ?1 ORDER BY id",
    [Q_EXP_MAILS] = "SELECT id, kind, created_us AS queued_at, attempts,"
                    " next_us AS next_attempt_at FROM mail_queue WHERE recipient_hash = ?1"
                    " ORDER BY id",
    [Q_ERASE_MAILS] = "DELETE FROM mail_queue WHERE recipient_hash = ?1",
    [Q_ERASE_LEADS] = "DELETE FROM leads WHERE email_hash = ?1",
    [Q_ERASE_LEDGER_WITHDRAW] = "UPDATE consent_ledger SET withdrawn_us = ?2,"
                                " withdrawn_via = 'erasure' WHERE email_hash = ?1 AND"
                                " withdrawn_us IS NULL AND fulfilled_us IS NULL AND"
                                " confirmed_us IS NOT NULL",
    [Q_ERASE_LEDGER] = "UPDATE consent_ledger SET email = NULL, pseudonymised_us = ?2"
                       " WHERE email_hash = ?1 AND email IS NOT NULL",
    [Q_ERASE_REQUESTS] = "UPDATE data_requests SET email = NULL WHERE email_hash = ?1 AND"
                         " email IS NOT NULL",
    [Q_MAIL_INSERT] = "INSERT INTO mail_queue (kind, recipient_hash, lead_id, message, created_us,"
                      " next_us) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    [Q_MAIL_NEXT] = "SELECT id, kind, attempts, message FROM mail_queue WHERE next_us <= ?1"
                    " ORDER BY next_us, id LIMIT 1",
    [Q_MAIL_LEASE] = "UPDATE mail_queue SET next_us = ?2, attempts = attempts + 1 WHERE id = ?1",
    [Q_MAIL_DONE] = "DELETE FROM mail_queue WHERE id = ?1",
    [Q_MAIL_FAILED] = "UPDATE mail_queue SET next_us = ?2, last_error = ?3 WHERE id = ?1",
    [Q_MAIL_DROP_LEAD] = "DELETE FROM mail_queue WHERE lead_id = ?1",
    [Q_MAIL_STATS] = "SELECT count(*), coalesce(min(next_us), 0) FROM mail_queue",
    [Q_PURGE_MAILS] = "DELETE FROM mail_queue WHERE lead_id IN (SELECT id FROM leads WHERE"
                      " confirmed_us IS NULL AND created_us < ?1)",
    [Q_PURGE_UNCONFIRMED] = "DELETE FROM leads WHERE confirmed_us IS NULL AND created_us < ?1",
    [Q_PURGE_LEDGER] = "DELETE FROM consent_ledger WHERE confirmed_us IS NULL AND"
                       " signed_up_us < ?1 AND id NOT IN (SELECT ledger_id FROM leads)",
    [Q_PURGE_ENDED] = "DELETE FROM leads WHERE ended_us IS NOT NULL AND ended_us < ?1",
    [Q_PURGE_TOKENS] = "DELETE FROM lead_tokens WHERE expires_us IS NOT NULL AND expires_us < ?1",
    [Q_PURGE_REQUESTS] = "DELETE FROM data_requests WHERE completed_us IS NULL AND"
                         " expires_us < ?1",
    [Q_PURGE_REQ_PSEUDO] = "UPDATE data_requests SET email = NULL WHERE email IS NOT NULL AND"
                           " completed_us IS NOT NULL AND completed_us < ?1",
    [Q_PURGE_PSEUDO] = "UPDATE consent_ledger SET email = NULL, pseudonymised_us = ?2"
                       " WHERE email IS NOT NULL AND coalesce(withdrawn_us, fulfilled_us) < ?1"
                       " AND id NOT IN (SELECT ledger_id FROM leads)",
    [Q_NEWSLETTER_LEADS] = "SELECT " LEAD_COLS " FROM leads WHERE purpose = 'newsletter' AND"
                           " status = 'confirmed' ORDER BY id",
    [Q_NEWSLETTER_LAST] = "SELECT sent_us, mails_de + mails_en FROM newsletter_sends"
                          " WHERE content_hash = ?1 AND sent_us >= ?2 AND mails_de + mails_en > 0"
                          " ORDER BY sent_us DESC LIMIT 1",
    [Q_NEWSLETTER_INSERT] = "INSERT INTO newsletter_sends (content_hash, sent_us, mails_de,"
                            " mails_en, forced) VALUES (?1, ?2, ?3, ?4, ?5)",
};
_Static_assert(STORE_SLOTS_LEADS + Q_COUNT <= STORE_SLOTS_COUNT,
               "the leads statements must fit their slot range");

struct lstore {
    store *s;
    store_conn *c;
};

static const char *const purpose_names[] = {"newsletter", "back_in_stock"};
static const char *const status_names[] = {"pending", "confirmed", "withdrawn", "fulfilled"};
static const char *const token_kinds[] = {"confirm", "withdraw"};
static const char *const request_kinds[] = {"export", "erasure"};

const char *lead_purpose_name(enum lead_purpose p)
{
    return (size_t)p < PD_ARRAY_LEN(purpose_names) ? purpose_names[p] : "newsletter";
}

int lead_purpose_parse(const char *s, enum lead_purpose *out)
{
    for (size_t i = 0; s && i < PD_ARRAY_LEN(purpose_names); i++)
        if (strcmp(s, purpose_names[i]) == 0) {
            *out = (enum lead_purpose)i;
            return PD_OK;
        }
    return PD_EINVAL;
}

const char *lead_status_name(enum lead_status s)
{
    return (size_t)s < PD_ARRAY_LEN(status_names) ? status_names[s] : "pending";
}

static int name_index(const char *const *names, size_t n, const unsigned char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp((const char *)s, names[i]) == 0)
            return (int)i;
    return 0; /* the schema's CHECK constraints allow nothing else */
}

static sqlite3_stmt *q(lstore *t, int which)
{
    return store_stmt(t->c, STORE_SLOTS_LEADS + which, sql[which]);
}

/* steps a statement that returns no row and resets it */
static int run(lstore *t, sqlite3_stmt *st, const char *what)
{
    int ret = store_step_done(t->c, st, what);
    store_stmt_done(st);
    return ret;
}

static void bind_hash(sqlite3_stmt *st, int i, const unsigned char *h)
{
    if (h)
        sqlite3_bind_blob(st, i, h, LSTORE_HASH, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_opt_int(sqlite3_stmt *st, int i, long long v)
{
    if (v)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", s ? (const char *)s : "");
}

int lstore_begin(store *s, lstore **out)
{
    store_conn *c = store_acquire(s);
    int ret = store_begin(c);
    if (ret != PD_OK) {
        store_release(s, c);
        return ret;
    }
    lstore *t = pd_xcalloc(1, sizeof *t);
    t->s = s;
    t->c = c;
    *out = t;
    return PD_OK;
}

int lstore_commit(lstore *t)
{
    int ret = store_commit(t->c);
    store_release(t->s, t->c);
    free(t);
    return ret;
}

void lstore_rollback(lstore *t)
{
    if (!t)
        return;
    store_rollback(t->c);
    store_release(t->s, t->c);
    free(t);
}

int lstore_secret(lstore *t, unsigned char key[32])
{
    sqlite3_stmt *st = q(t, Q_SECRET_GET);
    if (!st)
        return PD_EDB;
    int rc = sqlite3_step(st), ret = PD_OK;
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32)
        memcpy(key, sqlite3_column_blob(st, 0), 32);
    else if (rc == SQLITE_DONE)
        ret = PD_ENOTFOUND;
    else
        ret = store_fail(t->c, rc, "lead_secret");
    store_stmt_done(st);
    if (ret != PD_ENOTFOUND)
        return ret;
    if (sodium_init() < 0)
        return PD_EIO;
    randombytes_buf(key, 32);
    if (!(st = q(t, Q_SECRET_PUT)))
        return PD_EDB;
    sqlite3_bind_blob(st, 1, key, 32, SQLITE_STATIC);
    return run(t, st, "lead_secret_put");
}

static void lead_from_row(sqlite3_stmt *st, lead_rec *l)
{
    memset(l, 0, sizeof *l);
    l->id = sqlite3_column_int64(st, 0);
    copy_text(l->email, sizeof l->email, st, 1);
    l->purpose = (enum lead_purpose)name_index(purpose_names, PD_ARRAY_LEN(purpose_names),
                                               sqlite3_column_text(st, 2));
    l->pzn = (uint32_t)sqlite3_column_int64(st, 3);
    copy_text(l->lang, sizeof l->lang, st, 4);
    l->status = (enum lead_status)name_index(status_names, PD_ARRAY_LEN(status_names),
                                             sqlite3_column_text(st, 5));
    l->ledger_id = sqlite3_column_int64(st, 6);
    l->created_us = sqlite3_column_int64(st, 7);
    l->confirmed_us = sqlite3_column_int64(st, 8);
    l->ended_us = sqlite3_column_int64(st, 9);
    l->last_mail_us = sqlite3_column_int64(st, 10);
}

static int lead_one(lstore *t, sqlite3_stmt *st, lead_rec *out)
{
    int rc = sqlite3_step(st), ret = PD_OK;
    if (rc == SQLITE_ROW)
        lead_from_row(st, out);
    else if (rc == SQLITE_DONE)
        ret = PD_ENOTFOUND;
    else
        ret = store_fail(t->c, rc, "lead_get");
    store_stmt_done(st);
    return ret;
}

int lstore_lead_find(lstore *t, const unsigned char *email_hash, enum lead_purpose purpose,
                     uint32_t pzn, lead_rec *out)
{
    sqlite3_stmt *st = q(t, Q_LEAD_FIND);
    if (!st)
        return PD_EDB;
    bind_hash(st, 1, email_hash);
    sqlite3_bind_text(st, 2, lead_purpose_name(purpose), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, pzn);
    return lead_one(t, st, out);
}

int lstore_lead_get(lstore *t, long long id, lead_rec *out)
{
    sqlite3_stmt *st = q(t, Q_LEAD_GET);
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, id);
    return lead_one(t, st, out);
}

int lstore_lead_insert(lstore *t, const char *email, const unsigned char *email_hash,
                       enum lead_purpose purpose, uint32_t pzn, const char *lang,
                       long long ledger_id, long long now_us, long long *id)
{
    sqlite3_stmt *st = q(t, Q_LEAD_INSERT);
    if (!st)
        return PD_EDB;
    sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
    bind_hash(st, 2, email_hash);
    sqlite3_bind_text(st, 3, lead_purpose_name(purpose), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, pzn);
    sqlite3_bind_text(st, 5, lang, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, ledger_id);
    sqlite3_bind_int64(st, 7, now_us);
    int ret = run(t, st, "lead_insert");
    if (ret == PD_OK && id)
        *id = sqlite3_last_insert_rowid(store_conn_db(t->c));
    return ret;
}

int lstore_lead_restart(lstore *t, long long id, const char *lang, long long ledger_id,
                        long long now_us)
{
    sqlite3_stmt *st = q(t, Q_LEAD_RESTART);
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, lang, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, ledger_id);
    sqlite3_bind_int64(st, 4, now_us);
    return run(t, st, "lead_restart");
}

int lstore_lead_set_status(lstore *t, long long id, enum lead_status stat, long long now_us)
{
    sqlite3_stmt *st = q(t, Q_LEAD_STATUS);
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, lead_status_name(stat), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_us);
    return run(t, st, "lead_status");
}

int lstore_lead_mailed(lstore *t, long long id, long long now_us)
{
    sqlite3_stmt *st = q(t, Q_LEAD_MAILED);
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_us);
    return run(t, st, "lead_mailed");
}

static int one_int(lstore *t, sqlite3_stmt *st, long long *out, const char *what)
{
    int rc = sqlite3_step(st), ret = PD_OK;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        ret = store_fail(t->c, rc, what);
    store_stmt_done(st);
    return ret;
}

int lstore_lead_recent_mails(lstore *t, const unsigned char *email_hash, long long since_us,
                             long long *count)
{
    sqlite3_stmt *st = q(t, Q_LEAD_LAST_MAIL);
    if (!st)
        return PD_EDB;
    bind_hash(st, 1, email_hash);
    sqlite3_bind_int64(st, 2, since_us);
    return one_int(t, st, count, "lead_recent_mails");
}

/* the leads a statement selects, each handed to cb; collected first, as cb writes to the same
 * tables */
static int leads_each(lstore *t, sqlite3_stmt *st, int (*cb)(const lead_rec *l, void *arg),
                      void *arg, const char *what)
{
    lead_rec *all = NULL;
    size_t n = 0, cap = 0;
    int rc, ret = PD_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) { /* doubling: a newsletter may reach thousands */
            cap = cap ? 2 * cap : 16;
            all = pd_xreallocarray(all, cap, sizeof *all);
        }
        lead_from_row(st, &all[n++]);
    }
    if (rc != SQLITE_DONE)
        ret = store_fail(t->c, rc, what);
    store_stmt_done(st);
    for (size_t i = 0; ret == PD_OK && i < n; i++)
        ret = cb(&all[i], arg);
    if (all)
        sodium_memzero(all, cap * sizeof *all); /* the addresses */
    free(all);
    return ret;
}

int lstore_leads_waiting(lstore *t, uint32_t pzn, int (*cb)(const lead_rec *l, void *arg),
                         void *arg)
{
    sqlite3_stmt *st = q(t, Q_LEADS_WAITING);
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, pzn);
    return leads_each(t, st, cb, arg, "leads_waiting");
}

int lstore_leads_newsletter(lstore *t, int (*cb)(const lead_rec *l, void *arg), void *arg)
{
    sqlite3_stmt *st = q(t, Q_NEWSLETTER_LEADS);
    if (!st)
        return PD_EDB;
    return leads_each(t, st, cb, arg, "leads_newsletter");
}

int lstore_newsletter_last(lstore *t, const unsigned char hash[LSTORE_HASH], long long since_us,
                           long long *sent_us, long *mails)
{
    sqlite3_stmt *st = q(t, Q_NEWSLETTER_LAST);
    if (!st)
        return PD_EDB;
    bind_hash(st, 1, hash);
    sqlite3_bind_int64(st, 2, since_us);
    int rc = sqlite3_step(st), ret = PD_OK;
    if (rc == SQLITE_ROW) {
        *sent_us = sqlite3_column_int64(st, 0);
        *mails = (long)sqlite3_column_int64(st, 1);
    } else if (rc == SQLITE_DONE) {
        ret = PD_ENOTFOUND;
    } else {
        ret = store_fail(t->c, rc, "newsletter_last");
    }
    store_stmt_done(st);
    return ret;
}

int lstore_newsletter_record(lstore *t, const unsigned char hash[LSTORE_HASH], long long now_us,
                             long mails_de, long mails_en, int forced)
{
    sqlite3_stmt *st = q(t, Q_NEWSLETTER_INSERT);
    if (!st)
        return PD_EDB;
    bind_hash(st, 1, hash);
    sqlite3_bind_int64(st, 2, now_us);
    sqlite3_bind_int64(st, 3, mails_de);
    sqlite3_bind_int64(st, 4, mails_en);
    sqlite3_bind_int(st, 5, forced ? 1 : 0);
    return run(t, st, "newsletter_record");
}

int lstore_ledger_insert(lstore *t, const ledger_new *e, long long *id)
{
    sqlite3_stmt *st = q(t, Q_LEDGER_INSERT);
    if (!st)
        return PD_EDB;
    sqlite3_bind_text(st, 1, e->email, -1, SQLITE_STATIC);
    bind_hash(st, 2, e->email_hash);
    sqlite3_bind_text(st, 3, lead_purpose_name(e->purpose), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, e->pzn);
    sqlite3_bind_text(st, 5, e->text_version, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, e->text_lang, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, e->text_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, e->text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, e->page ? e->page : "", -1, SQLITE_STATIC);
    bind_hash(st, 10, e->ip_hash);
    sqlite3_bind_int64(st, 11, e->signed_up_us);
    int ret = run(t, st, "ledger_insert");
    if (ret == PD_OK && id)
        *id = sqlite3_last_insert_rowid(store_conn_db(t->c));
    return ret;
}

int lstore_ledger_mark(lstore *t, long long id, const char *what, long long now_us)
{
    int which = strcmp(what, "mail_sent") == 0   ? Q_LEDGER_MAIL_SENT
                : strcmp(what, "confirmed") == 0 ? Q_LEDGER_CONFIRMED
                : strcmp(what, "fulfilled") == 0 ? Q_LEDGER_FULFILLED
                                                 : -1;
    if (which < 0)
        return PD_EINVAL;
    sqlite3_stmt *st = q(t, which);
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_us);
    return run(t, st, "ledger_mark");
}

int lstore_ledger_withdrawn(lstore *t, long long id, const char *via, long long now_us)
{
    sqlite3_stmt *st = q(t, Q_LEDGER_WITHDRAWN);
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_us);
    sqlite3_bind_text(st, 3, via, -1, SQLITE_STATIC);
    return run(t, st, "ledger_withdrawn");
}

int lstore_token_insert(lstore *t, const unsigned char hash[LSTORE_HASH], long long lead_id,
                        enum lead_token_kind kind, long long now_us, long long expires_us)
{
    sqlite3_stmt *st = q(t, Q_TOKEN_INSERT);
    if (!st)
        return PD_EDB;
    bind_hash(st, 1, hash);
    sqlite3_bind_int64(st, 2, lead_id);
    sqlite3_bind_text(st, 3, token_kinds[kind == TOKEN_WITHDRAW], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now_us);
    bind_opt_int(st, 5, expires_us);
    return run(t, st, "token_insert");
}

int lstore_token_find(lstore *t, const unsigned char hash[LSTORE_HASH], token_rec *out)
{
    sqlite3_stmt *st = q(t, Q_TOKEN_FIND);
    if (!st)
        return PD_EDB;
    bind_hash(st, 1, hash);
    int rc = sqlite3_step(st), ret = PD_OK;
    if (rc == SQLITE_ROW) {
        /* the index found the row; the comparison that decides is constant-time */
        if (sqlite3_column_bytes(st, 0) != LSTORE_HASH ||
            sodium_memcmp(sqlite3_column_blob(st, 0), hash, LSTORE_HASH) != 0) {
            ret = PD_ENOTFOUND;
        } else {
            out->lead_id = sqlite3_column_int64(st, 1);
            out->kind = (enum lead_token_kind)name_index(token_kinds, PD_ARRAY_LEN(token_kinds),
                                                         sqlite3_column_text(st, 2));
            out->expires_us = sqlite3_column_int64(st, 3);
            out->used_us = sqlite3_column_int64(st, 4);
        }
    } else if (rc == SQLITE_DONE) {
        ret = PD_ENOTFOUND;
    } else {
        ret = store_fail(t->c, rc, "token_find");
    }
    store_stmt_done(st);
    return ret;
}

int lstore_token_use(lstore *t, const unsigned char hash[LSTORE_HASH], long long now_us)
{
    sqlite3_stmt *st = q(t, Q_TOKEN_USE);
    if (!st)
        return PD_EDB;
    bind_hash(st, 1, hash);
    sqlite3_bind_int64(st, 2, now_us);
    return run(t, st, "token_use");
}

int lstore_tokens_drop_confirm(lstore *t, long long lead_id)
{
    sqlite3_stmt *st = q(t, Q_TOKENS_DROP_CONFIRM);
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, lead_id);
    return run(t, st, "tokens_drop_confirm");
}

int lstore_request_insert(lstore *t, const char *email, const unsigned char *email_hash,
                          enum data_request_kind kind, const char *lang,
                          const unsigned char token_hash[LSTORE_HASH], long long now_us,
                          long long expires_us)
{
    sqlite3_stmt *st = q(t, Q_REQ_INSERT);
    if (!st)
        return PD_EDB;
    sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
    bind_hash(st, 2, email_hash);
    sqlite3_bind_text(st, 3, request_kinds[kind == DATA_ERASURE], -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, lang, -1, SQLITE_STATIC);
    bind_hash(st, 5, token_hash);
    sqlite3_bind_int64(st, 6, now_us);
    sqlite3_bind_int64(st, 7, expires_us);
    return run(t, st, "request_insert");
}

int lstore_request_by_token(lstore *t, const unsigned char token_hash[LSTORE_HASH],
                            data_request_rec *out)
{
    sqlite3_stmt *st = q(t, Q_REQ_BY_TOKEN);
    if (!st)
        return PD_EDB;
    bind_hash(st, 1, token_hash);
    int rc = sqlite3_step(st), ret = PD_OK;
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 7) == LSTORE_HASH &&
        sodium_memcmp(sqlite3_column_blob(st, 7), token_hash, LSTORE_HASH) == 0) {
        memset(out, 0, sizeof *out);
        out->id = sqlite3_column_int64(st, 0);
        copy_text(out->email, sizeof out->email, st, 1);
        out->kind = (enum data_request_kind)name_index(request_kinds, PD_ARRAY_LEN(request_kinds),
                                                       sqlite3_column_text(st, 2));
        copy_text(out->lang, sizeof out->lang, st, 3);
        out->created_us = sqlite3_column_int64(st, 4);
        out->expires_us = sqlite3_column_int64(st, 5);
        out->completed_us = sqlite3_column_int64(st, 6);
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        ret = PD_ENOTFOUND;
    } else {
        ret = store_fail(t->c, rc, "request_by_token");
    }
    store_stmt_done(st);
    return ret;
}

int lstore_request_last(lstore *t, const unsigned char *email_hash, long long *last_us)
{
    sqlite3_stmt *st = q(t, Q_REQ_LAST);
    if (!st)
        return PD_EDB;
    bind_hash(st, 1, email_hash);
    return one_int(t, st, last_us, "request_last");
}

int lstore_request_complete(lstore *t, long long id, long long now_us)
{
    sqlite3_stmt *st = q(t, Q_REQ_COMPLETE);
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_us);
    return run(t, st, "request_complete");
}

/* the rows of one export statement, columns by their names; *_at columns as ISO times */
static int export_rows(lstore *t, int which, const char *table, const unsigned char *email_hash,
                       lstore_row_cb cb, void *arg)
{
    sqlite3_stmt *st = q(t, which);
    lstore_field f[24];
    char hex[24][2 * LSTORE_HASH + 1], iso[24][32];
    int rc, ret = PD_OK;
    if (!st)
        return PD_EDB;
    bind_hash(st, 1, email_hash);
    while (ret == PD_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        size_t n = 0;
        int ncol = sqlite3_column_count(st);
        for (int i = 0; i < ncol && n < PD_ARRAY_LEN(f); i++) {
            const char *name = sqlite3_column_name(st, i);
            size_t nl = strlen(name);
            int type = sqlite3_column_type(st, i);
            if (type == SQLITE_NULL)
                continue;
            f[n].name = name;
            f[n].text = NULL;
            f[n].num = 0;
            if (type == SQLITE_INTEGER && nl > 3 && strcmp(name + nl - 3, "_at") == 0) {
                pd_iso_time(sqlite3_column_int64(st, i), iso[n]);
                f[n].text = iso[n];
            } else if (type == SQLITE_INTEGER) {
                f[n].num = sqlite3_column_int64(st, i);
            } else if (type == SQLITE_BLOB) {
                int len = sqlite3_column_bytes(st, i);
                sodium_bin2hex(hex[n], sizeof hex[n], sqlite3_column_blob(st, i),
                               (size_t)(len > LSTORE_HASH ? LSTORE_HASH : len));
                f[n].text = hex[n];
            } else {
                f[n].text = (const char *)sqlite3_column_text(st, i);
            }
            n++;
        }
        ret = cb(table, f, n, arg);
    }
    if (ret == PD_OK && rc != SQLITE_DONE)
        ret = store_fail(t->c, rc, "export");
    store_stmt_done(st);
    return ret;
}

#ifdef PD_FAULT_INJECTION
int lstore_dump(store *s, lstore_row_cb cb, void *arg)
{
    static const char *const tables[][2] = {
        {"lead_secret", "SELECT id FROM lead_secret"},
        {"leads", "SELECT * FROM leads"},
        {"lead_tokens", "SELECT * FROM lead_tokens"},
        {"consent_ledger", "SELECT * FROM consent_ledger"},
        {"data_requests", "SELECT * FROM data_requests"},
        {"mail_queue", "SELECT * FROM mail_queue"},
        {"newsletter_sends", "SELECT * FROM newsletter_sends"},
    };
    store_conn *c = store_acquire(s);
    sqlite3 *db = store_conn_db(c);
    int ret = PD_OK;
    for (size_t k = 0; ret == PD_OK && k < PD_ARRAY_LEN(tables); k++) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, tables[k][1], -1, &st, NULL);
        while (ret == PD_OK && rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
            lstore_field f[24];
            buf vals[24];
            int n = sqlite3_column_count(st);
            for (int i = 0; i < n && i < 24; i++) {
                vals[i] = (buf)BUF_INIT;
                f[i].name = sqlite3_column_name(st, i);
                f[i].num = sqlite3_column_int64(st, i);
                f[i].text = NULL;
                int type = sqlite3_column_type(st, i);
                const unsigned char *b = sqlite3_column_blob(st, i);
                int len = sqlite3_column_bytes(st, i);
                if (type == SQLITE_BLOB && len == LSTORE_HASH) {
                    for (int j = 0; j < len; j++)
                        buf_printf(&vals[i], "%02x", b[j]);
                } else if (type == SQLITE_BLOB || type == SQLITE_TEXT) {
                    for (int j = 0; j < len; j++)
                        if (b[j] == '\n')
                            buf_puts(&vals[i], "\\n");
                        else
                            buf_putc(&vals[i], (char)b[j]);
                } else if (type == SQLITE_NULL) {
                    buf_puts(&vals[i], "NULL");
                }
                if (type != SQLITE_INTEGER)
                    f[i].text = buf_cstr(&vals[i]);
            }
            ret = cb(tables[k][0], f, (size_t)(n < 24 ? n : 24), arg);
            for (int i = 0; i < n && i < 24; i++)
                buf_free(&vals[i]);
        }
        if (rc != SQLITE_OK)
            ret = store_fail(c, rc, "dump");
        sqlite3_finalize(st);
    }
    store_release(s, c);
    return ret;
}
#endif

int lstore_export(lstore *t, const unsigned char *email_hash, lstore_row_cb cb, void *arg)
{
    int ret = export_rows(t, Q_EXP_LEADS, "leads", email_hash, cb, arg);
    if (ret == PD_OK)
        ret = export_rows(t, Q_EXP_LEDGER, "consent_ledger", email_hash, cb, arg);
    if (ret == PD_OK)
        ret = export_rows(t, Q_EXP_REQUESTS, "data_requests", email_hash, cb, arg);
    if (ret == PD_OK)
        ret = export_rows(t, Q_EXP_MAILS, "mail_queue", email_hash, cb, arg);
    return ret;
}

/* runs a statement binding ?1 hash and ?2 now; *changed gets the rows it changed */
static int run_hash(lstore *t, int which, const unsigned char *hash, long long now_us,
                    long *changed)
{
    sqlite3_stmt *st = q(t, which);
    if (!st)
        return PD_EDB;
    bind_hash(st, 1, hash);
    if (sqlite3_bind_parameter_count(st) >= 2)
        sqlite3_bind_int64(st, 2, now_us);
    int ret = run(t, st, "erase");
    if (ret == PD_OK && changed)
        *changed = sqlite3_changes(store_conn_db(t->c));
    return ret;
}

int lstore_erase(lstore *t, const unsigned char *email_hash, long long now_us, int ledger,
                 lstore_erased *out)
{
    long n = 0;
    int ret;
    if (ledger) {
        /* a consent still running ends with the erasure; the ledger records that */
        ret = run_hash(t, Q_ERASE_LEDGER_WITHDRAW, email_hash, now_us, NULL);
        if (ret == PD_OK && (ret = run_hash(t, Q_ERASE_LEDGER, email_hash, now_us, &n)) == PD_OK)
            out->ledger_pseudonymised += n;
        return ret;
    }
    if ((ret = run_hash(t, Q_ERASE_MAILS, email_hash, now_us, &n)) != PD_OK)
        return ret;
    out->mails_dropped += n;
    if ((ret = run_hash(t, Q_ERASE_LEADS, email_hash, now_us, &n)) != PD_OK)
        return ret;
    out->leads += n;
    if ((ret = run_hash(t, Q_ERASE_REQUESTS, email_hash, now_us, &n)) != PD_OK)
        return ret;
    out->requests_pseudonymised += n;
    return PD_OK;
}

int lstore_mail_enqueue(lstore *t, const char *kind, const unsigned char *recipient_hash,
                        long long lead_id, const char *message, size_t len, long long now_us,
                        long long *id)
{
    sqlite3_stmt *st = q(t, Q_MAIL_INSERT);
    if (!st)
        return PD_EDB;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    bind_hash(st, 2, recipient_hash);
    bind_opt_int(st, 3, lead_id);
    sqlite3_bind_blob64(st, 4, message, len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now_us);
    int ret = run(t, st, "mail_enqueue");
    if (ret == PD_OK && id)
        *id = sqlite3_last_insert_rowid(store_conn_db(t->c));
    return ret;
}

int lstore_mail_claim(lstore *t, long long now_us, long long lease_us, mail_rec *out)
{
    sqlite3_stmt *st = q(t, Q_MAIL_NEXT);
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, now_us);
    int rc = sqlite3_step(st), ret = PD_OK;
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        copy_text(out->kind, sizeof out->kind, st, 1);
        out->attempts = sqlite3_column_int(st, 2) + 1;
        buf_reset(&out->message);
        buf_append(&out->message, sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3));
    } else if (rc == SQLITE_DONE) {
        ret = PD_ENOTFOUND;
    } else {
        ret = store_fail(t->c, rc, "mail_next");
    }
    store_stmt_done(st);
    if (ret != PD_OK)
        return ret;
    if (!(st = q(t, Q_MAIL_LEASE)))
        return PD_EDB;
    sqlite3_bind_int64(st, 1, out->id);
    sqlite3_bind_int64(st, 2, lease_us);
    return run(t, st, "mail_lease");
}

int lstore_mail_done(lstore *t, long long id)
{
    sqlite3_stmt *st = q(t, Q_MAIL_DONE);
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, id);
    return run(t, st, "mail_done");
}

int lstore_mail_failed(lstore *t, long long id, long long next_us, const char *error)
{
    sqlite3_stmt *st = q(t, Q_MAIL_FAILED);
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, next_us);
    sqlite3_bind_text(st, 3, error ? error : "", -1, SQLITE_STATIC);
    return run(t, st, "mail_failed");
}

int lstore_mail_drop_lead(lstore *t, long long lead_id, long *dropped)
{
    sqlite3_stmt *st = q(t, Q_MAIL_DROP_LEAD);
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, lead_id);
    int ret = run(t, st, "mail_drop_lead");
    if (ret == PD_OK && dropped)
        *dropped = sqlite3_changes(store_conn_db(t->c));
    return ret;
}

int lstore_mail_stats(lstore *t, long *queued, long long *next_us)
{
    sqlite3_stmt *st = q(t, Q_MAIL_STATS);
    if (!st)
        return PD_EDB;
    int rc = sqlite3_step(st), ret = PD_OK;
    if (rc == SQLITE_ROW) {
        *queued = (long)sqlite3_column_int64(st, 0);
        *next_us = sqlite3_column_int64(st, 1);
    } else {
        ret = store_fail(t->c, rc, "mail_stats");
    }
    store_stmt_done(st);
    return ret;
}

/* a purge statement with ?1 a time limit (and ?2 now when it has one) */
static int purge_one(lstore *t, int which, long long limit, long long now_us, long *changed)
{
    sqlite3_stmt *st = q(t, which);
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, limit);
    if (sqlite3_bind_parameter_count(st) >= 2)
        sqlite3_bind_int64(st, 2, now_us);
    int ret = run(t, st, "purge");
    if (ret == PD_OK && changed)
        *changed = sqlite3_changes(store_conn_db(t->c));
    return ret;
}

int lstore_purge(lstore *t, long long now_us, long long unconfirmed_before_us,
                 long long ended_before_us, long long ledger_before_us, lstore_purged *out)
{
    long ignored = 0;
    memset(out, 0, sizeof *out);
    int ret = purge_one(t, Q_PURGE_MAILS, unconfirmed_before_us, now_us, &ignored);
    if (ret == PD_OK)
        ret = purge_one(t, Q_PURGE_UNCONFIRMED, unconfirmed_before_us, now_us, &out->unconfirmed);
    if (ret == PD_OK)
        ret = purge_one(t, Q_PURGE_LEDGER, unconfirmed_before_us, now_us, &ignored);
    if (ret == PD_OK)
        ret = purge_one(t, Q_PURGE_ENDED, ended_before_us, now_us, &out->ended);
    if (ret == PD_OK)
        /* expired links are kept a while, so that a late click learns "expired", not
         * "unknown"; they go with the unconfirmed sign-ups */
        ret = purge_one(t, Q_PURGE_TOKENS, unconfirmed_before_us, now_us, &out->tokens);
    if (ret == PD_OK)
        ret = purge_one(t, Q_PURGE_REQUESTS, unconfirmed_before_us, now_us, &out->requests);
    if (ret == PD_OK)
        ret = purge_one(t, Q_PURGE_REQ_PSEUDO, ended_before_us, now_us, &ignored);
    if (ret == PD_OK)
        ret = purge_one(t, Q_PURGE_PSEUDO, ledger_before_us, now_us, &out->pseudonymised);
    return ret;
}
