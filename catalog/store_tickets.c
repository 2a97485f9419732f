/* handoff tickets, staff accounts, sessions and the ticket event log: their tables and SQL */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pd.h"
#include "store_int.h"
#include "tickets_store.h"

/* migration 4. Times are microseconds since 1970 (pd_wall_us). Texts that retention or an
 * erasure deletes are nullable; the rows stay so that audit entries keep their reference. */
const char store_migration_tickets[] =
    "CREATE TABLE staff ("
    " id INTEGER PRIMARY KEY,"
    " username TEXT NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 64),"
    " role TEXT NOT NULL CHECK (role IN ('pharmacist', 'admin')),"
    " pwhash TEXT NOT NULL CHECK (pwhash LIKE '$argon2id$%'),"
    " disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),"
    " created_us INTEGER NOT NULL) STRICT;"
    "CREATE TABLE staff_sessions ("
    " id_hash BLOB PRIMARY KEY CHECK (length(id_hash) = 32),"
    " staff_id INTEGER NOT NULL REFERENCES staff(id),"
    " csrf TEXT NOT NULL CHECK (length(csrf) BETWEEN 32 AND 63),"
    " created_us INTEGER NOT NULL,"
    " last_seen_us INTEGER NOT NULL) STRICT, WITHOUT ROWID;"
    "CREATE INDEX staff_sessions_staff ON staff_sessions(staff_id);"
    "CREATE TABLE login_failures ("
    " username TEXT PRIMARY KEY CHECK (length(username) BETWEEN 1 AND 64),"
    " failures INTEGER NOT NULL CHECK (failures >= 0),"
    " blocked_until_us INTEGER NOT NULL,"
    " last_us INTEGER NOT NULL) STRICT, WITHOUT ROWID;"
    "CREATE TABLE tickets ("
    " id INTEGER PRIMARY KEY,"
    " public_id TEXT NOT NULL UNIQUE CHECK (length(public_id) = 16),"
    " conversation TEXT,"
    " msg_key BLOB CHECK (msg_key IS NULL OR length(msg_key) = 32),"
    " status TEXT NOT NULL CHECK (status IN ('open', 'claimed', 'answered', 'closed')),"
    " priority INTEGER NOT NULL CHECK (priority IN (0, 1, 2)),"
    " lang TEXT NOT NULL CHECK (lang IN ('de', 'en')),"
    " message TEXT,"
    " health_data INTEGER NOT NULL CHECK (health_data IN (0, 1)),"
    " consent_version TEXT, consent_hash TEXT, consent_us INTEGER,"
    " contact_name TEXT, contact_email TEXT, contact_phone TEXT,"
    " claimed_by INTEGER REFERENCES staff(id),"
    " created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL, closed_us INTEGER,"
    " purged INTEGER NOT NULL DEFAULT 0 CHECK (purged IN (0, 1)),"
    /* health data only with the consent's version, hash and time (GDPR Art. 9(2)(a)) */
    " CHECK (health_data = 0 OR message IS NULL OR"
    "        (consent_version IS NOT NULL AND consent_hash IS NOT NULL AND consent_us IS NOT "
    "NULL)),"
    " CHECK ((status = 'closed') = (closed_us IS NOT NULL)),"
    " CHECK (status = 'open' OR status = 'closed' OR claimed_by IS NOT NULL)) STRICT;"
    "CREATE INDEX tickets_queue ON tickets(status, priority, created_us);"
    "CREATE INDEX tickets_conversation ON tickets(conversation) WHERE conversation IS NOT NULL;"
    "CREATE INDEX tickets_email ON tickets(lower(contact_email)) WHERE contact_email IS NOT NULL;"
    "CREATE INDEX tickets_closed ON tickets(closed_us) WHERE purged = 0;"
    "CREATE TABLE ticket_tokens ("
    " ticket_id INTEGER NOT NULL REFERENCES tickets(id),"
    " token_hash BLOB NOT NULL CHECK (length(token_hash) = 32),"
    " created_us INTEGER NOT NULL,"
    " PRIMARY KEY (ticket_id, token_hash)) STRICT, WITHOUT ROWID;"
    "CREATE TABLE ticket_replies ("
    " id INTEGER PRIMARY KEY,"
    " ticket_id INTEGER NOT NULL REFERENCES tickets(id),"
    " staff_id INTEGER NOT NULL REFERENCES staff(id),"
    " at_us INTEGER NOT NULL,"
    " text TEXT) STRICT;"
    "CREATE INDEX ticket_replies_ticket ON ticket_replies(ticket_id, id);"
    "CREATE TABLE ticket_events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " at_us INTEGER NOT NULL,"
    " type TEXT NOT NULL CHECK (type IN ('new', 'claimed', 'replied', 'closed', 'assigned',"
    "                                    'escalated')),"
    " ticket TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('open', 'claimed', 'answered', 'closed')),"
    " priority INTEGER NOT NULL CHECK (priority IN (0, 1, 2)),"
    " claimed_by TEXT) STRICT;"
    "CREATE INDEX ticket_events_at ON ticket_events(at_us);";

#define TICKET_COLS                                                                                \
    "t.id, t.public_id, t.status, t.priority, t.lang, t.health_data, t.created_us,"                \
    " t.updated_us, t.closed_us, t.consent_us, t.conversation, t.message, t.consent_version,"      \
    " t.consent_hash, t.contact_name, t.contact_email, t.contact_phone, s.username, t.purged"
#define TICKET_FROM " FROM tickets t LEFT JOIN staff s ON s.id = t.claimed_by "

enum {
    Q_FIND_RETRY,
    Q_TOKEN_ADD,
    Q_TOKEN_TRIM,
    Q_TICKET_INSERT,
    Q_EVENT_INSERT,
    Q_TICKET_BY_PUBLIC,
    Q_TOKENS_OF,
    Q_REPLIES_OF,
    Q_LIST_STATUS,
    Q_LIST_ACTIVE,
    Q_ACTIVE_CONVO,
    Q_CLAIM_CAS,
    Q_SET_ANSWERED,
    Q_REPLY_INSERT,
    Q_CLOSE,
    Q_ASSIGN,
    Q_ESCALATE,
    Q_EVENTS_AFTER,
    Q_EVENTS_LAST,
    Q_PURGE_REPLIES,
    Q_PURGE_TOKENS,
    Q_PURGE_TICKETS,
    Q_PURGE_EVENTS,
    Q_PURGE_FAILURES,
    Q_PURGE_SESSIONS,
    Q_BY_EMAIL,
    Q_STAFF_INSERT,
    Q_STAFF_GET,
    Q_STAFF_GET_ID,
    Q_STAFF_PASSWD,
    Q_STAFF_DISABLE,
    Q_SESSIONS_END,
    Q_SESSIONS_END_BUT,
    Q_STAFF_LIST,
    Q_STAFF_COUNT,
    Q_FAIL_GET,
    Q_FAIL_SET,
    Q_FAIL_CLEAR,
    Q_SESSION_INSERT,
    Q_SESSION_GET,
    Q_SESSION_TOUCH,
    Q_SESSION_DELETE,
    Q_ERASE_REPLIES,
    Q_ERASE_TOKENS,
    Q_ERASE_TICKET,
    Q_COUNT
};

