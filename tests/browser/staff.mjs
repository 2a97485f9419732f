// Browser test of the staff dashboard (needs the staff API; runs with PD_BROWSER_FULL):
// sign-in (a wrong password refused, a reload keeps the session), the live queue by server-
// sent events sorted by priority with emergencies highlighted, today's chart of inquiries by
// decision (SVG, matching GET /api/v1/staff/stats/today), the admin's accounts, sign-out.
// Usage: node staff.mjs PHARMDESK_BIN REPO_DIR ARTIFACTS_DIR [--full]
import { apiCall, main, pageQuality, ready, shots, staffAdd, until, watch } from './lib.mjs';

const PASSWORD = 'korrekt-pferd-batterie-7';

await main('staff', async ({ t, browser, start, artifacts, binary, data }) => {
  staffAdd(binary, data, 'admin', 'admin', PASSWORD);
  const srv = await start({ threads: 2, http: { cookie_secure: false }, rate_limit: { inquiries_per_minute: 0 } });
  const consent = (await apiCall(srv.url, 'GET', '/api/v1/consent-texts?lang=de')).data;
  const handoff = (message) => apiCall(srv.url, 'POST', '/api/v1/handoffs', {
    message, consent: { health_data: true, text_version: consent.handoff.version },
  });
  // today's inquiries: two answers, one refusal, one emergency
  for (const m of ['Haben Sie Ibuprofen 400?', 'Wann haben Sie geöffnet?', 'Was hilft gegen Husten?',
    'Mein Kind hat Tabletten geschluckt und ist bewusstlos']) {
    t.eq((await apiCall(srv.url, 'POST', '/api/v1/inquiries', { message: m })).status, 200, `inquiry ${m}`);
  }
  t.eq((await handoff('Ich möchte eine Frage zu meinem Rezept stellen.')).status, 201, 'a normal ticket');

  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  const errors = watch(page, (text) => /status of 401/.test(text)); /* /me before sign-in */
  await page.goto(srv.url + '/staff');
  await ready(page);
  await pageQuality(t, page, 'staff login');

  // keyboard-only sign-in, first with a wrong password
  await page.focus('#login-user');
  await page.keyboard.type('admin');
  await page.keyboard.press('Tab');
  await page.keyboard.type('falsch-falsch-falsch');
  await page.keyboard.press('Enter');
  await page.locator('#login-error:not([hidden])').waitFor();
  t.check(/falsch/.test(await page.locator('#login-error').innerText()), 'a wrong password is refused');
  await page.fill('#login-password', PASSWORD);
  await page.keyboard.press('Enter');
  await page.locator('#dashboard').waitFor();
  t.check(await page.locator('#whoami').isVisible(), 'signed in');
  await page.reload();
  await ready(page);
  await page.locator('#dashboard').waitFor();
  t.check(await page.locator('#dashboard').isVisible(), 'a reload keeps the session');

  // the live queue: an emergency created now appears without reload, first and highlighted
  t.check(await until(async () => (await page.getAttribute('#live', 'data-state')) === 'live', 10000), 'the event stream is live');
  t.eq((await handoff('Mein Kind hat Tabletten geschluckt und atmet schwer')).status, 201, 'an emergency ticket');
  const first = page.locator('#queue > li').first();
  t.check(await until(async () => (await page.locator('#queue > li').count()) >= 2, 10000), 'the new ticket arrives live');
  t.check(await first.evaluate((n) => n.classList.contains('emergency')), 'the emergency comes first');
  t.check(/NOTFALL/.test(await first.locator('.prio').innerText()), 'the emergency is labelled');
  const bg = await first.evaluate((n) => getComputedStyle(n).backgroundColor);
  t.check(bg !== 'rgb(255, 255, 255)', `the emergency is highlighted (${bg})`);

  // today's chart from the stats API
  const stats = (await apiCall(srv.url, 'GET', '/api/v1/staff/stats/today', undefined,
    { Cookie: (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ') })).data;
  t.check(stats && stats.decisions && stats.decisions.answer >= 2 && stats.decisions.refuse >= 1 && stats.decisions.emergency >= 1,
    `stats: ${JSON.stringify(stats)}`);
  await page.locator('#chart svg').waitFor();
  t.eq(await page.locator('#chart svg rect.bar').count(), 4, 'chart: one bar per decision');
  const desc = await page.locator('#chart svg desc').textContent();
  t.check(desc.includes(`Beantwortet: ${stats.decisions.answer}`) && desc.includes(`Notfall: ${stats.decisions.emergency}`),
    `chart: the numbers of the API (${desc})`);
  const widths = await page.locator('#chart svg rect.bar').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('width'))));
  t.check(widths[0] > widths[1], 'chart: more answers, a longer bar');

  // accounts (admin)
  await page.locator('#accounts-body tr').first().waitFor();
  await page.fill('#acc-user', 'carla');
  await page.fill('#acc-password', 'noch-ein-langes-passwort');
  await page.selectOption('#acc-role', 'pharmacist');
  await page.click('#account-form button');
  const row = page.locator('#accounts-body tr', { hasText: 'carla' });
  await row.waitFor();
  await row.locator('button').click();
  t.check(await until(async () => /Gesperrt/.test(await row.innerText()), 5000), 'accounts: carla disabled');
  await pageQuality(t, page, 'staff dashboard');
  await shots(page, artifacts, 'staff-dashboard');

  // sign-out
  await page.click('#logout');
  await page.locator('#login').waitFor();
  t.eq((await apiCall(srv.url, 'GET', '/api/v1/staff/me', undefined,
    { Cookie: (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ') })).status, 401, 'signed out');
  t.eq(errors.join('\n'), '', 'staff: no console errors or CSP violations');
});
