/*
 * csv: a streaming RFC 4180 reader for the catalog and order imports. It reads one record at a
 * time from a FILE or a memory block, unquotes its fields into one reused buffer and checks
 * each field is UTF-8 without NUL bytes. A bad record is reported with an English reason and
 * skipped, so an import goes on with the next one. The reader owns the field memory.
 */
#ifndef PD_CSV_H
#define PD_CSV_H

#include <stddef.h>
#include <stdio.h>

/* the longest record, in bytes of input without its line end */
#define CSV_MAX_RECORD 65536

typedef struct csv_reader csv_reader;

/* reads from in, which the caller keeps open and closes after csv_reader_free */
csv_reader *csv_reader_new(FILE *in);
/* reads data[0..len), which must outlive the reader; data may be NULL when len is 0 */
csv_reader *csv_reader_new_mem(const char *data, size_t len);
void csv_reader_free(csv_reader *r);

/*
 * Reads the next record. Returns 1 when one is ready, 0 at the end of the input, PD_EINVAL for
 * a bad record (csv_error says why; the reader has skipped to the next record, so just go on
 * reading) and PD_EIO when reading failed (the reader then stays failed). Comma separated;
 * CRLF, LF or a lone CR end a line; empty lines are skipped; a UTF-8 BOM at the very start is
 * skipped; the last line needs no line end. A quoted field whose record grows past
 * CSV_MAX_RECORD is abandoned at the next line end.
 */
int csv_read(csv_reader *r);

/* the fields of the current record: 0 after an error or at the end */
size_t csv_nfields(const csv_reader *r);
/*
 * Field i (0-based), unquoted and NUL-terminated, valid until the next csv_read; its length in
 * *len when len is not NULL. NULL (and *len 0) when i is out of range.
 */
const char *csv_field(const csv_reader *r, size_t i, size_t *len);
/* why the last csv_read failed, e.g. "invalid UTF-8 in field 3"; "" after a success */
const char *csv_error(const csv_reader *r);
/* the 1-based physical line on which the current (or failed) record starts; 0 before any */
long csv_line(const csv_reader *r);
/* the bytes of input consumed so far */
unsigned long long csv_offset(const csv_reader *r);

#endif
