#!/usr/bin/env python3
"""Integration tests of the customer's side of the handoff against the real binary: ticket
creation with every validation error, consent for health data (422 and nothing stored without
it), retries that find the same ticket, the token rules (none, wrong, another ticket's; one 404
for all), rate limits, the reply by mail, the assistant's silence after a handoff (also across a
restart) and what it says after the ticket is closed, retention via `purge` with the test clock
offset, and that no test message reaches the server's log.
Usage: test_handoff.py PHARMDESK_BIN REPO_DIR"""
import glob
import json
import os
import sys
import time

from deskutil import CONSENT, Staff, add_staff, env_offset, handoff, view
from pdserver import Checks, Server, cleanup, make_data, run, tmpdir

HEALTH = "Meine Tochter hat seit gestern Fieber und Ausschlag, bitte rufen Sie mich an"
PLAIN = "Ich möchte bitte mit einer Apothekerin sprechen"
SECRETS = [HEALTH, "Ausschlag", "kunde.geheim@example.org", "0171 9876543", "Frau Geheim"]


def inquiry(srv, message, conversation=None, ip="198.51.100.1"):
    body = {"message": message}
    if conversation:
        body["conversation"] = conversation
    return srv.request("POST", "/api/v1/inquiries", body, headers={"X-Forwarded-For": ip})


def create_and_validate(t, srv, staff):
    s, h, b = handoff(srv, PLAIN, contact={"name": "Frau Geheim", "email": "kunde.geheim@example.org",
                                           "phone": "0171 9876543"})
    t.eq(s, 201, "handoff created")
    t.check(len(b["ticket"]) == 16 and len(b["token"]) == 43 and b["status"] == "open",
            f"ticket, token, status: {b}")
    tid, tok = b["ticket"], b["token"]
    s, h, v = view(srv, tid, tok)
    t.check(s == 200 and v["ticket"] == tid and v["status"] == "open" and v["replies"] == []
            and v["created_at"], f"the customer sees the ticket: {v}")
    t.check("message" not in v and "contact" not in v, "the token view shows no message or contact")
    x = staff.ticket(tid)
    t.check(x and x["message"] == PLAIN and x["contact"] == {"name": "Frau Geheim",
            "email": "kunde.geheim@example.org", "phone": "0171 9876543"} and x["consent"] is None,
            f"staff see message and contact: {x}")
    cases = [
        ({}, 400, "bad_request"),
        ({"message": 5}, 400, "bad_request"),
        ({"message": "   "}, 422, "empty_message"),
        ({"message": "x" * 2001}, 422, "message_too_long"),
        ({"message": PLAIN, "conversation": "short"}, 400, "bad_conversation"),
        ({"message": PLAIN, "conversation": 7}, 400, "bad_request"),
        ({"message": PLAIN, "contact": "kunde@example.org"}, 400, "bad_request"),
        ({"message": PLAIN, "contact": {"email": "kein-at-zeichen"}}, 422, "bad_contact"),
        ({"message": PLAIN, "contact": {"email": "a@b"}}, 422, "bad_contact"),
        ({"message": PLAIN, "contact": {"email": "a b@example.org"}}, 422, "bad_contact"),
        ({"message": PLAIN, "contact": {"email": "x@example.org\r\nBcc: y@example.org"}}, 422, "bad_contact"),
        ({"message": PLAIN, "contact": {"email": "a" * 250 + "@example.org"}}, 422, "bad_contact"),
        ({"message": PLAIN, "contact": {"phone": "call me maybe"}}, 422, "bad_contact"),
        ({"message": PLAIN, "contact": {"phone": "12"}}, 422, "bad_contact"),
        ({"message": PLAIN, "contact": {"phone": 301234}}, 400, "bad_request"),
        ({"message": PLAIN, "contact": {"name": "N" * 101}}, 422, "bad_contact"),
        ({"message": PLAIN, "contact": {"name": "Zeile\nZwei"}}, 422, "bad_contact"),
        ({"message": PLAIN, "lang": "fr"}, 400, "bad_lang"),
        ({"message": PLAIN, "consent": "yes"}, 400, "bad_request"),
    ]
    before = len(staff.get("/api/v1/staff/handoffs")[2]["handoffs"])
    for body, st, code in cases:
        s, h, b = srv.request("POST", "/api/v1/handoffs", body)
        t.check(s == st and b["error"]["code"] == code and b["error"]["message"],
                f"{json.dumps(body)[:60]}: {s} {b}")
    s, h, b = srv.request("POST", "/api/v1/handoffs", "message=hi",
                          headers={"Content-Type": "text/plain"})
    t.eq(s, 415, "a body that is not JSON")
    after = len(staff.get("/api/v1/staff/handoffs")[2]["handoffs"])
    t.eq(after, before, "no refused request stored a ticket")
    s, h, b = handoff(srv, PLAIN + " (leer)", contact={"name": "", "email": "", "phone": ""})
    t.check(s == 201 and staff.ticket(b["ticket"])["contact"] is None, "empty contact fields are no contact")
    return tid, tok


