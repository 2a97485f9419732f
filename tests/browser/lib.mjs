// Shared helpers of the browser tests: a real pharmdesk binary on a free loopback port with a
// real encrypted data folder (init + demo imports, as tests/integration/pdserver.py does),
// Debian's chromium driven by playwright-core (never a downloaded browser), a check counter
// that ends with "N passed, N failed", console/CSP watching and screenshots as artifacts.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };

/* argv: BINARY REPO ARTIFACTS [--full] */
export function args() {
  const [binary, repo, artifacts] = process.argv.slice(2);
  if (!binary || !repo || !artifacts) {
    console.error('usage: node TEST.mjs PHARMDESK_BIN REPO_DIR ARTIFACTS_DIR [--full]');
    process.exit(2);
  }
  fs.mkdirSync(artifacts, { recursive: true });
  return { binary, repo, artifacts, full: process.argv.includes('--full') };
}

export class Checks {
  constructor(name) {
    this.name = name;
    this.passed = 0;
    this.failed = 0;
  }

  check(cond, what) {
    if (cond) this.passed += 1;
    else {
      this.failed += 1;
      console.log(`FAIL: ${what}`);
    }
    return !!cond;
  }

  eq(got, want, what) {
    return this.check(got === want, `${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }

  done() {
    console.log(`${this.passed} passed, ${this.failed} failed`);
    return this.failed ? 1 : 0;
  }
}

export function run(binary, cmdArgs, data, input) {
  return execFileSync(binary, [...cmdArgs, '--data', data], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/* a real data folder: new key, demo catalog and orders */
export function makeData(binary, repo, tmp) {
  const data = path.join(tmp, 'data');
  run(binary, ['init'], data);
  run(binary, ['import-catalog', path.join(repo, 'catalog/demo/catalog.csv')], data);
  run(binary, ['import-orders', path.join(repo, 'catalog/demo/orders.csv')], data);
  return data;
}

export function tmpdir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pdbrowser.'));
}

/* starts `pharmdesk serve` on 127.0.0.1:0 (or listen, e.g. a stopped server's address again)
 * and resolves once it prints its port */
export function startServer(binary, data, config, tmp, listen) {
  const cfgPath = path.join(tmp, `config-${Date.now()}.json`);
  fs.writeFileSync(cfgPath, JSON.stringify(config || {}));
  const logPath = path.join(tmp, `server-${Date.now()}.log`);
  const log = fs.openSync(logPath, 'w');
  const proc = spawn(binary, ['serve', '--listen', listen || '127.0.0.1:0', '--data', data, '--config', cfgPath],
    { stdio: ['ignore', 'pipe', log] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error('server did not start: ' + fs.readFileSync(logPath, 'utf8'))); }, 30000);
    proc.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/:(\d+) \(Ctrl-C/);
      if (m) {
        clearTimeout(timer);
        const port = Number(m[1]);
        resolve({
          port,
          url: `http://127.0.0.1:${port}`,
          log: () => fs.readFileSync(logPath, 'utf8'),
          stop: () => new Promise((res) => {
            if (proc.exitCode !== null) { res(proc.exitCode); return; }
            proc.once('exit', (code) => res(code));
            proc.kill('SIGTERM');
          }),
        });
      }
    });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${fs.readFileSync(logPath, 'utf8')}`)); });
  });
}

export async function launch() {
  const sandbox = typeof process.getuid === 'function' && process.getuid() === 0 ? ['--no-sandbox'] : [];
  return chromium.launch({
    executablePath: process.env.PD_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    /* no background connections: this machine's network is closed */
    args: [...sandbox, '--disable-dev-shm-usage', '--disable-gpu', '--disable-quic',
      '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

/* collects console errors, page errors and CSP violations of a page; allowed(text, url)
 * returns true for errors a step provokes on purpose (e.g. a 404 of a wrong postcode) */
export function watch(page, allowed) {
  const errors = [];
  page.on('console', (m) => {
    if (m.type() !== 'error' && m.type() !== 'warning') return;
    const url = (m.location() && m.location().url) || '';
    if (m.type() === 'warning' && !/Content Security Policy|Refused/.test(m.text())) return;
    if (allowed && allowed(m.text(), url)) return;
    errors.push(`${m.type()}: ${m.text()} (${url})`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return errors;
}

/* the page's language texts are loaded and its script is wired */
export async function ready(page) {
  await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
}

/* full-page screenshots at desktop and phone width into the artifacts folder */
export async function shots(page, artifacts, name) {
  const before = page.viewportSize();
  for (const [label, vp] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    await page.setViewportSize(vp);
    await page.waitForTimeout(100);
    await page.screenshot({ path: path.join(artifacts, `${name}-${label}.png`), fullPage: true });
  }
  if (before) await page.setViewportSize(before);
}

/* quality checks every page must pass: no inline scripts or style attributes, every form
 * control labelled, a lang attribute, no horizontal scrolling at phone width */
export async function pageQuality(t, page, name) {
  const q = await page.evaluate(() => {
    const controls = [...document.querySelectorAll('input, select, textarea')].filter((c) => c.type !== 'hidden');
    const unlabelled = controls.filter((c) => !(c.labels && c.labels.length) && !c.getAttribute('aria-label') && !c.getAttribute('aria-labelledby'));
    return {
      lang: document.documentElement.lang,
      inlineScripts: document.querySelectorAll('script:not([src])').length,
      styleAttrs: document.querySelectorAll('[style]').length,
      unlabelled: unlabelled.map((c) => c.id || c.name || c.outerHTML.slice(0, 60)),
      viewport: !!document.querySelector('meta[name=viewport]'),
    };
  });
  t.check(q.lang === 'de' || q.lang === 'en', `${name}: html lang attribute (${q.lang})`);
  t.eq(q.inlineScripts, 0, `${name}: inline scripts`);
  t.eq(q.styleAttrs, 0, `${name}: style attributes`);
  t.eq(q.unlabelled.join(','), '', `${name}: form controls without a label`);
  t.check(q.viewport, `${name}: viewport meta`);
  const low = await contrastProblems(page);
  t.eq(low.join('; '), '', `${name}: text contrast (WCAG AA)`);
  const before = page.viewportSize();
  await page.setViewportSize(PHONE);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  t.check(overflow <= 0, `${name}: no horizontal scrolling at phone width (${overflow}px too wide)`);
  if (before) await page.setViewportSize(before);
}

/* visible text whose colour has less than WCAG AA contrast (4.5:1, 3:1 for large text)
 * against the first opaque background behind it */
export async function contrastProblems(page) {
  return page.evaluate(() => {
    const rgba = (s) => {
      const m = s.match(/rgba?\(([^)]+)\)/);
      if (!m) return null;
      const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
    };
    const lum = (c) => {
      const f = (v) => { const x = v / 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
    };
    const background = (el) => {
      for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
        const c = rgba(getComputedStyle(n).backgroundColor);
        if (c && c.a >= 1) return c;
      }
      return { r: 255, g: 255, b: 255, a: 1 };
    };
    const out = [];
    for (const el of document.querySelectorAll('body *')) {
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own || el.closest('.visually-hidden, [hidden], svg') || !el.getClientRects().length) continue;
      const st = getComputedStyle(el);
      if (st.visibility === 'hidden' || el.matches(':disabled')) continue;
      const fg = rgba(st.color);
      const bg = background(el);
      const a = fg.a;
      const mix = { r: fg.r * a + bg.r * (1 - a), g: fg.g * a + bg.g * (1 - a), b: fg.b * a + bg.b * (1 - a) };
      const l1 = lum(mix), l2 = lum(bg);
      const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
      const size = parseFloat(st.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) out.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
    }
    return out;
  });
}

/* the focused element shows a visible focus indicator */
export async function focusVisible(page) {
  return page.evaluate(() => {
    const a = document.activeElement;
    if (!a || a === document.body) return false;
    const s = getComputedStyle(a);
    return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  });
}

/* a JSON call from the test itself (not the browser), e.g. to set up tickets */
export async function apiCall(base, method, path, body, headers) {
  const init = { method, headers: { ...(headers || {}) } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(base + path, init);
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  return { status: r.status, data, headers: r.headers };
}

/* creates a staff account with the binary (password on stdin) */
export function staffAdd(binary, data, user, role, password) {
  return run(binary, ['staff-add', user, '--role', role], data, password + '\n');
}

/* waits until fn() returns something truthy, polling; returns it or null after ms */
export async function until(fn, ms) {
  const end = Date.now() + (ms || 15000);
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) return null;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/* the mails in DATA/outbox/new/ (oldest first), decoded from quoted-printable where needed */
export function outboxMails(data) {
  const dir = path.join(data, 'outbox', 'new');
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).sort().map((f) => fs.readFileSync(path.join(dir, f), 'utf8')
    .replace(/=\r?\n/g, '').replace(/=3D/gi, '='));
}

export function cleanup(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
}

/* runs body(ctx) with a fresh data folder and browser, always cleaning up; exits with the
 * checks' result */
export async function main(name, body) {
  const a = args();
  const t = new Checks(name);
  const tmp = tmpdir();
  let browser = null;
  const servers = [];
  try {
    const data = makeData(a.binary, a.repo, tmp);
    browser = await launch();
    const start = async (config, listen) => {
      const s = await startServer(a.binary, data, config, tmp, listen);
      servers.push(s);
      return s;
    };
    await body({ ...a, t, tmp, data, browser, start });
  } catch (e) {
    t.check(false, `${name}: ${e && e.stack ? e.stack : e}`);
    for (const s of servers) console.log(s.log().split('\n').slice(-20).join('\n'));
  } finally {
    if (browser) await browser.close().catch(() => {});
    for (const s of servers) await s.stop();
    cleanup(tmp);
  }
  process.exit(t.done());
}
