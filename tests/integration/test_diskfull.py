#!/usr/bin/env python3
"""Disk full: writes fail with 503, nothing acknowledged is lost, the store stays intact, and
the service recovers when space returns.

1. The test build (PD_FAULT_INJECTION) lets the encrypting VFS fail every write that would
   grow the database or its WAL past the byte count in the file named by
   PHARMDESK_FAULT_DISK_LIMIT (SQLITE_FULL, as ENOSPC on a full file system). With the limit at
   0 the disk is full; raised, it has space again; the server runs throughout.
2. When the test may mount (root), the same on a real, small tmpfs: the data folder on it, a
   filler file takes the rest of the space (ENOSPC), then is deleted.
Writes are the kinds of WRITERS (as in test_crash.py): inquiries, order lookups, lead sign-ups,
handoffs and staff claims (with a session and tickets made while there was space). On a full
disk each answers its success or 503 storage_full with Retry-After; every acknowledged one is
found afterwards (audit log, leads dump, and through the API after a restart).
Usage: test_diskfull.py PHARMDESK_BIN REPO_DIR AUDIT_DUMP_BIN"""
import os
import re
import subprocess
import sys

from deskutil import CONSENT, Staff, add_staff
from pdserver import Server, make_data, run, run_test, write_config

STAFF, STAFF_PW = "vera", "vera-passwort-voll-1"


def inquiry(i, w):
    return "/api/v1/inquiries", {"message": f"Haben Sie Ibuprofen 400 vorrätig? ({i})"}, {}, None


def inquiry_key(b, note):
    return b["conversation"]


def order_lookup(i, w):
    return "/api/v1/orders/lookup", {"order_number": "AP-100231", "postcode": "10115"}, {}, None


def lead(i, w):
    addr = f"voll.{w.tag}.{i}@example.org"
    return "/api/v1/leads", {"email": addr, "purpose": "newsletter",
                             "consent": {"given": True, "text_version": "newsletter-1"}}, {}, addr


def handoff(i, w):
    return "/api/v1/handoffs", {"message": f"Mein Kind hat Fieber, bitte rufen Sie an ({w.tag} {i})",
                                "consent": CONSENT}, {}, None


def handoff_key(b, note):
    return b["ticket"], b["token"]


def claim(i, w):
    tid = w.open.pop()  # the oldest acknowledged ticket; each is tried once
    return f"/api/v1/staff/handoffs/{tid}/claim", None, w.staff.headers(), tid


def claim_key(b, tid):
    return tid if b.get("ticket") == tid and b.get("claimed_by") == STAFF else None


# kind -> (request maker (i, writer) -> path, body, headers, note; the status of success; the
# key of an acknowledged answer, or None for a kind whose success leaves nothing to find)
WRITERS = {
    "inquiry": (inquiry, 200, inquiry_key),
    "order_lookup": (order_lookup, 200, None),
    "lead": (lead, 202, lambda b, addr: addr),
    "handoff": (handoff, 201, handoff_key),
    "claim": (claim, 200, claim_key),
}
CONFIG = {"rate_limit": {"inquiries_per_minute": 0, "order_lookups_per_client": 0,
                         "order_lookups_per_order": 0, "leads_per_client": 0,
                         "handoffs_per_hour": 0, "ticket_views_per_minute": 0,
                         "logins_per_minute": 0}, "threads": 2}


