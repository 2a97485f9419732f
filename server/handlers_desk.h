/*
 * handlers_desk: the HTTP handlers of the pharmacist handoff (handlers_handoff.c: the
 * customer's tickets; handlers_staff.c: login, the queue, accounts, live events) and the
 * session checks other staff handlers use.
 */
#ifndef PD_HANDLERS_DESK_H
#define PD_HANDLERS_DESK_H

#include "app.h"
#include "tickets_store.h"

/* customers */
void h_handoff_create(http_req *req, void *app);
void h_handoff_get(http_req *req, void *app);

/* staff */
void h_staff_login(http_req *req, void *app);
void h_staff_logout(http_req *req, void *app);
void h_staff_me(http_req *req, void *app);
void h_staff_password(http_req *req, void *app);
void h_staff_handoffs(http_req *req, void *app);
void h_staff_ticket(http_req *req, void *app);
void h_staff_claim(http_req *req, void *app);
void h_staff_reply(http_req *req, void *app);
void h_staff_close(http_req *req, void *app);
void h_staff_assign(http_req *req, void *app);
void h_staff_events(http_req *req, void *app);
void h_staff_accounts(http_req *req, void *app);
void h_staff_account_add(http_req *req, void *app);
void h_staff_account_disable(http_req *req, void *app);
void h_staff_account_enable(http_req *req, void *app);

/*
 * For every staff handler: 0 with *who filled when the request carries a live session cookie;
 * otherwise the request has been answered 401 and the handler returns. staff_require_change
 * also wants the session's X-CSRF-Token header (403 without or wrong): use it for every request
 * that changes something. staff_require_admin: the same plus the admin role (403).
 */
int staff_require(http_req *req, app *a, staff_session *who);
int staff_require_change(http_req *req, app *a, staff_session *who);
int staff_require_admin(http_req *req, app *a, staff_session *who);

/* answers a store error: 503 busy, else 500 */
void desk_reply_store_error(http_req *req, int err);

#endif
