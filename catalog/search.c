#include "search.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pd.h"
#include "pzn.h"
#include "text.h"

/* where a word stood in the product record, and how much a match there counts */
enum field { F_NAME, F_ALIAS, F_INGREDIENT, F_FORM, F_MANUFACTURER, F_STRENGTH, F_PACK, F_COUNT };
static const float field_weight[F_COUNT] = {1.0f, 0.95f, 0.8f, 0.45f, 0.35f, 0.3f, 0.2f};

#define MAX_TERM 48    /* longer tokens are not indexed */
#define MAX_QTOKENS 24 /* query words considered */
#define MAX_NUMS 4     /* strength numbers kept per product */
/* A word finds candidates when its postings are few: at most COMMON_MIN, or RARE_FACTOR times
 * those of the query's rarest word, never above COMMON_MAX. Other words only refine the
 * candidates, so a query with one distinctive word touches few products. */
#define COMMON_MIN 2000
#define COMMON_MAX 20000
#define RARE_FACTOR 10
#define SYN_WORDS 4

/* catalog/lexicon.txt, compiled in */
extern const char search_lexicon[];

typedef struct synonym {
    text_token from[SYN_WORDS], to[SYN_WORDS];
    int nfrom, nto;
} synonym;

static const char *const volume_units[] = {"ml", "g", "l"};
static const char *const strength_units[] = {"mg", "g", "ml", "ug", "mcg", "ie", "e", "l"};
static const char *const pack_units[] = {"st",     "stk",       "stuck",   "x",
                                         "er",     "tabletten", "kapseln", "pcs",
                                         "pieces", "tablets",   "packung", "pack"};

typedef struct sprod {
    uint32_t pzn;
    uint32_t pack; /* count from pack_size, 0 unknown */
    uint16_t name_len;
    uint8_t in_stock;
    uint8_t pack_counted; /* pack is a count ("20 St"), not a measure ("100 ml") */
    uint8_t nnums;
    uint32_t name_key; /* hash of the name's words, to recognise a query that is the name */
    float nums[MAX_NUMS];
} sprod;

typedef struct posting {
    uint32_t prod;
    uint8_t field;
} posting;

typedef struct build_post {
    uint32_t term;
    uint32_t prod;
    uint8_t field;
} build_post;

typedef struct tri_entry {
    uint32_t tri;
    uint32_t term;
} tri_entry;

typedef struct term_match {
    uint32_t term;
    float quality;
} term_match;

#define MAX_MATCHES 64

typedef struct qword {
    term_match m[MAX_MATCHES];
    size_t nm;
    size_t postings;
} qword;

typedef struct scratch {
    float *score;
    float *tokbest;
    uint32_t *mark;    /* == stamp when score is valid for this query */
    uint32_t *tokmark; /* == tokstamp when tokbest is valid for this token */
    uint32_t *touched;
    size_t ntouched;
    uint32_t stamp, tokstamp;
    uint32_t *termcount; /* typo search: shared trigrams per term */
    uint32_t *termmark;
    uint32_t termstamp;
    qword *words; /* MAX_QTOKENS */
    buf folded;
    struct scratch *next;
} scratch;

struct search_index {
    /* products, in the order added */
    sprod *prods;
    uint32_t nprods, capprods;
    /* dictionary, sorted by bytes once finished */
    char *pool;
    size_t poollen, poolcap;
    uint32_t *term_off; /* nterms + 1 offsets into pool */
    uint32_t *term_len;
    uint32_t nterms, capterms;
    /* building: open-addressing hash of term ids */
    uint32_t *hash;
    uint32_t hashcap;
    build_post *bposts;
    size_t nbposts, capbposts;
    /* finished */
    uint32_t *post_off;
    posting *posts;
    tri_entry *tris;
    size_t ntris;
    /* the lexicon, folded: stopwords sorted for bsearch, synonyms in file order */
    buf lexpool;
    text_token *stop;
    size_t nstop;
    synonym *syns; /* sorted by their first word's first byte */
    size_t nsyns;
    size_t syn_start[257]; /* syns[syn_start[c] .. syn_start[c + 1]) start with byte c */
    /* scratch pool for queries */
    pthread_mutex_t lock;
    scratch *free_scratch;
};

