/* the store and the importers on a real database: migrations, upserts, every row error */
#include <sys/stat.h>

#include "check.h"
#include "import.h"
#include "pd.h"
#include "store.h"
#include "testutil.h"

static const char *demo;
static char data[300], path[400];

static int count_cb(const product *p, void *arg)
{
    (void)p;
    (*(int *)arg)++;
    return 0;
}

static void test_create_open(void)
{
    buf err = BUF_INIT;
    store *s = NULL;
    struct stat sb;
    /* open refuses a folder without a database, and does not create one */
    CHECK_EQ_INT(store_open(data, 1, &s, &err), PD_ENOTFOUND);
    CHECK(strstr(buf_cstr(&err), "pharmdesk init") != NULL);
    snprintf(path, sizeof path, "%s/%s", data, STORE_DB_NAME);
    CHECK(stat(path, &sb) != 0);
    buf_reset(&err);
    CHECK_EQ_INT(store_create(data, &err), PD_OK);
    snprintf(path, sizeof path, "%s/%s", data, STORE_KEY_NAME);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600 && sb.st_size == 32);
    CHECK(stat(data, &sb) == 0 && (sb.st_mode & 0077) == 0);
    /* init refuses to overwrite */
    buf_reset(&err);
    CHECK_EQ_INT(store_create(data, &err), PD_EEXIST);
    CHECK(strstr(buf_cstr(&err), "refuses") != NULL);
    buf_free(&err);
}

