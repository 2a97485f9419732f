#!/usr/bin/env python3
"""Slow and oversized clients, on raw sockets against the real server: connection timeouts
(stalled headers, a stalled body, an idle keep-alive connection), the per-client connection
limit, the body limit by Content-Length and for chunked bodies (413 at once, then the
connection closes), header size limits (431 or 400), and bodies framed two ways (two
Content-Lengths, Content-Length with Transfer-Encoding, Transfer-Encoding twice) refused with
400 and the connection closed. Usage: test_slowclients.py PHARMDESK_BIN REPO_DIR"""
import sys
import time

from pdserver import (Server, make_data, parse_response, raw_connect, raw_exchange, raw_read_all,
                      run_test, write_config)

TIMEOUT_S = 2
PER_IP = 6
JSON_POST = (b"POST /api/v1/inquiries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")


def status_of(raw):
    return parse_response(raw)[0]


def body(t, binary, repo, tmp, *_):
    data = make_data(binary, repo, tmp, orders=False)
    cfg = write_config(tmp, {"http": {"connection_timeout_s": TIMEOUT_S,
                                      "per_ip_connections": PER_IP},
                            "rate_limit": {"inquiries_per_minute": 0}, "threads": 2})
    srv = Server(binary, data, cfg).start()
    port = srv.port

    # --- per-client connection limit: PER_IP held open, the next one is refused; another
    # address (127.0.0.2) is not affected, nor are the held connections
    held = [raw_connect(port) for _ in range(PER_IP)]
    time.sleep(0.3)
    extra = raw_connect(port)
    try:
        extra.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        raw, waited = raw_read_all(extra, limit_s=1.5)
    except OSError:
        raw, waited = b"", 0.0
    extra.close()
    t.check(status_of(raw) != 200 and waited < 1,
            f"connection {PER_IP + 1} from one address refused ({raw[:30]!r}, {waited:.1f} s)")
    other = raw_connect(port, source="127.0.0.2")
    other.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    raw, _ = raw_read_all(other)
    other.close()
    t.eq(status_of(raw), 200, "another address is served meanwhile")
    held[0].sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    raw, _ = raw_read_all(held[0])
    t.eq(status_of(raw), 200, "a held connection is served")
    for sk in held:
        sk.close()
    time.sleep(0.3)

    # --- timeouts: stalled headers, a stalled body, an idle keep-alive connection
    for what, data_ in [("stalled headers", b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n"),
                        ("stalled body", JSON_POST + b"Content-Length: 100\r\n\r\n{\"mess"),
                        ("idle after a request",
                         b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")]:
        sk = raw_connect(port)
        sk.sendall(data_)
        raw, waited = raw_read_all(sk, limit_s=TIMEOUT_S + 10)
        sk.close()
        t.check(TIMEOUT_S - 0.5 <= waited <= TIMEOUT_S + 3,
                f"{what}: closed after the {TIMEOUT_S} s timeout (waited {waited:.1f} s)")
        if what.startswith("idle"):
            t.eq(status_of(raw), 200, f"{what}: the request was answered first")

    # --- body limits
    raw, secs = raw_exchange(port, JSON_POST + b"Content-Length: 17000\r\n\r\n")
    t.eq(status_of(raw), 413, "Content-Length over 16 KiB: 413 before the body")
    t.check(secs < 2, f"answered at once ({secs:.2f} s)")
    raw, secs = raw_exchange(port, JSON_POST + b"Content-Length: 99999999999999999999\r\n\r\n")
    t.check(status_of(raw) in (400, 413), f"absurd Content-Length refused ({raw[:20]!r})")
    chunk = b"1000\r\n" + b"a" * 4096 + b"\r\n"
    raw, secs = raw_exchange(port, JSON_POST + b"Transfer-Encoding: chunked\r\n\r\n",
                         [chunk] * 400, pause=0.005)
    t.eq(status_of(raw), 413, "chunked body over 16 KiB: 413")
    t.check(secs < 3, f"chunked 413 while the client still sends ({secs:.2f} s for 1.6 MB)")
    t.check(b"connection: close" in raw.lower(), "chunked 413 closes the connection")
    raw, secs = raw_exchange(port, JSON_POST + b"Transfer-Encoding: chunked\r\n\r\n" +
                         b"16\r\n{\"message\": \"Hallo!\"}\r\n0\r\n\r\n")
    t.eq(status_of(raw), 200, "a small chunked body is fine")
    raw, secs = raw_exchange(port, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                               b"chunked\r\n\r\n", [chunk] * 50, pause=0.005)
    t.eq(status_of(raw), 413, "a chunked body where none belongs: 413")

    # --- header limits
    raw, _ = raw_exchange(port, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 70000
                      + b"\r\n\r\n")
    t.check(status_of(raw) in (400, 431), f"a 70 KB header: 431 or 400 ({raw[:30]!r})")
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 60) for i in range(2000))
    raw, _ = raw_exchange(port, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    t.check(status_of(raw) in (400, 431), f"2,000 headers: 431 or 400 ({raw[:30]!r})")
    raw, _ = raw_exchange(port, b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    t.check(status_of(raw) in (400, 414, 431), f"a 70 KB request line refused ({raw[:30]!r})")

    # --- framing two ways: 400, and the connection closes (nothing smuggled after it)
    smuggle = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
    for what, head, body in [
            ("two Content-Lengths", b"Content-Length: 2\r\nContent-Length: 2\r\n", b"{}"),
            ("two different Content-Lengths", b"Content-Length: 2\r\nContent-Length: 40\r\n",
             b"{}"),
            ("Content-Length and Transfer-Encoding",
             b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
            ("Transfer-Encoding and Content-Length",
             b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", b"0\r\n\r\n"),
            ("Transfer-Encoding twice",
             b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n")]:
        raw, _ = raw_exchange(port, JSON_POST + head + b"\r\n" + body + smuggle)
        t.eq(status_of(raw), 400, f"{what}: 400")
        t.eq(raw.count(b"HTTP/1.1 "), 1, f"{what}: one answer, the smuggled request is not run")
        t.check(b"bad_framing" in raw, f"{what}: error code bad_framing")

    s, h, b = srv.request("GET", "/api/v1/health")
    t.eq(s, 200, "alive at the end")
    t.eq(srv.stop(), 0, "clean stop")
    srv = None


if __name__ == "__main__":
    sys.exit(run_test(body))
