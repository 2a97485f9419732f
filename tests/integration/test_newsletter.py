#!/usr/bin/env python3
"""Integration tests of `pharmdesk newsletter-send` against the real binary and a running
server: leads signed up and confirmed through the outbox mails; a confirmed lead gets one mail
in its language with a working withdrawal link and the RFC 8058 List-Unsubscribe headers;
pending, withdrawn and back-in-stock leads get none; content naming a prescription-only product
(name, alias, PZN; subject or body) is refused with exit 1 and nothing is queued; bad files are
refused with FILE:LINE; the same content twice within 24 h is refused unless --force (and allowed
after 24 h, by the test clock); the send is recorded without an address; no address or token in
any output or log.
Usage: test_newsletter.py PHARMDESK_BIN REPO_DIR"""
import email
import email.policy
import json
import os
import re
import sys
import time
import urllib.parse

from pdserver import Server, run, run_test

BASE = "https://apotheke.example"
OTC_ZERO = "61388165"  # Paracetamol-ratiopharm 500 mg: stock 0


def outbox(data):
    d = os.path.join(data, "outbox", "new")
    out = []
    for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        with open(os.path.join(d, f), "rb") as fh:
            out.append(email.message_from_bytes(fh.read(), policy=email.policy.default))
    return out


def body(m):
    return m.get_body(preferencelist=("plain",)).get_content()


def mails_to(data, addr, marker=None):
    return [m for m in outbox(data) if m["To"] == addr and (marker is None or marker in body(m))]


def wait_mails(data, addr, n, timeout=15):
    end = time.time() + timeout
    while time.time() < end and len(mails_to(data, addr)) < n:
        time.sleep(0.1)
    return mails_to(data, addr)


def link(text, path):
    m = re.search(re.escape(BASE + path) + r"\?token=([A-Za-z0-9_-]+)", text)
    return m.group(1) if m else None


def signup(srv, addr, purpose="newsletter", lang=None, pzn=None):
    b = {"email": addr, "purpose": purpose,
         "consent": {"given": True, "text_version": f"{purpose}-1"}}
    if lang:
        b["lang"] = lang
    if pzn:
        b["pzn"] = pzn
    return srv.request("POST", "/api/v1/leads", b)


def write(tmp, name, text, mode="w"):
    path = os.path.join(tmp, name)
    with open(path, mode) as f:
        f.write(text)
    return path


def newsletter(de_subject, de_body, en_subject, en_body):
    return (f"# Newsletter\n[subject.de]\n{de_subject}\n[body.de]\n{de_body}\n"
            f"[subject.en]\n{en_subject}\n[body.en]\n{en_body}\n")


