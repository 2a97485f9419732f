#!/usr/bin/env python3
"""Integration tests of the HTTP API against the real binary on a loopback port, with the demo
catalog and orders imported into a real data folder. Usage: test_api.py PHARMDESK_BIN REPO_DIR"""
import csv
import json
import os
import socket
import sys
import time
import urllib.parse

from pdserver import Checks, Server, cleanup, make_data, run, tmpdir, valid_pzn_not_in

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}
PRODUCT_FIELDS = {"pzn", "name", "pack_size", "dispensing", "price_eur", "availability"}


def check_headers(t, hdrs, what):
    for k, v in SECURITY_HEADERS.items():
        t.check(v in hdrs.get(k, ""), f"{what}: header {k} contains {v!r} (got {hdrs.get(k)!r})")


def check_error(t, status, hdrs, body, want_status, want_code, what):
    t.eq(status, want_status, f"{what}: status")
    ok = isinstance(body, dict) and isinstance(body.get("error"), dict)
    t.check(ok, f"{what}: error body {body!r}")
    if ok:
        t.eq(body["error"].get("code"), want_code, f"{what}: error code")
        t.check(isinstance(body["error"].get("message"), str) and body["error"]["message"],
                f"{what}: error message")
    t.check(hdrs.get("content-type", "").startswith("application/json"), f"{what}: JSON type")
    check_headers(t, hdrs, what)


def q(s):
    return urllib.parse.quote(s)


