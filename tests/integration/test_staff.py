#!/usr/bin/env python3
"""Integration tests of the staff side of the handoff against the real binary: the staff CLI
commands, login with cookie flags, the same 401 for every failed login, the growing delay and
the lockout, CSRF on every change, session idle and absolute expiry (on a restarted server with
the test clock offset), logout, the queue's claim race (50 trials, exactly one winner), reply,
close, assign, admin account management and password changes.
Usage: test_staff.py PHARMDESK_BIN REPO_DIR"""
import glob
import json
import os
import sys
import threading
import time

from deskutil import CONSENT, Staff, add_staff, cookie_of, env_offset, handoff
from pdserver import Checks, Server, cleanup, make_data, run, tmpdir

PW = {"anna": "anna-passwort-1", "bert": "bert-passwort-1", "carl": "carl-passwort-1",
      "dora": "dora-passwort-1", "emil": "emil-passwort-1"}


def login(srv, user, password, ip=None):
    h = {"X-Forwarded-For": ip} if ip else {}
    return srv.request("POST", "/api/v1/staff/login", {"username": user, "password": password},
                       headers=h)


def cli_checks(t, binary, data):
    rc, out, err = run(binary, "staff-add", "zoe", "--role", "pharmacist", data=data, stdin="kurz\n")
    t.check(rc == 1 and "too short" in err, f"short password refused: {rc} {err}")
    rc, out, err = run(binary, "staff-add", "zoe", "--role", "pharmacist", data=data, stdin="\n")
    t.check(rc == 1 and "empty" in err, f"empty password refused: {rc} {err}")
    rc, out, err = run(binary, "staff-add", "zoe", "--role", "pharmacist", data=data, stdin="")
    t.check(rc == 1 and "empty" in err, f"no password refused: {rc} {err}")
    rc, out, err = run(binary, "staff-add", "zoe", data=data, stdin="lang-genug-123\n")
    t.eq(rc, 2, f"staff-add without --role is a usage error ({err.strip()})")
    rc, out, err = run(binary, "staff-add", "zoe", "--role", "boss", data=data, stdin="lang-genug-123\n")
    t.eq(rc, 2, "staff-add with an unknown role")
    rc, out, err = run(binary, "staff-add", "Zoe Z", "--role", "admin", data=data, stdin="lang-genug-123\n")
    t.check(rc == 1 and "user name" in err, f"bad user name refused: {err}")
    for user, role in (("anna", "admin"), ("bert", "pharmacist"), ("carl", "pharmacist"),
                       ("dora", "pharmacist"), ("emil", "pharmacist")):
        add_staff(binary, data, user, PW[user], role)
    rc, out, err = run(binary, "staff-add", "anna", "--role", "admin", data=data, stdin="lang-genug-123\n")
    t.check(rc == 1 and "exists" in err, f"duplicate refused: {err}")
    rc, out, err = run(binary, "staff-disable", "nobody", data=data)
    t.check(rc == 1 and "no staff account" in err, f"disable unknown: {err}")
    rc, out, err = run(binary, "staff-disable", "dora", data=data)
    t.eq(rc, 0, f"staff-disable dora ({err})")
    rc, out, err = run(binary, "staff-passwd", "emil", data=data, stdin="zu-kurz\n")
    t.check(rc == 1 and "too short" in err, "staff-passwd refuses a short password")
    rc, out, err = run(binary, "staff-add", "x", "--role", "admin", "--listen", "1:1", data=data, stdin="")
    t.eq(rc, 2, "--listen does not belong to staff-add")
    rc, out, err = run(binary, "init", "--role", "admin", data=data + "-other")
    t.eq(rc, 2, "--role belongs to staff-add only")


def cookie_flags(t, binary, data):
    srv = Server(binary, data).start()  # default configuration: Secure cookies
    try:
        s, h, b = login(srv, "anna", PW["anna"])
        t.eq(s, 200, "login")
        sc = h.get("set-cookie", "")
        parts = [p.strip() for p in sc.split(";")]
        t.check(parts[0].startswith("pd_session=") and len(parts[0]) == len("pd_session=") + 43,
                f"session cookie of 256 bits: {parts[0][:20]}...")
        for flag in ("HttpOnly", "SameSite=Strict", "Secure", "Path=/"):
            t.check(flag in parts, f"cookie flag {flag} in {sc}")
        t.eq(set(b), {"csrf_token", "username", "role"}, "login answer fields")
        t.eq((b["username"], b["role"]), ("anna", "admin"), "login answer")
        t.check(len(b["csrf_token"]) >= 43, "csrf token")
        t.check(cookie_of(h) not in json.dumps(b), "the session id is only in the cookie")
    finally:
        srv.stop()


