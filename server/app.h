/*
 * app: the server's one context, built at start and read-only afterwards (the store, the
 * catalog and the rate limiters guard their own state). Handlers receive it; the route table
 * lists them.
 */
#ifndef PD_APP_H
#define PD_APP_H

#include "audit.h"
#include "catalog.h"
#include "config.h"
#include "consent.h"
#include "datarights.h"
#include "leads.h"
#include "convo.h"
#include "policy.h"
#include "http.h"
#include "ratelimit.h"
#include "store.h"
#include "web.h"

#define PHARMDESK_VERSION "0.1.0"

enum app_limiter {
    LIM_SEARCH,
    LIM_INQUIRY,
    LIM_ORDER_CLIENT,
    LIM_ORDER_NUMBER,
    LIM_LEADS_CLIENT, /* sign-ups and data requests per client and hour */
    LIM_LEADS_TOKEN,  /* confirm and withdraw calls per client and minute */
    LIM_COUNT
};

typedef struct app {
    const config *cfg;
    store *store;
    catalog *catalog;
    audit *audit;
    policy *policy;
    consent_set *consent;
    convo_table *convos;
    ratelimit *limiters[LIM_COUNT];
    const leads_ctx *leads;   /* sign-ups, double opt-in, back in stock (catalog/leads.h) */
    const datarights *rights; /* the sources of export and erasure (datarights.h) */
    web *web;                 /* the rendered pages (server/web.c) */
    struct desk *desk;        /* the pharmacist handoff: tickets, staff, live events (desk.h) */
} app;

extern const http_route app_routes[];
extern const size_t app_nroutes;

#endif
