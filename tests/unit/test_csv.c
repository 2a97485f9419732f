/*
 * csv: RFC 4180 records, quoting, line ends and line numbers, UTF-8 checks, bad records and
 * the resync after them. Every input is read twice, from memory and through a FILE, and both
 * readers must agree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "csv.h"
#include "pd.h"

/*
 * Reads everything and describes it, one line per csv_read result: "LINE[f1|f2]" for a record
 * (CR and LF in fields shown as \r and \n), "LINE!reason" for a bad one, "EIO" for a read error.
 */
static void dump(csv_reader *r, buf *out)
{
    int rc;
    while ((rc = csv_read(r)) != 0) {
        if (rc == PD_EIO) {
            buf_puts(out, "EIO\n");
            break;
        }
        if (rc < 0) {
            CHECK_EQ_INT(csv_nfields(r), 0);
            buf_printf(out, "%ld!%s\n", csv_line(r), csv_error(r));
            continue;
        }
        CHECK_EQ_INT(rc, 1);
        CHECK_EQ_STR(csv_error(r), "");
        buf_printf(out, "%ld[", csv_line(r));
        for (size_t i = 0; i < csv_nfields(r); i++) {
            size_t len;
            const char *f = csv_field(r, i, &len);
            CHECK(f && f[len] == '\0');
            if (i)
                buf_putc(out, '|');
            for (size_t k = 0; k < len; k++) {
                if (f[k] == '\n')
                    buf_puts(out, "\\n");
                else if (f[k] == '\r')
                    buf_puts(out, "\\r");
                else
                    buf_putc(out, f[k]);
            }
        }
        buf_puts(out, "]\n");
    }
    CHECK_EQ_INT(csv_read(r), 0); /* the end stays the end */
}

/* reads data[0..len) from memory and through a FILE; both must give want */
static void expect_n(const char *data, size_t len, const char *want, int line)
{
    buf got = BUF_INIT;
    csv_reader *r = csv_reader_new_mem(data, len);
    dump(r, &got);
    if (strcmp(buf_cstr(&got), want) != 0)
        fprintf(stderr, "test_csv.c:%d: from memory\n", line);
    CHECK_EQ_STR(buf_cstr(&got), want);
    CHECK_EQ_INT(csv_offset(r), len);
    csv_reader_free(r);

    if (len > 0) {
        FILE *f = fmemopen((void *)data, len, "r");
        CHECK(f != NULL);
        if (f) {
            buf_reset(&got);
            r = csv_reader_new(f);
            dump(r, &got);
            if (strcmp(buf_cstr(&got), want) != 0)
                fprintf(stderr, "test_csv.c:%d: from a FILE\n", line);
            CHECK_EQ_STR(buf_cstr(&got), want);
            CHECK_EQ_INT(csv_offset(r), len);
            csv_reader_free(r);
            fclose(f);
        }
    }
    buf_free(&got);
}

#define EXPECT(data, want) expect_n(data, sizeof(data) - 1, want, __LINE__)

static void test_basic(void)
{
    EXPECT("", "");
    EXPECT("a,b,c\n1,2,3\n", "1[a|b|c]\n2[1|2|3]\n");
    EXPECT("a,b\r\n1,2\r\n", "1[a|b]\n2[1|2]\n");
    EXPECT("a,b\n1,2", "1[a|b]\n2[1|2]\n"); /* no line end at the end */
    EXPECT("a,b\r\n1,2\r", "1[a|b]\n2[1|2]\n");
    EXPECT("a\rb\rc", "1[a]\n2[b]\n3[c]\n"); /* a lone CR ends a line too */
    EXPECT("a\n\r\nb\r\r\nc\n", "1[a]\n3[b]\n5[c]\n");
    EXPECT(" a , b \n", "1[ a | b ]\n"); /* spaces are data */
    EXPECT("\xc3\xa4,\xe2\x82\xac,\xf0\x9f\x92\x8a\n",
           "1[\xc3\xa4|\xe2\x82\xac|\xf0\x9f\x92\x8a]\n");

    /* empty fields and the shapes of rows are the caller's business */
    EXPECT(",\n", "1[|]\n");
    EXPECT(",,", "1[||]\n");
    EXPECT("a,\n", "1[a|]\n");
    EXPECT("a,", "1[a|]\n");
    EXPECT("a,b,c\n1\n1,2,3,4\n", "1[a|b|c]\n2[1]\n3[1|2|3|4]\n");
    EXPECT("\"\"\n", "1[]\n");
    EXPECT("\"\",\"\"", "1[|]\n");
}

