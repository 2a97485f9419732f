#!/usr/bin/env python3
"""Crash durability: SIGKILL at random moments while client threads write, many rounds.

Each round starts the server on the same data folder, lets CLIENTS threads submit writes of
the kinds in WRITERS (inquiries, lead sign-ups with consent, handoffs with consent for health
data, claims of acknowledged tickets) over keep-alive connections, kills the server with
SIGKILL after a random 0.2-2 s, and then checks with the server down that
  - every acknowledged write (its answer fully received) is stored: in the audit log, found by
    its key (audit_dump), and for leads their row (test-leads-dump);
  - `pharmdesk check` passes (every page authenticates, SQLite's integrity_check is ok);
  - `pharmdesk audit-verify` passes and the chain only grew;
and after the next start, through the API: a handoff with its token, a claim as the ticket's
claimed_by, a login as a session that still works. A staff member logs in once a round (not
per request: Argon2id takes about 1.5 s under ASan), before the clients start every
LOGIN_FIRST-th round and as one client's first write, which the kill may cut short, in the
others; the claims use the session of the last acknowledged login. At the end every
acknowledged lead has its confirmation mail in DATA/outbox/new, or it is queued still, taken for
delivery by a killed server (it comes back after a 5-minute lease).
WRITERS is a table: a request maker, a function that turns an acknowledged answer into a key,
and where the key is found (audit log, leads dump, read-back through the API).
Usage: test_crash.py PHARMDESK_BIN REPO_DIR AUDIT_DUMP_BIN"""
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

from deskutil import CONSENT, add_staff
from pdserver import Server, make_data, run, run_test, write_config

ROUNDS = int(os.environ.get("PD_CRASH_ROUNDS", "16"))
CLIENTS = 4
STAFF, STAFF_PW = "kira", "kira-passwort-crash-1"
MESSAGES = ["Haben Sie Ibuprofen 400 vorrätig?", "Wann haben Sie am Samstag geöffnet?",
            "Was hilft gegen Kopfschmerzen?", "Haben Sie Aspirin?", "Hallo"]
HANDOFFS = [("Mein Sohn hat seit zwei Tagen Fieber, bitte rufen Sie mich an", True),
            ("Ich nehme Ramipril und habe Schwindel, bitte um Rückruf", True),
            ("Ich möchte bitte mit einer Apothekerin sprechen", False)]


class Shared:
    """what the clients share across rounds: the staff session of the last acknowledged login
    and the acknowledged tickets nobody has tried to claim yet"""

    def __init__(self):
        self.lock = threading.Lock()
        self.session = None  # (cookie, csrf)
        self.open = []


def inquiry_request(i, sh):
    return "POST", "/api/v1/inquiries", {"message": f"{MESSAGES[i % len(MESSAGES)]} ({i})"}, {}, None


def inquiry_ack(status, hdrs, body, note, sh):
    """an acknowledged inquiry: its conversation id is in its audit entry"""
    if status == 200 and isinstance(body, dict) and isinstance(body.get("conversation"), str):
        return body["conversation"]
    return None


def lead_request(i, sh):
    addr = f"crash.{i}@example.org"
    purpose = "newsletter"
    return "POST", "/api/v1/leads", {"email": addr, "purpose": purpose, "page": "/",
                                     "consent": {"given": True, "text_version": f"{purpose}-1"}}, {}, addr


def lead_ack(status, hdrs, body, addr, sh):
    ok = status == 202 and isinstance(body, dict) and body.get("status") == "pending_confirmation"
    return addr if ok else None


def handoff_request(i, sh):
    text, health = HANDOFFS[i % len(HANDOFFS)]
    body = {"message": f"{text} ({i})"}
    if health or i % 2:
        body["consent"] = CONSENT
    return "POST", "/api/v1/handoffs", body, {}, None


def handoff_ack(status, hdrs, body, note, sh):
    if status != 201 or not isinstance(body, dict) or not body.get("ticket") or not body.get("token"):
        return None
    with sh.lock:
        sh.open.append(body["ticket"])
    return body["ticket"], body["token"]


def staff_headers(session):
    return {"Cookie": f"pd_session={session[0]}", "X-CSRF-Token": session[1]}


def claim_request(i, sh):
    with sh.lock:
        if not sh.session or not sh.open:
            return None  # nothing to claim with or nothing to claim: another kind instead
        tid = sh.open.pop(i % len(sh.open))  # tried once: unacknowledged, it is in doubt
        session = sh.session
    return "POST", f"/api/v1/staff/handoffs/{tid}/claim", None, staff_headers(session), tid