def consent(t, srv, staff):
    before = len(staff.get("/api/v1/staff/handoffs")[2]["handoffs"])
    for c, code in ((None, "consent_required"),
                    ({"health_data": False, "text_version": "handoff-1"}, "consent_required"),
                    ({"health_data": "true", "text_version": "handoff-1"}, "consent_required"),
                    ({"health_data": 1, "text_version": "handoff-1"}, "consent_required"),
                    ({"health_data": True}, "consent_required"),
                    ({"text_version": "handoff-1"}, "consent_required"),
                    ({"health_data": True, "text_version": "handoff-99"}, "unknown_consent_version"),
                    ({"health_data": True, "text_version": "newsletter-1"}, "unknown_consent_version")):
        kw = {"consent": c} if c is not None else {}
        s, h, b = handoff(srv, HEALTH, contact={"email": "kunde.geheim@example.org"}, **kw)
        t.check(s == 422 and b["error"]["code"] == code, f"health data with consent {c}: {s} {b}")
    after = staff.get("/api/v1/staff/handoffs")[2]["handoffs"]
    t.eq(len(after), before, "nothing was stored for the refused health-data handoffs")
    t.check(all(HEALTH not in json.dumps(x) for x in after), "the message is nowhere")
    s, h, b = handoff(srv, HEALTH, consent=CONSENT)
    t.eq(s, 201, "health data with explicit consent")
    x = staff.ticket(b["ticket"])
    ct = srv.request("GET", "/api/v1/consent-texts")[2]["handoff"]
    t.check(x["message"] == HEALTH and x["health_data"] is True and x["consent"]["text_version"] == "handoff-1"
            and len(x["consent"]["text_hash"]) == 64 and x["consent"]["at"], f"consent recorded: {x['consent']}")
    t.eq(ct["version"], "handoff-1", "the version the consent texts serve")
    s, h, b = handoff(srv, PLAIN + " bitte", consent={"health_data": True, "text_version": "handoff-99"})
    t.eq(s, 422, "an unknown consent version is refused even without health data")


def retries(t, srv, staff):
    s, h, b = inquiry(srv, "Ich möchte mit einem Apotheker sprechen")
    conv = b["conversation"]
    t.check(b["handoff"]["offered"] is True and b["handoff"]["active"] is False, f"handoff offered: {b['handoff']}")
    s1, h1, b1 = handoff(srv, PLAIN, conversation=conv)
    s2, h2, b2 = handoff(srv, PLAIN, conversation=conv)
    t.eq((s1, s2), (201, 200), "a retry answers 200")
    t.eq(b1["ticket"], b2["ticket"], "a retry finds the same ticket")
    t.check(b2["retry"] is True and b2["token"] != b1["token"], "with a new token")
    t.eq(view(srv, b1["ticket"], b1["token"])[0], 200, "the first token still works")
    t.eq(view(srv, b1["ticket"], b2["token"])[0], 200, "the retry's token works")
    n = sum(1 for x in staff.get("/api/v1/staff/handoffs")[2]["handoffs"] if x["message"] == PLAIN)
    s3, h3, b3 = handoff(srv, PLAIN + " Und noch etwas.", conversation=conv)
    t.check(s3 == 201 and b3["ticket"] != b1["ticket"], "another message opens another ticket")
    s4, h4, b4 = handoff(srv, PLAIN, conversation="a" * 26)
    t.check(s4 == 201 and b4["ticket"] != b1["ticket"], "the same message in another conversation")
    t.eq(n, 2, "retries stored one ticket (plus the first test's)")
    return conv, b1["ticket"], b1["token"]


