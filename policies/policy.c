#include "policy.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd.h"
#include "text.h"

/*
 * Layout. Lexicon words are atoms: a folded core and a mode (whole token, token prefix,
 * token suffix, anywhere inside the token). An entry of a family is a sequence of atoms that
 * must match consecutive tokens. A message is folded clause by clause; every token gets the
 * atoms it matches (exact and affix lookups in one hash table, typos through a trie walked with
 * an edit-distance row), then entries become hits of families, a hit after a negation word in
 * the same clause is negated, and the rules test the set of hits.
 */

#define MAX_FAMILIES 256
#define FSET_WORDS (MAX_FAMILIES / 64)
#define ATOMS_PER_TOKEN 12
#define FUZZ_MAX_LEN 32
#define SEQ_WINDOW 4
#define NEG_WINDOW 3
#define MAX_NAME 64

enum { MODE_EXACT = 0, MODE_PREFIX = 1, MODE_SUFFIX = 2, MODE_INFIX = 3 };

typedef struct fset {
    uint64_t w[FSET_WORDS];
} fset;

typedef struct atom {
    char *core;
    uint32_t len;
    uint8_t mode;
    uint8_t fuzzy;
    uint32_t *starts; /* entries whose first atom this is */
    size_t nstarts, capstarts;
} atom;

typedef struct entry {
    uint32_t *atoms;
    uint32_t n;
    uint32_t family;
} entry;

typedef struct family {
    char *name;
    int nonegate;
    int exact; /* no typo tolerance for its words */
    uint32_t *entries;
    size_t n, cap;
} family;

enum { COND_ANY = 0, COND_SEQ = 1, COND_CLAUSE = 2, COND_MINUS = 3 };

typedef struct cond {
    uint8_t op;
    uint8_t neg;
    uint8_t window;
    fset a, b;
} cond;

typedef struct rule {
    char *id;
    char *reply_key;
    int decision, intent, topic;
    int health; /* +health: the rule also marks health data */
    size_t order;
    cond *conds;
    size_t n;
} rule;

typedef struct trie_node {
    uint32_t child, sibling; /* 0 = none (node 0 is the root) */
    uint32_t exact, prefix;  /* atom index + 1, 0 = none */
    uint8_t maxlen;          /* longest word below this node */
    char c;
} trie_node;

typedef struct reply {
    char *key;
    char *text;
} reply;

struct policy {
    char version[17];
    atom *atoms;
    size_t natoms, capatoms;
    entry *entries;
    size_t nentries, capentries;
    family *families;
    size_t nfamilies;
    rule *rules; /* decision rules, strongest decision first, then file order */
    size_t nrules, caprules;
    rule *hrules; /* health rules in file order */
    size_t nhrules, caphrules;
    int def_decision, def_intent, def_topic;
    char *def_reply_key;
    int has_default;
    /* hash of (mode, core) -> atom index + 1 */
    uint32_t *table;
    size_t tmask;
    uint64_t prefix_lens, suffix_lens; /* bit l set: some affix atom has length l */
    uint32_t *infix;
    size_t ninfix;
    trie_node *trie;
    size_t ntrie, captrie;
    int fam_negation, fam_de, fam_en;
    reply *replies[2]; /* 0 de, 1 en */
    size_t nreplies[2];
};

/* ---- names ---- */

static const char *const decision_names[] = {"answer", "handoff", "refuse", "emergency"};
static const char *const intent_names[] = {"availability",   "order_status",  "general",
                                           "medical_advice", "human_request", "adverse_event",
                                           "complaint",      "prescription",  "emergency"};
static const char *const topic_names[] = {"none",          "opening_hours", "emergency_service",
                                          "eprescription", "delivery",      "payment",
                                          "pickup",        "greeting",      "other"};

const char *policy_decision_name(policy_decision d)
{
    return (unsigned)d < POLICY_DECISION_COUNT ? decision_names[d] : "?";
}

const char *policy_intent_name(policy_intent i)
{
    return (unsigned)i < POLICY_INTENT_COUNT ? intent_names[i] : "?";
}

const char *policy_topic_name(policy_topic t)
{
    return (unsigned)t < POLICY_TOPIC_COUNT ? topic_names[t] : "?";
}

