#!/usr/bin/env python3
"""Security checks against the real server:
- every response of a list of requests over all routes and error paths carries the security
  headers: the API's (default-src 'none', DENY, no-store), the public pages' (framed by the
  allowed origins only) and the staff page's (framed by nobody); the error paths are 303, 400,
  401, 403 (also without the CSRF token), 404, 405, 409, 410, 413 by Content-Length and chunked,
  415, 422 and 429, on the inquiry, product, order, handoff, staff, leads, data-request and
  consent routes and the pages;
- no response leaks a stack trace, a source path, SQL or a sanitizer report;
- canary values (a postcode, an e-mail address, a health question, a staff password, and the
  real ticket token, session cookie, CSRF token and lead and data-request tokens the server
  hands out) planted in bodies, query strings, paths and headers never appear in the server's
  stdout or stderr, at log_level debug, in any of the test's servers.
REQUESTS and PLANTS are tables; "{name}" in a path, header or body is a value made by prepare()
(a ticket, a token, a cookie). Usage: test_security.py PHARMDESK_BIN REPO_DIR"""
import json
import os
import re
import sys

from deskutil import CONSENT, EventStream, Staff, add_staff, handoff
from pdserver import (Server, make_data, parse_response, raw_exchange, run_test, valid_pzn_not_in,
                      write_config)
from test_leads import BASE, link, wait_mails
from test_leads import body as mail_text

COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=()",
    "cross-origin-opener-policy": "same-origin",
}
API_HEADERS = {
    **COMMON_HEADERS,
    "content-security-policy": "default-src 'none'",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}
PAGE_HEADERS = {  # the public pages may be framed by the allowed origins (the widget)
    **COMMON_HEADERS,
    "content-security-policy": ("default-src 'self'", "object-src 'none'", "frame-ancestors 'self'"),
}
STAFF_PAGE_HEADERS = {
    **COMMON_HEADERS,
    "content-security-policy": ("default-src 'self'", "frame-ancestors 'none'"),
    "x-frame-options": "DENY",
}
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ORIGIN = "https://www.apotheke.example"
PW = {"anna": "Pw-CANARY-58ac!x", "bert": "bert-passwort-sicher-1", "carl": "carl-passwort-sicher-1"}
ANNA = {"Cookie": "pd_session={anna_cookie}"}  # admin
ANNA_W = {**ANNA, "X-CSRF-Token": "{anna_csrf}"}
BERT = {"Cookie": "pd_session={bert_cookie}"}  # pharmacist
BERT_W = {**BERT, "X-CSRF-Token": "{bert_csrf}"}
CARL_W = {"Cookie": "pd_session={carl_cookie}", "X-CSRF-Token": "{carl_csrf}"}
HEALTH_MSG = "Mein Sohn hat seit gestern Fieber und Ausschlag, bitte rufen Sie mich an"
LEAD = {"email": "sicher.neu@example.org", "purpose": "newsletter",
        "consent": {"given": True, "text_version": "newsletter-1"}}