static uint32_t hash_bytes(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

static const char *term_str(const search_index *ix, uint32_t t)
{
    return ix->pool + ix->term_off[t];
}

static void hash_grow(search_index *ix)
{
    uint32_t cap = ix->hashcap ? ix->hashcap * 2 : 4096;
    uint32_t *h = pd_xmalloc(cap * sizeof *h);
    memset(h, 0xFF, cap * sizeof *h);
    for (uint32_t t = 0; t < ix->nterms; t++) {
        uint32_t i = hash_bytes(term_str(ix, t), ix->term_len[t]) & (cap - 1);
        while (h[i] != UINT32_MAX)
            i = (i + 1) & (cap - 1);
        h[i] = t;
    }
    free(ix->hash);
    ix->hash = h;
    ix->hashcap = cap;
}

static uint32_t intern(search_index *ix, const char *p, size_t n)
{
    if ((size_t)(ix->nterms + 1) * 2 > ix->hashcap)
        hash_grow(ix);
    uint32_t i = hash_bytes(p, n) & (ix->hashcap - 1);
    while (ix->hash[i] != UINT32_MAX) {
        uint32_t t = ix->hash[i];
        if (ix->term_len[t] == n && memcmp(term_str(ix, t), p, n) == 0)
            return t;
        i = (i + 1) & (ix->hashcap - 1);
    }
    if (ix->nterms + 1 >= ix->capterms) {
        ix->capterms = ix->capterms ? ix->capterms * 2 : 1024;
        ix->term_off = pd_xreallocarray(ix->term_off, ix->capterms + 1, sizeof *ix->term_off);
        ix->term_len = pd_xreallocarray(ix->term_len, ix->capterms, sizeof *ix->term_len);
    }
    if (ix->poollen + n + 1 > ix->poolcap) {
        ix->poolcap = (ix->poolcap + n + 1) * 2;
        ix->pool = pd_xrealloc(ix->pool, ix->poolcap);
    }
    uint32_t t = ix->nterms++;
    ix->term_off[t] = (uint32_t)ix->poollen;
    ix->term_len[t] = (uint32_t)n;
    memcpy(ix->pool + ix->poollen, p, n);
    ix->pool[ix->poollen + n] = '\0';
    ix->poollen += n + 1;
    ix->hash[i] = t;
    return t;
}

static int cmp_token(const void *a, const void *b)
{
    const text_token *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* folds the lexicon once; tokens point into lexpool, which is not grown afterwards */
static void lexicon_load(search_index *ix, const char *text)
{
    buf *pool = &ix->lexpool;
    size_t nlines = 1;
    for (const char *p = text; *p; p++)
        nlines += *p == '\n';
    /* first pass: fold every line into the pool, remembering where each starts */
    size_t *starts = pd_xcalloc(nlines, sizeof *starts), *kinds = pd_xcalloc(nlines, sizeof *kinds);
    size_t n = 0;
    buf_reserve(pool, strlen(text) * 2 + 16);
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        int kind = len > 5 && memcmp(line, "stop:", 5) == 0  ? 1
                   : len > 4 && memcmp(line, "syn:", 4) == 0 ? 2
                                                             : 0;
        if (kind) {
            const char *body = line + (kind == 1 ? 5 : 4);
            size_t blen = len - (size_t)(body - line);
            starts[n] = pool->len;
            kinds[n] = (size_t)kind;
            if (kind == 2) {
                const char *eq = memchr(body, '=', blen);
                if (eq) {
                    text_fold(body, (size_t)(eq - body), pool);
                    buf_putc(pool, '=');
                    text_fold(eq + 1, blen - (size_t)(eq + 1 - body), pool);
                }
            } else {
                text_fold(body, blen, pool);
            }
            buf_putc(pool, '\0');
            n++;
        }
        line += len + (end ? 1 : 0);
    }
    /* second pass: tokens, now that the pool no longer moves */
    size_t capstop = 0;
    for (size_t i = 0; i < n; i++) {
        char *l = pool->data + starts[i];
        if (kinds[i] == 1) {
            text_token toks[64];
            size_t nt = text_tokens(l, strlen(l), toks, PD_ARRAY_LEN(toks));
            if (nt > PD_ARRAY_LEN(toks))
                nt = PD_ARRAY_LEN(toks);
            if (ix->nstop + nt > capstop) {
                capstop = (ix->nstop + nt) * 2;
                ix->stop = pd_xreallocarray(ix->stop, capstop, sizeof *ix->stop);
            }
            memcpy(ix->stop + ix->nstop, toks, nt * sizeof *toks);
            ix->nstop += nt;
        } else {
            char *eq = strchr(l, '=');
            if (!eq)
                continue;
            synonym sy = {0};
            size_t nf = text_tokens(l, (size_t)(eq - l), sy.from, SYN_WORDS);
            size_t nto = text_tokens(eq + 1, strlen(eq + 1), sy.to, SYN_WORDS);
            if (nf == 0 || nf > SYN_WORDS || nto == 0 || nto > SYN_WORDS)
                continue;
            sy.nfrom = (int)nf;
            sy.nto = (int)nto;
            ix->syns = pd_xreallocarray(ix->syns, ix->nsyns + 1, sizeof *ix->syns);
            ix->syns[ix->nsyns++] = sy;
        }
    }
    qsort(ix->stop, ix->nstop, sizeof *ix->stop, cmp_token);
    /* a stable bucket sort by first byte: synonym_at looks only at its word's bucket */
    synonym *sorted = pd_xcalloc(ix->nsyns ? ix->nsyns : 1, sizeof *sorted);
    size_t count[257] = {0};
    for (size_t i = 0; i < ix->nsyns; i++)
        count[(unsigned char)ix->syns[i].from[0].p[0] + 1]++;
    for (int c = 0; c < 256; c++)
        count[c + 1] += count[c];
    memcpy(ix->syn_start, count, sizeof count);
    for (size_t i = 0; i < ix->nsyns; i++)
        sorted[count[(unsigned char)ix->syns[i].from[0].p[0]]++] = ix->syns[i];
    free(ix->syns);
    ix->syns = sorted;
    free(starts);
    free(kinds);
}

search_index *search_new(void)
{
    search_index *ix = pd_xcalloc(1, sizeof *ix);
    pthread_mutex_init(&ix->lock, NULL);
    lexicon_load(ix, search_lexicon);
    return ix;
}

static int is_stopword(const search_index *ix, const char *p, size_t n)
{
    text_token key = {p, n};
    return bsearch(&key, ix->stop, ix->nstop, sizeof *ix->stop, cmp_token) != NULL;
}

static void add_post(search_index *ix, uint32_t term, uint32_t prod, enum field f)
{
    if (ix->nbposts == ix->capbposts) {
        ix->capbposts = ix->capbposts ? ix->capbposts * 2 : 4096;
        ix->bposts = pd_xreallocarray(ix->bposts, ix->capbposts, sizeof *ix->bposts);
    }
    ix->bposts[ix->nbposts++] = (build_post){term, prod, (uint8_t)f};
}

static void index_text(search_index *ix, uint32_t prod, const char *s, enum field f, buf *tmp)
{
    text_token toks[64];
    buf_reset(tmp);
    text_fold(s, strlen(s), tmp);
    size_t n = text_tokens(tmp->data ? tmp->data : "", tmp->len, toks, PD_ARRAY_LEN(toks));
    if (n > PD_ARRAY_LEN(toks))
        n = PD_ARRAY_LEN(toks);
    for (size_t i = 0; i < n; i++) {
        if (toks[i].len > MAX_TERM)
            continue;
        add_post(ix, intern(ix, toks[i].p, toks[i].len), prod, f);
    }
}

static float parse_num(const char *p, size_t n)
{
    char tmp[32];
    if (n >= sizeof tmp)
        n = sizeof tmp - 1;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    return strtof(tmp, NULL);
}

static int in_list(const char *const *list, size_t n, const char *p, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && memcmp(list[i], p, len) == 0)
            return 1;
    return 0;
}

