/*
 * crypto_bench: what encryption at rest costs. One run puts the same workload on a plain store
 * (store_create_plain, store_open_plain) and on an encrypted one (store_create, store_open: the
 * "pdcrypt" VFS), in alternating order (ABBA, also block by block inside a phase) so that drift
 * of the machine falls on both alike: the import of a catalog (import_csv), the index build
 * (catalog_open), searches through catalog_search with a query mix drawn from the catalog, and
 * small write transactions (one product's stock each, synchronous=FULL as the store sets it).
 * It reports each phase for both, the ratio encrypted/plain per phase and for the total, and
 * what one sync costs on this machine, since every small write waits for one.
 *
 * usage: crypto_bench CATALOG.csv [SEARCHES [WRITES]]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "buf.h"
#include "catalog.h"
#include "import.h"
#include "log.h"
#include "pd.h"
#include "store.h"

#define DEFAULT_SEARCHES 10000
#define DEFAULT_WRITES 10000
#define IMPORT_REPS 2 /* per store kind, in the order plain, encrypted, encrypted, plain */
#define BUILD_REPS 2  /* the same for the index build */
#define BLOCK 100     /* searches or writes per block; blocks alternate which store goes first */
#define WARMUP 200    /* untimed searches per store */
#define SEARCH_LIMIT 10
#define SYNC_PROBES 200
#define TARGET_RATIO 1.25
#define POOL 2 /* connections: one for the caller, one for the catalog's refresh check */

enum phase { PH_IMPORT, PH_BUILD, PH_SEARCH, PH_WRITE, PH_COUNT };
static const char *const phase_names[PH_COUNT] = {"import", "index build", "searches", "writes"};

/* one kind of store and what it measured */
typedef struct side {
    const char *label;
    int plain;
    char dir[320];
    store *s;
    catalog *c;
    double sum_ns[PH_COUNT]; /* summed over repetitions */
    int reps[PH_COUNT];
    long long *search_ns; /* per search */
    long long *write_ns;  /* per write */
    long long db_bytes;
} side;

/* what the query mix is drawn from */
typedef struct bprod {
    uint32_t pzn;
    char *name;
    char word[48]; /* the active ingredient's first word */
    char snum[16]; /* the strength's first number, "" when none */
} bprod;

typedef struct bench {
    bprod *prods;
    size_t nprods, cap;
    char **queries;
    size_t nqueries;
    uint64_t rng;
} bench;

/* the q-quantile of n values (sorted in place), in microseconds */
static double quantile_us(long long *v, size_t n, double q)
{
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof *v, bench_cmp_ll);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return (double)v[i] / 1000.0;
}

static int collect_cb(const product *p, void *arg)
{
    bench *b = arg;
    if (b->nprods == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4096;
        b->prods = pd_xreallocarray(b->prods, b->cap, sizeof *b->prods);
    }
    bprod *bp = &b->prods[b->nprods++];
    memset(bp, 0, sizeof *bp);
    bp->pzn = p->pzn;
    bp->name = pd_xstrdup(p->name);
    bench_copy_until(bp->word, sizeof bp->word, p->active_ingredient, " ,(-/");
    if (p->strength[0] >= '0' && p->strength[0] <= '9')
        bench_copy_until(bp->snum, sizeof bp->snum, p->strength, " /");
    return 0;
}