static int name_index(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

/* keys every reply file must hold besides the ones the rules name */
static const char *const required_replies[] = {
    "disclosure",
    "emergency",
    "refuse.medical_advice",
    "handoff.human_request",
    "handoff.adverse_event",
    "handoff.complaint",
    "handoff.prescription",
    "answer.availability",
    "availability.in_stock",
    "availability.orderable",
    "availability.shortage",
    "availability.discontinued",
    "availability.prescription_required",
    "availability.not_found",
    "answer.order_status",
    "order.status",
    "order.not_found",
    "order.ask_number",
    "general.opening_hours",
    "general.emergency_service",
    "general.eprescription",
    "general.delivery",
    "general.payment",
    "general.pickup",
    "general.greeting",
    "general.other",
    "consent.health_data",
};

static const char *const placeholders[] = {
    "pharmacy_name", "pharmacy_phone", "poison_name", "poison_phone", "emergency_url", "hours",
    "product",       "status",         "order",       "expected",     "note"};

/* ---- small helpers ---- */

static inline void fset_set(fset *s, size_t i)
{
    s->w[i / 64] |= (uint64_t)1 << (i % 64);
}

static inline int fset_has(const fset *s, size_t i)
{
    return (int)((s->w[i / 64] >> (i % 64)) & 1);
}

static inline int fset_meets(const fset *a, const fset *b)
{
    uint64_t r = 0;
    for (size_t i = 0; i < FSET_WORDS; i++)
        r |= a->w[i] & b->w[i];
    return r != 0;
}

#define FNV_BASIS 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

static inline uint64_t hash_start(int mode)
{
    return (FNV_BASIS ^ (uint64_t)(mode + 1)) * FNV_PRIME;
}

static inline uint64_t hash_step(uint64_t h, char c)
{
    return (h ^ (unsigned char)c) * FNV_PRIME;
}

/* suffix atoms hash their core backwards so a token's tails hash incrementally */
static uint64_t atom_hash(int mode, const char *core, size_t len)
{
    uint64_t h = hash_start(mode);
    if (mode == MODE_SUFFIX) {
        for (size_t i = len; i-- > 0;)
            h = hash_step(h, core[i]);
    } else {
        for (size_t i = 0; i < len; i++)
            h = hash_step(h, core[i]);
    }
    return h;
}

/* atom index for (mode, s[0..len)), or -1 */
static long table_find(const policy *p, uint64_t h, int mode, const char *s, size_t len)
{
    if (!p->table)
        return -1;
    for (size_t i = h & p->tmask;; i = (i + 1) & p->tmask) {
        uint32_t v = p->table[i];
        if (v == 0)
            return -1;
        const atom *a = &p->atoms[v - 1];
        if (a->mode == mode && a->len == len && memcmp(a->core, s, len) == 0)
            return (long)v - 1;
    }
}

static void table_build(policy *p)
{
    size_t size = 64;
    while (size < p->natoms * 2 + 2)
        size *= 2;
    free(p->table);
    p->table = pd_xcalloc(size, sizeof *p->table);
    p->tmask = size - 1;
    for (size_t i = 0; i < p->natoms; i++) {
        const atom *a = &p->atoms[i];
        if (a->mode == MODE_INFIX)
            continue;
        uint64_t h = atom_hash(a->mode, a->core, a->len);
        size_t j = h & p->tmask;
        while (p->table[j])
            j = (j + 1) & p->tmask;
        p->table[j] = (uint32_t)i + 1;
    }
}

/* ---- loading ---- */

typedef struct loader {
    policy *p;
    buf *err;
    const char *file; /* name relative to the folder */
    int line;
    int failed;
} loader;

static void fail(loader *L, const char *fmt, ...) PD_PRINTF(2, 3);

static void fail(loader *L, const char *fmt, ...)
{
    if (L->failed)
        return;
    L->failed = 1;
    if (!L->err)
        return;
    buf_reset(L->err);
    if (L->line > 0)
        buf_printf(L->err, "%s:%d: ", L->file, L->line);
    else
        buf_printf(L->err, "%s: ", L->file);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(L->err, fmt, ap);
    va_end(ap);
}

static uint32_t atom_intern(policy *p, const char *core, size_t len, int mode, int fuzzy)
{
    for (size_t i = 0; i < p->natoms; i++) {
        atom *a = &p->atoms[i];
        if (a->mode == mode && a->len == len && memcmp(a->core, core, len) == 0) {
            if (!fuzzy)
                a->fuzzy = 0; /* "=word" anywhere turns typos off for the word */
            return (uint32_t)i;
        }
    }
    if (p->natoms == p->capatoms) {
        p->capatoms = p->capatoms ? p->capatoms * 2 : 256;
        p->atoms = pd_xreallocarray(p->atoms, p->capatoms, sizeof *p->atoms);
    }
    atom *a = &p->atoms[p->natoms];
    memset(a, 0, sizeof *a);
    a->core = pd_xstrndup(core, len);
    a->len = (uint32_t)len;
    a->mode = (uint8_t)mode;
    a->fuzzy = (uint8_t)(fuzzy && len >= 5 && (mode == MODE_EXACT || mode == MODE_PREFIX));
    return (uint32_t)p->natoms++;
}

static void family_add_entry(policy *p, uint32_t fam, const uint32_t *atoms, size_t n)
{
    if (p->nentries == p->capentries) {
        p->capentries = p->capentries ? p->capentries * 2 : 256;
        p->entries = pd_xreallocarray(p->entries, p->capentries, sizeof *p->entries);
    }
    uint32_t ei = (uint32_t)p->nentries++;
    entry *e = &p->entries[ei];
    e->atoms = pd_xreallocarray(NULL, n, sizeof *e->atoms);
    memcpy(e->atoms, atoms, n * sizeof *atoms);
    e->n = (uint32_t)n;
    e->family = fam;
    family *f = &p->families[fam];
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->entries = pd_xreallocarray(f->entries, f->cap, sizeof *f->entries);
    }
    f->entries[f->n++] = ei;
    atom *a = &p->atoms[atoms[0]];
    if (a->nstarts == a->capstarts) {
        a->capstarts = a->capstarts ? a->capstarts * 2 : 2;
        a->starts = pd_xreallocarray(a->starts, a->capstarts, sizeof *a->starts);
    }
    a->starts[a->nstarts++] = ei;
}

static long family_find(const policy *p, const char *name, size_t len)
{
    for (size_t i = 0; i < p->nfamilies; i++)
        if (strlen(p->families[i].name) == len && memcmp(p->families[i].name, name, len) == 0)
            return (long)i;
    return -1;
}

static int valid_name(const char *s, size_t len, int dots)
{
    if (len == 0 || len >= MAX_NAME)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              (dots && c == '.')))
            return 0;
    }
    return 1;
}

/* parses one entry (a word, a "quoted phrase" or @family) of family fam */
static void parse_entry(loader *L, uint32_t fam, const char *s, size_t len)
{
    policy *p = L->p;
    if (s[0] == '@') {
        long src = family_find(p, s + 1, len - 1);
        if (src < 0) {
            fail(L, "unknown family '%.*s' (define it before using it)", (int)len - 1, s + 1);
            return;
        }
        if ((uint32_t)src == fam) {
            fail(L, "family includes itself");
            return;
        }
        family *f = &p->families[src];
        for (size_t i = 0; i < f->n; i++) {
            entry *e = &p->entries[f->entries[i]];
            /* copy: family_add_entry may move p->entries */
            uint32_t tmp[64];
            size_t n = e->n;
            memcpy(tmp, e->atoms, n * sizeof *tmp);
            family_add_entry(p, fam, tmp, n);
        }
        return;
    }
    int quoted = 0;
    if (s[0] == '"') {
        if (len < 2 || s[len - 1] != '"') {
            fail(L, "unterminated quote");
            return;
        }
        s++, len -= 2, quoted = 1;
    }
    uint32_t atoms[64];
    size_t natoms = 0;
    size_t i = 0;
    buf folded = BUF_INIT;
    while (i < len && !L->failed) {
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
            i++;
        size_t b = i;
        while (i < len && s[i] != ' ' && s[i] != '\t')
            i++;
        if (i == b)
            break;
        const char *w = s + b;
        size_t wl = i - b;
        int fuzzy = 1, lead = 0, trail = 0;
        if (p->families[fam].exact)
            fuzzy = 0;
        if (wl && w[0] == '=')
            fuzzy = 0, w++, wl--;
        if (wl && w[0] == '*')
            lead = 1, w++, wl--;
        if (wl && w[wl - 1] == '*')
            trail = 1, wl--;
        if (wl == 1 && w[0] == '?') {
            if (natoms >= 64)
                break;
            atoms[natoms++] = atom_intern(p, "?", 1, MODE_EXACT, 0);
            continue;
        }
        if (memchr(w, '*', wl) || memchr(w, '=', wl) || memchr(w, '@', wl) || memchr(w, '"', wl)) {
            fail(L, "bad entry '%.*s': '*' only at either end, '=' only in front", (int)(i - b),
                 s + b);
            break;
        }
        buf_reset(&folded);
        text_fold(w, wl, &folded);
        text_token toks[16];
        size_t nt = text_tokens(buf_cstr(&folded), folded.len, toks, 16);
        if (nt == 0) {
            fail(L, "entry '%.*s' folds to nothing", (int)(i - b), s + b);
            break;
        }
        if (nt > 16 || natoms + nt > 64) {
            fail(L, "entry too long");
            break;
        }
        for (size_t t = 0; t < nt; t++) {
            int l = t == 0 && lead, r = t == nt - 1 && trail;
            int mode = l && r ? MODE_INFIX : l ? MODE_SUFFIX : r ? MODE_PREFIX : MODE_EXACT;
            /* inside a phrase a prefix may be short ("ap 1*": an order number) */
            if (mode != MODE_EXACT && toks[t].len < (natoms > 0 && mode == MODE_PREFIX ? 1u : 3u)) {
                fail(L, "entry '%.*s': a word with '*' needs 3 letters or more", (int)(i - b),
                     s + b);
                break;
            }
            if (toks[t].len >= 64) {
                fail(L, "entry '%.*s' is too long", (int)(i - b), s + b);
                break;
            }
            atoms[natoms++] = atom_intern(p, toks[t].p, toks[t].len, mode, fuzzy);
        }
    }
    buf_free(&folded);
    if (L->failed)
        return;
    if (natoms == 0) {
        fail(L, "empty entry");
        return;
    }
    (void)quoted;
    family_add_entry(p, fam, atoms, natoms);
}