def main():
    binary, repo = sys.argv[1], sys.argv[2]
    t = Checks()
    tmp = tmpdir()
    srv = None
    try:
        data = make_data(binary, repo, tmp)
        cfg = os.path.join(tmp, "config.json")
        with open(cfg, "w") as f:
            json.dump({
                "allowed_origins": ["https://www.apotheke.example"],
                "trusted_proxies": ["127.0.0.1"],
                "rate_limit": {"searches_per_minute": 40, "inquiries_per_minute": 30},
                "threads": 2,
            }, f)
        srv = Server(binary, data, cfg).start()
        with open(os.path.join(repo, "catalog/demo/catalog.csv"), encoding="utf-8") as f:
            catalog = {row["pzn"]: row for row in csv.DictReader(f)}

        # --- health
        s, h, b = srv.request("GET", "/api/v1/health")
        t.eq(s, 200, "health status")
        t.eq(b.get("status"), "ok", "health body")
        t.check(isinstance(b.get("version"), str) and b["version"], "health version")
        check_headers(t, h, "health")
        s, h, b = srv.request("HEAD", "/api/v1/health")
        t.eq(s, 200, "HEAD health")

        # --- consent texts: every purpose, both languages, the same versions
        versions = {}
        for lang in ("de", "en"):
            s, h, b = srv.request("GET", f"/api/v1/consent-texts?lang={lang}")
            t.eq(s, 200, f"consent-texts {lang}")
            check_headers(t, h, f"consent-texts {lang}")
            for purpose in ("handoff", "newsletter", "back_in_stock"):
                e = b.get(purpose) or {}
                t.check(isinstance(e.get("version"), str) and e["version"], f"{purpose} version")
                t.check(isinstance(e.get("text"), str) and len(e["text"]) > 40, f"{purpose} text")
                t.eq(e.get("lang"), lang, f"{purpose} lang")
                versions.setdefault(purpose, set()).add(e.get("version"))
        t.check(all(len(v) == 1 for v in versions.values()), f"same versions: {versions}")
        s, h, b = srv.request("GET", "/api/v1/consent-texts", headers={"Accept-Language": "en-GB"})
        t.eq(b.get("handoff", {}).get("lang"), "en", "consent-texts follow Accept-Language")

        # --- one product, every availability value
        s, h, b = srv.request("GET", "/api/v1/products/81287667")
        t.eq(s, 200, "product status")
        t.check(PRODUCT_FIELDS <= set(b), f"product fields {sorted(b)}")
        t.eq(b["pzn"], "81287667", "product pzn")
        t.eq(b["name"], "Ibuprofen AL 400 mg Filmtabletten", "product name")
        t.eq(b["price_eur"], 3.49, "product price")
        t.eq(b["dispensing"], "pharmacy", "product dispensing")
        t.eq(b["availability"], "in_stock", "stock > 0 is in_stock")
        check_headers(t, h, "product")
        for pzn, want in [("59579780", "orderable"), ("14464660", "shortage"),
                          ("16120048", "discontinued"), ("63615524", "shortage")]:
            s, h, b = srv.request("GET", f"/api/v1/products/{pzn}")
            t.eq((s, b.get("availability")), (200, want), f"availability of {pzn}")
        s, h, b = srv.request("GET", "/api/v1/products/36361759")
        t.eq((b["dispensing"], b["prescription_required"]), ("rx", True), "rx product")
        # PZN spellings in the path
        for spelled in ["PZN%2081287667", "8128%207667", "pzn-81287667"]:
            s, h, b = srv.request("GET", f"/api/v1/products/{spelled}")
            t.eq((s, b.get("pzn") if s == 200 else None), (200, "81287667"), f"spelling {spelled}")
        # errors
        s, h, b = srv.request("GET", "/api/v1/products/81287668")
        check_error(t, s, h, b, 400, "bad_pzn", "wrong check digit")
        t.check("check digit" in b["error"]["message"], "check digit message")
        s, h, b = srv.request("GET", "/api/v1/products/abc")
        check_error(t, s, h, b, 400, "bad_pzn", "non-numeric PZN")
        s, h, b = srv.request("GET", "/api/v1/products/123456789")
        check_error(t, s, h, b, 400, "bad_pzn", "nine digits")
        unknown = valid_pzn_not_in(set(catalog))
        s, h, b = srv.request("GET", f"/api/v1/products/{unknown}")
        check_error(t, s, h, b, 404, "not_found", "unknown PZN")

        # --- search (X-Forwarded-For gives each block its own rate-limit bucket)
        xff = {"X-Forwarded-For": "198.51.100.1"}
        for query, want in [("Ibuprofn 400", {"81287667"}), ("Parazetamol", {"36679148", "61388165", "42603267", "14464660"}),
                            ("Fieberzäpfchen", {"42603267"}), ("Fieberzaepfchen", {"42603267"}),
                            ("PZN 08128766", None), ("0812 8766", None), ("8128 7667", {"81287667"}),
                            ("Cetirizin 50 Stück", {"10782972"}), ("Voltaren", {"18913735"})]:
            s, h, b = srv.request("GET", f"/api/v1/products?q={q(query)}", headers=xff)
            t.eq(s, 200, f"search {query!r} status")
            prods = b.get("products", [])
            if want is not None:
                t.check(prods and prods[0]["pzn"] in want,
                        f"search {query!r}: first {prods[0]['pzn'] if prods else None}, want {want}")
            for p in prods:
                t.check(PRODUCT_FIELDS <= set(p), f"search result fields {sorted(p)}")
        s, h, b = srv.request("GET", "/api/v1/products?q=ratiopharm&limit=2", headers=xff)
        t.check(s == 200 and len(b["products"]) == 2, "limit=2")
        s, h, b = srv.request("GET", "/api/v1/products?q=Xyzzyqwert", headers=xff)
        t.eq((s, b.get("products")), (200, []), "no hits is an empty list")
        xff = {"X-Forwarded-For": "198.51.100.2"}
        for path, code in [("/api/v1/products", "bad_query"), ("/api/v1/products?q=", "bad_query"),
                           ("/api/v1/products?q=" + "a" * 201, "bad_query"),
                           ("/api/v1/products?q=%FF%FE", "bad_query"),
                           ("/api/v1/products?q=x&limit=0", "bad_limit"),
                           ("/api/v1/products?q=x&limit=51", "bad_limit"),
                           ("/api/v1/products?q=x&limit=abc", "bad_limit"),
                           ("/api/v1/products?q=x&limit=-1", "bad_limit")]:
            s, h, b = srv.request("GET", path, headers=xff)
            check_error(t, s, h, b, 400, code, f"GET {path[:40]}")

        # --- the same search as a POST body
        xff = {"X-Forwarded-For": "198.51.100.3"}
        s, h, b = srv.request("POST", "/api/v1/products/search", {"q": "Ibuprofen 600", "limit": 3},
                              headers=xff)
        t.check(s == 200 and b["products"][0]["pzn"] == "36361759", f"POST search {s} {b}")
        t.check(len(b["products"]) <= 3, "POST search limit")
        s, h, b = srv.request("POST", "/api/v1/products/search", '{"q": "x"}',
                              headers={**xff, "Content-Type": "application/json; charset=utf-8"})
        t.eq(s, 200, "content type with charset")
        for body, code, what in [('{"q": 5}', "bad_query", "q not a string"),
                                 ('{"q": "x", "limit": 2.5}', "bad_limit", "fractional limit"),
                                 ('{"q": "x", "limit": "3"}', "bad_limit", "limit as string"),
                                 ('{"q": "x"', "bad_json", "truncated JSON"),
                                 ('[1, 2]', "bad_json", "array body"),
                                 ('{"q": "\xff"}', "bad_json", "latin-1 byte"),
                                 ('{"q": "a"} x', "bad_json", "trailing garbage"),
                                 ('{"q": "a\tb"}', "bad_json", "raw tab in string"),
                                 ('', "bad_json", "empty body")]:
            raw = body.encode("latin-1")
            s, h, b = srv.request("POST", "/api/v1/products/search", raw,
                                  headers={**xff, "Content-Type": "application/json"})
            check_error(t, s, h, b, 400, code, f"POST body: {what}")
        s, h, b = srv.request("POST", "/api/v1/products/search", '{"q": "x"}',
                              headers={**xff, "Content-Type": "text/plain"})
        check_error(t, s, h, b, 415, "unsupported_media_type", "text/plain body")
        s, h, b = srv.request("POST", "/api/v1/products/search", '{"q": "x"}', headers=xff)
        check_error(t, s, h, b, 415, "unsupported_media_type", "no content type")
        big = json.dumps({"q": "x", "pad": "a" * 17000})
        s, h, b = srv.request("POST", "/api/v1/products/search", big,
                              headers={**xff, "Content-Type": "application/json"})
        check_error(t, s, h, b, 413, "too_large", "body over 16 KiB")
        # a chunked body over the limit, without Content-Length
        c = srv.conn()
        c.putrequest("POST", "/api/v1/products/search")
        c.putheader("Content-Type", "application/json")
        c.putheader("Transfer-Encoding", "chunked")
        c.putheader("X-Forwarded-For", "198.51.100.3")
        c.endheaders()
        chunk = b'{"q":"' + b"a" * 8000
        for _ in range(3):
            c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            chunk = b"a" * 8000
        c.send(b"0\r\n\r\n")
        r = c.getresponse()
        t.eq(r.status, 413, "chunked body over 16 KiB")
        r.read()
        c.close()
        # a body on a route that takes none
        s, h, b = srv.request("GET", "/api/v1/health", "x" * 10, headers={"Content-Type": "application/json"})
        t.check(s in (200, 413), f"GET with a body: {s}")

        # --- routing errors
        s, h, b = srv.request("GET", "/api/v1/nothing")
        check_error(t, s, h, b, 404, "not_found", "unknown path")
        s, h, b = srv.request("POST", "/api/v1/health", "{}")
        check_error(t, s, h, b, 405, "method_not_allowed", "POST on health")
        t.check("GET" in h.get("allow", ""), f"Allow header {h.get('allow')!r}")
        s, h, b = srv.request("DELETE", "/api/v1/products/81287667")
        check_error(t, s, h, b, 405, "method_not_allowed", "DELETE product")

        # --- CORS: only the configured origins
        s, h, b = srv.request("GET", "/api/v1/health", headers={"Origin": "https://www.apotheke.example"})
        t.eq(h.get("access-control-allow-origin"), "https://www.apotheke.example", "CORS allowed origin")
        t.check("Origin" in h.get("vary", ""), "Vary: Origin")
        s, h, b = srv.request("GET", "/api/v1/health", headers={"Origin": "https://evil.example"})
        t.check("access-control-allow-origin" not in h, "CORS: other origin gets no ACAO")
        s, h, b = srv.request("OPTIONS", "/api/v1/products/search",
                              headers={"Origin": "https://www.apotheke.example",
                                       "Access-Control-Request-Method": "POST"})
        t.eq(s, 204, "preflight allowed")
        t.check("POST" in h.get("access-control-allow-methods", ""), "preflight methods")
        t.check("Content-Type" in h.get("access-control-allow-headers", ""), "preflight headers")
        s, h, b = srv.request("OPTIONS", "/api/v1/products/search",
                              headers={"Origin": "https://evil.example",
                                       "Access-Control-Request-Method": "POST"})
        t.eq(s, 403, "preflight from another origin")
        t.check("access-control-allow-origin" not in h, "no ACAO on refused preflight")

        # --- keep-alive holds across requests on one connection
        c = srv.conn()
        statuses = []
        for path in ["/api/v1/health", "/api/v1/products/81287667", "/api/v1/nothing",
                     "/api/v1/products/81287668"]:
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            statuses.append(r.status)
            t.check(not r.will_close, f"keep-alive after {path} ({r.getheader('Connection')})")
        sock_before = c.sock
        c.request("GET", "/api/v1/health")
        r = c.getresponse()
        r.read()
        t.check(c.sock is sock_before, "same socket reused")
        t.eq(statuses, [200, 200, 404, 400], "statuses on one connection")
        c.close()

        # --- rate limit per client address (X-Forwarded-For trusted from 127.0.0.1)
        limited = {"X-Forwarded-For": "203.0.113.7"}
        got = [srv.request("GET", "/api/v1/products?q=Aspirin", headers=limited)[0] for _ in range(40)]
        t.eq(set(got), {200}, "40 searches within the limit")
        s, h, b = srv.request("GET", "/api/v1/products?q=Aspirin", headers=limited)
        check_error(t, s, h, b, 429, "rate_limited", "41st search")
        t.check(h.get("retry-after", "").isdigit() and 1 <= int(h["retry-after"]) <= 60,
                f"Retry-After {h.get('retry-after')!r}")
        s, h, b = srv.request("GET", "/api/v1/products?q=Aspirin", headers={"X-Forwarded-For": "203.0.113.8"})
        t.eq(s, 200, "another client is not limited")
        s, h, b = srv.request("GET", "/api/v1/products?q=Aspirin",
                              headers={"X-Forwarded-For": "203.0.113.7, 127.0.0.1"})
        t.eq(s, 429, "a trusted proxy in the chain is skipped")
        s, h, b = srv.request("GET", "/api/v1/health", headers=limited)
        t.eq(s, 200, "health is not rate limited")

        # --- an import while serving is seen by search within a few seconds
        newcsv = os.path.join(tmp, "new.csv")
        with open(newcsv, "w", encoding="utf-8") as f:
            f.write("pzn,name,manufacturer,active_ingredient,strength,dosage_form,pack_size,"
                    "dispensing,price_eur,stock,supply,aliases\n"
                    f"{unknown},Zzyzxofen Spezial 100 mg Tabletten,Test,Zzyzxofen,100 mg,Tabletten,"
                    "20 St,pharmacy,4.20,3,available,\n")
        rc, out, err = run(binary, "import-catalog", newcsv, data=data)
        t.eq(rc, 0, f"import while serving: {err}")
        found = False
        for _ in range(40):
            s, h, b = srv.request("GET", "/api/v1/products?q=Zzyzxofen",
                                  headers={"X-Forwarded-For": "198.51.100.9"})
            if s == 200 and b["products"] and b["products"][0]["pzn"] == unknown:
                found = True
                break
            time.sleep(0.25)
        t.check(found, "search sees the new product after an import")
        s, h, b = srv.request("GET", f"/api/v1/products/{unknown}")
        t.eq(s, 200, "new product by PZN")

        # --- inquiries: the guard decides, every answer discloses the automation
        xff = {"X-Forwarded-For": "198.51.100.20"}
        inquiry_fields = {"conversation", "decision", "intent", "health_data", "reply", "disclosure",
                          "products", "order", "handoff", "policy"}
        s, h, b = srv.request("POST", "/api/v1/inquiries",
                              {"message": "Haben Sie Ibuprofen 400 vorrätig?"}, headers=xff)
        t.eq(s, 200, "inquiry status")
        t.check(inquiry_fields <= set(b), f"inquiry fields {sorted(b)}")
        t.eq((b["decision"], b["intent"], b["health_data"]), ("answer", "availability", False),
             "availability question answered")
        t.check(b["products"] and b["products"][0]["pzn"] == "81287667", "best product first")
        t.check("Ibuprofen AL 400" in b["reply"], "reply names the product")
        t.check(b["disclosure"].strip() != "", "disclosure never empty")
        t.check(b["policy"]["version"] and b["policy"]["rule"], "policy version and rule")
        conv = b["conversation"]
        t.check(isinstance(conv, str) and len(conv) == 26, "conversation id")
        s, h, b = srv.request("POST", "/api/v1/inquiries",
                              {"message": "Und Paracetamol?", "conversation": conv}, headers=xff)
        t.eq(b.get("conversation"), conv, "conversation continues")
        s, h, b = srv.request("POST", "/api/v1/inquiries",
                              {"message": "Mein Sohn hat 15 Tabletten Paracetamol geschluckt!"},
                              headers=xff)
        t.eq(b["decision"], "emergency", "poisoning is an emergency")
        t.check(b["reply"].lstrip().startswith("112")
                and "030 19240" in b["reply"], f"112 and poison control first: {b['reply'][:80]}")
        s, h, b = srv.request("POST", "/api/v1/inquiries",
                              {"message": "Was hilft gegen Kopfschmerzen?"}, headers=xff)
        t.eq((b["decision"], b["intent"]), ("refuse", "medical_advice"), "advice refused")
        t.eq(b["products"], [], "a refusal recommends no product")
        t.check(b["handoff"] and b["handoff"]["offered"], "a pharmacist is offered")
        s, h, b = srv.request("POST", "/api/v1/inquiries",
                              {"message": "When are you open on Saturday?", "lang": "en"}, headers=xff)
        t.eq((b["decision"], b["intent"]), ("answer", "general"), "opening hours")
        t.check("09:00" in b["reply"] and "Sat" in b["reply"], f"hours from config: {b['reply']!r}")
        t.check("automated" in b["disclosure"], "English disclosure")
        for body, status, code in [({"message": "x" * 2001}, 422, "message_too_long"),
                                   ({"message": "   "}, 422, "empty_message"),
                                   ({}, 400, "bad_request"),
                                   ({"message": 5}, 400, "bad_request"),
                                   ({"message": "Hallo", "lang": "fr"}, 400, "bad_lang"),
                                   ({"message": "Hallo", "conversation": 7}, 400, "bad_request")]:
            s, h, b = srv.request("POST", "/api/v1/inquiries", body, headers=xff)
            check_error(t, s, h, b, status, code, f"inquiry {str(body)[:40]}")
        s, h, b = srv.request("POST", "/api/v1/inquiries", {"message": "ä" * 2000}, headers=xff)
        t.eq(s, 200, "2,000 characters (4,000 bytes) are fine")
        # the per-client limit (20 per minute by default, configured 30 here)
        lim = {"X-Forwarded-For": "203.0.113.50"}
        got = [srv.request("POST", "/api/v1/inquiries", {"message": "Hallo"}, headers=lim)[0]
               for _ in range(30)]
        t.eq(set(got), {200}, "30 inquiries within the limit")
        s, h, b = srv.request("POST", "/api/v1/inquiries", {"message": "Hallo"}, headers=lim)
        check_error(t, s, h, b, 429, "rate_limited", "31st inquiry")

        # --- hostile input never crashes the server
        for raw in [b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100000 + b"\r\n\r\n",
                    b"\x00\x01\x02garbage\r\n\r\n",
                    b"POST /api/v1/products/search HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                    b"Content-Length: 6\r\nContent-Type: application/json\r\n\r\n{}{}{}",
                    b"GET /api/v1/products/%00%ff HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /api/v1/products?q=%ZZ HTTP/1.1\r\nHost: x\r\n\r\n"]:
            sk = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            try:
                sk.sendall(raw)
                sk.shutdown(socket.SHUT_WR)
                resp = sk.recv(4096)
                t.check(not resp.startswith(b"HTTP/1.1 5"), f"hostile request answered {resp[:40]!r}")
            except OSError:
                pass
            finally:
                sk.close()
        s, h, b = srv.request("GET", "/api/v1/health")
        t.eq(s, 200, "alive after hostile input")

        # --- the request log: one line per request, route pattern, no query text
        log = srv.stderr()
        t.check("route=/api/v1/products/{pzn} status=200" in log, "request log names the route")
        t.check("Ibuprofn" not in log and "Zzyzxofen" not in log, "no search text in the log")
        t.check("Kopfschmerzen" not in log and "geschluckt" not in log, "no message text in the log")
        t.check("198.51.100" not in log, "no client addresses in the log")

        # --- graceful stop
        rc = srv.stop()
        t.eq(rc, 0, "SIGTERM stops cleanly with exit 0")
        t.check("event=stopped" in srv.stderr(), "stop is logged")
        rc, out, err = run(binary, "audit-verify", data=data)
        t.check(rc == 0 and "intact" in out, f"audit log intact after the inquiries: {out} {err}")
        before = int(out.split("intact: ")[1].split(" ")[0])

        # --- what an inquiry's answer acknowledged survives kill -9 of the server
        srv3 = Server(binary, data).start()
        answered = 0
        for i in range(25):
            s3, h3, b3 = srv3.request("POST", "/api/v1/inquiries",
                                      {"message": f"Haben Sie Aspirin? ({i})"})
            answered += s3 == 200
        srv3.stop(sig=9)
        rc, out, err = run(binary, "audit-verify", data=data)
        after = int(out.split("intact: ")[1].split(" ")[0]) if "intact: " in out else -1
        t.check(rc == 0, f"audit chain intact after kill -9: {out} {err}")
        t.eq(after - before, answered, "every answered inquiry's audit entry survived kill -9")
        rc, out, err = run(binary, "check", data=data)
        t.eq(rc, 0, f"store intact after kill -9: {err}")
        # the audit retention (retention.audit_days, 1095 by default), four years on: the old
        # entries go from the start of the chain, and the rest still verifies from the anchor
        # (the test clock exists in test builds only, which have test-leads-dump)
        if run(binary, "test-leads-dump", data="/nonexistent")[0] != 2:
            os.environ["PHARMDESK_TEST_CLOCK_OFFSET_S"] = str(4 * 365 * 86400)
            try:
                rc, out, err = run(binary, "purge", data=data)
            finally:
                del os.environ["PHARMDESK_TEST_CLOCK_OFFSET_S"]
            t.eq(rc, 0, f"purge: {err}")
            t.check(f"audit: entries up to {after - 1} deleted" in out, f"audit retention: {out}")
            rc, out, err = run(binary, "audit-verify", data=data)
            t.eq(rc, 0, f"audit chain intact after the retention: {out} {err}")
            t.check(f"entries 1 to {after - 1} were deleted by the retention" in out,
                    f"anchor: {out}")
        srv2 = Server(binary, data).start()
        t.eq(srv2.request("GET", "/api/v1/health")[0], 200, "restart after stop")
        t.eq(srv2.stop(sig=2), 0, "SIGINT stops cleanly")
        srv = None
    finally:
        if srv and srv.alive():
            srv.stop()
        cleanup(tmp)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
