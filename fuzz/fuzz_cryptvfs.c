/*
 * fuzz_cryptvfs: the page codec of the "pdcrypt" VFS. The input is a key, a salt, a page
 * number, extra associated data and page bytes. As a sealed page from disk it must be
 * rejected (SQLITE_IOERR_DATA, the output all zero), never opened; as plaintext it must
 * round-trip, and the sealed page must be rejected after any one bit flip or under another
 * page number, salt, key or binding. Arguments out of range are refused, never a crash.
 */
#include "fuzz.h"
#include <sodium.h>
#include <sqlite3.h>
#include <stdint.h>
#include <string.h>

#include "cryptvfs.h"

#define PAGE CRYPTVFS_PAGE_SIZE
#define BODY (PAGE - CRYPTVFS_RESERVE)
#define HEAD (CRYPTVFS_KEY_SIZE + CRYPTVFS_SALT_SIZE + 4 + 1 + 2)

static int all_zero(const unsigned char *p, size_t n)
{
    unsigned char acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* opening must fail and leave zeros, into another buffer and in place */
static void require_reject(const unsigned char *key, const unsigned char *salt, uint32_t pgno,
                           const unsigned char *bind, size_t bind_len, const unsigned char *page)
{
    static unsigned char out[PAGE], inplace[PAGE];
    memset(out, 0xA5, sizeof out);
    REQUIRE(cryptvfs_page_open(key, salt, pgno, bind, bind_len, page, out) == SQLITE_IOERR_DATA);
    REQUIRE(all_zero(out, PAGE));
    memcpy(inplace, page, PAGE);
    REQUIRE(cryptvfs_page_open(key, salt, pgno, bind, bind_len, inplace, inplace) ==
            SQLITE_IOERR_DATA);
    REQUIRE(all_zero(inplace, PAGE));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char page[PAGE], plain[PAGE], sealed[PAGE], out[PAGE], tampered[PAGE];
    unsigned char key[CRYPTVFS_KEY_SIZE] = {0}, key2[CRYPTVFS_KEY_SIZE];
    unsigned char salt[CRYPTVFS_SALT_SIZE] = {0}, salt2[CRYPTVFS_SALT_SIZE];
    unsigned char bind[CRYPTVFS_BIND_MAX + 1] = {0}, bind2[CRYPTVFS_BIND_MAX + 1];
    uint32_t pgno = 0;
    size_t bind_len = 0, flip = 0;

    if (sodium_init() < 0)
        abort();
    /* layout: key, salt, page number (LE), binding length, flip position (LE), binding, page */
    if (size >= HEAD) {
        memcpy(key, data, sizeof key);
        memcpy(salt, data + 32, sizeof salt);
        pgno = (uint32_t)data[48] | (uint32_t)data[49] << 8 | (uint32_t)data[50] << 16 |
               (uint32_t)data[51] << 24;
        bind_len = data[52] % (CRYPTVFS_BIND_MAX + 2); /* one past the limit too */
        flip = ((size_t)data[53] | (size_t)data[54] << 8) % (PAGE * 8);
        data += HEAD;
        size -= HEAD;
    } else {
        pgno = (uint32_t)size;
    }
    size_t take = bind_len < size ? bind_len : size;
    memcpy(bind, data, take);
    data += take;
    size -= take;
    memset(page, 0, sizeof page);
    memcpy(page, data, size < PAGE ? size : PAGE);

    /* out of range: refused */
    if (bind_len > CRYPTVFS_BIND_MAX) {
        REQUIRE(cryptvfs_page_seal(key, salt, pgno, bind, bind_len, page, sealed) == SQLITE_MISUSE);
        REQUIRE(cryptvfs_page_open(key, salt, pgno, bind, bind_len, page, out) == SQLITE_MISUSE);
        bind_len = CRYPTVFS_BIND_MAX;
    }
    REQUIRE(cryptvfs_page_seal(key, salt, 0, bind, bind_len, page, sealed) == SQLITE_MISUSE);

    /* the input as a page from disk: no forgery gets through */
    require_reject(key, salt, pgno, bind, bind_len, page);

    /* the input as plaintext: round trip */
    if (pgno == 0)
        pgno = 1 + (uint32_t)(size % 1000);
    memcpy(plain, page, PAGE);
    memset(plain + BODY, 0, CRYPTVFS_RESERVE);
    if (pgno == 1) {
        if (memcmp(plain, "SQLite format 3", 16) != 0)
            REQUIRE(cryptvfs_page_seal(key, salt, 1, bind, bind_len, plain, sealed) ==
                    SQLITE_MISUSE);
        memcpy(plain, "SQLite format 3", 16);
    }
    REQUIRE(cryptvfs_page_seal(key, salt, pgno, bind, bind_len, plain, sealed) == SQLITE_OK);
    if (pgno == 1)
        REQUIRE(memcmp(sealed, salt, sizeof salt) == 0);
    REQUIRE(cryptvfs_page_open(key, salt, pgno, bind, bind_len, sealed, out) == SQLITE_OK);
    REQUIRE(memcmp(out, plain, PAGE) == 0);
    memcpy(tampered, plain, PAGE); /* in place both ways */
    REQUIRE(cryptvfs_page_seal(key, salt, pgno, bind, bind_len, tampered, tampered) == SQLITE_OK);
    REQUIRE(cryptvfs_page_open(key, salt, pgno, bind, bind_len, tampered, tampered) == SQLITE_OK);
    REQUIRE(memcmp(tampered, plain, PAGE) == 0);

    /* one flipped bit anywhere */
    memcpy(tampered, sealed, PAGE);
    tampered[flip / 8] ^= (unsigned char)(1u << (flip % 8));
    require_reject(key, salt, pgno, bind, bind_len, tampered);

    /* another page number, salt, key, binding */
    require_reject(key, salt, pgno == UINT32_MAX ? 1 : pgno + 1, bind, bind_len, sealed);
    memcpy(salt2, salt, sizeof salt);
    salt2[flip % sizeof salt2] ^= 0x01;
    require_reject(key, salt2, pgno, bind, bind_len, sealed);
    memcpy(key2, key, sizeof key);
    key2[flip % sizeof key2] ^= 0x80;
    require_reject(key2, salt, pgno, bind, bind_len, sealed);
    memcpy(bind2, bind, sizeof bind);
    if (bind_len > 0) {
        bind2[flip % bind_len] ^= 0x02;
        require_reject(key, salt, pgno, bind2, bind_len, sealed);
        require_reject(key, salt, pgno, bind, bind_len - 1, sealed);
    }
    if (bind_len < CRYPTVFS_BIND_MAX)
        require_reject(key, salt, pgno, bind, bind_len + 1, sealed);
    return 0;
}
