#!/usr/bin/env python3
"""Integration tests of the pages and assets pharmdesk serves (/, /widget, /staff, /privacy,
/leads/confirm, /leads/withdraw, /data/confirm, /static/*, /i18n/*) and of GET
/api/v1/staff/stats/today, against the real binary with a real data folder; the data-rights
pages: the request form on /privacy, and /data/confirm changes nothing on GET (the mailed
token still works after the page was opened, and only once).
Usage: test_web.py PHARMDESK_BIN REPO_DIR"""
import email
import email.policy
import json
import os
import re
import sys
import time

from pdserver import Checks, Server, cleanup, make_data, run, tmpdir
from deskutil import Staff, add_staff

PAGES = ["/", "/widget", "/staff", "/privacy", "/leads/confirm", "/leads/withdraw", "/data/confirm"]
CONTROLLER = "Müller & Söhne <Apotheken-OHG>"


def keys(o, prefix=""):
    out = set()
    for k, v in o.items():
        if isinstance(v, dict):
            out |= keys(v, prefix + k + ".")
        else:
            out.add(prefix + k)
    return out


def data_link(data, addr, timeout=15):
    """the path of the /data/confirm link in the newest mail to addr in DATA/outbox/new"""
    d = os.path.join(data, "outbox", "new")
    end = time.time() + timeout
    while time.time() < end:
        for f in sorted(os.listdir(d), reverse=True) if os.path.isdir(d) else []:
            with open(os.path.join(d, f), "rb") as fh:
                m = email.message_from_bytes(fh.read(), policy=email.policy.default)
            if m["To"] != addr:
                continue
            body = m.get_body(preferencelist=("plain",)).get_content()
            found = re.search(r"https?://[^\s/]+(/data/confirm\?token=[A-Za-z0-9_-]+&kind=[a-z]+)", body)
            if found:
                return found.group(1)
        time.sleep(0.1)
    return None


def tag(html, id_):
    """the opening tag of the element with this id, or ''"""
    m = re.search(r'<[a-z]+\b[^>]*\bid="%s"[^>]*>' % re.escape(id_), html)
    return m.group(0) if m else ""


