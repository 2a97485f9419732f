// Browser test of "nobody misses a new ticket" on the staff dashboard (needs the staff API;
// runs with PD_BROWSER_FULL): no permission prompt on load, desktop notifications and sound
// only after the buttons (keyboard), the title counting unseen tickets while the window has
// no focus (real: Chromium's focus emulation switched off) or the tab is hidden (emulated:
// headless Chromium keeps every page "visible", so document.visibilityState is overridden
// and visibilitychange dispatched), notifications that carry the ticket number and nothing
// of the message or contact, a distinct emergency notification and signal (Web Audio), the
// live regions for screen readers, and the banner while the live stream is down: the server
// is really stopped and started again on the same port, then the list is refetched.
// Usage: node notify.mjs PHARMDESK_BIN REPO_DIR ARTIFACTS_DIR [--full]
import { apiCall, main, pageQuality, ready, shots, staffAdd, until, watch } from './lib.mjs';

const PASSWORD = 'korrekt-pferd-batterie-7';
const CONFIG = { threads: 2, http: { cookie_secure: false }, rate_limit: { inquiries_per_minute: 0 } };

/* records what the page asks of the Notification API and the tones it starts; the real
 * objects still do the work */
function recorder() {
  window.__pd = { notes: [], prompts: 0, tones: [] };
  const Real = window.Notification;
  if (typeof Real === 'function') {
    class Recorded extends Real {
      constructor(title, options) {
        window.__pd.notes.push({ title, options: JSON.parse(JSON.stringify(options || {})) });
        super(title, options);
      }
    }
    Recorded.requestPermission = (...a) => { window.__pd.prompts += 1; return Real.requestPermission(...a); };
    window.Notification = Recorded;
  }
  if (window.OscillatorNode) {
    const start = OscillatorNode.prototype.start;
    OscillatorNode.prototype.start = function (...a) {
      window.__pd.tones.push({ type: this.type, freq: this.frequency.value });
      return start.apply(this, a);
    };
  }
}