/* splits s into whitespace-separated items, keeping "quoted phrases" whole */
static size_t next_item(const char *s, size_t len, size_t *pos, const char **item)
{
    size_t i = *pos;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i >= len) {
        *pos = i;
        return 0;
    }
    size_t b = i;
    if (s[i] == '"') {
        i++;
        while (i < len && s[i] != '"')
            i++;
        if (i < len)
            i++;
    } else {
        while (i < len && s[i] != ' ' && s[i] != '\t')
            i++;
    }
    *item = s + b;
    *pos = i;
    return i - b;
}

static int parse_fset(loader *L, const char *s, size_t len, fset *out)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    while (i <= len) {
        size_t b = i;
        while (i < len && s[i] != '|')
            i++;
        long f = family_find(L->p, s + b, i - b);
        if (f < 0) {
            fail(L, "unknown family '%.*s'", (int)(i - b), s + b);
            return -1;
        }
        fset_set(out, (size_t)f);
        i++;
    }
    return 0;
}

static void parse_cond(loader *L, rule *r, const char *s, size_t len)
{
    cond c;
    memset(&c, 0, sizeof c);
    if (len && s[0] == '!')
        c.neg = 1, s++, len--;
    const char *op = NULL;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '>' || s[i] == '~' || s[i] == '-') {
            op = s + i;
            break;
        }
    if (!op) {
        c.op = COND_ANY;
        if (parse_fset(L, s, len, &c.a))
            return;
    } else {
        c.op = *op == '>' ? COND_SEQ : *op == '~' ? COND_CLAUSE : COND_MINUS;
        c.window = SEQ_WINDOW;
        size_t al = (size_t)(op - s);
        const char *rest = op + 1;
        size_t rl = len - al - 1;
        if (c.op == COND_SEQ && rl > 1 && rest[0] >= '1' && rest[0] <= '9' && rest[1] == '>') {
            c.window = (uint8_t)(rest[0] - '0');
            rest += 2, rl -= 2;
        }
        if (parse_fset(L, s, al, &c.a) || parse_fset(L, rest, rl, &c.b))
            return;
    }
    r->conds = pd_xreallocarray(r->conds, r->n + 1, sizeof *r->conds);
    r->conds[r->n++] = c;
}

static char *make_reply_key(int decision, int intent, int topic)
{
    buf b = BUF_INIT;
    if (decision == POLICY_EMERGENCY)
        buf_puts(&b, "emergency");
    else if (decision == POLICY_REFUSE)
        buf_puts(&b, "refuse.medical_advice");
    else if (decision == POLICY_ANSWER && intent == POLICY_GENERAL)
        buf_printf(&b, "general.%s", topic_names[topic ? topic : POLICY_TOPIC_OTHER]);
    else
        buf_printf(&b, "%s.%s", decision_names[decision], intent_names[intent]);
    return buf_steal(&b);
}

/* "DECISION INTENT[/TOPIC]" at *pos */
static int parse_outcome(loader *L, const char *s, size_t len, size_t *pos, int *d, int *in, int *t)
{
    const char *it;
    size_t n = next_item(s, len, pos, &it);
    char name[MAX_NAME];
    if (n == 0 || n >= MAX_NAME) {
        fail(L, "expected a decision (answer, refuse, handoff, emergency)");
        return -1;
    }
    memcpy(name, it, n);
    name[n] = '\0';
    *d = name_index(decision_names, POLICY_DECISION_COUNT, name);
    if (*d < 0) {
        fail(L, "unknown decision '%s'", name);
        return -1;
    }
    n = next_item(s, len, pos, &it);
    if (n == 0 || n >= MAX_NAME) {
        fail(L, "expected an intent after the decision");
        return -1;
    }
    memcpy(name, it, n);
    name[n] = '\0';
    char *slash = strchr(name, '/');
    *t = POLICY_TOPIC_NONE;
    if (slash) {
        *slash = '\0';
        *t = name_index(topic_names, POLICY_TOPIC_COUNT, slash + 1);
        if (*t <= 0) {
            fail(L, "unknown topic '%s'", slash + 1);
            return -1;
        }
    }
    *in = name_index(intent_names, POLICY_INTENT_COUNT, name);
    if (*in < 0) {
        fail(L, "unknown intent '%s'", name);
        return -1;
    }
    if (*in == POLICY_GENERAL && *t == POLICY_TOPIC_NONE)
        *t = POLICY_TOPIC_OTHER;
    if (*in != POLICY_GENERAL && *t != POLICY_TOPIC_NONE) {
        fail(L, "a topic belongs to intent 'general' only");
        return -1;
    }
    return 0;
}

static int rule_id_taken(const policy *p, const char *id, size_t n)
{
    for (size_t i = 0; i < p->nrules; i++)
        if (strlen(p->rules[i].id) == n && memcmp(p->rules[i].id, id, n) == 0)
            return 1;
    for (size_t i = 0; i < p->nhrules; i++)
        if (strlen(p->hrules[i].id) == n && memcmp(p->hrules[i].id, id, n) == 0)
            return 1;
    return 0;
}

enum { CUR_NONE, CUR_FAMILY, CUR_RULE, CUR_HEALTH };

typedef struct cursor {
    int kind;
    uint32_t fam;
    rule *r;
} cursor;

/* the part after ':' of a family or rule line, also continuation lines */
static void parse_body(loader *L, cursor *cur, const char *s, size_t len)
{
    size_t pos = 0;
    const char *it;
    size_t n;
    while (!L->failed && (n = next_item(s, len, &pos, &it)) > 0) {
        if (cur->kind == CUR_FAMILY)
            parse_entry(L, cur->fam, it, n);
        else
            parse_cond(L, cur->r, it, n);
    }
}

static rule *rule_new(policy *p, int health_rule)
{
    rule **arr = health_rule ? &p->hrules : &p->rules;
    size_t *n = health_rule ? &p->nhrules : &p->nrules;
    size_t *cap = health_rule ? &p->caphrules : &p->caprules;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *arr = pd_xreallocarray(*arr, *cap, sizeof **arr);
    }
    rule *r = &(*arr)[(*n)++];
    memset(r, 0, sizeof *r);
    return r;
}