/* the numbers of strength and name ("400 mg", "250/200/50 mg") and the count of the pack */
static void product_numbers(sprod *sp, const product *p, buf *tmp)
{
    text_token toks[32];
    const char *srcs[] = {p->strength, p->name};
    for (size_t s = 0; s < 2; s++) {
        buf_reset(tmp);
        text_fold(srcs[s], strlen(srcs[s]), tmp);
        size_t n = text_tokens(buf_cstr(tmp), tmp->len, toks, PD_ARRAY_LEN(toks));
        for (size_t i = 0; i < n && i < PD_ARRAY_LEN(toks) && sp->nnums < MAX_NUMS; i++) {
            if (!text_is_number(toks[i].p, toks[i].len))
                continue;
            float v = parse_num(toks[i].p, toks[i].len);
            int dup = 0;
            for (int k = 0; k < sp->nnums; k++)
                dup |= sp->nums[k] == v;
            if (!dup)
                sp->nums[sp->nnums++] = v;
        }
    }
    buf_reset(tmp);
    text_fold(p->pack_size, strlen(p->pack_size), tmp);
    size_t n = text_tokens(buf_cstr(tmp), tmp->len, toks, PD_ARRAY_LEN(toks));
    /* "20 St" counts, "100 ml" and "50 g" measure: both are what a customer calls the pack */
    if (n >= 2 && n <= PD_ARRAY_LEN(toks) && text_is_number(toks[0].p, toks[0].len) &&
        (in_list(pack_units, PD_ARRAY_LEN(pack_units), toks[1].p, toks[1].len) ||
         in_list(volume_units, PD_ARRAY_LEN(volume_units), toks[1].p, toks[1].len))) {
        sp->pack = (uint32_t)parse_num(toks[0].p, toks[0].len);
        sp->pack_counted = in_list(pack_units, PD_ARRAY_LEN(pack_units), toks[1].p, toks[1].len);
    }
}

static int is_stopword(const search_index *ix, const char *p, size_t n);

/* a hash of the words of folded text that are not filler words */
static uint32_t words_key(const search_index *ix, const char *folded, size_t len)
{
    text_token toks[64];
    size_t n = text_tokens(folded, len, toks, PD_ARRAY_LEN(toks));
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n && i < PD_ARRAY_LEN(toks); i++) {
        if (is_stopword(ix, toks[i].p, toks[i].len))
            continue;
        for (size_t k = 0; k < toks[i].len; k++)
            h = (h ^ (unsigned char)toks[i].p[k]) * 16777619u;
        h = (h ^ ' ') * 16777619u;
    }
    return h;
}

