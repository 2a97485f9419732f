/* libFuzzer driver: the configuration parser must reject or accept any text without crashing,
 * and every rejection must say why. */
#include "fuzz.h"
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    buf err = BUF_INIT;
    config *c = NULL;
    int rc = config_parse("fuzz", (const char *)data, size, &c, &err);
    REQUIRE(rc == 0 || err.len > 0); /* every error says why */
    REQUIRE(rc != 0 || (c && c->listen_host));
    config_free(c);
    buf_free(&err);
    return 0;
}
