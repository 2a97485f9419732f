/*
 * cryptvfs: an SQLite VFS shim named "pdcrypt", layered over the default VFS, that encrypts
 * and authenticates every page of a database file and of its WAL with XChaCha20-Poly1305,
 * bound to the database's random salt, the page number and (in the WAL) the frame. It owns a
 * small mutex-guarded registry of page keys per database path, kept in locked, guarded memory,
 * and refuses every other file SQLite could write (rollback journals, temporary files), so
 * nothing of a database reaches the disk in clear. Functions return SQLite result codes.
 */
#ifndef PD_CRYPTVFS_H
#define PD_CRYPTVFS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTVFS_NAME "pdcrypt"
#define CRYPTVFS_PAGE_SIZE 4096
#define CRYPTVFS_RESERVE 40 /* per page: 24-byte nonce, then 16-byte tag */
#define CRYPTVFS_KEY_SIZE 32
#define CRYPTVFS_SALT_SIZE 16
#define CRYPTVFS_BIND_MAX 64 /* most extra associated data a page can be bound to */

/* Registers "pdcrypt" over the default VFS (not as the default). Idempotent; call it once
 * before threads start. */
int cryptvfs_register(void);

/* Sets the key of the database at db_path (canonicalised as SQLite does, so relative paths
 * and symbolic links match). Only the page subkey derived from it is kept. Files of a database
 * without a key do not open (SQLITE_AUTH). Open files keep the key they were opened with. */
int cryptvfs_key_set(const char *db_path, const unsigned char key[CRYPTVFS_KEY_SIZE]);
/* wipes and forgets the key of db_path; later opens of that database fail */
void cryptvfs_key_clear(const char *db_path);

/*
 * Checks, without SQLite and without writing anything, that the database file at db_path has
 * a whole number of pages and that its page 1 authenticates with the registered key.
 * SQLITE_OK; SQLITE_IOERR_DATA for a wrong key or a damaged page 1; SQLITE_NOTADB for a file
 * that is empty, cut or not one of ours; SQLITE_AUTH when no key is registered.
 */
int cryptvfs_check(const char *db_path);

/*
 * Prepares a new, empty database opened through "pdcrypt": page size 4096, 40 reserved bytes
 * per page (SQLITE_FCNTL_RESERVE_BYTES), then WAL mode (through journal_mode=OFF, because the
 * switch's one-page transaction would otherwise open a rollback journal, which this VFS
 * refuses). Writes page 1. SQLITE_MISUSE when the database is not empty or not on "pdcrypt".
 */
int cryptvfs_prepare_new(sqlite3 *db);

/*
 * The page codec, exposed for tests and fuzzing. key is a page subkey; salt the database's
 * salt; pgno the 1-based page number (0 is refused); bind, bind_len (<= CRYPTVFS_BIND_MAX)
 * extra associated data: none for a database page, the frame number and frame header for a
 * WAL frame. Associated data: salt || pgno (uint32 little-endian) || bind.
 *
 * seal: plain (4096 bytes) to page (4096 bytes; may be the same buffer): bytes [0, 4056) are
 * ciphertext, then a fresh random nonce and the tag. Page 1 must begin "SQLite format 3\0";
 * those 16 bytes are replaced by the salt in clear. The last 40 plaintext bytes are dropped.
 * SQLITE_MISUSE for bad arguments.
 *
 * open: page to plain (may be the same buffer); page 1 begins "SQLite format 3\0" again and
 * the last 40 bytes are zero. SQLITE_IOERR_DATA when the page does not authenticate, with
 * plain all zero: never a byte of unauthenticated data.
 */
int cryptvfs_page_seal(const unsigned char key[CRYPTVFS_KEY_SIZE],
                       const unsigned char salt[CRYPTVFS_SALT_SIZE], uint32_t pgno,
                       const unsigned char *bind, size_t bind_len, const unsigned char *plain,
                       unsigned char *page);
int cryptvfs_page_open(const unsigned char key[CRYPTVFS_KEY_SIZE],
                       const unsigned char salt[CRYPTVFS_SALT_SIZE], uint32_t pgno,
                       const unsigned char *bind, size_t bind_len, const unsigned char *page,
                       unsigned char *plain);

#endif
