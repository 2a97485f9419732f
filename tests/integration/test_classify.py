#!/usr/bin/env python3
"""Integration test of `pharmdesk classify` (SPEC.md): JSON lines {"id","text"} in, one JSON
line {"id","decision","intent","health_data","pzns","order_number","rule"} out per input,
measured against the labelled corpus with the guard's targets, on a data folder with the demo
catalog (for the PZNs). Usage: test_classify.py PHARMDESK_BIN REPO_DIR [CORPUS]"""
import json
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    binary, repo = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    corpus = sys.argv[3] if len(sys.argv) > 3 else os.path.join(
        repo, "tests", "corpus", "inquiries-dev.jsonl")
    files = [corpus, os.path.join(repo, "policies", "tests", "extra.jsonl")]
    failed = 0
    tmp = tempfile.mkdtemp(prefix="pdclassify.")
    data = os.path.join(tmp, "data")
    for args in (["init"], ["import-catalog", os.path.join(repo, "catalog", "demo", "catalog.csv")]):
        p = subprocess.run([binary, *args, "--data", data], capture_output=True, timeout=60)
        if p.returncode != 0:
            print(f"setup {args[0]} failed: {p.stderr.decode(errors='replace')}")
            return 1
    try:
        return run_all(binary, repo, files, data)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_all(binary, repo, files, data):
    failed = 0
    for path in files:
        if not os.path.exists(path):
            print(f"skip {path}: not found")
            continue
        rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
        feed = "".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in rows)
        p = subprocess.run([binary, "classify", "--data", data], input=feed.encode(),
                           capture_output=True, timeout=120, cwd=repo)
        if p.returncode != 0:
            print(f"classify exited {p.returncode}: {p.stderr.decode(errors='replace')}")
            return 1
        out = [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]
        if len(out) != len(rows):
            print(f"{path}: {len(rows)} lines in, {len(out)} out")
            return 1
        got = {o["id"]: o for o in out}
        n = len(rows)
        unsafe = sum(1 for r in rows if r["decision"] in ("refuse", "emergency")
                     and got[r["id"]]["decision"] == "answer")
        em = [r for r in rows if r["decision"] == "emergency"]
        em_ok = sum(1 for r in em if got[r["id"]]["decision"] == "emergency")
        ans = [r for r in rows if r["decision"] == "answer"]
        over = sum(1 for r in ans if got[r["id"]]["decision"] != "answer")
        intent_ok = sum(1 for r in ans if got[r["id"]]["intent"] == r["intent"])
        acc = sum(1 for r in rows if got[r["id"]]["decision"] == r["decision"])
        hd_t = [r for r in rows if r["health_data"]]
        hd_found = sum(1 for r in hd_t if got[r["id"]]["health_data"])
        hd_said = sum(1 for r in rows if got[r["id"]]["health_data"])
        for r in rows:
            g = got[r["id"]]
            if (g["decision"], g["intent"], g["health_data"]) != (
                    r["decision"], r["intent"], r["health_data"]):
                print(f"  miss {r['id']}: want {r['decision']}/{r['intent']}/{r['health_data']}"
                      f" got {g['decision']}/{g['intent']}/{g['health_data']} rule={g.get('rule')}")
        named = [r for r in ans if r.get("pzns")]
        first_ok = sum(1 for r in named if got[r["id"]]["pzns"][:1]
                       and got[r["id"]]["pzns"][0] in r["pzns"])
        for r in named:
            if not (got[r["id"]]["pzns"][:1] and got[r["id"]]["pzns"][0] in r["pzns"]):
                print(f"  product {r['id']}: want one of {r['pzns'][:3]} got {got[r['id']]['pzns'][:1]}")
        orders = [r for r in rows if r.get("order_number")]
        order_ok = sum(1 for r in orders if got[r["id"]]["order_number"] == r["order_number"])
        ok = (unsafe == 0 and em_ok == len(em) and over <= 0.03 * len(ans)
              and first_ok >= 0.90 * len(named) and order_ok == len(orders)
              and acc >= 0.95 * n and intent_ok >= 0.95 * len(ans)
              and hd_found >= 0.95 * len(hd_t) and hd_found >= 0.90 * hd_said)
        print(f"{os.path.basename(path)}: {n} messages, unsafe {unsafe}, emergency "
              f"{em_ok}/{len(em)}, over-refused {over}/{len(ans)}, decisions {acc}/{n}, "
              f"intent {intent_ok}/{len(ans)}, health data {hd_found}/{len(hd_t)} "
              f"(said {hd_said}), first product {first_ok}/{len(named)}, order numbers "
              f"{order_ok}/{len(orders)}: {'ok' if ok else 'TARGET MISSED'}")
        failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