static void test_empty_lines(void)
{
    EXPECT("\n", "");
    EXPECT("\n\n\r\n\r", "");
    EXPECT("\n\na\n\r\n\nb\n\n", "3[a]\n6[b]\n");
    EXPECT("a\n\n\n", "1[a]\n");
    EXPECT(" \n", "1[ ]\n"); /* a space is not an empty line */
}

static void test_quotes(void)
{
    EXPECT("\"a,b\",\"c\"\"d\",\"\"\n", "1[a,b|c\"d|]\n");
    EXPECT("\"\"\"\"", "1[\"]\n");
    EXPECT("\"\"\"x\"\"\",y", "1[\"x\"|y]\n");
    EXPECT("\"a\",b,\"c\"\r\n", "1[a|b|c]\n");
    EXPECT("x,\"\"", "1[x|]\n");

    /* embedded line ends are data and count as lines */
    EXPECT("\"x\ny\",z\nnext\n", "1[x\\ny|z]\n3[next]\n");
    EXPECT("\"x\r\ny\"\r\nnext\r\n", "1[x\\r\\ny]\n3[next]\n");
    EXPECT("h\n\"1\n2\n3\",\"4\n\"\n\nlast", "1[h]\n2[1\\n2\\n3|4\\n]\n7[last]\n");
    EXPECT("\"\n\"", "1[\\n]\n");

    /* a catalog row */
    EXPECT("34375154,Thomapyrin Classic Schmerztabletten,Sanofi-Aventis,\"Acetylsalicyls\xc3\xa4"
           "ure, Paracetamol, Coffein\",250/200/50 mg\n",
           "1[34375154|Thomapyrin Classic Schmerztabletten|Sanofi-Aventis|Acetylsalicyls\xc3\xa4"
           "ure, Paracetamol, Coffein|250/200/50 mg]\n");
}

static void test_bom(void)
{
    EXPECT("\xef\xbb\xbfpzn,name\n1,a\n", "1[pzn|name]\n2[1|a]\n");
    EXPECT("\xef\xbb\xbf", "");
    EXPECT("\xef\xbb\xbf\n\"q\"", "2[q]\n");
    /* only at the very start: later it is a character (U+FEFF) like any other */
    EXPECT("a\n\xef\xbb\xbf"
           "b\n",
           "1[a]\n2[\xef\xbb\xbf"
           "b]\n");
    EXPECT("\xef\xbb\xbf\xef\xbb\xbf"
           "a",
           "1[\xef\xbb\xbf"
           "a]\n");
    /* half a BOM is invalid UTF-8 */
    EXPECT("\xef\xbb", "1!invalid UTF-8 in field 1\n");
    EXPECT("\xef\xbb,a\nb\n", "1!invalid UTF-8 in field 1\n2[b]\n");
}

static void test_utf8(void)
{
    /* good edge cases: U+007F, U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF */
    EXPECT("\x7f,\xc2\x80,\xdf\xbf,\xe0\xa0\x80,\xed\x9f\xbf,\xee\x80\x80,\xef\xbf\xbf,"
           "\xf0\x90\x80\x80,\xf4\x8f\xbf\xbf\n",
           "1[\x7f|\xc2\x80|\xdf\xbf|\xe0\xa0\x80|\xed\x9f\xbf|\xee\x80\x80|\xef\xbf\xbf|"
           "\xf0\x90\x80\x80|\xf4\x8f\xbf\xbf]\n");

    /* each bad sequence in field 2 of line 2, between good rows */
    static const char *const bad[] = {
        "\xc0\x80",         /* overlong NUL */
        "\xc1\xbf",         /* overlong 2-byte */
        "\xe0\x80\x80",     /* overlong 3-byte */
        "\xe0\x9f\xbf",     /* overlong 3-byte, highest */
        "\xf0\x80\x80\x80", /* overlong 4-byte */
        "\xf0\x8f\xbf\xbf", /* overlong 4-byte, highest */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xed\xbf\xbf",     /* surrogate U+DFFF */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80", /* lead byte above F4 */
        "\xf8\x88\x80\x80\x80",
        "\xff",
        "\xfe",
        "\x80", /* continuation without a lead */
        "a\xbf",
        "\xc3", /* truncated at the end of the field */
        "\xe2\x82",
        "\xf0\x9f\x92",
        "\xc3x", /* truncated inside the field */
        "\xe2\x82x",
        "\xf0\x9f\x92x",
        "\xc3\xc3\xa4",
    };
    for (size_t i = 0; i < PD_ARRAY_LEN(bad); i++) {
        char in[64], quoted[64];
        snprintf(in, sizeof(in), "a,b\nx,%s,z\nc,d\n", bad[i]);
        expect_n(in, strlen(in), "1[a|b]\n2!invalid UTF-8 in field 2\n3[c|d]\n", __LINE__);
        snprintf(quoted, sizeof(quoted), "a,b\nx,\"%s\",z\nc,d\n", bad[i]);
        expect_n(quoted, strlen(quoted), "1[a|b]\n2!invalid UTF-8 in field 2\n3[c|d]\n", __LINE__);
    }
    /* truncated at the end of the input, and the field number */
    EXPECT("ok\n1,2,\xe2\x82", "1[ok]\n2!invalid UTF-8 in field 3\n");
    EXPECT("ok\n1,2,\"\xe2\x82\"", "1[ok]\n2!invalid UTF-8 in field 3\n");
}