static void parse_line(loader *L, cursor *cur, const char *s, size_t len, size_t *order)
{
    policy *p = L->p;
    /* strip a comment: '#' outside quotes */
    int inq = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            inq = !inq;
        else if (s[i] == '#' && !inq) {
            len = i;
            break;
        }
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        len--;
    if (len == 0)
        return;
    if (s[0] == ' ' || s[0] == '\t') {
        if (cur->kind == CUR_NONE) {
            fail(L, "indented line continues nothing");
            return;
        }
        parse_body(L, cur, s, len);
        return;
    }
    const char *colon = memchr(s, ':', len);
    size_t pos = 0;
    const char *kw;
    size_t kl = next_item(s, colon ? (size_t)(colon - s) : len, &pos, &kw);
    size_t head_len = colon ? (size_t)(colon - s) : len;
    const char *it;
    size_t n;
    if (kl == 6 && memcmp(kw, "family", 6) == 0) {
        n = next_item(s, head_len, &pos, &it);
        if (!n || !valid_name(it, n, 0) || memchr(it, '-', n)) {
            fail(L, "family needs a name of a-z, 0-9 or '_'");
            return;
        }
        if (family_find(p, it, n) >= 0) {
            fail(L, "family '%.*s' is defined twice", (int)n, it);
            return;
        }
        if (p->nfamilies >= MAX_FAMILIES) {
            fail(L, "more than %d families", MAX_FAMILIES);
            return;
        }
        family *f = &p->families[p->nfamilies];
        memset(f, 0, sizeof *f);
        f->name = pd_xstrndup(it, n);
        cur->fam = (uint32_t)p->nfamilies++;
        while ((n = next_item(s, head_len, &pos, &it)) > 0) {
            if (n == 8 && memcmp(it, "nonegate", 8) == 0) {
                f->nonegate = 1;
            } else if (n == 5 && memcmp(it, "exact", 5) == 0) {
                f->exact = 1;
            } else {
                fail(L, "unknown family option '%.*s' (nonegate, exact)", (int)n, it);
                return;
            }
        }
        if (!colon) {
            fail(L, "family line needs ':' before its words");
            return;
        }
        cur->kind = CUR_FAMILY;
        parse_body(L, cur, colon + 1, len - head_len - 1);
    } else if ((kl == 4 && memcmp(kw, "rule", 4) == 0) ||
               (kl == 6 && memcmp(kw, "health", 6) == 0)) {
        int health_rule = kl == 6;
        n = next_item(s, head_len, &pos, &it);
        if (!n || !valid_name(it, n, 1)) {
            fail(L, "rule needs an id of a-z, 0-9, '.', '_' or '-'");
            return;
        }
        if (rule_id_taken(p, it, n)) {
            fail(L, "rule id '%.*s' is used twice", (int)n, it);
            return;
        }
        const char *id = it;
        size_t idl = n;
        int d = POLICY_ANSWER, in = POLICY_GENERAL, t = POLICY_TOPIC_NONE, h = 1;
        if (!health_rule) {
            if (parse_outcome(L, s, head_len, &pos, &d, &in, &t))
                return;
            h = 0;
            while ((n = next_item(s, head_len, &pos, &it)) > 0) {
                if (n == 7 && memcmp(it, "+health", 7) == 0) {
                    h = 1;
                } else {
                    fail(L, "unexpected '%.*s' before ':'", (int)n, it);
                    return;
                }
            }
        } else if (next_item(s, head_len, &pos, &it)) {
            fail(L, "a health rule is 'health ID: conditions'");
            return;
        }
        if (!colon) {
            fail(L, "rule line needs ':' before its conditions");
            return;
        }
        rule *r = rule_new(p, health_rule);
        r->id = pd_xstrndup(id, idl);
        r->decision = d, r->intent = in, r->topic = t, r->health = h;
        r->order = (*order)++;
        r->reply_key = health_rule ? NULL : make_reply_key(d, in, t);
        cur->kind = health_rule ? CUR_HEALTH : CUR_RULE;
        cur->r = r;
        parse_body(L, cur, colon + 1, len - head_len - 1);
        if (!L->failed && r->n == 0)
            fail(L, "rule '%s' has no conditions", r->id);
    } else if (kl == 7 && memcmp(kw, "default", 7) == 0) {
        int d, in, t;
        if (parse_outcome(L, s, len, &pos, &d, &in, &t))
            return;
        if (next_item(s, len, &pos, &it)) {
            fail(L, "default is 'default DECISION INTENT[/TOPIC]'");
            return;
        }
        if (p->has_default) {
            fail(L, "default is given twice");
            return;
        }
        p->has_default = 1;
        p->def_decision = d, p->def_intent = in, p->def_topic = t;
        p->def_reply_key = make_reply_key(d, in, t);
        cur->kind = CUR_NONE;
    } else {
        fail(L, "unknown directive '%.*s' (family, rule, health, default)", (int)kl, kw);
    }
}

static void hash_file(crypto_generichash_state *st, const char *name, const buf *b)
{
    unsigned char len8[8];
    uint64_t n = b->len;
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)(n >> (8 * i));
    crypto_generichash_update(st, (const unsigned char *)name, strlen(name) + 1);
    crypto_generichash_update(st, len8, 8);
    crypto_generichash_update(st, (const unsigned char *)buf_cstr(b), b->len);
}

static void parse_rules_text(loader *L, const buf *b, size_t *order)
{
    cursor cur = {CUR_NONE, 0, NULL};
    const char *s = buf_cstr(b);
    size_t len = b->len;
    if (!text_utf8_valid(s, len) || memchr(s, '\0', len)) {
        L->line = 0;
        fail(L, "not UTF-8 text");
        return;
    }
    size_t i = 0;
    L->line = 0;
    while (i < len && !L->failed) {
        size_t e = i;
        while (e < len && s[e] != '\n')
            e++;
        L->line++;
        parse_line(L, &cur, s + i, e - i, order);
        i = e + 1;
    }
}

static int placeholder_known(const char *s, size_t n)
{
    for (size_t i = 0; i < PD_ARRAY_LEN(placeholders); i++)
        if (strlen(placeholders[i]) == n && memcmp(placeholders[i], s, n) == 0)
            return 1;
    return 0;
}

