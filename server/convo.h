/*
 * convo: conversation state between a customer's messages, in memory only and only what the
 * flow needs (language, the pending question, product candidates, a failure counter). Never the
 * message text. Entries expire after an idle time and the table is bounded; ids are 128-bit
 * random tokens, so one conversation cannot be guessed from another.
 */
#ifndef PD_CONVO_H
#define PD_CONVO_H

#include <stdint.h>

#define CONVO_ID_LEN 26 /* base32 of 128 bits, without padding */
#define CONVO_MAX_PZNS 5

typedef struct convo_table convo_table;

enum convo_pending { CONVO_NONE, CONVO_ASK_POSTCODE, CONVO_ASK_PRODUCT };

typedef struct convo_state {
    char id[CONVO_ID_LEN + 1];
    char lang[3];
    enum convo_pending pending;
    char order_number[16];
    int failures;
    uint32_t pzns[CONVO_MAX_PZNS];
    int npzns;
    int handed_off; /* a pharmacist has taken over: the assistant stops answering by itself */
} convo_state;

convo_table *convo_new(int max_entries, int idle_seconds);
void convo_free(convo_table *t);

/* copies the state of id into out; 0 when found and not expired, PD_ENOTFOUND otherwise */
int convo_get(convo_table *t, const char *id, convo_state *out);
/* a new conversation with a fresh id; the state is stored and copied to out */
int convo_start(convo_table *t, const char *lang, convo_state *out);
/* stores st under st->id (refreshing its expiry) */
int convo_put(convo_table *t, const convo_state *st);
/* for tests: expiry against an explicit clock in seconds */
void convo_set_clock(convo_table *t, long long (*now)(void));

#endif
