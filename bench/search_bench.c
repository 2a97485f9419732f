/*
 * search_bench: times what a large catalog costs. It imports a catalog CSV (made by
 * bench/gen_catalog.py) into a fresh temporary data folder, builds the search index from the
 * store, and runs a realistic query mix through search_query and, in the same run, through a
 * naive linear scan (pre-folded text, strstr per query word), which is the baseline the
 * results are quoted against. It also checks that the index finds what was asked for.
 *
 * usage: search_bench CATALOG.csv [QUERIES [BASELINE_QUERIES]]
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "import.h"
#include "pd.h"
#include "benchutil.h"
#include "search.h"
#include "store.h"
#include "text.h"

#define LIMIT 10
#define DEFAULT_QUERIES 2000
#define DEFAULT_BASELINE 400
#define WARMUP 200
#define PASSES 3
#define MAX_MISSES_SHOWN 3
#define TARGET_P99_US 1000.0
#define TARGET_IMPORT_S 10.0

/* one product as the benchmark sees it: copies of the fields, folded forms for checks */
typedef struct bprod {
    uint32_t pzn;
    char *name;
    char *strength;
    char *pack;
    char *fname;     /* folded name */
    char *fing;      /* folded active ingredient */
    char *fali;      /* folded aliases */
    char *haystack;  /* baseline: folded name, aliases, ingredient and the PZN */
    char word[64];   /* the ingredient's first word as written ("Ibuprofen") */
    char fword[64];  /* the same, folded */
    char snum[16];   /* the strength's first number as written ("400", "0,1"), "" when none */
    char fsnum[16];  /* the same, folded ("0.1") */
    char sfull[32];  /* the strength up to a '/' ("400 mg", "0,1 %", "15 mg") */
    long pack_count; /* the pack's leading number, 0 when none */
    char pack_unit[8];
} bprod;

enum qkind { Q_NAME, Q_TYPO, Q_UMLAUT, Q_STRENGTH, Q_PZN, Q_PACK, Q_PREFIX, Q_FREETEXT, Q_COUNT };
static const char *const kind_names[Q_COUNT] = {
    "exact-name", "typo", "umlaut", "ingr+strength", "pzn", "pack-size", "prefix", "free-text"};

/* what counts as found */
enum check {
    CHK_TOP3,     /* the intended product is among the first 3 hits */
    CHK_FIRST,    /* the intended product is the first hit */
    CHK_STRENGTH, /* the first hit has the ingredient word and the strength number */
    CHK_PACK,     /* the first hit has the ingredient word and the pack count */
    CHK_PREFIX    /* the first hit has a word starting with the (folded) prefix */
};

typedef struct bquery {
    char *text;
    enum qkind kind;
    enum check chk;
    uint32_t prod;     /* index of the intended product */
    char fprefix[64];  /* CHK_PREFIX: the folded prefix */
    long long ix_ns;   /* indexed search time, first timed pass */
    long long min_ns;  /* the least of PASSES indexed passes: the time without interference */
    long long base_ns; /* baseline time, -1 when not sampled */
    int ix_ok, base_ok;
    int same_name; /* CHK_TOP3: a product with the intended name is among the first 3 hits */
    int in_sample;
} bquery;

typedef struct bench {
    bprod *prods;
    size_t nprods, capprods;
    bquery *queries;
    size_t nqueries;
    size_t *umlaut; /* products whose name has an umlaut or ß */
    size_t numlaut, capumlaut;
    uint64_t rng;
    buf tmp;
} bench;

/* VmRSS of this process in KiB, -1 when /proc is not there */
static long rss_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

static char *fold_dup(bench *b, const char *s)
{
    buf_reset(&b->tmp);
    text_fold(s, strlen(s), &b->tmp);
    return pd_xstrdup(buf_cstr(&b->tmp));
}

static int has_umlaut(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)s[0], d = (unsigned char)s[1];
        if (c == 0xC3 && (d == 0xA4 || d == 0xB6 || d == 0xBC || d == 0x84 || d == 0x96 ||
                          d == 0x9C || d == 0x9F))
            return 1;
    }
    return 0;
}