void search_add(search_index *ix, const product *p)
{
    buf tmp = BUF_INIT;
    if (ix->nprods == ix->capprods) {
        ix->capprods = ix->capprods ? ix->capprods * 2 : 1024;
        ix->prods = pd_xreallocarray(ix->prods, ix->capprods, sizeof *ix->prods);
    }
    uint32_t id = ix->nprods++;
    sprod *sp = &ix->prods[id];
    memset(sp, 0, sizeof *sp);
    sp->pzn = p->pzn;
    size_t nl = strlen(p->name);
    sp->name_len = (uint16_t)(nl > 65535 ? 65535 : nl);
    sp->in_stock = p->stock > 0;
    index_text(ix, id, p->name, F_NAME, &tmp);
    sp->name_key = words_key(ix, buf_cstr(&tmp), tmp.len);
    index_text(ix, id, p->active_ingredient, F_INGREDIENT, &tmp);
    index_text(ix, id, p->dosage_form, F_FORM, &tmp);
    index_text(ix, id, p->manufacturer, F_MANUFACTURER, &tmp);
    index_text(ix, id, p->strength, F_STRENGTH, &tmp);
    index_text(ix, id, p->pack_size, F_PACK, &tmp);
    if (p->aliases && *p->aliases) {
        /* each alias also as one glued word, so "Ibu 400" is found from "ibu400" too */
        index_text(ix, id, p->aliases, F_ALIAS, &tmp);
    }
    product_numbers(sp, p, &tmp);
    buf_free(&tmp);
}

static int cmp_str_ids(const void *a, const void *b, void *ctx)
{
    const search_index *ix = ctx;
    return strcmp(term_str(ix, *(const uint32_t *)a), term_str(ix, *(const uint32_t *)b));
}

static int cmp_tri(const void *a, const void *b)
{
    const tri_entry *x = a, *y = b;
    if (x->tri != y->tri)
        return x->tri < y->tri ? -1 : 1;
    return x->term < y->term ? -1 : x->term > y->term;
}

void search_finish(search_index *ix)
{
    uint32_t nt = ix->nterms;
    /* 1. order terms by bytes so that prefixes form ranges */
    uint32_t *byname = pd_xcalloc(nt ? nt : 1, sizeof *byname);
    for (uint32_t i = 0; i < nt; i++)
        byname[i] = i;
    qsort_r(byname, nt, sizeof *byname, cmp_str_ids, ix);
    uint32_t *remap = pd_xcalloc(nt ? nt : 1, sizeof *remap);
    char *pool = pd_xmalloc(ix->poollen ? ix->poollen : 1);
    uint32_t *off = pd_xcalloc((size_t)nt + 1, sizeof *off);
    uint32_t *len = pd_xcalloc(nt ? nt : 1, sizeof *len);
    size_t pl = 0;
    for (uint32_t r = 0; r < nt; r++) {
        uint32_t t = byname[r];
        remap[t] = r;
        off[r] = (uint32_t)pl;
        len[r] = ix->term_len[t];
        memcpy(pool + pl, term_str(ix, t), ix->term_len[t] + 1);
        pl += ix->term_len[t] + 1;
    }
    off[nt] = (uint32_t)pl;
    free(ix->pool);
    free(ix->term_off);
    free(ix->term_len);
    free(ix->hash);
    ix->hash = NULL;
    ix->pool = pool;
    ix->term_off = off;
    ix->term_len = len;

    /* 2. postings grouped by term (counting sort keeps product order), best field per product */
    uint32_t *cnt = pd_xcalloc((size_t)nt + 1, sizeof *cnt);
    for (size_t i = 0; i < ix->nbposts; i++)
        cnt[remap[ix->bposts[i].term] + 1]++;
    for (uint32_t t = 0; t < nt; t++)
        cnt[t + 1] += cnt[t];
    posting *tmp = pd_xcalloc(ix->nbposts ? ix->nbposts : 1, sizeof *tmp);
    uint32_t *fill = pd_xcalloc((size_t)nt + 1, sizeof *fill);
    memcpy(fill, cnt, ((size_t)nt + 1) * sizeof *fill);
    for (size_t i = 0; i < ix->nbposts; i++) {
        uint32_t t = remap[ix->bposts[i].term];
        tmp[fill[t]++] = (posting){ix->bposts[i].prod, ix->bposts[i].field};
    }
    free(fill);
    ix->post_off = pd_xcalloc((size_t)nt + 1, sizeof *ix->post_off);
    ix->posts = pd_xcalloc(ix->nbposts ? ix->nbposts : 1, sizeof *ix->posts);
    size_t np = 0;
    for (uint32_t t = 0; t < nt; t++) {
        ix->post_off[t] = (uint32_t)np;
        for (uint32_t i = cnt[t]; i < cnt[t + 1]; i++) {
            if (np > ix->post_off[t] && ix->posts[np - 1].prod == tmp[i].prod) {
                if (field_weight[tmp[i].field] > field_weight[ix->posts[np - 1].field])
                    ix->posts[np - 1].field = tmp[i].field;
                continue;
            }
            ix->posts[np++] = tmp[i];
        }
    }
    ix->post_off[nt] = (uint32_t)np;
    free(tmp);
    free(cnt);
    free(remap);
    free(byname);
    free(ix->bposts);
    ix->bposts = NULL;

    /* 3. trigrams of "$term$" for typo search, words of 3+ letters only */
    size_t ntri = 0, captri = 0;
    tri_entry *tris = NULL;
    for (uint32_t t = 0; t < nt; t++) {
        const char *s = term_str(ix, t);
        uint32_t n = ix->term_len[t];
        if (n < 3 || text_is_number(s, n))
            continue;
        for (uint32_t i = 0; i < n; i++) {
            unsigned char a = i == 0 ? '$' : (unsigned char)s[i - 1];
            unsigned char b = (unsigned char)s[i];
            unsigned char c = i + 1 < n ? (unsigned char)s[i + 1] : '$';
            if (ntri == captri) {
                captri = captri ? captri * 2 : 4096;
                tris = pd_xreallocarray(tris, captri, sizeof *tris);
            }
            tris[ntri++] = (tri_entry){((uint32_t)a << 16) | ((uint32_t)b << 8) | c, t};
        }
    }
    if (ntri) /* an empty catalog has no trigrams, and qsort must not see NULL */
        qsort(tris, ntri, sizeof *tris, cmp_tri);
    ix->tris = tris;
    ix->ntris = ntri;
}