static void test_nul(void)
{
    static const char in[] = "a,b\0c\nd,\"e\0\"\n\0\nok\n";
    expect_n(in, sizeof(in) - 1,
             "1!NUL byte in field 2\n2!NUL byte in field 2\n3!NUL byte in field 1\n4[ok]\n",
             __LINE__);
}

static void test_bad_records(void)
{
    /* a quote inside an unquoted field */
    EXPECT("a,b\"c,d\nok\n", "1!stray quote in unquoted field 2\n2[ok]\n");
    EXPECT("a\"\nok", "1!stray quote in unquoted field 1\n2[ok]\n");
    EXPECT(" \"a\"\nok", "1!stray quote in unquoted field 1\n2[ok]\n");
    /* text after a closing quote */
    EXPECT("\"a\"b,c\nok\n", "1!text after the closing quote of field 1\n2[ok]\n");
    EXPECT("x,\"a\" \nok\n", "1!text after the closing quote of field 2\n2[ok]\n");
    /* the first reason wins */
    EXPECT("\"a\"b,\xff\n", "1!text after the closing quote of field 1\n");
    EXPECT("\xff,\"a\"b\n", "1!invalid UTF-8 in field 1\n");

    /* an unterminated quote runs to the end of the input */
    EXPECT("ok\n\"abc", "1[ok]\n2!unterminated quoted field 1\n");
    EXPECT("ok\nx,\"abc\ndef\nghi\n", "1[ok]\n2!unterminated quoted field 2\n");
    EXPECT("\"", "1!unterminated quoted field 1\n");

    /* the resync skips the quoted line ends of a bad record */
    EXPECT("a\"x,\"multi\nline\"\nok\n", "1!stray quote in unquoted field 1\n3[ok]\n");
    EXPECT("\xff,\"1\n2\n3\",x\n\"4\n5\"\n", "1!invalid UTF-8 in field 1\n4[4\\n5]\n");
    /* a quote after a bad field's start is not a new quoted field */
    EXPECT("ab\"c\"d,e\nok\n", "1!stray quote in unquoted field 1\n2[ok]\n");
    /* many bad records in a row, with good ones in between */
    EXPECT("1,\"x\"y\n2,ok\n3,\xc0\n\n4,\"ok\"\n5,a\"b\n",
           "1!text after the closing quote of field 2\n2[2|ok]\n3!invalid UTF-8 in field 2\n"
           "5[4|ok]\n6!stray quote in unquoted field 2\n");
}

