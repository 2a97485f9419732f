#!/usr/bin/env python3
"""Integration tests of leads against the real binary: POST /api/v1/leads with every consent
shape, the double opt-in mail in DATA/outbox/new (links, RFC 5322 and RFC 8058 headers),
confirm, repeat confirm, expiry (48 h, by the test clock), the 7-day purge, withdrawal by JSON
and by one-click form POST, back in stock after import-catalog (confirmed leads only, one mail
each, rx products without price), export and erasure through mailed single-use links, delivery
through a sendmail-compatible command that fails first (retried), rate limits, and no address or
token in the server log.
Usage: test_leads.py PHARMDESK_BIN REPO_DIR"""
import csv
import email
import email.policy
import json
import os
import re
import sys
import threading
import time
import urllib.parse

from pdserver import Checks, Server, cleanup, make_data, run, tmpdir

BASE = "https://apotheke.example"
RX_ZERO = "63615524"      # Ozempic: rx, stock 0
OTC_ZERO = "61388165"     # Paracetamol-ratiopharm 500 mg: pharmacy-only, stock 0, 2.45 EUR
OTC_ZERO2 = "10782972"    # Cetirizin: stock 0
OTC_ZERO3 = "19528583"    # Mucosolvan: stock 0
OTC_ZERO4 = "46171712"    # NiQuitin: stock 0
IN_STOCK = "13926897"


def outbox_files(data):
    d = os.path.join(data, "outbox", "new")
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, f) for f in os.listdir(d))


def parse(path):
    with open(path, "rb") as f:
        raw = f.read()
    return raw, email.message_from_bytes(raw, policy=email.policy.default)


def mails_to(data, addr):
    out = []
    for p in outbox_files(data):
        raw, m = parse(p)
        if m["To"] == addr:
            out.append(m)
    return out