def tokens(t, srv, tid, tok, other_tok):
    answers = [view(srv, tid, None), view(srv, tid, "x" * 43), view(srv, tid, other_tok),
               view(srv, "zzzzzzzzzzzzzzzz", tok), view(srv, tid, tok[:-1]),
               view(srv, tid, tok + "A")]
    t.check(all(a[0] == 404 for a in answers), f"every bad token is 404: {[a[0] for a in answers]}")
    t.eq(len({json.dumps(a[2]) for a in answers}), 1, "with the same body")
    s, h, b = srv.request("GET", f"/api/v1/handoffs/{tid}", headers={"Authorization": f"Basic {tok}"})
    t.eq(s, 404, "only Bearer")
    s, h, b = srv.request("GET", f"/api/v1/handoffs/{tid}", headers={"Authorization": f"bearer {tok}"})
    t.eq(s, 200, "Bearer in any case")


def limits(t, srv):
    codes = [handoff(srv, f"Rückruf bitte {i}", ip="203.0.113.7")[0] for i in range(4)]
    t.eq(codes, [201, 201, 201, 429], "handoffs per client and hour")
    s, h, b = handoff(srv, "Rückruf bitte 9", ip="203.0.113.8")
    t.eq(s, 201, "another client is not limited")
    codes = [view(srv, "zzzzzzzzzzzzzzzz", "x" * 43, ip="203.0.113.9")[0] for i in range(6)]
    t.eq(codes, [404] * 5 + [429], "ticket views per client and minute (guessing)")
    s, h, b = view(srv, "zzzzzzzzzzzzzzzz", "x" * 43, ip="203.0.113.9")
    t.check(s == 429 and int(h["retry-after"]) >= 1, "429 with Retry-After")


def reply_mail(t, srv, staff, data):
    s, h, b = handoff(srv, "Bitte antworten Sie mir per Mail zu meiner Abholung",
                      contact={"email": "kunde.geheim@example.org"}, lang="en")
    tid, tok = b["ticket"], b["token"]
    staff.post(f"/api/v1/staff/handoffs/{tid}/claim")
    s, h, b = staff.post(f"/api/v1/staff/handoffs/{tid}/reply", {"text": "Your order is ready: shelf 7."})
    t.eq(s, 200, "reply")
    s, h, v = view(srv, tid, tok)
    t.check(s == 200 and v["status"] == "answered" and v["replies"][0]["text"] == "Your order is ready: shelf 7."
            and "by" not in v["replies"][0], f"the customer sees the reply, not who wrote it: {v}")
    mails = [open(p, encoding="utf-8").read() for p in glob.glob(os.path.join(data, "outbox/new/*"))]
    mine = [m for m in mails if tid in m]
    t.eq(len(mine), 1, "one mail for the reply")
    if mine:
        m = mine[0]
        t.check("To: kunde.geheim@example.org" in m and "Your order is ready: shelf 7." in m
                and "Reply from" in m, f"the mail, in English: {m[:300]}")
    s, h, b = handoff(srv, "Bitte Rückruf, keine Mail")
    staff.post(f"/api/v1/staff/handoffs/{b['ticket']}/reply", {"text": "ok"})
    mails2 = glob.glob(os.path.join(data, "outbox/new/*"))
    t.eq(len(mails2), len(mails), "no mail without an address")