static const char *const q_sql[Q_COUNT] = {
    [Q_FIND_RETRY] = "SELECT id, public_id FROM tickets WHERE conversation = ?1 AND msg_key = ?2"
                     " AND status <> 'closed' ORDER BY id DESC LIMIT 1",
    [Q_TOKEN_ADD] = "INSERT OR IGNORE INTO ticket_tokens (ticket_id, token_hash, created_us)"
                    " VALUES (?1, ?2, ?3)",
    [Q_TOKEN_TRIM] = "DELETE FROM ticket_tokens WHERE ticket_id = ?1 AND token_hash NOT IN"
                     " (SELECT token_hash FROM ticket_tokens WHERE ticket_id = ?1"
                     "  ORDER BY created_us DESC LIMIT ?2)",
    [Q_TICKET_INSERT] =
        "INSERT INTO tickets (public_id, conversation, msg_key, status, priority, lang, message,"
        " health_data, consent_version, consent_hash, consent_us, contact_name, contact_email,"
        " contact_phone, created_us, updated_us)"
        " VALUES (?1, ?2, ?3, 'open', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
    [Q_EVENT_INSERT] =
        "INSERT INTO ticket_events (at_us, type, ticket, status, priority, claimed_by)"
        " SELECT ?1, ?2, t.public_id, t.status, t.priority, s.username"
        " FROM tickets t LEFT JOIN staff s ON s.id = t.claimed_by WHERE t.id = ?3",
    [Q_TICKET_BY_PUBLIC] = "SELECT " TICKET_COLS TICKET_FROM "WHERE t.public_id = ?1",
    [Q_TOKENS_OF] = "SELECT token_hash FROM ticket_tokens WHERE ticket_id = ?1",
    [Q_REPLIES_OF] = "SELECT r.at_us, s.username, r.text FROM ticket_replies r"
                     " JOIN staff s ON s.id = r.staff_id WHERE r.ticket_id = ?1 ORDER BY r.id",
    [Q_LIST_STATUS] = "SELECT " TICKET_COLS TICKET_FROM
                      "WHERE t.status = ?1 ORDER BY t.priority, t.created_us, t.id LIMIT 1000",
    [Q_LIST_ACTIVE] = "SELECT " TICKET_COLS TICKET_FROM "WHERE t.status <> 'closed'"
                      " ORDER BY t.priority, t.created_us, t.id LIMIT 1000",
    [Q_ACTIVE_CONVO] = "SELECT public_id, status FROM tickets WHERE conversation = ?1"
                       " AND status <> 'closed' ORDER BY id DESC LIMIT 1",
    /* the compare-and-set: only an unclaimed ticket that is not closed changes hands */
    [Q_CLAIM_CAS] = "UPDATE tickets SET claimed_by = ?2, updated_us = ?3,"
                    " status = CASE status WHEN 'open' THEN 'claimed' ELSE status END"
                    " WHERE id = ?1 AND claimed_by IS NULL AND status <> 'closed'",
    [Q_SET_ANSWERED] = "UPDATE tickets SET status = 'answered', updated_us = ?2 WHERE id = ?1",
    [Q_REPLY_INSERT] =
        "INSERT INTO ticket_replies (ticket_id, staff_id, at_us, text) VALUES (?1, ?2, ?3, ?4)",
    [Q_CLOSE] = "UPDATE tickets SET status = 'closed', closed_us = ?2, updated_us = ?2"
                " WHERE id = ?1 AND status <> 'closed'",
    [Q_ASSIGN] = "UPDATE tickets SET claimed_by = ?2, updated_us = ?3,"
                 " status = CASE status WHEN 'open' THEN 'claimed' ELSE status END"
                 " WHERE id = ?1 AND status <> 'closed'",
    [Q_ESCALATE] = "UPDATE tickets SET priority = ?2, updated_us = ?3"
                   " WHERE id = ?1 AND priority > ?2 AND status <> 'closed'",
    [Q_EVENTS_AFTER] = "SELECT id, at_us, type, ticket, status, priority, claimed_by"
                       " FROM ticket_events WHERE id > ?1 ORDER BY id LIMIT ?2",
    [Q_EVENTS_LAST] = "SELECT coalesce(max(id), 0) FROM ticket_events",
    [Q_PURGE_REPLIES] = "UPDATE ticket_replies SET text = NULL WHERE text IS NOT NULL AND"
                        " ticket_id IN (SELECT id FROM tickets WHERE status = 'closed'"
                        " AND purged = 0 AND closed_us < ?1)",
    [Q_PURGE_TOKENS] = "DELETE FROM ticket_tokens WHERE ticket_id IN (SELECT id FROM tickets"
                       " WHERE status = 'closed' AND purged = 0 AND closed_us < ?1)",
    [Q_PURGE_TICKETS] = "UPDATE tickets SET message = NULL, conversation = NULL, msg_key = NULL,"
                        " contact_name = NULL, contact_email = NULL, contact_phone = NULL,"
                        " purged = 1 WHERE status = 'closed' AND purged = 0 AND closed_us < ?1",
    [Q_PURGE_EVENTS] = "DELETE FROM ticket_events WHERE at_us < ?1"
                       " AND id < (SELECT max(id) FROM ticket_events)",
    [Q_PURGE_FAILURES] = "DELETE FROM login_failures WHERE last_us < ?1 AND blocked_until_us < ?2",
    [Q_PURGE_SESSIONS] = "DELETE FROM staff_sessions WHERE last_seen_us < ?1",
    [Q_BY_EMAIL] = "SELECT t.public_id FROM tickets t WHERE lower(t.contact_email) = lower(?1)"
                   " AND t.contact_email IS NOT NULL ORDER BY t.id",
    [Q_STAFF_INSERT] =
        "INSERT INTO staff (username, role, pwhash, created_us) VALUES (?1, ?2, ?3, ?4)",
    [Q_STAFF_GET] =
        "SELECT id, username, role, disabled, created_us, pwhash FROM staff WHERE username = ?1",
    [Q_STAFF_GET_ID] =
        "SELECT id, username, role, disabled, created_us, pwhash FROM staff WHERE id = ?1",
    [Q_STAFF_PASSWD] = "UPDATE staff SET pwhash = ?2 WHERE username = ?1",
    [Q_STAFF_DISABLE] = "UPDATE staff SET disabled = ?2 WHERE username = ?1",
    [Q_SESSIONS_END] = "DELETE FROM staff_sessions WHERE staff_id ="
                       " (SELECT id FROM staff WHERE username = ?1)",
    [Q_SESSIONS_END_BUT] = "DELETE FROM staff_sessions WHERE staff_id ="
                           " (SELECT id FROM staff WHERE username = ?1) AND id_hash <> ?2",
    [Q_STAFF_LIST] = "SELECT id, username, role, disabled, created_us FROM staff ORDER BY username",
    [Q_STAFF_COUNT] = "SELECT count(*) FROM staff",
    [Q_FAIL_GET] = "SELECT failures, blocked_until_us FROM login_failures WHERE username = ?1",
    [Q_FAIL_SET] = "INSERT INTO login_failures (username, failures, blocked_until_us, last_us)"
                   " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (username) DO UPDATE SET failures = "
                   "excluded.failures,"
                   " blocked_until_us = excluded.blocked_until_us, last_us = excluded.last_us",
    [Q_FAIL_CLEAR] = "DELETE FROM login_failures WHERE username = ?1",
    [Q_SESSION_INSERT] = "INSERT INTO staff_sessions (id_hash, staff_id, csrf, created_us,"
                         " last_seen_us) VALUES (?1, ?2, ?3, ?4, ?4)",
    [Q_SESSION_GET] = "SELECT s.staff_id, s.csrf, s.created_us, s.last_seen_us, a.username,"
                      " a.role, a.disabled, a.created_us FROM staff_sessions s"
                      " JOIN staff a ON a.id = s.staff_id WHERE s.id_hash = ?1",
    [Q_SESSION_TOUCH] = "UPDATE staff_sessions SET last_seen_us = ?2 WHERE id_hash = ?1",
    [Q_SESSION_DELETE] = "DELETE FROM staff_sessions WHERE id_hash = ?1",
    [Q_ERASE_REPLIES] = "UPDATE ticket_replies SET text = NULL WHERE ticket_id = ?1",
    [Q_ERASE_TOKENS] = "DELETE FROM ticket_tokens WHERE ticket_id = ?1",
    [Q_ERASE_TICKET] =
        "UPDATE tickets SET message = NULL, conversation = NULL, msg_key = NULL,"
        " contact_name = NULL, contact_email = NULL, contact_phone = NULL, purged = 1,"
        " updated_us = ?2, closed_us = coalesce(closed_us, ?2), status = 'closed' WHERE id = ?1",
};

