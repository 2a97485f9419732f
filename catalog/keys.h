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

#define KEYS_FILE_MAX 64

/* new key material, not yet on disk: the key and the file that will hold it (the key itself,
 * or for a passphrase the Argon2id settings and salt) */
typedef struct keys_new {
    keys_key key;
    int passphrase;
    unsigned char file[KEYS_FILE_MAX];
    size_t file_len;
} keys_new;

/* makes a random key, or stretches the passphrase when pass is not NULL */
int keys_generate(const char *pass, keys_new *out, buf *err);
/* writes the material's file as DIR/NAME (0600, synced); NAME defaults by kind when NULL */
int keys_write(const char *dir, const char *name, const keys_new *k, buf *err);
void keys_new_free(keys_new *k);

/* creates the key of a new data folder: stretched from PHARMDESK_PASSPHRASE when it is set,
 * else a random key file; *out holds the key */
int keys_create(const char *dir, keys_key *out, buf *err);
/* loads the folder's key (passphrase when the kdf file exists, else the key file) */
int keys_load(const char *dir, keys_key *out, buf *err);
/* the passphrase in the environment variable name, checked for length; NULL when unset */
const char *keys_passphrase(const char *env, buf *err);
/* copies the passphrase's salt file, when there is one, into another folder (for backups) */
int keys_copy_kdf(const char *from_dir, const char *to_dir, buf *err);
void keys_free(keys_key *k);

#endif