static void parse_replies(loader *L, const buf *b, int lang)
{
    policy *p = L->p;
    const char *s = buf_cstr(b);
    size_t len = b->len;
    L->line = 0;
    if (!text_utf8_valid(s, len) || memchr(s, '\0', len)) {
        fail(L, "not UTF-8 text");
        return;
    }
    reply *cur = NULL;
    size_t i = 0;
    while (i < len && !L->failed) {
        size_t e = i;
        while (e < len && s[e] != '\n')
            e++;
        L->line++;
        const char *l = s + i;
        size_t ll = e - i;
        i = e + 1;
        while (ll && (l[ll - 1] == '\r' || l[ll - 1] == ' ' || l[ll - 1] == '\t'))
            ll--;
        if (ll == 0 || l[0] == '#')
            continue;
        const char *text;
        size_t tl;
        if (l[0] == ' ' || l[0] == '\t') {
            if (!cur) {
                fail(L, "indented line continues nothing");
                return;
            }
            while (ll && (l[0] == ' ' || l[0] == '\t'))
                l++, ll--;
            text = l, tl = ll;
        } else {
            const char *eq = memchr(l, '=', ll);
            if (!eq) {
                fail(L, "expected 'key = text'");
                return;
            }
            size_t kl = (size_t)(eq - l);
            while (kl && (l[kl - 1] == ' ' || l[kl - 1] == '\t'))
                kl--;
            if (!valid_name(l, kl, 1)) {
                fail(L, "bad key '%.*s' (a-z, 0-9, '.', '_', '-')", (int)kl, l);
                return;
            }
            for (size_t k = 0; k < p->nreplies[lang]; k++)
                if (strlen(p->replies[lang][k].key) == kl &&
                    memcmp(p->replies[lang][k].key, l, kl) == 0) {
                    fail(L, "key '%.*s' is given twice", (int)kl, l);
                    return;
                }
            p->replies[lang] =
                pd_xreallocarray(p->replies[lang], p->nreplies[lang] + 1, sizeof(reply));
            cur = &p->replies[lang][p->nreplies[lang]++];
            cur->key = pd_xstrndup(l, kl);
            cur->text = NULL;
            text = eq + 1;
            tl = ll - (size_t)(text - l);
            while (tl && (*text == ' ' || *text == '\t'))
                text++, tl--;
        }
        /* check placeholders */
        for (size_t k = 0; k < tl; k++) {
            if (text[k] != '{')
                continue;
            const char *end = memchr(text + k, '}', tl - k);
            if (!end) {
                fail(L, "'{' without '}'");
                return;
            }
            size_t nl = (size_t)(end - text) - k - 1;
            if (!placeholder_known(text + k + 1, nl)) {
                fail(L, "unknown placeholder '{%.*s}'", (int)nl, text + k + 1);
                return;
            }
            k += nl + 1;
        }
        buf t = BUF_INIT;
        if (cur->text) {
            buf_puts(&t, cur->text);
            if (tl)
                buf_putc(&t, '\n');
            free(cur->text);
        }
        buf_append(&t, text, tl);
        cur->text = buf_steal(&t);
        if (!cur->text)
            cur->text = pd_xstrdup("");
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_rule(const void *a, const void *b)
{
    const rule *x = a, *y = b;
    if (x->decision != y->decision)
        return y->decision - x->decision;
    return x->order < y->order ? -1 : x->order > y->order;
}

static uint32_t trie_add_node(policy *p, char c)
{
    if (p->ntrie == p->captrie) {
        p->captrie = p->captrie ? p->captrie * 2 : 1024;
        p->trie = pd_xreallocarray(p->trie, p->captrie, sizeof *p->trie);
    }
    trie_node *n = &p->trie[p->ntrie];
    memset(n, 0, sizeof *n);
    n->c = c;
    return (uint32_t)p->ntrie++;
}

static void trie_build(policy *p)
{
    trie_add_node(p, 0);
    for (size_t i = 0; i < p->natoms; i++) {
        const atom *a = &p->atoms[i];
        if (!a->fuzzy)
            continue;
        uint32_t node = 0;
        for (size_t k = 0; k < a->len; k++) {
            uint32_t ch = p->trie[node].child, found = 0;
            for (; ch; ch = p->trie[ch].sibling)
                if (p->trie[ch].c == a->core[k]) {
                    found = ch;
                    break;
                }
            if (!found) {
                found = trie_add_node(p, a->core[k]);
                p->trie[found].sibling = p->trie[node].child;
                p->trie[node].child = found;
            }
            node = found;
        }
        /* every node on the path learns the longest word below it */
        uint32_t up = 0;
        for (size_t k = 0; k < a->len; k++) {
            if (p->trie[up].maxlen < a->len)
                p->trie[up].maxlen = (uint8_t)(a->len < 255 ? a->len : 255);
            for (uint32_t ch = p->trie[up].child; ch; ch = p->trie[ch].sibling)
                if (p->trie[ch].c == a->core[k]) {
                    up = ch;
                    break;
                }
        }
        if (p->trie[up].maxlen < a->len)
            p->trie[up].maxlen = (uint8_t)(a->len < 255 ? a->len : 255);
        if (a->mode == MODE_EXACT)
            p->trie[node].exact = (uint32_t)i + 1;
        else
            p->trie[node].prefix = (uint32_t)i + 1;
    }
}

static int finish(loader *L)
{
    policy *p = L->p;
    L->file = "rules";
    L->line = 0;
    long neg = family_find(p, "negation", 8), de = family_find(p, "lang_de", 7),
         en = family_find(p, "lang_en", 7);
    if (neg < 0 || de < 0 || en < 0) {
        fail(L, "the families 'negation', 'lang_de' and 'lang_en' are required");
        return PD_EINVAL;
    }
    if (!p->has_default) {
        fail(L, "a 'default DECISION INTENT' line is required");
        return PD_EINVAL;
    }
    p->fam_negation = (int)neg, p->fam_de = (int)de, p->fam_en = (int)en;
    if (p->nrules)
        qsort(p->rules, p->nrules, sizeof *p->rules, cmp_rule);
    for (size_t i = 0; i < p->natoms; i++) {
        const atom *a = &p->atoms[i];
        if (a->mode == MODE_PREFIX && a->len < 64)
            p->prefix_lens |= (uint64_t)1 << a->len;
        else if (a->mode == MODE_SUFFIX && a->len < 64)
            p->suffix_lens |= (uint64_t)1 << a->len;
        else if (a->mode == MODE_INFIX) {
            p->infix = pd_xreallocarray(p->infix, p->ninfix + 1, sizeof *p->infix);
            p->infix[p->ninfix++] = (uint32_t)i;
        }
    }
    table_build(p);
    trie_build(p);
    /* every reply a rule can pick, and the fixed ones, in both languages */
    static const char *const files[2] = {"replies.de.txt", "replies.en.txt"};
    for (int lang = 0; lang < 2; lang++) {
        L->file = files[lang];
        for (size_t i = 0; i < PD_ARRAY_LEN(required_replies); i++)
            if (!policy_reply(p, required_replies[i], lang ? "en" : "de")) {
                fail(L, "missing required key '%s'", required_replies[i]);
                return PD_EINVAL;
            }
        for (size_t i = 0; i <= p->nrules; i++) {
            const char *k = i < p->nrules ? p->rules[i].reply_key : p->def_reply_key;
            if (!policy_reply(p, k, lang ? "en" : "de")) {
                fail(L, "missing key '%s' (rule '%s' needs it)", k,
                     i < p->nrules ? p->rules[i].id : "default");
                return PD_EINVAL;
            }
        }
    }
    return 0;
}

int policy_load(const char *dir, policy **out, buf *err)
{
    *out = NULL;
    if (sodium_init() < 0)
        return PD_EIO;
    policy *p = pd_xcalloc(1, sizeof *p);
    p->families = pd_xcalloc(MAX_FAMILIES, sizeof *p->families);
    loader L = {p, err, "rules", 0, 0};
    char **names = NULL;
    size_t nnames = 0;
    buf path = BUF_INIT, data = BUF_INIT, name = BUF_INIT;
    int rc = 0;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);

    buf_printf(&path, "%s/rules", dir);
    DIR *d = opendir(buf_cstr(&path));
    if (!d) {
        if (err) {
            buf_reset(err);
            buf_printf(err, "%s: cannot open folder: %s", buf_cstr(&path), strerror(errno));
        }
        rc = PD_EIO;
        goto out;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n > 6 && strcmp(de->d_name + n - 6, ".rules") == 0 && de->d_name[0] != '.') {
            names = pd_xreallocarray(names, nnames + 1, sizeof *names);
            names[nnames++] = pd_xstrdup(de->d_name);
        }
    }
    closedir(d);
    if (nnames == 0) {
        L.file = "rules";
        fail(&L, "no *.rules files in %s", buf_cstr(&path));
        rc = PD_EINVAL;
        goto out;
    }
    qsort(names, nnames, sizeof *names, cmp_str);
    size_t order = 0;
    for (size_t i = 0; i < nnames + 2 && !L.failed; i++) {
        buf_reset(&name);
        if (i < nnames)
            buf_printf(&name, "rules/%s", names[i]);
        else
            buf_puts(&name, i == nnames ? "replies.de.txt" : "replies.en.txt");
        buf_reset(&path);
        buf_printf(&path, "%s/%s", dir, buf_cstr(&name));
        buf_reset(&data);
        if (buf_read_file(&data, buf_cstr(&path), 0) != PD_OK) {
            if (err) {
                buf_reset(err);
                buf_printf(err, "%s: cannot read: %s", buf_cstr(&name), strerror(errno));
            }
            rc = PD_EIO;
            goto out;
        }
        hash_file(&st, buf_cstr(&name), &data);
        L.file = buf_cstr(&name);
        if (i < nnames)
            parse_rules_text(&L, &data, &order);
        else
            parse_replies(&L, &data, i == nnames ? 0 : 1);
    }
    if (L.failed || finish(&L)) {
        rc = PD_EINVAL;
        goto out;
    }
    unsigned char h[32];
    crypto_generichash_final(&st, h, sizeof h);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        p->version[2 * i] = hex[h[i] >> 4];
        p->version[2 * i + 1] = hex[h[i] & 15];
    }
    p->version[16] = '\0';
    *out = p;
    p = NULL;