static const char *const status_names[] = {"open", "claimed", "answered", "closed"};
static const char *const prio_names[] = {"emergency", "adverse_event", "normal"};

const char *ticket_status_name(enum ticket_status s)
{
    return (unsigned)s < PD_ARRAY_LEN(status_names) ? status_names[s] : "open";
}

int ticket_status_parse(const char *s, enum ticket_status *out)
{
    for (size_t i = 0; s && i < PD_ARRAY_LEN(status_names); i++)
        if (strcmp(s, status_names[i]) == 0) {
            *out = (enum ticket_status)i;
            return PD_OK;
        }
    return PD_EINVAL;
}

const char *ticket_priority_name(enum ticket_priority p)
{
    return (unsigned)p < PD_ARRAY_LEN(prio_names) ? prio_names[p] : "normal";
}

static sqlite3_stmt *q(store_conn *c, int id)
{
    return store_stmt(c, STORE_SLOTS_TICKETS + id, q_sql[id]);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? pd_xstrdup((const char *)t) : NULL;
}

static void bind_text_opt(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void copy_col(sqlite3_stmt *st, int i, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

/* runs a statement that returns no rows; the statement is reset afterwards */
static int run_done(store_conn *c, sqlite3_stmt *st, const char *what)
{
    if (!st)
        return PD_EDB;
    int ret = store_step_done(c, st, what);
    store_stmt_done(st);
    return ret;
}

static int add_event(store_conn *c, long long ticket_id, const char *type, long long now)
{
    sqlite3_stmt *st = q(c, Q_EVENT_INSERT);
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, ticket_id);
    return run_done(c, st, "ticket event");
}

static int add_token(store_conn *c, long long ticket_id, const unsigned char *hash, long long now)
{
    sqlite3_stmt *st = q(c, Q_TOKEN_ADD);
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, ticket_id);
    sqlite3_bind_blob(st, 2, hash, TICKET_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    int ret = run_done(c, st, "ticket token");
    if (ret != PD_OK)
        return ret;
    if (!(st = q(c, Q_TOKEN_TRIM)))
        return PD_EDB;
    sqlite3_bind_int64(st, 1, ticket_id);
    sqlite3_bind_int(st, 2, TICKET_MAX_TOKENS);
    return run_done(c, st, "ticket token trim");
}

int tickets_create(store *s, const ticket_new *t, char *public_id_out, int *existed)
{
    store_conn *c = store_acquire(s);
    sqlite3_stmt *st;
    long long id = 0;
    int ret = store_begin(c), rc;
    *existed = 0;
    if (ret != PD_OK)
        goto out;
    if (t->conversation) {
        if (!(st = q(c, Q_FIND_RETRY))) {
            ret = PD_EDB;
            goto out;
        }
        sqlite3_bind_text(st, 1, t->conversation, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, t->msg_key, TICKET_HASH_BYTES, SQLITE_STATIC);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            id = sqlite3_column_int64(st, 0);
            copy_col(st, 1, public_id_out, TICKET_ID_LEN + 1);
            *existed = 1;
        } else if (rc != SQLITE_DONE) {
            ret = store_fail(c, rc, "ticket retry lookup");
        }
        store_stmt_done(st);
        if (ret != PD_OK)
            goto out;
    }
    if (!*existed) {
        if (!(st = q(c, Q_TICKET_INSERT))) {
            ret = PD_EDB;
            goto out;
        }
        sqlite3_bind_text(st, 1, t->public_id, -1, SQLITE_STATIC);
        bind_text_opt(st, 2, t->conversation);
        if (t->conversation)
            sqlite3_bind_blob(st, 3, t->msg_key, TICKET_HASH_BYTES, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 3);
        sqlite3_bind_int(st, 4, (int)t->priority);
        sqlite3_bind_text(st, 5, t->lang, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, t->message, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 7, t->health_data ? 1 : 0);
        bind_text_opt(st, 8, t->consent_version);
        bind_text_opt(st, 9, t->consent_hash);
        if (t->consent_version)
            sqlite3_bind_int64(st, 10, t->now_us);
        else
            sqlite3_bind_null(st, 10);
        bind_text_opt(st, 11, t->contact_name);
        bind_text_opt(st, 12, t->contact_email);
        bind_text_opt(st, 13, t->contact_phone);
        sqlite3_bind_int64(st, 14, t->now_us);
        if ((ret = run_done(c, st, "ticket insert")) != PD_OK)
            goto out;
        id = sqlite3_last_insert_rowid(store_conn_db(c));
        snprintf(public_id_out, TICKET_ID_LEN + 1, "%s", t->public_id);
        if ((ret = add_event(c, id, "new", t->now_us)) != PD_OK)
            goto out;
    }
    if ((ret = add_token(c, id, t->token_hash, t->now_us)) != PD_OK)
        goto out;
    ret = store_commit(c);
out:
    if (ret != PD_OK)
        store_rollback(c);
    store_release(s, c);
    return ret;
}

