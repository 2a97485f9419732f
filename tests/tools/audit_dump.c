/*
 * audit_dump: a test tool that prints the audit log of a data folder, one entry per line:
 * seq, kind, conversation, decision, intent, detail, separated by tabs. The crash and disk-full
 * tests use it to find the entry of every acknowledged write; it reads through the store like
 * `pharmdesk audit-verify` (the key file or PHARMDESK_PASSPHRASE). Usage: audit_dump DIR
 */
#include <stdio.h>

#include "buf.h"
#include "pd.h"
#include "store.h"

static int print_entry(const audit_entry *e, void *arg)
{
    (void)arg;
    printf("%lld\t%s\t%s\t%s\t%s\t%s\n", e->seq, e->kind, e->conversation, e->decision, e->intent,
           e->detail);
    return 0;
}

int main(int argc, char **argv)
{
    store *s = NULL;
    buf err = BUF_INIT;
    int ret;
    if (argc != 2) {
        fprintf(stderr, "usage: audit_dump DIR\n");
        return 2;
    }
    if ((ret = store_open(argv[1], 1, &s, &err)) != PD_OK) {
        fprintf(stderr, "audit_dump: %s\n", buf_cstr(&err));
        buf_free(&err);
        return 1;
    }
    ret = store_audit_foreach(s, print_entry, NULL);
    if (ret != PD_OK)
        fprintf(stderr, "audit_dump: %s\n", pd_strerror(ret));
    store_close(s);
    buf_free(&err);
    return ret == PD_OK ? 0 : 1;
}
