#!/usr/bin/env python3
"""Handoff figures against the real binary (a Release build is what counts):
login time (Argon2id, libsodium's moderate limits), sequential ticket creation (each one a
durable commit plus its durable audit entry), the time from a new ticket to its server-sent
event on a listening dashboard, and claim races (three staff members claim at once).
Usage: bench/handoff_bench.py [build/pharmdesk] [RACES]"""
import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from deskutil import EventStream, Staff, add_staff, handoff  # noqa: E402
from pdserver import Server, cleanup, make_data, tmpdir  # noqa: E402


def ms(v):
    return f"{v * 1000:.1f} ms"


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "build/pharmdesk"
    races = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    tmp = tmpdir()
    srv = None
    try:
        data = make_data(binary, repo, tmp, orders=False)
        for u in ("anna", "bert", "carl"):
            add_staff(binary, data, u, f"{u}-passwort-1", "admin")
        cfg = os.path.join(tmp, "config.json")
        with open(cfg, "w") as f:
            json.dump({"http": {"cookie_secure": False},
                       "rate_limit": {"handoffs_per_hour": 0, "logins_per_minute": 0}}, f)
        srv = Server(binary, data, cfg).start()
        lt = []
        for _ in range(5):
            t0 = time.time()
            Staff(srv, "anna", "anna-passwort-1")
            lt.append(time.time() - t0)
        print(f"login (Argon2id moderate): median {ms(statistics.median(lt))}, max {ms(max(lt))} "
              f"(the first also makes the dummy hash for unknown names)")
        staff = [Staff(srv, u, f"{u}-passwort-1") for u in ("anna", "bert", "carl")]
        lat = []
        t0 = time.time()
        for i in range(500):
            a = time.time()
            handoff(srv, f"Bitte um Rückruf Nummer {i}")
            lat.append(time.time() - a)
        el = time.time() - t0
        lat.sort()
        print(f"500 handoffs, one client: {500 / el:.0f}/s, p50 {ms(lat[250])}, p99 {ms(lat[494])}")
        es = EventStream(srv.port, staff[0].cookie)
        es.wait(lambda e: "connected" in e.comments, 2)
        sl = []
        for i in range(50):
            a = time.time()
            s, h, b = handoff(srv, f"Ereignis {i}")
            es.wait(lambda e: any(d["ticket"] == b["ticket"] for _, _, d in e.events), 2)
            sl.append(time.time() - a)
        es.close()
        sl.sort()
        print(f"new ticket -> its event on a dashboard (50): p50 {ms(sl[25])}, max {ms(sl[-1])}")
        good = 0
        for i in range(races):
            s, h, b = handoff(srv, f"Wettlauf {i}")
            tid = b["ticket"]
            bar = threading.Barrier(3)
            res = [None] * 3

            def go(k):
                c = srv.conn()
                c.connect()
                bar.wait()
                res[k] = staff[k].post(f"/api/v1/staff/handoffs/{tid}/claim", conn=c)[0]
                c.close()
            th = [threading.Thread(target=go, args=(k,)) for k in range(3)]
            for x in th:
                x.start()
            for x in th:
                x.join()
            good += sorted(res) == [200, 409, 409]
        print(f"claim races: {races} trials of 3 concurrent claims, {good} with exactly one 200")
    finally:
        if srv:
            srv.stop()
        cleanup(tmp)


if __name__ == "__main__":
    main()