static int collect_cb(const product *p, void *arg)
{
    bench *b = arg;
    if (b->nprods == b->capprods) {
        b->capprods = b->capprods ? b->capprods * 2 : 4096;
        b->prods = pd_xreallocarray(b->prods, b->capprods, sizeof *b->prods);
    }
    bprod *bp = &b->prods[b->nprods++];
    memset(bp, 0, sizeof *bp);
    bp->pzn = p->pzn;
    bp->name = pd_xstrdup(p->name);
    bp->strength = pd_xstrdup(p->strength);
    bp->pack = pd_xstrdup(p->pack_size);
    bp->fname = fold_dup(b, p->name);
    bp->fing = fold_dup(b, p->active_ingredient);
    bp->fali = fold_dup(b, p->aliases ? p->aliases : "");

    /* the baseline's text: folded once here, as a careful naive implementation would */
    buf_reset(&b->tmp);
    text_fold(p->name, strlen(p->name), &b->tmp);
    buf_putc(&b->tmp, ' ');
    text_fold(p->aliases ? p->aliases : "", p->aliases ? strlen(p->aliases) : 0, &b->tmp);
    buf_putc(&b->tmp, ' ');
    text_fold(p->active_ingredient, strlen(p->active_ingredient), &b->tmp);
    buf_printf(&b->tmp, " %08u", p->pzn);
    bp->haystack = pd_xstrdup(buf_cstr(&b->tmp));

    bench_copy_until(bp->word, sizeof bp->word, p->active_ingredient, " ,(-/");
    buf_reset(&b->tmp);
    text_fold(bp->word, strlen(bp->word), &b->tmp);
    bench_copy_until(bp->fword, sizeof bp->fword, buf_cstr(&b->tmp), " ");
    if (p->strength[0] >= '0' && p->strength[0] <= '9') {
        bench_copy_until(bp->snum, sizeof bp->snum, p->strength, " /");
        bench_copy_until(bp->sfull, sizeof bp->sfull, p->strength, "/");
        buf_reset(&b->tmp);
        text_fold(bp->snum, strlen(bp->snum), &b->tmp);
        bench_copy_until(bp->fsnum, sizeof bp->fsnum, buf_cstr(&b->tmp), " ");
    }
    char *end;
    bp->pack_count = strtol(p->pack_size, &end, 10);
    if (end == p->pack_size)
        bp->pack_count = 0;
    else
        bench_copy_until(bp->pack_unit, sizeof bp->pack_unit, end + strspn(end, " "), " ");
    if (has_umlaut(p->name)) {
        if (b->numlaut == b->capumlaut) {
            b->capumlaut = b->capumlaut ? b->capumlaut * 2 : 1024;
            b->umlaut = pd_xreallocarray(b->umlaut, b->capumlaut, sizeof *b->umlaut);
        }
        b->umlaut[b->numlaut++] = b->nprods - 1;
    }
    return 0;
}

static int add_cb(const product *p, void *arg)
{
    search_add(arg, p);
    return 0;
}

static const bprod *prod_by_pzn(const bench *b, uint32_t pzn)
{
    size_t lo = 0, hi = b->nprods;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->prods[mid].pzn < pzn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < b->nprods && b->prods[lo].pzn == pzn ? &b->prods[lo] : NULL;
}

/* 1 when the folded text has the word as a token (prefix: a token starting with it) */
static int has_token(const char *folded, const char *word, int prefix)
{
    size_t n = strlen(word);
    if (n == 0)
        return 0;
    for (const char *p = folded; (p = strstr(p, word)) != NULL; p++) {
        if (p != folded && p[-1] != ' ')
            continue;
        if (prefix || p[n] == '\0' || p[n] == ' ')
            return 1;
    }
    return 0;
}

/* ---- query mix ---- */

static void q_add(bench *b, size_t cap, char *text, enum qkind kind, enum check chk, size_t prod)
{
    if (b->nqueries == cap) {
        free(text);
        return;
    }
    bquery *q = &b->queries[b->nqueries++];
    memset(q, 0, sizeof *q);
    q->text = text;
    q->kind = kind;
    q->chk = chk;
    q->prod = (uint32_t)prod;
    q->base_ns = -1;
}

static char *str_printf(const char *fmt, ...) PD_PRINTF(1, 2);
static char *str_printf(const char *fmt, ...)
{
    buf o = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&o, fmt, ap);
    va_end(ap);
    return buf_steal(&o);
}

/* one edit (substitution, deletion, insertion, transposition) inside the longest ASCII word
 * of at least 5 letters, never at its first letter; NULL when s has no such word */