class Writer:
    """sends writes of every kind in turn and keeps the keys of the acknowledged ones"""

    def __init__(self, t, srv, tag, tickets):
        self.t, self.srv, self.tag = t, srv, tag
        self.acked = {k: [] for k in WRITERS}
        self.staff = Staff(srv, STAFF, STAFF_PW)  # while there is space: a login writes
        self.open = []  # acknowledged tickets not yet claimed
        for i in range(tickets):  # to be claimed later, on a full disk too
            s, h, b, kind = self.write(i, "handoff")
            t.eq(s, 201, f"{tag}: ticket {i} with space")

    def write(self, i, kind=None):
        kind = kind or list(WRITERS)[i % len(WRITERS)]
        make, ok, key = WRITERS[kind]
        path, body, headers, note = make(i, self)
        s, h, b = self.srv.request("POST", path, body if body is not None else b"", headers=headers)
        if s == ok and key:
            k = key(b, note)
            self.t.check(k, f"{self.tag}: {kind} {i}: the answer names what was stored: {b}")
            if k:
                self.acked[kind].append(k)
            if k and kind == "handoff":
                self.open.insert(0, k[0])
        return s, h, b, kind

    def writes(self, n, what):
        """n writes of every kind with space: each succeeds"""
        for i in range(n):
            s, h, b, kind = self.write(i)
            self.t.eq(s, WRITERS[kind][1], f"{what}: {kind} {i}: {b}")

    def on_full_disk(self, n, what):
        """n writes on a full disk: each its success or a proper 503; returns the statuses
        counted per kind"""
        t, statuses = self.t, {}
        for i in range(n):
            s, h, b, kind = self.write(i)
            st = statuses.setdefault(kind, {})
            st[s] = st.get(s, 0) + 1
            t.check(s in (WRITERS[kind][1], 503), f"{what}: {kind} {i}: success or 503, got {s} {b}")
            if s == 503:
                ok = isinstance(b, dict) and b.get("error", {}).get("code") == "storage_full"
                t.check(ok and b["error"].get("message"), f"{what}: {kind} {i}: storage_full: {b}")
                t.check(h.get("retry-after", "").isdigit(), f"{what}: {kind} {i}: Retry-After")
                t.check("content-security-policy" in h, f"{what}: {kind} {i}: headers on 503")
        print(f"{what}: {statuses}")
        return statuses

    def login_on_full_disk(self, what):
        """a login stores a session: on a full disk it is refused the same way"""
        s, h, b = self.srv.request("POST", "/api/v1/staff/login",
                                   {"username": STAFF, "password": STAFF_PW})
        t = self.t
        t.eq(s, 503, f"{what}: login on a full disk")
        t.check(isinstance(b, dict) and b.get("error", {}).get("code") == "storage_full"
                and h.get("retry-after", "").isdigit(), f"{what}: login: storage_full: {b}")
        t.check("set-cookie" not in h, f"{what}: no session cookie from a failed login")


def failing(t, statuses, what, most=True):
    """writes fail while the disk is full: every kind that writes some of the time, and most of
    all writes (what still fits into the WAL's free pages succeeds)"""
    for kind, st in statuses.items():
        t.check(st.get(503, 0) or (kind == "order_lookup" and not most),
                f"{what}: {kind} fails: {st}")
    if most:
        n = sum(sum(st.values()) for st in statuses.values())
        failed = sum(st.get(503, 0) for st in statuses.values())
        t.check(failed * 2 >= n, f"{what}: {failed} of {n} writes fail")


