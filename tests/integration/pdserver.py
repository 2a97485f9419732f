"""Helpers for integration tests: a real pharmdesk binary on a free loopback port."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import http.client


class Checks:
    """Counts checks like the C harness; prints 'N passed, N failed' at the end."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL: {what}", flush=True)
        return cond

    def eq(self, got, want, what):
        return self.check(got == want, f"{what}: got {got!r}, want {want!r}")

    def done(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


def run(binary, *args, data=None, stdin=None, timeout=60):
    cmd = [binary, *args]
    if data:
        cmd += ["--data", data]
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class Server:
    running = []  # every server started, for run_test to stop

    def __init__(self, binary, data, config=None, extra=()):
        self.binary = binary
        self.data = data
        self.config = config
        self.extra = list(extra)
        self.proc = None
        self.port = None
        self.log_path = os.path.join(data, "..", f"server-{os.getpid()}-{time.time_ns()}.log")

    def start(self):
        cmd = [self.binary, "serve", "--listen", "127.0.0.1:0", "--data", self.data, *self.extra]
        if self.config:
            cmd += ["--config", self.config]
        self.log = open(self.log_path, "w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r":(\d+) \(Ctrl-C", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r} {self.stderr()}")
        self.port = int(m.group(1))
        Server.running.append(self)
        return self

    def stderr(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=20):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)

    def request(self, method, path, body=None, headers=None, conn=None):
        """Returns (status, headers dict lower-cased, parsed JSON or raw bytes)."""
        own = conn is None
        c = conn or self.conn()
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        raw = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if own:
            c.close()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw
        return r.status, hdrs, data


def make_data(binary, repo, tmp, orders=True):
    data = os.path.join(tmp, "data")
    rc, out, err = run(binary, "init", data=data)
    assert rc == 0, err
    rc, out, err = run(binary, "import-catalog", os.path.join(repo, "catalog/demo/catalog.csv"), data=data)
    assert rc == 0, err
    if orders:
        rc, out, err = run(binary, "import-orders", os.path.join(repo, "catalog/demo/orders.csv"), data=data)
        assert rc == 0, err
    return data


def pzn_check_digit(first7):
    s = sum(int(d) * (i + 1) for i, d in enumerate(first7))
    return s % 11


def valid_pzn_not_in(catalog_pzns, start=1000000):
    n = start
    while True:
        f = f"{n:07d}"
        c = pzn_check_digit(f)
        if c != 10 and f + str(c) not in catalog_pzns:
            return f + str(c)
        n += 1


def tmpdir():
    d = tempfile.mkdtemp(prefix="pdint.")
    return d


def cleanup(d):
    shutil.rmtree(d, ignore_errors=True)


def write_config(tmp, settings):
    """writes settings as the JSON configuration file tmp/config.json; returns its path"""
    path = os.path.join(tmp, "config.json")
    with open(path, "w") as f:
        json.dump(settings, f)
    return path


def run_test(body):
    """the frame of an integration test: body(t, binary, repo, tmp, *more command-line
    arguments) runs with a fresh temporary folder; however it ends, the servers it started are
    stopped and the folder is removed. Returns the exit status: body's own when it returns one
    (77: skipped), else that of the checks."""
    t = Checks()
    tmp = tmpdir()
    try:
        rc = body(t, sys.argv[1], sys.argv[2], tmp, *sys.argv[3:])
        if rc is not None:
            return rc
    finally:
        for srv in Server.running:
            if srv.alive():
                srv.stop()
        cleanup(tmp)
    return t.done()


def raw_connect(port, source="127.0.0.1", timeout=15):
    """a TCP connection to the server from a loopback address of our choice"""
    sk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sk.settimeout(timeout)
    sk.bind((source, 0))
    sk.connect(("127.0.0.1", port))
    return sk


def raw_read_all(sk, limit_s=15):
    """reads until the server closes (or limit_s passes); returns (bytes, seconds waited)"""
    t0 = time.monotonic()
    out = b""
    sk.settimeout(limit_s)
    while True:
        try:
            d = sk.recv(65536)
        except OSError:  # a timeout or a reset: what came so far is the answer
            break
        if not d:
            break
        out += d
    return out, time.monotonic() - t0


def raw_exchange(port, data, chunks=(), pause=0.0):
    """sends raw bytes, then the chunks (pause seconds apart) until the server stops taking
    them, and reads until it closes; returns (bytes received, seconds it all took)"""
    sk = raw_connect(port)
    t0 = time.monotonic()
    try:
        sk.sendall(data)
        for c in chunks:
            try:
                sk.sendall(c)
            except OSError:
                break
            if pause:
                time.sleep(pause)
        raw, _ = raw_read_all(sk)
    finally:
        sk.close()
    return raw, time.monotonic() - t0


def parse_response(raw):
    """(status or 0, headers with lower-case names, body) of a raw HTTP/1.1 response"""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", lines[0]) if lines else None
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        hdrs[k.decode(errors="replace").strip().lower()] = v.decode(errors="replace").strip()
    return (int(m.group(1)) if m else 0), hdrs, body
