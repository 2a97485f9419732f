/* testutil: temporary data folders for unit tests, removed at exit. */
#ifndef PD_TESTUTIL_H
#define PD_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char testutil_dir[256];

static void testutil_cleanup(void)
{
    char cmd[300];
    if (!testutil_dir[0])
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", testutil_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", testutil_dir);
}

/* a fresh empty folder; the data folder to create is DIR/data */
static inline const char *testutil_tmpdir(void)
{
    snprintf(testutil_dir, sizeof testutil_dir, "/tmp/pdtest.XXXXXX");
    if (!mkdtemp(testutil_dir)) {
        perror("mkdtemp");
        exit(2);
    }
    atexit(testutil_cleanup);
    return testutil_dir;
}

static inline void testutil_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

#endif