static char *typo(bench *b, const char *s)
{
    size_t best = 0, bestlen = 0, i = 0, len = strlen(s);
    while (i < len) {
        size_t j = i;
        while (j < len && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z')))
            j++;
        if (j - i > bestlen && (j == len || !((unsigned char)s[j] & 0x80)) &&
            (i == 0 || !((unsigned char)s[i - 1] & 0x80))) {
            best = i;
            bestlen = j - i;
        }
        i = j + 1;
    }
    if (bestlen < 5)
        return NULL;
    size_t pos = best + 1 +
                 bench_rnd_below(&b->rng, bestlen - 2); /* inside the word, not its first letter */
    char *o = pd_xmalloc(len + 2);
    switch (bench_rnd_below(&b->rng, 4)) {
    case 0: /* deletion */
        memcpy(o, s, pos);
        memcpy(o + pos, s + pos + 1, len - pos);
        break;
    case 1: /* insertion */
        memcpy(o, s, pos);
        o[pos] = (char)('a' + bench_rnd_below(&b->rng, 26));
        memcpy(o + pos + 1, s + pos, len - pos + 1);
        break;
    case 2: /* transposition, a substitution when both letters are equal */
        memcpy(o, s, len + 1);
        if (o[pos] != o[pos + 1] && pos + 1 < best + bestlen) {
            o[pos] = s[pos + 1];
            o[pos + 1] = s[pos];
            break;
        }
        /* fall through */
    default: { /* substitution */
        char c;
        memcpy(o, s, len + 1);
        do
            c = (char)('a' + bench_rnd_below(&b->rng, 26));
        while (c == (char)(s[pos] | 0x20));
        o[pos] = c;
        break;
    }
    }
    return o;
}

/* umlauts typed without the keyboard: "ae" (digraphs) or "a" (plain); ß as "ss" */
static char *respell(const char *s, int digraph)
{
    buf o = BUF_INIT;
    for (; *s; s++) {
        unsigned char c = (unsigned char)s[0], d = (unsigned char)s[1];
        const char *rep = NULL;
        if (c == 0xC3) {
            switch (d) {
            case 0xA4:
                rep = digraph ? "ae" : "a";
                break;
            case 0xB6:
                rep = digraph ? "oe" : "o";
                break;
            case 0xBC:
                rep = digraph ? "ue" : "u";
                break;
            case 0x84:
                rep = digraph ? "Ae" : "A";
                break;
            case 0x96:
                rep = digraph ? "Oe" : "O";
                break;
            case 0x9C:
                rep = digraph ? "Ue" : "U";
                break;
            case 0x9F:
                rep = "ss";
                break;
            default:
                break;
            }
        }
        if (rep) {
            buf_puts(&o, rep);
            s++;
        } else {
            buf_putc(&o, (char)c);
        }
    }
    return buf_steal(&o);
}

static const char *const wrappers[] = {
    "Haben Sie %s vorrätig?",
    "Hallo, ist %s lieferbar?",
    "Ich brauche %s, haben Sie das da?",
    "Gibt es bei Ihnen %s?",
    "Guten Tag, kann ich %s bei Ihnen bestellen?",
};

/* a product that has what the query kind needs; NULL after many tries */
static const bprod *pick(bench *b, enum qkind kind, size_t *idx)
{
    for (int tries = 0; tries < 10000; tries++) {
        size_t i;
        if (kind == Q_UMLAUT) {
            if (b->numlaut == 0)
                return NULL;
            i = b->umlaut[bench_rnd_below(&b->rng, b->numlaut)];
        } else {
            i = bench_rnd_below(&b->rng, b->nprods);
        }
        const bprod *p = &b->prods[i];
        int ok = 1;
        if (kind == Q_STRENGTH || kind == Q_FREETEXT)
            ok = p->snum[0] && p->fword[0];
        else if (kind == Q_PACK)
            ok = p->pack_count > 0 && p->pack_unit[0] && p->fword[0];
        else if (kind == Q_PREFIX)
            ok = strlen(p->word) >= 6;
        if (ok) {
            *idx = i;
            return p;
        }
    }
    return NULL;
}

static void make_queries(bench *b, size_t n)
{
    b->queries = pd_xcalloc(n, sizeof *b->queries);
    for (size_t round = 0; b->nqueries < n; round++) {
        size_t before = b->nqueries;
        for (int k = 0; k < Q_COUNT && b->nqueries < n; k++) {
            size_t i;
            const bprod *p = pick(b, (enum qkind)k, &i);
            if (!p)
                continue;
            switch ((enum qkind)k) {
            case Q_NAME:
                q_add(b, n, pd_xstrdup(p->name), Q_NAME, CHK_TOP3, i);
                break;
            case Q_TYPO: {
                /* half the full name, half what people type: "Ibuprofn 400" */
                char *t = NULL;
                if (round % 2 == 0 && (t = typo(b, p->name)) != NULL) {
                    q_add(b, n, t, Q_TYPO, CHK_TOP3, i);
                } else if ((t = typo(b, p->word)) != NULL && p->snum[0]) {
                    q_add(b, n, str_printf("%s %s", t, p->snum), Q_TYPO, CHK_STRENGTH, i);
                    free(t);
                } else {
                    free(t);
                }
                break;
            }
            case Q_UMLAUT:
                q_add(b, n, respell(p->name, round % 2 == 0), Q_UMLAUT, CHK_TOP3, i);
                break;
            case Q_STRENGTH:
                q_add(b, n, str_printf("%s %s", p->word, p->snum), Q_STRENGTH, CHK_STRENGTH, i);
                break;
            case Q_PZN:
                q_add(b, n, str_printf(round % 2 ? "PZN %08u" : "%08u", p->pzn), Q_PZN, CHK_FIRST,
                      i);
                break;
            case Q_PACK:
                q_add(b, n,
                      str_printf("%s %ld %s", p->word, p->pack_count,
                                 strcmp(p->pack_unit, "St") == 0 ? "Stück" : p->pack_unit),
                      Q_PACK, CHK_PACK, i);
                break;
            case Q_PREFIX: {
                char pre[64];
                size_t len = strlen(p->word), want = 4 + bench_rnd_below(&b->rng, 4);
                if (want > len - 2)
                    want = len - 2;
                while (want > 0 && ((unsigned char)p->word[want] & 0xC0) == 0x80)
                    want--; /* never cut a UTF-8 sequence */
                memcpy(pre, p->word, want);
                pre[want] = '\0';
                q_add(b, n, pd_xstrdup(pre), Q_PREFIX, CHK_PREFIX, i);
                bquery *q = &b->queries[b->nqueries - 1];
                buf_reset(&b->tmp);
                text_fold(pre, strlen(pre), &b->tmp);
                bench_copy_until(q->fprefix, sizeof q->fprefix, buf_cstr(&b->tmp), " ");
                break;
            }
            case Q_FREETEXT: {
                const char *w = wrappers[bench_rnd_below(&b->rng, PD_ARRAY_LEN(wrappers))];
                char *x = round % 2 ? pd_xstrdup(p->name) : str_printf("%s %s", p->word, p->sfull);
                buf o = BUF_INIT;
                const char *at = strstr(w, "%s");
                buf_append(&o, w, (size_t)(at - w));
                buf_puts(&o, x);
                buf_puts(&o, at + 2);
                q_add(b, n, buf_steal(&o), Q_FREETEXT, round % 2 ? CHK_TOP3 : CHK_STRENGTH, i);
                free(x);
                break;
            }
            case Q_COUNT:
                break;
            }
        }
        if (b->nqueries == before)
            break; /* nothing to ask about: a tiny or odd catalog */
    }
}

/* ---- the baseline: what one writes without an index ---- */

typedef struct topk {
    search_hit h[LIMIT];
    size_t n;
} topk;

static void topk_offer(topk *t, size_t max, uint32_t pzn, float score)
{
    size_t i = t->n < max ? t->n++ : max;
    if (i == max) {
        const search_hit *w = &t->h[max - 1];
        if (score < w->score || (score == w->score && pzn > w->pzn))
            return;
        i = max - 1;
    }
    while (i > 0 &&
           (t->h[i - 1].score < score || (t->h[i - 1].score == score && t->h[i - 1].pzn > pzn))) {
        t->h[i] = t->h[i - 1];
        i--;
    }
    t->h[i] = (search_hit){pzn, score};
}

static size_t baseline_query(const bench *b, const char *q, search_hit *out, size_t max, buf *f)
{
    char *words[64];
    size_t nw = 0;
    topk t = {.n = 0};
    if (max > LIMIT)
        max = LIMIT;
    buf_reset(f);
    text_fold(q, strlen(q), f);
    /* split the folded words in place into NUL-terminated strings for strstr */
    for (char *p = f->data; p && *p && nw < PD_ARRAY_LEN(words);) {
        words[nw++] = p;
        char *sp = strchr(p, ' ');
        if (!sp)
            break;
        *sp = '\0';
        p = sp + 1;
    }
    if (nw == 0)
        return 0;
    for (size_t i = 0; i < b->nprods; i++) {
        const bprod *p = &b->prods[i];
        int hits = 0;
        for (size_t w = 0; w < nw; w++)
            hits += strstr(p->haystack, words[w]) != NULL;
        if (hits)
            topk_offer(&t, max, p->pzn, (float)hits - 0.0005f * (float)strlen(p->name));
    }
    memcpy(out, t.h, t.n * sizeof *out);
    return t.n;
}

/* ---- checks and statistics ---- */

static int judge(const bench *b, bquery *q, const search_hit *h, size_t n)
{
    const bprod *want = &b->prods[q->prod];
    const bprod *first = n ? prod_by_pzn(b, h[0].pzn) : NULL;
    q->same_name = 0;
    switch (q->chk) {
    case CHK_TOP3: {
        int ok = 0;
        for (size_t i = 0; i < n && i < 3; i++) {
            const bprod *p = prod_by_pzn(b, h[i].pzn);
            ok |= h[i].pzn == want->pzn;
            q->same_name |= p && strcmp(p->name, want->name) == 0;
        }
        return ok;
    }
    case CHK_FIRST:
        return n > 0 && h[0].pzn == want->pzn;
    case CHK_STRENGTH:
        return first && has_token(first->fing, want->fword, 0) &&
               strcmp(first->fsnum, want->fsnum) == 0;
    case CHK_PACK:
        return first && has_token(first->fing, want->fword, 0) &&
               first->pack_count == want->pack_count;
    case CHK_PREFIX:
        return first &&
               (has_token(first->fname, q->fprefix, 1) || has_token(first->fing, q->fprefix, 1) ||
                has_token(first->fali, q->fprefix, 1));
    }
    return 0;
}

typedef struct pct {
    size_t n;
    double p50, p90, p99, max, mean; /* microseconds */
} pct;

/* nearest-rank percentiles of the sampled times */
static pct percentiles(long long *ns, size_t n)
{
    pct r = {n, 0, 0, 0, 0, 0};
    if (n == 0)
        return r;
    qsort(ns, n, sizeof *ns, bench_cmp_ll);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)ns[i];
    const size_t ps[3] = {50, 90, 99};
    double *dst[3] = {&r.p50, &r.p90, &r.p99};
    for (int k = 0; k < 3; k++) {
        size_t rank = (ps[k] * n + 99) / 100; /* ceil(p * n) */
        *dst[k] = (double)ns[rank ? rank - 1 : 0] / 1000.0;
    }
    r.max = (double)ns[n - 1] / 1000.0;
    r.mean = sum / (double)n / 1000.0;
    return r;
}

