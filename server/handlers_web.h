/*
 * handlers_web: the handlers of the pages (/, /widget, /staff, /privacy, /leads/confirm,
 * /leads/withdraw), of the compiled-in assets (/static/…, /i18n/…) and of the dashboard's
 * statistics (GET /api/v1/staff/stats/today). The route table (handlers.c) lists them.
 */
#ifndef PD_HANDLERS_WEB_H
#define PD_HANDLERS_WEB_H

#include <time.h>

#include "http.h"

void hw_index(http_req *req, void *ctx);
void hw_widget(http_req *req, void *ctx);
void hw_staff(http_req *req, void *ctx);
void hw_privacy(http_req *req, void *ctx);
void hw_lead_confirm(http_req *req, void *ctx);
void hw_lead_withdraw(http_req *req, void *ctx);
void hw_data_confirm(http_req *req, void *ctx);
void hw_static(http_req *req, void *ctx);
void hw_i18n(http_req *req, void *ctx);
void hw_stats_today(http_req *req, void *ctx);

/* the local day containing now as "YYYY-MM-DD" and its bounds as audit times (UTC, ISO 8601),
 * [from, to); for the handler and the tests */
void hw_local_day(time_t now, char date[11], char from[32], char to[32]);

#endif