static void scratch_free(scratch *s)
{
    if (!s)
        return;
    free(s->score);
    free(s->tokbest);
    free(s->mark);
    free(s->tokmark);
    free(s->touched);
    free(s->termcount);
    free(s->termmark);
    free(s->words);
    buf_free(&s->folded);
    free(s);
}

void search_free(search_index *ix)
{
    if (!ix)
        return;
    while (ix->free_scratch) {
        scratch *s = ix->free_scratch;
        ix->free_scratch = s->next;
        scratch_free(s);
    }
    pthread_mutex_destroy(&ix->lock);
    free(ix->prods);
    free(ix->pool);
    free(ix->term_off);
    free(ix->term_len);
    free(ix->hash);
    free(ix->bposts);
    free(ix->post_off);
    free(ix->posts);
    free(ix->tris);
    free(ix->stop);
    free(ix->syns);
    buf_free(&ix->lexpool);
    free(ix);
}

size_t search_size(const search_index *ix)
{
    return ix->nprods;
}

static scratch *scratch_get(search_index *ix)
{
    pthread_mutex_lock(&ix->lock);
    scratch *s = ix->free_scratch;
    if (s)
        ix->free_scratch = s->next;
    pthread_mutex_unlock(&ix->lock);
    if (s)
        return s;
    size_t n = ix->nprods ? ix->nprods : 1, nt = ix->nterms ? ix->nterms : 1;
    s = pd_xcalloc(1, sizeof *s);
    s->score = pd_xcalloc(n, sizeof *s->score);
    s->tokbest = pd_xcalloc(n, sizeof *s->tokbest);
    s->mark = pd_xcalloc(n, sizeof *s->mark);
    s->tokmark = pd_xcalloc(n, sizeof *s->tokmark);
    s->touched = pd_xcalloc(n, sizeof *s->touched);
    s->termcount = pd_xcalloc(nt, sizeof *s->termcount);
    s->termmark = pd_xcalloc(nt, sizeof *s->termmark);
    s->words = pd_xcalloc(MAX_QTOKENS, sizeof *s->words);
    return s;
}

static void scratch_put(search_index *ix, scratch *s)
{
    pthread_mutex_lock(&ix->lock);
    s->next = ix->free_scratch;
    ix->free_scratch = s;
    pthread_mutex_unlock(&ix->lock);
}

/* first term >= key (by bytes) */
static uint32_t lower_bound(const search_index *ix, const char *key, size_t n)
{
    uint32_t lo = 0, hi = ix->nterms;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const char *t = term_str(ix, mid);
        size_t tl = ix->term_len[mid];
        int c = memcmp(t, key, tl < n ? tl : n);
        if (c < 0 || (c == 0 && tl < n))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int term_find(const search_index *ix, const char *p, size_t n, uint32_t *t)
{
    uint32_t i = lower_bound(ix, p, n);
    if (i < ix->nterms && ix->term_len[i] == n && memcmp(term_str(ix, i), p, n) == 0) {
        *t = i;
        return 1;
    }
    return 0;
}

/* optimal string alignment distance, or max + 1 once it exceeds max */
static int osa_distance(const char *a, size_t la, const char *b, size_t lb, int max)
{
    int rows[3][MAX_TERM + 2];
    if (la > MAX_TERM || lb > MAX_TERM)
        return max + 1;
    if ((la > lb ? la - lb : lb - la) > (size_t)max)
        return max + 1;
    int *pp = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        int rowmin = cur[0];
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (prev[j - 1] + cost < v)
                v = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            cur[j] = v;
            if (v < rowmin)
                rowmin = v;
        }
        if (rowmin > max)
            return max + 1;
        int *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

static void add_match(term_match *m, size_t *n, uint32_t term, float q)
{
    for (size_t i = 0; i < *n; i++) {
        if (m[i].term == term) {
            if (q > m[i].quality)
                m[i].quality = q;
            return;
        }
    }
    if (*n < MAX_MATCHES)
        m[(*n)++] = (term_match){term, q};
}

/* words within 1 edit (2 for long words) that share enough trigrams with the query word */
static void typo_matches(search_index *ix, scratch *s, const char *w, size_t n, term_match *m,
                         size_t *nm)
{
    int maxd = n >= 8 ? 2 : 1;
    if (++s->termstamp == 0) {
        memset(s->termmark, 0, ix->nterms * sizeof *s->termmark);
        s->termstamp = 1;
    }
    /* one edit changes at most 3 trigrams, except a swap of neighbours, which changes 4 */
    int need = (int)n - 4 * maxd;
    if (need < 1)
        need = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char a = i == 0 ? '$' : (unsigned char)w[i - 1];
        unsigned char b = (unsigned char)w[i];
        unsigned char c = i + 1 < n ? (unsigned char)w[i + 1] : '$';
        uint32_t key = ((uint32_t)a << 16) | ((uint32_t)b << 8) | c;
        size_t lo = 0, hi = ix->ntris;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (ix->tris[mid].tri < key)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t k = lo; k < ix->ntris && ix->tris[k].tri == key; k++) {
            uint32_t t = ix->tris[k].term;
            if (s->termmark[t] != s->termstamp) {
                s->termmark[t] = s->termstamp;
                s->termcount[t] = 0;
            }
            const char *ts = term_str(ix, t);
            /* customers rarely mistype the first letter; requiring it (or a swap of the first
             * two) halves the distance computations on long messages */
            if (++s->termcount[t] == (uint32_t)need &&
                (ts[0] == w[0] ||
                 (n > 1 && ix->term_len[t] > 1 && ts[0] == w[1] && ts[1] == w[0]))) {
                int d = osa_distance(w, n, ts, ix->term_len[t], maxd);
                if (d <= maxd)
                    add_match(m, nm, t, d == 1 ? 0.75f : 0.6f);
            }
        }
    }
}