def check_store(t, binary, dump, data, cfg, w, what):
    """with the server stopped: check, audit-verify, every acknowledged write in the audit log
    or the leads tables; then after a restart the handoffs and claims through the API"""
    rc, out, err = run(binary, "check", data=data)
    t.eq(rc, 0, f"{what}: pharmdesk check: {out} {err}")
    rc, out, err = run(binary, "audit-verify", data=data)
    t.eq(rc, 0, f"{what}: audit-verify: {out} {err}")
    p = subprocess.run([dump, data], capture_output=True, text=True, timeout=60)
    if t.check(p.returncode == 0, f"{what}: audit log readable: {p.stderr}"):
        rows = [line.split("\t") for line in p.stdout.splitlines() if line]
        convs = {r[2] for r in rows if r[1] == "inquiry"}
        tickets = {(r[1], r[3], m.group(1)) for r in rows
                   for m in [re.search(r"\bticket=(\w+)", r[5])] if m}
        lost = [c for c in w.acked["inquiry"] if c not in convs]
        lost += [k for k in w.acked["handoff"] if ("handoff", "ticket_opened", k[0]) not in tickets]
        lost += [k for k in w.acked["claim"] if ("staff", "claim", k) not in tickets]
        t.check(not lost, f"{what}: every acknowledged write is in the audit log ({lost[:3]} lost)")
        print(f"{what}: " + ", ".join(f"{len(v)} {k}" for k, v in w.acked.items())
              + f" acknowledged; audit log of {len(rows)}")
    rc, out, err = run(binary, "test-leads-dump", data=data)
    if t.eq(rc, 0, f"{what}: leads readable: {err}"):
        stored = set(re.findall(r"^leads: .*?\bemail=(\S+)", out, re.M))
        lost = [a for a in w.acked["lead"] if a not in stored]
        t.check(not lost, f"{what}: every acknowledged lead is stored ({lost[:3]} lost)")
    srv = Server(binary, data, cfg).start()
    views = [srv.request("GET", f"/api/v1/handoffs/{tid}",
                         headers={"Authorization": f"Bearer {tok}"})[0] for tid, tok in w.acked["handoff"]]
    t.check(set(views) <= {200}, f"{what}: every acknowledged handoff readable after a restart")
    s, h, b = srv.request("GET", "/api/v1/staff/handoffs?status=claimed", headers=w.staff.headers(False))
    held = {x["ticket"] for x in b["handoffs"] if x["claimed_by"] == STAFF} if s == 200 else set()
    t.check(set(w.acked["claim"]) <= held,
            f"{what}: every acknowledged claim holds after a restart ({s})")
    t.eq(srv.stop(), 0, f"{what}: clean stop after the read-back")


def fault_injection(t, binary, repo, tmp, dump):
    limit_file = os.path.join(tmp, "disk-limit")
    data = make_data(binary, repo, tmp)
    add_staff(binary, data, STAFF, STAFF_PW)
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
    w = Writer(t, srv, "vfs", 120)
    w.writes(20, "with space")

    set_limit(0)  # the disk fills up
    statuses = w.on_full_disk(300, "full disk (VFS)")
    failing(t, statuses, "full disk (VFS)")
    w.login_on_full_disk("full disk (VFS)")
    t.eq(srv.request("GET", "/api/v1/health")[0], 200, "health on a full disk")
    t.eq(srv.request("GET", "/api/v1/products/81287667")[0], 200, "products on a full disk")

    set_limit(1 << 40)  # space returns: the same process recovers without a restart
    w.writes(40, "space returned")
    set_limit(0)  # and once more full, then free
    again = w.on_full_disk(200, "full again")  # the WAL may still have room
    t.check(any(503 in st for st in again.values()), f"full again: {again}")
    set_limit(1 << 40)
    w.writes(5, "and free again")
    t.eq(srv.stop(), 0, "clean stop")
    check_store(t, binary, dump, data, cfg, w, "after the full disk (VFS)")


def real_tmpfs(t, binary, repo, tmp, dump):
    mnt = os.path.join(tmp, "small")
    os.mkdir(mnt)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt],
                                           capture_output=True).returncode != 0:
        print("no tmpfs could be mounted (needs root): the real-ENOSPC part is skipped")
        return
    try:
        data = make_data(binary, repo, mnt)
        add_staff(binary, data, STAFF, STAFF_PW)
        cfg = write_config(tmp, CONFIG)
        srv = Server(binary, data, cfg).start()
        w = Writer(t, srv, "tmpfs", 70)
        w.writes(20, "tmpfs: with space")
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:  # take every byte that is left
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        statuses = w.on_full_disk(300, "full tmpfs")
        failing(t, statuses, "full tmpfs", most=False)
        t.eq(srv.request("GET", "/api/v1/health")[0], 200, "tmpfs: health on a full disk")
        os.unlink(filler)  # space returns
        w.writes(40, "tmpfs: space returned")
        t.eq(srv.stop(), 0, "tmpfs: clean stop")
        check_store(t, binary, dump, data, cfg, w, "after the full tmpfs")
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
