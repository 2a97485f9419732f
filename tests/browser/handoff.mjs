// Browser test of "talk to a pharmacist" end to end (needs the handoff and staff APIs; runs
// with PD_BROWSER_FULL): the customer asks for advice, gets the offer, must tick the explicit
// consent (unticked, its text shown) before a ticket is created; a pharmacist in a second
// browser context claims and answers it on /staff; the reply arrives on the customer's page;
// a second pharmacist sees that someone else holds the ticket.
// Usage: node handoff.mjs PHARMDESK_BIN REPO_DIR ARTIFACTS_DIR [--full]
import { main, ready, shots, staffAdd, until, watch } from './lib.mjs';

const PASSWORD = 'korrekt-pferd-batterie-7';
const REPLY = 'Guten Tag, bitte kommen Sie heute in die Apotheke, wir beraten Sie gern persönlich.';

async function signIn(page, url, user) {
  await page.goto(url + '/staff');
  await ready(page);
  await page.fill('#login-user', user);
  await page.fill('#login-password', PASSWORD);
  await page.click('#login-form button');
  await page.locator('#dashboard').waitFor();
}

await main('handoff', async ({ t, browser, start, artifacts, binary, data }) => {
  staffAdd(binary, data, 'anna', 'pharmacist', PASSWORD);
  staffAdd(binary, data, 'ben', 'pharmacist', PASSWORD);
  const srv = await start({ threads: 2, http: { cookie_secure: false }, rate_limit: { inquiries_per_minute: 0 } });

  // the customer
  const cust = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  const custErrors = watch(cust);
  const handoffPosts = [];
  cust.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/api/v1/handoffs')) handoffPosts.push(r.postDataJSON()); });
  await cust.goto(srv.url + '/');
  await ready(cust);
  await cust.fill('#message', 'Ich habe seit drei Tagen starke Kopfschmerzen, was soll ich nehmen?');
  await cust.keyboard.press('Enter');
  const refusal = cust.locator('#log li.refuse');
  await refusal.waitFor();
  await refusal.locator('.offer button').click();
  await cust.locator('#handoff').waitFor();
  t.eq(await cust.locator('#ho-consent').isChecked(), false, 'consent: the box starts unticked');
  const consentText = cust.locator('#ho-consent-text');
  await until(async () => !/…|\.\.\./.test(await consentText.innerText()), 10000);
  const text = await consentText.innerText();
  t.check(text.length > 40 && !/nicht geladen/.test(text), `consent: the consent text is shown (${text.slice(0, 60)})`);
  await cust.fill('#ho-email', 'kundin@example.org');
  await cust.click('#handoff-form button[type=submit]');
  await cust.locator('#ho-error:not([hidden])').waitFor();
  t.eq(handoffPosts.length, 0, 'consent: no ticket without the tick for health data');
  t.check(/Einwilligung/.test(await cust.locator('#ho-error').innerText()), 'consent: the customer is told why');
  await cust.check('#ho-consent');
  await shots(cust, artifacts, 'handoff-form');
  await cust.click('#handoff-form button[type=submit]');
  await cust.locator('#ho-ticket').waitFor();
  const ticket = (await cust.locator('#ho-ticket-number').innerText()).trim();
  t.check(ticket.length > 0, `a ticket is created (${ticket})`);
  t.eq(handoffPosts.length, 1, 'one handoff request');
  t.eq(handoffPosts[0].consent && handoffPosts[0].consent.health_data, true, 'the request carries the consent');
  t.check(typeof (handoffPosts[0].consent || {}).text_version === 'string', 'the consent names the text version shown');
  t.eq((handoffPosts[0].contact || {}).email, 'kundin@example.org', 'the contact goes along');

  // the pharmacist, in a second browser context
  const anna = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  /* /staff asks GET /api/v1/staff/me whether a session exists: 401 before the sign-in */
  const annaErrors = watch(anna, (text, url) => url.endsWith('/api/v1/staff/me') && /status of 401/.test(text));
  await signIn(anna, srv.url, 'anna');
  const card = anna.locator(`li.ticket[data-ticket="${ticket}"]`);
  await card.waitFor();
  t.check(/Kopfschmerzen/.test(await card.innerText()), 'staff: the ticket shows the message');
  await card.locator('button', { hasText: 'Übernehmen' }).click();
  await card.locator('textarea').waitFor();
  await card.locator('textarea').fill(REPLY);
  await card.locator('form button[type=submit]').click();
  await shots(anna, artifacts, 'handoff-staff');

  // the reply arrives on the customer's page
  const arrived = await until(async () => (await cust.locator('#log li.pharmacist', { hasText: 'persönlich' }).count()) > 0, 20000);
  t.check(arrived, 'the pharmacist reply arrives on the customer page');
  await shots(cust, artifacts, 'handoff-reply');

  // a second pharmacist cannot take it over
  const ben = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await signIn(ben, srv.url, 'ben');
  const benCard = ben.locator(`li.ticket[data-ticket="${ticket}"]`);
  await benCard.waitFor();
  t.check(/anna/.test(await benCard.locator('.note').innerText()), 'staff: a visible note that anna holds the ticket');
  t.eq(await benCard.locator('textarea').count(), 0, 'staff: no reply box for a ticket someone else holds');

  // anna closes it; the customer sees that
  await card.locator('button', { hasText: 'Abschließen' }).click();
  const closed = await until(async () => /Abgeschlossen/.test(await cust.locator('#ho-ticket-status').innerText()), 20000);
  t.check(closed, 'the customer sees the ticket closed');
  t.eq(custErrors.join('\n'), '', 'customer: no console errors or CSP violations');
  t.eq(annaErrors.join('\n'), '', 'staff: no console errors or CSP violations');
});