void ticket_free(ticket *t)
{
    if (!t)
        return;
    free(t->conversation);
    free(t->message);
    free(t->consent_version);
    free(t->consent_hash);
    free(t->contact_name);
    free(t->contact_email);
    free(t->contact_phone);
    free(t->claimed_by);
    for (size_t i = 0; i < t->nreplies; i++) {
        free(t->replies[i].by);
        free(t->replies[i].text);
    }
    free(t->replies);
    free(t);
}

void tickets_free(ticket **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        ticket_free(v[i]);
    free(v);
}

static ticket *ticket_row(sqlite3_stmt *st)
{
    ticket *t = pd_xcalloc(1, sizeof *t);
    enum ticket_status status = TICKET_OPEN;
    t->id = sqlite3_column_int64(st, 0);
    copy_col(st, 1, t->public_id, sizeof t->public_id);
    ticket_status_parse((const char *)sqlite3_column_text(st, 2), &status);
    t->status = status;
    t->priority = (enum ticket_priority)sqlite3_column_int(st, 3);
    copy_col(st, 4, t->lang, sizeof t->lang);
    t->health_data = sqlite3_column_int(st, 5);
    t->created_us = sqlite3_column_int64(st, 6);
    t->updated_us = sqlite3_column_int64(st, 7);
    t->closed_us = sqlite3_column_int64(st, 8);
    t->consent_us = sqlite3_column_int64(st, 9);
    t->conversation = col_dup(st, 10);
    t->message = col_dup(st, 11);
    t->consent_version = col_dup(st, 12);
    t->consent_hash = col_dup(st, 13);
    t->contact_name = col_dup(st, 14);
    t->contact_email = col_dup(st, 15);
    t->contact_phone = col_dup(st, 16);
    t->claimed_by = col_dup(st, 17);
    t->purged = sqlite3_column_int(st, 18);
    return t;
}

static int load_replies(store_conn *c, ticket *t)
{
    sqlite3_stmt *st = q(c, Q_REPLIES_OF);
    size_t cap = 0;
    int rc, ret = PD_OK;
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, t->id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (t->nreplies == cap) {
            cap = cap ? cap * 2 : 4;
            t->replies = pd_xreallocarray(t->replies, cap, sizeof *t->replies);
        }
        ticket_reply *r = &t->replies[t->nreplies++];
        r->at_us = sqlite3_column_int64(st, 0);
        r->by = col_dup(st, 1);
        r->text = col_dup(st, 2);
    }
    if (rc != SQLITE_DONE)
        ret = store_fail(c, rc, "ticket replies");
    store_stmt_done(st);
    return ret;
}

/* the ticket and its replies over one connection (the caller holds c) */
static int get_ticket(store_conn *c, const char *public_id, ticket **out)
{
    sqlite3_stmt *st = q(c, Q_TICKET_BY_PUBLIC);
    ticket *t = NULL;
    int rc, ret = PD_OK;
    *out = NULL;
    if (!st)
        return PD_EDB;
    sqlite3_bind_text(st, 1, public_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        t = ticket_row(st);
    else
        ret = rc == SQLITE_DONE ? PD_ENOTFOUND : store_fail(c, rc, "ticket get");
    store_stmt_done(st);
    if (ret == PD_OK && (ret = load_replies(c, t)) != PD_OK) {
        ticket_free(t);
        t = NULL;
    }
    *out = t;
    return ret;
}

int tickets_get(store *s, const char *public_id, ticket **out)
{
    store_conn *c = store_acquire(s);
    int ret = get_ticket(c, public_id, out);
    store_release(s, c);
    return ret;
}

int tickets_get_by_token(store *s, const char *public_id,
                         const unsigned char token_hash[TICKET_HASH_BYTES], ticket **out)
{
    /* an unknown ticket is compared against this, so both failures take the same work */
    static const unsigned char decoy[TICKET_HASH_BYTES] = {0xff};
    store_conn *c = store_acquire(s);
    ticket *t = NULL;
    int match = 0, rc, ret = get_ticket(c, public_id, &t);
    *out = NULL;
    if (ret != PD_OK && ret != PD_ENOTFOUND)
        goto out;
    sqlite3_stmt *st = q(c, Q_TOKENS_OF);
    if (!st) {
        ret = PD_EDB;
        goto out;
    }
    sqlite3_bind_int64(st, 1, t ? t->id : -1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *h = sqlite3_column_blob(st, 0);
        if (h && sqlite3_column_bytes(st, 0) == TICKET_HASH_BYTES)
            match |= sodium_memcmp(h, token_hash, TICKET_HASH_BYTES) == 0;
    }
    if (!t && sodium_memcmp(decoy, token_hash, TICKET_HASH_BYTES) == 0)
        match = 0;
    store_stmt_done(st);
    if (rc != SQLITE_DONE) {
        ret = store_fail(c, rc, "ticket tokens");
        goto out;
    }
    if (t && match) {
        *out = t;
        t = NULL;
        ret = PD_OK;
    } else {
        ret = PD_ENOTFOUND;
    }
out:
    ticket_free(t);
    store_release(s, c);
    return ret;
}

int tickets_list(store *s, int status, ticket ***out, size_t *n)
{
    store_conn *c = store_acquire(s);
    sqlite3_stmt *st = q(c, status < 0 ? Q_LIST_ACTIVE : Q_LIST_STATUS);
    ticket **v = NULL;
    size_t cnt = 0, cap = 0;
    int rc, ret = PD_OK;
    *out = NULL;
    *n = 0;
    if (!st) {
        ret = PD_EDB;
        goto out;
    }
    if (status >= 0)
        sqlite3_bind_text(st, 1, ticket_status_name((enum ticket_status)status), -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            v = pd_xreallocarray(v, cap, sizeof *v);
        }
        v[cnt++] = ticket_row(st);
    }
    store_stmt_done(st);
    if (rc != SQLITE_DONE) {
        ret = store_fail(c, rc, "ticket list");
        goto out;
    }
    for (size_t i = 0; i < cnt && ret == PD_OK; i++)
        ret = load_replies(c, v[i]);
out:
    store_release(s, c);
    if (ret != PD_OK) {
        tickets_free(v, cnt);
        return ret;
    }
    *out = v;
    *n = cnt;
    return PD_OK;
}