enum timing { T_INDEXED, T_INDEXED_MIN, T_BASELINE };

/* times of the queries that match the filter (kind -1: all; sample: only the baseline's) */
static pct stats(const bench *b, int kind, int sample, enum timing which)
{
    long long *v = pd_xcalloc(b->nqueries ? b->nqueries : 1, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < b->nqueries; i++) {
        const bquery *q = &b->queries[i];
        if ((kind >= 0 && (int)q->kind != kind) || (sample && !q->in_sample))
            continue;
        v[n++] = which == T_BASELINE ? q->base_ns : which == T_INDEXED_MIN ? q->min_ns : q->ix_ns;
    }
    pct r = percentiles(v, n);
    free(v);
    return r;
}

static void print_pct(const char *label, pct p)
{
    printf("%-22s %6zu %9.1f %9.1f %9.1f %9.1f %9.1f\n", label, p.n, p.p50, p.p90, p.p99, p.max,
           p.mean);
}

static double mib(long kib)
{
    return (double)kib / 1024.0;
}

/* removes the temporary data folder, then its parent */
static void remove_tree(const char *top, const char *data)
{
    bench_remove_dir(data);
    if (rmdir(top) != 0 && errno != ENOENT)
        fprintf(stderr, "search_bench: cannot remove %s: %s\n", top, strerror(errno));
}