# (what, method, path, headers, body, expected status[, headers if not those of the path's kind:
# an answer before any route matched has the API's]); in order: some change what later ones see
REQUESTS = [
    ("health", "GET", "/api/v1/health", {}, None, 200),
    ("health HEAD", "HEAD", "/api/v1/health", {}, None, 200),
    ("product", "GET", "/api/v1/products/81287667", {}, None, 200),
    ("product bad check digit", "GET", "/api/v1/products/81287668", {}, None, 400),
    ("product unknown", "GET", "/api/v1/products/{unknown}", {}, None, 404),
    ("search", "GET", "/api/v1/products?q=Ibuprofen", {}, None, 200),
    ("search without q", "GET", "/api/v1/products", {}, None, 400),
    ("search bad limit", "GET", "/api/v1/products?q=a&limit=999", {}, None, 400),
    ("search POST", "POST", "/api/v1/products/search", JSON, {"q": "Aspirin"}, 200),
    ("inquiry", "POST", "/api/v1/inquiries", JSON, {"message": "Haben Sie Aspirin?"}, 200),
    ("inquiry empty", "POST", "/api/v1/inquiries", JSON, {"message": " "}, 422),
    ("inquiry bad JSON", "POST", "/api/v1/inquiries", JSON, b'{"message": "a",}', 400),
    ("inquiry bad UTF-8", "POST", "/api/v1/inquiries", JSON, b'{"message": "\xff\xfe"}', 400),
    ("inquiry text/plain", "POST", "/api/v1/inquiries", {"Content-Type": "text/plain"},
     b'{"message": "x"}', 415),
    ("inquiry too large", "POST", "/api/v1/inquiries", JSON,
     json.dumps({"message": "x" * 20000}).encode(), 413),
    ("inquiry GET", "GET", "/api/v1/inquiries", {}, None, 405),
    ("order lookup", "POST", "/api/v1/orders/lookup", JSON,
     {"order_number": "AP-100231", "postcode": "10115"}, None),
    ("order lookup bad number", "POST", "/api/v1/orders/lookup", JSON,
     {"order_number": "x", "postcode": "10115"}, 400),
    ("unknown path", "GET", "/api/v1/nothing", {}, None, 404),
    ("unknown method", "DELETE", "/api/v1/health", {}, None, 405),
    ("traversal", "GET", "/api/v1/../../etc/passwd", {}, None, 404),
    ("preflight", "OPTIONS", "/api/v1/inquiries",
     {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}, None, 204),
    ("preflight other origin", "OPTIONS", "/api/v1/inquiries",
     {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, None, 403),
    ("consent texts", "GET", "/api/v1/consent-texts", {}, None, 200),
    # the pages and their files
    ("index page", "GET", "/", {}, None, 200),
    ("widget page", "GET", "/widget", {}, None, 200),
    ("staff page", "GET", "/staff", {}, None, 200),
    ("privacy page", "GET", "/privacy", {}, None, 200),
    ("lead confirm page", "GET", "/leads/confirm?token={spare_token}", {}, None, 200),
    ("lead withdraw page", "GET", "/leads/withdraw?token={spare_token}", {}, None, 200),
    ("static file", "GET", "/static/app.css", {}, None, 200),
    ("static script", "GET", "/static/staff.js", {}, None, 200),
    ("static unknown", "GET", "/static/nothing.js", {}, None, 404),
    ("static traversal", "GET", "/static/..%2f..%2fetc%2fpasswd", {}, None, 404, API_HEADERS),
    ("i18n", "GET", "/i18n/en.json", {}, None, 200),
    ("page POST", "POST", "/privacy", JSON, {}, 405, API_HEADERS),
    # the customer's handoff
    ("handoff", "POST", "/api/v1/handoffs", JSON, {"message": "Bitte rufen Sie mich an"}, 201),
    ("handoff with consent", "POST", "/api/v1/handoffs", JSON,
     {"message": HEALTH_MSG, "consent": CONSENT}, 201),
    ("handoff health without consent", "POST", "/api/v1/handoffs", JSON, {"message": HEALTH_MSG}, 422),
    ("handoff unknown consent text", "POST", "/api/v1/handoffs", JSON,
     {"message": HEALTH_MSG, "consent": {"health_data": True, "text_version": "handoff-99"}}, 422),
    ("handoff empty", "POST", "/api/v1/handoffs", JSON, {"message": "  "}, 422),
    ("handoff bad contact", "POST", "/api/v1/handoffs", JSON,
     {"message": "Rückruf bitte", "contact": {"email": "kein-at"}}, 422),
    ("handoff no message", "POST", "/api/v1/handoffs", JSON, {}, 400),
    ("handoff bad JSON", "POST", "/api/v1/handoffs", JSON, b'{"message": }', 400),
    ("handoff form", "POST", "/api/v1/handoffs", FORM, b"message=x", 415),
    ("handoff too large", "POST", "/api/v1/handoffs", JSON,
     json.dumps({"message": "x" * 20000}).encode(), 413),
    ("handoff GET list", "GET", "/api/v1/handoffs", {}, None, 405),
    ("ticket with token", "GET", "/api/v1/handoffs/{t1}", {"Authorization": "Bearer {t1_token}"},
     None, 200),
    ("ticket wrong token", "GET", "/api/v1/handoffs/{t1}", {"Authorization": "Bearer {t2_token}"},
     None, 404),
    ("ticket no token", "GET", "/api/v1/handoffs/{t1}", {}, None, 404),
    # staff: sessions, CSRF, roles
    ("login", "POST", "/api/v1/staff/login", JSON, {"username": "bert", "password": PW["bert"]}, 200),
    ("login wrong password", "POST", "/api/v1/staff/login", JSON,
     {"username": "bert", "password": "falsch-falsch-falsch"}, 401),
    ("login no password", "POST", "/api/v1/staff/login", JSON, {"username": "bert"}, 400),
    ("login text/plain", "POST", "/api/v1/staff/login", {"Content-Type": "text/plain"}, b"x", 415),
    ("me", "GET", "/api/v1/staff/me", ANNA, None, 200),
    ("me without cookie", "GET", "/api/v1/staff/me", {}, None, 401),
    ("me bogus cookie", "GET", "/api/v1/staff/me",
     {"Cookie": "pd_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, None, 401),
    ("queue", "GET", "/api/v1/staff/handoffs", ANNA, None, 200),
    ("queue open", "GET", "/api/v1/staff/handoffs?status=open", ANNA, None, 200),
    ("queue bad status", "GET", "/api/v1/staff/handoffs?status=lost", ANNA, None, 400),
    ("queue without cookie", "GET", "/api/v1/staff/handoffs", {}, None, 401),
    ("stats today", "GET", "/api/v1/staff/stats/today", ANNA, None, 200),
    ("stats without cookie", "GET", "/api/v1/staff/stats/today", {}, None, 401),
    ("events without cookie", "GET", "/api/v1/staff/events", {}, None, 401),
    ("claim without CSRF", "POST", "/api/v1/staff/handoffs/{t1}/claim", ANNA, None, 403),
    ("claim wrong CSRF", "POST", "/api/v1/staff/handoffs/{t1}/claim",
     {**ANNA, "X-CSRF-Token": "{bert_csrf}"}, None, 403),
    ("claim without cookie", "POST", "/api/v1/staff/handoffs/{t1}/claim", {}, None, 401),
    ("claim", "POST", "/api/v1/staff/handoffs/{t1}/claim", ANNA_W, None, 200),
    ("claim another's", "POST", "/api/v1/staff/handoffs/{t2}/claim", ANNA_W, None, 409),
    ("claim unknown", "POST", "/api/v1/staff/handoffs/aaaaaaaaaaaaaaaa/claim", ANNA_W, None, 404),
    ("reply", "POST", "/api/v1/staff/handoffs/{t1}/reply", {**ANNA_W, **JSON},
     {"text": "Wir rufen Sie gleich an."}, 200),
    ("reply empty", "POST", "/api/v1/staff/handoffs/{t1}/reply", {**ANNA_W, **JSON}, {"text": " "}, 422),
    ("reply without CSRF", "POST", "/api/v1/staff/handoffs/{t1}/reply", {**ANNA, **JSON},
     {"text": "x"}, 403),
    ("close", "POST", "/api/v1/staff/handoffs/{t1}/close", ANNA_W, None, 200),
    ("claim closed", "POST", "/api/v1/staff/handoffs/{t1}/claim", ANNA_W, None, 409),
    ("assign", "POST", "/api/v1/staff/handoffs/{t3}/assign", {**ANNA_W, **JSON}, {"username": "bert"}, 200),
    ("assign unknown user", "POST", "/api/v1/staff/handoffs/{t3}/assign", {**ANNA_W, **JSON},
     {"username": "niemand"}, 422),
    ("assign as pharmacist", "POST", "/api/v1/staff/handoffs/{t3}/assign", {**BERT_W, **JSON},
     {"username": "bert"}, 403),
    ("accounts", "GET", "/api/v1/staff/accounts", ANNA, None, 200),
    ("accounts as pharmacist", "GET", "/api/v1/staff/accounts", BERT, None, 403),
    ("account add", "POST", "/api/v1/staff/accounts", {**ANNA_W, **JSON},
     {"username": "dora", "password": "dora-passwort-sicher-1", "role": "pharmacist"}, 201),
    ("account add again", "POST", "/api/v1/staff/accounts", {**ANNA_W, **JSON},
     {"username": "dora", "password": "dora-passwort-sicher-1", "role": "pharmacist"}, 409),
    ("account add weak", "POST", "/api/v1/staff/accounts", {**ANNA_W, **JSON},
     {"username": "emil", "password": "kurz", "role": "pharmacist"}, 422),
    ("account add as pharmacist", "POST", "/api/v1/staff/accounts", {**BERT_W, **JSON},
     {"username": "emil", "password": "emil-passwort-sicher-1", "role": "pharmacist"}, 403),
    ("account disable", "POST", "/api/v1/staff/accounts/dora/disable", ANNA_W, None, 200),
    ("account enable", "POST", "/api/v1/staff/accounts/dora/enable", ANNA_W, None, 200),
    ("account disable self", "POST", "/api/v1/staff/accounts/anna/disable", ANNA_W, None, 409),
    ("account disable unknown", "POST", "/api/v1/staff/accounts/niemand/disable", ANNA_W, None, 404),
    ("password weak", "POST", "/api/v1/staff/password", {**CARL_W, **JSON},
     {"old_password": PW["carl"], "new_password": "kurz"}, 422),
    ("password wrong old", "POST", "/api/v1/staff/password", {**CARL_W, **JSON},
     {"old_password": "nicht-das-alte-1", "new_password": "carl-passwort-neu-22"}, 403),
    ("password", "POST", "/api/v1/staff/password", {**CARL_W, **JSON},
     {"old_password": PW["carl"], "new_password": "carl-passwort-neu-22"}, 200),
    ("logout without CSRF", "POST", "/api/v1/staff/logout", {"Cookie": "pd_session={carl_cookie}"},
     None, 403),
    ("logout", "POST", "/api/v1/staff/logout", CARL_W, None, 200),
    ("after logout", "GET", "/api/v1/staff/me", {"Cookie": "pd_session={carl_cookie}"}, None, 401),
    # leads and data requests
    ("lead", "POST", "/api/v1/leads", JSON, LEAD, 202),
    ("lead without consent", "POST", "/api/v1/leads", JSON, {**LEAD, "consent": None}, 422),
    ("lead consent false", "POST", "/api/v1/leads", JSON,
     {**LEAD, "consent": {"given": False, "text_version": "newsletter-1"}}, 422),
    ("lead bad address", "POST", "/api/v1/leads", JSON, {**LEAD, "email": "kein-at"}, 422),
    ("lead bad purpose", "POST", "/api/v1/leads", JSON, {**LEAD, "purpose": "coupons"}, 422),
    ("lead no address", "POST", "/api/v1/leads", JSON, {"purpose": "newsletter"}, 400),
    ("lead form", "POST", "/api/v1/leads", FORM, b"email=a", 415),
    ("confirm", "POST", "/api/v1/leads/confirm", JSON, {"token": "{l1_confirm}"}, 200),
    ("confirm unknown", "POST", "/api/v1/leads/confirm", JSON,
     {"token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, 404),
    ("confirm no token", "POST", "/api/v1/leads/confirm", JSON, {}, 400),
    ("withdraw link", "GET", "/api/v1/leads/withdraw?token={l1_withdraw}", {}, None, 303),
    ("withdraw", "POST", "/api/v1/leads/withdraw", JSON, {"token": "{l1_withdraw}"}, 200),
    ("withdraw again", "POST", "/api/v1/leads/withdraw", JSON, {"token": "{l1_withdraw}"}, 200),
    ("confirm withdrawn", "POST", "/api/v1/leads/confirm", JSON, {"token": "{l1_confirm}"}, 410),
    ("one-click withdraw", "POST", "/api/v1/leads/withdraw?token={l2_withdraw}", FORM,
     b"List-Unsubscribe=One-Click", 200),
    ("one-click without the key", "POST", "/api/v1/leads/withdraw?token={l2_withdraw}", FORM,
     b"a=b", 400),
    ("data request", "POST", "/api/v1/data-requests", JSON,
     {"email": "sicher.l1@example.org", "kind": "export"}, 202),
    ("data request bad kind", "POST", "/api/v1/data-requests", JSON,
     {"email": "sicher.l1@example.org", "kind": "delete"}, 422),
    ("data request bad address", "POST", "/api/v1/data-requests", JSON,
     {"email": "kein-at", "kind": "export"}, 422),
    ("data confirm", "POST", "/api/v1/data-requests/confirm", JSON, {"token": "{data_token}"}, 200),
    ("data confirm again", "POST", "/api/v1/data-requests/confirm", JSON, {"token": "{data_token}"}, 410),
    ("data confirm unknown", "POST", "/api/v1/data-requests/confirm", JSON,
     {"token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, 404),
]

# 429 with limits of 2 (or the fixed 60 a minute of the token calls): (what, method, path,
# headers, body, requests to send); the last must be 429 with Retry-After
LIMITED = [
    ("search", "GET", "/api/v1/products?q=Aspirin", {}, None, 5),
    ("inquiry", "POST", "/api/v1/inquiries", JSON, {"message": "Hallo"}, 4),
    ("login", "POST", "/api/v1/staff/login", JSON, {"username": "bert"}, 4),  # 400s, no Argon2id
    ("handoff", "POST", "/api/v1/handoffs", JSON, {"message": "Bitte Rückruf"}, 4),
    ("ticket view", "GET", "/api/v1/handoffs/{t1}", {"Authorization": "Bearer {t1_token}"}, None, 4),
    ("lead", "POST", "/api/v1/leads", JSON, LEAD, 4),
    ("data request", "POST", "/api/v1/data-requests", JSON, {"email": "x@example.org", "kind": "export"}, 4),
    ("confirm", "POST", "/api/v1/leads/confirm", JSON, {"token": "{spare_token}"}, 62),
]

CANARIES = {
    "postcode": "97461",
    "email": "kanarie.q7x@example.org",
    "health": "Zzyqxitis",
    "token": "tok-CANARY-4f9d2a7b",
    "password": PW["anna"],
}
C = CANARIES
# requests that carry the canaries in every place a client can put them; the real tokens,
# cookies and passwords of REQUESTS are canaries too (prepare adds them)
PLANTS = [
    ("POST", "/api/v1/inquiries", JSON,
     {"message": f"Ich habe {C['health']}, meine PLZ ist {C['postcode']}, Mail {C['email']}"}),
    ("POST", "/api/v1/inquiries", JSON,
     {"message": f"Mein Passwort ist {C['password']} und mein Token {C['token']}",
      "conversation": C["token"]}),
    ("POST", "/api/v1/orders/lookup", JSON, {"order_number": "AP-100231", "postcode": C["postcode"]}),
    ("POST", "/api/v1/orders/lookup", JSON, {"order_number": C["email"], "postcode": C["postcode"]}),
    ("POST", "/api/v1/products/search", JSON, {"q": C["health"]}),
    ("GET", f"/api/v1/products?q={C['health']}&token={C['token']}", {}, None),
    ("GET", f"/api/v1/products/{C['postcode']}", {}, None),
    ("GET", f"/api/v1/{C['email']}", {}, None),
    ("GET", "/api/v1/health", {"Authorization": f"Bearer {C['token']}",
                                "Cookie": f"session={C['token']}; pw={C['password']}",
                                "X-Forwarded-For": "203.0.113.99", "From": C["email"]}, None),
    ("POST", "/api/v1/staff/login", JSON, {"username": C["email"], "password": C["password"]}),
    ("POST", "/api/v1/staff/login", JSON, {"username": "anna", "password": C["password"]}),
    ("POST", "/api/v1/leads", JSON, {"email": C["email"], "purpose": "newsletter"}),
    ("POST", "/api/v1/leads", JSON, {"email": C["email"], "purpose": "newsletter",
                                     "page": f"/filiale/{C['postcode']}?plz={C['postcode']}",
                                     "consent": {"given": True, "text_version": "newsletter-1"}}),
    ("POST", "/api/v1/data-requests", JSON, {"email": C["email"], "kind": "export"}),
    ("POST", "/api/v1/leads/confirm", JSON, {"token": C["token"]}),
    ("GET", f"/leads/confirm?token={C['token']}&email={C['email']}", {}, None),
    ("GET", f"/api/v1/leads/withdraw?token={C['token']}", {}, None),
    ("POST", "/api/v1/handoffs", JSON,
     {"message": f"Ich habe {C['health']} und Fieber, PLZ {C['postcode']}", "consent": CONSENT,
      "contact": {"name": "Frau Kanarie", "email": C["email"], "phone": "0171 9746100"}}),
    ("POST", "/api/v1/handoffs", JSON, {"message": f"Ich habe {C['health']} und Fieber"}),
    ("GET", "/api/v1/handoffs/{t2}", {"Authorization": f"Bearer {C['token']}"}, None),
    ("GET", f"/api/v1/handoffs/{C['token']}", {"Authorization": "Bearer {t2_token}"}, None),
    ("POST", "/api/v1/staff/handoffs/{t3}/reply", {**BERT_W, **JSON},
     {"text": f"Zu {C['health']}: bitte kommen Sie vorbei ({C['postcode']})"}),
    ("GET", "/api/v1/staff/me", {"Cookie": f"pd_session={C['token']}"}, None),
    ("POST", "/api/v1/staff/handoffs/{t3}/claim", {**BERT, "X-CSRF-Token": C["token"]}, None),
    ("POST", "/api/v1/inquiries", JSON, f'{{"message": "{C["health"]}", "bad": }}'.encode()),
    ("POST", "/api/v1/inquiries", {"Content-Type": "text/plain"}, C["password"].encode()),
]

LEAKS = [
    (re.compile(rb"\.[ch]:\d+"), "a source location"),
    (re.compile(rb"/(work|home|usr|tmp|build)/"), "a file path"),
    (re.compile(rb"\b(SELECT|INSERT|UPDATE|DELETE|PRAGMA)\b"), "SQL"),
    (re.compile(rb"(?i)sqlite|no such (table|column)|constraint failed"), "a database message"),
    (re.compile(rb"AddressSanitizer|runtime error|Traceback|#\d+ 0x[0-9a-f]+|segfault",
                re.I), "a crash report"),
]


def profile(path):
    """the headers a path's answers must carry"""
    if path.startswith("/staff"):
        return STAFF_PAGE_HEADERS
    return API_HEADERS if path.startswith("/api/") else PAGE_HEADERS


def check_headers(t, hdrs, what, want=API_HEADERS):
    for k, v in want.items():
        for part in (v,) if isinstance(v, str) else v:
            t.check(part in hdrs.get(k, ""), f"{what}: header {k} contains {part!r} (got {hdrs.get(k)!r})")
    if want is PAGE_HEADERS:
        t.check("x-frame-options" not in hdrs, f"{what}: a public page may be framed by the allowed "
                                               "origins (no X-Frame-Options)")


def check_leaks(t, raw, what):
    for rx, name in LEAKS:
        m = rx.search(raw or b"")
        t.check(not m, f"{what}: the response shows {name}: {m.group(0) if m else ''!r}")


def fill(x, values):
    """x with every "{name}" of values replaced, in strings, bytes, dicts and lists"""
    if isinstance(x, str):
        for k, v in values.items():
            x = x.replace("{" + k + "}", v)
        return x
    if isinstance(x, bytes):
        return fill(x.decode("latin-1"), values).encode("latin-1")
    if isinstance(x, dict):
        return {fill(k, values): fill(v, values) for k, v in x.items()}
    if isinstance(x, list):
        return [fill(v, values) for v in x]
    return x


def send(srv, method, path, headers, body, values):
    """one request with the values filled in: (status, headers, raw body)"""
    path, headers, body = fill(path, values), fill(headers, values), fill(body, values)
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    c = srv.conn()
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    raw = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hdrs, raw


def lead_tokens(srv, data, addr):
    """signs addr up; the confirm and withdraw tokens of its mail"""
    srv.request("POST", "/api/v1/leads", {**LEAD, "email": addr})
    got = wait_mails(data, addr, 1)
    text = mail_text(got[0]) if got else ""
    return link(text, "/leads/confirm") or "", link(text, "/leads/withdraw") or ""


def prepare(t, srv, data, unknown):
    """staff sessions, tickets and lead tokens for REQUESTS: the values of its "{name}"s, all of
    them canaries too"""
    v = {"unknown": unknown}
    for user in ("anna", "bert", "carl"):
        st = Staff(srv, user, PW[user])
        v[f"{user}_cookie"], v[f"{user}_csrf"] = st.cookie, st.csrf
    for n in (1, 2, 3):
        s, h, b = handoff(srv, f"Bitte rufen Sie mich an ({n})")
        t.eq(s, 201, f"ticket {n}")
        v[f"t{n}"], v[f"t{n}_token"] = b["ticket"], b["token"]
    s, h, b = srv.request("POST", f"/api/v1/staff/handoffs/{v['t2']}/claim", b"",
                          headers=fill(BERT_W, v))
    t.eq(s, 200, "bert holds ticket 2")
    v["l1_confirm"], v["l1_withdraw"] = lead_tokens(srv, data, "sicher.l1@example.org")
    v["spare_token"], v["l2_withdraw"] = lead_tokens(srv, data, "sicher.l2@example.org")
    srv.request("POST", "/api/v1/data-requests", {"email": "sicher.l1@example.org", "kind": "erasure"})
    got = [m for m in wait_mails(data, "sicher.l1@example.org", 2) if "/data/confirm" in mail_text(m)]
    v["data_token"] = link(mail_text(got[0]), "/data/confirm") if got else ""
    t.check(all(v.values()), f"everything prepared: {[k for k, x in v.items() if not x]}")
    return v


def scrubbed(log):
    """the log without the numbers it writes itself (times, durations, ports, counts: not the
    postcode); only digits and time stamps are taken out, never a token"""
    return re.sub(r"\b(ts|us|ms|port|products|generation|seq|entries|batches|status|"
                  r"schema_version|threads|requests)=[\dTZ:.\-]+\b", "", log)


def body(t, binary, repo, tmp, *_):
    data = make_data(binary, repo, tmp)
    for user, role in (("anna", "admin"), ("bert", "pharmacist"), ("carl", "pharmacist")):
        add_staff(binary, data, user, PW[user], role)
    base = {"allowed_origins": [ORIGIN], "log_level": "debug", "public_base_url": BASE,
            "mail": {"retry_initial_s": 1}}
    cfg = write_config(tmp, {**base, "rate_limit": {"searches_per_minute": 200,
                                                    "inquiries_per_minute": 200}})
    srv = Server(binary, data, cfg).start()
    logs = []
    with open(os.path.join(repo, "catalog/demo/catalog.csv"), encoding="utf-8") as f:
        unknown = valid_pzn_not_in({line.split(",")[0] for line in f})
    values = prepare(t, srv, data, unknown)

    for what, method, path, headers, body, want, *want_headers in REQUESTS:
        status, hdrs, raw = send(srv, method, path, headers, body, values)
        if want is not None:
            t.eq(status, want, f"{what}: status ({raw[:100]!r})")
        check_headers(t, hdrs, what, want_headers[0] if want_headers else profile(path))
        check_leaks(t, raw, what)
        if status >= 400 and method != "HEAD":
            try:
                err = json.loads(raw)["error"]
                t.check(err["code"] and err["message"], f"{what}: error code and message")
            except (ValueError, KeyError, TypeError):
                t.check(False, f"{what}: error body is JSON: {raw[:80]!r}")

    # the staff's live event stream: its headers before the first event
    ev = EventStream(srv.port, values["anna_cookie"])
    t.eq(ev.status, 200, "event stream")
    hdrs = {}
    for line in ev.headers.split("\r\n")[1:]:
        k, _, val = line.partition(":")
        hdrs[k.strip().lower()] = val.strip()
    check_headers(t, hdrs, "event stream")
    ev.close()

    # a chunked body over the limit: 413 at once, headers and all, then the connection closes
    for path in ("/api/v1/inquiries", "/api/v1/handoffs", "/api/v1/leads"):
        head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        status, hdrs, body = parse_response(
            raw_exchange(srv.port, head, [b"1000\r\n" + b"a" * 4096 + b"\r\n"] * 64)[0])
        t.eq(status, 413, f"{path}: chunked body over the limit")
        t.eq(hdrs.get("connection", "").lower(), "close", f"{path}: chunked 413 closes the connection")
        check_headers(t, hdrs, f"{path}: chunked 413")
        check_leaks(t, body, f"{path}: chunked 413")
    # framing two ways
    status, hdrs, body = parse_response(raw_exchange(
        srv.port, b"POST /api/v1/inquiries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                  b"\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")[0])
    t.eq(status, 400, "Content-Length with Transfer-Encoding")
    check_headers(t, hdrs, "framing 400")
    srv.stop()
    logs.append(srv.stderr() + (srv.proc.stdout.read() or ""))

    # 429: tight limits for one client (behind no proxy: all of ours share 127.0.0.1)
    write_config(tmp, {**base, "rate_limit": {
        "searches_per_minute": 3, "inquiries_per_minute": 3, "logins_per_minute": 2,
        "handoffs_per_hour": 2, "ticket_views_per_minute": 2, "leads_per_client": 2}})
    srv = Server(binary, data, cfg).start()
    for what, method, path, headers, body, n in LIMITED:
        statuses = [send(srv, method, path, headers, body, values) for _ in range(n)]
        s, h, raw = statuses[-1]
        t.eq(s, 429, f"{what} limit ({[x[0] for x in statuses]})")
        check_headers(t, h, f"{what} 429")
        t.check(h.get("retry-after", "").isdigit(), f"{what}: 429 has Retry-After")
        check_leaks(t, raw, f"{what} 429")
    srv.stop()
    logs.append(srv.stderr() + (srv.proc.stdout.read() or ""))

    # canaries: planted everywhere, found nowhere in the logs
    write_config(tmp, {**base, "trusted_proxies": ["127.0.0.1"],
                       "rate_limit": {"searches_per_minute": 0, "inquiries_per_minute": 0,
                                      "leads_per_client": 0, "handoffs_per_hour": 0,
                                      "logins_per_minute": 0, "ticket_views_per_minute": 0}})
    srv = Server(binary, data, cfg).start()
    answered = 0
    for method, path, headers, body in PLANTS:
        s, h, raw = send(srv, method, path, headers, body, values)
        answered += 1
        check_leaks(t, raw, f"plant {method} {path[:30]}")
    t.eq(answered, len(PLANTS), "every planted request answered")
    t.check(srv.alive(), "alive after the plants")
    rc = srv.stop()
    t.eq(rc, 0, "clean stop")
    logs.append(srv.stderr() + (srv.proc.stdout.read() or ""))
    log = "\n".join(logs)
    t.check(log.count("event=request") >= len(REQUESTS) + len(PLANTS),
            "the request log was written (log_level debug)")
    clean = scrubbed(log)
    secrets = {**CANARIES, **{k: v for k, v in values.items()
                             if k.endswith(("_cookie", "_csrf", "_token", "_confirm", "_withdraw"))}}
    secrets.update({f"password {u}": pw for u, pw in PW.items()})
    for name, value in secrets.items():
        t.check(value not in clean, f"canary {name} ({value[:12]}...) not in the servers' output")
    t.check("203.0.113.99" not in log, "no client address in the log")
    t.check("AddressSanitizer" not in log and "runtime error" not in log, "no sanitizer report")
    srv = None


if __name__ == "__main__":
    sys.exit(run_test(body))
