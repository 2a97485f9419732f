// Browser test of the opt-in leads (needs the leads API; runs with PD_BROWSER_FULL): the
// newsletter form (unticked box, consent text, privacy link, "check your mail"), the
// confirmation mail in DATA/outbox/new/, confirming through its link (the GET changes
// nothing, the button does), withdrawing through the link in the same mail, a back-in-stock
// sign-up next to a product in shortage, and an invalid link explained.
// Usage: node leads.mjs PHARMDESK_BIN REPO_DIR ARTIFACTS_DIR [--full]
import { main, outboxMails, ready, shots, until, watch } from './lib.mjs';

const mails = outboxMails;

function link(mail, action) {
  const m = mail.match(new RegExp(`https?://[^\\s"<>]+(/leads/${action}\\?token=[A-Za-z0-9_.~%-]+)`));
  return m ? m[1] : null;
}

await main('leads', async ({ t, browser, start, artifacts, data }) => {
  const srv = await start({ threads: 2, http: { cookie_secure: false }, rate_limit: { inquiries_per_minute: 0 } });
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  const errors = watch(page, (text, url) => url.includes('/api/v1/leads/confirm') && /status of 4/.test(text));
  const posts = [];
  page.on('request', (r) => { if (r.method() === 'POST' && r.url().includes('/api/v1/leads')) posts.push(r.url()); });
  await page.goto(srv.url + '/');
  await ready(page);

  // the newsletter: no sign-up without the tick
  t.eq(await page.locator('#lead-newsletter').isChecked(), false, 'newsletter: unticked');
  await until(async () => !/…/.test(await page.locator('#lead-newsletter-text').innerText()), 10000);
  t.check((await page.locator('#lead-newsletter-text').innerText()).length > 40, 'newsletter: the consent text is shown');
  await page.fill('#lead-email', 'leser@example.org');
  await page.click('#lead-form button');
  await page.locator('#lead-error:not([hidden])').waitFor();
  t.eq(posts.length, 0, 'newsletter: nothing sent without the tick');
  await page.check('#lead-newsletter');
  await page.click('#lead-form button');
  await page.locator('#lead-done').waitFor();
  t.check(/Postfach/.test(await page.locator('#lead-done').innerText()), 'newsletter: "check your mail"');
  await shots(page, artifacts, 'lead-check-mail');

  const mail = await until(() => mails(data).find((m) => link(m, 'confirm')), 10000);
  t.check(mail, 'a confirmation mail with a link lands in the outbox');
  const confirm = link(mail || '', 'confirm');
  const withdraw = link(mail || '', 'withdraw');
  t.check(withdraw, 'the mail carries the withdrawal link');

  // confirm: opening the page sends nothing; the button confirms
  posts.length = 0;
  await page.goto(srv.url + confirm);
  await ready(page);
  await page.waitForTimeout(300);
  t.eq(posts.length, 0, 'confirm: opening the link changes nothing');
  await page.click('#lead-action button');
  await page.locator('#lead-result').waitFor();
  t.check(/bestätigt/.test(await page.locator('#lead-result').innerText()), 'confirm: confirmed');
  await shots(page, artifacts, 'lead-confirmed');

  // withdraw through the link in the same mail
  await page.goto(srv.url + withdraw);
  await ready(page);
  await page.click('#lead-action button');
  await page.locator('#lead-result').waitFor();
  t.check(/widerrufen/.test(await page.locator('#lead-result').innerText()), 'withdraw: withdrawn');
  await shots(page, artifacts, 'lead-withdrawn');

  // an invalid link
  await page.goto(srv.url + '/leads/confirm?token=ungueltig');
  await ready(page);
  await page.click('#lead-action button');
  await page.locator('#lead-error:not([hidden])').waitFor();
  t.check(/ungültig/.test(await page.locator('#lead-error').innerText()), 'an invalid link is explained');

  // back in stock next to a product in shortage
  const before = mails(data).length;
  await page.goto(srv.url + '/');
  await ready(page);
  await page.fill('#message', 'Haben Sie ben-u-ron Saft?');
  await page.keyboard.press('Enter');
  const card = page.locator('#log .product', { has: page.locator('.badge.shortage') }).first();
  await card.waitFor();
  await card.locator('button', { hasText: 'Benachrichtigen' }).click();
  await card.locator('input[type=email]').fill('wartend@example.org');
  await card.locator('input[type=checkbox]').check();
  await card.locator('form button[type=submit]').click();
  await card.locator('.done').waitFor();
  t.check(await until(() => mails(data).length > before, 10000), 'back in stock: a confirmation mail');
  await shots(page, artifacts, 'lead-back-in-stock');
  t.eq(errors.join('\n'), '', 'leads: no console errors or CSP violations');
});
