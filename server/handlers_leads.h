/*
 * handlers_leads: the HTTP handlers of leads (sign-up, double opt-in confirmation, withdrawal
 * including RFC 8058 one-click) and of the customer's data-rights requests. Thin: they check
 * the input, call catalog/leads.h and datarights.h, and render JSON. handlers.c lists them in
 * the route table.
 */
#ifndef PD_HANDLERS_LEADS_H
#define PD_HANDLERS_LEADS_H

#include "http.h"

void h_lead_signup(http_req *req, void *ctx);
void h_lead_confirm(http_req *req, void *ctx);
void h_lead_withdraw(http_req *req, void *ctx);
/* a GET of the one-click URL (a browser, a scanner) changes nothing: 303 to the page */
void h_lead_withdraw_get(http_req *req, void *ctx);
void h_data_request(http_req *req, void *ctx);
void h_data_confirm(http_req *req, void *ctx);

#endif