def claim_ack(status, hdrs, body, tid, sh):
    ok = status == 200 and isinstance(body, dict) and body.get("ticket") == tid
    return tid if ok and body.get("claimed_by") == STAFF and body.get("status") == "claimed" else None


def login_request(i, sh):
    return "POST", "/api/v1/staff/login", {"username": STAFF, "password": STAFF_PW}, {}, None


def login_ack(status, hdrs, body, note, sh):
    first = hdrs.get("set-cookie", "").split(";")[0]
    if status != 200 or not first.startswith("pd_session=") or not isinstance(body, dict):
        return None
    session = (first[len("pd_session="):], body.get("csrf_token"))
    with sh.lock:
        sh.session = session
    return session


def handoffs_readable(srv, keys, sh):
    missing = []
    conn = srv.conn()
    for tid, token in keys:
        s, h, b = srv.request("GET", f"/api/v1/handoffs/{tid}",
                              headers={"Authorization": f"Bearer {token}"}, conn=conn)
        if s != 200 or b.get("ticket") != tid:
            missing.append((tid, s))
    conn.close()
    return missing


def claims_readable(srv, keys, sh):
    # one ticket at a time: the queue list stops at 1,000 tickets, and these runs claim more
    missing = []
    conn = srv.conn()
    for tid in keys:
        s, h, b = srv.request("GET", f"/api/v1/staff/handoffs/{tid}",
                              headers=staff_headers(sh.session), conn=conn)
        if s != 200 or b.get("claimed_by") != STAFF or b.get("status") != "claimed":
            missing.append(tid)
    conn.close()
    return missing


def sessions_alive(srv, keys, sh):
    missing = []
    for session in keys:
        s, h, b = srv.request("GET", "/api/v1/staff/me", headers=staff_headers(session))
        if s != 200 or b.get("username") != STAFF or b.get("csrf_token") != session[1]:
            missing.append((session[0][:6], s))
    return missing


# kind -> request maker (i, shared) -> (method, path, body, headers, note) or None; ack
# (status, headers, body, note, shared) -> key or None; audit: the key's entry in the index of
# audit_index (None: the kind writes none; "count": an entry, but without the key); stored: the
# key in the offline dumps; read_back: (server, keys, shared) -> the keys not found after restart
WRITERS = {
    "inquiry": {"request": inquiry_request, "ack": inquiry_ack,
                "audit": lambda conv: ("inquiry", conv), "stored": None, "read_back": None},
    "lead": {"request": lead_request, "ack": lead_ack, "audit": None,
             "stored": lambda addr, d: addr in d["leads"], "read_back": None},
    "handoff": {"request": handoff_request, "ack": handoff_ack,
                "audit": lambda k: ("handoff", "ticket_opened", k[0]), "stored": None,
                "read_back": handoffs_readable},
    "claim": {"request": claim_request, "ack": claim_ack,
              "audit": lambda tid: ("staff", "claim", tid), "stored": None,
              "read_back": claims_readable},
    # not picked at random: the first write of one client in each round
    "login": {"request": login_request, "ack": login_ack, "audit": "count", "stored": None,
              "read_back": sessions_alive},
}
RANDOM_KINDS = ["inquiry", "lead", "handoff", "claim"]
KILL_AFTER = (0.2, 2.0)  # seconds
LOGIN_FIRST = 4


class Client(threading.Thread):
    def __init__(self, port, seed, acked, sh, kinds, first):
        super().__init__(daemon=True)
        self.port, self.rng = port, random.Random(seed)
        self.acked, self.sh = acked, sh
        self.kinds, self.first = kinds, list(first)
        self.sent = 0

    def next_request(self):
        if self.first:
            kind = self.first.pop(0)
            return kind, WRITERS[kind]["request"](self.rng.randrange(1 << 30), self.sh)
        while True:
            kind = self.rng.choice(self.kinds)
            req = WRITERS[kind]["request"](self.rng.randrange(1 << 30), self.sh)
            if req:
                return kind, req

    def run(self):
        conn = None
        while True:
            kind, (method, path, body, headers, note) = self.next_request()
            h = dict(headers)
            if body is not None:
                body = json.dumps(body).encode()
                h["Content-Type"] = "application/json"
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request(method, path, body=body, headers=h)
                self.sent += 1
                r = conn.getresponse()
                raw = r.read()
                data = json.loads(raw) if raw else None
            except (OSError, http.client.HTTPException, ValueError):
                return  # the server is gone: whatever was not answered was not acknowledged
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            key = WRITERS[kind]["ack"](r.status, hdrs, data, note, self.sh)
            if key:
                with self.sh.lock:
                    self.acked.append((kind, key))
            if r.will_close:
                conn.close()
                conn = None