int tickets_active_for_conversation(store *s, const char *conversation, char *public_id_out,
                                    enum ticket_status *status)
{
    store_conn *c = store_acquire(s);
    sqlite3_stmt *st = q(c, Q_ACTIVE_CONVO);
    int rc, ret = PD_ENOTFOUND;
    if (!st) {
        store_release(s, c);
        return PD_EDB;
    }
    sqlite3_bind_text(st, 1, conversation, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        copy_col(st, 0, public_id_out, TICKET_ID_LEN + 1);
        ticket_status_parse((const char *)sqlite3_column_text(st, 1), status);
        ret = PD_OK;
    } else if (rc != SQLITE_DONE) {
        ret = store_fail(c, rc, "ticket of conversation");
    }
    store_stmt_done(st);
    store_release(s, c);
    return ret;
}

/* in a transaction: the ticket's row id, status and holder */
static int ticket_state(store_conn *c, const char *public_id, long long *id,
                        enum ticket_status *status, long long *holder, int *priority)
{
    static const char sql[] = "SELECT id, status, coalesce(claimed_by, 0), priority FROM tickets"
                              " WHERE public_id = ?1";
    sqlite3_stmt *st = store_stmt(c, STORE_SLOTS_TICKETS + Q_COUNT, sql);
    int rc, ret = PD_OK;
    if (!st)
        return PD_EDB;
    sqlite3_bind_text(st, 1, public_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        *status = TICKET_OPEN;
        ticket_status_parse((const char *)sqlite3_column_text(st, 1), status);
        *holder = sqlite3_column_int64(st, 2);
        if (priority)
            *priority = sqlite3_column_int(st, 3);
    } else {
        ret = rc == SQLITE_DONE ? PD_ENOTFOUND : store_fail(c, rc, "ticket state");
    }
    store_stmt_done(st);
    return ret;
}

/* the compare-and-set; 1 in *won when this staff member took the ticket now */
static int claim_cas(store_conn *c, long long id, long long staff_id, long long now, int *won)
{
    sqlite3_stmt *st = q(c, Q_CLAIM_CAS);
    if (!st)
        return PD_EDB;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, staff_id);
    sqlite3_bind_int64(st, 3, now);
    int ret = run_done(c, st, "ticket claim");
    *won = ret == PD_OK && sqlite3_changes(store_conn_db(c)) == 1;
    return ret;
}

int tickets_claim(store *s, const char *public_id, long long staff_id, long long now_us,
                  int *changed)
{
    store_conn *c = store_acquire(s);
    long long id = 0, holder = 0;
    enum ticket_status status;
    int won = 0, ret = store_begin(c);
    *changed = 0;
    if (ret != PD_OK)
        goto out;
    if ((ret = ticket_state(c, public_id, &id, &status, &holder, NULL)) != PD_OK)
        goto out;
    if ((ret = claim_cas(c, id, staff_id, now_us, &won)) != PD_OK)
        goto out;
    if (!won) {
        ret = status == TICKET_CLOSED ? PD_EPERM : holder == staff_id ? PD_OK : PD_EEXIST;
        goto out;
    }
    if ((ret = add_event(c, id, "claimed", now_us)) != PD_OK)
        goto out;
    if ((ret = store_commit(c)) == PD_OK)
        *changed = 1;
out:
    store_rollback(c);
    store_release(s, c);
    return ret;
}

int tickets_reply(store *s, const char *public_id, long long staff_id, const char *text,
                  long long now_us)
{
    store_conn *c = store_acquire(s);
    long long id = 0, holder = 0;
    enum ticket_status status;
    sqlite3_stmt *st;
    int won = 0, ret = store_begin(c);
    if (ret != PD_OK)
        goto out;
    if ((ret = ticket_state(c, public_id, &id, &status, &holder, NULL)) != PD_OK)
        goto out;
    if (status == TICKET_CLOSED) {
        ret = PD_EPERM;
        goto out;
    }
    if (holder == 0 && (ret = claim_cas(c, id, staff_id, now_us, &won)) != PD_OK)
        goto out;
    if (holder != staff_id && !won) {
        ret = PD_EEXIST;
        goto out;
    }
    if (!(st = q(c, Q_REPLY_INSERT))) {
        ret = PD_EDB;
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, staff_id);
    sqlite3_bind_int64(st, 3, now_us);
    sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
    if ((ret = run_done(c, st, "ticket reply")) != PD_OK)
        goto out;
    if (!(st = q(c, Q_SET_ANSWERED))) {
        ret = PD_EDB;
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_us);
    if ((ret = run_done(c, st, "ticket answered")) != PD_OK ||
        (ret = add_event(c, id, "replied", now_us)) != PD_OK)
        goto out;
    ret = store_commit(c);
out:
    store_rollback(c);
    store_release(s, c);
    return ret;
}

int tickets_close(store *s, const char *public_id, long long staff_id, int admin, long long now_us)
{
    store_conn *c = store_acquire(s);
    long long id = 0, holder = 0;
    enum ticket_status status;
    sqlite3_stmt *st;
    int ret = store_begin(c);
    if (ret != PD_OK)
        goto out;
    if ((ret = ticket_state(c, public_id, &id, &status, &holder, NULL)) != PD_OK)
        goto out;
    if (status == TICKET_CLOSED) {
        ret = PD_EPERM;
        goto out;
    }
    if (holder != 0 && holder != staff_id && !admin) {
        ret = PD_EEXIST;
        goto out;
    }
    if (!(st = q(c, Q_CLOSE))) {
        ret = PD_EDB;
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_us);
    if ((ret = run_done(c, st, "ticket close")) != PD_OK ||
        (ret = add_event(c, id, "closed", now_us)) != PD_OK)
        goto out;
    ret = store_commit(c);
out:
    store_rollback(c);
    store_release(s, c);
    return ret;
}