def failed_logins(t, srv):
    bodies = []
    for user, pw in (("nobody", "irgendein-passwort"), ("bert", "falsches-passwort"),
                     ("dora", PW["dora"])):
        t0 = time.time()
        s, h, b = login(srv, user, pw)
        t.eq(s, 401, f"failed login {user}")
        t.check("set-cookie" not in h, f"no cookie for a failed login of {user}")
        bodies.append(json.dumps(b))
    t.check(len(set(bodies)) == 1, f"one body for unknown user, wrong password, disabled: {bodies}")
    for body in ({"username": "bert"}, {"username": 1, "password": "x"}, {"password": "x"}):
        s, h, b = srv.request("POST", "/api/v1/staff/login", body)
        t.eq(s, 400, f"bad login body {body}")
    s, h, b = srv.request("POST", "/api/v1/staff/login", "username=bert", headers={"Content-Type": "application/x-www-form-urlencoded"})
    t.eq(s, 415, "login needs JSON (no form posts from other sites)")


def lockout(t, srv):
    """staff.lockout_failures = 5: failures 3 and 4 add waits of 1 s and 2 s, the 5th locks"""
    def sequence(user, pw):
        got = []
        for i in range(5):
            s, h, b = login(srv, user, pw)
            got.append(s)
            if i >= 2 and i < 4:
                s2, h2, b2 = login(srv, user, pw)  # at once: delayed
                got.append((s2, b2["error"]["code"], int(h2.get("retry-after", "0")) >= 1))
                time.sleep(int(h2.get("retry-after", "1")) + 0.2)
        s, h, b = login(srv, user, pw)
        got.append((s, int(h.get("retry-after", "0")) > 500))
        return got
    known = sequence("emil", "falsches-passwort")
    unknown = sequence("ghost", "falsches-passwort")
    want = [401, 401, 401, (429, "login_delayed", True), 401, (429, "login_delayed", True), 401,
            (429, True)]
    t.eq(known, want, "known user: delay grows, then locked")
    t.eq(unknown, want, "unknown user behaves the same")
    s, h, b = login(srv, "emil", PW["emil"])
    t.eq(s, 429, "the right password does not open a locked account")


def csrf(t, srv, anna, bert, tid):
    path = f"/api/v1/staff/handoffs/{tid}/claim"
    s, h, b = anna.post(path, csrf=False)
    t.check(s == 403 and b["error"]["code"] == "csrf", f"claim without X-CSRF-Token: {s}")
    s, h, b = srv.request("POST", path, b"", headers={"Cookie": f"pd_session={anna.cookie}",
                                                      "X-CSRF-Token": "x" * 43})
    t.eq(s, 403, "claim with a wrong token")
    s, h, b = srv.request("POST", path, b"", headers={"Cookie": f"pd_session={anna.cookie}",
                                                      "X-CSRF-Token": bert.csrf})
    t.eq(s, 403, "claim with another session's token")
    s, h, b = srv.request("POST", path, b"", headers={"X-CSRF-Token": anna.csrf})
    t.eq(s, 401, "claim without a session")
    for p, body in (("/api/v1/staff/logout", None), ("/api/v1/staff/password",
                    {"old_password": PW["anna"], "new_password": "neues-passwort-9"}),
                    ("/api/v1/staff/accounts", {"username": "x1", "password": "lang-genug-1",
                                                "role": "admin"}),
                    (f"/api/v1/staff/handoffs/{tid}/reply", {"text": "hi"}),
                    (f"/api/v1/staff/handoffs/{tid}/close", None),
                    (f"/api/v1/staff/handoffs/{tid}/assign", {"username": "bert"}),
                    ("/api/v1/staff/accounts/bert/disable", None)):
        s, h, b = anna.post(p, body, csrf=False)
        t.eq(s, 403, f"{p} without CSRF token")
    t.check(anna.ticket(tid)["status"] == "open", "nothing changed without CSRF tokens")