static void word_matches(search_index *ix, scratch *s, const char *w, size_t n, term_match *m,
                         size_t *nm)
{
    uint32_t t;
    *nm = 0;
    if (term_find(ix, w, n, &t))
        add_match(m, nm, t, 1.0f);
    if (n >= 3) {
        /* the word as the start of longer words: "ibupro" finds "ibuprofen" */
        uint32_t i = lower_bound(ix, w, n);
        for (int k = 0; i < ix->nterms && k < 32; i++, k++) {
            if (ix->term_len[i] < n || memcmp(term_str(ix, i), w, n) != 0)
                break;
            if (ix->term_len[i] > n)
                add_match(m, nm, i, 0.85f - 0.01f * (float)(ix->term_len[i] - n));
        }
    }
    if (*nm == 0 && n >= 4 && n <= MAX_TERM)
        typo_matches(ix, s, w, n, m, nm);
    if (*nm == 0 && n >= 7) {
        /* a compound whose head is a known word: "hustensaftvorrat" -> "hustensaft" */
        for (size_t k = n - 3; k >= 4; k--) {
            if (term_find(ix, w, k, &t)) {
                add_match(m, nm, t, 0.7f);
                break;
            }
        }
    }
}

static size_t term_postings(const search_index *ix, uint32_t t)
{
    return ix->post_off[t + 1] - ix->post_off[t];
}

static void touch(scratch *s, uint32_t prod)
{
    if (s->mark[prod] != s->stamp) {
        s->mark[prod] = s->stamp;
        s->score[prod] = 0;
        s->touched[s->ntouched++] = prod;
    }
}

/* raises prod's score for the current token to at least v (a token counts once per product) */
static void credit(scratch *s, uint32_t prod, float v)
{
    if (s->tokmark[prod] != s->tokstamp) {
        s->tokmark[prod] = s->tokstamp;
        s->tokbest[prod] = 0;
    }
    if (v > s->tokbest[prod]) {
        s->score[prod] += v - s->tokbest[prod];
        s->tokbest[prod] = v;
    }
}

static int posting_find(const search_index *ix, uint32_t t, uint32_t prod, uint8_t *field)
{
    uint32_t lo = ix->post_off[t], hi = ix->post_off[t + 1];
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ix->posts[mid].prod < prod)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < ix->post_off[t + 1] && ix->posts[lo].prod == prod) {
        *field = ix->posts[lo].field;
        return 1;
    }
    return 0;
}

enum numkind { NUM_ANY, NUM_STRENGTH, NUM_PACK, NUM_MEASURE };
typedef struct qnum {
    float v;
    enum numkind kind;
} qnum;

static int cmp_qword(const void *a, const void *b)
{
    const qword *x = *(qword *const *)a, *y = *(qword *const *)b;
    return x->postings < y->postings ? -1 : x->postings > y->postings;
}

static int prod_has_num(const sprod *sp, float v)
{
    for (int i = 0; i < sp->nnums; i++)
        if (sp->nums[i] == v)
            return 1;
    return 0;
}

static int pzn_index(const search_index *ix, uint32_t pzn, uint32_t *idx)
{
    /* products are added in PZN order by the store; fall back to a scan if not */
    uint32_t lo = 0, hi = ix->nprods;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ix->prods[mid].pzn < pzn)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < ix->nprods && ix->prods[lo].pzn == pzn) {
        *idx = lo;
        return 1;
    }
    for (uint32_t i = 0; i < ix->nprods; i++) {
        if (ix->prods[i].pzn == pzn) {
            *idx = i;
            return 1;
        }
    }
    return 0;
}

static int hit_better(const search_hit *a, const search_hit *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    return a->pzn < b->pzn;
}