static void test_import_catalog(void)
{
    buf err = BUF_INIT;
    store *s = NULL;
    import_summary sum;
    CHECK_EQ_INT(store_open(data, 2, &s, &err), PD_OK);
    long long gen0 = -1, gen1 = -1;
    CHECK_EQ_INT(store_catalog_generation(s, &gen0), PD_OK);
    snprintf(path, sizeof path, "%s/catalog.csv", demo);
    CHECK_EQ_INT(import_csv(s, IMPORT_CATALOG, path, NULL, NULL, &sum, &err), PD_OK);
    CHECK_EQ_INT(sum.rows, 89);
    CHECK_EQ_INT(sum.inserted, 89);
    CHECK_EQ_INT(sum.rejected, 0);
    CHECK_EQ_INT(store_catalog_generation(s, &gen1), PD_OK);
    CHECK_EQ_INT(gen1, gen0 + 1);
    int n = 0;
    CHECK_EQ_INT(store_products_foreach(s, count_cb, &n), PD_OK);
    CHECK_EQ_INT(n, 89);

    product *p = NULL;
    CHECK_EQ_INT(store_product_get(s, 81287667, &p), PD_OK);
    if (p) {
        CHECK_EQ_STR(p->name, "Ibuprofen AL 400 mg Filmtabletten");
        CHECK_EQ_INT(p->price_cents, 349);
        CHECK_EQ_INT(p->stock, 42);
        CHECK_EQ_STR(p->aliases, "Ibu 400;Ibuprofen 400");
        CHECK_EQ_INT(product_availability(p), AVAIL_IN_STOCK);
        free(p);
    }
    CHECK_EQ_INT(store_product_get(s, 14464660, &p), PD_OK); /* quoted "0,1 %" etc. */
    if (p) {
        CHECK_EQ_INT(product_availability(p), AVAIL_SHORTAGE);
        free(p);
    }
    CHECK_EQ_INT(store_product_get(s, 12345678, &p), PD_ENOTFOUND);

    /* the same file again changes nothing */
    CHECK_EQ_INT(import_csv(s, IMPORT_CATALOG, path, NULL, NULL, &sum, &err), PD_OK);
    CHECK_EQ_INT(sum.unchanged, 89);
    CHECK_EQ_INT(sum.inserted + sum.updated, 0);

    /* bad rows are rejected with line and reason; the good rows go in */
    char bad[400];
    snprintf(bad, sizeof bad, "%s/bad.csv", testutil_dir);
    testutil_write(bad,
                   "\xef\xbb\xbfpzn,name,manufacturer,active_ingredient,strength,dosage_form,"
                   "pack_size,dispensing,price_eur,stock,supply,aliases\r\n"
                   "81287667,Ibuprofen AL 400 mg Filmtabletten,ALIUD Pharma,Ibuprofen,400 mg,"
                   "Filmtabletten,20 St,pharmacy,3.59,0,available,\"Ibu 400;Ibuprofen 400\"\r\n"
                   "81287668,Wrong check,X,Y,1 mg,T,1 St,pharmacy,1.00,1,available,\r\n"
                   "1234,Short PZN,X,Y,1 mg,T,1 St,pharmacy,1.00,1,available,\r\n"
                   "13926897,Too few fields\r\n"
                   "13926897,,X,Y,1 mg,T,1 St,pharmacy,1.00,1,available,\r\n"
                   "13926897,Name,X,Y,1 mg,T,1 St,doctor,1.00,1,available,\r\n"
                   "13926897,Name,X,Y,1 mg,T,1 St,rx,1.005,1,available,\r\n"
                   "13926897,Name,X,Y,1 mg,T,1 St,rx,abc,1,available,\r\n"
                   "13926897,Name,X,Y,1 mg,T,1 St,rx,1.00,-1,available,\r\n"
                   "13926897,Name,X,Y,1 mg,T,1 St,rx,1.00,1,gone,\r\n"
                   "13926897,Bad \xff UTF-8,X,Y,1 mg,T,1 St,rx,1.00,1,available,\r\n"
                   "\"13926897\",\"Multi\nline name\",X,Y,1 mg,T,1 St,rx,1.00,1,available,\r\n"
                   "81287667,Duplicate,X,Y,1 mg,T,1 St,rx,1.00,1,available,\r\n"
                   "8128766,Seven digits,X,Y,1 mg,T,1 St,free,0,1,available,\r\n"
                   "36361759,\"Unterminated,X\r\n");
    char report[8192] = {0};
    FILE *rep = fmemopen(report, sizeof report - 1, "w");
    CHECK_EQ_INT(import_csv(s, IMPORT_CATALOG, bad, rep, NULL, &sum, &err), PD_OK);
    fclose(rep);
    CHECK_EQ_INT(sum.updated, 1);
    CHECK_EQ_INT(sum.inserted, 0);
    CHECK_EQ_INT(sum.rejected, 14);
    CHECK(strstr(report, "line 3: PZN '81287668' has a wrong check digit") != NULL);
    CHECK(strstr(report, "line 4: PZN '1234' is not 7 or 8 digits") != NULL);
    CHECK(strstr(report, "line 5: expected 12 fields, found 2") != NULL);
    CHECK(strstr(report, "line 6: name is empty") != NULL);
    CHECK(strstr(report, "line 7: dispensing 'doctor'") != NULL);
    CHECK(strstr(report, "line 8: price_eur '1.005'") != NULL);
    CHECK(strstr(report, "line 9: price_eur 'abc'") != NULL);
    CHECK(strstr(report, "line 10: stock '-1'") != NULL);
    CHECK(strstr(report, "line 11: supply 'gone'") != NULL);
    CHECK(strstr(report, "line 12:") != NULL && strstr(report, "UTF-8") != NULL);
    CHECK(strstr(report, "line 13: name contains a control character") != NULL);
    CHECK(strstr(report, "line 15: PZN 81287667 already appeared on line 2") != NULL &&
          strstr(report, "line 15:") != NULL);
    CHECK(strstr(report, "line 16:") != NULL);
    CHECK_EQ_INT(store_product_get(s, 81287667, &p), PD_OK);
    if (p) {
        CHECK_EQ_INT(p->price_cents, 359);
        CHECK_EQ_INT(product_availability(p), AVAIL_ORDERABLE);
        free(p);
    }

    /* header problems stop the import before anything is written */
    snprintf(bad, sizeof bad, "%s/header.csv", testutil_dir);
    testutil_write(bad, "pzn,name\n81287667,X\n");
    buf_reset(&err);
    CHECK_EQ_INT(import_csv(s, IMPORT_CATALOG, bad, NULL, NULL, &sum, &err), PD_EINVAL);
    CHECK(strstr(buf_cstr(&err), "lacks the column 'manufacturer'") != NULL);
    testutil_write(bad, "pzn,name,extra\n");
    buf_reset(&err);
    CHECK_EQ_INT(import_csv(s, IMPORT_CATALOG, bad, NULL, NULL, &sum, &err), PD_EINVAL);
    CHECK(strstr(buf_cstr(&err), "unknown column 'extra'") != NULL);
    testutil_write(bad, "");
    buf_reset(&err);
    CHECK_EQ_INT(import_csv(s, IMPORT_CATALOG, bad, NULL, NULL, &sum, &err), PD_EINVAL);
    CHECK(strstr(buf_cstr(&err), "empty") != NULL);
    buf_reset(&err);
    CHECK_EQ_INT(import_csv(s, IMPORT_CATALOG, "/nonexistent/x.csv", NULL, NULL, &sum, &err),
                 PD_EIO);
    store_close(s);
    buf_free(&err);
}

