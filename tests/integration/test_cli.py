#!/usr/bin/env python3
"""Integration tests of the pharmdesk command line: every command, every usage error, and the
configuration check. Usage: test_cli.py PHARMDESK_BIN REPO_DIR"""
import json
import os
import stat
import sys

from pdserver import Checks, Server, cleanup, run, tmpdir


def main():
    binary, repo = sys.argv[1], sys.argv[2]
    demo = os.path.join(repo, "catalog/demo")
    t = Checks()
    tmp = tmpdir()
    try:
        data = os.path.join(tmp, "data")
        # usage errors: exit 2 with a usage text
        for args in [(), ("frobnicate",), ("import-catalog",), ("init", "extra"),
                     ("serve", "--listen"), ("serve", "--bogus"), ("init", "--check-config"),
                     ("import-catalog", "a.csv", "--role", "admin")]:
            rc, out, err = run(binary, *args)
            t.eq(rc, 2, f"usage error {args}")
            t.check("usage" in err or "belong" in err or "needs a value" in err,
                    f"usage text for {args}: {err!r}")
        rc, out, err = run(binary, "--help")
        t.check(rc == 0 and "import-catalog" in out, "--help lists the commands")

        # commands on a folder that was never initialised
        rc, out, err = run(binary, "import-catalog", os.path.join(demo, "catalog.csv"), data=data)
        t.eq(rc, 1, "import before init fails")
        t.check("pharmdesk init" in err, f"says to run init: {err!r}")
        t.check(not os.path.exists(os.path.join(data, "pharmdesk.db")), "no database created")
        rc, out, err = run(binary, "serve", "--listen", "127.0.0.1:0", data=data)
        t.eq(rc, 1, "serve before init fails")

        # init creates the key (0600) and refuses to overwrite
        rc, out, err = run(binary, "init", data=data)
        t.eq(rc, 0, f"init: {err}")
        key = os.path.join(data, "pharmdesk.key")
        st = os.stat(key)
        t.eq(stat.S_IMODE(st.st_mode), 0o600, "key file mode")
        t.eq(st.st_size, 32, "key is 256 bits")
        before = open(key, "rb").read()
        rc, out, err = run(binary, "init", data=data)
        t.eq(rc, 1, "second init refused")
        t.check("refuses" in err, f"explains: {err!r}")
        t.eq(open(key, "rb").read(), before, "key unchanged")

        # imports, with options before or after the argument
        rc, out, err = run(binary, "--data", data, "import-catalog", os.path.join(demo, "catalog.csv"))
        t.eq(rc, 0, f"import-catalog: {err}")
        t.check("89 inserted" in out and "0 rejected" in out, f"summary: {out!r}")
        t.check("\r" not in err, "no progress bar when stderr is not a terminal")
        rc, out, err = run(binary, "import-orders", os.path.join(demo, "orders.csv"), data=data)
        t.eq(rc, 0, f"import-orders: {err}")
        t.check("25 inserted" in out, f"orders summary: {out!r}")
        rc, out, err = run(binary, "import-catalog", os.path.join(demo, "catalog.csv"), data=data)
        t.check(rc == 0 and "89 unchanged" in out, f"re-import unchanged: {out!r}")

        # bad rows: reported with line numbers, the good rows go in, exit 1
        bad = os.path.join(tmp, "bad.csv")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("pzn,name,manufacturer,active_ingredient,strength,dosage_form,pack_size,"
                    "dispensing,price_eur,stock,supply,aliases\n"
                    "13926897,Ibuprofen AL 200 mg Filmtabletten,ALIUD Pharma,Ibuprofen,200 mg,"
                    "Filmtabletten,20 St,pharmacy,2.99,18,available,Ibu 200\n"
                    "13926898,Bad,X,Y,1,T,1 St,pharmacy,1,1,available,\n")
        rc, out, err = run(binary, "import-catalog", bad, data=data)
        t.eq(rc, 1, "rejected rows give exit 1")
        t.check("line 3: PZN '13926898' has a wrong check digit" in err, f"reason: {err!r}")
        t.check("1 updated" in out and "1 rejected" in out, f"summary with rejects: {out!r}")
        rc, out, err = run(binary, "import-catalog", os.path.join(tmp, "missing.csv"), data=data)
        t.eq(rc, 1, "missing file")
        t.check("nothing was changed" in err and "missing.csv" in err, f"missing file message: {err!r}")
        rc, out, err = run(binary, "import-orders", os.path.join(demo, "catalog.csv"), data=data)
        t.eq(rc, 1, "wrong file for orders")
        t.check("unknown column" in err, f"names the column: {err!r}")

        # configuration check
        good = os.path.join(tmp, "good.json")
        with open(good, "w") as f:
            f.write('// comment\n{"pharmacy": {"name": "Test-Apotheke"}, "threads": 2}\n')
        rc, out, err = run(binary, "serve", "--check-config", "--config", good, data=data)
        t.check(rc == 0 and "configuration ok" in out, f"good config: {rc} {out!r} {err!r}")
        rc, out, err = run(binary, "serve", "--check-config", "--config",
                           os.path.join(repo, "server/config.example.json"), data=data)
        t.eq(rc, 0, f"shipped example is valid: {err}")
        badcfg = os.path.join(tmp, "bad.json")
        for text, word in [('{"pharmacy": {"phone": "none"}}', "pharmacy.phone"),
                           ('{"colour": "blue"}', "colour"),
                           ('{"threads": 1000}', "threads"),
                           ('{"listen": "0.0.0.0"}', "listen"),
                           ('{\n"threads": 2,,\n}', ":2:")]:
            with open(badcfg, "w") as f:
                f.write(text)
            rc, out, err = run(binary, "serve", "--check-config", "--config", badcfg, data=data)
            t.eq(rc, 1, f"bad config {text!r}")
            t.check(word in err, f"error names {word!r}: {err!r}")
        # a broken policy file stops the start, naming file and line
        import shutil
        pol = os.path.join(tmp, "policies")
        shutil.copytree(os.path.join(repo, "policies"), pol)
        rules = sorted(f for f in os.listdir(os.path.join(pol, "rules")) if f.endswith(".rules"))
        with open(os.path.join(pol, "rules", rules[-1]), "a") as f:
            f.write("rule broken.rule answer nonsense_intent: @nowhere\n")
        with open(badcfg, "w") as f:
            json.dump({"policies_dir": pol}, f)
        rc, out, err = run(binary, "serve", "--check-config", "--config", badcfg, data=data)
        t.eq(rc, 1, "broken policy file refused")
        t.check(rules[-1] in err and ":" in err, f"names the policy file and line: {err!r}")
        rc, out, err = run(binary, "serve", "--listen", "127.0.0.1:0", "--config", badcfg, data=data)
        t.eq(rc, 1, "serve does not start with a broken policy")
        rc, out, err = run(binary, "serve", "--listen", "nohost:80", data=data)
        t.eq(rc, 1, "bad --listen")
        t.check("--listen" in err, f"names --listen: {err!r}")

        # serve binds loopback by default: the configured default is 127.0.0.1
        with open(good, "w") as f:
            json.dump({"listen": "127.0.0.1:0"}, f)
        srv = Server(binary, data, good, extra=[]).start()
        t.check(srv.port > 0, "serves on a free port")
        t.eq(srv.stop(), 0, "stops cleanly")
        # a port in use is a clear error
        srv = Server(binary, data).start()
        rc, out, err = run(binary, "serve", "--listen", f"127.0.0.1:{srv.port}", data=data, timeout=20)
        t.eq(rc, 1, "port in use")
        t.check("cannot listen" in err, f"says why: {err!r}")
        srv.stop()
    finally:
        cleanup(tmp)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