int tickets_assign(store *s, const char *public_id, const char *username, long long now_us)
{
    staff_account to;
    int ret = staff_get(s, username, &to, NULL);
    if (ret == PD_ENOTFOUND || (ret == PD_OK && to.disabled))
        return PD_EINVAL;
    if (ret != PD_OK)
        return ret;
    store_conn *c = store_acquire(s);
    long long id = 0, holder = 0;
    enum ticket_status status;
    sqlite3_stmt *st;
    if ((ret = store_begin(c)) != PD_OK)
        goto out;
    if ((ret = ticket_state(c, public_id, &id, &status, &holder, NULL)) != PD_OK)
        goto out;
    if (status == TICKET_CLOSED) {
        ret = PD_EPERM;
        goto out;
    }
    if (!(st = q(c, Q_ASSIGN))) {
        ret = PD_EDB;
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, to.id);
    sqlite3_bind_int64(st, 3, now_us);
    if ((ret = run_done(c, st, "ticket assign")) != PD_OK ||
        (ret = add_event(c, id, "assigned", now_us)) != PD_OK)
        goto out;
    ret = store_commit(c);
out:
    store_rollback(c);
    store_release(s, c);
    return ret;
}

int tickets_escalate(store *s, const char *public_id, enum ticket_priority p, long long now_us)
{
    store_conn *c = store_acquire(s);
    long long id = 0, holder = 0;
    enum ticket_status status;
    sqlite3_stmt *st;
    int ret = store_begin(c);
    if (ret != PD_OK)
        goto out;
    if ((ret = ticket_state(c, public_id, &id, &status, &holder, NULL)) != PD_OK)
        goto out;
    if (!(st = q(c, Q_ESCALATE))) {
        ret = PD_EDB;
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, (int)p);
    sqlite3_bind_int64(st, 3, now_us);
    if ((ret = run_done(c, st, "ticket escalate")) != PD_OK)
        goto out;
    if (sqlite3_changes(store_conn_db(c)) == 1 &&
        (ret = add_event(c, id, "escalated", now_us)) != PD_OK)
        goto out;
    ret = store_commit(c);
out:
    store_rollback(c);
    store_release(s, c);
    return ret;
}

int tickets_events_after(store *s, long long after, ticket_event *out, size_t max, size_t *n)
{
    store_conn *c = store_acquire(s);
    sqlite3_stmt *st = q(c, Q_EVENTS_AFTER);
    int rc, ret = PD_OK;
    *n = 0;
    if (!st) {
        store_release(s, c);
        return PD_EDB;
    }
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, (long long)max);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
        ticket_event *e = &out[(*n)++];
        enum ticket_status status = TICKET_OPEN;
        e->id = sqlite3_column_int64(st, 0);
        e->at_us = sqlite3_column_int64(st, 1);
        copy_col(st, 2, e->type, sizeof e->type);
        copy_col(st, 3, e->ticket, sizeof e->ticket);
        ticket_status_parse((const char *)sqlite3_column_text(st, 4), &status);
        e->status = status;
        e->priority = (enum ticket_priority)sqlite3_column_int(st, 5);
        copy_col(st, 6, e->claimed_by, sizeof e->claimed_by);
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        ret = store_fail(c, rc, "ticket events");
    store_stmt_done(st);
    store_release(s, c);
    return ret;
}

/* one statement returning one integer */
static int scalar(store *s, int id, long long *out)
{
    store_conn *c = store_acquire(s);
    sqlite3_stmt *st = q(c, id);
    int rc, ret = PD_OK;
    if (!st) {
        store_release(s, c);
        return PD_EDB;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        ret = store_fail(c, rc, "scalar");
    store_stmt_done(st);
    store_release(s, c);
    return ret;
}

int tickets_events_last(store *s, long long *id)
{
    return scalar(s, Q_EVENTS_LAST, id);
}

int tickets_purge_closed(store *s, long long before_us, long long sessions_before_us, int *n)
{
    static const int steps[] = {Q_PURGE_REPLIES, Q_PURGE_TOKENS,   Q_PURGE_TICKETS,
                                Q_PURGE_EVENTS,  Q_PURGE_FAILURES, Q_PURGE_SESSIONS};
    store_conn *c = store_acquire(s);
    int ret = store_begin(c);
    *n = 0;
    for (size_t i = 0; ret == PD_OK && i < PD_ARRAY_LEN(steps); i++) {
        sqlite3_stmt *st = q(c, steps[i]);
        if (!st) {
            ret = PD_EDB;
            break;
        }
        sqlite3_bind_int64(st, 1, steps[i] == Q_PURGE_SESSIONS ? sessions_before_us : before_us);
        if (steps[i] == Q_PURGE_FAILURES)
            sqlite3_bind_int64(st, 2, sessions_before_us);
        ret = run_done(c, st, "ticket purge");
        if (ret == PD_OK && steps[i] == Q_PURGE_TICKETS)
            *n = sqlite3_changes(store_conn_db(c));
    }
    if (ret == PD_OK)
        ret = store_commit(c);
    store_rollback(c);
    store_release(s, c);
    return ret;
}

/* the public ids of the tickets with this contact address; free(*ids) */
static int ids_by_email(store *s, const char *email, char (**ids)[TICKET_ID_LEN + 1], size_t *n)
{
    store_conn *c = store_acquire(s);
    sqlite3_stmt *st = q(c, Q_BY_EMAIL);
    size_t cap = 0;
    int rc, ret = PD_OK;
    *ids = NULL;
    *n = 0;
    if (!st) {
        store_release(s, c);
        return PD_EDB;
    }
    sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *ids = pd_xreallocarray(*ids, cap, sizeof **ids);
        }
        copy_col(st, 0, (*ids)[(*n)++], TICKET_ID_LEN + 1);
    }
    if (rc != SQLITE_DONE)
        ret = store_fail(c, rc, "tickets by e-mail");
    store_stmt_done(st);
    store_release(s, c);
    return ret;
}

static void add_time(cJSON *o, const char *name, long long us)
{
    char iso[32];
    if (!us) {
        cJSON_AddNullToObject(o, name);
        return;
    }
    pd_iso_time(us, iso);
    cJSON_AddStringToObject(o, name, iso);
}

