// Browser test of the customer's data rights: a confirmed lead for an address (POST
// /api/v1/leads, confirmed through the link in its mail), then on /privacy an export request
// for it ("check your mail", the same for an unknown address), the mail's /data/confirm link
// (opening it sends nothing; the button does), the export shown naming the address and offered
// as a JSON download; then an erasure requested and confirmed in the page, its summary, the
// lead gone from a later export, and the used link explained on a second click, in German and
// English. Screenshots at desktop and phone width.
// Usage: node datarights.mjs PHARMDESK_BIN REPO_DIR ARTIFACTS_DIR [--full]
import fs from 'node:fs';
import { apiCall, focusVisible, main, outboxMails, pageQuality, ready, shots, until, watch } from './lib.mjs';

const ADDR = 'betroffene@example.org';

/* the path of the newest link to `route` in a mail to `to` that the test has not used yet */
function newLink(data, to, route, used) {
  const re = new RegExp(`https?://[^\\s"<>]+(${route}\\?token=[A-Za-z0-9_-]+(?:&kind=[a-z]+)?)`);
  for (const mail of outboxMails(data).reverse()) {
    if (!new RegExp(`^To: ${to.replace('.', '\\.')}\\r?$`, 'm').test(mail)) continue;
    const m = mail.match(re);
    if (m && !used.has(m[1])) {
      used.add(m[1]);
      return m[1];
    }
  }
  return null;
}

function tokenOf(p) {
  return new URLSearchParams(p.split('?')[1]).get('token');
}

