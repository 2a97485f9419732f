#!/usr/bin/env python3
"""Integration tests of the staff's live queue, GET /api/v1/staff/events (server-sent events):
a ticket created while a dashboard listens arrives within a second; claims, replies, closes and
assignments arrive with their status; keep-alive comments on an idle stream; a reconnect with
Last-Event-ID replays what was missed, also across a restart; the number of streams is bounded
(503); a stream needs a session; the server stops cleanly with streams open.
Usage: test_events.py PHARMDESK_BIN REPO_DIR"""
import json
import os
import sys
import time

from deskutil import EventStream, Staff, add_staff, handoff
from pdserver import Checks, Server, cleanup, make_data, tmpdir


def tickets_of(es, type_=None):
    return [d["ticket"] for _, _, d in es.events if type_ is None or d["type"] == type_]


def main():
    binary, repo = sys.argv[1], sys.argv[2]
    t = Checks()
    tmp = tmpdir()
    srv = None
    streams = []
    try:
        data = make_data(binary, repo, tmp, orders=False)
        add_staff(binary, data, "anna", "anna-passwort-1", "admin")
        add_staff(binary, data, "bert", "bert-passwort-1", "pharmacist")
        cfg = os.path.join(tmp, "config.json")
        with open(cfg, "w") as f:
            json.dump({"http": {"cookie_secure": False},
                       "rate_limit": {"handoffs_per_hour": 0, "logins_per_minute": 0},
                       "staff": {"max_event_streams": 3, "keepalive_s": 1}}, f)
        srv = Server(binary, data, cfg).start()
        anna = Staff(srv, "anna", "anna-passwort-1")
        bert = Staff(srv, "bert", "bert-passwort-1")

        es = EventStream(srv.port, anna.cookie)
        streams.append(es)
        t.eq(es.status, 200, "the stream opens")
        t.check("text/event-stream" in es.headers and "no-store" in es.headers.lower(),
                f"event-stream headers: {es.headers}")
        t.check(es.wait(lambda e: "connected" in e.comments, 2), "a first comment at once")

        # a new ticket arrives within a second
        latencies = []
        created = []
        for i in range(5):
            t0 = time.time()
            s, h, b = handoff(srv, f"Bitte um Rückruf, Nummer {i}")
            created.append(b["ticket"])
            ok = es.wait(lambda e: b["ticket"] in tickets_of(e, "new"), 1.0)
            latencies.append(time.time() - t0)
            t.check(ok, f"ticket {i} arrived within a second")
        print(f"new-ticket latency: max {max(latencies) * 1000:.1f} ms")
        ev = [d for _, _, d in es.events if d["ticket"] == created[0]][0]
        t.eq(ev, {"type": "new", "ticket": created[0], "status": "open", "priority": "normal",
                  "claimed_by": None}, "the event's data")
        ids = [i for i, _, _ in es.events]
        t.check(ids == sorted(ids) and len(set(ids)) == len(ids), "ids increase")
        t.check(all(name == "ticket" for _, name, _ in es.events), "event: ticket")

        # changes arrive too
        tid = created[0]
        bert.post(f"/api/v1/staff/handoffs/{tid}/claim")
        bert.post(f"/api/v1/staff/handoffs/{tid}/reply", {"text": "Wir melden uns."})
        anna.post(f"/api/v1/staff/handoffs/{created[1]}/assign", {"username": "bert"})
        bert.post(f"/api/v1/staff/handoffs/{tid}/close")
        want = [("claimed", tid, "claimed", "bert"), ("replied", tid, "answered", "bert"),
                ("assigned", created[1], "claimed", "bert"), ("closed", tid, "closed", "bert")]
        got = lambda e: [(d["type"], d["ticket"], d["status"], d["claimed_by"]) for _, _, d in e.events
                         if d["type"] != "new"]
        t.check(es.wait(lambda e: len(got(e)) >= 4, 10), "claim, reply, assign and close arrive")
        t.eq(got(es), want, "in order, with status and holder")

        # keep-alive comments on an idle stream (staff.keepalive_s = 1)
        n0 = es.comments.count("keep-alive")
        t.check(es.wait(lambda e: e.comments.count("keep-alive") >= n0 + 2, 4), "keep-alive comments")

        # bounded: two more streams fit, the fourth gets 503
        e2 = EventStream(srv.port, bert.cookie)
        e3 = EventStream(srv.port, bert.cookie)
        streams += [e2, e3]
        e4 = EventStream(srv.port, bert.cookie)
        streams.append(e4)
        t.eq((e2.status, e3.status, e4.status), (200, 200, 503), "at most three streams")
        e4.close()
        e3.close()
        # a closed stream's slot comes back once the server notices (at the next keep-alive)
        ok = False
        for _ in range(30):
            e5 = EventStream(srv.port, bert.cookie)
            if e5.status == 200:
                ok = True
                streams.append(e5)
                break
            e5.close()
            time.sleep(0.2)
        t.check(ok, "a slot is free again after a client left")

        s, h, b = srv.request("GET", "/api/v1/staff/events")
        t.eq(s, 401, "a stream needs a session")


        for e in streams[1:]:
            e.close()
        time.sleep(1.5)  # the server notices the closed ones at their next keep-alive
        # a stream ends with its session (checked at each keep-alive)
        bert2 = Staff(srv, "bert", "bert-passwort-1")
        ec = EventStream(srv.port, bert2.cookie)
        streams.append(ec)
        t.check(ec.wait(lambda e: "connected" in e.comments, 10) and not ec.ended, "stream open")
        bert2.post("/api/v1/staff/logout")
        t.check(ec.wait(lambda e: e.ended, 4), "logging out ends the session's stream")
        ec.close()
        # reconnect with Last-Event-ID: the missed events are replayed
        last = es.events[-1][0]
        es.close()
        missed = [handoff(srv, f"Verpasst {i}")[2]["ticket"] for i in range(3)]
        er = EventStream(srv.port, anna.cookie, last_event_id=last)
        streams.append(er)
        t.check(er.wait(lambda e: len(e.events) >= 3, 10), "the missed events are replayed")
        t.eq(tickets_of(er), missed, "exactly the missed ones, in order")
        t.eq(er.events[0][0], last + 1, "from the next id on")
        er.close()
        eb = EventStream(srv.port, anna.cookie, last_event_id="kaputt")
        streams.append(eb)
        s, h, b = handoff(srv, "Nach einem kaputten Last-Event-ID")
        t.check(eb.wait(lambda e: b["ticket"] in tickets_of(e), 1) and len(eb.events) == 1,
                f"a malformed Last-Event-ID means: from now on ({eb.status} {eb.events})")
        eb.close()

        # across a restart: the log is in the store
        last = er.events[-1][0]
        for e in streams:
            e.close()
        streams = []
        e_open = EventStream(srv.port, anna.cookie)
        streams.append(e_open)
        t0 = time.time()
        rc = srv.stop()
        t.check(rc == 0 and time.time() - t0 < 10, f"stops cleanly with a stream open (rc {rc})")
        srv = Server(binary, data, cfg).start()
        anna = Staff(srv, "anna", "anna-passwort-1")
        after = handoff(srv, "Nach dem Neustart")[2]["ticket"]
        er = EventStream(srv.port, anna.cookie, last_event_id=last)
        streams.append(er)
        t.check(er.wait(lambda e: after in tickets_of(e), 10), "replay after a restart")
        t.eq(tickets_of(er)[-1], after, "ending with the new ticket")
        t.check(er.events[0][0] == last + 1, "and nothing missing before it")
    finally:
        for e in streams:
            e.close()
        if srv:
            srv.stop()
        cleanup(tmp)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
