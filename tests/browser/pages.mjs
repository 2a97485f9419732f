// Browser test of the other pages: /privacy names the configured controller and periods in
// both languages, /leads/confirm and /leads/withdraw change nothing on GET and need their
// token, /staff shows its sign-in and cannot be framed, the widget script embeds the form on
// an allowed origin and the browser refuses it elsewhere. Screenshots of every page.
// Usage: node pages.mjs PHARMDESK_BIN REPO_DIR ARTIFACTS_DIR [--full]
import http from 'node:http';
import { main, pageQuality, ready, shots, watch } from './lib.mjs';

const CONTROLLER = 'Apotheke am Markt, Inh. Dr. Erika Muster e.K.';

/* a stand-in for the pharmacy's own website on another loopback origin; it embeds the widget
 * of the pharmdesk server that pharmdeskUrl() names once it runs */
function hostSite(pharmdeskUrl) {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="de"><head><title>Apotheke</title></head><body>
<h1>Unsere Apotheke</h1><div id="slot"></div>
<script src="${pharmdeskUrl()}/static/embed.js" data-target="#slot" data-lang="de"></script>
</body></html>`);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

await main('pages', async ({ t, browser, start, artifacts }) => {
  let pharmdesk = '';
  const allowed = await hostSite(() => pharmdesk);
  const other = await hostSite(() => pharmdesk);
  const allowedOrigin = `http://localhost:${allowed.address().port}`;
  const srv = await start({
    threads: 2,
    allowed_origins: [allowedOrigin],
    privacy: { controller: CONTROLLER },
    retention: { ticket_days: 77, audit_days: 400 },
    privacy_contact: { name: 'Frau Datenschutz', email: 'dsb@apotheke.example', address: 'Postfach 1, 10115 Berlin' },
  });
  pharmdesk = srv.url;
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const errors = watch(page);

  // the privacy notice from the configuration, German and English
  let r = await page.goto(srv.url + '/privacy');
  t.eq(r.status(), 200, 'privacy: status');
  t.eq(await page.getAttribute('html', 'lang'), 'de', 'privacy: German by default');
  t.eq(await page.locator('#controller-name').innerText(), CONTROLLER, 'privacy: names the configured controller');
  const de = await page.locator('main').innerText();
  t.check(de.includes('Frau Datenschutz') && de.includes('dsb@apotheke.example'), 'privacy: names the configured data-protection contact');
  t.check(de.includes('77 Tage'), 'privacy: the configured handoff retention period');
  t.check(de.includes('400 Tage'), 'privacy: the configured audit retention period');
  for (const word of ['Art. 9 Abs. 2 lit. a', 'Art. 15', 'Art. 17', 'Art. 77', 'Art. 50', '§ 20 Apothekenbetriebsordnung', 'Double-Opt-in']) {
    t.check(de.includes(word), `privacy: mentions ${word}`);
  }
  await pageQuality(t, page, 'privacy');
  await shots(page, artifacts, 'privacy');
  await page.click('a.lang-switch');
  await page.waitForURL(/lang=en/);
  t.eq(await page.getAttribute('html', 'lang'), 'en', 'privacy: English on the switch');
  t.eq(await page.locator('#controller-name').innerText(), CONTROLLER, 'privacy (en): names the configured controller');
  const en = await page.locator('main').innerText();
  t.check(en.includes('77 days') && en.includes('Your rights'), 'privacy (en): periods and rights in English');
  await shots(page, artifacts, 'privacy-english');

  // lead pages: a GET changes nothing, the button posts the token; without a token: explained
  for (const action of ['confirm', 'withdraw']) {
    const posts = [];
    const onReq = (q) => { if (q.method() === 'POST') posts.push(q.url()); };
    page.on('request', onReq);
    r = await page.goto(`${srv.url}/leads/${action}?token=abc123`);
    await ready(page);
    t.eq(r.status(), 200, `leads/${action}: status`);
    await page.waitForTimeout(300);
    t.eq(posts.length, 0, `leads/${action}: opening the page sends nothing`);
    t.check(await page.locator('#lead-action button').isEnabled(), `leads/${action}: the button waits for a click`);
    t.check((await page.getAttribute('a.lang-switch', 'href')).includes('token=abc123'), `leads/${action}: the language switch keeps the token`);
    await pageQuality(t, page, `leads/${action}`);
    await shots(page, artifacts, `lead-${action}`);
    page.off('request', onReq);
    await page.goto(`${srv.url}/leads/${action}`);
    await ready(page);
    t.check(await page.locator('#lead-action button').isDisabled(), `leads/${action}: no token, no button`);
    t.check(await page.locator('#lead-error').isVisible(), `leads/${action}: no token is explained`);
  }

  // the staff page: sign-in form, never framed
  r = await page.goto(srv.url + '/staff');
  await ready(page);
  t.check((r.headers()['content-security-policy'] || '').includes("frame-ancestors 'none'"), 'staff: frame-ancestors none');
  t.eq(r.headers()['x-frame-options'], 'DENY', 'staff: X-Frame-Options DENY');
  t.check(await page.locator('#login-form').isVisible(), 'staff: the sign-in form');
  t.eq(await page.getAttribute('#login-password', 'autocomplete'), 'current-password', 'staff: password autocomplete');
  await pageQuality(t, page, 'staff');
  await shots(page, artifacts, 'staff-login');
  /* /staff asks GET /api/v1/staff/me whether a session exists: 401 without one (404 before
   * the staff API is merged) */
  t.eq(errors.filter((e) => !(/\/api\/v1\/staff\/me\)$/.test(e) && /status of 40[14]/.test(e))).join('\n'), '',
    'pages: no console errors or CSP violations');

  // the widget on the pharmacy's site: shown on an allowed origin, refused on another
  const host = await ctx.newPage();
  const hostErrors = [];
  host.on('console', (m) => hostErrors.push(m.text()));
  await host.goto(allowedOrigin + '/');
  const frameEl = host.locator('iframe.pharmdesk-widget');
  await frameEl.waitFor();
  t.eq(await frameEl.getAttribute('title'), 'Anfrageformular der Apotheke', 'widget: the iframe has a title');
  const frame = host.frameLocator('iframe.pharmdesk-widget');
  await frame.locator('#message').waitFor();
  t.check(await frame.locator('#message').isVisible(), 'widget: the form shows inside the allowed site');
  await host.waitForFunction(() => parseInt(document.querySelector('iframe.pharmdesk-widget').style.height, 10) > 300);
  t.check(true, 'widget: the iframe takes the height the form reports');
  await shots(host, artifacts, 'widget-embedded');

  const evil = await ctx.newPage();
  const evilLog = [];
  evil.on('console', (m) => evilLog.push(m.text()));
  await evil.goto(`http://127.0.0.1:${other.address().port}/`);
  await evil.locator('iframe.pharmdesk-widget').waitFor();
  await evil.waitForTimeout(1500);
  const inner = evil.frames().find((f) => f.url().includes('/widget'));
  const shown = inner ? await inner.locator('#message').count().catch(() => 0) : 0;
  t.eq(shown, 0, 'widget: another site cannot frame the form');
  t.check(evilLog.some((m) => /frame-ancestors/.test(m)), 'widget: the browser reports the refused framing');
  allowed.close();
  other.close();
});