def silence(t, srv, staff, binary, data, cfg):
    s, h, b = inquiry(srv, "Ich möchte mit einem Apotheker sprechen")
    conv = b["conversation"]
    s, h, b = handoff(srv, PLAIN + " (zweiter Versuch)", conversation=conv)
    t.eq(s, 201, f"handoff of the conversation: {b}")
    tid = b["ticket"]
    s, h, b = inquiry(srv, "Haben Sie Ibuprofen 400 da?", conv)
    t.check(s == 200 and b["products"] == [] and b["handoff"]["active"] is True
            and b["handoff"]["ticket"] == tid and b["handoff"]["status"] == "open"
            and b["handoff"]["offered"] is False, f"the assistant stays silent: {b['handoff']}")
    t.check("Apotheker" in b["reply"] and "nicht" in b["reply"] and b["disclosure"],
            f"and says a pharmacist is on it: {b['reply']}")
    t.eq(b["conversation"], conv, "in the same conversation")
    s, h, b = inquiry(srv, "Wo ist meine Bestellung AP-100231?", conv)
    t.check(b["order"] is None and b["handoff"]["active"], "no order flow while handed off")
    srv.stop()
    srv = wrap(Server(binary, data, cfg).start())
    staff.srv = srv
    s, h, b = inquiry(srv, "Haben Sie Ibuprofen 400 da?", conv)
    t.check(b["handoff"]["active"] is True and b["products"] == [] and b["conversation"] == conv,
            "silent after a restart too: the link is in the store")
    s, h, b = inquiry(srv, "Mein Sohn hat 20 Tabletten Paracetamol geschluckt", conv)
    t.check(b["reply"].startswith("112") and b["decision"] == "emergency" and b["handoff"]["active"],
            f"an emergency still gets 112 first: {b['reply'][:40]}")
    x = staff.ticket(tid)
    t.eq(x["priority"], "emergency", "and raises the ticket to the top")
    staff.post(f"/api/v1/staff/handoffs/{tid}/claim")
    s, h, b = inquiry(srv, "Hallo?", conv)
    t.eq(b["handoff"]["status"], "claimed", "the customer sees the status")
    s, h, b = handoff(srv, PLAIN + " (zweiter Versuch)", conversation=conv)
    t.check(s == 200 and b["ticket"] == tid and b["status"] == "claimed",
            f"a late retry gets the ticket's current status: {b}")
    staff.post(f"/api/v1/staff/handoffs/{tid}/close")
    s, h, b = inquiry(srv, "Haben Sie Ibuprofen 400 da?", conv)
    t.check(b["handoff"] is None and b["products"] and "abgeschlossen" in b["reply"],
            f"after closing: one notice, then answers again: {b['reply'][:80]}")
    s, h, b = inquiry(srv, "Haben Sie Ibuprofen 400 da?", conv)
    t.check(b["products"] and "abgeschlossen" not in b["reply"], "the notice comes once")
    s, h, b = inquiry(srv, "Ich möchte mit einem Apotheker sprechen", conv)
    t.check(b["handoff"]["offered"] is True, "a new handoff can be asked for")
    s, h, b = handoff(srv, PLAIN + " (zweiter Versuch)", conversation=conv)
    t.check(s == 201 and b["ticket"] != tid, "and the same message opens a new ticket after closing")
    return srv