static void add_str(cJSON *o, const char *name, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

int tickets_export_by_email(store *s, const char *email, cJSON **out)
{
    char(*ids)[TICKET_ID_LEN + 1] = NULL;
    size_t n = 0;
    int ret = ids_by_email(s, email, &ids, &n);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; ret == PD_OK && i < n; i++) {
        ticket *t = NULL;
        if ((ret = tickets_get(s, ids[i], &t)) != PD_OK)
            break;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "ticket", t->public_id);
        cJSON_AddStringToObject(o, "status", ticket_status_name(t->status));
        add_time(o, "created_at", t->created_us);
        add_time(o, "closed_at", t->closed_us);
        add_str(o, "message", t->message);
        cJSON *ct = cJSON_AddObjectToObject(o, "contact");
        add_str(ct, "name", t->contact_name);
        add_str(ct, "email", t->contact_email);
        add_str(ct, "phone", t->contact_phone);
        cJSON_AddBoolToObject(o, "health_data", t->health_data);
        if (t->consent_version) {
            cJSON *cs = cJSON_AddObjectToObject(o, "consent");
            cJSON_AddStringToObject(cs, "text_version", t->consent_version);
            add_str(cs, "text_hash", t->consent_hash);
            add_time(cs, "at", t->consent_us);
        } else {
            cJSON_AddNullToObject(o, "consent");
        }
        cJSON *rs = cJSON_AddArrayToObject(o, "replies");
        for (size_t k = 0; k < t->nreplies; k++) {
            cJSON *r = cJSON_CreateObject();
            add_time(r, "at", t->replies[k].at_us);
            add_str(r, "text", t->replies[k].text);
            cJSON_AddItemToArray(rs, r);
        }
        cJSON_AddItemToArray(arr, o);
        ticket_free(t);
    }
    free(ids);
    if (ret != PD_OK) {
        cJSON_Delete(arr);
        arr = NULL;
    }
    *out = arr;
    return ret;
}

int tickets_erase_by_email(store *s, const char *email, long long now_us, int *n)
{
    char(*ids)[TICKET_ID_LEN + 1] = NULL;
    size_t cnt = 0;
    int ret = ids_by_email(s, email, &ids, &cnt);
    *n = 0;
    if (ret != PD_OK)
        return ret;
    store_conn *c = store_acquire(s);
    if ((ret = store_begin(c)) != PD_OK)
        goto out;
    for (size_t i = 0; ret == PD_OK && i < cnt; i++) {
        long long id = 0, holder = 0;
        enum ticket_status status;
        static const int steps[] = {Q_ERASE_REPLIES, Q_ERASE_TOKENS, Q_ERASE_TICKET};
        if ((ret = ticket_state(c, ids[i], &id, &status, &holder, NULL)) != PD_OK)
            break;
        for (size_t k = 0; ret == PD_OK && k < PD_ARRAY_LEN(steps); k++) {
            sqlite3_stmt *st = q(c, steps[k]);
            if (!st) {
                ret = PD_EDB;
                break;
            }
            sqlite3_bind_int64(st, 1, id);
            if (steps[k] == Q_ERASE_TICKET)
                sqlite3_bind_int64(st, 2, now_us);
            ret = run_done(c, st, "ticket erase");
        }
        if (ret == PD_OK && status != TICKET_CLOSED)
            ret = add_event(c, id, "closed", now_us);
        if (ret == PD_OK)
            (*n)++;
    }
    if (ret == PD_OK)
        ret = store_commit(c);
out:
    store_rollback(c);
    store_release(s, c);
    free(ids);
    if (ret != PD_OK)
        *n = 0;
    return ret;
}

/* ---- staff ---------------------------------------------------------------------------------- */

int staff_create(store *s, const char *username, const char *role, const char *pwhash,
                 long long now_us)
{
    store_conn *c = store_acquire(s);
    sqlite3_stmt *st = q(c, Q_STAFF_INSERT);
    int ret = PD_EDB;
    if (st) {
        sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, role, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, pwhash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now_us);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            ret = PD_OK;
        else if (sqlite3_extended_errcode(store_conn_db(c)) == SQLITE_CONSTRAINT_UNIQUE)
            ret = PD_EEXIST;
        else
            ret = store_fail(c, rc, "staff insert");
        store_stmt_done(st);
    }
    store_release(s, c);
    return ret;
}

static void account_row(sqlite3_stmt *st, staff_account *a)
{
    a->id = sqlite3_column_int64(st, 0);
    copy_col(st, 1, a->username, sizeof a->username);
    copy_col(st, 2, a->role, sizeof a->role);
    a->disabled = sqlite3_column_int(st, 3);
    a->created_us = sqlite3_column_int64(st, 4);
}

static int staff_fetch(store *s, int qid, const char *username, long long id, staff_account *out,
                       char *pwhash)
{
    store_conn *c = store_acquire(s);
    sqlite3_stmt *st = q(c, qid);
    int rc, ret = PD_OK;
    if (!st) {
        store_release(s, c);
        return PD_EDB;
    }
    if (username)
        sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        account_row(st, out);
        if (pwhash)
            copy_col(st, 5, pwhash, STAFF_HASH_MAX);
    } else {
        ret = rc == SQLITE_DONE ? PD_ENOTFOUND : store_fail(c, rc, "staff get");
    }
    store_stmt_done(st);
    store_release(s, c);
    return ret;
}

int staff_get(store *s, const char *username, staff_account *out, char pwhash[STAFF_HASH_MAX])
{
    return staff_fetch(s, Q_STAFF_GET, username, 0, out, pwhash);
}

int staff_get_by_id(store *s, long long id, staff_account *out)
{
    return staff_fetch(s, Q_STAFF_GET_ID, NULL, id, out, NULL);
}

/* an update of one account plus ending its sessions (but keep), in one transaction */
static int staff_update(store *s, int qid, const char *username, const char *text, int num,
                        int end_sessions, const unsigned char *keep)
{
    store_conn *c = store_acquire(s);
    sqlite3_stmt *st;
    int ret = store_begin(c);
    if (ret != PD_OK)
        goto out;
    if (!(st = q(c, qid))) {
        ret = PD_EDB;
        goto out;
    }
    sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    if (text)
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int(st, 2, num);
    if ((ret = run_done(c, st, "staff update")) != PD_OK)
        goto out;
    if (sqlite3_changes(store_conn_db(c)) != 1) {
        ret = PD_ENOTFOUND;
        goto out;
    }
    if (end_sessions) {
        if (!(st = q(c, keep ? Q_SESSIONS_END_BUT : Q_SESSIONS_END))) {
            ret = PD_EDB;
            goto out;
        }
        sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
        if (keep)
            sqlite3_bind_blob(st, 2, keep, TICKET_HASH_BYTES, SQLITE_STATIC);
        if ((ret = run_done(c, st, "staff sessions end")) != PD_OK)
            goto out;
    }
    ret = store_commit(c);
out:
    store_rollback(c);
    store_release(s, c);
    return ret;
}

int staff_set_password(store *s, const char *username, const char *pwhash,
                       const unsigned char *keep)
{
    return staff_update(s, Q_STAFF_PASSWD, username, pwhash, 0, 1, keep);
}

int staff_set_disabled(store *s, const char *username, int disabled)
{
    return staff_update(s, Q_STAFF_DISABLE, username, NULL, disabled ? 1 : 0, disabled, NULL);
}