out:
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    buf_free(&path);
    buf_free(&data);
    buf_free(&name);
    policy_free(p);
    return rc;
}

static void rules_free(rule *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].id);
        free(r[i].reply_key);
        free(r[i].conds);
    }
    free(r);
}

void policy_free(policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->natoms; i++) {
        free(p->atoms[i].core);
        free(p->atoms[i].starts);
    }
    free(p->atoms);
    for (size_t i = 0; i < p->nentries; i++)
        free(p->entries[i].atoms);
    free(p->entries);
    for (size_t i = 0; i < p->nfamilies; i++) {
        free(p->families[i].name);
        free(p->families[i].entries);
    }
    free(p->families);
    rules_free(p->rules, p->nrules);
    rules_free(p->hrules, p->nhrules);
    free(p->def_reply_key);
    free(p->table);
    free(p->infix);
    free(p->trie);
    for (int l = 0; l < 2; l++) {
        for (size_t i = 0; i < p->nreplies[l]; i++) {
            free(p->replies[l][i].key);
            free(p->replies[l][i].text);
        }
        free(p->replies[l]);
    }
    free(p);
}

const char *policy_version(const policy *p)
{
    return p->version;
}

void policy_stats(const policy *p, size_t *families, size_t *entries, size_t *rules)
{
    if (families)
        *families = p->nfamilies;
    if (entries)
        *entries = p->nentries;
    if (rules)
        *rules = p->nrules + p->nhrules;
}

const char *policy_reply(const policy *p, const char *key, const char *lang)
{
    int l = lang && strcmp(lang, "en") == 0 ? 1 : 0;
    if (!key)
        return NULL;
    for (size_t i = 0; i < p->nreplies[l]; i++)
        if (strcmp(p->replies[l][i].key, key) == 0)
            return p->replies[l][i].text;
    return NULL;
}

void policy_render(const char *tmpl, const policy_vars *v, buf *out)
{
    const char *vals[PD_ARRAY_LEN(placeholders)] = {
        v ? v->pharmacy_name : NULL, v ? v->pharmacy_phone : NULL,
        v ? v->poison_name : NULL,   v ? v->poison_phone : NULL,
        v ? v->emergency_url : NULL, v ? v->hours : NULL,
        v ? v->product : NULL,       v ? v->status : NULL,
        v ? v->order : NULL,         v ? v->expected : NULL,
        v ? v->note : NULL};
    const char *s = tmpl ? tmpl : "";
    while (*s) {
        const char *open = strchr(s, '{');
        if (!open) {
            buf_puts(out, s);
            return;
        }
        buf_append(out, s, (size_t)(open - s));
        const char *close = strchr(open, '}');
        int done = 0;
        if (close) {
            size_t n = (size_t)(close - open) - 1;
            for (size_t i = 0; i < PD_ARRAY_LEN(placeholders); i++)
                if (strlen(placeholders[i]) == n && memcmp(placeholders[i], open + 1, n) == 0) {
                    buf_puts(out, vals[i] ? vals[i] : "");
                    done = 1;
                    break;
                }
        }
        if (done) {
            s = close + 1;
        } else {
            buf_putc(out, '{');
            s = open + 1;
        }
    }
}

/* ---- classification ---- */

typedef struct tok {
    uint32_t off, len, clause;
    uint8_t natoms, neg;
    uint32_t atoms[ATOMS_PER_TOKEN];
} tok;

typedef struct hit {
    uint32_t fam, start, end, clause;
    uint8_t neg;
} hit;

typedef struct scratch {
    buf fold;
    tok *toks;
    size_t captoks;
    hit *hits;
    size_t caphits;
} scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_destroy(void *v)
{
    scratch *s = v;
    if (!s)
        return;
    buf_free(&s->fold);
    free(s->toks);
    free(s->hits);
    free(s);
}

static void scratch_init_key(void)
{
    (void)pthread_key_create(&scratch_key, scratch_destroy);
}

static scratch *scratch_get(void)
{
    pthread_once(&scratch_once, scratch_init_key);
    scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = pd_xcalloc(1, sizeof *s);
        s->captoks = 256;
        s->toks = pd_xreallocarray(NULL, s->captoks, sizeof *s->toks);
        s->caphits = 256;
        s->hits = pd_xreallocarray(NULL, s->caphits, sizeof *s->hits);
        buf_reserve(&s->fold, 4096);
        (void)pthread_setspecific(scratch_key, s);
    }
    return s;
}

