#!/usr/bin/env python3
"""JSON conformance against the real server: every file of JSONTestSuite
(tests/conformance/jsontestsuite/, 318 files) is POSTed as the body of each JSON endpoint.
n_ files (invalid JSON) must be refused with 400, y_ files (valid JSON) must get no 5xx, and i_
files (implementation-defined) anything but a crash, a hang or a 5xx; the server must be alive
at the end and stop cleanly. The endpoints: inquiries, product search, order lookup, handoffs,
leads, lead confirmation, data requests and the staff login. Rate limits are off (the fixed one
of the token calls is kept clear of by changing the client address behind a trusted proxy).
Usage: test_conformance.py PHARMDESK_BIN REPO_DIR"""
import http.client
import json
import os
import sys

from pdserver import Server, make_data, run_test, write_config

# the endpoints whose bodies are JSON (a body that parses but lacks the fields is a 400 or 422
# of the handler; no file of the suite carries a staff login's fields, so no Argon2id runs)
ENDPOINTS = ["/api/v1/inquiries", "/api/v1/products/search", "/api/v1/orders/lookup",
             "/api/v1/handoffs", "/api/v1/leads", "/api/v1/leads/confirm",
             "/api/v1/data-requests", "/api/v1/staff/login"]
BODY_LIMIT = 16 * 1024
# the confirm and withdraw calls have a fixed limit per client (60 a minute, no configuration
# key): the test's requests come through a trusted proxy from a new client address every 50
PER_CLIENT = 50


def client_headers(n):
    return {"Content-Type": "application/json",
            "X-Forwarded-For": f"10.9.{n // PER_CLIENT // 250}.{n // PER_CLIENT % 250 + 1}"}


def post(srv, path, body, conn, n):
    conn.request("POST", path, body=body, headers=client_headers(n))
    r = conn.getresponse()
    raw = r.read()
    return r.status, r.will_close, raw


def body(t, binary, repo, tmp, *_):
    suite = os.path.join(repo, "tests/conformance/jsontestsuite")
    files = sorted(f for f in os.listdir(suite) if f.endswith(".json"))
    t.check(len(files) >= 318, f"the suite has its 318 files (found {len(files)})")
    data = make_data(binary, repo, tmp, orders=True)
    cfg = write_config(tmp, {"rate_limit": {"inquiries_per_minute": 0, "searches_per_minute": 0,
                                            "order_lookups_per_client": 0,
                                            "order_lookups_per_order": 0, "leads_per_client": 0,
                                            "handoffs_per_hour": 0, "logins_per_minute": 0},
                             "trusted_proxies": ["127.0.0.1"], "log_level": "warn"})
    srv = Server(binary, data, cfg).start()
    counts = {}
    sent = 0
    for path in ENDPOINTS:
        conn = None
        for name in files:
            with open(os.path.join(suite, name), "rb") as f:
                body = f.read()
            kind = name[0]
            if len(body) > BODY_LIMIT:
                # refused for its size before any parsing; its first 16 KiB (still invalid:
                # the deep nesting of n_structure_100000_opening_arrays) go through the parser
                s, _, b = srv.request("POST", path, body, headers=client_headers(sent))
                sent += 1
                t.eq(s, 413, f"{path} {name}: {len(body)} bytes are too large")
                body = body[:BODY_LIMIT]
                kind = "n" if kind == "n" else "i"
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            try:
                status, closing, raw = post(srv, path, body, conn, sent)
                sent += 1
            except (OSError, http.client.HTTPException) as e:
                t.check(False, f"{path} {name}: no answer ({e!r})")
                conn.close()
                conn = None
                t.check(srv.alive(), f"{path} {name}: server alive")
                continue
            if closing:
                conn.close()
                conn = None
            counts[(path, kind, status // 100)] = counts.get((path, kind, status // 100), 0) + 1
            if kind == "n":
                t.eq(status, 400, f"{path} {name}: invalid JSON refused")
                if status == 400:
                    try:
                        err = json.loads(raw)["error"]
                        t.check(err["code"] == "bad_json" and err["message"],
                                f"{path} {name}: error body {raw[:80]!r}")
                    except (ValueError, KeyError, TypeError):
                        t.check(False, f"{path} {name}: error body is JSON: {raw[:80]!r}")
            else:
                t.check(status < 500, f"{path} {name}: no 5xx for a {kind}_ file (got {status})")
                t.check(status != 429, f"{path} {name}: reached the handler, not a rate limit")
        if conn:
            conn.close()
        s, _, b = srv.request("GET", "/api/v1/health")
        t.eq(s, 200, f"alive after the suite on {path}")
    for key in sorted(counts):
        print(f"{key[0]} {key[1]}_ files: {key[2]}xx x{counts[key]}")
    t.check(srv.alive(), "server alive at the end")
    rc = srv.stop()
    t.eq(rc, 0, "clean stop after the suite")
    log = srv.stderr()
    t.check("AddressSanitizer" not in log and "runtime error" not in log,
            "no sanitizer report in the server's log")
    srv = None


if __name__ == "__main__":
    sys.exit(run_test(body))