/* keeps the best max hits in a min-heap at out[0..*n) */
static void heap_offer(search_hit *h, size_t *n, size_t max, search_hit x)
{
    if (*n < max) {
        size_t i = (*n)++;
        h[i] = x;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!hit_better(&h[p], &h[i]))
                break;
            search_hit t = h[p];
            h[p] = h[i];
            h[i] = t;
            i = p;
        }
        return;
    }
    if (!hit_better(&x, &h[0]))
        return;
    h[0] = x;
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && hit_better(&h[m], &h[l]))
            m = l;
        if (r < *n && hit_better(&h[m], &h[r]))
            m = r;
        if (m == i)
            break;
        search_hit t = h[m];
        h[m] = h[i];
        h[i] = t;
        i = m;
    }
}

static int cmp_hits(const void *a, const void *b)
{
    const search_hit *x = a, *y = b;
    return hit_better(x, y) ? -1 : hit_better(y, x) ? 1 : 0;
}

static int word_eq(const char *a, size_t la, const char *b, size_t lb)
{
    if (la == lb && memcmp(a, b, la) == 0)
        return 1;
    /* cheap rejects first: this runs for every query word against every synonym */
    if (la < 6 || lb < 6 || a[0] != b[0] || (la > lb ? la - lb : lb - la) > 1)
        return 0;
    return osa_distance(a, la, b, lb, 1) <= 1;
}

/* the longest synonym whose words start at toks[i] (typos of one edit in long words allowed) */
static const synonym *synonym_at(const search_index *ix, const text_token *toks, size_t nt,
                                 size_t i, int *nfrom)
{
    const synonym *best = NULL;
    unsigned char first = (unsigned char)toks[i].p[0];
    for (size_t k = ix->syn_start[first]; k < ix->syn_start[first + 1]; k++) {
        const synonym *sy = &ix->syns[k];
        if (i + (size_t)sy->nfrom > nt || (best && sy->nfrom <= best->nfrom))
            continue;
        int ok = 1;
        for (int w = 0; w < sy->nfrom && ok; w++)
            ok = word_eq(toks[i + w].p, toks[i + w].len, sy->from[w].p, sy->from[w].len);
        if (ok)
            best = sy;
    }
    if (best)
        *nfrom = best->nfrom;
    return best;
}

/* looks a query word up and queues it for scoring, unless nothing in the catalog matches */
static void add_word(search_index *ix, scratch *s, const char *p, size_t n, qword **ranked,
                     size_t *nwords)
{
    if (*nwords == MAX_QTOKENS)
        return;
    qword *w = &s->words[*nwords];
    w->postings = 0;
    word_matches(ix, s, p, n, w->m, &w->nm);
    if (w->nm == 0)
        return;
    for (size_t k = 0; k < w->nm; k++)
        w->postings += term_postings(ix, w->m[k].term);
    ranked[(*nwords)++] = w;
}