static inline void tok_add_atom(tok *t, uint32_t a)
{
    for (size_t i = 0; i < t->natoms; i++)
        if (t->atoms[i] == a)
            return;
    if (t->natoms < ATOMS_PER_TOKEN)
        t->atoms[t->natoms++] = a;
}

typedef struct walk {
    const policy *p;
    const char *s;
    int len;
    int K;
    tok *t;
} walk;

/* Damerau (optimal string alignment) distance rows along the trie */
static void trie_walk(const walk *w, uint32_t node, int depth, const int *prev2, const int *prev)
{
    const policy *p = w->p;
    char pc = p->trie[node].c;
    int row[FUZZ_MAX_LEN + 1];
    for (uint32_t ch = p->trie[node].child; ch; ch = p->trie[ch].sibling) {
        char c = p->trie[ch].c;
        int n = depth + 1;
        /* customers rarely miss the first letter: the word must start with the token's first
         * or second letter (a swap), which keeps the walk small */
        if (depth == 0 && c != w->s[0] && c != w->s[1])
            continue;
        row[0] = n;
        int best = row[0];
        for (int j = 1; j <= w->len; j++) {
            int cost = w->s[j - 1] != c;
            int v = prev[j] + 1;
            if (row[j - 1] + 1 < v)
                v = row[j - 1] + 1;
            if (prev[j - 1] + cost < v)
                v = prev[j - 1] + cost;
            if (prev2 && j > 1 && w->s[j - 1] == pc && w->s[j - 2] == c && prev2[j - 2] + 1 < v)
                v = prev2[j - 2] + 1;
            row[j] = v;
            if (v < best)
                best = v;
        }
        int k = n >= 9 ? 2 : n >= 5 ? 1 : 0;
        if (p->trie[ch].exact && row[w->len] <= k && row[w->len] > 0)
            tok_add_atom(w->t, p->trie[ch].exact - 1);
        if (p->trie[ch].prefix) {
            /* a stem under 9 letters must be as long in the token: "waren" is no "warze*" */
            int from = n >= 9 ? n - 1 : n;
            for (int j = from; j <= w->len; j++)
                if (row[j] <= k) {
                    tok_add_atom(w->t, p->trie[ch].prefix - 1);
                    break;
                }
        }
        /* two edits only pay off for words of 9 letters or more */
        if (best <= 1 || (best <= w->K && p->trie[ch].maxlen >= 9))
            trie_walk(w, ch, n, prev, row);
    }
}

static void match_token(const policy *p, const char *s, size_t len, tok *t)
{
    t->natoms = 0;
    long a = table_find(p, atom_hash(MODE_EXACT, s, len), MODE_EXACT, s, len);
    if (a >= 0)
        tok_add_atom(t, (uint32_t)a);
    if (p->prefix_lens) {
        uint64_t h = hash_start(MODE_PREFIX);
        for (size_t l = 1; l <= len && l < 64; l++) {
            h = hash_step(h, s[l - 1]);
            if ((p->prefix_lens >> l) & 1) {
                a = table_find(p, h, MODE_PREFIX, s, l);
                if (a >= 0)
                    tok_add_atom(t, (uint32_t)a);
            }
        }
    }
    if (p->suffix_lens) {
        uint64_t h = hash_start(MODE_SUFFIX);
        for (size_t l = 1; l <= len && l < 64; l++) {
            h = hash_step(h, s[len - l]);
            if ((p->suffix_lens >> l) & 1) {
                a = table_find(p, h, MODE_SUFFIX, s + len - l, l);
                if (a >= 0)
                    tok_add_atom(t, (uint32_t)a);
            }
        }
    }
    for (size_t i = 0; i < p->ninfix; i++) {
        const atom *x = &p->atoms[p->infix[i]];
        if (x->len <= len && memmem(s, len, x->core, x->len))
            tok_add_atom(t, p->infix[i]);
    }
    if (t->natoms == 0 && len >= 4 && len <= FUZZ_MAX_LEN && p->ntrie > 1) {
        for (size_t i = 0; i < len; i++)
            if (s[i] < 'a' || s[i] > 'z')
                return;
        int row0[FUZZ_MAX_LEN + 1];
        for (size_t j = 0; j <= len; j++)
            row0[j] = (int)j;
        walk w = {p, s, (int)len, len >= 8 ? 2 : 1, t};
        trie_walk(&w, 0, 0, NULL, row0);
    }
}

/* byte at i ends a clause: sentence punctuation, not a decimal point or comma */
static size_t clause_break(const char *s, size_t len, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    switch (c) {
    case '!':
    case '?':
    case ';':
    case ':':
    case '\n':
    case '\r':
        return 1;
    case '.':
    case ',':
        if (i > 0 && i + 1 < len && s[i - 1] >= '0' && s[i - 1] <= '9' && s[i + 1] >= '0' &&
            s[i + 1] <= '9')
            return 0;
        return 1;
    case 0xE2: /* en dash, em dash */
        if (i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
            ((unsigned char)s[i + 2] == 0x93 || (unsigned char)s[i + 2] == 0x94))
            return 3;
        return 0;
    case '-':
        if (i > 0 && i + 1 < len && s[i - 1] == ' ' && s[i + 1] == ' ')
            return 1;
        return 0;
    default:
        return 0;
    }
}

static void add_hit(scratch *sc, size_t *nhits, const hit *h)
{
    if (*nhits == sc->caphits) {
        sc->caphits *= 2;
        sc->hits = pd_xreallocarray(sc->hits, sc->caphits, sizeof *sc->hits);
    }
    sc->hits[(*nhits)++] = *h;
}

/* hits are sorted by start, so every test scans a bounded neighbourhood: linear time */
static int eval_cond(const cond *c, const fset *present, const hit *hits, size_t nhits)
{
    int r = 0;
    if (c->op == COND_ANY) {
        r = fset_meets(&c->a, present);
    } else if (!fset_meets(&c->a, present)) {
        r = 0;
    } else if (c->op == COND_MINUS) {
        /* a hit of a on words where b has no hit; entries span at most 64 words */
        for (size_t i = 0; i < nhits && !r; i++) {
            const hit *x = &hits[i];
            if (x->neg || !fset_has(&c->a, x->fam))
                continue;
            r = 1;
            size_t j = i;
            while (j > 0 && hits[j - 1].start + 64 > x->start)
                j--;
            for (; j < nhits && hits[j].start <= x->end; j++) {
                const hit *y = &hits[j];
                if (!y->neg && fset_has(&c->b, y->fam) && y->end >= x->start) {
                    r = 0;
                    break;
                }
            }
        }
    } else if (!fset_meets(&c->b, present)) {
        r = 0;
    } else if (c->op == COND_SEQ) {
        for (size_t i = 0; i < nhits && !r; i++) {
            const hit *x = &hits[i];
            if (x->neg || !fset_has(&c->a, x->fam))
                continue;
            for (size_t j = i + 1; j < nhits && hits[j].start <= x->end + c->window; j++) {
                const hit *y = &hits[j];
                if (!y->neg && y->clause == x->clause && y->start > x->end &&
                    fset_has(&c->b, y->fam)) {
                    r = 1;
                    break;
                }
            }
        }
    } else {
        /* same clause: clauses grow with start, so walk clause by clause */
        size_t i = 0;
        while (i < nhits && !r) {
            uint32_t cl = hits[i].clause;
            size_t na = 0, nb = 0, nab = 0;
            for (; i < nhits && hits[i].clause == cl; i++) {
                if (hits[i].neg)
                    continue;
                int ia = fset_has(&c->a, hits[i].fam), ib = fset_has(&c->b, hits[i].fam);
                na += ia, nb += ib, nab += ia && ib;
            }
            /* two different hits, one of a and one of b */
            r = na && nb && !(na == 1 && nb == 1 && nab == 1);
        }
    }
    return c->neg ? !r : r;
}

