/*
 * fuzz_text: the UTF-8 layer and the text normaliser (common/text.c) on any bytes.
 * - text_utf8_valid agrees with decoding the input code point by code point, and every
 *   decoded code point is a scalar value whose UTF-8 encoding is exactly the bytes consumed
 *   (no overlongs, surrogates or values above U+10FFFF get through);
 * - text_fold gives tokens of [a-z0-9.] joined by single spaces, is idempotent (folded text
 *   folds to itself: search folds the catalog and the query alike) and does not grow without
 *   bound;
 * - text_tokens splits the folded text back into exactly its tokens.
 */
#include "fuzz.h"
#include <stdint.h>
#include <string.h>

#include "text.h"

static size_t encode(uint32_t cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static void check_utf8(const char *s, size_t size)
{
    size_t i = 0;
    int ok = 1;
    while (i < size) {
        uint32_t cp = 0xFFFFFFFF;
        size_t n = text_utf8_decode(s + i, size - i, &cp);
        if (n == 0) {
            ok = 0;
            break;
        }
        REQUIRE(n <= 4 && i + n <= size);
        REQUIRE(cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF));
        unsigned char enc[4];
        REQUIRE(encode(cp, enc) == n && memcmp(enc, s + i, n) == 0);
        i += n;
    }
    REQUIRE(text_utf8_valid(s, size) == ok);
}

static void check_fold(const char *s, size_t size)
{
    buf once = BUF_INIT, twice = BUF_INIT;
    text_fold(s, size, &once);
    for (size_t i = 0; i < once.len; i++) {
        char c = once.data[i];
        REQUIRE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == ' ');
        REQUIRE(c != ' ' || (i > 0 && i + 1 < once.len && once.data[i - 1] != ' '));
    }
    REQUIRE(once.len <= 4 * size + 4); /* digraphs and split units grow it a little */
    text_fold(buf_cstr(&once), once.len, &twice);
    REQUIRE(twice.len == once.len && memcmp(buf_cstr(&twice), buf_cstr(&once), once.len) == 0);

    text_token tok[64];
    size_t n = text_tokens(buf_cstr(&once), once.len, tok, 64);
    size_t spaces = 0;
    for (size_t i = 0; i < once.len; i++)
        spaces += once.data[i] == ' ';
    REQUIRE(n == (once.len ? spaces + 1 : 0));
    for (size_t i = 0; i < n && i < 64; i++) {
        REQUIRE(tok[i].len > 0 && tok[i].p >= once.data &&
                tok[i].p + tok[i].len <= once.data + once.len);
        REQUIRE(memchr(tok[i].p, ' ', tok[i].len) == NULL);
        if (text_is_number(tok[i].p, tok[i].len))
            REQUIRE(tok[i].p[0] != '.' || tok[i].len > 1);
    }
    buf_free(&once);
    buf_free(&twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_utf8((const char *)data, size);
    check_fold((const char *)data, size);
    return 0;
}