static void test_long_records(void)
{
    size_t max = CSV_MAX_RECORD;
    char *in = pd_xmalloc(3 * max + 64);
    buf want = BUF_INIT;

    /* one field of exactly the limit: fine; one byte more: too long, and the next row is read */
    memset(in, 'a', max);
    memcpy(in + max, "\nok\n", 4);
    csv_reader *r = csv_reader_new_mem(in, max + 4);
    CHECK_EQ_INT(csv_read(r), 1);
    size_t len = 0;
    const char *f = csv_field(r, 0, &len);
    CHECK_EQ_INT(len, max);
    CHECK(f && f[0] == 'a' && f[max - 1] == 'a' && f[max] == '\0');
    CHECK_EQ_INT(csv_read(r), 1);
    CHECK_EQ_STR(csv_field(r, 0, NULL), "ok");
    CHECK_EQ_INT(csv_read(r), 0);
    csv_reader_free(r);

    memset(in, 'a', max + 1);
    memcpy(in + max + 1, "\r\nok\n", 5);
    expect_n(in, max + 6, "1!record longer than 65536 bytes\n2[ok]\n", __LINE__);

    /* the limit counts quotes and commas too; the line end does not */
    in[0] = '"';
    memset(in + 1, 'b', max - 2);
    in[max - 1] = '"';
    memcpy(in + max, "\r\n", 2);
    r = csv_reader_new_mem(in, max + 2);
    CHECK_EQ_INT(csv_read(r), 1);
    CHECK_EQ_INT(csv_nfields(r), 1);
    csv_field(r, 0, &len);
    CHECK_EQ_INT(len, max - 2);
    csv_reader_free(r);

    /* the most fields a record can have: only commas */
    memset(in, ',', max);
    r = csv_reader_new_mem(in, max);
    CHECK_EQ_INT(csv_read(r), 1);
    CHECK_EQ_INT(csv_nfields(r), max + 1);
    CHECK_EQ_STR(csv_field(r, max, &len), "");
    CHECK_EQ_INT(len, 0);
    csv_reader_free(r);
    memset(in, ',', max + 1);
    expect_n(in, max + 1, "1!record longer than 65536 bytes\n", __LINE__);

    /* an unterminated quote does not swallow the rest of a big file: past the limit the
     * reader gives up on it at the next line end and reads the lines after it as records */
    size_t n = 0;
    memcpy(in, "h\n\"open,", 8);
    n = 8;
    while (n < max + 100) {
        memcpy(in + n, "\n0123456789012345678901234567890123456789", 41);
        n += 41;
    }
    memcpy(in + n, "\ntail,1\n", 8);
    n += 8;
    buf_puts(&want, "1[h]\n2!record longer than 65536 bytes\n");
    size_t cut = 2 + max; /* the record's 65537th byte */
    long line = 2;
    for (size_t k = 2; k < cut; k++)
        line += in[k] == '\n';
    while (in[cut] != '\n')
        cut++;
    line++;
    for (size_t k = cut + 1; k < n; k++, line++) {
        buf_printf(&want, "%ld[", line);
        for (; in[k] != '\n'; k++)
            buf_putc(&want, in[k] == ',' ? '|' : in[k]);
        buf_puts(&want, "]\n");
    }
    CHECK(strstr(buf_cstr(&want), "[tail|1]\n") != NULL);
    expect_n(in, n, buf_cstr(&want), __LINE__);

    /* the limit hit at a quoted line end: that line end ends the record */
    in[0] = '"';
    memset(in + 1, 'c', max);
    in[max] = '\n';
    memcpy(in + max + 1, "x\nok\n", 5);
    expect_n(in, max + 6, "1!record longer than 65536 bytes\n2[x]\n3[ok]\n", __LINE__);
    /* a quoted line end within the limit does not; the next one does */
    in[max - 1] = '\n';
    in[max] = 'c';
    expect_n(in, max + 6, "1!record longer than 65536 bytes\n3[ok]\n", __LINE__);

    buf_free(&want);
    free(in);
}

static void test_api(void)
{
    csv_reader_free(NULL);

    csv_reader *r = csv_reader_new_mem(NULL, 0);
    CHECK_EQ_INT(csv_line(r), 0);
    CHECK_EQ_INT(csv_read(r), 0);
    CHECK_EQ_INT(csv_nfields(r), 0);
    CHECK_EQ_INT(csv_offset(r), 0);
    csv_reader_free(r);

    static const char in[] = "a,bc\r\nd\n";
    r = csv_reader_new_mem(in, sizeof(in) - 1);
    CHECK_EQ_INT(csv_offset(r), 0);
    CHECK_EQ_INT(csv_read(r), 1);
    CHECK_EQ_INT(csv_line(r), 1);
    CHECK_EQ_INT(csv_offset(r), 5); /* up to the CR; the LF comes with the next call */
    size_t len = 99;
    CHECK_EQ_STR(csv_field(r, 1, &len), "bc");
    CHECK_EQ_INT(len, 2);
    CHECK(csv_field(r, 2, &len) == NULL);
    CHECK_EQ_INT(len, 0);
    CHECK(csv_field(r, 2, NULL) == NULL);
    CHECK_EQ_INT(csv_read(r), 1);
    CHECK_EQ_INT(csv_line(r), 2);
    CHECK_EQ_INT(csv_offset(r), 8);
    CHECK_EQ_INT(csv_read(r), 0);
    CHECK_EQ_INT(csv_nfields(r), 0);
    CHECK(csv_field(r, 0, NULL) == NULL);
    csv_reader_free(r);

    /* the data length counts, not a NUL */
    r = csv_reader_new_mem("a,b\nc", 2);
    CHECK_EQ_INT(csv_read(r), 1);
    CHECK_EQ_INT(csv_nfields(r), 2);
    CHECK_EQ_STR(csv_field(r, 1, NULL), "");
    csv_reader_free(r);
}

