#!/usr/bin/env python3
"""Crash durability: SIGKILL at random moments while client threads write, many rounds.

Each round starts the server on the same data folder, lets CLIENTS threads submit writes of
the kinds in WRITERS over keep-alive connections, kills the server with SIGKILL after a
random 0.2-1.2 s, and then checks with the server down that
  - every write that was acknowledged (its answer fully received) is in the audit log, found
    by its key (audit_dump), and, for kinds with a read-back endpoint, through the API after the
    next start;
  - `pharmdesk check` passes (every page authenticates, SQLite's integrity_check is ok);
  - `pharmdesk audit-verify` passes and the chain only grew.
WRITERS is a table: handoffs, leads and staff claims get rows as they land (a request maker,
a function that turns an acknowledged answer into a key, and how to find the key).
Usage: test_crash.py PHARMDESK_BIN REPO_DIR AUDIT_DUMP_BIN"""
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

from pdserver import Server, make_data, run, run_test, write_config

ROUNDS = int(os.environ.get("PD_CRASH_ROUNDS", "20"))
CLIENTS = 4
MESSAGES = ["Haben Sie Ibuprofen 400 vorrätig?", "Wann haben Sie am Samstag geöffnet?",
            "Was hilft gegen Kopfschmerzen?", "Haben Sie Aspirin?", "Hallo"]


def inquiry_request(i):
    return "POST", "/api/v1/inquiries", {"message": f"{MESSAGES[i % len(MESSAGES)]} ({i})"}


def inquiry_key(status, body):
    """an acknowledged inquiry: its conversation id is in its audit entry"""
    if status == 200 and isinstance(body, dict) and isinstance(body.get("conversation"), str):
        return body["conversation"]
    return None


# kind -> request maker, key of an acknowledged answer, audit entry kind, read-back (or None)
WRITERS = {
    "inquiry": {"request": inquiry_request, "key": inquiry_key, "audit_kind": "inquiry",
                "read_back": None},
}


class Client(threading.Thread):
    def __init__(self, port, kinds, seed, acked, lock):
        super().__init__(daemon=True)
        self.port, self.kinds, self.rng = port, kinds, random.Random(seed)
        self.acked, self.lock = acked, lock
        self.sent = 0

    def run(self):
        conn = None
        while True:
            kind = self.rng.choice(self.kinds)
            method, path, body = WRITERS[kind]["request"](self.rng.randrange(1 << 30))
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request(method, path, body=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json"})
                self.sent += 1
                r = conn.getresponse()
                raw = r.read()
                data = json.loads(raw) if raw else None
            except (OSError, http.client.HTTPException, ValueError):
                return  # the server is gone: whatever was not answered was not acknowledged
            key = WRITERS[kind]["key"](r.status, data)
            if key:
                with self.lock:
                    self.acked.append((kind, key))


def audit_entries(dump, data):
    p = subprocess.run([dump, data], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        return None, p.stderr
    rows = [line.split("\t") for line in p.stdout.splitlines() if line]
    return rows, ""


def body(t, binary, repo, tmp, dump):
    rng = random.Random(int(os.environ.get("PD_CRASH_SEED", "9")))
    data = make_data(binary, repo, tmp)
    cfg = write_config(tmp, {"rate_limit": {"inquiries_per_minute": 0, "searches_per_minute": 0},
                            "log_level": "warn", "threads": 2})
    acked_all = []
    last_count = 0
    t0 = time.monotonic()
    for rnd in range(ROUNDS):
        srv = Server(binary, data, cfg).start()
        # what the last round acknowledged and has a read-back endpoint, seen after restart
        for kind, key in acked_all:
            rb = WRITERS[kind]["read_back"]
            if rb:
                t.check(rb(srv, key), f"round {rnd}: {kind} {key} readable after restart")
        acked, lock = [], threading.Lock()
        clients = [Client(srv.port, list(WRITERS), rng.randrange(1 << 30), acked, lock)
                   for _ in range(CLIENTS)]
        for c in clients:
            c.start()
        time.sleep(rng.uniform(0.2, 1.2))
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
        for c in clients:
            c.join(timeout=10)
            t.check(not c.is_alive(), f"round {rnd}: client finished after the kill")
        sent = sum(c.sent for c in clients)
        rc, out, err = run(binary, "check", data=data)
        t.eq(rc, 0, f"round {rnd}: pharmdesk check after SIGKILL: {out} {err}")
        rc, out, err = run(binary, "audit-verify", data=data)
        t.eq(rc, 0, f"round {rnd}: audit-verify after SIGKILL: {out} {err}")
        rows, why = audit_entries(dump, data)
        if not t.check(rows is not None, f"round {rnd}: audit log readable: {why}"):
            continue
        present = {(r[1], r[2]) for r in rows}
        missing = [(k, key) for k, key in acked if (WRITERS[k]["audit_kind"], key) not in present]
        t.check(not missing, f"round {rnd}: {len(missing)} acknowledged writes lost: {missing[:3]}")
        grew = len(rows) - last_count
        t.check(len(acked) <= grew <= sent,
                f"round {rnd}: {grew} new entries for {len(acked)} acknowledged, {sent} sent")
        t.check(all(int(r[0]) == i + 1 for i, r in enumerate(rows)), f"round {rnd}: seq 1..n")
        last_count = len(rows)
        acked_all += acked
        print(f"round {rnd}: {sent} sent, {len(acked)} acknowledged, {grew} new audit entries")
    t.check(len(acked_all) > ROUNDS, f"writes were acknowledged at all ({len(acked_all)})")
    # the last start: serves, and stops cleanly
    srv = Server(binary, data, cfg).start()
    for kind, key in acked_all:
        rb = WRITERS[kind]["read_back"]
        if rb:
            t.check(rb(srv, key), f"{kind} {key} readable at the end")
    s, h, b = srv.request("POST", "/api/v1/inquiries", {"message": "Haben Sie Aspirin?"})
    t.eq(s, 200, "a write after the last crash")
    t.eq(srv.stop(), 0, "clean stop at the end")
    srv = None
    rc, out, err = run(binary, "audit-verify", data=data)
    t.eq(rc, 0, f"audit-verify at the end: {err}")
    print(f"{ROUNDS} rounds, {len(acked_all)} acknowledged writes, {time.monotonic() - t0:.1f} s")


if __name__ == "__main__":
    sys.exit(run_test(body))