def claim_race(t, srv, staff, trials=50):
    wins = 0
    bad = []
    for i in range(trials):
        s, h, b = handoff(srv, f"Bitte rufen Sie mich an, Anliegen Nummer {i}")
        tid = b["ticket"]
        barrier = threading.Barrier(len(staff))
        results = [None] * len(staff)

        def go(k):
            c = srv.conn()
            c.connect()
            barrier.wait()
            results[k] = staff[k].post(f"/api/v1/staff/handoffs/{tid}/claim", conn=c)
            c.close()
        threads = [threading.Thread(target=go, args=(k,)) for k in range(len(staff))]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        codes = sorted(r[0] for r in results)
        want = [200] + [409] * (len(staff) - 1)
        if codes != want or any(r[0] == 409 and r[2]["error"]["code"] != "claimed_by_other"
                                for r in results):
            bad.append((i, codes))
            continue
        winner = [staff[k].user for k in range(len(staff)) if results[k][0] == 200][0]
        holder = [r[2] for r in results if r[0] == 200][0]["claimed_by"]
        if holder == winner:
            wins += 1
        else:
            bad.append((i, "holder", holder, winner))
    t.eq(bad, [], "every claim race has exactly one winner, the others get 409")
    t.eq(wins, trials, f"{trials} races, each won by the one who holds the ticket")