def audit_entries(dump, data):
    p = subprocess.run([dump, data], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        return None, p.stderr
    rows = [line.split("\t") for line in p.stdout.splitlines() if line]
    return rows, ""


def audit_index(rows):
    """(kind, conversation) and (kind, decision, ticket) of every entry"""
    idx = set()
    for r in rows:
        idx.add((r[1], r[2]))
        m = re.search(r"\bticket=(\w+)", r[5]) if len(r) > 5 else None
        if m:
            idx.add((r[1], r[3], m.group(1)))
    return idx


def offline_dumps(binary, data, have_dump):
    """what the test build prints of the leads tables (test-leads-dump): the addresses with a
    lead row, and of every queued mail its recipient and whether a sender has taken it"""
    if not have_dump:
        return {"leads": set(), "queued": {}}, ""
    rc, out, err = run(binary, "test-leads-dump", data=data)
    if rc != 0:
        return None, err
    leads = set(re.findall(r"^leads: .*?\bemail=(\S+)", out, re.M))
    queued = {m.group(1): int(m.group(2)) for m in
              re.finditer(r"^mail_queue: .*?\\nTo: (\S+?)\\n.* attempts=(\d+)", out, re.M)}
    return {"leads": leads, "queued": queued}, ""


def read_back(t, srv, acked, sh, what):
    by_kind = {}
    for kind, key in acked:
        by_kind.setdefault(kind, []).append(key)
    for kind, keys in sorted(by_kind.items()):
        rb = WRITERS[kind]["read_back"]
        if rb:
            missing = rb(srv, keys, sh)
            t.check(not missing, f"{what}: {len(missing)} of {len(keys)} acknowledged {kind} writes "
                                 f"not readable: {missing[:3]}")


def outbox_recipients(data):
    d = os.path.join(data, "outbox", "new")
    found = set()
    for name in os.listdir(d) if os.path.isdir(d) else ():
        with open(os.path.join(d, name), "rb") as f:
            m = re.search(rb"^To: *(\S+)\r?$", f.read(), re.M)
        if m:
            found.add(m.group(1).decode())
    return found


def body(t, binary, repo, tmp, dump):
    have_dump = run(binary, "test-leads-dump", data=os.path.join(tmp, "none"))[0] != 2
    kinds = RANDOM_KINDS if have_dump else [k for k in RANDOM_KINDS if k != "lead"]
    if not have_dump:
        print("not a test build (no test-leads-dump): no leads in this run")
    rng = random.Random(int(os.environ.get("PD_CRASH_SEED", "9")))
    data = make_data(binary, repo, tmp)
    add_staff(binary, data, STAFF, STAFF_PW)
    cfg = write_config(tmp, {"rate_limit": {"inquiries_per_minute": 0, "searches_per_minute": 0,
                                            "leads_per_client": 0, "handoffs_per_hour": 0,
                                            "ticket_views_per_minute": 0, "logins_per_minute": 0},
                             "mail": {"retry_initial_s": 1, "retry_max_s": 2},
                             "log_level": "warn", "threads": 2})
    sh = Shared()
    acked_all, last = [], []
    last_count = 0
    t0 = time.monotonic()
    phases = {}  # seconds spent per phase, over all rounds

    def lap(name, since):
        now = time.monotonic()
        phases[name] = phases.get(name, 0.0) + now - since
        return now

    for rnd in range(ROUNDS):
        tp = time.monotonic()
        srv = Server(binary, data, cfg).start()
        # what the last round acknowledged, seen through the API after the restart
        read_back(t, srv, last, sh, f"round {rnd}")
        tp = lap("start and read-back", tp)
        acked = []
        # one login a round (an Argon2id run of about 1.5 s under ASan): every LOGIN_FIRST-th
        # round before the clients start, so that there is a session however loaded the
        # machine is; else as one client's first write, which the kill may cut short. Until
        # it is answered, claims use the session of the last acknowledged login.
        first = ["login"]
        if rnd % LOGIN_FIRST == 0:
            first = []
            method, path, b, h, note = login_request(rnd, sh)
            s, h, b = srv.request(method, path, b, headers=h)
            key = login_ack(s, h, b, note, sh)
            if t.check(key, f"round {rnd}: staff login: {s}"):
                acked.append(("login", key))
            tp = lap("logins before the clients", tp)
        clients = [Client(srv.port, rng.randrange(1 << 30), acked, sh, kinds, first if i == 0 else [])
                   for i in range(CLIENTS)]
        for c in clients:
            c.start()
        time.sleep(rng.uniform(*KILL_AFTER))
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
        for c in clients:
            c.join(timeout=15)
            t.check(not c.is_alive(), f"round {rnd}: client finished after the kill")
        sent = sum(c.sent for c in clients) + (rnd % LOGIN_FIRST == 0)
        tp = lap("writes until the kill", tp)
        log = srv.stderr()
        t.check("AddressSanitizer" not in log and "runtime error" not in log,
                f"round {rnd}: no sanitizer report in the server's log")
        rc, out, err = run(binary, "check", data=data)
        t.eq(rc, 0, f"round {rnd}: pharmdesk check after SIGKILL: {out} {err}")
        rc, out, err = run(binary, "audit-verify", data=data)
        t.eq(rc, 0, f"round {rnd}: audit-verify after SIGKILL: {out} {err}")
        rows, why = audit_entries(dump, data)
        dumps, why2 = offline_dumps(binary, data, have_dump)
        if not t.check(rows is not None and dumps is not None,
                       f"round {rnd}: audit log and leads readable: {why} {why2}"):
            continue
        present = audit_index(rows)
        missing = []
        for kind, key in acked_all + acked:
            w = WRITERS[kind]
            if callable(w["audit"]) and w["audit"](key) not in present:
                missing.append((kind, "audit", key))
            if w["stored"] and not w["stored"](key, dumps):
                missing.append((kind, "stored", key))
        t.check(not missing, f"round {rnd}: {len(missing)} acknowledged writes lost: {missing[:3]}")
        audited = sum(1 for kind, _ in acked if WRITERS[kind]["audit"] is not None)
        grew = len(rows) - last_count
        t.check(audited <= grew <= sent,
                f"round {rnd}: {grew} new entries for {audited} acknowledged audited writes, "
                f"{sent} sent")
        t.check(all(int(r[0]) == i + 1 for i, r in enumerate(rows)), f"round {rnd}: seq 1..n")
        last_count = len(rows)
        lap("checks with the server down", tp)
        acked_all += acked
        last = acked
        per_kind = {k: sum(1 for x, _ in acked if x == k) for k in WRITERS}
        print(f"round {rnd}: {sent} sent, {len(acked)} acknowledged {per_kind}, {grew} new audit entries")
    counts = {k: sum(1 for x, _ in acked_all if x == k) for k in WRITERS}
    for kind in kinds + ["login"]:
        t.check(counts[kind] >= (1 if kind == "login" else ROUNDS),
                f"{kind} writes were acknowledged at all ({counts[kind]})")
    # the last start: everything acknowledged readable, every lead's mail sent, a clean stop
    srv = Server(binary, data, cfg).start()
    read_back(t, srv, acked_all, sh, "at the end")
    # a mail taken for delivery by a killed server is queued again after its lease (5 min);
    # every other one is sent within seconds
    want = {key for kind, key in acked_all if kind == "lead"}
    deadline = time.monotonic() + 30
    while True:
        dumps, why = offline_dumps(binary, data, have_dump)
        leased = {a for a, n in dumps["queued"].items() if n > 0} if dumps else set()
        unsent = want - outbox_recipients(data) - leased
        if not unsent or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    t.check(not unsent, f"every acknowledged lead's confirmation mail is in the outbox or leased "
                        f"({len(unsent)} of {len(want)} missing: {sorted(unsent)[:3]})")
    print(f"{len(want)} leads: {len(want & leased)} mails leased by a killed server, "
          f"the others in the outbox")
    s, h, b = srv.request("POST", "/api/v1/inquiries", {"message": "Haben Sie Aspirin?"})
    t.eq(s, 200, "a write after the last crash")
    t.eq(srv.stop(), 0, "clean stop at the end")
    log = srv.stderr()
    t.check("AddressSanitizer" not in log and "runtime error" not in log,
            "no sanitizer report in the last server's log")
    srv = None
    rc, out, err = run(binary, "audit-verify", data=data)
    t.eq(rc, 0, f"audit-verify at the end: {err}")
    print(f"{ROUNDS} rounds, {len(acked_all)} acknowledged writes {counts}, "
          f"{time.monotonic() - t0:.1f} s; per phase: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()))


if __name__ == "__main__":
    sys.exit(run_test(body))
