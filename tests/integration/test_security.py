#!/usr/bin/env python3
"""Security checks against the real server:
- every response of a list of requests over all routes and error paths (200, 204, 400, 403,
  404, 405, 413 by Content-Length and chunked, 415, 422, 429) carries the security headers;
- no response leaks a stack trace, a source path, SQL or a sanitizer report;
- canary values (a postcode, an e-mail address, a health question, a token, a password)
  planted in bodies, query strings and headers never appear in the server's stdout or stderr,
  even at log_level debug.
REQUESTS and PLANTS are tables: routes added later (handoffs, leads, staff) get rows there.
Usage: test_security.py PHARMDESK_BIN REPO_DIR"""
import json
import os
import re
import sys

from pdserver import (Server, make_data, parse_response, raw_exchange, run_test, valid_pzn_not_in,
                      write_config)

API_HEADERS = {
    "content-security-policy": "default-src 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    "permissions-policy": "camera=()",
    "cross-origin-opener-policy": "same-origin",
}
JSON = {"Content-Type": "application/json"}
ORIGIN = "https://www.apotheke.example"

# (what, method, path, headers, body, expected status)
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
]

CANARIES = {
    "postcode": "97461",
    "email": "kanarie.q7x@example.org",
    "health": "Zzyqxitis",
    "token": "tok-CANARY-4f9d2a7b",
    "password": "Pw-CANARY-58ac!x",
}
C = CANARIES
# requests that carry the canaries in every place a client can put them
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
    ("POST", "/api/v1/leads", JSON, {"email": C["email"], "purpose": "newsletter"}),
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


def check_headers(t, hdrs, what):
    for k, v in API_HEADERS.items():
        t.check(v in hdrs.get(k, ""), f"{what}: header {k} contains {v!r} (got {hdrs.get(k)!r})")


def check_leaks(t, raw, what):
    for rx, name in LEAKS:
        m = rx.search(raw or b"")
        t.check(not m, f"{what}: the response shows {name}: {m.group(0) if m else ''!r}")


def body(t, binary, repo, tmp, *_):
    data = make_data(binary, repo, tmp)
    cfg = write_config(tmp, {"allowed_origins": [ORIGIN], "log_level": "debug",
                             "rate_limit": {"searches_per_minute": 200,
                                            "inquiries_per_minute": 200}})
    srv = Server(binary, data, cfg).start()
    with open(os.path.join(repo, "catalog/demo/catalog.csv"), encoding="utf-8") as f:
        unknown = valid_pzn_not_in({line.split(",")[0] for line in f})

    for what, method, path, headers, body, want in REQUESTS:
        path = path.replace("{unknown}", unknown)
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        c = srv.conn()
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        raw = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        if want is not None:
            t.eq(r.status, want, f"{what}: status")
        check_headers(t, hdrs, what)
        check_leaks(t, raw, what)
        if r.status >= 400 and method != "HEAD":
            try:
                err = json.loads(raw)["error"]
                t.check(err["code"] and err["message"], f"{what}: error code and message")
            except (ValueError, KeyError, TypeError):
                t.check(False, f"{what}: error body is JSON: {raw[:80]!r}")

    # a chunked body over the limit: 413 at once, headers and all, then the connection closes
    head = (b"POST /api/v1/inquiries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    status, hdrs, body = parse_response(
        raw_exchange(srv.port, head, [b"1000\r\n" + b"a" * 4096 + b"\r\n"] * 64)[0])
    t.eq(status, 413, "chunked body over the limit")
    t.eq(hdrs.get("connection", "").lower(), "close", "chunked 413 closes the connection")
    check_headers(t, hdrs, "chunked 413")
    check_leaks(t, body, "chunked 413")
    # framing two ways
    status, hdrs, body = parse_response(raw_exchange(
        srv.port, b"POST /api/v1/inquiries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                  b"\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")[0])
    t.eq(status, 400, "Content-Length with Transfer-Encoding")
    check_headers(t, hdrs, "framing 400")

    # 429: a tight search limit for one client (behind no proxy: all of ours share 127.0.0.1)
    srv.stop()
    write_config(tmp, {"allowed_origins": [ORIGIN], "log_level": "debug",
                       "rate_limit": {"searches_per_minute": 3, "inquiries_per_minute": 3}})
    srv = Server(binary, data, cfg).start()
    statuses = []
    for _ in range(5):
        s, h, b = srv.request("GET", "/api/v1/products?q=Aspirin")
        statuses.append(s)
    t.eq(statuses[-1], 429, f"search limit ({statuses})")
    check_headers(t, h, "429")
    t.check(h.get("retry-after", "").isdigit(), "429 has Retry-After")
    for _ in range(4):
        s, h, b = srv.request("POST", "/api/v1/inquiries", {"message": "Hallo"})
    t.eq(s, 429, "inquiry limit")
    check_headers(t, h, "inquiry 429")

    # canaries: planted everywhere, found nowhere in the logs
    srv.stop()
    write_config(tmp, {"allowed_origins": [ORIGIN], "log_level": "debug",
                       "trusted_proxies": ["127.0.0.1"],
                       "rate_limit": {"searches_per_minute": 0, "inquiries_per_minute": 0}})
    srv = Server(binary, data, cfg).start()
    answered = 0
    for method, path, headers, body in PLANTS:
        s, h, b = srv.request(method, path, body, headers=headers)
        answered += 1
        check_leaks(t, json.dumps(b).encode() if isinstance(b, (dict, list)) else b,
                    f"plant {method} {path[:30]}")
    t.eq(answered, len(PLANTS), "every planted request answered")
    t.check(srv.alive(), "alive after the plants")
    rc = srv.stop()
    t.eq(rc, 0, "clean stop")
    out = srv.proc.stdout.read() if srv.proc.stdout else ""
    log = srv.stderr() + out
    t.check("event=request" in log, "the request log was written (log_level debug)")
    # numbers the log writes itself (durations, ports, counts) are not the postcode
    scrubbed = re.sub(r"\b(ts|us|ms|port|products|generation|seq|entries|batches|status|"
                      r"schema_version|threads|requests)=[\w:.\-]+", "", log)
    for name, value in CANARIES.items():
        t.check(value not in scrubbed, f"canary {name} ({value}) not in the server's output")
    t.check("203.0.113.99" not in log, "no client address in the log")
    srv = None


if __name__ == "__main__":
    sys.exit(run_test(body))