def queue(t, srv, anna, bert, carl):
    s, h, b = handoff(srv, "Ich habe eine Frage zu meinem Rezept, bitte um Rückruf",
                      contact={"name": "Frau Test", "phone": "030 123456"})
    tid = b["ticket"]
    s, h, b = bert.post(f"/api/v1/staff/handoffs/{tid}/claim")
    t.check(s == 200 and b["status"] == "claimed" and b["claimed_by"] == "bert", f"claim: {s} {b}")
    s, h, b = handoff(srv, "Ich habe eine Frage zu meinem Rezept, bitte um Rückruf",
                      contact={"name": "Frau Test", "phone": "030 123456"})
    t.check(s == 201 and b["ticket"] != tid, "without a conversation every request is a ticket")
    s, h, b = bert.post(f"/api/v1/staff/handoffs/{tid}/claim")
    t.eq((s, b["claimed_by"]), (200, "bert"), "claiming one's own ticket again")
    s, h, b = bert.get(f"/api/v1/staff/handoffs/{tid}")
    t.check(s == 200 and b["ticket"] == tid and b["claimed_by"] == "bert" and "message" in b,
            f"one ticket by its id: {s} {b}")
    t.eq(bert.get("/api/v1/staff/handoffs/unknownticket00")[0], 404, "an unknown ticket: 404")
    t.eq(srv.request("GET", f"/api/v1/staff/handoffs/{tid}")[0], 401, "one ticket needs a session")
    s, h, b = carl.post(f"/api/v1/staff/handoffs/{tid}/reply", {"text": "Ich übernehme"})
    t.check(s == 409 and b["error"]["code"] == "claimed_by_other", "reply to another's ticket")
    s, h, b = carl.post(f"/api/v1/staff/handoffs/{tid}/close")
    t.eq(s, 409, "close another's ticket")
    for body, code, st in (({"text": "   "}, "empty_reply", 422), ({"text": "x" * 5001}, "reply_too_long", 422),
                           ({"text": 5}, "bad_request", 400), ({}, "bad_request", 400)):
        s, h, b = bert.post(f"/api/v1/staff/handoffs/{tid}/reply", body)
        t.check(s == st and b["error"]["code"] == code, f"reply {str(body)[:30]}: {s} {b}")
    s, h, b = bert.post(f"/api/v1/staff/handoffs/{tid}/reply", {"text": "Wir rufen Sie heute an."})
    t.check(s == 200 and b["status"] == "answered" and b["replies"][0]["by"] == "bert"
            and b["replies"][0]["text"] == "Wir rufen Sie heute an.", f"reply: {b}")
    s, h, b = bert.post("/api/v1/staff/handoffs/unknownticket00/claim")
    t.eq(s, 404, "claim an unknown ticket")
    # assign: admins only
    s, h, b = bert.post(f"/api/v1/staff/handoffs/{tid}/assign", {"username": "carl"})
    t.check(s == 403 and b["error"]["code"] == "forbidden", "a pharmacist cannot assign")
    s, h, b = anna.post(f"/api/v1/staff/handoffs/{tid}/assign", {"username": "nobody"})
    t.eq(s, 422, "assign to an unknown user")
    s, h, b = anna.post(f"/api/v1/staff/handoffs/{tid}/assign", {"username": "dora"})
    t.eq(s, 422, "assign to a disabled user")
    s, h, b = anna.post(f"/api/v1/staff/handoffs/{tid}/assign", {"username": "carl"})
    t.check(s == 200 and b["claimed_by"] == "carl" and b["status"] == "answered", f"assign: {b}")
    s, h, b = bert.post(f"/api/v1/staff/handoffs/{tid}/reply", {"text": "noch was"})
    t.eq(s, 409, "the former holder cannot reply after reassignment")
    s, h, b = carl.post(f"/api/v1/staff/handoffs/{tid}/close")
    t.check(s == 200 and b["status"] == "closed" and b["closed_at"], f"close: {b}")
    s, h, b = carl.post(f"/api/v1/staff/handoffs/{tid}/close")
    t.check(s == 409 and b["error"]["code"] == "closed", "close twice")
    s, h, b = carl.post(f"/api/v1/staff/handoffs/{tid}/reply", {"text": "nachtrag"})
    t.eq(s, 409, "reply to a closed ticket")
    s, h, b = anna.post(f"/api/v1/staff/handoffs/{tid}/assign", {"username": "bert"})
    t.eq(s, 409, "assign a closed ticket")
    # an admin may close a ticket someone else holds
    s, h, b = handoff(srv, "Ich möchte mit einer Apothekerin sprechen")
    t2 = b["ticket"]
    bert.post(f"/api/v1/staff/handoffs/{t2}/claim")
    s, h, b = anna.post(f"/api/v1/staff/handoffs/{t2}/close")
    t.eq(s, 200, "an admin closes another's ticket")
    # the list: by status, priority, then age
    s, h, b = bert.get("/api/v1/staff/handoffs?status=closed")
    t.check(s == 200 and {tid, t2} <= {x["ticket"] for x in b["handoffs"]}, "closed list")
    s, h, b = bert.get("/api/v1/staff/handoffs?status=bogus")
    t.eq(s, 400, "unknown status")
    s, h, b = srv.request("GET", "/api/v1/staff/handoffs")
    t.eq(s, 401, "the queue needs a session")
    ids = []
    for msg, kw in (("Bitte um Rückruf wegen einer Abholung", {}),
                    ("Nach der Einnahme von Ibuprofen habe ich einen Ausschlag bekommen", {"consent": CONSENT}),
                    ("Mein Sohn hat 20 Tabletten Paracetamol geschluckt", {"consent": CONSENT})):
        s, h, b = handoff(srv, msg, **kw)
        t.eq(s, 201, f"handoff {msg[:30]}")
        ids.append((b["ticket"], b["priority"]))
    t.eq([p for _, p in ids], ["normal", "adverse_event", "emergency"], "priorities from the guard")
    s, h, b = bert.get("/api/v1/staff/handoffs")
    got = [x for x in b["handoffs"] if x["ticket"] in {i for i, _ in ids}]
    t.eq([x["priority"] for x in got], ["emergency", "adverse_event", "normal"],
         "emergency first, then adverse event, then the rest")
    t.check(all(x["status"] != "closed" for x in b["handoffs"]), "no status: all not closed")
    prios = [x["priority"] for x in b["handoffs"]]
    order = {"emergency": 0, "adverse_event": 1, "normal": 2}
    t.check(prios == sorted(prios, key=order.get), "sorted by priority")
    same = [x for x in b["handoffs"] if x["priority"] == "normal"]
    t.check([x["created_at"] for x in same] == sorted(x["created_at"] for x in same),
            "then oldest first")
    x = got[0]
    t.check(set(x) >= {"ticket", "status", "priority", "created_at", "age_s", "claimed_by", "message",
                       "contact", "replies"}, f"ticket fields: {sorted(x)}")
    t.check(x["consent"]["text_version"] == "handoff-1" and len(x["consent"]["text_hash"]) == 64
            and x["consent"]["at"], f"consent recorded: {x['consent']}")


