/*
 * log: leveled log lines on stderr as key=value pairs with a timestamp. Callers pass only
 * what may be logged: never a message text, a query, a token, a password or a key.
 */
#ifndef PD_LOG_H
#define PD_LOG_H

#include "pd.h"

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* set once at start, before threads run */
void log_set_level(enum log_level lvl);
void log_msg(enum log_level lvl, const char *fmt, ...) PD_PRINTF(2, 3);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
