#!/usr/bin/env python3
"""Slowloris does not starve normal clients. Two slowhttptest runs (Debian's package) attack the
server at once for PD_SLOWLORIS_SECONDS (20): slow headers against /api/v1/health and slow
bodies against /api/v1/inquiries, a few hundred connections from 127.0.0.1. Meanwhile a normal
client on another address (127.0.0.2) asks for health and sends inquiries, each on a new
connection, and every answer must come, correct and in good time. The server keeps its
default limits (64 connections per address, 512 in all, 30 s idle timeout). Skipped (77) when
slowhttptest is not installed (tools/install-deps.sh test installs it).
Usage: test_slowloris.py PHARMDESK_BIN REPO_DIR"""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

from pdserver import Server, make_data, run_test, write_config

SECONDS = int(os.environ.get("PD_SLOWLORIS_SECONDS", "20"))
PER_IP = 64
SLOW_MAX_S = 2.0  # the slowest answer the normal client accepts (ASan build, 2 cores)


class SourceConnection(http.client.HTTPConnection):
    """an HTTP connection from another loopback address than the attacker's"""

    def connect(self):
        import socket
        self.sock = socket.create_connection((self.host, self.port), self.timeout,
                                             source_address=("127.0.0.2", 0))


def normal_client(port, stop, results):
    i = 0
    while not stop.is_set():
        for method, path, body in [("GET", "/api/v1/health", None),
                                   ("POST", "/api/v1/inquiries",
                                    {"message": f"Haben Sie Ibuprofen 400 vorrätig? ({i})"})]:
            t0 = time.monotonic()
            try:
                c = SourceConnection("127.0.0.1", port, timeout=10)
                c.request(method, path, body=json.dumps(body).encode() if body else None,
                          headers={"Content-Type": "application/json"} if body else {})
                r = c.getresponse()
                r.read()
                status = r.status
                c.close()
            except (OSError, http.client.HTTPException) as e:
                status = repr(e)
            results.append((path, status, time.monotonic() - t0))
        i += 1
        time.sleep(0.1)


def statuses(output):
    """the 'connected' figures of slowhttptest's periodic status blocks"""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    return [int(n) for n in re.findall(r"connected:\s+(\d+)", plain)], plain


def body(t, binary, repo, tmp, *_):
    tool = shutil.which("slowhttptest")
    if not tool:
        print("slowhttptest is not installed (tools/install-deps.sh test); skipped")
        return 77
    attackers = []
    data = make_data(binary, repo, tmp, orders=False)
    cfg = write_config(tmp, {"rate_limit": {"inquiries_per_minute": 0}, "log_level": "warn"})
    srv = Server(binary, data, cfg).start()
    base = f"http://127.0.0.1:{srv.port}"
    common = ["-i", "5", "-r", "150", "-l", str(SECONDS), "-p", "3", "-x", "24"]
    for args in [["-H", "-c", "300", "-u", f"{base}/api/v1/health"],
                 ["-B", "-c", "200", "-s", "8192", "-f", "application/json", "-t", "POST",
                  "-u", f"{base}/api/v1/inquiries"]]:
        attackers.append(subprocess.Popen([tool, *args, *common], stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True))
    outputs = []
    stop, results = threading.Event(), []
    try:
        time.sleep(2)  # let the attack build up its connections
        client = threading.Thread(target=normal_client, args=(srv.port, stop, results),
                                  daemon=True)
        client.start()
        for p in attackers:
            out, _ = p.communicate(timeout=SECONDS + 30)
            outputs.append(out)
            t.eq(p.returncode, 0, "slowhttptest ran")
    finally:
        for p in attackers:
            if p.poll() is None:
                p.kill()
                p.wait()
    stop.set()
    client.join(timeout=20)
    for name, out in zip(["slow headers", "slow body"], outputs):
        connected, plain = statuses(out)
        t.check(connected and max(connected) > 0, f"{name}: the attack held connections")
        t.check(connected and max(connected) <= PER_IP,
                f"{name}: at most {PER_IP} connections from one address ({connected})")
        print(f"{name}: connected over time {connected}")
    failed = [r for r in results if r[1] != 200]
    slow = [r for r in results if r[2] > SLOW_MAX_S]
    t.check(len(results) >= 20, f"the normal client got through ({len(results)} requests)")
    t.check(not failed, f"every normal request answered 200 ({failed[:3]})")
    t.check(not slow, f"no normal answer slower than {SLOW_MAX_S} s ({slow[:3]})")
    lat = sorted(r[2] for r in results) or [0]
    print(f"normal client: {len(results)} requests during the attack, "
          f"p50 {lat[len(lat) // 2] * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms")
    t.check(srv.alive(), "alive after the attack")
    t.eq(srv.stop(), 0, "clean stop")
    srv = None


if __name__ == "__main__":
    sys.exit(run_test(body))