def accounts(t, srv, binary, data, anna, bert):
    s, h, b = bert.get("/api/v1/staff/accounts")
    t.eq(s, 403, "a pharmacist cannot list accounts")
    s, h, b = anna.get("/api/v1/staff/accounts")
    names = {a["username"]: a for a in b["accounts"]}
    t.check(s == 200 and names["dora"]["disabled"] is True and names["anna"]["role"] == "admin"
            and names["bert"]["created_at"], f"accounts: {b}")
    t.check(all("pwhash" not in json.dumps(a) and "$argon2" not in json.dumps(a) for a in b["accounts"]),
            "no hashes in the list")
    for body, st, code in (({"username": "fritz", "password": "kurz", "role": "pharmacist"}, 422, "weak_password"),
                           ({"username": "Fritz!", "password": "lang-genug-12", "role": "pharmacist"}, 422, "bad_username"),
                           ({"username": "fritz", "password": "lang-genug-12", "role": "chef"}, 422, "bad_role"),
                           ({"username": "fritz", "password": "lang-genug-12"}, 400, "bad_request"),
                           ({"username": "bert", "password": "lang-genug-12", "role": "admin"}, 409, "exists")):
        s, h, b = anna.post("/api/v1/staff/accounts", body)
        t.check(s == st and b["error"]["code"] == code, f"account {body}: {s} {b}")
    s, h, b = bert.post("/api/v1/staff/accounts", {"username": "fritz", "password": "lang-genug-12",
                                                   "role": "admin"})
    t.eq(s, 403, "a pharmacist cannot add accounts")
    s, h, b = anna.post("/api/v1/staff/accounts", {"username": "fritz", "password": "lang-genug-12",
                                                   "role": "pharmacist"})
    t.check(s == 201 and b == {**b, "username": "fritz", "role": "pharmacist", "disabled": False},
            f"account added: {s} {b}")
    fritz = Staff(srv, "fritz", "lang-genug-12")
    s, h, b = fritz.get("/api/v1/staff/me")
    t.eq((s, b.get("username")), (200, "fritz"), "the new account logs in")
    s, h, b = anna.post("/api/v1/staff/accounts/fritz/disable")
    t.check(s == 200 and b["disabled"] is True, "disable")
    s, h, b = fritz.get("/api/v1/staff/me")
    t.eq(s, 401, "disabling ends the account's sessions")
    s, h, b = login(srv, "fritz", "lang-genug-12")
    t.eq(s, 401, "a disabled account cannot log in")
    s, h, b = anna.post("/api/v1/staff/accounts/fritz/enable")
    t.check(s == 200 and b["disabled"] is False, "enable")
    s, h, b = login(srv, "fritz", "lang-genug-12")
    t.eq(s, 200, "enabled again")
    s, h, b = anna.post("/api/v1/staff/accounts/nobody/disable")
    t.eq(s, 404, "disable an unknown account")
    s, h, b = anna.post("/api/v1/staff/accounts/anna/disable")
    t.eq(s, 409, "an admin cannot disable themselves")
    s, h, b = bert.post("/api/v1/staff/accounts/carl/disable")
    t.eq(s, 403, "a pharmacist cannot disable accounts")


def passwords(t, srv):
    a1 = Staff(srv, "carl", PW["carl"])
    a2 = Staff(srv, "carl", PW["carl"])
    s, h, b = a1.post("/api/v1/staff/password", {"old_password": "falsch-falsch", "new_password": "neues-passwort-7"})
    t.check(s == 403 and b["error"]["code"] == "wrong_password", "wrong old password")
    s, h, b = a1.post("/api/v1/staff/password", {"old_password": PW["carl"], "new_password": "kurz"})
    t.eq(s, 422, "a short new password")
    s, h, b = a1.post("/api/v1/staff/password", {"old_password": PW["carl"], "new_password": "neues-passwort-7"})
    t.eq(s, 200, "password changed")
    t.eq(a1.get("/api/v1/staff/me")[0], 200, "this session stays")
    t.eq(a2.get("/api/v1/staff/me")[0], 401, "the other sessions end")
    t.eq(login(srv, "carl", PW["carl"])[0], 401, "the old password is gone")
    t.eq(login(srv, "carl", "neues-passwort-7")[0], 200, "the new one works")
    PW["carl"] = "neues-passwort-7"


def logout(t, srv):
    st = Staff(srv, "bert", PW["bert"])
    s, h, b = st.post("/api/v1/staff/logout")
    t.check(s == 200 and "Max-Age=0" in h.get("set-cookie", ""), f"logout clears the cookie: {h.get('set-cookie')}")
    t.eq(st.get("/api/v1/staff/me")[0], 401, "the session is gone after logout")
    s, h, b = st.post("/api/v1/staff/logout")
    t.eq(s, 401, "logout without a session")


