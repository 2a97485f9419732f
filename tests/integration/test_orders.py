#!/usr/bin/env python3
"""Integration tests of order-status lookups against the real binary: POST /api/v1/orders/lookup
(every status, every spelling, identical 404s in the same time, rate limits per client and per
order number with recovery) and the conversation flow in German and English.
Usage: test_orders.py PHARMDESK_BIN REPO_DIR"""
import csv
import json
import os
import statistics
import sys
import time

from pdserver import Checks, Server, cleanup, make_data, run, tmpdir

LOOKUP = "/api/v1/orders/lookup"


def main():
    binary, repo = sys.argv[1], sys.argv[2]
    t = Checks()
    tmp = tmpdir()
    srv = None
    try:
        data = make_data(binary, repo, tmp)
        cfg = os.path.join(tmp, "config.json")
        with open(cfg, "w") as f:
            json.dump({"trusted_proxies": ["127.0.0.1"],
                       "rate_limit": {"order_lookups_per_client": 1000,
                                      "order_lookups_per_order": 1000,
                                      "inquiries_per_minute": 0}}, f)
        srv = Server(binary, data, cfg).start()
        with open(os.path.join(repo, "catalog/demo/orders.csv"), encoding="utf-8") as f:
            orders = list(csv.DictReader(f))

        # every status, with the status, its text and the expected date, nothing more
        seen = set()
        for o in orders:
            s, h, b = srv.request("POST", LOOKUP, {"order_number": o["order_number"],
                                                   "postcode": o["postcode"]})
            t.eq(s, 200, f"lookup {o['order_number']}")
            if s != 200:
                continue
            seen.add(b["status"])
            t.eq(b["status"], o["status"], f"status of {o['order_number']}")
            t.eq(set(b), {"order_number", "status", "status_text", "expected"},
                 f"only status fields for {o['order_number']}")
            t.check(b["status_text"], f"status text for {o['status']}")
            t.eq(b["expected"], o["expected"] or None, f"expected of {o['order_number']}")
            body = json.dumps(b)
            for secret in (o["last_name"], o["email"], o["items"].split(":")[0]):
                t.check(secret not in body, f"{o['order_number']} reveals no {secret!r}")
        t.eq(len(seen), 10, "all ten statuses answered")
        s, h, b = srv.request("POST", LOOKUP, {"order_number": "AP-100231", "postcode": "10115"})
        t.check("Abholfach 7" in b["status_text"], f"pickup compartment: {b['status_text']}")
        s, h, b = srv.request("POST", LOOKUP, {"order_number": "AP-100231", "postcode": "10115",
                                               "lang": "en"})
        t.check("ready for pickup" in b["status_text"], f"English text: {b['status_text']}")

        # every spelling a customer types
        for spelled in ["AP-100231", "ap100231", "100231", "AP 100231", " ap-100231 "]:
            s, h, b = srv.request("POST", LOOKUP, {"order_number": spelled, "postcode": "10115"})
            t.eq((s, b.get("order_number")), (200, "AP-100231"), f"spelling {spelled!r}")
        s, h, b = srv.request("POST", LOOKUP, {"order_number": "AP-100231", "postcode": "101 15"})
        t.eq(s, 200, "postcode with a space")

        # unknown order and wrong postcode: the same 404, the same body
        s1, h1, b1 = srv.request("POST", LOOKUP, {"order_number": "AP-999999", "postcode": "10115"})
        s2, h2, b2 = srv.request("POST", LOOKUP, {"order_number": "AP-100231", "postcode": "10116"})
        t.eq((s1, s2), (404, 404), "both failures are 404")
        t.eq(b1, b2, "both failures have the same body")
        for body, code in [({"order_number": "XY", "postcode": "10115"}, "bad_order_number"),
                           ({"order_number": "AP-100231", "postcode": "1011"}, "bad_postcode"),
                           ({"order_number": "AP-100231", "postcode": "abcde"}, "bad_postcode"),
                           ({"order_number": "AP-100231"}, "bad_request"),
                           ({"order_number": 100231, "postcode": "10115"}, "bad_request")]:
            s, h, b = srv.request("POST", LOOKUP, body)
            t.check(s == 400 and b["error"]["code"] == code, f"{body}: {s} {b}")

        # the two failure paths take the same time: medians within 20 %
        c = srv.conn()
        times = {"unknown": [], "wrong": []}
        bodies = {"unknown": {"order_number": "AP-999998", "postcode": "10115"},
                  "wrong": {"order_number": "AP-100231", "postcode": "99999"}}
        for i in range(300):
            for kind in ("unknown", "wrong") if i % 2 else ("wrong", "unknown"):
                t0 = time.perf_counter()
                srv.request("POST", LOOKUP, bodies[kind], conn=c)
                times[kind].append(time.perf_counter() - t0)
        c.close()
        mu, mw = statistics.median(times["unknown"]), statistics.median(times["wrong"])
        ratio = max(mu, mw) / min(mu, mw)
        print(f"timing: median unknown {mu * 1e6:.0f} us, wrong postcode {mw * 1e6:.0f} us, "
              f"ratio {ratio:.3f}")
        t.check(ratio <= 1.2, f"failure paths take the same time (ratio {ratio:.3f})")
        srv.stop()

        # rate limits: per client and per order number, 429 with Retry-After, then recovery
        with open(cfg, "w") as f:
            json.dump({"trusted_proxies": ["127.0.0.1"],
                       "rate_limit": {"order_lookups_per_client": 5, "order_lookups_per_order": 8,
                                     "order_lookup_window_s": 2, "inquiries_per_minute": 0}}, f)
        srv = Server(binary, data, cfg).start()
        one = {"X-Forwarded-For": "203.0.113.1"}
        got = [srv.request("POST", LOOKUP, {"order_number": f"AP-1002{i:02d}", "postcode": "00000"},
                           headers=one)[0] for i in range(5)]
        t.eq(got, [404] * 5, "five guesses answered")
        s, h, b = srv.request("POST", LOOKUP, {"order_number": "AP-100231", "postcode": "10115"},
                              headers=one)
        t.eq(s, 429, "the sixth guess from one client is limited, even a right one")
        t.check(h.get("retry-after", "").isdigit(), "Retry-After")
        # per order number: many clients guessing one order
        got = [srv.request("POST", LOOKUP, {"order_number": "AP-100232", "postcode": f"{i:05d}"},
                           headers={"X-Forwarded-For": f"198.51.100.{i}"})[0] for i in range(9)]
        t.eq(got[:8], [404] * 8, "eight guesses on one order")
        t.eq(got[8], 429, "the ninth guess on one order is limited whoever asks")
        time.sleep(2.2)
        s, h, b = srv.request("POST", LOOKUP, {"order_number": "AP-100231", "postcode": "10115"},
                              headers=one)
        t.eq(s, 200, "recovery after the window")

        # the conversation: the number, then the postcode; three failures end the flow
        def say(msg, conv=None, lang=None, ip="192.0.2.1"):
            body = {"message": msg}
            if conv:
                body["conversation"] = conv
            if lang:
                body["lang"] = lang
            return srv.request("POST", "/api/v1/inquiries", body, headers={"X-Forwarded-For": ip})[2]

        b = say("Wo bleibt meine Bestellung AP-100233?")
        t.eq(b["intent"], "order_status", "order question")
        t.check("Postleitzahl" in b["reply"], f"asks for the postcode: {b['reply']}")
        t.eq(b["order"], {"order_number": "AP-100233", "verification": "postcode_required"},
             "nothing revealed before verification")
        b = say("PLZ ist 80331", b["conversation"])
        t.eq((b["order"] or {}).get("status"), "ordered_from_wholesaler", f"verified: {b['order']}")
        t.check("Großhandel" in b["reply"], f"status text in the reply: {b['reply']}")
        b = say("Where is my order ap100234?", lang="en", ip="192.0.2.2")
        t.check("postcode" in b["reply"], f"English: asks for the postcode: {b['reply']}")
        b = say("20095", b["conversation"], ip="192.0.2.2")
        t.eq((b["order"] or {}).get("status"), "out_for_delivery", "English flow verified")
        t.check("courier" in b["reply"], f"English status text: {b['reply']}")
        b = say("Bestellung 100235, wo ist die?", ip="192.0.2.3")
        conv = b["conversation"]
        for attempt in range(3):
            b = say(f"{attempt + 1}1111", conv, ip="192.0.2.3")
            t.check(b["order"] is None or "status" not in b["order"], f"attempt {attempt}: nothing revealed")
        t.check("030 1234567" in b["reply"], f"three failures end with the phone number: {b['reply']}")
        b = say("01067", conv, ip="192.0.2.3")
        t.check(b["order"] is None or "status" not in (b["order"] or {}),
                "after three failures even the right postcode is not taken in this conversation")
        srv.stop()
        srv = None

        # the audit log has every lookup, never a postcode
        rc, out, err = run(binary, "audit-verify", data=data)
        t.check(rc == 0 and "intact" in out, f"audit chain: {out} {err}")
    finally:
        if srv and srv.alive():
            srv.stop()
        cleanup(tmp)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