static void test_import_orders(void)
{
    buf err = BUF_INIT;
    store *s = NULL;
    import_summary sum;
    order *o = NULL;
    CHECK_EQ_INT(store_open(data, 1, &s, &err), PD_OK);
    snprintf(path, sizeof path, "%s/orders.csv", demo);
    CHECK_EQ_INT(import_csv(s, IMPORT_ORDERS, path, NULL, NULL, &sum, &err), PD_OK);
    CHECK_EQ_INT(sum.inserted, 25);
    CHECK_EQ_INT(sum.rejected, 0);
    CHECK_EQ_INT(store_order_get(s, "AP-100231", &o), PD_OK);
    if (o) {
        CHECK_EQ_INT(o->status, ORDER_READY_FOR_PICKUP);
        CHECK_EQ_STR(o->postcode, "10115");
        CHECK_EQ_STR(o->expected, "2026-11-21");
        CHECK_EQ_STR(o->note, "Abholfach 7");
        CHECK_EQ_INT(o->nitems, 2);
        free(o);
    }
    CHECK_EQ_INT(store_order_get(s, "AP-999999", &o), PD_ENOTFOUND);
    CHECK_EQ_INT(import_csv(s, IMPORT_ORDERS, path, NULL, NULL, &sum, &err), PD_OK);
    CHECK_EQ_INT(sum.unchanged, 25);

    char bad[400], report[8192] = {0};
    snprintf(bad, sizeof bad, "%s/orders-bad.csv", testutil_dir);
    testutil_write(bad,
                   "order_number,created_at,last_name,postcode,email,status,items,expected,note\n"
                   "ap100231,2026-11-20T09:14:00+01:00,Becker,10115,ines.becker@example.org,"
                   "picked_up,81287667:1;96482127:1,2026-11-21,Abholfach 7\n"
                   "XY-1,2026-11-20T09:14:00+01:00,A,10115,,received,81287667:1,,\n"
                   "AP-100300,yesterday,A,10115,,received,81287667:1,,\n"
                   "AP-100301,2026-11-20T09:14:00Z,A,1011,,received,81287667:1,,\n"
                   "AP-100302,2026-11-20T09:14:00Z,A,10115,not-an-email,received,81287667:1,,\n"
                   "AP-100303,2026-11-20T09:14:00Z,A,10115,,lost,81287667:1,,\n"
                   "AP-100304,2026-11-20T09:14:00Z,A,10115,,received,81287667,,\n"
                   "AP-100305,2026-11-20T09:14:00Z,A,10115,,received,12345678:1,,\n"
                   "AP-100306,2026-11-20T09:14:00Z,A,10115,,received,13926897:1,2026-02-30,\n"
                   "AP-100307,2026-11-20T09:14:00Z,A,10115,,received,,,\n"
                   "AP-100308,2026-11-20T09:14:00Z,,10115,,received,13926897:1,,\n"
                   "AP-100309,2026-11-20T09:14:00Z,A,10115,,received,13926897:0,,\n");
    FILE *rep = fmemopen(report, sizeof report - 1, "w");
    CHECK_EQ_INT(import_csv(s, IMPORT_ORDERS, bad, rep, NULL, &sum, &err), PD_OK);
    fclose(rep);
    CHECK_EQ_INT(sum.updated, 1);
    CHECK_EQ_INT(sum.rejected, 11);
    CHECK(strstr(report, "line 3: order_number 'XY-1'") != NULL);
    CHECK(strstr(report, "line 4: created_at") != NULL);
    CHECK(strstr(report, "line 5: postcode") != NULL);
    CHECK(strstr(report, "line 6: email") != NULL);
    CHECK(strstr(report, "line 7: status 'lost'") != NULL);
    CHECK(strstr(report, "line 8: items entry 1") != NULL);
    CHECK(strstr(report, "line 9: an item names a PZN that is not in the catalog") != NULL);
    CHECK(strstr(report, "line 10: expected") != NULL);
    CHECK(strstr(report, "line 11: items is empty") != NULL);
    CHECK(strstr(report, "line 12: last_name is empty") != NULL);
    CHECK(strstr(report, "line 13: items entry 1") != NULL);
    CHECK_EQ_INT(store_order_get(s, "AP-100231", &o), PD_OK);
    if (o) {
        CHECK_EQ_INT(o->status, ORDER_PICKED_UP);
        free(o);
    }
    CHECK_EQ_INT(store_order_get(s, "AP-100305", &o), PD_ENOTFOUND);
    store_close(s);
    buf_free(&err);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_store DEMO_DIR\n");
        return 2;
    }
    demo = argv[1];
    snprintf(data, sizeof data, "%s/data", testutil_tmpdir());
    test_create_open();
    test_import_catalog();
    test_import_orders();
    return check_done();
}
