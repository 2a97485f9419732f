#!/usr/bin/env python3
"""Integration tests of the encrypted store (issue "Encrypted store") against the real binary:
no plaintext in any file of the data folder, the key file and the passphrase with their errors,
a flipped bit in every kind of file, swapped pages and cut files, kill -9 during a loop of
imports, rekey (also refused beside the service and interrupted at each crash point) and backup
while the service runs. Usage: test_crypto.py PHARMDESK_BIN REPO_DIR

The crash-point cases need a build with PD_FAULT_INJECTION (the sanitizer build defines it);
without it they are skipped with a note. PD_TEST_SEED=N repeats the kill -9 loop's timings."""
import csv
import hashlib
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time

from pdserver import Checks, Server, cleanup, pzn_check_digit, tmpdir

PAGE = 4096
WAL_HDR = 32
FRAME_HDR = 24
FRAME = FRAME_HDR + PAGE
KEY = "pharmdesk.key"
KDF = "pharmdesk.kdf"
DB = "pharmdesk.db"
PASS = "correct horse battery staple"
PASS2 = "Apotheke am Markt 2026!"
PZN = "81287667"
OWN_ENV = ("PHARMDESK_PASSPHRASE", "PHARMDESK_NEW_PASSPHRASE", "PHARMDESK_REKEY_CRASH_AT")
SANITIZER = ("AddressSanitizer", "LeakSanitizer", "runtime error:")
SUMMARY = re.compile(r"(\d+) rows read, (\d+) inserted, (\d+) updated, (\d+) unchanged, "
                     r"(\d+) rejected")
LOOP_ROWS = 2000
LOOP_ROUNDS = 20
KDF_TIMEOUT = 8  # s; stretching takes about 1 s in the sanitizer build


