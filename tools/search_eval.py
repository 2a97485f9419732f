#!/usr/bin/env python3
"""Search quality on the labelled corpus: for every message that names products, is the first
search hit one of the products meant (top-1), or among the first three (top-3)?
Usage: tools/search_eval.py CORPUS.jsonl BASE_URL  (a server with the demo catalog; set
rate_limit.searches_per_minute to 0 for it)"""
import json
import sys
import urllib.parse
import urllib.request


def main():
    corpus, base = sys.argv[1], sys.argv[2].rstrip("/")
    total = top1 = top3 = 0
    misses = []
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            if not d["pzns"]:
                continue
            text = d["text"].encode()[:200].decode("utf-8", "ignore")
            url = f"{base}/api/v1/products?limit=3&q={urllib.parse.quote(text)}"
            got = [p["pzn"] for p in json.load(urllib.request.urlopen(url))["products"]]
            total += 1
            if got and got[0] in d["pzns"]:
                top1 += 1
            else:
                misses.append(f"  {d['id']}: first {got[:1]} want {d['pzns'][:3]}: {d['text'][:70]}")
            top3 += bool(set(got) & set(d["pzns"]))
    print(f"search on {total} corpus messages naming products: "
          f"top-1 {top1}/{total} ({100 * top1 / total:.0f} %), top-3 {top3}/{total}")
    print("\n".join(misses))


if __name__ == "__main__":
    main()
