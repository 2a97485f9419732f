/* libFuzzer driver: the Art. 9 guard. A policy is loaded once from PD_POLICIES_DIR (or
 * "policies", or the source tree's policies/); any bytes must classify without a crash and
 * give a valid decision, intent, rule, language and reply key, the same result twice. */
#include "fuzz.h"
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static policy *policy_once(void)
{
    static policy *p;
    if (p)
        return p;
    const char *env = getenv("PD_POLICIES_DIR");
    buf err = BUF_INIT, dir = BUF_INIT;
    if (env) {
        buf_puts(&dir, env);
    } else {
        /* __FILE__ is .../fuzz/fuzz_policy.c when built from the tree */
        const char *f = __FILE__, *slash = strrchr(f, '/');
        if (slash && slash - f >= 5) {
            buf_append(&dir, f, (size_t)(slash - f) - 4);
            buf_puts(&dir, "policies");
        }
        if (policy_load(buf_cstr(&dir), &p, &err) == 0) {
            buf_free(&err), buf_free(&dir);
            return p;
        }
        buf_reset(&dir);
        buf_puts(&dir, "policies");
    }
    if (policy_load(buf_cstr(&dir), &p, &err) != 0) {
        fprintf(stderr, "fuzz_policy: %s (set PD_POLICIES_DIR)\n", buf_cstr(&err));
        abort();
    }
    buf_free(&err), buf_free(&dir);
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const policy *p = policy_once();
    policy_result a, b;
    REQUIRE(policy_classify(p, (const char *)data, size, &a) == 0);
    REQUIRE((unsigned)a.decision < POLICY_DECISION_COUNT);
    REQUIRE((unsigned)a.intent < POLICY_INTENT_COUNT);
    REQUIRE((unsigned)a.topic < POLICY_TOPIC_COUNT);
    REQUIRE(a.rule && a.lang && a.reply_key);
    REQUIRE(policy_reply(p, a.reply_key, a.lang) != NULL);
    REQUIRE(a.decision != POLICY_EMERGENCY || a.health_data);
    REQUIRE(policy_classify(p, (const char *)data, size, &b) == 0);
    REQUIRE(a.decision == b.decision && a.intent == b.intent && a.health_data == b.health_data);
    REQUIRE(strcmp(a.rule, b.rule) == 0);
    return 0;
}