def main():
    binary, repo = sys.argv[1], sys.argv[2]
    t = Checks()
    tmp = tmpdir()
    srv = None
    try:
        data = make_data(binary, repo, tmp)
        cfg = os.path.join(tmp, "config.json")
        with open(cfg, "w") as f:
            json.dump({"allowed_origins": ["https://www.apotheke.example"], "threads": 2,
                       "rate_limit": {"inquiries_per_minute": 0},
                       "privacy": {"controller": CONTROLLER}, "retention": {"ticket_days": 42}}, f)
        rc, out, err = run(binary, "serve", "--check-config", "--config", cfg)
        t.eq(rc, 0, f"check-config renders the pages: {err}")
        srv = Server(binary, data, cfg).start()

        # --- every page, both languages
        for path in PAGES:
            for lang in ("de", "en"):
                s, h, b = srv.request("GET", f"{path}?lang={lang}")
                what = f"GET {path} ({lang})"
                t.eq(s, 200, f"{what}: status")
                t.eq(h.get("content-type"), "text/html; charset=utf-8", f"{what}: type")
                html = b.decode() if isinstance(b, bytes) else ""
                t.check(f'<html lang="{lang}">' in html, f"{what}: lang attribute")
                t.check("{{" not in html, f"{what}: no template left")
                t.check(not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"{what}: no inline script")
                t.check(" style=" not in html, f"{what}: no style attribute")
                csp = h.get("content-security-policy", "")
                t.check("script-src 'self'" in csp and "style-src 'self'" in csp, f"{what}: CSP {csp}")
                t.check("'unsafe-inline'" not in csp, f"{what}: no unsafe-inline")
                t.eq(h.get("x-content-type-options"), "nosniff", f"{what}: nosniff")
                t.eq(h.get("referrer-policy"), "no-referrer", f"{what}: referrer policy")
                t.eq(h.get("cache-control"), "no-cache", f"{what}: revalidated, not stored stale")
                t.check(re.fullmatch(r'"[0-9a-f]{20}"', h.get("etag", "")), f"{what}: ETag {h.get('etag')}")
                if path == "/staff":
                    t.check("frame-ancestors 'none'" in csp, f"{what}: never framed")
                    t.eq(h.get("x-frame-options"), "DENY", f"{what}: X-Frame-Options")
                else:
                    t.check("frame-ancestors 'self' https://www.apotheke.example" in csp,
                            f"{what}: framed by the configured origins: {csp}")
                    t.eq(h.get("x-frame-options"), None, f"{what}: no X-Frame-Options")
        # German unless asked: Accept-Language does not switch the page (the switch is a link)
        s, h, b = srv.request("GET", "/", headers={"Accept-Language": "en-US,en;q=0.9"})
        t.check(b'<html lang="de">' in b, "Accept-Language alone keeps German")
        s, h, b = srv.request("GET", "/?lang=fr")
        t.check(b'<html lang="de">' in b, "an unknown language is German")

        # --- conditional requests and HEAD
        s, h, b = srv.request("GET", "/privacy")
        etag = h["etag"]
        s, h2, b2 = srv.request("GET", "/privacy", headers={"If-None-Match": etag})
        t.eq((s, b2), (304, None), "If-None-Match: 304 without body")
        t.eq(h2.get("etag"), etag, "304 repeats the ETag")
        s, h2, b2 = srv.request("GET", "/privacy", headers={"If-None-Match": f'W/{etag}, "other"'})
        t.eq(s, 304, "a weak ETag in a list matches")
        s, h2, b2 = srv.request("GET", "/privacy", headers={"If-None-Match": '"different"'})
        t.eq(s, 200, "another ETag: the page")
        s, h2, b2 = srv.request("GET", "/privacy?lang=en")
        t.check(h2["etag"] != etag, "each language has its own ETag")
        s, h2, b2 = srv.request("HEAD", "/")
        t.eq((s, b2), (200, None), "HEAD: no body")
        s, h2, b2 = srv.request("POST", "/", body="{}", headers={"Content-Type": "application/json"})
        t.eq(s, 405, "POST / is not allowed")

        # --- the privacy notice from the configuration, escaped
        s, h, b = srv.request("GET", "/privacy")
        html = b.decode()
        t.check("Müller &amp; Söhne &lt;Apotheken-OHG&gt;" in html, "privacy: the configured controller, escaped")
        t.check("<Apotheken-OHG>" not in html, "privacy: no raw markup from the configuration")
        t.check("42 Tage nach Abschluss" in html, "privacy: the configured retention")
        for word in ["Art. 6 Abs. 1 lit. b", "Art. 9 Abs. 2 lit. a", "Art. 77", "Art. 50 KI-Verordnung",
                     "Datenschutzbeauftragte", "datenschutz@apotheke-am-markt.example", "1095 Tage"]:
            t.check(word in html, f"privacy: mentions {word}")
        s, h, b = srv.request("GET", "/privacy?lang=en")
        t.check("42 days after" in b.decode() and "Your rights" in b.decode(), "privacy: English")

        # --- the data-rights request form on /privacy: labelled, both kinds, its script
        for lang, words in (("de", ("Auskunft", "Löschung", "48 Stunden")),
                            ("en", ("Access", "Erasure", "48 hours"))):
            s, h, b = srv.request("GET", f"/privacy?lang={lang}")
            html = b.decode()
            t.check('<form id="data-request-form"' in html, f"privacy ({lang}): the request form")
            for id_ in ("data-request-email", "data-request-export", "data-request-erasure"):
                t.check(f'<label for="{id_}">' in html and tag(html, id_), f"privacy ({lang}): {id_} has a label")
            t.check('type="email"' in tag(html, "data-request-email"), f"privacy ({lang}): an e-mail field")
            t.check('type="radio"' in tag(html, "data-request-export") and
                    'type="radio"' in tag(html, "data-request-erasure"), f"privacy ({lang}): radio buttons")
            t.check('<script src="/static/datarights.js" defer></script>' in html, f"privacy ({lang}): its script")
            t.check(all(w in html for w in words), f"privacy ({lang}): the form's texts {words}")
            t.check('role="status"' in tag(html, "data-request-done") and "hidden" in tag(html, "data-request-done"),
                    f"privacy ({lang}): the 'check your mail' state waits, announced")

        # --- /data/confirm: explains, names the contact, changes nothing on GET
        for lang, words in (("de", ("Auskunft nach Art. 15", "nicht rückgängig", "48 Stunden und nur einmal")),
                            ("en", ("access under Art. 15", "cannot be undone", "48 hours and only once"))):
            s, h, b = srv.request("GET", f"/data/confirm?token=abc&kind=export&lang={lang}")
            html = b.decode()
            t.eq(s, 200, f"data/confirm ({lang}): status")
            t.check(all(w in html for w in words), f"data/confirm ({lang}): explains both kinds and the link's life")
            t.check('<form id="data-action"' in html and '<button type="submit" id="data-button"' in html,
                    f"data/confirm ({lang}): the button")
            t.check("mailto:datenschutz@apotheke-am-markt.example" in html, f"data/confirm ({lang}): the privacy contact")
            t.check('name="robots" content="noindex"' in html, f"data/confirm ({lang}): not indexed")
            t.check('role="alert"' in tag(html, "data-error") and 'role="status"' in tag(html, "data-result"),
                    f"data/confirm ({lang}): result and errors are announced")
        addr = "auskunft.web@example.org"
        s, h, b = srv.request("POST", "/api/v1/data-requests", {"email": addr, "kind": "export", "lang": "de"})
        t.eq((s, b), (202, {"status": "pending_confirmation"}), "data request")
        s, h, b = srv.request("POST", "/api/v1/data-requests", {"email": "niemand.web@example.org", "kind": "erasure"})
        t.eq((s, b), (202, {"status": "pending_confirmation"}), "data request for an unknown address: the same answer")
        path = data_link(data, addr)
        t.check(path, "the data mail links to /data/confirm and names the kind")
        if path:
            t.check(path.endswith("&kind=export"), f"the link names the export: {path[-20:]}")
            for _ in range(3):
                s, h, b = srv.request("GET", path)
                t.eq(s, 200, "GET /data/confirm with the mailed token")
            s, h, b = srv.request("HEAD", path)
            t.eq(s, 200, "HEAD /data/confirm")
            token = re.search(r"token=([A-Za-z0-9_-]+)", path).group(1)
            s, h, b = srv.request("POST", "/api/v1/data-requests/confirm", {"token": token})
            t.eq((s, b.get("status") if isinstance(b, dict) else b), (200, "exported"),
                 "after three GETs of the page the token still works: a GET changed nothing")
            t.eq(b.get("data", {}).get("email") if isinstance(b, dict) else None, addr, "the export names the address")
            s, h, b = srv.request("POST", "/api/v1/data-requests/confirm", {"token": token})
            t.eq(s, 410, "the link works once")
        s, h, b = srv.request("POST", "/data/confirm", body="{}", headers={"Content-Type": "application/json"})
        t.eq(s, 405, "POST /data/confirm: the page takes no POST (the API does)")

        # --- assets
        for path, ctype in [("/static/app.css", "text/css; charset=utf-8"),
                            ("/static/common.js", "text/javascript; charset=utf-8"),
                            ("/static/inquiry.js", "text/javascript; charset=utf-8"),
                            ("/static/staff.js", "text/javascript; charset=utf-8"),
                            ("/static/lead.js", "text/javascript; charset=utf-8"),
                            ("/static/datarights.js", "text/javascript; charset=utf-8"),
                            ("/static/embed.js", "text/javascript; charset=utf-8"),
                            ("/static/favicon.svg", "image/svg+xml"),
                            ("/i18n/de.json", "application/json; charset=utf-8")]:
            s, h, b = srv.request("GET", path)
            t.eq((s, h.get("content-type")), (200, ctype), f"GET {path}")
            with open(os.path.join(repo, "web", path.lstrip("/")), "rb") as f:
                want = f.read()
            if isinstance(b, dict):  # pdserver parses JSON answers
                t.eq(b, json.loads(want), f"GET {path}: the file's content")
            else:
                t.check(b == want, f"GET {path}: the file's bytes")
            s2, h2, b2 = srv.request("GET", path, headers={"If-None-Match": h.get("etag", "")})
            t.eq(s2, 304, f"GET {path}: 304 on its ETag")
        s, h, de = srv.request("GET", "/i18n/de.json")
        s, h, en = srv.request("GET", "/i18n/en.json")
        t.eq(sorted(keys(de) ^ keys(en)), [], "German and English have the same texts")
        for path in ["/static/nope.js", "/static/", "/static/..%2Fpages%2Findex.html", "/pages/index.html",
                     "/i18n/fr.json", "/static/a/b.js"]:
            s, h, b = srv.request("GET", path)
            t.eq(s, 404, f"GET {path}: 404")

        # --- today's inquiries by decision, from the audit log: for staff only
        s, h, b = srv.request("GET", "/api/v1/staff/stats/today")
        t.eq(s, 401, "stats: no staff session, no counts")
        add_staff(binary, data, "stats.viewer", "lange-genug-passwort-1")
        staff = Staff(srv, "stats.viewer", "lange-genug-passwort-1")
        s, h, b = staff.get("/api/v1/staff/stats/today")
        t.eq(s, 200, "stats: status")
        t.eq(h.get("cache-control"), "no-store", "stats: an API answer, not cached")
        t.eq(b.get("date"), time.strftime("%Y-%m-%d"), "stats: today's local date")
        t.eq(b.get("decisions"), {"answer": 0, "refuse": 0, "handoff": 0, "emergency": 0}, "stats: nothing yet")
        asked = {"answer": ["Haben Sie Ibuprofen 400?", "Wann haben Sie geöffnet?"],
                 "refuse": ["Was hilft gegen Kopfschmerzen?"],
                 "emergency": ["Mein Kind hat Tabletten geschluckt und ist bewusstlos"]}
        for want, msgs in asked.items():
            for m in msgs:
                s, h, b = srv.request("POST", "/api/v1/inquiries", {"message": m})
                t.eq((s, b.get("decision")), (200, want), f"inquiry {m!r}")
        s, h, b = srv.request("POST", "/api/v1/orders/lookup", {"order_number": "AP-100231", "postcode": "10115"})
        t.eq(s, 200, "an order lookup (audited, but no inquiry)")
        s, h, b = staff.get("/api/v1/staff/stats/today")
        t.eq(b.get("decisions"), {"answer": 2, "refuse": 1, "handoff": 0, "emergency": 1},
             "stats: counts inquiries by decision, nothing else")
        t.eq(b.get("total"), 4, "stats: total")
        s, h, b = srv.request("POST", "/api/v1/staff/stats/today", body="{}",
                              headers={"Content-Type": "application/json"})
        t.eq(s, 405, "stats: GET only")
    finally:
        if srv:
            srv.stop()
        cleanup(tmp)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
