/*
 * fuzz_csv: reads the input as CSV twice, from memory and through a FILE (fmemopen), and
 * checks that both readers agree and that every record keeps the reader's promises: fields
 * NUL-terminated, free of NUL bytes, valid UTF-8 (checked by text.c, an independent decoder),
 * lines rising, offsets within the input. Build the reader with -DCSV_CHUNK_SIZE=7 as well to
 * put refills everywhere.
 */
#include "fuzz.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "csv.h"
#include "pd.h"
#include "text.h"

/* reads everything, checks each result, and writes an exact description to out */
static void describe(csv_reader *r, size_t size, buf *out)
{
    long last_line = 0;
    unsigned long long last_offset = 0;
    size_t calls = 0;
    int rc;

    while ((rc = csv_read(r)) != 0) {
        REQUIRE(++calls <= size + 1);
        REQUIRE(rc == 1 || rc == PD_EINVAL);
        REQUIRE(csv_line(r) > last_line);
        last_line = csv_line(r);
        REQUIRE(csv_offset(r) >= last_offset && csv_offset(r) <= size);
        last_offset = csv_offset(r);
        buf_printf(out, "%d@%ld:", rc, csv_line(r));
        if (rc < 0) {
            REQUIRE(csv_nfields(r) == 0);
            REQUIRE(csv_error(r)[0] != '\0');
            buf_printf(out, "%s\n", csv_error(r));
            continue;
        }
        REQUIRE(csv_error(r)[0] == '\0');
        REQUIRE(csv_nfields(r) >= 1 && csv_nfields(r) <= CSV_MAX_RECORD + 1);
        for (size_t i = 0; i < csv_nfields(r); i++) {
            size_t len = 0;
            const char *f = csv_field(r, i, &len);
            REQUIRE(f != NULL && len <= CSV_MAX_RECORD);
            REQUIRE(f[len] == '\0' && memchr(f, '\0', len) == NULL);
            REQUIRE(text_utf8_valid(f, len));
            buf_printf(out, "%zu:", len);
            buf_append(out, f, len);
        }
        REQUIRE(csv_field(r, csv_nfields(r), NULL) == NULL);
        buf_putc(out, '\n');
    }
    REQUIRE(csv_nfields(r) == 0);
    REQUIRE(csv_offset(r) == size);
    REQUIRE(csv_read(r) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    buf from_mem = BUF_INIT, from_file = BUF_INIT;
    csv_reader *r = NULL;
    FILE *f = NULL;

    r = csv_reader_new_mem((const char *)data, size);
    describe(r, size, &from_mem);
    csv_reader_free(r);
    r = NULL;

    if (size == 0)
        goto out; /* fmemopen wants a size */
    f = fmemopen((void *)data, size, "r");
    if (!f)
        goto out;
    r = csv_reader_new(f);
    describe(r, size, &from_file);
    REQUIRE(from_mem.len == from_file.len);
    REQUIRE(memcmp(buf_cstr(&from_mem), buf_cstr(&from_file), from_mem.len) == 0);

out:
    csv_reader_free(r);
    if (f)
        fclose(f);
    buf_free(&from_mem);
    buf_free(&from_file);
    return 0;
}