int staff_list(store *s, staff_account **out, size_t *n)
{
    store_conn *c = store_acquire(s);
    sqlite3_stmt *st = q(c, Q_STAFF_LIST);
    size_t cap = 0;
    int rc, ret = PD_OK;
    *out = NULL;
    *n = 0;
    if (!st) {
        store_release(s, c);
        return PD_EDB;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = pd_xreallocarray(*out, cap, sizeof **out);
        }
        account_row(st, &(*out)[(*n)++]);
    }
    if (rc != SQLITE_DONE) {
        ret = store_fail(c, rc, "staff list");
        free(*out);
        *out = NULL;
        *n = 0;
    }
    store_stmt_done(st);
    store_release(s, c);
    return ret;
}

int staff_count(store *s, long long *n)
{
    return scalar(s, Q_STAFF_COUNT, n);
}

int staff_login_state(store *s, const char *username, int *failures, long long *blocked_until_us)
{
    store_conn *c = store_acquire(s);
    sqlite3_stmt *st = q(c, Q_FAIL_GET);
    int rc, ret = PD_OK;
    *failures = 0;
    *blocked_until_us = 0;
    if (!st) {
        store_release(s, c);
        return PD_EDB;
    }
    sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *failures = sqlite3_column_int(st, 0);
        *blocked_until_us = sqlite3_column_int64(st, 1);
    } else if (rc != SQLITE_DONE) {
        ret = store_fail(c, rc, "login state");
    }
    store_stmt_done(st);
    store_release(s, c);
    return ret;
}

int staff_login_failed(store *s, const char *username, int failures, long long blocked_until_us,
                       long long now_us)
{
    store_conn *c = store_acquire(s);
    sqlite3_stmt *st = q(c, Q_FAIL_SET);
    int ret = PD_EDB;
    if (st) {
        sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, failures);
        sqlite3_bind_int64(st, 3, blocked_until_us);
        sqlite3_bind_int64(st, 4, now_us);
        ret = run_done(c, st, "login failure");
    }
    store_release(s, c);
    return ret;
}

int staff_login_clear(store *s, const char *username)
{
    store_conn *c = store_acquire(s);
    sqlite3_stmt *st = q(c, Q_FAIL_CLEAR);
    int ret = PD_EDB;
    if (st) {
        sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
        ret = run_done(c, st, "login clear");
    }
    store_release(s, c);
    return ret;
}

int staff_session_create(store *s, const unsigned char id_hash[TICKET_HASH_BYTES],
                         long long staff_id, const char *csrf, long long now_us)
{
    store_conn *c = store_acquire(s);
    sqlite3_stmt *st = q(c, Q_SESSION_INSERT);
    int ret = PD_EDB;
    if (st) {
        sqlite3_bind_blob(st, 1, id_hash, TICKET_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, staff_id);
        sqlite3_bind_text(st, 3, csrf, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now_us);
        ret = run_done(c, st, "session insert");
    }
    store_release(s, c);
    return ret;
}

int staff_session_delete(store *s, const unsigned char id_hash[TICKET_HASH_BYTES])
{
    store_conn *c = store_acquire(s);
    sqlite3_stmt *st = q(c, Q_SESSION_DELETE);
    int ret = PD_EDB;
    if (st) {
        sqlite3_bind_blob(st, 1, id_hash, TICKET_HASH_BYTES, SQLITE_STATIC);
        ret = run_done(c, st, "session delete");
    }
    store_release(s, c);
    return ret;
}

int staff_session_get(store *s, const unsigned char id_hash[TICKET_HASH_BYTES], long long now_us,
                      long long idle_us, long long max_us, staff_session *out)
{
    store_conn *c = store_acquire(s);
    sqlite3_stmt *st = q(c, Q_SESSION_GET);
    int rc, ret = PD_OK, expired = 0;
    if (!st) {
        store_release(s, c);
        return PD_EDB;
    }
    memset(out, 0, sizeof *out);
    sqlite3_bind_blob(st, 1, id_hash, TICKET_HASH_BYTES, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->who.id = sqlite3_column_int64(st, 0);
        copy_col(st, 1, out->csrf, sizeof out->csrf);
        out->created_us = sqlite3_column_int64(st, 2);
        out->last_seen_us = sqlite3_column_int64(st, 3);
        copy_col(st, 4, out->who.username, sizeof out->who.username);
        copy_col(st, 5, out->who.role, sizeof out->who.role);
        out->who.disabled = sqlite3_column_int(st, 6);
        out->who.created_us = sqlite3_column_int64(st, 7);
        expired = out->who.disabled || now_us - out->last_seen_us > idle_us ||
                  now_us - out->created_us > max_us || now_us < out->created_us;
    } else {
        ret = rc == SQLITE_DONE ? PD_ENOTFOUND : store_fail(c, rc, "session get");
    }
    store_stmt_done(st);
    if (ret == PD_OK) {
        /* an expired session is removed; a live one is touched (at most every few seconds) */
        int qid = expired ? Q_SESSION_DELETE : Q_SESSION_TOUCH;
        if (expired || now_us - out->last_seen_us > 5 * 1000000LL) {
            if (!(st = q(c, qid))) {
                ret = PD_EDB;
            } else {
                sqlite3_bind_blob(st, 1, id_hash, TICKET_HASH_BYTES, SQLITE_STATIC);
                if (!expired)
                    sqlite3_bind_int64(st, 2, now_us);
                ret = run_done(c, st, "session touch");
            }
        }
        if (ret == PD_OK && expired)
            ret = PD_ENOTFOUND;
    }
    if (ret != PD_OK)
        memset(out, 0, sizeof *out);
    store_release(s, c);
    return ret;
}

int staff_session_alive(store *s, const unsigned char id_hash[TICKET_HASH_BYTES], long long now_us,
                        long long idle_us, long long max_us)
{
    store_conn *c = store_acquire(s);
    sqlite3_stmt *st = q(c, Q_SESSION_GET);
    int rc, ret = PD_ENOTFOUND;
    if (!st) {
        store_release(s, c);
        return PD_EDB;
    }
    sqlite3_bind_blob(st, 1, id_hash, TICKET_HASH_BYTES, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        long long created = sqlite3_column_int64(st, 2), seen = sqlite3_column_int64(st, 3);
        int disabled = sqlite3_column_int(st, 6);
        if (!disabled && now_us - seen <= idle_us && now_us - created <= max_us &&
            now_us >= created)
            ret = PD_OK;
    } else if (rc != SQLITE_DONE) {
        ret = store_fail(c, rc, "session alive");
    }
    store_stmt_done(st);
    store_release(s, c);
    return ret;
}