static int eval_rule(const rule *r, const fset *present, const hit *hits, size_t nhits)
{
    for (size_t i = 0; i < r->n; i++)
        if (!eval_cond(&r->conds[i], present, hits, nhits))
            return 0;
    return 1;
}

typedef struct analysis {
    scratch *sc;
    size_t ntoks, nhits;
    fset present;
    int de, en;
} analysis;

static void analyse(const policy *p, const char *text, size_t len, analysis *an)
{
    scratch *sc = scratch_get();
    buf *b = &sc->fold;
    buf_reset(b);
    size_t ntoks = 0, nhits = 0;
    uint32_t clause = 0;
    if (!text)
        len = 0;

    /* fold clause by clause, tokens carry their clause number */
    size_t i = 0;
    while (i < len) {
        size_t e = i, brk = 0;
        while (e < len && (brk = clause_break(text, len, e)) == 0)
            e++;
        size_t before = b->len;
        if (before)
            buf_putc(b, ' ');
        size_t start = b->len;
        text_fold(text + i, e - i, b);
        /* a question mark stays as the token "?", which folding never produces */
        if (e < len && text[e] == '?') {
            if (b->len > start)
                buf_putc(b, ' ');
            buf_putc(b, '?');
        }
        if (b->len == start) {
            b->len = before;
            if (b->data)
                b->data[before] = '\0';
        } else {
            size_t k = start;
            while (k < b->len) {
                while (k < b->len && b->data[k] == ' ')
                    k++;
                size_t s = k;
                while (k < b->len && b->data[k] != ' ')
                    k++;
                if (k > s) {
                    if (ntoks == sc->captoks) {
                        sc->captoks *= 2;
                        sc->toks = pd_xreallocarray(sc->toks, sc->captoks, sizeof *sc->toks);
                    }
                    tok *t = &sc->toks[ntoks++];
                    t->off = (uint32_t)s;
                    t->len = (uint32_t)(k - s);
                    t->clause = clause;
                    t->neg = 0;
                }
            }
            clause++;
        }
        i = e + (brk ? brk : 1);
    }

    const char *f = buf_cstr(b);
    for (size_t t = 0; t < ntoks; t++)
        match_token(p, f + sc->toks[t].off, sc->toks[t].len, &sc->toks[t]);

    fset present;
    memset(&present, 0, sizeof present);
    int de = 0, en = 0;
    for (size_t t = 0; t < ntoks; t++) {
        tok *tk = &sc->toks[t];
        for (size_t ai = 0; ai < tk->natoms; ai++) {
            const atom *a = &p->atoms[tk->atoms[ai]];
            for (size_t si = 0; si < a->nstarts; si++) {
                const entry *e = &p->entries[a->starts[si]];
                if (t + e->n > ntoks)
                    continue;
                size_t k;
                for (k = 1; k < e->n; k++) {
                    const tok *nx = &sc->toks[t + k];
                    if (nx->clause != tk->clause)
                        break;
                    size_t m;
                    for (m = 0; m < nx->natoms; m++)
                        if (nx->atoms[m] == e->atoms[k])
                            break;
                    if (m == nx->natoms)
                        break;
                }
                if (k < e->n)
                    continue;
                hit h = {e->family, (uint32_t)t, (uint32_t)(t + e->n - 1), tk->clause, 0};
                if ((int)e->family == p->fam_negation) {
                    for (size_t m = t; m <= h.end; m++)
                        sc->toks[m].neg = 1;
                } else if ((int)e->family == p->fam_de) {
                    de++;
                } else if ((int)e->family == p->fam_en) {
                    en++;
                } else if (!p->families[e->family].nonegate) {
                    for (size_t m = 1; m <= NEG_WINDOW && m <= t; m++) {
                        const tok *pv = &sc->toks[t - m];
                        if (pv->clause != tk->clause)
                            break;
                        if (pv->neg) {
                            h.neg = 1;
                            break;
                        }
                    }
                }
                if (!h.neg)
                    fset_set(&present, e->family);
                add_hit(sc, &nhits, &h);
            }
        }
    }

    an->sc = sc;
    an->ntoks = ntoks;
    an->nhits = nhits;
    an->present = present;
    an->de = de;
    an->en = en;
}

int policy_classify(const policy *p, const char *text, size_t len, policy_result *out)
{
    analysis an;
    analyse(p, text, len, &an);
    const fset present = an.present;
    scratch *sc = an.sc;
    size_t nhits = an.nhits;
    memset(out, 0, sizeof *out);
    out->lang = an.en > an.de ? "en" : "de";
    out->decision = (policy_decision)p->def_decision;
    out->intent = (policy_intent)p->def_intent;
    out->topic = (policy_topic)p->def_topic;
    out->rule = "default";
    out->reply_key = p->def_reply_key;
    for (size_t r = 0; r < p->nrules; r++) {
        const rule *ru = &p->rules[r];
        if (eval_rule(ru, &present, sc->hits, nhits)) {
            out->decision = (policy_decision)ru->decision;
            out->intent = (policy_intent)ru->intent;
            out->topic = (policy_topic)ru->topic;
            out->rule = ru->id;
            out->reply_key = ru->reply_key;
            if (ru->health) {
                out->health_data = 1;
                out->health_rule = ru->id;
            }
            break;
        }
    }
    for (size_t r = 0; r < p->nhrules && !out->health_data; r++) {
        const rule *ru = &p->hrules[r];
        if (eval_rule(ru, &present, sc->hits, nhits)) {
            out->health_data = 1;
            out->health_rule = ru->id;
        }
    }
    return 0;
}

void policy_explain(const policy *p, const char *text, size_t len, buf *out)
{
    analysis an;
    analyse(p, text, len, &an);
    const char *f = buf_cstr(&an.sc->fold);
    buf_printf(out, "folded: %s\n", f);
    for (size_t i = 0; i < an.nhits; i++) {
        const hit *h = &an.sc->hits[i];
        const tok *a = &an.sc->toks[h->start], *z = &an.sc->toks[h->end];
        buf_printf(out, "  %s%s: \"%.*s\" (clause %u)\n", h->neg ? "!" : "",
                   p->families[h->fam].name, (int)(z->off + z->len - a->off), f + a->off,
                   h->clause);
    }
}