/* headless Chromium has no hidden tabs: the page is told it is hidden, as a switched tab is */
function setHidden(page, hidden) {
  return page.evaluate((h) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

await main('notify', async ({ t, browser, start, artifacts, binary, data }) => {
  staffAdd(binary, data, 'anna', 'pharmacist', PASSWORD);
  let srv = await start(CONFIG);
  const consent = (await apiCall(srv.url, 'GET', '/api/v1/consent-texts?lang=de')).data;
  const handoff = (message, contact) => apiCall(srv.url, 'POST', '/api/v1/handoffs', {
    message, contact, consent: { health_data: true, text_version: consent.handoff.version },
  });

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript(recorder);
  const page = await context.newPage();
  let serverDown = false;
  const errors = watch(page, (text) => /status of 401/.test(text) /* /me before sign-in */ ||
    (serverDown && /ERR_CONNECTION_REFUSED|ERR_INCOMPLETE_CHUNKED_ENCODING|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET|Failed to load resource/.test(text)));
  const pd = () => page.evaluate(() => JSON.parse(JSON.stringify(window.__pd)));
  await page.goto(srv.url + '/staff');
  await ready(page);
  await page.fill('#login-user', 'anna');
  await page.fill('#login-password', PASSWORD);
  await page.click('#login-form button');
  await page.locator('#dashboard').waitFor();
  t.check(await until(async () => (await page.getAttribute('#live', 'data-state')) === 'live', 10000), 'the event stream is live');
  const baseTitle = await page.title();

  // nothing asked on load; both switches off, labelled, reachable by keyboard
  t.eq((await pd()).prompts, 0, 'no notification permission prompt on load');
  t.eq((await page.locator('#notify-desktop').innerText()).trim(), 'Benachrichtigungen einschalten', 'desktop: the opt-in button');
  t.check(/aus/.test(await page.locator('#notify-desktop-state').innerText()), 'desktop: off until opted in');
  t.eq(await page.getAttribute('#notify-sound', 'aria-pressed'), 'false', 'sound: off until switched on');
  t.check(/Ton an\/aus/.test(await page.locator('#notify-sound').innerText()), 'sound: the switch is labelled "Ton an/aus"');
  t.check(await page.locator('#stream-banner').isHidden(), 'no stream banner while live');
  await pageQuality(t, page, 'staff notify controls');

  // a ticket while the page is in front: announced for screen readers, nothing else
  t.eq((await handoff('Eine Frage zu meinem Rezept, bitte.')).status, 201, 'a ticket while the page is in front');
  t.check(await until(async () => /Neue Anfrage eingegangen/.test(await page.locator('#announce').textContent()), 10000),
    'live region: "Neue Anfrage eingegangen"');
  t.eq(await page.getAttribute('#announce', 'aria-live'), 'polite', 'live region: polite for ordinary tickets');
  t.eq(await page.title(), baseTitle, 'title: unchanged while the page is in front');

  // opt in: the desktop button asks the browser; headless Chromium without a grant answers
  // "denied", which the page explains; allowed later (site settings, here the context's
  // grant), the button comes back and turns them on
  await page.focus('#notify-desktop');
  await page.keyboard.press('Enter');
  t.check(await until(async () => (await pd()).prompts === 1, 5000), 'desktop: the button asks for the permission, once');
  t.check(await until(async () => /blockiert/.test(await page.locator('#notify-desktop-state').innerText()), 5000),
    'desktop: a refusal is explained');
  await context.grantPermissions(['notifications'], { origin: srv.url });
  t.check(await until(() => page.locator('#notify-desktop').isVisible(), 5000), 'desktop: allowed later, the button is back');
  await page.focus('#notify-desktop');
  await page.keyboard.press('Enter');
  t.check(await until(async () => /ausschalten/.test(await page.locator('#notify-desktop').innerText()), 5000),
    'desktop: on after the opt-in (the button now turns them off)');
  t.check(/an/.test(await page.locator('#notify-desktop-state').innerText()), 'desktop: the state says on');
  t.eq(await page.evaluate(() => localStorage.getItem('pharmdesk.staff.notify.desktop')), 'on', 'desktop: the opt-in is remembered');
  await page.focus('#notify-sound');
  await page.keyboard.press('Space');
  t.eq(await page.getAttribute('#notify-sound', 'aria-pressed'), 'true', 'sound: switched on by keyboard');
  t.eq(await page.evaluate(() => localStorage.getItem('pharmdesk.staff.notify.sound')), 'on', 'sound: remembered in localStorage');
  t.check(await until(async () => (await pd()).tones.length >= 2, 5000), 'sound: a sample tone when switched on (Web Audio)');
  const soundState = await page.locator('#notify-sound-state').innerText();
  t.check(/Ton ist an/.test(soundState), `sound: the state says on (${soundState})`);
  t.check(await page.evaluate(() => getComputedStyle(document.querySelector('#notify-sound'), '::before').content.includes('✔')),
    'sound: the pressed switch shows a check mark, not only a colour');

  // the live stream drops: the server stops; the banner shows and says the list refreshes
  const port = srv.port;
  serverDown = true;
  await srv.stop();
  t.check(await until(() => page.locator('#stream-banner').isVisible(), 10000), 'stream down: the banner appears');
  const banner = await page.locator('#stream-banner').innerText();
  t.check(/Live-Verbindung ist unterbrochen/.test(banner) && /30 Sekunden/.test(banner), `stream down: the banner text (${banner})`);
  t.eq(await page.getAttribute('#live', 'data-state'), 'down', 'stream down: the status line says so');
  await pageQuality(t, page, 'staff stream banner');
  await shots(page, artifacts, 'notify-stream-down');

  // back on the same port, but the stream is refused for now (503, as when too many dashboards
  // are open: EventSource gives up, the page opens a new one after 5 s, which replays nothing
  // since it has no Last-Event-ID); a ticket comes meanwhile. Then the stream is let through:
  // the banner goes, the list is fetched again and has the missed ticket, which is announced
  const streamHeaders = [];
  await page.route('**/api/v1/staff/events', (route) => {
    streamHeaders.push(route.request().headers());
    route.fulfill({ status: 503, contentType: 'application/json', headers: { 'Retry-After': '5' }, body: '{"error":{"code":"too_many_streams","message":"test"}}' });
  });
  srv = await start(CONFIG, `127.0.0.1:${port}`);
  const missed = await handoff('Haben Sie meine Bestellung schon bekommen?');
  t.eq(missed.status, 201, 'a ticket while the page has no stream');
  const missedId = (missed.data && missed.data.ticket) || '?';
  await page.waitForTimeout(6000);
  t.check(await page.locator('#stream-banner').isVisible(), 'still no stream: the banner stays');
  const lists = [];
  page.on('request', (r) => { if (r.method() === 'GET' && r.url().includes('/api/v1/staff/handoffs')) lists.push(r.url()); });
  t.check(streamHeaders.length > 0, 'the page kept trying the stream');
  await page.unroute('**/api/v1/staff/events');
  t.check(await until(async () => (await page.locator('#stream-banner').isHidden()) &&
    (await page.getAttribute('#live', 'data-state')) === 'live', 15000), 'reconnected: the banner disappears');
  t.check(await until(async () => lists.length > 0, 5000), 'reconnected: the list is fetched again');
  t.check(await until(async () => (await page.locator(`[data-ticket="${missedId}"]`).count()) === 1, 10000),
    'reconnected: the ticket created while the stream was down is in the list');
  t.check(await until(async () => (await page.locator('#announce').textContent()).includes(`Neue Anfrage eingegangen: Anfrage ${missedId}`), 5000),
    'reconnected: the missed ticket is announced');
  const live = await handoff('Und noch eine Frage zur Abholung.');
  t.check(await until(async () => (await page.locator(`[data-ticket="${(live.data && live.data.ticket) || '?'}"]`).count()) === 1, 10000),
    'reconnected: the next ticket arrives live again');
  serverDown = false;

  /* (screenshots after the quality checks: Chromium's autofill leaves empty style="" on the
   * password fields when the viewport changes) */
  await shots(page, artifacts, 'notify-controls');

  // the window loses focus, really: Playwright's focus emulation (every page focused) off,
  // and a second page takes the focus
  const cdp = await context.newCDPSession(page);
  await cdp.send('Emulation.setFocusEmulationEnabled', { enabled: false });
  const other = await context.newPage();
  await other.bringToFront();
  t.eq(await page.evaluate(() => document.hasFocus()), false, 'blurred: the page has no focus');
  const before = await pd();
  const MESSAGE = 'Ich vertrage mein Blutdruckmittel Ramipril nicht gut, bitte um Rückruf.';
  const CONTACT = { name: 'Erika Mustermann', email: 'erika@example.org', phone: '+49 30 1234567' };
  const r1 = await handoff(MESSAGE, CONTACT);
  t.eq(r1.status, 201, 'a ticket while the window has no focus');
  const ticket1 = r1.data && r1.data.ticket;
  t.check(await until(async () => (await page.title()) === `(1) Neue Anfrage – ${baseTitle}`, 10000),
    `title: counts the unseen ticket (${await page.title()})`);
  t.check(await until(async () => (await pd()).notes.length === before.notes.length + 1, 5000), 'desktop: one notification');
  const n1 = (await pd()).notes.at(-1) || { options: {} };
  t.eq(n1.title, 'Neue Anfrage', 'desktop: titled "Neue Anfrage"');
  t.eq(n1.options.body, `Anfrage ${ticket1}`, 'desktop: the body is the ticket number');
  const n1json = JSON.stringify(n1);
  for (const secret of ['Ramipril', 'Blutdruck', 'Rückruf', 'Erika', 'Mustermann', 'erika@example.org', '1234567']) {
    t.check(!n1json.includes(secret), `desktop: nothing of the message or contact (${secret})`);
  }
  t.eq(n1.options.requireInteraction, false, 'desktop: an ordinary ticket does not stay on screen');
  t.check(await until(async () => (await pd()).tones.length === before.tones.length + 2, 5000), 'sound: a short tone for a ticket in the background');
  const title1 = await page.title();
  t.check(!/Ramipril|Erika/.test(title1), 'title: the ticket number count only');
  await other.close();
  await page.bringToFront();
  await cdp.send('Emulation.setFocusEmulationEnabled', { enabled: true });
  t.eq(await page.evaluate(() => document.hasFocus()), true, 'the page has the focus again');
  t.check(await until(async () => (await page.title()) === baseTitle, 5000), 'title: reset when the window has focus again');

  // the tab is hidden: an ordinary ticket and an emergency
  await setHidden(page, true);
  const mid = await pd();
  const r2 = await handoff('Gibt es das Rezept schon zum Abholen?');
  t.eq(r2.status, 201, 'a ticket while the tab is hidden');
  t.check(await until(async () => (await page.title()) === `(1) Neue Anfrage – ${baseTitle}`, 10000), 'hidden: the title counts 1');
  const EMERGENCY = 'Mein Kind hat Tabletten geschluckt und atmet schwer';
  const r3 = await handoff(EMERGENCY, { name: 'Max Muster', email: 'max@example.org' });
  t.eq(r3.status, 201, 'an emergency while the tab is hidden');
  const ticket3 = r3.data && r3.data.ticket;
  t.check(await until(async () => (await page.title()) === `(2) NOTFALL – ${baseTitle}`, 10000),
    `hidden: the title counts 2 and says NOTFALL (${await page.title()})`);
  t.check(await until(async () => (await pd()).notes.length === mid.notes.length + 2, 5000), 'desktop: a notification each');
  const n3 = (await pd()).notes.at(-1) || { options: {} };
  t.eq(n3.title, 'NOTFALL: neue Anfrage', 'desktop: the emergency is labelled');
  t.eq(n3.options.body, `Anfrage ${ticket3}`, 'desktop: the emergency body is the ticket number');
  t.eq(n3.options.requireInteraction, true, 'desktop: the emergency stays until dismissed');
  t.check(!/Tabletten|Kind|Max|max@example/.test(JSON.stringify(n3)), 'desktop: nothing of the emergency message or contact');
  t.check(n3.options.tag === `pharmdesk-${ticket3}`, 'desktop: one notification per ticket (its own tag)');
  const tones = (await pd()).tones.slice(mid.tones.length);
  t.check(tones.filter((x) => x.type === 'square').length === 5, `sound: the emergency has its own signal (${JSON.stringify(tones)})`);
  t.check(await until(async () => /NOTFALL: Neue Anfrage eingegangen/.test(await page.locator('#announce-urgent').textContent()), 5000),
    'live region: the emergency is announced');
  t.eq(await page.getAttribute('#announce-urgent', 'aria-live'), 'assertive', 'live region: assertive for emergencies');
  t.check(await until(async () => (await page.locator('#queue > li.emergency').count()) >= 1, 5000), 'the emergency is in the list');
  await setHidden(page, false);
  t.check(await until(async () => (await page.title()) === baseTitle, 5000), 'title: reset when the tab is visible again');

  // a customer with an open ticket writes an emergency: the ticket becomes one, and that is
  // announced as an emergency too (counted once in the title)
  await setHidden(page, true);
  const first = await apiCall(srv.url, 'POST', '/api/v1/inquiries', { message: 'Ich habe eine Frage zu Nebenwirkungen.' });
  const conversation = first.data && first.data.conversation;
  t.check(typeof conversation === 'string' && conversation.length > 0, 'a conversation');
  const mark = await pd();
  const r5 = await apiCall(srv.url, 'POST', '/api/v1/handoffs', {
    message: 'Bitte rufen Sie mich an.', conversation, consent: { health_data: true, text_version: consent.handoff.version },
  });
  t.eq(r5.status, 201, 'a ticket for the conversation');
  t.check(await until(async () => (await page.title()) === `(1) Neue Anfrage – ${baseTitle}`, 10000), 'escalation: first an ordinary ticket');
  const esc = await apiCall(srv.url, 'POST', '/api/v1/inquiries', { message: 'Mein Mann ist bewusstlos und atmet nicht mehr', conversation });
  t.eq(esc.status, 200, 'the customer writes an emergency');
  t.check(await until(async () => (await page.title()) === `(1) NOTFALL – ${baseTitle}`, 10000),
    `escalation: the title says NOTFALL, still one ticket (${await page.title()})`);
  t.check(await until(async () => (await pd()).notes.length === mark.notes.length + 2, 5000), 'escalation: a second notification');
  const n5 = (await pd()).notes.at(-1) || { options: {} };
  t.eq(n5.title, 'NOTFALL: Anfrage ist jetzt ein Notfall', 'escalation: the notification says so');
  t.eq(n5.options.body, `Anfrage ${r5.data && r5.data.ticket}`, 'escalation: the ticket number');
  t.eq(n5.options.requireInteraction, true, 'escalation: it stays until dismissed');
  t.check(!/bewusstlos|atmet/.test(JSON.stringify(n5)), 'escalation: nothing of the message');
  t.check(await until(async () => /ist jetzt ein Notfall/.test(await page.locator('#announce-urgent').textContent()), 5000),
    'escalation: announced assertively');
  await setHidden(page, false);
  t.check(await until(async () => (await page.title()) === baseTitle, 5000), 'title: reset again');

  // English texts
  await page.goto(srv.url + '/staff?lang=en');
  await ready(page);
  await page.locator('#dashboard').waitFor();
  t.eq((await page.locator('#notify-desktop').innerText()).trim(), 'Turn off notifications', 'English: the desktop switch (still on)');
  t.check(/Sound on\/off/.test(await page.locator('#notify-sound').innerText()), 'English: the sound switch');
  t.eq(await page.getAttribute('#notify-sound', 'aria-pressed'), 'true', 'sound: still on after a reload');
  t.eq(errors.join('\n'), '', 'notify: no console errors or CSP violations');
});