size_t search_query(search_index *ix, const char *q, size_t len, search_hit *out, size_t max)
{
    text_token toks[MAX_QTOKENS * 2];
    qword *ranked[MAX_QTOKENS];
    qnum nums[8];
    size_t nwords = 0, nnums = 0, nhits = 0;
    int norm = 0; /* N1, N2, N3 */
    uint32_t pzns[4];
    size_t npzn;

    if (max == 0 || ix->nprods == 0)
        return 0;
    scratch *s = scratch_get(ix);
    if (++s->stamp == 0) {
        memset(s->mark, 0, ix->nprods * sizeof *s->mark);
        s->stamp = 1;
    }
    s->ntouched = 0;

    /* a PZN in the text names one product outright */
    npzn = pzn_find(q, len, pzns, PD_ARRAY_LEN(pzns));
    for (size_t i = 0; i < npzn && i < PD_ARRAY_LEN(pzns); i++) {
        uint32_t idx;
        if (pzn_index(ix, pzns[i], &idx)) {
            touch(s, idx);
            s->score[idx] += 100.0f - (float)i;
        }
    }

    buf_reset(&s->folded);
    text_fold(q, len, &s->folded);
    size_t nt = text_tokens(buf_cstr(&s->folded), s->folded.len, toks, PD_ARRAY_LEN(toks));
    if (nt > PD_ARRAY_LEN(toks))
        nt = PD_ARRAY_LEN(toks);
    for (size_t i = 0; i < nt; i++) {
        const char *p = toks[i].p;
        size_t n = toks[i].len;
        int nfrom = 0;
        const synonym *sy = synonym_at(ix, toks, nt, i, &nfrom);
        if (sy) {
            /* customers' words for catalog words: search those too (the words themselves
             * stay in the query, since they may be in the catalog as well) */
            for (int k = 0; k < sy->nto; k++)
                add_word(ix, s, sy->to[k].p, sy->to[k].len, ranked, &nwords);
        }
        if (text_is_number(p, n)) {
            if (i > 0 && toks[i - 1].len == 1 && toks[i - 1].p[0] == 'n' && n == 1 && p[0] >= '1' &&
                p[0] <= '3') {
                norm = p[0] - '0';
                continue;
            }
            if (nnums < PD_ARRAY_LEN(nums)) {
                enum numkind k = NUM_ANY;
                if (i + 1 < nt && in_list(volume_units, PD_ARRAY_LEN(volume_units), toks[i + 1].p,
                                          toks[i + 1].len))
                    k = NUM_MEASURE; /* "100 ml": a strength or the size of the pack */
                else if (i + 1 < nt && in_list(strength_units, PD_ARRAY_LEN(strength_units),
                                               toks[i + 1].p, toks[i + 1].len))
                    k = NUM_STRENGTH;
                else if (i + 1 < nt && in_list(pack_units, PD_ARRAY_LEN(pack_units), toks[i + 1].p,
                                               toks[i + 1].len))
                    k = NUM_PACK;
                nums[nnums++] = (qnum){parse_num(p, n), k};
            }
            continue;
        }
        if (n < 2 || is_stopword(ix, p, n) ||
            in_list(strength_units, PD_ARRAY_LEN(strength_units), p, n) ||
            in_list(pack_units, PD_ARRAY_LEN(pack_units), p, n))
            continue;
        add_word(ix, s, p, n, ranked, &nwords);
    }
    qsort(ranked, nwords, sizeof *ranked, cmp_qword);
    uint32_t qkey = words_key(ix, buf_cstr(&s->folded), s->folded.len);
    size_t common = nwords ? ranked[0]->postings * RARE_FACTOR : COMMON_MAX;
    common = common < COMMON_MIN ? COMMON_MIN : common > COMMON_MAX ? COMMON_MAX : common;
    /* the rarest word, when the catalog has it exactly ("labo", a brand), finds the candidates;
     * more common words (dosage forms, big ingredients) only refine them: the product meant
     * carries the rare word. Words of up to COMMON_MIN postings always find candidates, so in a
     * small catalog one odd word cannot hide the product. */
    if (nwords && ranked[0]->m[0].quality >= 1.0f && ranked[0]->postings < common)
        common = ranked[0]->postings > COMMON_MIN ? ranked[0]->postings : COMMON_MIN;

    /* rare words first: they find the candidates; very common ones only refine them */
    for (size_t wi = 0; wi < nwords; wi++) {
        qword *w = ranked[wi];
        if (++s->tokstamp == 0) {
            memset(s->tokmark, 0, ix->nprods * sizeof *s->tokmark);
            s->tokstamp = 1;
        }
        int refine = w->postings > common && s->ntouched > 0;
        size_t ncand = s->ntouched;
        for (size_t k = 0; k < w->nm; k++) {
            uint32_t t = w->m[k].term;
            float qual = w->m[k].quality;
            if (refine && ncand * 16 < term_postings(ix, t)) {
                /* few candidates, a long list: look each candidate up */
                for (size_t c = 0; c < ncand; c++) {
                    uint8_t f;
                    if (posting_find(ix, t, s->touched[c], &f))
                        credit(s, s->touched[c], qual * field_weight[f]);
                }
                continue;
            }
            for (uint32_t pi = ix->post_off[t]; pi < ix->post_off[t + 1]; pi++) {
                const posting *ps = &ix->posts[pi];
                if (refine && s->mark[ps->prod] != s->stamp)
                    continue; /* refining: only products a rarer word found */
                touch(s, ps->prod);
                credit(s, ps->prod, qual * field_weight[ps->field]);
            }
        }
    }

    /* a query of numbers only ("400") finds by strength */
    if (s->ntouched == 0 && nnums > 0) {
        for (uint32_t i = 0; i < ix->nprods; i++)
            for (size_t k = 0; k < nnums; k++)
                if (prod_has_num(&ix->prods[i], nums[k].v) ||
                    (nums[k].kind != NUM_STRENGTH && ix->prods[i].pack == (uint32_t)nums[k].v))
                    touch(s, i);
    }

    for (size_t c = 0; c < s->ntouched; c++) {
        uint32_t prod = s->touched[c];
        const sprod *sp = &ix->prods[prod];
        float sc = s->score[prod];
        for (size_t k = 0; k < nnums; k++) {
            int str = prod_has_num(sp, nums[k].v), pack = sp->pack == (uint32_t)nums[k].v;
            /* numbers break ties between products a word found; they never outweigh a word */
            if (nums[k].kind == NUM_STRENGTH)
                sc += str ? 0.35f : -0.1f;
            else if (nums[k].kind == NUM_PACK)
                sc += pack ? 0.3f : -0.1f;
            else if (nums[k].kind == NUM_MEASURE)
                sc += pack ? 0.3f : str ? 0.25f : -0.05f;
            else
                sc += str ? 0.3f : pack ? 0.1f : 0.0f;
        }
        if (sp->name_key == qkey)
            sc += 0.5f; /* the customer typed the product's name */
        if (norm && sp->pack_counted) {
            /* Normgrößen approximated from the count: N1 up to 20, N2 up to 59, N3 above */
            int n = sp->pack <= 20 ? 1 : sp->pack < 60 ? 2 : 3;
            sc += n == norm ? 0.3f : 0.0f;
        }
        sc += sp->in_stock ? 0.05f : 0.0f;
        sc -= 0.0005f * (float)sp->name_len;
        heap_offer(out, &nhits, max, (search_hit){sp->pzn, sc});
    }
    qsort(out, nhits, sizeof *out, cmp_hits);

    scratch_put(ix, s);
    return nhits;
}