def wait_mails(data, addr, n, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        got = mails_to(data, addr)
        if len(got) >= n:
            return got
        time.sleep(0.1)
    return mails_to(data, addr)


def body(m):
    return m.get_body(preferencelist=("plain",)).get_content()


def link(text, path):
    m = re.search(re.escape(BASE + path) + r"\?token=([A-Za-z0-9_-]+)", text)
    return m.group(1) if m else None


def signup(srv, addr, purpose="newsletter", version=None, pzn=None, lang=None, ip=None,
           consent="default"):
    b = {"email": addr, "purpose": purpose}
    if consent == "default":
        b["consent"] = {"given": True, "text_version": version or f"{purpose}-1"}
    elif consent is not None:
        b["consent"] = consent
    if pzn:
        b["pzn"] = pzn
    if lang:
        b["lang"] = lang
    b["page"] = "/produkte?ref=mail#top"
    h = {"X-Forwarded-For": ip} if ip else None
    return srv.request("POST", "/api/v1/leads", b, headers=h)


def confirm(srv, token):
    return srv.request("POST", "/api/v1/leads/confirm", {"token": token})


def dump(binary, data, env=None):
    rc, out, err = run(binary, "test-leads-dump", data=data)
    return rc, out


def main():
    binary, repo = sys.argv[1], sys.argv[2]
    rc, out, err = run(binary, "test-leads-dump", data="/nonexistent")
    if rc == 2:
        print("SKIP: needs a test build (PD_SANITIZE: test-leads-dump, the test clock)")
        return 77
    t = Checks()
    tmp = tmpdir()
    srv = None
    addrs, tokens = [], []
    logs = []
    try:
        data = make_data(binary, repo, tmp, orders=False)
        cfg = os.path.join(tmp, "config.json")
        with open(cfg, "w") as f:
            json.dump({"trusted_proxies": ["127.0.0.1"], "public_base_url": BASE,
                       "rate_limit": {"leads_per_client": 1000}}, f)
        srv = Server(binary, data, cfg).start()

        # ---- consent shapes: only {"given": true, "text_version": known} counts ----
        s, h, texts = srv.request("GET", "/api/v1/consent-texts")
        t.eq(texts["newsletter"]["version"], "newsletter-1", "current newsletter text")
        bad = [("false", {"given": False, "text_version": "newsletter-1"}),
               ("missing", None),
               ("string true", {"given": "true", "text_version": "newsletter-1"}),
               ("number 1", {"given": 1, "text_version": "newsletter-1"}),
               ("given missing", {"text_version": "newsletter-1"}),
               ("not an object", True),
               ("version missing", {"given": True}),
               ("unknown version", {"given": True, "text_version": "newsletter-99"}),
               ("another purpose's version", {"given": True, "text_version": "back_in_stock-1"}),
               ("null", {"given": None, "text_version": "newsletter-1"}),
               ("list", {"given": [True], "text_version": "newsletter-1"})]
        for name, c in bad:
            s, h, b = signup(srv, "shape@example.org", consent=c)
            t.eq(s, 422, f"consent {name}")
            t.check(isinstance(b, dict) and b.get("error", {}).get("message"),
                    f"consent {name}: a clear message")
        s, h, b = srv.request("POST", "/api/v1/leads",
                              '{"email":"shape@example.org","purpose":"newsletter","consent":'
                              '{"given":false,"given":true,"text_version":"newsletter-1"}}',
                              headers={"Content-Type": "application/json"})
        t.eq(s, 422, "consent given twice")
        t.eq(mails_to(data, "shape@example.org"), [], "no mail without consent")
        s, h, b = signup(srv, "shape@example.org", consent={"given": True, "text_version": "newsletter-1"})
        t.eq((s, b), (202, {"status": "pending_confirmation"}), "consent true")
        addrs.append("shape@example.org")

        for e in ["", "no-at-sign", "a@b", "x@@example.org", "x@example", "x y@example.org",
                  "x@-example.org", "mü@example.org", "a" * 65 + "@example.org"]:
            s, h, b = signup(srv, e)
            t.eq(s, 422, f"bad address {e!r}")
        s, h, b = srv.request("POST", "/api/v1/leads", {"email": 5, "purpose": "newsletter",
                                                          "consent": {"given": True, "text_version": "newsletter-1"}})
        t.eq(s, 400, "address as a number")
        s, h, b = signup(srv, "p@example.org", purpose="coupons")
        t.eq(s, 422, "unknown purpose")
        for pzn, what in [(None, "missing"), ("12345678", "bad check digit"),
                          ("01234567", "unknown product")]:
            s, h, b = signup(srv, "bis@example.org", purpose="back_in_stock", pzn=pzn)
            t.eq(s, 422, f"back_in_stock pzn {what}")
        s, h, b = srv.request("POST", "/api/v1/leads", "email=a", headers={"Content-Type": "application/x-www-form-urlencoded"})
        t.eq(s, 415, "a form is not a sign-up")

        # ---- the confirmation mail ----
        A = "Anna.Schmidt@Example.org"
        s, h, b = signup(srv, A, lang="en")
        t.eq(s, 202, "sign-up")
        a = A.lower()
        addrs += [A, a]
        got = wait_mails(data, a, 1)
        t.eq(len(got), 1, "one confirmation mail")
        m = got[0]
        for hdr in ("Date", "Message-ID", "From", "Subject", "List-Unsubscribe", "List-Unsubscribe-Post"):
            t.check(m[hdr], f"header {hdr}")
        t.eq(m["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click", "RFC 8058 header")
        t.check(str(m["Subject"]).startswith("Please confirm"), f"English subject: {m['Subject']}")
        text = body(m)
        ctok = link(text, "/leads/confirm")
        wtok = link(text, "/leads/withdraw")
        t.check(ctok and wtok and ctok != wtok, "confirm and withdraw links in the body")
        unsub = re.match(r"<(.*)>", m["List-Unsubscribe"]).group(1)
        t.check(unsub.startswith(BASE + "/api/v1/leads/withdraw?token="), f"List-Unsubscribe {unsub}")
        tokens += [ctok, wtok, unsub.split("=", 1)[1]]

        # German by default, umlauts in the subject encoded (RFC 2047)
        s, h, b = signup(srv, "de@example.org")
        addrs.append("de@example.org")
        got = wait_mails(data, "de@example.org", 1)
        t.eq(len(got), 1, "German mail")
        raw = open(outbox_files(data)[-1], "rb").read() if got else b""
        de_mail = [p for p in outbox_files(data) if b"de@example.org" in open(p, "rb").read()]
        raw = open(de_mail[0], "rb").read() if de_mail else b""
        t.check(b"Subject: Bitte best" in raw or b"=?UTF-8?" in raw, "German subject")
        t.check("Bitte bestätigen" in body(got[0]) if got else False, "German body")
        tokens.append(link(body(got[0]), "/leads/confirm") if got else "")

        # ---- no duplicates, no flood ----
        for _ in range(3):
            s, h, b = signup(srv, A, lang="en")
            t.eq(s, 202, "repeat sign-up")
        time.sleep(0.5)
        t.eq(len(mails_to(data, a)), 1, "repeat sign-ups send no new mail")
        rc, out = dump(binary, data)
        t.eq(len([l for l in out.splitlines() if l.startswith("leads:") and a in l]), 1,
             "one lead row for the address")
        # the same sign-up from 16 clients at once: one row, one mail
        P = "parallel@example.org"
        addrs.append(P)
        codes = []
        ths = [threading.Thread(target=lambda i=i: codes.append(signup(srv, P, ip=f"198.51.100.{i}")[0]))
               for i in range(16)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        t.eq(codes, [202] * 16, "parallel sign-ups")
        time.sleep(0.5)
        t.eq(len(wait_mails(data, P, 1)), 1, "parallel sign-ups: one mail")
        rc, out = dump(binary, data)
        t.eq(len([l for l in out.splitlines() if l.startswith("leads:") and P in l]), 1,
             "parallel sign-ups: one lead row")
        F = "flood@example.org"
        addrs.append(F)
        for pzn in (OTC_ZERO, OTC_ZERO2, OTC_ZERO3, OTC_ZERO4):
            s, h, b = signup(srv, F, purpose="back_in_stock", pzn=pzn)
            t.eq(s, 202, f"flood sign-up {pzn}")
        time.sleep(1)
        t.eq(len(wait_mails(data, F, 1)), 1, "at most one confirmation mail per address and window")

        # ---- a GET changes nothing; confirm; repeat; unknown ----
        s, h, b = srv.request("GET", f"/api/v1/leads/withdraw?token={wtok}")
        t.eq(s, 303, "GET of the one-click URL redirects")
        t.eq(h.get("location"), f"/leads/withdraw?token={wtok}", "to the page")
        s, h, b = confirm(srv, ctok)
        t.eq((s, b), (200, {"status": "confirmed"}), "confirm (the GET withdrew nothing)")
        s, h, b = confirm(srv, ctok)
        t.eq((s, b), (200, {"status": "confirmed"}), "repeat confirm is harmless")
        s, h, b = confirm(srv, "A" * 43)
        t.eq(s, 404, "unknown token")
        s, h, b = confirm(srv, "x")
        t.eq(s, 404, "malformed token")
        s, h, b = srv.request("POST", "/api/v1/leads/confirm", {})
        t.eq(s, 400, "no token")
        s, h, b = confirm(srv, wtok)
        t.eq(s, 404, "a withdrawal token does not confirm")
        s, h, b = signup(srv, A, lang="en")
        t.eq(s, 202, "sign-up when confirmed")
        time.sleep(0.3)
        t.eq(len(mails_to(data, a)), 1, "already confirmed: no new mail")

        # ---- withdrawal: JSON, repeat, one-click ----
        s, h, b = srv.request("POST", "/api/v1/leads/withdraw", {"token": wtok})
        t.eq((s, b), (200, {"status": "withdrawn"}), "withdraw")
        s, h, b = srv.request("POST", "/api/v1/leads/withdraw", {"token": wtok})
        t.eq((s, b), (200, {"status": "withdrawn"}), "repeat withdraw")
        s, h, b = confirm(srv, ctok)
        t.eq(s, 410, "a withdrawn sign-up cannot be confirmed by replaying the link")
        O = "oneclick@example.org"
        addrs.append(O)
        signup(srv, O)
        m = wait_mails(data, O, 1)[0]
        otok = link(body(m), "/leads/confirm")
        tokens.append(otok)
        t.eq(confirm(srv, otok)[0], 200, "confirm one-click lead")
        unsub = re.match(r"<(.*)>", m["List-Unsubscribe"]).group(1)
        path = urllib.parse.urlsplit(unsub)
        s, h, b = srv.request("POST", f"{path.path}?{path.query}", "Other=1",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        t.eq(s, 400, "a form without List-Unsubscribe=One-Click")
        s, h, b = srv.request("POST", f"{path.path}?{path.query}", "List-Unsubscribe=One-Click",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        t.eq((s, b), (200, {"status": "withdrawn"}), "RFC 8058 one-click withdrawal")
        rc, out = dump(binary, data)
        t.check(any(l.startswith("consent_ledger:") and O in l and "withdrawn_via=one_click" in l
                    for l in out.splitlines()), "the ledger records the one-click withdrawal")
        ledger_a = [l for l in out.splitlines() if l.startswith("consent_ledger:") and f"email={a} " in l]
        t.eq(len(ledger_a), 1, "one ledger entry for A")
        la = ledger_a[0] if ledger_a else ""
        for field in ("text_version=newsletter-1", "text_lang=en", "page=/produkte ",
                      "signed_up_us=", "mail_sent_us=", "confirmed_us=", "withdrawn_us=",
                      "withdrawn_via=link", "ip_hash=NULL", "consent_text=I "):
            t.check(field in la, f"ledger has {field}")
        s, h, en = srv.request("GET", "/api/v1/consent-texts?lang=en")
        t.check(f"consent_text={en['newsletter']['text']} " in la, "the exact text shown is kept")

        # ---- back in stock ----
        B1, B2, B3, B4 = ("bis.rx@example.org", "bis.pending@example.org", "bis.otc@example.org",
                          "bis.withdrawn@example.org")
        addrs += [B1, B2, B3, B4]
        for who, pzn in ((B1, RX_ZERO), (B2, RX_ZERO), (B3, OTC_ZERO), (B4, RX_ZERO)):
            s, h, b = signup(srv, who, purpose="back_in_stock", pzn=pzn)
            t.eq(s, 202, f"back_in_stock sign-up {who}")
        conf = {}
        for who in (B1, B2, B3, B4):
            m = wait_mails(data, who, 1)[0]
            conf[who] = (link(body(m), "/leads/confirm"), link(body(m), "/leads/withdraw"))
            tokens += list(conf[who])
            t.check("Ozempic" in body(m) or "Paracetamol" in body(m), "the product in the mail")
        for who in (B1, B3, B4):
            t.eq(confirm(srv, conf[who][0])[0], 200, f"confirm {who}")
        t.eq(srv.request("POST", "/api/v1/leads/withdraw", {"token": conf[B4][1]})[0], 200,
             "B4 withdraws")
        with open(os.path.join(repo, "catalog/demo/catalog.csv"), encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
            fields = list(rows[0].keys())

        def import_with(stock):
            path = os.path.join(tmp, "restock.csv")
            with open(path, "w", encoding="utf-8", newline="") as f:
                w = csv.DictWriter(f, fieldnames=fields)
                w.writeheader()
                for r in rows:
                    r = dict(r)
                    if r["pzn"] in stock:
                        r["stock"] = str(stock[r["pzn"]])
                    w.writerow(r)
            return run(binary, "import-catalog", path, "--config", cfg, data=data)

        before = len(outbox_files(data))
        rc, out, err = import_with({RX_ZERO: 5, OTC_ZERO: 7})
        t.eq(rc, 0, f"import-catalog: {err}")
        t.check("2 back in stock (2 mails sent" in out, f"import summary: {out}")
        t.eq(len(outbox_files(data)) - before, 2, "two back-in-stock mails, nothing else")
        rx = [m for m in mails_to(data, B1) if "Verfügbarkeit" in str(m["Subject"])]
        t.eq(len(rx), 1, "the confirmed rx lead got one mail")
        if rx:
            tb = body(rx[0])
            t.check("Ozempic" in tb and "verschreibungspflichtig" in tb, "availability stated")
            for word in ("EUR", "€", "94", "Preis", "Angebot", "günstig", "jetzt kaufen"):
                t.check(word not in tb and word not in str(rx[0]["Subject"]),
                        f"HWG: no {word!r} in the rx notice")
            t.check(rx[0]["List-Unsubscribe"] and link(tb, "/leads/withdraw"),
                    "the notice carries the withdrawal link")
            tokens.append(link(tb, "/leads/withdraw"))
        otc = [m for m in mails_to(data, B3) if "wieder vorrätig" in str(m["Subject"])]
        t.eq(len(otc), 1, "the confirmed OTC lead got one mail")
        t.check(otc and "2,45 EUR" in body(otc[0]), "the OTC notice names the price")
        t.eq(len(mails_to(data, B2)), 1, "the unconfirmed lead got nothing but its confirmation")
        t.eq(len(mails_to(data, B4)), 1, "the withdrawn lead got nothing more")
        rc, out = dump(binary, data)
        t.check(any(l.startswith("leads:") and B1 in l and "status=fulfilled" in l
                    for l in out.splitlines()), "the lead is fulfilled")
        t.check(any(l.startswith("consent_ledger:") and B1 in l and "fulfilled_us=" in l
                    for l in out.splitlines()), "the ledger records the fulfilment")
        before = len(outbox_files(data))
        import_with({RX_ZERO: 0, OTC_ZERO: 0})
        rc, out, err = import_with({RX_ZERO: 3, OTC_ZERO: 3})
        t.eq(len(outbox_files(data)) - before, 0, "a fulfilled lead is not mailed again")

        # ---- data rights: export and erasure through a mailed link ----
        # the same addresses also asked a pharmacist (a handoff ticket with contact), so the
        # export and the erasure reach the tickets too (server/datarights.c)
        HQ = "Ich habe seit dem neuen Blutdruckmittel Schwindel, was soll ich tun?"
        tickets = {}
        for who in (B1, B3):
            s, h, b = srv.request("POST", "/api/v1/handoffs", {
                "message": HQ, "contact": {"name": "Test", "email": who.upper()},
                "consent": {"health_data": True, "text_version": "handoff-1"}})
            t.eq(s, 201, f"a handoff with contact {who}")
            tickets[who] = (b.get("ticket"), b.get("token"))
            tokens.append(b.get("token"))
        s, h, b = srv.request("POST", "/api/v1/data-requests", {"email": B1, "kind": "export"})
        t.eq((s, b), (202, {"status": "pending_confirmation"}), "export request")
        s, h, b = srv.request("POST", "/api/v1/data-requests", {"email": "nobody@example.org", "kind": "export"})
        t.eq((s, b), (202, {"status": "pending_confirmation"}), "unknown address: the same answer")
        addrs.append("nobody@example.org")
        s, h, b = srv.request("POST", "/api/v1/data-requests", {"email": B1, "kind": "delete"})
        t.eq(s, 422, "unknown kind")
        got = [m for m in wait_mails(data, B1, 3) if "Auskunft" in str(m["Subject"])]
        t.eq(len(got), 1, "export mail")
        dtok = link(body(got[0]), "/data/confirm") if got else None
        tokens.append(dtok)
        t.check(dtok and "List-Unsubscribe" not in got[0], "the data link")
        s, h, b = srv.request("POST", "/api/v1/data-requests", {"email": B1, "kind": "export"})
        time.sleep(0.3)
        t.eq(len([m for m in mails_to(data, B1) if "Auskunft" in str(m["Subject"])]), 1,
             "a second request within the window sends no second mail")
        s, h, b = srv.request("POST", "/api/v1/data-requests/confirm", {"token": dtok})
        t.eq(s, 200, "export confirmed")
        t.eq(h.get("cache-control"), "no-store", "the export is not cached")
        exp = b.get("data", {}) if isinstance(b, dict) else {}
        src = exp.get("sources", {})
        t.eq(exp.get("email"), B1, "export names the address")
        t.eq([l["status"] for l in src.get("leads", {}).get("leads", [])], ["fulfilled"], "export: the lead")
        led = src.get("consent_ledger", {}).get("consent_ledger", [])
        t.eq(len(led), 1, "export: the ledger entry")
        t.check(led and led[0].get("text_version") == "back_in_stock-1" and led[0].get("confirmed_at"),
                f"export: the consent with its times {led[:1]}")
        t.check(src.get("leads", {}).get("data_requests"), "export: the request itself")
        exp_tickets = src.get("tickets", {}).get("tickets", [])
        t.eq([x.get("ticket") for x in exp_tickets], [tickets[B1][0]], "export: the handoff ticket")
        t.check(exp_tickets and HQ in json.dumps(exp_tickets, ensure_ascii=False),
                "export: the ticket's message")
        s, h, b = srv.request("POST", "/api/v1/data-requests/confirm", {"token": dtok})
        t.eq(s, 410, "the export link is single-use")

        s, h, b = srv.request("POST", "/api/v1/data-requests", {"email": B3, "kind": "erasure", "lang": "en"})
        t.eq(s, 202, "erasure request")
        got = [m for m in wait_mails(data, B3, 3) if "erasure" in str(m["Subject"])]
        t.eq(len(got), 1, "erasure mail (English)")
        etok = link(body(got[0]), "/data/confirm") if got else None
        tokens.append(etok)
        rc, out = dump(binary, data)
        t.check(B3 in out, "before: the address is stored")
        s, h, b = srv.request("POST", "/api/v1/data-requests/confirm", {"token": etok})
        t.eq(s, 200, "erasure confirmed")
        t.eq(b.get("status") if isinstance(b, dict) else None, "erased", "erased")
        t.eq(b.get("summary", {}).get("sources", {}).get("tickets", {}).get("tickets_erased"), 1,
             f"erasure summary names the ticket: {b.get('summary')}")
        tid, ttok = tickets[B3]
        s, h, b = srv.request("GET", f"/api/v1/handoffs/{tid}", headers={"Authorization": f"Bearer {ttok}"})
        t.check(s in (200, 404), f"erased ticket: {s}")
        t.check(HQ not in json.dumps(b, ensure_ascii=False), "the erased ticket's message is gone")
        t.check(s == 404 or b.get("status") == "closed", "the erased ticket is closed")
        tid1, ttok1 = tickets[B1]
        s, h, b = srv.request("GET", f"/api/v1/handoffs/{tid1}", headers={"Authorization": f"Bearer {ttok1}"})
        t.eq((s, b.get("status")), (200, "open"), "another address's ticket is untouched")
        rc, out = dump(binary, data)
        t.check(B3 not in out and B3.upper() not in out, "after: the address is nowhere in the leads tables")
        pseudo = [l for l in out.splitlines() if l.startswith("consent_ledger:") and "email=NULL" in l
                  and "pseudonymised_us=" in l and "purpose=back_in_stock" in l and f"pzn={int(OTC_ZERO)}" in l]
        t.eq(len(pseudo), 1, "the ledger keeps one pseudonymised entry (proof of past consent)")
        t.check(pseudo and re.search(r"email_hash=[0-9a-f]{64}", pseudo[0]), "keyed hash kept")
        s, h, b = srv.request("POST", "/api/v1/data-requests/confirm", {"token": etok})
        t.eq(s, 410, "the erasure link is single-use")

        # ---- expiry (48 h) and the 7-day purge, by the test clock ----
        E = "expiry@example.org"
        addrs.append(E)
        signup(srv, E)
        etok2 = link(body(wait_mails(data, E, 1)[0]), "/leads/confirm")
        tokens.append(etok2)
        logs.append(srv.stderr())
        srv.stop()
        os.environ["PHARMDESK_TEST_CLOCK_OFFSET_S"] = str(49 * 3600)
        srv = Server(binary, data, cfg).start()
        s, h, b = confirm(srv, etok2)
        t.eq(s, 410, "expired after 48 hours")
        t.check(isinstance(b, dict) and "expired" in b["error"]["message"], "a clear message")
        os.environ["PHARMDESK_TEST_CLOCK_OFFSET_S"] = str(8 * 86400)
        rc, out, err = run(binary, "purge", data=data)  # the maintenance jobs, as serve runs them
        t.eq(rc, 0, f"purge: {err}")
        m = re.search(r"leads: (\d+) unconfirmed sign-ups erased", out)
        t.check(m and int(m.group(1)) >= 3, f"unconfirmed sign-ups purged: {out}")
        rc, out = dump(binary, data)
        for gone in (E, B2, F):
            t.check(gone not in out, f"unconfirmed {gone} erased after 7 days")
        t.check(B1 in out, "a confirmed lead stays")
        del os.environ["PHARMDESK_TEST_CLOCK_OFFSET_S"]
        s, h, b = confirm(srv, etok2)
        t.eq(s, 404, "a purged sign-up's link is unknown")
        logs.append(srv.stderr())
        srv.stop()
        srv = None

        # ---- sendmail-compatible command that fails first, retried ----
        sent = os.path.join(tmp, "sent")
        os.mkdir(sent)
        state = os.path.join(tmp, "state")
        script = os.path.join(tmp, "flaky-sendmail.py")
        with open(script, "w") as f:
            f.write("import os, sys, time\n"
                    "state, out = sys.argv[1], sys.argv[2]\n"
                    "msg = sys.stdin.buffer.read()\n"
                    "n = int(open(state).read()) if os.path.exists(state) else 0\n"
                    "open(state, 'w').write(str(n + 1))\n"
                    "if n == 0:\n    sys.exit(75)\n"
                    "open(os.path.join(out, '%d.eml' % time.time_ns()), 'wb').write(msg)\n")
        cfg2 = os.path.join(tmp, "config2.json")
        with open(cfg2, "w") as f:
            json.dump({"public_base_url": BASE,
                       "mail": {"sendmail": f"{sys.executable} {script} {state} {sent}",
                                "retry_initial_s": 1},
                       "rate_limit": {"leads_per_client": 3}}, f)
        srv = Server(binary, data, cfg2).start()
        S = "sendmail@example.org"
        addrs.append(S)
        s, h, b = signup(srv, S)
        t.eq(s, 202, "sign-up with sendmail")
        end = time.time() + 20
        while time.time() < end and not os.listdir(sent):
            time.sleep(0.2)
        files = os.listdir(sent)
        t.eq(len(files), 1, "delivered by the command after a retry")
        t.eq(open(state).read(), "2", "the first attempt failed, the second succeeded")
        if files:
            m = email.message_from_bytes(open(os.path.join(sent, files[0]), "rb").read(),
                                         policy=email.policy.default)
            t.eq(m["To"], S, "the delivered mail")
            tokens.append(link(body(m), "/leads/confirm"))
        end = time.time() + 10  # the log line follows the delivery
        while time.time() < end and "event=mail_sent" not in srv.stderr():
            time.sleep(0.1)
        log = srv.stderr()
        t.check("event=mail_failed" in log and "event=mail_sent" in log, "failure and retry logged")
        # per-client limit: 3 per hour (one used above)
        codes = [signup(srv, f"rl{i}@example.org")[0] for i in range(3)]
        t.eq(codes, [202, 202, 429], f"per-client rate limit: {codes}")
        addrs += [f"rl{i}@example.org" for i in range(3)]
        logs.append(srv.stderr())

        # ---- nothing personal in the logs ----
        alllog = "".join(logs)
        for x in set(addrs):
            t.check(x not in alllog, f"address {x} not logged")
        for x in tokens:
            t.check(x and x not in alllog, "token not logged")
    finally:
        if srv:
            srv.stop()
        cleanup(tmp)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
