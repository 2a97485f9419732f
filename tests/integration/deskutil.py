"""Helpers for the handoff and staff integration tests: staff accounts, logins with the session
cookie, ticket creation and a minimal server-sent-events reader."""
import json
import os
import socket
import time

from pdserver import run

CONSENT = {"health_data": True, "text_version": "handoff-1"}


def add_staff(binary, data, user, password, role="pharmacist"):
    rc, out, err = run(binary, "staff-add", user, "--role", role, data=data, stdin=password + "\n")
    assert rc == 0, err
    return password


def cookie_of(headers):
    """The pd_session value of a Set-Cookie header, or None."""
    sc = headers.get("set-cookie", "")
    first = sc.split(";")[0]
    if first.startswith("pd_session="):
        return first[len("pd_session="):]
    return None


class Staff:
    """A logged-in staff member: cookie plus CSRF token."""

    def __init__(self, srv, user, password, ip=None):
        self.srv = srv
        self.user = user
        self.ip = ip
        s, h, b = srv.request("POST", "/api/v1/staff/login", {"username": user, "password": password},
                              headers=self.xff())
        if s != 200:
            raise RuntimeError(f"login {user}: {s} {b}")
        self.cookie = cookie_of(h)
        self.csrf = b["csrf_token"]
        self.role = b["role"]
        self.set_cookie = h.get("set-cookie", "")

    def xff(self):
        return {"X-Forwarded-For": self.ip} if self.ip else {}

    def headers(self, csrf=True):
        h = {"Cookie": f"pd_session={self.cookie}", **self.xff()}
        if csrf:
            h["X-CSRF-Token"] = self.csrf
        return h

    def get(self, path, conn=None):
        return self.srv.request("GET", path, headers=self.headers(False), conn=conn)

    def post(self, path, body=None, csrf=True, conn=None):
        h = self.headers(csrf)
        return self.srv.request("POST", path, body if body is not None else b"", headers=h, conn=conn)

    def ticket(self, tid):
        for status in ("open", "claimed", "answered", "closed"):
            s, h, b = self.get("/api/v1/staff/handoffs?status=" + status)
            for t in b["handoffs"]:
                if t["ticket"] == tid:
                    return t
        return None


def handoff(srv, message, ip=None, **kw):
    body = {"message": message, **kw}
    h = {"X-Forwarded-For": ip} if ip else {}
    return srv.request("POST", "/api/v1/handoffs", body, headers=h)


def view(srv, ticket, token, ip=None):
    h = {"X-Forwarded-For": ip} if ip else {}
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    return srv.request("GET", f"/api/v1/handoffs/{ticket}", headers=h)


class EventStream:
    """Reads an SSE response from a raw socket: the events as (id, data dict), comments too."""

    def __init__(self, port, cookie, last_event_id=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        extra = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id is not None else ""
        req = (f"GET /api/v1/staff/events HTTP/1.1\r\nHost: x\r\nCookie: pd_session={cookie}\r\n"
               f"Accept: text/event-stream\r\n{extra}\r\n")
        self.sock.sendall(req.encode())
        self.raw = b""
        self.status = None
        self.events = []
        self.comments = []
        self.ended = False
        self._head()

    def _head(self):
        while b"\r\n\r\n" not in self.raw:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.raw += chunk
        head, _, rest = self.raw.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ")[1]) if head else None
        self.headers = head.decode("latin-1")
        self.raw = rest
        self.body = b""

    def _dechunk(self):
        """moves complete chunks from raw to body"""
        while True:
            line, sep, rest = self.raw.partition(b"\r\n")
            if not sep:
                return
            size = int(line.split(b";")[0], 16)
            if size == 0:
                self.ended = True  # the last chunk: the server ended the stream
                return
            if len(rest) < size + 2:
                return
            self.body += rest[:size]
            self.raw = rest[size + 2:]

    def _parse(self):
        while b"\n\n" in self.body:
            block, _, self.body = self.body.partition(b"\n\n")
            ev = {}
            for line in block.decode().split("\n"):
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                elif ":" in line:
                    k, _, v = line.partition(":")
                    ev[k] = v.strip()
            if "data" in ev:
                self.events.append((int(ev["id"]), ev.get("event"), json.loads(ev["data"])))

    def wait(self, pred, timeout):
        """reads until pred(self) holds or timeout; returns pred's value"""
        end = time.time() + timeout
        while not pred(self):
            left = end - time.time()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                return False
            if not chunk:
                self.ended = True
                return pred(self)
            self.raw += chunk
            self._dechunk()
            self._parse()
        return True

    def close(self):
        self.sock.close()


def log_has_none(text, needles):
    return [n for n in needles if n in text]


def env_offset(seconds):
    if seconds:
        os.environ["PHARMDESK_TEST_CLOCK_OFFSET_S"] = str(seconds)
    else:
        os.environ.pop("PHARMDESK_TEST_CLOCK_OFFSET_S", None)
