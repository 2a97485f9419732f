/*
 * keys: the data folder's master key. Either a 256-bit key file (pharmdesk.key, 0600, refused
 * when group or others may read it) or a passphrase (PHARMDESK_PASSPHRASE) stretched with
 * Argon2id and a per-folder salt kept in pharmdesk.kdf. Keys live in locked, guarded memory
 * (sodium_malloc) and are wiped when freed. Only the store sees them.
 */
#ifndef PD_KEYS_H
#define PD_KEYS_H

#include "buf.h"

#define KEYS_BYTES 32
#define KEYS_FILE "pharmdesk.key"
#define KEYS_KDF_FILE "pharmdesk.kdf"
#define KEYS_ENV "PHARMDESK_PASSPHRASE"

/* a key in sodium_malloc'd memory */
typedef struct keys_key {
    unsigned char *bytes; /* KEYS_BYTES */
} keys_key;

/* creates the key material of a new data folder: the passphrase's salt file when
 * PHARMDESK_PASSPHRASE is set, else a random key file; *out holds the key */
int keys_create(const char *dir, keys_key *out, buf *err);
/* loads the folder's key (passphrase when the kdf file exists, else the key file) */
int keys_load(const char *dir, keys_key *out, buf *err);
/* writes a key file or kdf file under another name (for rekey), synced; *out the new key */
int keys_create_as(const char *dir, const char *name, int passphrase, keys_key *out, buf *err);
void keys_free(keys_key *k);

#endif
