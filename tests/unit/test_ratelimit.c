#include "check.h"
#include "ratelimit.h"

int main(void)
{
    ratelimit *rl = ratelimit_new(3, 60, 100);
    /* three allowed, the fourth waits for the rest of the window */
    CHECK_EQ_INT(ratelimit_hit_at(rl, "10.0.0.1", 1000), 0);
    CHECK_EQ_INT(ratelimit_hit_at(rl, "10.0.0.1", 1000), 0);
    CHECK_EQ_INT(ratelimit_hit_at(rl, "10.0.0.1", 1010), 0);
    CHECK_EQ_INT(ratelimit_hit_at(rl, "10.0.0.1", 1010), 50);
    CHECK_EQ_INT(ratelimit_hit_at(rl, "10.0.0.1", 1059), 1);
    /* keys are independent */
    CHECK_EQ_INT(ratelimit_hit_at(rl, "10.0.0.2", 1010), 0);
    /* a new window starts fresh */
    CHECK_EQ_INT(ratelimit_hit_at(rl, "10.0.0.1", 1060), 0);
    ratelimit_free(rl);

    /* limit 0 turns it off */
    rl = ratelimit_new(0, 60, 10);
    for (int i = 0; i < 100; i++)
        CHECK_EQ_INT(ratelimit_hit_at(rl, "x", 5), 0);
    ratelimit_free(rl);

    /* many distinct keys: expired windows are swept; live ones are never forgotten */
    rl = ratelimit_new(1, 60, 16);
    char key[32];
    int refused = 0;
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "k%d", i);
        refused += ratelimit_hit_at(rl, key, 100) != 0;
    }
    CHECK(refused > 0); /* the table filled up with live windows */
    CHECK(ratelimit_hit_at(rl, "k0", 100) != 0);
    /* after the window every key is swept and accepted again */
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "k%d", i);
        if (i < 20)
            CHECK_EQ_INT(ratelimit_hit_at(rl, key, 200), 0);
    }
    /* long keys are cut, not overflowed */
    char longkey[300];
    memset(longkey, 'a', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    CHECK_EQ_INT(ratelimit_hit_at(rl, longkey, 300), 0);
    ratelimit_free(rl);
    return check_done();
}