class Suite:
    def __init__(self, binary, repo):
        self.bin = binary
        self.repo = repo
        self.t = Checks()
        self.tmp = tmpdir()
        self.servers = []
        self.procs = []
        self.n = 0
        self.demo_cat = os.path.join(repo, "catalog/demo/catalog.csv")
        self.demo_orders = os.path.join(repo, "catalog/demo/orders.csv")
        with open(self.demo_cat, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        self.cat_header, self.cat_rows = rows[0], rows[1:]
        with open(self.demo_orders, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        self.ord_header, self.ord_rows = rows[0], rows[1:]
        self.markers = self.plaintext_markers()
        self.fault_injection = None  # unknown until the first crash point ran

    # ---- helpers ----

    def plaintext_markers(self):
        name = self.cat_header.index("name")
        names = [r[name] for r in self.cat_rows]
        # several names, those with umlauts and µ among them
        pick = names[:3] + [n for n in names if any(ord(c) > 127 for c in n)][:6] + names[-2:]
        email = self.ord_header.index("email")
        last = self.ord_header.index("last_name")
        marks = pick + [r[email] for r in self.ord_rows]
        marks += [r[last] for r in self.ord_rows if any(ord(c) > 127 for c in r[last])]
        marks += ["SQLite format 3", "CREATE TABLE", "products"]
        return [m.encode("utf-8") for m in marks]

    def path(self, name):
        return os.path.join(self.tmp, name)

    def env(self, extra=None):
        e = {k: v for k, v in os.environ.items() if k not in OWN_ENV}
        e.update(extra or {})
        return e

    def sanitizer_clean(self, text, what):
        if any(s in text for s in SANITIZER):
            self.t.check(False, f"{what}: sanitizer report: {text[-2000:]}")

    def cli(self, *args, data, env=None, timeout=60):
        """Runs a command with a clean environment plus env; (rc, stdout, stderr), rc None on a
        timeout (the process is killed)."""
        cmd = [self.bin, *args, "--data", data]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                               env=self.env(env))
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
            return None, out, err
        self.sanitizer_clean(p.stderr, " ".join(args))
        return p.returncode, p.stdout, p.stderr

    def start(self, data, env=None):
        """A server on a free loopback port; env is set for the start only."""
        saved = {k: os.environ.pop(k) for k in OWN_ENV if k in os.environ}
        os.environ.update(env or {})
        try:
            srv = Server(self.bin, data).start()
        finally:
            for k in env or {}:
                os.environ.pop(k, None)
            os.environ.update(saved)
        self.servers.append(srv)
        return srv

    def stop(self, srv, sig=signal.SIGTERM):
        if sig == signal.SIGKILL:
            srv.proc.kill()
            srv.proc.wait()
            rc = -9
        else:
            rc = srv.stop(sig)
        self.sanitizer_clean(srv.stderr(), "server")
        if srv in self.servers:
            self.servers.remove(srv)
        return rc

    def copy(self, src, name=None):
        self.n += 1
        dst = self.path(name or f"d{self.n}")
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)  # keeps the modes: folder 0700, key 0600
        return dst

    @staticmethod
    def files(d):
        out = []
        for root, _, names in os.walk(d):
            out += [os.path.relpath(os.path.join(root, n), d) for n in names]
        return sorted(out)

    def digest(self, d):
        res = {}
        for rel in self.files(d):
            with open(os.path.join(d, rel), "rb") as f:
                res[rel] = hashlib.sha256(f.read()).hexdigest()
        return res

    def plaintext(self, d, extra=()):
        """(file, marker) for every marker found in clear in any file under d"""
        hits = []
        for rel in self.files(d):
            with open(os.path.join(d, rel), "rb") as f:
                data = f.read()
            hits += [(rel, m.decode()) for m in list(self.markers) + list(extra) if m in data]
        return hits

    @staticmethod
    def flip(path, off, mask=0x01):
        with open(path, "r+b") as f:
            f.seek(off)
            b = f.read(1)
            f.seek(off)
            f.write(bytes([b[0] ^ mask]))

    @staticmethod
    def read(path):
        with open(path, "rb") as f:
            return f.read()

    @staticmethod
    def write_key(path, data):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(path, 0o600)

    def write_csv(self, path, header, rows):
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)
        return path

    def catalog_with(self, name, stock=None, delta=None):
        i = self.cat_header.index("stock")
        rows = []
        for r in self.cat_rows:
            r = list(r)
            r[i] = str(stock if stock is not None else int(r[i]) + delta)
            rows.append(r)
        return self.write_csv(self.path(name), self.cat_header, rows)

    def summary(self, out):
        m = SUMMARY.search(out)
        return tuple(int(x) for x in m.groups()) if m else None

    def unchanged(self, data, csv_path, n, what, env=None):
        """re-imports csv_path: every row unchanged means the data equals the file"""
        rc, out, err = self.cli("import-catalog" if "order" not in os.path.basename(csv_path)
                                else "import-orders", csv_path, data=data, env=env)
        s = self.summary(out)
        self.t.check(rc == 0 and s is not None and s[3] == n,
                     f"{what}: re-import of {os.path.basename(csv_path)} finds all {n} rows "
                     f"unchanged: rc={rc} {out.strip()!r} {err.strip()[-300:]!r}")

    def commands(self, data):
        """every command that opens the folder, with its arguments"""
        return [("check",), ("import-catalog", self.demo_cat), ("import-orders", self.demo_orders),
                ("backup", self.path(f"bk-refused-{self.n}-{time.time_ns()}")), ("rekey",),
                ("serve", "--listen", "127.0.0.1:0")]

    def expect_fail(self, data, args, words, what, env=None, timeout=30):
        rc, out, err = self.cli(*args, data=data, env=env, timeout=timeout)
        if rc is None:
            self.t.check(False, f"{what}: {args[0]} does not end within {timeout} s")
            return rc, err
        ok = rc == 1 and any(w in err for w in words)
        self.t.check(ok, f"{what}: {args[0]} exits 1 saying one of {words}: rc={rc} "
                         f"{err.strip()[-400:]!r}")
        return rc, err

    def serve_damaged(self, data, what, env=None):
        """serve on a damaged folder either refuses (exit 1, a clear message) or, when the
        damage lies in a page it has not read yet, answers every product exactly as before or
        with an error: never with other data"""
        p = subprocess.Popen([self.bin, "serve", "--listen", "127.0.0.1:0", "--data", data],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=self.env(env))
        self.procs.append(p)
        line = p.stdout.readline()  # the banner, or EOF when it exits
        m = re.search(r":(\d+) \(Ctrl-C", line)
        if not m:
            try:
                _, err = p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                _, err = p.communicate()
            self.procs.remove(p)
            self.sanitizer_clean(err, f"serve, {what}")
            self.t.check(p.returncode == 1 and "damaged" in err,
                         f"{what}: serve refuses with a clear message: rc={p.returncode} "
                         f"{err.strip()[-300:]!r}")
            return
        srv = Server(self.bin, data)
        srv.port = int(m.group(1))
        wrong = []
        for pzn, want in self.reference.items():
            try:
                status, body = self.get_product(srv, pzn)
            except Exception as e:  # noqa: BLE001 - a dropped connection is no wrong data
                status, body = None, repr(e)
            if status == 200 and body != want or status not in (200, 500, 503, None):
                wrong.append((pzn, status, body))
        self.t.check(not wrong, f"{what}: the server answers every product as before or with "
                                f"an error, never with other data: {wrong[:3]}")
        p.send_signal(signal.SIGTERM)
        try:
            _, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        self.procs.remove(p)
        self.sanitizer_clean(err, f"serve, {what}")

    def get_product(self, srv, pzn=PZN):
        status, _, body = srv.request("GET", f"/api/v1/products/{pzn}")
        return status, body

    # ---- 1. round trip and no plaintext ----

    def round_trip(self):
        t = self.t
        base = self.path("base")
        rc, out, err = self.cli("init", data=base)
        t.check(rc == 0 and os.path.exists(os.path.join(base, KEY)), f"init: {rc} {err!r}")
        t.eq(os.stat(os.path.join(base, KEY)).st_mode & 0o777, 0o600, "key file mode")
        t.eq(len(self.read(os.path.join(base, KEY))), 32, "key file holds 256 bits")
        rc, out, err = self.cli("import-catalog", self.demo_cat, data=base)
        t.check(rc == 0 and "89 inserted" in out, f"import-catalog: {out!r} {err!r}")
        rc, out, err = self.cli("import-orders", self.demo_orders, data=base)
        t.check(rc == 0 and "25 inserted" in out, f"import-orders: {out!r} {err!r}")
        t.eq(self.plaintext(base), [], "no plaintext in the data folder after the imports")
        head = self.read(os.path.join(base, DB))[:16]
        t.check(head != b"SQLite format 3\x00", "page 1 does not begin with SQLite's magic")

        srv = self.start(base)
        status, body = self.get_product(srv)
        t.check(status == 200 and isinstance(body, dict) and body.get("pzn") == PZN and
                body.get("name") == "Ibuprofen AL 400 mg Filmtabletten",
                f"GET /api/v1/products/{PZN}: {status} {body!r}")
        self.product_json = body
        self.reference = {}  # every product as served, to tell wrong data from an error
        for r in self.cat_rows:
            status, body = self.get_product(srv, r[0])
            t.check(status == 200, f"GET product {r[0]}: {status}")
            self.reference[r[0]] = body
        status, _, body = srv.request("GET", "/api/v1/products?q=Ibuprofen%20400")
        t.check(status == 200 and any(p.get("pzn") == PZN for p in body.get("products", [])),
                f"search finds the product: {status}")
        # an import while serving leaves its frames in the WAL: scan them too
        plus = self.catalog_with("catalog-plus1.csv", delta=1)
        rc, out, err = self.cli("import-catalog", plus, data=base)
        t.check(rc == 0 and "updated" in out, f"import while serving: {out!r} {err!r}")
        wal = os.path.join(base, DB + "-wal")
        t.check(os.path.exists(wal) and os.path.getsize(wal) > WAL_HDR + FRAME,
                "the WAL holds frames while the server runs")
        t.eq(self.plaintext(base), [], "no plaintext in the data folder while the server runs")
        rc, out, err = self.cli("import-catalog", self.demo_cat, data=base)  # back to the demo
        t.check(rc == 0, f"import back to the demo values: {err!r}")
        status, body = self.get_product(srv)
        t.check(status == 200 and body == self.product_json, f"same product after: {body!r}")
        t.eq(self.stop(srv), 0, "server stops cleanly")
        t.eq(self.plaintext(base), [], "no plaintext in the data folder after the server stopped")
        rc, out, err = self.cli("check", data=base)
        t.check(rc == 0 and "every page ok" in out, f"check passes: {rc} {out!r} {err!r}")
        self.base = base

    # ---- 2. key file ----

    def key_file(self):
        t = self.t
        # readable by others: every command refuses, nothing changes
        d = self.copy(self.base)
        os.chmod(os.path.join(d, KEY), 0o644)
        before = self.digest(d)
        for args in self.commands(d):
            self.expect_fail(d, args, ["chmod 600"], "key file mode 0644")
        t.eq(self.digest(d), before, "mode 0644: no file of the folder changed or created")

        # a wrong key, in a folder left by a killed server (WAL and -shm present): every command
        # says so, and not one byte changes, no file is created or removed
        d = self.walled_copy()
        self.write_key(os.path.join(d, KEY), os.urandom(32))
        before = self.digest(d)
        t.check(any(f.endswith("-wal") for f in before), "the folder has a WAL for this test")
        for args in self.commands(d):
            self.expect_fail(d, args, ["wrong key or damaged data folder"], "wrong key")
            after = self.digest(d)
            t.check(after == before, f"wrong key, {args[0]}: every file unchanged, none created "
                                     f"or removed: {sorted(set(before) ^ set(after))} "
                                     f"{[k for k in before if after.get(k) != before[k]]}")
            before = after

        # no key at all
        d = self.copy(self.base)
        os.unlink(os.path.join(d, KEY))
        for args in [("check",), ("import-catalog", self.demo_cat),
                     ("serve", "--listen", "127.0.0.1:0")]:
            self.expect_fail(d, args, ["no key in"], "missing key")
        t.check(not os.path.exists(os.path.join(d, KEY)), "a missing key is not created anew")

        # a key file of the wrong length
        for n in (0, 31, 33, 64):
            d = self.copy(self.base)
            self.write_key(os.path.join(d, KEY), os.urandom(n))
            self.expect_fail(d, ("check",), ["expected 32"], f"key file of {n} bytes")

        # one flipped bit in the key file
        d = self.copy(self.base)
        self.flip(os.path.join(d, KEY), 17, 0x04)
        before = self.digest(d)
        self.expect_fail(d, ("check",), ["wrong key or damaged data folder"], "flipped key bit")
        self.expect_fail(d, ("serve", "--listen", "127.0.0.1:0"),
                         ["wrong key or damaged data folder"], "flipped key bit")
        t.eq(self.digest(d), before, "flipped key bit: nothing changed")

    # ---- 3. passphrase ----

    def passphrase(self):
        t = self.t
        env = {"PHARMDESK_PASSPHRASE": PASS}
        d = self.path("pass")
        rc, out, err = self.cli("init", data=d, env=env)
        t.eq(rc, 0, f"init with a passphrase: {err!r}")
        t.check(os.path.exists(os.path.join(d, KDF)), "init with a passphrase writes pharmdesk.kdf")
        t.check(not os.path.exists(os.path.join(d, KEY)), "... and no pharmdesk.key")
        if os.path.exists(os.path.join(d, KDF)):
            t.eq(os.stat(os.path.join(d, KDF)).st_mode & 0o777, 0o600, "kdf file mode")
        t.check(KEY not in out, f"init with a passphrase does not tell to keep a copy of a "
                                f"{KEY} that does not exist: {out.strip()!r}")
        rc, out, err = self.cli("import-catalog", self.demo_cat, data=d, env=env)
        t.check(rc == 0 and "89 inserted" in out, f"import with the passphrase: {err!r}")
        rc, out, err = self.cli("import-orders", self.demo_orders, data=d, env=env)
        t.check(rc == 0 and "25 inserted" in out, f"import orders with the passphrase: {err!r}")
        t.eq(self.plaintext(d), [], "passphrase folder: no plaintext")
        rc, out, err = self.cli("check", data=d, env=env)
        t.check(rc == 0 and "every page ok" in out, f"check with the passphrase: {err!r}")
        self.pass_dir = d

        before = self.digest(d)
        for args in self.commands(d):
            self.expect_fail(d, args, ["set PHARMDESK_PASSPHRASE"], "passphrase folder, no env")
        wrong = {"PHARMDESK_PASSPHRASE": "correct horse battery stapler"}
        for args in [("check",), ("serve", "--listen", "127.0.0.1:0")]:
            self.expect_fail(d, args, ["wrong key or damaged data folder"], "wrong passphrase",
                             env=wrong)
        self.expect_fail(d, ("check",), ["wrong key", "12 characters"], "short passphrase",
                         env={"PHARMDESK_PASSPHRASE": "short"})
        t.eq(self.digest(d), before, "no env, wrong or short passphrase: nothing changed")

        s = self.path("pass-short")
        self.expect_fail(s, ("init",), ["12 characters"], "init with an 11-character passphrase",
                         env={"PHARMDESK_PASSPHRASE": "elevenchars"})
        t.check(not any(os.path.exists(os.path.join(s, f)) for f in (KEY, KDF, DB)),
                "a refused passphrase creates no key, kdf or database")

    # ---- 4. damage: flipped bits, swapped pages, cut files ----

    def walled_copy(self):
        """a copy of the folder a killed server left: WAL with three committed transactions"""
        if not hasattr(self, "walled"):
            d = self.copy(self.base, "walled")
            srv = self.start(d)
            note = self.ord_header.index("note")
            rows = [list(r) for r in self.ord_rows]
            for i, r in enumerate(rows):
                r[note] = f"Notiz {i}"
            self.orders_changed = self.write_csv(self.path("orders-changed.csv"),
                                                 self.ord_header, rows)
            for f in (self.path("catalog-plus1.csv"), self.orders_changed, self.demo_cat):
                rc, out, err = self.cli("import-catalog" if "catalog" in f else "import-orders",
                                        f, data=d)
                self.t.check(rc == 0 and "updated" in out, f"WAL set-up import {f}: {err!r}")
            status, _ = self.get_product(srv)
            self.t.eq(status, 200, "WAL set-up: the server answers")
            self.stop(srv, signal.SIGKILL)
            self.walled = d
        return self.copy(self.walled)

    def wal_frames(self, wal):
        data = self.read(wal)
        n = (len(data) - WAL_HDR) // FRAME
        frames = []
        for k in range(n):
            h = data[WAL_HDR + k * FRAME:WAL_HDR + k * FRAME + FRAME_HDR]
            pgno, commit = struct.unpack(">II", h[:8])
            frames.append((pgno, commit, h[8:16] == data[16:24]))
        return frames

    def damage(self):
        t = self.t
        msg_open = ["wrong key or damaged data folder"]
        msg_any = ["wrong key or damaged data folder", "damaged"]
        serve = ("serve", "--listen", "127.0.0.1:0")
        npages = os.path.getsize(os.path.join(self.base, DB)) // PAGE
        t.check(npages >= 4, f"the database has {npages} pages")

        # a flipped bit in every page of the database (ciphertext), and in the salt, nonce and
        # tag areas: check finds each, serve refuses, nothing is written
        cases = [(p, 1000) for p in range(1, npages + 1)]
        cases += [(1, 3), (npages // 2 + 1, PAGE - 30), (npages // 2 + 1, PAGE - 5)]
        for pg, off in cases:
            d = self.copy(self.base)
            self.flip(os.path.join(d, DB), (pg - 1) * PAGE + off, 0x10)
            before = self.digest(d)
            what = f"bit flipped in page {pg} at {off}"
            self.expect_fail(d, ("check",), msg_open if pg == 1 else msg_any, what)
            if pg == 1:
                self.expect_fail(d, serve, msg_open, what)
            elif off == 1000:
                self.serve_damaged(d, what)
            after = self.digest(d)
            changed = [k for k in set(before) | set(after) if before.get(k) != after.get(k)]
            t.check(after == before, f"{what}: no file changed: {changed}")

        # two pages swapped, page 1 with page 2 too
        for a, b in [(2, 3), (1, 2), (npages - 1, npages)]:
            d = self.copy(self.base)
            p = os.path.join(d, DB)
            data = bytearray(self.read(p))
            pa, pb = data[(a - 1) * PAGE:a * PAGE], data[(b - 1) * PAGE:b * PAGE]
            data[(a - 1) * PAGE:a * PAGE], data[(b - 1) * PAGE:b * PAGE] = pb, pa
            with open(p, "wb") as f:
                f.write(data)
            self.expect_fail(d, ("check",), msg_open if a == 1 else msg_any,
                             f"pages {a} and {b} swapped")

        # cut files: not a multiple of the page size, the last page dropped, empty
        size = os.path.getsize(os.path.join(self.base, DB))
        for cut, what in [(size - 100, "cut to a non-multiple of 4096"),
                          (size - PAGE, "last page dropped"),
                          (size - 2 * PAGE, "two pages dropped"),
                          (PAGE + 1, "cut after page 1"), (0, "empty")]:
            d = self.copy(self.base)
            os.truncate(os.path.join(d, DB), cut)
            before = self.digest(d)
            self.expect_fail(d, ("check",), msg_any, f"database {what}")
            self.serve_damaged(d, f"database {what}")
            t.eq(self.digest(d), before, f"database {what}: no file changed")

        # the WAL: a bit flipped in the page of a frame that is not the last commit frame (a
        # damaged last commit frame is dropped like a torn write, by design)
        d = self.walled_copy()
        rc, out, err = self.cli("check", data=d)
        t.check(rc == 0, f"the undamaged WAL copy passes check: {err[-300:]!r}")
        self.unchanged(d, self.demo_cat, 89, "undamaged WAL: the last committed import is there")
        self.unchanged(d, self.orders_changed, 25, "undamaged WAL: the orders import is there")
        frames = self.wal_frames(os.path.join(self.walled, DB + "-wal"))
        commits = [k for k, (_, c, live) in enumerate(frames) if c and live]
        t.check(len(commits) >= 3, f"the WAL holds three committed transactions: {commits}")
        if commits:
            last = commits[-1]
            targets = {0: 100, commits[0]: 2000, last - 1: 4000, (last - 1) // 2: 4055}
            targets = sorted((k, off) for k, off in targets.items() if 0 <= k < last)
            targets += [(0, PAGE - 30), (0, PAGE - 3)]  # nonce, tag
            for k, off in targets:
                d = self.walled_copy()
                self.flip(os.path.join(d, DB + "-wal"), WAL_HDR + k * FRAME + FRAME_HDR + off, 0x08)
                what = f"bit flipped in WAL frame {k + 1} (page {frames[k][0]}) at {off}"
                self.expect_fail(d, ("check",), msg_any, what)
                self.serve_damaged(d, what)
                self.expect_fail(d, ("import-orders", self.demo_orders), msg_any, what)

        # the kdf file: every field
        kdf_cases = [(0, 0x01, "magic"), (8, 0x01, "Argon2 ops limit, low bit"),
                     (11, 0x01, "Argon2 ops limit, bit 24"), (20, 0x02, "memory limit, bit 33"),
                     (19, 0x08, "memory limit, bit 27"), (30, 0x01, "salt")]
        env = {"PHARMDESK_PASSPHRASE": PASS}
        for off, mask, what in kdf_cases:
            d = self.copy(self.pass_dir)
            self.flip(os.path.join(d, KDF), off, mask)
            before = self.digest(d)
            self.expect_fail(d, ("check",), ["wrong key or damaged", "damaged",
                                             "not a pharmdesk passphrase file"],
                             f"kdf file, bit flipped in the {what}", env=env, timeout=KDF_TIMEOUT)
            t.eq(self.digest(d), before, f"kdf file, {what}: nothing changed")
        d = self.copy(self.pass_dir)
        with open(os.path.join(d, KDF), "ab") as f:
            f.write(b"\0")
        self.expect_fail(d, ("check",), ["expected 40", "damaged"], "kdf file one byte longer",
                         env=env)

    # ---- 5. kill -9 during a loop of imports ----

    def loop_rows(self):
        rows, n = [], 3000000
        demo = {r[0] for r in self.cat_rows}
        while len(rows) < LOOP_ROWS:
            first7 = f"{n:07d}"
            n += 1
            c = pzn_check_digit(first7)
            if c == 10 or first7 + str(c) in demo:
                continue
            k = len(rows)
            rows.append([first7 + str(c), f"Testpräparat {k} {100 + k % 7 * 50} mg Tabletten",
                         "Testwerk GmbH", "Testin", f"{100 + k % 7 * 50} mg", "Tabletten",
                         f"{10 * (1 + k % 5)} St", "pharmacy", "4.99", "0", "available", ""])
        return rows

    def kill_loop(self):
        t = self.t
        seed = int(os.environ.get("PD_TEST_SEED", str(time.time_ns() % 1000000)))
        rng = random.Random(seed)
        print(f"kill -9 loop: {LOOP_ROUNDS} rounds of {LOOP_ROWS} rows, PD_TEST_SEED={seed}",
              flush=True)
        rows = self.loop_rows()
        stock = self.cat_header.index("stock")

        def round_file(r):
            for row in rows:
                row[stock] = str(r)
            return self.write_csv(self.path(f"loop-{r}.csv"), self.cat_header, rows)

        d = self.path("loop")
        rc, _, err = self.cli("init", data=d)
        rc2, out, err2 = self.cli("import-catalog", round_file(0), data=d)
        t.check(rc == 0 and rc2 == 0, f"loop set-up: {err!r} {err2!r}")
        srv = self.start(d)
        dur = 0.5
        stats = {"committed": 0, "cut": 0, "server_killed": 0}
        for r in range(1, LOOP_ROUNDS + 1):
            path = round_file(r)
            t0 = time.monotonic()
            p = subprocess.Popen([self.bin, "import-catalog", path, "--data", d],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=self.env())
            self.procs.append(p)
            kill_imp = r > 1 and rng.random() < 0.6
            kill_srv = r > 1 and rng.random() < 0.3
            if kill_imp or kill_srv:
                time.sleep(rng.uniform(0, dur * 1.2))
                if kill_imp:
                    p.kill()
                if kill_srv:
                    self.stop(srv, signal.SIGKILL)
                    stats["server_killed"] += 1
            try:
                out, err = p.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
                t.check(False, f"round {r}: the import does not end")
            self.procs.remove(p)
            if r == 1:
                dur = time.monotonic() - t0
            if p.returncode != -9:
                self.sanitizer_clean(err, f"round {r} import")
            s = self.summary(out)
            committed = s is not None
            if not kill_imp:
                t.check(p.returncode == 0 and committed,
                        f"round {r}: an import left alone commits: {p.returncode} {err[-300:]!r}")
            stats["committed" if committed else "cut"] += 1
            if not srv.alive():
                srv = self.start(d)  # a fresh open: recovers the WAL
            # a fresh read of every row: re-importing round r's file counts the rows that hold r;
            # only r and the previous value are possible, so all or none means atomic
            rc, out2, err2 = self.cli("import-catalog", path, data=d)
            v = self.summary(out2)
            if not t.check(rc == 0 and v is not None, f"round {r}: verification import: {err2!r}"):
                continue
            same = v[3]
            if committed:
                t.check(same == LOOP_ROWS, f"round {r}: the import printed its summary, so all "
                                           f"rows hold {r}: {same} of {LOOP_ROWS} do")
            else:
                t.check(same in (0, LOOP_ROWS), f"round {r}: a killed import is all or nothing: "
                                                f"{same} of {LOOP_ROWS} rows hold {r}")
            status, body = self.get_product(srv, rows[rng.randrange(LOOP_ROWS)][0])
            t.check(status == 200 and body.get("availability") == "in_stock",
                    f"round {r}: the server reads the product: {status} {body!r}")
        print(f"kill -9 loop: {stats['committed']} imports committed, {stats['cut']} cut short, "
              f"server killed {stats['server_killed']} times", flush=True)
        t.eq(self.stop(srv), 0, "loop: server stops cleanly")
        rc, out, err = self.cli("check", data=d)
        t.check(rc == 0 and "every page ok" in out, f"loop: check passes: {out!r} {err[-500:]!r}")
        t.eq(self.plaintext(d, ["Testpräparat".encode(), "Testwerk".encode()]), [],
             "loop: no plaintext")
        self.loop_dir = d

    # ---- 6. rekey ----

    def leftovers(self, d):
        return [f for f in self.files(d) if f.endswith(".rekey") or f.endswith(".new") or
                ".rekey-" in f]

    def rekey(self):
        t = self.t
        d = self.copy(self.base, "rk")
        old = self.read(os.path.join(d, KEY))

        # refused while the server runs; the server must not be disturbed by the attempt
        srv = self.start(d)
        shm = os.path.join(d, DB + "-shm")
        t.check(os.path.exists(shm), "the running server has a -shm file")
        self.expect_fail(d, ("rekey",), ["in use"], "rekey beside the server")
        t.eq(self.read(os.path.join(d, KEY)), old, "refused rekey: key unchanged")
        t.eq(self.leftovers(d), [], "refused rekey: no leftovers")
        t.check(os.path.exists(shm), "a refused rekey leaves the running server's -shm file alone")
        zero = self.catalog_with("catalog-zero.csv", stock=0)
        rc, out, err = self.cli("import-catalog", zero, data=d)
        t.check(rc == 0 and "updated" in out, f"import after the refused rekey: {err!r}")
        status, body = self.get_product(srv)
        t.check(status == 200 and body.get("availability") == "orderable",
                f"the server sees the import made after the refused rekey: {body!r}")
        t.eq(self.stop(srv), 0, "server stops cleanly after the refused rekey")
        self.unchanged(d, zero, 89, "after the refused rekey and a restart, the committed "
                                    "import is still there")
        self.cli("import-catalog", self.demo_cat, data=d)

        # a normal rekey
        rc, out, err = self.cli("rekey", data=d)
        t.check(rc == 0 and "re-encrypted" in out, f"rekey: {rc} {out!r} {err!r}")
        new = self.read(os.path.join(d, KEY))
        t.check(len(new) == 32 and new != old, "rekey writes a new 256-bit key")
        t.eq(os.stat(os.path.join(d, KEY)).st_mode & 0o777, 0o600, "new key file mode")
        t.eq(self.leftovers(d), [], "rekey: no leftovers")
        rc, out, err = self.cli("check", data=d)
        t.check(rc == 0, f"check with the new key: {err[-300:]!r}")
        self.unchanged(d, self.demo_cat, 89, "rekey: catalog data equal")
        self.unchanged(d, self.demo_orders, 25, "rekey: orders equal")
        t.eq(self.plaintext(d), [], "rekey: no plaintext")
        srv = self.start(d)
        status, body = self.get_product(srv)
        t.check(status == 200 and body == self.product_json, f"rekey: same product: {body!r}")
        self.stop(srv)
        o = self.copy(d)
        self.write_key(os.path.join(o, KEY), old)
        self.expect_fail(o, ("check",), ["wrong key or damaged data folder"],
                         "the old key after rekey")

        # to a passphrase and back
        self.expect_fail(d, ("rekey", "--passphrase"), ["PHARMDESK_NEW_PASSPHRASE"],
                         "rekey --passphrase without the new passphrase")
        self.expect_fail(d, ("rekey", "--passphrase"), ["12 characters"],
                         "rekey to a short passphrase",
                         env={"PHARMDESK_NEW_PASSPHRASE": "elevenchars"})
        t.eq(self.read(os.path.join(d, KEY)), new, "refused rekeys keep the key")
        rc, out, err = self.cli("rekey", "--passphrase", data=d,
                                env={"PHARMDESK_NEW_PASSPHRASE": PASS2})
        t.eq(rc, 0, f"rekey --passphrase: {err[-300:]!r}")
        t.check(os.path.exists(os.path.join(d, KDF)) and not os.path.exists(os.path.join(d, KEY)),
                f"rekey --passphrase: kdf instead of key: {self.files(d)}")
        self.expect_fail(d, ("check",), ["set PHARMDESK_PASSPHRASE"], "after rekey --passphrase")
        self.unchanged(d, self.demo_cat, 89, "rekey --passphrase: data equal",
                       env={"PHARMDESK_PASSPHRASE": PASS2})
        rc, out, err = self.cli("rekey", data=d, env={"PHARMDESK_PASSPHRASE": PASS2})
        t.eq(rc, 0, f"rekey back to a key file: {err[-300:]!r}")
        t.check(os.path.exists(os.path.join(d, KEY)) and not os.path.exists(os.path.join(d, KDF)),
                f"rekey back: key instead of kdf: {self.files(d)}")
        t.check(self.read(os.path.join(d, KEY)) not in (old, new), "rekey back: another new key")
        rc, out, err = self.cli("check", data=d)
        t.check(rc == 0, f"check after rekey back: {err[-300:]!r}")
        self.unchanged(d, self.demo_orders, 25, "rekey back: data equal")
        t.eq(self.leftovers(d), [], "rekey to a passphrase and back: no leftovers")

        self.rekey_crash()
        self.rekey_race()

    def rekey_crash(self):
        t = self.t
        for n in (1, 2, 3, 4):
            d = self.copy(self.base, f"crash{n}")
            old = self.read(os.path.join(d, KEY))
            rc, out, err = self.cli("rekey", data=d, env={"PHARMDESK_REKEY_CRASH_AT": str(n)})
            if n == 1 and rc == 0:
                print("note: this pharmdesk was built without PD_FAULT_INJECTION: the rekey "
                      "crash-point cases are skipped", flush=True)
                self.fault_injection = False
                return
            self.fault_injection = True
            t.eq(rc, 99, f"rekey stops at crash point {n}: {err[-300:]!r}")
            newfile = os.path.join(d, KEY + ".new")
            pending = self.read(newfile) if os.path.exists(newfile) else None
            if n >= 3:
                t.check(pending is not None and pending != old,
                        f"crash point {n}: the new key waits in {KEY}.new")
            rc, out, err = self.cli("check", data=d)
            t.check(rc == 0, f"crash point {n}: the folder opens afterwards: {err[-300:]!r}")
            key = self.read(os.path.join(d, KEY))
            if n <= 3:
                t.check(key == old, f"crash point {n}: the old key stays")
            else:
                t.check(key == pending and key != old, f"crash point {n}: the new key is in use")
            t.eq(self.leftovers(d), [], f"crash point {n}: no leftovers after the next open")
            self.unchanged(d, self.demo_cat, 89, f"crash point {n}: data intact")

        # to a passphrase, interrupted before and after the commit point
        for n in (3, 4):
            d = self.copy(self.base, f"crash-pass{n}")
            old = self.read(os.path.join(d, KEY))
            rc, out, err = self.cli("rekey", "--passphrase", data=d,
                                    env={"PHARMDESK_REKEY_CRASH_AT": str(n),
                                         "PHARMDESK_NEW_PASSPHRASE": PASS2})
            t.eq(rc, 99, f"rekey --passphrase stops at crash point {n}: {err[-300:]!r}")
            if n == 3:
                rc, out, err = self.cli("check", data=d)
                t.check(rc == 0 and self.read(os.path.join(d, KEY)) == old,
                        f"passphrase crash point 3: the old key file opens: {err[-300:]!r}")
                t.check(not os.path.exists(os.path.join(d, KDF)), "crash point 3: no kdf left")
            else:
                rc, out, err = self.cli("check", data=d, env={"PHARMDESK_PASSPHRASE": PASS2})
                t.check(rc == 0, f"passphrase crash point 4: the new passphrase opens: "
                                 f"{err[-300:]!r}")
                t.check(not os.path.exists(os.path.join(d, KEY)),
                        "passphrase crash point 4: the old key file is gone")
            t.eq(self.leftovers(d), [], f"passphrase crash point {n}: no leftovers")

        # from a passphrase to a key file, interrupted after the commit point
        d = self.copy(self.pass_dir, "crash-from-pass")
        rc, out, err = self.cli("rekey", data=d, env={"PHARMDESK_REKEY_CRASH_AT": "4",
                                                      "PHARMDESK_PASSPHRASE": PASS})
        t.eq(rc, 99, f"rekey from a passphrase stops at crash point 4: {err[-300:]!r}")
        rc, out, err = self.cli("check", data=d)
        t.check(rc == 0, f"from a passphrase, crash point 4: the new key file opens without "
                         f"the passphrase: {err[-300:]!r}")
        t.check(not os.path.exists(os.path.join(d, KDF)) and not self.leftovers(d),
                f"from a passphrase, crash point 4: no kdf file, no leftovers: {self.files(d)}")

    def rekey_race(self):
        """a command started while rekey copies the database must not undo the rekey under its
        feet: rekey is stopped (SIGSTOP) once its copy's WAL holds frames, `check` runs, then
        rekey goes on; afterwards the folder must open, with the old key if rekey failed"""
        t = self.t
        src = getattr(self, "loop_dir", self.base)
        for _ in range(5):
            d = self.copy(src, "race")
            old = self.read(os.path.join(d, KEY))
            copy_wal = os.path.join(d, DB + ".rekey-wal")
            r = subprocess.Popen([self.bin, "rekey", "--data", d], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=self.env())
            self.procs.append(r)
            deadline = time.monotonic() + 10
            while r.poll() is None and time.monotonic() < deadline:
                try:
                    if os.path.getsize(copy_wal) > 0:
                        break
                except OSError:
                    pass
            if r.poll() is None:
                os.kill(r.pid, signal.SIGSTOP)
                if os.path.exists(os.path.join(d, DB + ".rekey")):
                    break
                os.kill(r.pid, signal.SIGCONT)
            r.communicate(timeout=60)
            self.procs.remove(r)
        else:
            print("note: the rekey copy was too quick to catch; race case skipped", flush=True)
            return
        c = subprocess.Popen([self.bin, "check", "--data", d], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=self.env())
        self.procs.append(c)
        deadline = time.monotonic() + 3
        while (c.poll() is None and os.path.exists(os.path.join(d, DB + ".rekey")) and
               time.monotonic() < deadline):
            time.sleep(0.002)
        time.sleep(0.05)
        if c.poll() is None:
            c.kill()  # it waits for the lock rekey holds
        c.communicate()
        self.procs.remove(c)
        os.kill(r.pid, signal.SIGCONT)
        out, err = r.communicate(timeout=60)
        self.procs.remove(r)
        rc, out2, err2 = self.cli("check", data=d)
        key = self.read(os.path.join(d, KEY)) if os.path.exists(os.path.join(d, KEY)) else b""
        t.check(rc == 0, f"a check started while rekey copied: afterwards the folder opens "
                         f"(rekey exit {r.returncode}: {err.strip()[-160:]!r}; check: "
                         f"{err2.strip()[-160:]!r}; key {'unchanged' if key == old else 'new'}; "
                         f"files {self.files(d)})")
        if r.returncode != 0:
            t.check(key == old, "rekey said 'the old key stays', and the old key stays")

    # ---- 7. backup while the server runs ----

    def backup(self):
        t = self.t
        d = self.copy(self.base, "bksrc")
        srv = self.start(d)
        plus = self.path("catalog-plus1.csv")
        rc, out, err = self.cli("import-catalog", plus, data=d)  # frames in the WAL
        t.check(rc == 0, f"import before the backup: {err!r}")
        _, want = self.get_product(srv)
        statuses, stop = [], threading.Event()

        def load():
            conn = srv.conn()
            while not stop.is_set():
                try:
                    s, _, _ = srv.request("GET", f"/api/v1/products/{PZN}", conn=conn)
                except Exception as e:  # noqa: BLE001 - recorded as a failure
                    statuses.append(repr(e))
                    conn = srv.conn()
                    continue
                statuses.append(s)

        th = threading.Thread(target=load)
        th.start()
        time.sleep(0.1)
        dest = self.path("backup1")
        rc, out, err = self.cli("backup", dest, data=d)
        time.sleep(0.1)
        stop.set()
        th.join(30)
        t.check(rc == 0 and "written" in out, f"backup while serving: {rc} {out!r} {err!r}")
        t.check(statuses and all(s == 200 for s in statuses),
                f"requests during the backup: {len(statuses)}, not 200: "
                f"{[s for s in statuses if s != 200][:5]}")
        t.check(os.path.exists(os.path.join(dest, DB)), "backup: DEST/pharmdesk.db exists")
        t.check(not os.path.exists(os.path.join(dest, KEY)), "backup: no key in DEST")
        t.eq(self.files(dest), [DB], "backup: DEST holds only the database")
        t.eq(self.plaintext(dest), [], "backup: no plaintext")
        shutil.copy2(os.path.join(d, KEY), os.path.join(dest, KEY))
        rc, out, err = self.cli("check", data=dest)
        t.check(rc == 0, f"backup with the key copied in passes check: {err[-300:]!r}")
        b = self.start(dest)
        status, body = self.get_product(b)
        t.check(status == 200 and body == want,
                f"a server on the backup answers the same: {body!r}")
        self.stop(b)
        self.unchanged(dest, plus, 89, "backup holds the import committed before it")
        before = self.digest(dest)
        self.expect_fail(d, ("backup", dest), ["already exists", "empty"],
                         "backup into a DEST that holds a backup")
        t.eq(self.digest(dest), before, "refused backup: DEST unchanged")
        other = self.path("backup-other")
        os.mkdir(other)
        with open(os.path.join(other, "notes.txt"), "w") as f:
            f.write("Inventur\n")
        self.expect_fail(d, ("backup", other), ["empty"], "backup into a non-empty DEST")
        foreign = self.path("backup-foreign")
        os.mkdir(foreign)
        shutil.copy2(os.path.join(self.pass_dir, KDF), os.path.join(foreign, KDF))
        self.expect_fail(d, ("backup", foreign), ["empty", "exists"],
                         "backup into a DEST that holds another folder's pharmdesk.kdf")
        t.eq(self.stop(srv), 0, "server stops cleanly after the backups")

        # a passphrase folder: the salt file goes along, the passphrase opens the backup
        env = {"PHARMDESK_PASSPHRASE": PASS}
        dest = self.path("backup-pass")
        rc, out, err = self.cli("backup", dest, data=self.pass_dir, env=env)
        t.eq(rc, 0, f"backup of a passphrase folder: {err[-300:]!r}")
        t.eq(self.files(dest), [DB, KDF], "passphrase backup: database and salt file")
        t.eq(self.plaintext(dest), [], "passphrase backup: no plaintext")
        rc, out, err = self.cli("check", data=dest, env=env)
        t.check(rc == 0, f"passphrase backup passes check: {err[-300:]!r}")

    # ---- run ----

    def run(self):
        t0 = time.monotonic()
        sections = [self.round_trip, self.key_file, self.passphrase, self.damage, self.kill_loop,
                    self.rekey, self.backup]
        try:
            for s in sections:
                t1 = time.monotonic()
                try:
                    s()
                except Exception as e:  # noqa: BLE001 - a broken section fails, the rest runs
                    self.t.check(False, f"{s.__name__} raised {e!r}")
                    if s == self.round_trip:
                        break
                print(f"{s.__name__}: {time.monotonic() - t1:.1f} s", flush=True)
        finally:
            for p in self.procs:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                except OSError:
                    pass
                p.kill()
                p.wait()
            for srv in list(self.servers):
                srv.proc.kill()
                srv.proc.wait()
            cleanup(self.tmp)
        print(f"total: {time.monotonic() - t0:.1f} s")
        return self.t.done()


def main():
    if len(sys.argv) != 3:
        print("usage: test_crypto.py PHARMDESK_BIN REPO_DIR", file=sys.stderr)
        return 2
    return Suite(sys.argv[1], sys.argv[2]).run()


if __name__ == "__main__":
    sys.exit(main())