def retention(t, srv, staff, binary, data, cfg):
    s, h, b = handoff(srv, HEALTH, consent=CONSENT, contact={"email": "kunde.geheim@example.org"})
    old, old_tok = b["ticket"], b["token"]
    staff.post(f"/api/v1/staff/handoffs/{old}/reply", {"text": "Antwort mit Gesundheitsbezug"})
    staff.post(f"/api/v1/staff/handoffs/{old}/close")
    s, h, b = handoff(srv, HEALTH + " (offen)", consent=CONSENT)
    open_id = b["ticket"]
    srv.stop()
    rc, out, err = run(binary, "audit-verify", data=data)
    entries_before = out
    env_offset(29 * 86400)
    rc, out, err = run(binary, "purge", "--config", cfg, data=data)
    env_offset(0)
    t.check(rc == 0 and "texts of 0 closed tickets" in out, f"29 days after closing nothing goes: {out} {err}")
    env_offset(31 * 86400)
    rc, out, err = run(binary, "purge", "--config", cfg, data=data)
    env_offset(0)
    t.check(rc == 0 and "closed tickets deleted" in out and "texts of 0 " not in out,
            f"31 days after closing the texts go: {out} {err}")
    rc, out, err = run(binary, "audit-verify", data=data)
    t.check(rc == 0 and out == entries_before, f"the audit log is untouched: {out}")
    srv = wrap(Server(binary, data, cfg).start())
    staff.srv = srv
    t.eq(staff.get("/api/v1/staff/me")[0], 401, "purge also removed the expired session")
    staff = Staff(srv, "anna", "anna-passwort-1", ip="192.0.2.1")
    x = staff.ticket(old)
    t.check(x and x["message"] is None and x["contact"] is None
            and all(r["text"] is None for r in x["replies"]) and x["status"] == "closed"
            and x["created_at"], f"the purged ticket keeps only its facts: {x}")
    y = staff.ticket(open_id)
    t.eq(y["message"], HEALTH + " (offen)", "an open ticket keeps its text")
    t.eq(view(srv, old, old_tok)[0], 404, "the purged ticket's token is gone")
    rc, out, err = run(binary, "purge", "--config", "/nonexistent.json", data=data)
    t.eq(rc, 1, "purge with a missing config file fails")
    # the running service applies retention by itself (at start, then every interval_s)
    staff.post(f"/api/v1/staff/handoffs/{open_id}/close")
    srv.stop()
    env_offset(31 * 86400)
    try:
        srv = wrap(Server(binary, data, cfg).start())
    finally:
        env_offset(0)
    staff = Staff(srv, "anna", "anna-passwort-1", ip="192.0.2.1")
    gone = False
    for _ in range(50):
        y = staff.ticket(open_id)
        if y and y["message"] is None:
            gone = True
            break
        time.sleep(0.1)
    t.check(gone, "the service's maintenance thread deleted the text 31 days after closing")
    srv.stop()
    srv = wrap(Server(binary, data, cfg).start())
    return srv


IP = [0]


def wrap(srv):
    """every request from its own client address, unless a test names one (limits are counted
    per address)"""
    orig = srv.request

    def request(method, path, body=None, headers=None, conn=None):
        h = dict(headers or {})
        if "X-Forwarded-For" not in h:
            IP[0] += 1
            h["X-Forwarded-For"] = f"10.{IP[0] >> 16 & 255}.{IP[0] >> 8 & 255}.{IP[0] & 255}"
        return orig(method, path, body, h, conn)
    srv.request = request
    return srv


def main():
    binary, repo = sys.argv[1], sys.argv[2]
    t = Checks()
    tmp = tmpdir()
    srv = None
    try:
        data = make_data(binary, repo, tmp)
        add_staff(binary, data, "anna", "anna-passwort-1", "admin")
        cfg = os.path.join(tmp, "config.json")
        with open(cfg, "w") as f:
            json.dump({"trusted_proxies": ["127.0.0.1"], "http": {"cookie_secure": False},
                       "rate_limit": {"handoffs_per_hour": 3, "ticket_views_per_minute": 5,
                                      "inquiries_per_minute": 0}}, f)
        srv = wrap(Server(binary, data, cfg).start())
        wrap(srv)
        staff = Staff(srv, "anna", "anna-passwort-1", ip="192.0.2.1")
        tid, tok = create_and_validate(t, srv, staff)
        consent(t, srv, staff)
        conv, tid2, tok2 = retries(t, srv, staff)
        tokens(t, srv, tid, tok, tok2)
        limits(t, srv)
        reply_mail(t, srv, staff, data)
        srv = silence(t, srv, staff, binary, data, cfg)
        srv = retention(t, srv, staff, binary, data, cfg)
        srv.stop()
        srv = None
        log = ""
        for path in glob.glob(os.path.join(tmp, "server-*.log")):
            with open(path, encoding="utf-8", errors="replace") as f:
                log += f.read()
        t.check(log.count("event=listening") >= 5, "the logs of every server run are read")
        leaked = [s for s in SECRETS if s in log]
        t.eq(leaked, [], "no message, name, address or phone in the server's log")
        t.check(tok not in log and tok2 not in log, "no token in the log")
    finally:
        if srv:
            srv.stop()
        cleanup(tmp)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