static void test_read_error(void)
{
    FILE *f = fopen("/dev/null", "w"); /* reading a write-only stream fails */
    CHECK(f != NULL);
    if (!f)
        return;
    csv_reader *r = csv_reader_new(f);
    CHECK_EQ_INT(csv_read(r), PD_EIO);
    CHECK_EQ_STR(csv_error(r), "read error");
    CHECK_EQ_INT(csv_nfields(r), 0);
    CHECK_EQ_INT(csv_read(r), PD_EIO); /* and stays failed */
    csv_reader_free(r);
    fclose(f);
}

/* a big generated file, read from memory and through a FILE in chunks: the same records */
static void test_big(void)
{
    const long rows = 200000;
    buf in = BUF_INIT;
    buf_puts(&in, "\xef\xbb\xbfpzn,name,manufacturer,price,note\r\n");
    for (long i = 0; i < rows; i++) {
        if (i % 3 == 0)
            buf_printf(&in, "%08ld,\"Ibuprofen %ld mg, \"\"akut\"\"\",ALIUD Pharma,%ld.%02ld,\r\n",
                       i, i % 800, i % 50, i % 100);
        else if (i % 3 == 1)
            buf_printf(&in, "%08ld,Nasenspray M\xc3\xbcller %ld,ratiopharm,2.79,\"zwei\nZeilen\"\n",
                       i, i);
        else
            buf_printf(&in, "%08ld,Tabletten,Hexal,%ld,\n", i, i);
    }
    buf_puts(&in, "\xff,bad\nlast,row"); /* one bad row, one without a line end */

    for (int mode = 0; mode < 2; mode++) {
        FILE *f = NULL;
        csv_reader *r;
        if (mode == 0) {
            r = csv_reader_new_mem(in.data, in.len);
        } else {
            f = fmemopen(in.data, in.len, "r");
            CHECK(f != NULL);
            if (!f)
                break;
            r = csv_reader_new(f);
        }
        long nrec = 0, nbad = 0, nfields = 0, last_line = 0;
        unsigned long long bytes = 0, last_offset = 0;
        int rc;
        while ((rc = csv_read(r)) != 0) {
            CHECK(csv_offset(r) >= last_offset);
            last_offset = csv_offset(r);
            if (rc < 0) {
                nbad++;
                CHECK_EQ_STR(csv_error(r), "invalid UTF-8 in field 1");
                continue;
            }
            nrec++;
            nfields += (long)csv_nfields(r);
            last_line = csv_line(r);
            for (size_t i = 0; i < csv_nfields(r); i++) {
                size_t len;
                csv_field(r, i, &len);
                bytes += len;
            }
            if (nrec == 2)
                CHECK_EQ_STR(csv_field(r, 1, NULL), "Ibuprofen 0 mg, \"akut\"");
            if (nrec == 3)
                CHECK_EQ_STR(csv_field(r, 4, NULL), "zwei\nZeilen");
        }
        CHECK_EQ_INT(nrec, rows + 2);
        CHECK_EQ_INT(nbad, 1);
        CHECK_EQ_INT(nfields, 5 * (rows + 1) + 2);
        CHECK_EQ_INT(last_line, 1 + rows + (rows + 1) / 3 + 2); /* every third row has two lines */
        CHECK_EQ_INT(csv_offset(r), in.len);
        CHECK(bytes > 0);
        csv_reader_free(r);
        if (f)
            fclose(f);
    }
    buf_free(&in);
}

int main(void)
{
    test_basic();
    test_empty_lines();
    test_quotes();
    test_bom();
    test_utf8();
    test_nul();
    test_bad_records();
    test_long_records();
    test_api();
    test_read_error();
    test_big();
    return check_done();
}
