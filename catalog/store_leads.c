/* leads, the consent ledger and the mail queue: their tables and SQL (issue 7 fills this in) */
#include "store_int.h"

/* migration 5; replaced by the real schema before the first release that ships it */
const char store_migration_leads[] = "SELECT 1;";
