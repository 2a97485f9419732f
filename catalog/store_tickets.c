/* handoff tickets, staff accounts and sessions: their tables and SQL (issue 6 fills this in) */
#include "store_int.h"

/* migration 4; replaced by the real schema before the first release that ships it */
const char store_migration_tickets[] = "SELECT 1;";