/* one deleted letter inside the longest ASCII word of 5+ letters (not its first); NULL if none */
static char *typo(bench *b, const char *s)
{
    size_t best = 0, bestlen = 0, i = 0, len = strlen(s);
    while (i < len) {
        size_t j = i;
        while (j < len && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z')))
            j++;
        if (j - i > bestlen) {
            best = i;
            bestlen = j - i;
        }
        i = j + 1;
    }
    if (bestlen < 5)
        return NULL;
    size_t pos = best + 1 + bench_rnd_below(&b->rng, bestlen - 1);
    char *o = pd_xmalloc(len + 1);
    memcpy(o, s, pos);
    memcpy(o + pos, s + pos + 1, len - pos);
    return o;
}

static char *str_join(const char *a, const char *sep, const char *c)
{
    buf o = BUF_INIT;
    buf_printf(&o, "%s%s%s", a, sep, c);
    return buf_steal(&o);
}

/* the query mix: exact names, typos, ingredient + strength, PZNs, prefixes, questions */
static void make_queries(bench *b, size_t n)
{
    b->queries = pd_xcalloc(n, sizeof *b->queries);
    for (size_t i = 0; b->nqueries < n && b->nprods; i++) {
        const bprod *p = &b->prods[bench_rnd_below(&b->rng, b->nprods)];
        char *q = NULL;
        char num[32];
        switch (i % 6) {
        case 0:
            q = pd_xstrdup(p->name);
            break;
        case 1:
            q = typo(b, p->name);
            break;
        case 2:
            q = p->word[0] && p->snum[0] ? str_join(p->word, " ", p->snum) : NULL;
            break;
        case 3:
            snprintf(num, sizeof num, "%s%08u", i % 12 == 3 ? "PZN " : "", p->pzn);
            q = pd_xstrdup(num);
            break;
        case 4: {
            char pre[16];
            bench_copy_until(pre, 6, p->word, " ");
            q = strlen(pre) >= 4 ? pd_xstrdup(pre) : NULL;
            break;
        }
        default: {
            buf o = BUF_INIT;
            buf_printf(&o, "Haben Sie %s vorrätig?", p->name);
            q = buf_steal(&o);
            break;
        }
        }
        if (q)
            b->queries[b->nqueries++] = q;
    }
}

static long long file_size(const char *dir, const char *name)
{
    char path[400];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

/* reads the whole file once, so that both kinds of store import it from the page cache */
static int warm_file(const char *path)
{
    char chunk[1 << 16];
    FILE *f = fopen(path, "rb");
    if (!f)
        return PD_EIO;
    while (fread(chunk, 1, sizeof chunk, f) == sizeof chunk)
        ;
    int ret = ferror(f) ? PD_EIO : PD_OK;
    fclose(f);
    return ret;
}

/* median and p90 of a 4 KiB write followed by fdatasync (what SQLite calls on Linux at every
 * WAL commit) and by fsync, in a scratch file beside the stores */
static int sync_probe(const char *dir, double *fdatasync_p50, double *fdatasync_p90,
                      double *fsync_p50)
{
    char path[400], page[4096];
    long long a[SYNC_PROBES], b[SYNC_PROBES];
    snprintf(path, sizeof path, "%s/sync-probe", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return PD_EIO;
    memset(page, 'x', sizeof page);
    int ret = PD_OK;
    for (int i = 0; i < SYNC_PROBES && ret == PD_OK; i++) {
        off_t off = (off_t)(i % 16) * (off_t)sizeof page;
        long long t0 = bench_now_ns();
        if (pwrite(fd, page, sizeof page, off) != (ssize_t)sizeof page || fdatasync(fd) != 0)
            ret = PD_EIO;
        long long t1 = bench_now_ns();
        if (pwrite(fd, page, sizeof page, off) != (ssize_t)sizeof page || fsync(fd) != 0)
            ret = PD_EIO;
        a[i] = t1 - t0;
        b[i] = bench_now_ns() - t1;
    }
    close(fd);
    unlink(path);
    *fdatasync_p50 = quantile_us(a, SYNC_PROBES, 0.5);
    *fdatasync_p90 = quantile_us(a, SYNC_PROBES, 0.9);
    *fsync_p50 = quantile_us(b, SYNC_PROBES, 0.5);
    return ret;
}

static int side_create(side *sd, const char *top, int rep, buf *err)
{
    snprintf(sd->dir, sizeof sd->dir, "%s/%s-%d", top, sd->plain ? "plain" : "encrypted", rep);
    int ret = sd->plain ? store_create_plain(sd->dir, err) : store_create(sd->dir, err);
    if (ret == PD_OK)
        ret = sd->plain ? store_open_plain(sd->dir, POOL, &sd->s, err)
                        : store_open(sd->dir, POOL, &sd->s, err);
    return ret;
}

static void side_close(side *sd, int remove)
{
    catalog_free(sd->c);
    sd->c = NULL;
    store_close(sd->s);
    sd->s = NULL;
    if (remove && sd->dir[0])
        bench_remove_dir(sd->dir);
}

/* 1. import into a fresh store; the last repetition's store stays open for the next phases */
static int run_import(side *sd, const char *top, const char *csv, int rep, int last, buf *err)
{
    import_summary sum;
    int ret = side_create(sd, top, rep, err);
    if (ret != PD_OK)
        return ret;
    long long t0 = bench_now_ns();
    ret = import_csv(sd->s, IMPORT_CATALOG, csv, stderr, NULL, &sum, err);
    long long dt = bench_now_ns() - t0;
    if (ret != PD_OK)
        return ret;
    if (sum.rejected)
        fprintf(stderr, "crypto_bench: %ld rows rejected\n", sum.rejected);
    sd->sum_ns[PH_IMPORT] += (double)dt;
    sd->reps[PH_IMPORT]++;
    fprintf(stderr, "  import %-9s %d: %.2f s (%ld rows)\n", sd->label, rep, (double)dt / 1e9,
            sum.rows);
    if (!last)
        side_close(sd, 1);
    return PD_OK;
}

/* 2. the index build, as the server does it at start */
static int run_build(side *sd, int keep, buf *err)
{
    catalog *c = NULL;
    long long t0 = bench_now_ns();
    int ret = catalog_open(sd->s, &c, err);
    long long dt = bench_now_ns() - t0;
    if (ret != PD_OK)
        return ret;
    sd->sum_ns[PH_BUILD] += (double)dt;
    sd->reps[PH_BUILD]++;
    if (keep) {
        catalog_free(sd->c);
        sd->c = c;
    } else {
        catalog_free(c);
    }
    return PD_OK;
}

/* 3. searches [from, to) of the mix */
static int run_searches(side *sd, char **queries, size_t from, size_t to, int timed)
{
    product *out[SEARCH_LIMIT];
    for (size_t i = from; i < to; i++) {
        size_t n = 0;
        long long t0 = bench_now_ns();
        int ret = catalog_search(sd->c, queries[i], strlen(queries[i]), SEARCH_LIMIT, out, &n);
        long long dt = bench_now_ns() - t0;
        for (size_t k = 0; k < n; k++)
            free(out[k]);
        if (ret != PD_OK)
            return ret;
        if (timed) {
            sd->search_ns[i] = dt;
            sd->sum_ns[PH_SEARCH] += (double)dt;
        }
    }
    if (timed)
        sd->reps[PH_SEARCH] = 1;
    return PD_OK;
}

/* 4. writes [from, to): each its own transaction that changes one product's stock */
static int run_writes(side *sd, product **rows, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        store_txn *t = NULL;
        enum store_upsert res = STORE_UNCHANGED;
        rows[i]->stock = 1000000 + (long long)i; /* a new value every time: a real write */
        long long t0 = bench_now_ns();
        int ret = store_txn_begin(sd->s, &t);
        if (ret == PD_OK && (ret = store_product_upsert(t, rows[i], &res, NULL)) != PD_OK)
            store_txn_rollback(t);
        else if (ret == PD_OK)
            ret = store_txn_commit(t);
        long long dt = bench_now_ns() - t0;
        if (ret != PD_OK)
            return ret;
        if (res != STORE_UPDATED)
            return PD_EDB;
        sd->write_ns[i] = dt;
        sd->sum_ns[PH_WRITE] += (double)dt;
    }
    sd->reps[PH_WRITE] = 1;
    return PD_OK;
}

static double phase_s(const side *sd, int ph)
{
    return sd->reps[ph] ? sd->sum_ns[ph] / sd->reps[ph] / 1e9 : 0.0;
}

int main(int argc, char **argv)
{
    side sides[2] = {{.label = "plain", .plain = 1}, {.label = "encrypted", .plain = 0}};
    side *P = &sides[0], *E = &sides[1];
    bench b = {.rng = 20261129};
    buf err = BUF_INIT;
    product **rows = NULL;
    char top[256] = "";
    int ret = 1, rc;

    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: crypto_bench CATALOG.csv [SEARCHES [WRITES]]\n");
        return 2;
    }
    const char *csv = argv[1];
    size_t nsearch = bench_arg_count(argc > 2 ? argv[2] : NULL, DEFAULT_SEARCHES, 1);
    size_t nwrite = bench_arg_count(argc > 3 ? argv[3] : NULL, DEFAULT_WRITES, 1);
    if (nsearch == (size_t)-1 || nwrite == (size_t)-1) {
        fprintf(stderr, "crypto_bench: SEARCHES and WRITES are whole numbers from 1\n");
        return 2;
    }
    log_set_level(LOG_WARN); /* the stores' and the index's info lines would drown the progress */
    if (warm_file(csv) != PD_OK) {
        fprintf(stderr, "crypto_bench: cannot read %s: %s\n", csv, strerror(errno));
        return 1;
    }
    const char *tmpdir = getenv("TMPDIR");
    snprintf(top, sizeof top, "%s/pd-crypto-bench.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(top)) {
        fprintf(stderr, "crypto_bench: mkdtemp %s: %s\n", top, strerror(errno));
        top[0] = '\0';
        goto out;
    }
    double fds50 = 0, fds90 = 0, fs50 = 0;
    if (sync_probe(top, &fds50, &fds90, &fs50) != PD_OK) {
        fprintf(stderr, "crypto_bench: the sync probe failed: %s\n", strerror(errno));
        goto out;
    }

    /* 1. import: plain, encrypted, encrypted, plain (each into a fresh folder) */
    fprintf(stderr, "crypto_bench: importing %s %d times per store kind ...\n", csv, IMPORT_REPS);
    for (int rep = 0; rep < IMPORT_REPS; rep++) {
        side *first = rep % 2 ? E : P, *second = rep % 2 ? P : E;
        int last = rep == IMPORT_REPS - 1;
        if ((rc = run_import(first, top, csv, rep + 1, last, &err)) != PD_OK ||
            (rc = run_import(second, top, csv, rep + 1, last, &err)) != PD_OK) {
            fprintf(stderr, "crypto_bench: import: %s (%s)\n", buf_cstr(&err), pd_strerror(rc));
            goto out;
        }
    }

    /* 2. index build: encrypted, plain, plain, encrypted; the last of each is kept */
    fprintf(stderr, "crypto_bench: building the search index ...\n");
    for (int rep = 0; rep < BUILD_REPS; rep++) {
        side *first = rep % 2 ? P : E, *second = rep % 2 ? E : P;
        int keep = rep == BUILD_REPS - 1;
        if ((rc = run_build(first, keep, &err)) != PD_OK ||
            (rc = run_build(second, keep, &err)) != PD_OK) {
            fprintf(stderr, "crypto_bench: index build: %s\n", buf_cstr(&err));
            goto out;
        }
    }

    /* 3. searches: the same mix on both, block by block, alternating who goes first */
    if ((rc = store_products_foreach(P->s, collect_cb, &b)) != PD_OK || b.nprods == 0) {
        fprintf(stderr, "crypto_bench: reading the products: %s\n", pd_strerror(rc));
        goto out;
    }
    make_queries(&b, nsearch + WARMUP);
    if (b.nqueries < nsearch + WARMUP) {
        fprintf(stderr, "crypto_bench: the catalog gives too few queries\n");
        goto out;
    }
    fprintf(stderr, "crypto_bench: %zu searches per store ...\n", nsearch);
    for (int k = 0; k < 2; k++) {
        sides[k].search_ns = pd_xcalloc(nsearch + WARMUP, sizeof(long long));
        sides[k].write_ns = pd_xcalloc(nwrite, sizeof(long long));
    }
    char **timed_q = b.queries + WARMUP;
    if (run_searches(P, b.queries, 0, WARMUP, 0) != PD_OK ||
        run_searches(E, b.queries, 0, WARMUP, 0) != PD_OK)
        goto search_failed;
    for (size_t from = 0, blk = 0; from < nsearch; from += BLOCK, blk++) {
        size_t to = from + BLOCK < nsearch ? from + BLOCK : nsearch;
        side *first = blk % 2 ? E : P, *second = blk % 2 ? P : E;
        if (run_searches(first, timed_q, from, to, 1) != PD_OK ||
            run_searches(second, timed_q, from, to, 1) != PD_OK)
            goto search_failed;
    }

    /* 4. writes: random products, the same sequence on both, blocks alternating */
    fprintf(stderr, "crypto_bench: %zu write transactions per store ...\n", nwrite);
    rows = pd_xcalloc(nwrite, sizeof *rows);
    for (size_t i = 0; i < nwrite; i++) {
        if ((rc = store_product_get(P->s, b.prods[bench_rnd_below(&b.rng, b.nprods)].pzn,
                                    &rows[i])) != PD_OK) {
            fprintf(stderr, "crypto_bench: reading a product: %s\n", pd_strerror(rc));
            goto out;
        }
    }
    for (size_t from = 0, blk = 0; from < nwrite; from += BLOCK, blk++) {
        size_t to = from + BLOCK < nwrite ? from + BLOCK : nwrite;
        side *first = blk % 2 ? E : P, *second = blk % 2 ? P : E;
        if ((rc = run_writes(first, rows, from, to)) != PD_OK ||
            (rc = run_writes(second, rows, from, to)) != PD_OK) {
            fprintf(stderr, "crypto_bench: write: %s\n", pd_strerror(rc));
            goto out;
        }
    }
    for (int k = 0; k < 2; k++) {
        catalog_free(sides[k].c);
        sides[k].c = NULL;
        store_close(sides[k].s); /* checkpoints the WAL: the sizes below are the databases' */
        sides[k].s = NULL;
        sides[k].db_bytes = file_size(sides[k].dir, STORE_DB_NAME);
    }

    /* 5. the result block */
    printf("== pharmdesk crypto_bench ==\n");
    printf("catalog    %s: %zu products; %d imports and %d index builds per store kind (ABBA "
           "order), %zu searches and %zu write transactions per store in blocks of %d "
           "alternating which store goes first\n",
           csv, b.nprods, IMPORT_REPS, BUILD_REPS, nsearch, nwrite, BLOCK);
    printf("sync       4 KiB write + fdatasync (what SQLite does at each WAL commit): median %.0f "
           "us, p90 %.0f us; with fsync: median %.0f us\n",
           fds50, fds90, fs50);
    printf("%-22s %12s %12s %8s\n", "phase", "plain", "encrypted", "enc/plain");
    double tot_p = 0, tot_e = 0;
    int all_ok = 1;
    for (int ph = 0; ph < PH_COUNT; ph++) {
        double p = phase_s(P, ph), e = phase_s(E, ph);
        char label[40];
        if (ph == PH_SEARCH)
            snprintf(label, sizeof label, "%zu %s", nsearch, phase_names[ph]);
        else if (ph == PH_WRITE)
            snprintf(label, sizeof label, "%zu %s", nwrite, phase_names[ph]);
        else
            snprintf(label, sizeof label, "%s (mean of %d)", phase_names[ph],
                     ph == PH_IMPORT ? IMPORT_REPS : BUILD_REPS);
        double r = p > 0 ? e / p : 0.0;
        all_ok &= r <= TARGET_RATIO;
        printf("%-22s %10.2f s %10.2f s %8.3f%s\n", label, p, e, r,
               r <= TARGET_RATIO ? "" : "  over the target");
        tot_p += p;
        tot_e += e;
    }
    double tot_r = tot_p > 0 ? tot_e / tot_p : 0.0;
    printf("%-22s %10.2f s %10.2f s %8.3f\n", "total", tot_p, tot_e, tot_r);
    double med[2][2]; /* [side][search, write] */
    for (int k = 0; k < 2; k++) {
        side *sd = &sides[k];
        double s50 = quantile_us(sd->search_ns, nsearch, 0.5);
        double s99 = quantile_us(sd->search_ns, nsearch, 0.99);
        double w50 = quantile_us(sd->write_ns, nwrite, 0.5);
        double w99 = quantile_us(sd->write_ns, nwrite, 0.99);
        printf("%-10s search p50 %.1f us, p99 %.1f us; write p50 %.1f us, p99 %.1f us "
               "(%.1f fdatasync medians); database %.1f MiB\n",
               sd->label, s50, s99, w50, w99, fds50 > 0 ? w50 / fds50 : 0.0,
               (double)sd->db_bytes / (1024.0 * 1024.0));
        med[k][0] = s50;
        med[k][1] = w50;
    }
    printf("medians    enc/plain per search %.3f, per write %.3f (less sensitive to the sync and "
           "checkpoint stalls that dominate the writes' sum)\n",
           med[0][0] > 0 ? med[1][0] / med[0][0] : 0.0,
           med[0][1] > 0 ? med[1][1] / med[0][1] : 0.0);
    printf("target     encrypted/plain <= %.2f: total %s, every phase %s\n", TARGET_RATIO,
           tot_r <= TARGET_RATIO ? "ok" : "MISSED", all_ok ? "ok" : "not all");
    ret = 0;
    goto out;
search_failed:
    fprintf(stderr, "crypto_bench: a search failed\n");
out:
    for (size_t i = 0; rows && i < nwrite; i++)
        free(rows[i]);
    free(rows);
    for (int k = 0; k < 2; k++) {
        side_close(&sides[k], 1);
        free(sides[k].search_ns);
        free(sides[k].write_ns);
    }
    for (size_t i = 0; i < b.nprods; i++)
        free(b.prods[i].name);
    free(b.prods);
    for (size_t i = 0; i < b.nqueries; i++)
        free(b.queries[i]);
    free(b.queries);
    if (top[0] && rmdir(top) != 0)
        fprintf(stderr, "crypto_bench: cannot remove %s: %s\n", top, strerror(errno));
    buf_free(&err);
    return ret;
}