await main('datarights', async ({ t, browser, start, artifacts, data }) => {
  /* mail_window_s 1: a second request for the same address may mail a second link at once */
  const srv = await start({
    threads: 2, http: { cookie_secure: false }, rate_limit: { inquiries_per_minute: 0 },
    leads: { mail_window_s: 1 },
    privacy_contact: { name: 'Frau Datenschutz', email: 'dsb@apotheke.example', address: 'Postfach 1, 10115 Berlin' },
  });
  const used = new Set();

  // a confirmed newsletter lead for the address, through the API and the mailed link
  const texts = await apiCall(srv.url, 'GET', '/api/v1/consent-texts?lang=de');
  const version = texts.data && texts.data.newsletter && texts.data.newsletter.version;
  t.check(version, 'the newsletter consent text has a version');
  let r = await apiCall(srv.url, 'POST', '/api/v1/leads',
    { email: ADDR, purpose: 'newsletter', consent: { given: true, text_version: version }, lang: 'de', page: '/' });
  t.check(r.status >= 200 && r.status < 300, `lead sign-up: ${r.status}`);
  const leadConfirm = await until(() => newLink(data, ADDR, '/leads/confirm', used), 10000);
  t.check(leadConfirm, 'the sign-up mail carries its confirmation link');
  r = await apiCall(srv.url, 'POST', '/api/v1/leads/confirm', { token: tokenOf(leadConfirm || '?') });
  t.eq(r.status, 200, 'the lead is confirmed');

  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true })).newPage();
  const errors = watch(page, (text, url) => url.includes('/api/v1/data-requests/confirm') && /status of 4/.test(text));
  const posts = [];
  page.on('request', (q) => { if (q.method() === 'POST') posts.push(q.url()); });

  // the request form on /privacy: labelled, checked before it sends
  await page.goto(srv.url + '/privacy#data-request');
  await ready(page);
  await pageQuality(t, page, 'privacy with the request form');
  await page.fill('#data-request-email', 'kein-at-zeichen');
  await page.check('#data-request-export');
  await page.click('#data-request-form button[type=submit]');
  await page.locator('#data-request-error:not([hidden])').waitFor();
  t.check(/gültige E-Mail/.test(await page.locator('#data-request-error').innerText()), 'request: an invalid address is explained');
  t.eq(await page.evaluate(() => document.activeElement.id), 'data-request-email', 'request: focus back on the address');
  await page.reload();
  await ready(page);
  await page.fill('#data-request-email', ADDR);
  await page.click('#data-request-form button[type=submit]');
  await page.locator('#data-request-error:not([hidden])').waitFor();
  t.check(/Auskunft oder Löschung/.test(await page.locator('#data-request-error').innerText()), 'request: the kind must be chosen');
  t.eq(posts.length, 0, 'request: nothing sent before the form is complete');
  await shots(page, artifacts, 'datarights-request-form');

  // an address we know nothing about gets the same answer: no enumeration
  await page.fill('#data-request-email', 'unbekannt@example.org');
  await page.check('#data-request-export');
  await page.click('#data-request-form button[type=submit]');
  await page.locator('#data-request-done').waitFor();
  const unknownText = await page.locator('#data-request-done').innerText();
  await page.click('#data-request-again');
  t.eq(await page.evaluate(() => document.activeElement.id), 'data-request-email', 'request again: focus on the address');

  // the export request for the lead's address
  await page.fill('#data-request-email', ADDR);
  await page.check('#data-request-export');
  await page.keyboard.press('Enter');
  await page.locator('#data-request-done').waitFor();
  const doneText = await page.locator('#data-request-done').innerText();
  t.check(/Postfach/.test(doneText) && /48 Stunden/.test(doneText), 'request: "check your mail"');
  t.eq(doneText, unknownText, 'request: the same answer whatever the address');
  t.eq(await page.evaluate(() => document.activeElement.id), 'data-request-done', 'request: focus on the answer');
  await shots(page, artifacts, 'datarights-check-mail');

  const exportLink = await until(() => newLink(data, ADDR, '/data/confirm', used), 10000);
  t.check(exportLink && exportLink.endsWith('&kind=export'), `the mail links to the export page: ${exportLink}`);

  // opening the link changes nothing; the page says what the button will do
  posts.length = 0;
  r = await page.goto(srv.url + exportLink);
  await ready(page);
  await page.waitForTimeout(300);
  t.eq(r.status(), 200, 'data/confirm: status');
  t.eq(posts.length, 0, 'data/confirm: opening the link sends nothing');
  t.check(await page.locator('#data-intro-export').isVisible(), 'data/confirm: explains the export');
  t.check(!(await page.locator('#data-intro-erasure').isVisible()), 'data/confirm: not the erasure text');
  t.eq(await page.locator('#data-button').innerText(), 'Meine Daten jetzt anzeigen', 'data/confirm: the button names the export');
  t.check((await page.locator('main').innerText()).includes('dsb@apotheke.example'), 'data/confirm: names the privacy contact');
  const sw = await page.getAttribute('a.lang-switch', 'href');
  t.check(sw.includes('token=' + tokenOf(exportLink || '?')) && sw.includes('kind=export') && sw.includes('lang=en'),
    'data/confirm: the language switch keeps the link');
  await pageQuality(t, page, 'data/confirm');
  await shots(page, artifacts, 'datarights-confirm-export');

  // the button, by keyboard: the export, readable, naming the address, and as a JSON file
  for (let i = 0; i < 10 && await page.evaluate(() => document.activeElement.id) !== 'data-button'; i++) {
    await page.keyboard.press('Tab');
  }
  t.eq(await page.evaluate(() => document.activeElement.id), 'data-button', 'data/confirm: the button is reached by Tab');
  t.check(await focusVisible(page), 'data/confirm: the focused button shows its focus');
  await page.keyboard.press('Enter');
  await page.locator('#data-result').waitFor();
  const shown = await page.locator('#data-result').innerText();
  t.check(shown.includes(ADDR), 'export: names the address');
  t.check(/Anmeldungen \(Newsletter, Benachrichtigungen\) \(1\)/.test(shown) && /newsletter/.test(shown),
    'export: the newsletter sign-up, readable');
  t.check(/Einwilligungen und Widerrufe \(1\)/.test(shown), 'export: the proof of consent');
  t.eq(await page.evaluate(() => document.activeElement.id), 'data-result', 'export: focus on the result');
  t.eq(posts.filter((u) => u.includes('/api/v1/data-requests/confirm')).length, 1, 'export: one POST from the button');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#data-download')]);
  t.check(/^meine-daten-\d{4}-\d{2}-\d{2}\.json$/.test(download.suggestedFilename()), `export: file name ${download.suggestedFilename()}`);
  const file = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
  t.eq(file.email, ADDR, 'export: the downloaded JSON names the address');
  t.eq(file.sources.leads.leads.length, 1, 'export: the downloaded JSON has the lead');
  await pageQuality(t, page, 'data/confirm with the export');
  await shots(page, artifacts, 'datarights-exported');

  // the erasure, requested on /privacy and confirmed in the page
  await page.waitForTimeout(1100); /* the mail window of one second */
  await page.goto(srv.url + '/privacy');
  await ready(page);
  await page.fill('#data-request-email', ADDR);
  await page.check('#data-request-erasure');
  await page.click('#data-request-form button[type=submit]');
  await page.locator('#data-request-done').waitFor();
  const eraseLink = await until(() => newLink(data, ADDR, '/data/confirm', used), 10000);
  t.check(eraseLink && eraseLink.endsWith('&kind=erasure'), `the mail links to the erasure page: ${eraseLink}`);
  posts.length = 0;
  await page.goto(srv.url + eraseLink);
  await ready(page);
  await page.waitForTimeout(300);
  t.eq(posts.length, 0, 'erasure: opening the link sends nothing');
  t.check(await page.locator('#data-intro-erasure').isVisible(), 'erasure: explains what will be erased');
  t.check(/nicht rückgängig/.test(await page.locator('#data-intro-erasure').innerText()), 'erasure: says it cannot be undone');
  t.eq(await page.locator('#data-button').innerText(), 'Meine Daten jetzt endgültig löschen', 'erasure: the button names it');
  await shots(page, artifacts, 'datarights-confirm-erasure');
  await page.click('#data-button');
  await page.locator('#data-result').waitFor();
  const erased = await page.locator('#data-result').innerText();
  t.check(/Ihre Daten sind gelöscht/.test(erased), 'erasure: confirmed');
  t.check(/1 Anmeldungen gelöscht/.test(erased), 'erasure: the lead was deleted');
  t.check(!erased.includes(ADDR), 'erasure: the summary shows no address');
  await shots(page, artifacts, 'datarights-erased');

  // the lead is gone: a later export (through the API) finds none
  await page.waitForTimeout(1100);
  r = await apiCall(srv.url, 'POST', '/api/v1/data-requests', { email: ADDR, kind: 'export' });
  t.eq(r.status, 202, 'a later export request');
  const laterLink = await until(() => newLink(data, ADDR, '/data/confirm', used), 10000);
  r = await apiCall(srv.url, 'POST', '/api/v1/data-requests/confirm', { token: tokenOf(laterLink || '?') });
  t.eq(r.status, 200, 'the later export');
  t.eq(r.data && r.data.data.sources.leads.leads.length, 0, 'after the erasure no lead is stored for the address');

  // a second click on the used link: explained, no retry offered
  await page.goto(srv.url + eraseLink);
  await ready(page);
  await page.click('#data-button');
  await page.locator('#data-error:not([hidden])').waitFor();
  t.check(/bereits verwendet/.test(await page.locator('#data-error').innerText()), 'a used link: "already used"');
  t.check(await page.locator('#data-button').isDisabled(), 'a used link: the button stays off');
  t.check(await page.locator('#data-result').isHidden(), 'a used link: no result');
  await shots(page, artifacts, 'datarights-used');
  await page.click('a.lang-switch');
  await page.waitForURL(/lang=en/);
  await ready(page);
  t.eq(await page.getAttribute('html', 'lang'), 'en', 'data/confirm: English on the switch');
  t.eq(await page.locator('#data-button').innerText(), 'Erase my data now for good', 'data/confirm (en): the button');
  await page.click('#data-button');
  await page.locator('#data-error:not([hidden])').waitFor();
  t.check(/already been used/.test(await page.locator('#data-error').innerText()), 'a used link (en): "already used"');
  await pageQuality(t, page, 'data/confirm (en)');
  await shots(page, artifacts, 'datarights-used-english');

  // an unknown and an incomplete link
  await page.goto(srv.url + '/data/confirm?token=' + 'A'.repeat(43));
  await ready(page);
  t.check(await page.locator('#data-intro-any').isVisible(), 'a link without its kind: the general explanation');
  await page.click('#data-button');
  await page.locator('#data-error:not([hidden])').waitFor();
  t.check(/kennen wir nicht/.test(await page.locator('#data-error').innerText()), 'an unknown link is explained');
  await page.goto(srv.url + '/data/confirm');
  await ready(page);
  t.check(await page.locator('#data-button').isDisabled(), 'no token: no button');
  t.check(/unvollständig/.test(await page.locator('#data-error').innerText()), 'no token: explained');
  t.eq(errors.join('\n'), '', 'data rights: no console errors or CSP violations');
});
