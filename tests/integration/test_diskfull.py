#!/usr/bin/env python3
"""Disk full: writes fail with 503, nothing acknowledged is lost, the store stays intact, and
the service recovers when space returns.

The test build (PD_FAULT_INJECTION) lets the encrypting VFS fail every write that would grow
the database or its WAL past the byte count in the file named by PHARMDESK_FAULT_DISK_LIMIT
(SQLITE_FULL, as ENOSPC on a full file system). With the limit at 0 the disk is full; raised,
it has space again; the server runs throughout. Writes are the kinds of WRITERS (as in
test_crash.py); more kinds join that table as they land.
Usage: test_diskfull.py PHARMDESK_BIN REPO_DIR AUDIT_DUMP_BIN"""
import json
import os
import subprocess
import sys

from pdserver import Server, make_data, run, run_test, write_config


def inquiry(i):
    return "/api/v1/inquiries", {"message": f"Haben Sie Ibuprofen 400 vorrätig? ({i})"}, "inquiry"


def order_lookup(i):
    return "/api/v1/orders/lookup", {"order_number": "AP-100231", "postcode": "10115"}, "order_lookup"


# path and body of a write, and the kind of its audit entry
WRITERS = [inquiry, order_lookup]


def audit_rows(dump, data):
    p = subprocess.run([dump, data], capture_output=True, text=True, timeout=60)
    return [line.split("\t") for line in p.stdout.splitlines() if line] if p.returncode == 0 else None


def body(t, binary, repo, tmp, dump):
    limit_file = os.path.join(tmp, "disk-limit")
    data = make_data(binary, repo, tmp)
    cfg = write_config(tmp, {"rate_limit": {"inquiries_per_minute": 0, "order_lookups_per_client": 0,
                            "order_lookups_per_order": 0}, "threads": 2})

    def set_limit(n):
        with open(limit_file + ".tmp", "w") as f:
            f.write(str(n))
        os.replace(limit_file + ".tmp", limit_file)

    set_limit(1 << 40)  # plenty
    os.environ["PHARMDESK_FAULT_DISK_LIMIT"] = limit_file  # for the server only
    try:
        srv = Server(binary, data, cfg).start()
    finally:
        del os.environ["PHARMDESK_FAULT_DISK_LIMIT"]

    acked = []  # conversation ids of answered inquiries

    def write(i):
        path, body, kind = WRITERS[i % len(WRITERS)](i)
        s, h, b = srv.request("POST", path, body)
        if s == 200 and kind == "inquiry":
            acked.append(b["conversation"])
        return s, h, b, kind

    for i in range(20):
        s, h, b, kind = write(i)
        t.eq(s, 200, f"{kind} {i} with space")

    # the disk fills up
    set_limit(0)
    statuses = {}
    for i in range(300):
        s, h, b, kind = write(i)
        statuses[s] = statuses.get(s, 0) + 1
        t.check(s in (200, 503), f"{kind} {i} on a full disk: 200 or 503, got {s}")
        if s == 503:
            ok = isinstance(b, dict) and b.get("error", {}).get("code") == "storage_full"
            t.check(ok and b["error"].get("message"), f"{kind} {i}: storage_full error: {b}")
            t.check(h.get("retry-after", "").isdigit(), f"{kind} {i}: Retry-After on 503")
            t.check("content-security-policy" in h, f"{kind} {i}: headers on 503")
    print(f"on a full disk: {statuses}")
    t.check(statuses.get(503, 0) >= 250, f"writes fail while the disk is full: {statuses}")
    s, h, b = srv.request("GET", "/api/v1/health")
    t.eq(s, 200, "reads keep working on a full disk")
    s, h, b = srv.request("GET", "/api/v1/products/81287667")
    t.eq(s, 200, "products are served on a full disk")
    t.check(srv.alive(), "alive on a full disk")

    # space returns: the same server recovers without a restart
    set_limit(1 << 40)
    recovered = [write(i)[0] for i in range(40)]
    t.eq(set(recovered), {200}, "writes succeed again once space returns")
    set_limit(0)  # and once more full, then free
    again = [write(i)[0] for i in range(30)]
    t.check(503 in again, f"full again: {again}")
    set_limit(1 << 40)
    t.eq(write(1)[0], 200, "and free again")

    t.eq(srv.stop(), 0, "clean stop")
    srv = None
    rc, out, err = run(binary, "check", data=data)
    t.eq(rc, 0, f"pharmdesk check after the full disk: {out} {err}")
    rc, out, err = run(binary, "audit-verify", data=data)
    t.eq(rc, 0, f"audit-verify after the full disk: {out} {err}")
    rows = audit_rows(dump, data)
    if t.check(rows is not None, "audit log readable"):
        present = {r[2] for r in rows if r[1] == "inquiry"}
        lost = [c for c in acked if c not in present]
        t.check(not lost, f"every answered inquiry is in the audit log ({len(lost)} lost)")
        print(f"{len(acked)} inquiries answered, all in the audit log of {len(rows)} entries")


if __name__ == "__main__":
    sys.exit(run_test(body))
