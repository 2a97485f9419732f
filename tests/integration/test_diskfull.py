#!/usr/bin/env python3
"""Disk full: writes fail with 503, nothing acknowledged is lost, the store stays intact, and
the service recovers when space returns.

1. The test build (PD_FAULT_INJECTION) lets the encrypting VFS fail every write that would
   grow the database or its WAL past the byte count in the file named by
   PHARMDESK_FAULT_DISK_LIMIT (SQLITE_FULL, as ENOSPC on a full file system). With the limit at
   0 the disk is full; raised, it has space again; the server runs throughout.
2. When the test may mount (root), the same on a real, small tmpfs: the data folder on it, a
   filler file takes the rest of the space (ENOSPC), then is deleted.
Writes are the kinds of WRITERS (as in test_crash.py); more kinds join that table as they land.
Usage: test_diskfull.py PHARMDESK_BIN REPO_DIR AUDIT_DUMP_BIN"""
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
CONFIG = {"rate_limit": {"inquiries_per_minute": 0, "order_lookups_per_client": 0,
                         "order_lookups_per_order": 0}, "threads": 2}


class Writer:
    """sends writes and keeps the conversation ids of the answered inquiries"""

    def __init__(self, t, srv):
        self.t, self.srv, self.acked = t, srv, []

    def write(self, i):
        path, body, kind = WRITERS[i % len(WRITERS)](i)
        s, h, b = self.srv.request("POST", path, body)
        if s == 200 and kind == "inquiry":
            self.acked.append(b["conversation"])
        return s, h, b, kind

    def on_full_disk(self, n, what):
        """n writes on a full disk: each 200 or a proper 503; returns the statuses counted"""
        t, statuses = self.t, {}
        for i in range(n):
            s, h, b, kind = self.write(i)
            statuses[s] = statuses.get(s, 0) + 1
            t.check(s in (200, 503), f"{what}: {kind} {i}: 200 or 503, got {s}")
            if s == 503:
                ok = isinstance(b, dict) and b.get("error", {}).get("code") == "storage_full"
                t.check(ok and b["error"].get("message"), f"{what}: {kind} {i}: storage_full: {b}")
                t.check(h.get("retry-after", "").isdigit(), f"{what}: {kind} {i}: Retry-After")
                t.check("content-security-policy" in h, f"{what}: {kind} {i}: headers on 503")
        print(f"{what}: {statuses}")
        return statuses


def check_store(t, binary, dump, data, acked, what):
    rc, out, err = run(binary, "check", data=data)
    t.eq(rc, 0, f"{what}: pharmdesk check: {out} {err}")
    rc, out, err = run(binary, "audit-verify", data=data)
    t.eq(rc, 0, f"{what}: audit-verify: {out} {err}")
    p = subprocess.run([dump, data], capture_output=True, text=True, timeout=60)
    if t.check(p.returncode == 0, f"{what}: audit log readable: {p.stderr}"):
        rows = [line.split("\t") for line in p.stdout.splitlines() if line]
        present = {r[2] for r in rows if r[1] == "inquiry"}
        lost = [c for c in acked if c not in present]
        t.check(not lost, f"{what}: every answered inquiry is in the audit log ({len(lost)} lost)")
        print(f"{what}: {len(acked)} inquiries answered, all in the audit log of {len(rows)}")


def fault_injection(t, binary, repo, tmp, dump):
    limit_file = os.path.join(tmp, "disk-limit")
    data = make_data(binary, repo, tmp)
    cfg = write_config(tmp, CONFIG)

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
    w = Writer(t, srv)
    for i in range(20):
        t.eq(w.write(i)[0], 200, f"write {i} with space")

    set_limit(0)  # the disk fills up
    statuses = w.on_full_disk(300, "full disk (VFS)")
    t.check(statuses.get(503, 0) >= 250, f"writes fail while the disk is full: {statuses}")
    t.eq(srv.request("GET", "/api/v1/health")[0], 200, "health on a full disk")
    t.eq(srv.request("GET", "/api/v1/products/81287667")[0], 200, "products on a full disk")

    set_limit(1 << 40)  # space returns: the same process recovers without a restart
    recovered = [w.write(i)[0] for i in range(40)]
    t.eq(set(recovered), {200}, "writes succeed again once space returns")
    set_limit(0)  # and once more full, then free
    again = [w.write(i)[0] for i in range(30)]
    t.check(503 in again, f"full again: {again}")
    set_limit(1 << 40)
    t.eq(w.write(1)[0], 200, "and free again")
    t.eq(srv.stop(), 0, "clean stop")
    check_store(t, binary, dump, data, w.acked, "after the full disk (VFS)")


def real_tmpfs(t, binary, repo, tmp, dump):
    mnt = os.path.join(tmp, "small")
    os.mkdir(mnt)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt],
                                           capture_output=True).returncode != 0:
        print("no tmpfs could be mounted (needs root): the real-ENOSPC part is skipped")
        return
    try:
        data = make_data(binary, repo, mnt)
        cfg = write_config(tmp, CONFIG)
        srv = Server(binary, data, cfg).start()
        w = Writer(t, srv)
        for i in range(20):
            t.eq(w.write(i)[0], 200, f"tmpfs: write {i} with space")
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:  # take every byte that is left
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        statuses = w.on_full_disk(300, "full tmpfs")
        t.check(statuses.get(503, 0) > 0, f"writes fail on the full tmpfs: {statuses}")
        t.eq(srv.request("GET", "/api/v1/health")[0], 200, "tmpfs: health on a full disk")
        os.unlink(filler)  # space returns
        recovered = [w.write(i)[0] for i in range(40)]
        t.eq(set(recovered), {200}, "tmpfs: writes succeed again once space returns")
        t.eq(srv.stop(), 0, "tmpfs: clean stop")
        check_store(t, binary, dump, data, w.acked, "after the full tmpfs")
    finally:
        for srv in Server.running:
            if srv.alive():
                srv.stop()
        subprocess.run(["umount", mnt], capture_output=True)


def body(t, binary, repo, tmp, dump):
    fault_injection(t, binary, repo, tmp, dump)
    real_tmpfs(t, binary, repo, tmp, dump)


if __name__ == "__main__":
    sys.exit(run_test(body))
