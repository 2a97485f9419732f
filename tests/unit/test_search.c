/* ranking on the demo catalog: each case names what a customer types and the product meant */
#include "check.h"
#include "import.h"
#include "pd.h"
#include "search.h"
#include "store.h"
#include "testutil.h"

static search_index *ix;

static int add_cb(const product *p, void *arg)
{
    search_add(arg, p);
    return 0;
}

/* the first hit is one of the expected PZNs (any product the customer may mean) */
#define expect_first(q, ...) expect_first_of(q, (const uint32_t[]){__VA_ARGS__, 0})
static void expect_first_of(const char *q, const uint32_t *want)
{
    search_hit h[5];
    size_t n = search_query(ix, q, strlen(q), h, 5);
    uint32_t a = want[0];
    int ok = 0;
    for (; n > 0 && *want; want++)
        ok |= h[0].pzn == *want;
    if (!ok)
        fprintf(stderr, "query \"%s\": first is %08u (%zu hits), expected %08u\n", q,
                n ? h[0].pzn : 0, n, a);
    CHECK(ok);
}

static void expect_none(const char *q)
{
    search_hit h[5];
    size_t n = search_query(ix, q, strlen(q), h, 5);
    if (n)
        fprintf(stderr, "query \"%s\": expected no hit, got %08u\n", q, h[0].pzn);
    CHECK_EQ_INT(n, 0);
}

int main(int argc, char **argv)
{
    buf err = BUF_INIT;
    store *s = NULL;
    import_summary sum;
    char data[300];
    if (argc < 2)
        return 2;
    snprintf(data, sizeof data, "%s/data", testutil_tmpdir());
    if (store_create(data, &err) || store_open(data, 1, &s, &err) ||
        import_csv(s, IMPORT_CATALOG, argv[1], NULL, NULL, &sum, &err)) {
        fprintf(stderr, "setup: %s\n", buf_cstr(&err));
        return 2;
    }
    ix = search_new();
    store_products_foreach(s, add_cb, ix);
    search_finish(ix);
    CHECK_EQ_INT(search_size(ix), 89);

    /* exact names, strength picks the pack; in stock beats orderable on a tie */
    expect_first("Ibuprofen 400", 81287667, 0);
    expect_first("Haben Sie Ibuprofen 400 vorrätig?", 81287667, 0);
    expect_first("ibuprofen 600 mg", 36361759, 0);
    expect_first("Ibuprofen 800", 17573929, 0);
    /* typos */
    expect_first("Ibuprofn 400", 81287667, 0);
    expect_first("Parazetamol", 36679148, 61388165, 42603267, 14464660);
    expect_first("paracetamoll 500", 36679148, 61388165);
    expect_first("Voltarn Gel", 18913735, 0);
    /* aliases and brand spellings */
    expect_first("benuron", 36679148, 0);
    expect_first("ben-u-ron saft", 14464660, 0);
    expect_first("Pille danach", 12042400, 0);
    expect_first("viagra", 11167186, 0);
    /* umlauts and their spellings */
    expect_first("Fieberzäpfchen", 42603267, 0);
    expect_first("Fieberzaepfchen", 42603267, 0);
    expect_first("fieberzapfchen", 42603267, 0);
    expect_first("Folsaeure", 36640100, 0);
    expect_first("Blutdruckmessgerät", 63493386, 0);
    expect_first("ELEVIT", 66228779, 0);
    /* PZN in any spelling */
    expect_first("PZN 81287667", 81287667, 0);
    expect_first("8128 7667", 81287667, 0);
    expect_first("pzn: 13926897 bitte", 13926897, 0);
    /* pack size */
    expect_first("Cetirizin 50 Stück", 10782972, 0);
    expect_first("Cetirizin 20 St", 81322398, 0);
    expect_first("cetirizin N2", 10782972, 0);
    expect_first("Cetirizin N1", 81322398, 0);
    expect_first("Cetirizine", 81322398, 10782972);
    expect_first("haben Sie Ibuprofen 400 mg? Ich bräuchte die 50er Packung.", 59579780, 0);
    expect_first("I need paracetamol, do you have some?", 36679148, 61388165, 42603267, 14464660);
    /* active ingredients, prefixes and compound heads */
    expect_first("Xylometazolin", 50536869, 83923742);
    expect_first("ibupro", 13926897, 81287667);
    expect_first("Hustensaftvorrat", 19528583, 13839253);
    expect_first("Ozempic", 63615524, 0);
    expect_first("Semaglutid", 63615524, 0);
    expect_first("Nasenspray ratiopharm", 83923742, 0);
    /* neighbouring letters swapped */
    expect_first("Otrievn", 50536869, 0);
    expect_first("Insluin", 39973210, 0);
    /* packs measured in ml or g */
    expect_first("Nasenspray 15 ml", 83923742, 0);
    expect_first("Ibuprofen 100 ml", 76232492, 0);
    expect_first("Bepanthen 20 g", 96482127, 0);
    /* greetings are not product words */
    expect_first("Guten Tag, haben Sie Paracetamol 500?", 61388165, 36679148);
    /* the full name wins over a longer near-variant */
    expect_first("Cetirizin ADGC 10 mg Filmtabletten", 81322398, 10782972);
    expect_first("Ibuprofen-ratiopharm 400 mg akut Schmerztabletten", 59579780, 0);
    /* English */
    expect_first("Do you have Aspirin in stock?", 23160864, 0);
    /* nothing to find */
    expect_none("");
    expect_none("haben sie");
    expect_none("Xyzzyqwert");
    expect_none("\xff\xfe");

    /* limits: never more than asked, best first */
    search_hit h[3];
    size_t n = search_query(ix, "ratiopharm", 10, h, 3);
    CHECK_EQ_INT(n, 3);
    CHECK(n < 2 || h[0].score >= h[1].score);
    CHECK_EQ_INT(search_query(ix, "ratiopharm", 10, h, 0), 0);

    /* long and hostile inputs */
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    search_query(ix, big, strlen(big), h, 3);
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = (char)(i % 2 ? ' ' : '9');
    search_query(ix, big, strlen(big), h, 3);

    search_free(ix);
    store_close(s);
    buf_free(&err);
    return check_done();
}