def expiry(t, binary, data, cfg):
    """idle 30 minutes, absolute 12 hours, checked on restarted servers with the clock offset"""
    def with_offset(seconds, fn):
        env_offset(seconds)
        try:
            srv = Server(binary, data, cfg).start()
        finally:
            env_offset(0)
        try:
            return fn(srv)
        finally:
            srv.stop()
    sess = with_offset(0, lambda srv: Staff(srv, "bert", PW["bert"]))
    me = lambda srv: sess.__class__.get(sess_with(sess, srv), "/api/v1/staff/me")[0]
    t.eq(with_offset(25 * 60, me), 200, "a session idle for 25 minutes lives")
    t.eq(with_offset(25 * 60 + 29 * 60, me), 200, "each request renews the idle time")
    t.eq(with_offset(25 * 60 + 29 * 60 + 31 * 60, me), 401, "idle for 31 minutes: expired")
    # absolute: 12 hours however recently used (idle time raised to 24 h for this)
    cfg_abs = cfg + ".abs.json"
    with open(cfg) as f:
        c = json.load(f)
    c["staff"]["session_idle_s"] = 86400
    with open(cfg_abs, "w") as f:
        json.dump(c, f)

    def with_offset_abs(seconds, fn):
        env_offset(seconds)
        try:
            srv = Server(binary, data, cfg_abs).start()
        finally:
            env_offset(0)
        try:
            return fn(srv)
        finally:
            srv.stop()
    sess = with_offset_abs(0, lambda srv: Staff(srv, "bert", PW["bert"]))
    t.eq(with_offset_abs(6 * 3600, me), 200, "after 6 hours")
    t.eq(with_offset_abs(11 * 3600 + 55 * 60, me), 200, "after 11 h 55 min")
    t.eq(with_offset_abs(12 * 3600 + 5 * 60, me), 401, "after 12 h 5 min the session is over")


def sess_with(sess, srv):
    sess.srv = srv
    return sess


T0 = [time.time()]


def step(name):
    now = time.time()
    print(f"{name}: {now - T0[0]:.1f} s", flush=True)
    T0[0] = now


def main():
    binary, repo = sys.argv[1], sys.argv[2]
    t = Checks()
    tmp = tmpdir()
    srv = None
    try:
        data = make_data(binary, repo, tmp, orders=False)
        cli_checks(t, binary, data)
        cookie_flags(t, binary, data)
        cfg = os.path.join(tmp, "config.json")
        with open(cfg, "w") as f:
            json.dump({"http": {"cookie_secure": False},
                       "rate_limit": {"handoffs_per_hour": 0, "ticket_views_per_minute": 0,
                                      "logins_per_minute": 0, "inquiries_per_minute": 0},
                       "staff": {"lockout_failures": 5, "lockout_s": 600}}, f)
        srv = Server(binary, data, cfg).start()
        s, h, b = login(srv, "anna", PW["anna"])
        t.check(s == 200 and "Secure" not in h.get("set-cookie", ""),
                "no Secure flag with http.cookie_secure false")
        t.eq(srv.request("GET", "/api/v1/staff/me")[0], 401, "me without a cookie")
        t.eq(srv.request("GET", "/api/v1/staff/me", headers={"Cookie": "pd_session=" + "A" * 43})[0],
             401, "me with an unknown session")
        anna = Staff(srv, "anna", PW["anna"])
        bert = Staff(srv, "bert", PW["bert"])
        carl = Staff(srv, "carl", PW["carl"])
        s, h, b = bert.get("/api/v1/staff/me")
        t.check(s == 200 and b == {"csrf_token": bert.csrf, "username": "bert", "role": "pharmacist"},
                f"me: {b}")
        failed_logins(t, srv)
        step("failed_logins")
        s, h, b = handoff(srv, "Bitte rufen Sie mich zurück")
        csrf(t, srv, anna, bert, b["ticket"])
        step("csrf")
        queue(t, srv, anna, bert, carl)
        step("queue")
        claim_race(t, srv, [anna, bert, carl])
        step("claim_race")
        accounts(t, srv, binary, data, anna, bert)
        step("accounts")
        passwords(t, srv)
        step("passwords")
        logout(t, srv)
        step("logout")
        lockout(t, srv)
        step("lockout")
        srv.stop()
        srv = None
        expiry(t, binary, data, cfg)
        step("expiry")
        rc, out, err = run(binary, "audit-verify", data=data)
        t.eq(rc, 0, f"the audit chain is intact after all staff actions ({err.strip()})")
        log = ""
        for path in glob.glob(os.path.join(tmp, "server-*.log")):
            with open(path, encoding="utf-8", errors="replace") as f:
                log += f.read()
        secrets = list(PW.values()) + ["falsches-passwort", "neues-passwort-7", anna.cookie,
                                        anna.csrf, bert.cookie, "ghost", "nobody"]
        t.eq([x for x in secrets if x in log], [], "no password, user name, session or CSRF token in the logs")
    finally:
        if srv:
            srv.stop()
        cleanup(tmp)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