static void free_bench(bench *b)
{
    for (size_t i = 0; i < b->nprods; i++) {
        bprod *p = &b->prods[i];
        free(p->name);
        free(p->strength);
        free(p->pack);
        free(p->fname);
        free(p->fing);
        free(p->fali);
        free(p->haystack);
    }
    for (size_t i = 0; i < b->nqueries; i++)
        free(b->queries[i].text);
    free(b->prods);
    free(b->queries);
    free(b->umlaut);
    buf_free(&b->tmp);
}

int main(int argc, char **argv)
{
    bench b = {.rng = 20241129};
    buf err = BUF_INIT, fold = BUF_INIT;
    store *s = NULL;
    search_index *ix = NULL;
    import_summary sum, sum2;
    char top[256] = "", data[300] = "";
    int ret = 1, rc;
    search_hit hits[LIMIT];

    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: search_bench CATALOG.csv [QUERIES [BASELINE_QUERIES]]\n");
        return 2;
    }
    const char *csv = argv[1];
    size_t nq = bench_arg_count(argc > 2 ? argv[2] : NULL, DEFAULT_QUERIES, 0);
    size_t nbase = bench_arg_count(argc > 3 ? argv[3] : NULL, DEFAULT_BASELINE, 0);
    if (nq == (size_t)-1 || nbase == (size_t)-1 || nq == 0) {
        fprintf(stderr, "search_bench: QUERIES and BASELINE_QUERIES are whole numbers (QUERIES "
                        "at least 1)\n");
        return 2;
    }

    const char *tmpdir = getenv("TMPDIR");
    snprintf(top, sizeof top, "%s/pd-search-bench.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(top)) {
        fprintf(stderr, "search_bench: mkdtemp %s: %s\n", top, strerror(errno));
        top[0] = '\0';
        goto out;
    }
    snprintf(data, sizeof data, "%s/data", top);
    if ((rc = store_create(data, &err)) != PD_OK || (rc = store_open(data, 1, &s, &err)) != PD_OK) {
        fprintf(stderr, "search_bench: data folder: %s\n", buf_cstr(&err));
        goto out;
    }

    /* 1. import, as `pharmdesk import-catalog` does it: one transaction, every row checked */
    long long t0 = bench_now_ns();
    rc = import_csv(s, IMPORT_CATALOG, csv, stderr, NULL, &sum, &err);
    double import_s = (double)(bench_now_ns() - t0) / 1e9;
    if (rc != PD_OK) {
        fprintf(stderr, "search_bench: import: %s\n", buf_cstr(&err));
        goto out;
    }

    /* the benchmark's own copy of the products (also warms the page cache for the build) */
    if ((rc = store_products_foreach(s, collect_cb, &b)) != PD_OK) {
        fprintf(stderr, "search_bench: reading products: %s\n", pd_strerror(rc));
        goto out;
    }

    /* 2. index build, as catalog.c does it */
    long rss0 = rss_kib();
    long long t_build = bench_now_ns();
    ix = search_new();
    if ((rc = store_products_foreach(s, add_cb, ix)) != PD_OK) {
        fprintf(stderr, "search_bench: building the index: %s\n", pd_strerror(rc));
        goto out;
    }
    long long t_added = bench_now_ns();
    search_finish(ix);
    long long t_built = bench_now_ns();
    long rss1 = rss_kib();

    /* 3. queries */
    make_queries(&b, nq);
    if (b.nqueries == 0) {
        fprintf(stderr, "search_bench: the catalog gives no queries\n");
        goto out;
    }
    size_t rounds = (b.nqueries + Q_COUNT - 1) / Q_COUNT;
    size_t stride = nbase ? (rounds * Q_COUNT + nbase - 1) / nbase : 0;
    size_t nsample = 0;
    for (size_t i = 0; i < b.nqueries; i++) {
        /* whole rounds, so the sample has the same mix of kinds */
        b.queries[i].in_sample = stride && (i / Q_COUNT) % stride == 0;
        nsample += (size_t)b.queries[i].in_sample;
    }
    for (size_t i = 0; i < b.nqueries && i < WARMUP; i++)
        search_query(ix, b.queries[i].text, strlen(b.queries[i].text), hits, LIMIT);
    for (size_t i = 0; i < b.nqueries; i++) {
        bquery *q = &b.queries[i];
        size_t len = strlen(q->text);
        long long a = bench_now_ns();
        size_t n = search_query(ix, q->text, len, hits, LIMIT);
        q->ix_ns = q->min_ns = bench_now_ns() - a;
        q->ix_ok = judge(&b, q, hits, n);
    }
    for (int pass = 1; pass < PASSES; pass++) {
        for (size_t i = 0; i < b.nqueries; i++) {
            bquery *q = &b.queries[i];
            long long a = bench_now_ns();
            search_query(ix, q->text, strlen(q->text), hits, LIMIT);
            long long d = bench_now_ns() - a;
            if (d < q->min_ns)
                q->min_ns = d;
        }
    }
    long rss2 = rss_kib();
    for (size_t i = 0; i < b.nqueries; i++) {
        bquery *q = &b.queries[i];
        if (!q->in_sample)
            continue;
        int same = q->same_name;
        long long a = bench_now_ns();
        size_t n = baseline_query(&b, q->text, hits, LIMIT, &fold);
        q->base_ns = bench_now_ns() - a;
        q->base_ok = judge(&b, q, hits, n);
        q->same_name = same; /* keep the index's figure */
    }

    /* 4. the daily case: the same export again, every row unchanged (the index is not rebuilt) */
    t0 = bench_now_ns();
    rc = import_csv(s, IMPORT_CATALOG, csv, stderr, NULL, &sum2, &err);
    double reimport_s = (double)(bench_now_ns() - t0) / 1e9;
    if (rc != PD_OK) {
        fprintf(stderr, "search_bench: re-import: %s\n", buf_cstr(&err));
        goto out;
    }

    /* 5. the result block */
    pct ix_all = stats(&b, -1, 0, T_INDEXED), ix_min = stats(&b, -1, 0, T_INDEXED_MIN);
    pct ix_s = stats(&b, -1, 1, T_INDEXED), base_s = stats(&b, -1, 1, T_BASELINE);
    size_t n_name = 0, ok_name = 0, same_name = 0, n_pzn = 0, ok_pzn = 0;
    for (size_t i = 0; i < b.nqueries; i++) {
        const bquery *q = &b.queries[i];
        if (q->kind == Q_NAME) {
            n_name++;
            ok_name += (size_t)q->ix_ok;
            same_name += (size_t)q->same_name;
        } else if (q->kind == Q_PZN) {
            n_pzn++;
            ok_pzn += (size_t)q->ix_ok;
        }
    }
    double build_s = (double)(t_built - t_build) / 1e9;
    printf("== pharmdesk search_bench ==\n");
    printf("catalog    %s: %zu products\n", csv, search_size(ix));
    printf("import     %ld rows in %.2f s = %.0f rows/s (%ld inserted, %ld updated, %ld "
           "rejected)  target < %.0f s: %s\n",
           sum.rows, import_s, import_s > 0 ? (double)sum.rows / import_s : 0.0, sum.inserted,
           sum.updated, sum.rejected, TARGET_IMPORT_S,
           import_s < TARGET_IMPORT_S ? "ok" : "MISSED");
    printf("re-import  %ld rows in %.2f s = %.0f rows/s (%ld unchanged, %ld updated)\n", sum2.rows,
           reimport_s, reimport_s > 0 ? (double)sum2.rows / reimport_s : 0.0, sum2.unchanged,
           sum2.updated);
    printf("index      built in %.2f s (store scan + search_add %.2f s, search_finish %.2f s)\n",
           build_s, (double)(t_added - t_build) / 1e9, (double)(t_built - t_added) / 1e9);
    printf("memory     VmRSS %.1f MiB before build, %.1f MiB after (+%.1f MiB), %.1f MiB after "
           "queries (+%.1f MiB scratch)\n",
           mib(rss0), mib(rss1), mib(rss1 - rss0), mib(rss2), mib(rss2 - rss1));
    printf("queries    %zu (%d kinds, limit %d, %zu warm-up, %d timed passes); baseline on %zu "
           "of them (whole rounds of the mix)\n",
           b.nqueries, Q_COUNT, LIMIT, b.nqueries < WARMUP ? b.nqueries : (size_t)WARMUP, PASSES,
           nsample);
    printf("%-22s %6s %9s %9s %9s %9s %9s\n", "time per query (us)", "n", "p50", "p90", "p99",
           "max", "mean");
    print_pct("indexed, all", ix_all);
    char label[32];
    snprintf(label, sizeof label, "indexed, min of %d", PASSES);
    print_pct(label, ix_min);
    if (nsample) {
        print_pct("indexed, sample", ix_s);
        print_pct("baseline scan, sample", base_s);
    }
    if (nsample && ix_s.p50 > 0 && ix_s.p99 > 0)
        printf("ratio      baseline/indexed on the same queries: p50 x%.0f, p99 x%.0f\n",
               base_s.p50 / ix_s.p50, base_s.p99 / ix_s.p99);
    printf("target     indexed p99 %.1f us (min of %d passes: %.1f us) < %.0f us: %s\n", ix_all.p99,
           PASSES, ix_min.p99, TARGET_P99_US, ix_all.p99 < TARGET_P99_US ? "ok" : "MISSED");
    printf("recall     exact name: intended PZN in top 3 %.1f%%, a product of that name in top 3 "
           "%.1f%% (%zu queries); exact PZN first %.1f%% (%zu)\n",
           n_name ? 100.0 * (double)ok_name / (double)n_name : 0.0,
           n_name ? 100.0 * (double)same_name / (double)n_name : 0.0, n_name,
           n_pzn ? 100.0 * (double)ok_pzn / (double)n_pzn : 0.0, n_pzn);
    printf("%-14s %5s %8s %8s %9s %7s %8s\n", "per kind", "n", "p50 us", "p99 us", "max us",
           "found", "scan fd");
    for (int k = 0; k < Q_COUNT; k++) {
        pct p = stats(&b, k, 0, T_INDEXED);
        size_t ok = 0, bn = 0, bok = 0;
        for (size_t i = 0; i < b.nqueries; i++) {
            const bquery *q = &b.queries[i];
            if ((int)q->kind != k)
                continue;
            ok += (size_t)q->ix_ok;
            if (q->in_sample) {
                bn++;
                bok += (size_t)q->base_ok;
            }
        }
        printf("%-14s %5zu %8.1f %8.1f %9.1f %6.1f%% %7.1f%%\n", kind_names[k], p.n, p.p50, p.p99,
               p.max, p.n ? 100.0 * (double)ok / (double)p.n : 0.0,
               bn ? 100.0 * (double)bok / (double)bn : 0.0);
    }
    printf("('found': the index's first hit (top 3 for names) is what was asked for; 'scan fd': "
           "the same for the baseline)\n");
    for (int k = 0; k < Q_COUNT; k++) {
        int shown = 0;
        for (size_t i = 0; i < b.nqueries && shown < MAX_MISSES_SHOWN; i++) {
            bquery *q = &b.queries[i];
            /* a same-named product in another pack size is no misranking */
            if ((int)q->kind != k || q->ix_ok || (q->chk == CHK_TOP3 && q->same_name))
                continue;
            size_t n = search_query(ix, q->text, strlen(q->text), hits, LIMIT);
            const bprod *want = &b.prods[q->prod];
            const bprod *got = n ? prod_by_pzn(&b, hits[0].pzn) : NULL;
            if (!shown)
                printf("misses     %s:\n", kind_names[k]);
            printf("  \"%s\" wanted %08u %s [%s, %s] got %s%08u %s [%s, %s]\n", q->text, want->pzn,
                   want->name, want->strength, want->pack, got ? "" : "none ", got ? got->pzn : 0,
                   got ? got->name : "", got ? got->strength : "", got ? got->pack : "");
            shown++;
        }
    }
    /* the slowest indexed queries, to see what costs */
    size_t slow[5] = {0};
    size_t nslow = 0;
    for (size_t i = 0; i < b.nqueries; i++) {
        size_t j = nslow < PD_ARRAY_LEN(slow) ? nslow++ : PD_ARRAY_LEN(slow);
        if (j == PD_ARRAY_LEN(slow)) {
            if (b.queries[i].ix_ns <= b.queries[slow[j - 1]].ix_ns)
                continue;
            j--;
        }
        while (j > 0 && b.queries[slow[j - 1]].ix_ns < b.queries[i].ix_ns) {
            slow[j] = slow[j - 1];
            j--;
        }
        slow[j] = i;
    }
    printf("slowest    indexed queries:\n");
    for (size_t k = 0; k < nslow; k++)
        printf("  %8.1f us  %-13s \"%s\"\n", (double)b.queries[slow[k]].ix_ns / 1000.0,
               kind_names[b.queries[slow[k]].kind], b.queries[slow[k]].text);
    ret = 0;
out:
    search_free(ix);
    store_close(s);
    if (top[0])
        remove_tree(top, data);
    free_bench(&b);
    buf_free(&err);
    buf_free(&fold);
    return ret;
}