def main(t, binary, repo, tmp):
    rc, out, err = run(binary, "test-leads-dump", data="/nonexistent")
    if rc == 2:
        print("SKIP: needs a test build (PD_SANITIZE: test-leads-dump, the test clock)")
        return 77
    data = os.path.join(tmp, "data")
    rc, out, err = run(binary, "init", data=data)
    t.eq(rc, 0, f"init: {err}")
    rc, out, err = run(binary, "import-catalog", os.path.join(repo, "catalog/demo/catalog.csv"),
                       data=data)
    t.eq(rc, 0, f"import: {err}")
    cfg = write(tmp, "config.json", json.dumps({"public_base_url": BASE,
                                                "rate_limit": {"leads_per_client": 1000}}))
    srv = Server(binary, data, cfg).start()
    outputs, tokens = [], []

    def send(path, *extra, env=None):
        old = dict(os.environ)
        os.environ.update(env or {})
        try:
            rc, out, err = run(binary, "newsletter-send", path, "--config", cfg, *extra, data=data)
        finally:
            os.environ.clear()
            os.environ.update(old)
        outputs.append(out + err)
        return rc, out, err

    # ---- leads: confirmed (German, English), pending, withdrawn, back in stock ----
    DE, EN, PENDING, GONE, BIS = ("de@example.org", "en@example.org", "pending@example.org",
                                  "gone@example.org", "bis@example.org")
    addrs = [DE, EN, PENDING, GONE, BIS]
    for who, kw in ((DE, {}), (EN, {"lang": "en"}), (PENDING, {}), (GONE, {}),
                    (BIS, {"purpose": "back_in_stock", "pzn": OTC_ZERO})):
        s, h, b = signup(srv, who, **kw)
        t.eq(s, 202, f"sign-up {who}")
    conf = {}
    for who in addrs:
        got = wait_mails(srv.data, who, 1)
        t.eq(len(got), 1, f"confirmation mail to {who}")
        if got:
            conf[who] = (link(body(got[0]), "/leads/confirm"), link(body(got[0]), "/leads/withdraw"))
            tokens += list(conf[who])
    for who in (DE, EN, GONE, BIS):
        s, h, b = srv.request("POST", "/api/v1/leads/confirm", {"token": conf[who][0]})
        t.eq((s, b), (200, {"status": "confirmed"}), f"confirm {who}")
    s, h, b = srv.request("POST", "/api/v1/leads/withdraw", {"token": conf[GONE][1]})
    t.eq((s, b), (200, {"status": "withdrawn"}), "GONE withdraws")

    # ---- the send ----
    nl = write(tmp, "mai.txt", newsletter(
        "Sonnenschutz für den Sommer", "Guten Tag,\n\nNEU-DE: Sonnenschutz und Ibu 400 im Angebot.",
        "Sunscreen for the summer", "Hello,\n\nNEW-EN: sunscreen for the summer."))
    before = len(outbox(data))
    rc, out, err = send(nl)
    t.eq(rc, 0, f"newsletter-send: {out} {err}")
    m = re.search(r"newsletter ([0-9a-f]{16}): (\d+) mails queued \((\d+) German, (\d+) English\)",
                  out)
    t.check(m, f"summary: {out!r}")
    if m:
        t.eq((m.group(2), m.group(3), m.group(4)), ("2", "1", "1"), "two mails: one German, one English")
    t.check("2 delivered" in out, f"delivered by the command: {out!r}")
    t.eq(len(outbox(data)) - before, 2, "two new mails in the outbox, nothing else")
    de = mails_to(data, DE, "NEU-DE")
    t.eq(len(de), 1, "the German lead got one mail")
    en = mails_to(data, EN, "NEW-EN")
    t.eq(len(en), 1, "the English lead got one mail")
    t.eq(mails_to(data, EN, "NEU-DE"), [], "no German text to the English lead")
    for who in (PENDING, GONE, BIS):
        t.eq(len(mails_to(data, who)), 1, f"{who}: nothing but its confirmation mail")
    if de and en:
        t.eq(str(de[0]["Subject"]), "Sonnenschutz für den Sommer", "German subject (RFC 2047)")
        t.eq(str(en[0]["Subject"]), "Sunscreen for the summer", "English subject")
        t.check("Abmelden" in body(de[0]) and "Unsubscribe" in body(en[0]), "the footers")
        for mm in (de[0], en[0]):
            t.eq(mm["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click", "RFC 8058 header")
            for hdr in ("Date", "Message-ID", "From"):
                t.check(mm[hdr], f"header {hdr}")
        wde, wen = link(body(de[0]), "/leads/withdraw"), link(body(en[0]), "/leads/withdraw")
        tokens += [wde, wen]
        t.check(wde and wen and wde != wen, "each mail its own withdrawal token")
        t.check(wde not in conf[DE] and wen not in conf[EN], "not the confirmation mail's token")
        # the German lead withdraws through the page's button (POST with the token)
        s, h, b = srv.request("POST", "/api/v1/leads/withdraw", {"token": wde})
        t.eq((s, b), (200, {"status": "withdrawn"}), "the newsletter's withdrawal link works")
        # the English lead through the one-click POST of List-Unsubscribe
        unsub = re.match(r"<(.*)>", en[0]["List-Unsubscribe"]).group(1)
        t.check(unsub == f"{BASE}/api/v1/leads/withdraw?token={wen}", f"List-Unsubscribe {unsub}")
        p = urllib.parse.urlsplit(unsub)
        s, h, b = srv.request("POST", f"{p.path}?{p.query}", "List-Unsubscribe=One-Click",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        t.eq((s, b), (200, {"status": "withdrawn"}), "one-click unsubscribe from the newsletter")

    rc, dump, err = run(binary, "test-leads-dump", data=data)
    sends = [l for l in dump.splitlines() if l.startswith("newsletter_sends:")]
    t.eq(len(sends), 1, "the send is recorded")
    if sends:
        t.check("mails_de=1" in sends[0] and "mails_en=1" in sends[0] and "forced=0" in sends[0],
                f"counts recorded: {sends[0]}")
        t.check(m and re.search(r"content_hash=" + m.group(1), sends[0]), "with the content hash")
        t.check("@" not in sends[0], "no address in the record")

    # ---- the double-run guard ----
    # two fresh confirmed leads, so that a repeat would have someone to reach
    NEW = "new@example.org"
    addrs.append(NEW)
    signup(srv, NEW)
    got = wait_mails(data, NEW, 1)
    ctok = link(body(got[0]), "/leads/confirm") if got else None
    tokens.append(ctok)
    t.eq(srv.request("POST", "/api/v1/leads/confirm", {"token": ctok})[0], 200, "confirm NEW")
    # the same content, written with CRLF line ends: the same newsletter
    with open(nl) as f:
        crlf = write(tmp, "mai-crlf.txt", f.read().replace("\n", "\r\n"), mode="w")
    before = len(outbox(data))
    rc, out, err = send(crlf)
    t.eq(rc, 1, "the same content again within 24 h is refused")
    t.check("sent already" in err and "--force" in err, f"a clear message: {err!r}")
    t.eq(len(outbox(data)) - before, 0, "nothing sent on the repeat")
    rc, out, err = send(crlf, "--force")
    t.eq(rc, 0, f"--force sends it again: {err}")
    t.check("1 mails queued (1 German, 0 English), sent again with --force" in out, f"{out!r}")
    t.eq(len(mails_to(data, NEW, "NEU-DE")), 1, "only the lead still subscribed gets it")
    for who in (DE, EN):
        t.eq(len(mails_to(data, who)), 2, f"{who} withdrew: no second newsletter")
    rc, out, err = send(crlf, env={"PHARMDESK_TEST_CLOCK_OFFSET_S": str(25 * 3600)})
    t.eq(rc, 0, f"after 24 hours the same content may go again: {err}")
    t.eq(len(mails_to(data, NEW, "NEU-DE")), 2, "the second regular send")

    # ---- HWG §10: prescription-only products are refused, nothing queued ----
    cases = [
        ("name in the German subject", newsletter("Ozempic ist wieder da", "Text", "News", "Text"),
         "German subject", "Ozempic"),
        ("alias in the English body", newsletter("Neu", "Text", "News", "Viagra now in stock"),
         "English body", "Sildenafil"),
        ("alias in the German body", newsletter("Neu", "Heute günstig: Novalgin", "News", "Text"),
         "German body", "Novaminsulfon"),
        ("PZN in the German body", newsletter("Neu", "Bestellen Sie PZN 6361552-4", "News", "Text"),
         "German body", "63615524"),
        ("name in the English subject", newsletter("Neu", "Text", "Lantus in stock", "Text"),
         "English subject", "Lantus"),
    ]
    rc, dump_before, err = run(binary, "test-leads-dump", data=data)
    for i, (what, text, part, product) in enumerate(cases):
        path = write(tmp, f"rx{i}.txt", text)
        before = len(outbox(data))
        rc, out, err = send(path, "--force")
        t.eq(rc, 1, f"rx {what}: refused")
        t.check("HWG" in err and part in err and product in err and "nothing was queued" in err,
                f"rx {what}: the message names the part and the product: {err!r}")
        t.eq(len(outbox(data)) - before, 0, f"rx {what}: no mail")
    rc, dump_after, err = run(binary, "test-leads-dump", data=data)
    t.eq([l for l in dump_after.splitlines() if l.startswith(("mail_queue:", "newsletter_sends:"))],
         [l for l in dump_before.splitlines() if l.startswith(("mail_queue:", "newsletter_sends:"))],
         "nothing queued, nothing recorded by a refused newsletter")
    # an over-the-counter product is fine
    rc, out, err = send(write(tmp, "otc.txt", newsletter("Ibuprofen AL 200 mg im Angebot", "Text",
                                                         "Ibuprofen offer", "Text")))
    t.eq(rc, 0, f"an OTC product may be advertised: {err}")

    # ---- bad files: FILE:LINE and what is wrong, nothing sent ----
    bad = [
        ("invalid UTF-8", b"[subject.de]\nA\n[body.de]\nok\n\xff\xfe\n[subject.en]\nC\n[body.en]\nD\n",
         ":5: not UTF-8"),
        ("missing English", b"[subject.de]\nA\n[body.de]\nB\n", "[subject.en] is missing"),
        ("unknown section", b"[subject.de]\nA\n[body.de]\nB\n[betreff.en]\nC\n", ":5: a line"),
        ("two subject lines", b"[subject.de]\nA\nB\n[body.de]\nB\n[subject.en]\nC\n[body.en]\nD\n",
         ":3: a subject is one line"),
        ("too large", b"# x\n" * 70000, "larger than 256 KiB"),
    ]
    for what, raw, want in bad:
        path = write(tmp, "bad.txt", raw, mode="wb")
        before = len(outbox(data))
        rc, out, err = send(path)
        t.eq(rc, 1, f"bad file, {what}: exit 1")
        t.check(want in err and "nothing was sent" in err, f"bad file, {what}: {err!r}")
        t.eq(len(outbox(data)) - before, 0, f"bad file, {what}: no mail")
    rc, out, err = send(os.path.join(tmp, "missing.txt"))
    t.check(rc == 1 and "cannot read" in err, f"a missing file: {err!r}")
    rc, out, err = run(binary, "newsletter-send", data=data)
    t.eq(rc, 2, "no file: a usage error")
    rc, out, err = run(binary, "import-catalog", "x.csv", "--force", data=data)
    t.eq(rc, 2, "--force belongs to newsletter-send")

    # ---- nothing personal in any output or log ----
    srv.stop()
    alltext = "".join(outputs) + srv.stderr()
    t.check("event=newsletter_queued" in "".join(outputs), "the send is logged")
    for x in addrs:
        t.check(x not in alltext, f"address {x} not in any output or log")
    for x in tokens:
        t.check(x and x not in alltext, "no token in any output or log")
    return None


if __name__ == "__main__":
    sys.exit(run_test(main))
