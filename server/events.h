/*
 * events: the live queue for staff dashboards as server-sent events. The event log itself is
 * in the store (tickets_store.h), written in the same transaction as each ticket change, so a
 * stream pulls from it: on connect from Last-Event-ID (a reconnect misses nothing, also across
 * a restart), afterwards whenever events_notify says the log grew. Streams are bounded, wait
 * suspended without a thread, and get a keep-alive comment when idle.
 */
#ifndef PD_EVENTS_H
#define PD_EVENTS_H

#include "http.h"
#include "store.h"

typedef struct events_hub events_hub;

/* starts the keep-alive ticker; a stream ends when its staff session is no longer alive by
 * these limits (checked at each keep-alive, without renewing the session) */
events_hub *events_new(store *s, int max_streams, int keepalive_s, long long session_idle_us,
                       long long session_max_us);
/* ends every stream (events_shutdown) and frees h; NULL is fine */
void events_free(events_hub *h);

/* answers req with an event stream, or 503 when max_streams are open. last_event_id is the
 * Last-Event-ID header (NULL: only events from now on); session the hash of the staff session
 * that opened it: logout, disabling or expiry end the stream */
void events_stream(events_hub *h, http_req *req, const char *last_event_id,
                   const unsigned char session[32]);
/* the event log grew: wakes every stream. Thread-safe, cheap, never blocks on a stream. */
void events_notify(events_hub *h);
/* ends every stream and waits (up to a few seconds) until the server has let them go, so
 * that the HTTP server can stop; new streams are refused from now on */
void events_shutdown(events_hub *h);
/* open streams, for tests and stats */
int events_count(events_hub *h);

#endif
