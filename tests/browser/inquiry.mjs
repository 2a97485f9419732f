// Browser test of the inquiry page (/) against the real server: the AI disclosure before the
// first message, an availability question gives product cards, an advice question a refusal
// with the pharmacist offer, an emergency shows 112 first, the order status asks for the
// postcode, the language switch, keyboard-only use, no console errors or CSP violations.
// Usage: node inquiry.mjs PHARMDESK_BIN REPO_DIR ARTIFACTS_DIR [--full]
import { focusVisible, main, pageQuality, ready, shots, watch } from './lib.mjs';

/* endpoints this branch does not have until the handoff and leads issues are merged */
const PENDING = ['/api/v1/consent-texts'];

await main('inquiry', async ({ t, browser, start, artifacts, full }) => {
  const srv = await start({ threads: 2, rate_limit: { inquiries_per_minute: 0 } });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  let provoked = false; /* a step that expects a 404 from the order lookup sets this */
  const errors = watch(page, (text, url) =>
    (provoked && url.includes('/api/v1/orders/lookup')) ||
    (!full && PENDING.some((p) => url.includes(p)) && /status of 404/.test(text)));
  const bodies = [];
  page.on('request', (r) => { if (r.url().endsWith('/api/v1/inquiries')) bodies.push(r.postDataJSON()); });

  const resp = await page.goto(srv.url + '/');
  t.eq(resp.status(), 200, 'GET / status');
  t.check((resp.headers()['content-security-policy'] || '').includes("script-src 'self'"), 'page CSP allows only own scripts');
  await ready(page);
  t.eq(await page.getAttribute('html', 'lang'), 'de', 'German by default');
  const disclosure = await page.locator('.disclosure').innerText();
  t.check(await page.locator('.disclosure').isVisible() && /automatisiert/i.test(disclosure),
    `AI disclosure visible before the first message (${disclosure.slice(0, 60)})`);
  t.eq(await page.locator('#log li').count(), 0, 'no messages yet');
  await pageQuality(t, page, 'index');
  await shots(page, artifacts, 'index-empty');

  async function ask(text) {
    const before = await page.locator('#log li.assistant:not(.pending)').count();
    await page.fill('#message', text);
    await page.click('#send');
    await page.locator('#log li.assistant:not(.pending)').nth(before).waitFor();
    return page.locator('#log li.assistant:not(.pending)').nth(before);
  }

  // availability -> product cards with availability
  let msg = await ask('Haben Sie Ibuprofen 400 vorrätig?');
  t.check(await msg.evaluate((n) => n.classList.contains('answer')), 'availability: an answer');
  const cards = msg.locator('.product');
  t.check(await cards.count() >= 1, 'availability: at least one product card');
  t.check(/Ibuprofen/.test(await cards.first().innerText()), 'availability: the first card names Ibuprofen');
  const badge = await cards.first().locator('.badge').innerText();
  t.check(/Vorrätig|bestellbar|Lieferengpass|Nicht mehr/.test(badge), `availability: the card shows availability (${badge})`);
  t.check(/€/.test(await cards.first().innerText()), 'availability: the card shows the price');
  const notify = msg.locator('.product button', { hasText: 'Benachrichtigen' });
  t.check(await notify.count() >= 1, 'a back-in-stock sign-up is offered next to a product not in stock');
  await shots(page, artifacts, 'index-availability');

  // advice -> refusal and the pharmacist offer, no product
  msg = await ask('Was hilft am besten gegen Kopfschmerzen?');
  t.check(await msg.evaluate((n) => n.classList.contains('refuse')), 'advice: refused');
  t.eq(await msg.locator('.product').count(), 0, 'advice: no product listed');
  const offerBtn = msg.locator('.offer button');
  t.check(await offerBtn.isVisible(), 'advice: the pharmacist is offered');
  t.check(await msg.locator('.offer a[href^="tel:"]').count() === 1, 'advice: the pharmacy phone is offered');
  await offerBtn.click();
  t.check(await page.locator('#handoff').isVisible(), 'the offer opens the talk-to-a-pharmacist form');
  t.eq(await page.locator('#ho-consent').isChecked(), false, 'the consent box starts unticked');
  t.check((await page.inputValue('#ho-message')).includes('Kopfschmerzen'), 'the handoff form carries the question');
  await page.click('#ho-cancel');
  await shots(page, artifacts, 'index-refusal');

  // emergency -> 112 first
  msg = await ask('Mein Kind hat Tabletten geschluckt und ist bewusstlos');
  t.check(await msg.evaluate((n) => n.classList.contains('emergency')), 'emergency: styled as emergency');
  t.eq(await msg.getAttribute('role'), 'alert', 'emergency: announced as an alert');
  const first = await msg.evaluate((n) => n.firstElementChild && n.firstElementChild.textContent.trim());
  t.eq(first, '112', 'emergency: 112 comes first');
  t.eq(await msg.locator('a.call-112').getAttribute('href'), 'tel:112', 'emergency: 112 is a call link');
  t.check((await msg.locator('.text').innerText()).trim().startsWith('112'), 'emergency: the reply starts with 112');
  const big = await msg.locator('a.call-112').evaluate((n) => parseFloat(getComputedStyle(n).fontSize));
  t.check(big >= 24, `emergency: 112 is large (${big}px)`);
  await shots(page, artifacts, 'index-emergency');

  // order status in the conversation: asks for the postcode, wrong one refused, right one answered
  msg = await ask('Wie ist der Stand meiner Bestellung AP-100231?');
  const pc = msg.locator('form.inline-postcode input');
  t.check(await pc.isVisible(), 'order: the postcode is asked for');
  t.check(await pc.evaluate((n) => n === document.activeElement), 'order: focus moves to the postcode field');
  t.eq(await msg.locator('.status-card').count(), 0, 'order: no status before the postcode');
  provoked = true;
  await pc.fill('99999');
  await msg.locator('form.inline-postcode button').click();
  await msg.locator('.error:not([hidden])').waitFor();
  t.check(/keine Bestellung/.test(await msg.locator('.error').innerText()), 'order: a wrong postcode is refused');
  await pc.fill('10115');
  await msg.locator('form.inline-postcode button').click();
  await msg.locator('.status-card').waitFor();
  t.check(/AP-100231/.test(await msg.locator('.status-card').innerText()), 'order: the status card names the order');
  t.check(/Abholung/.test(await msg.locator('.status-card').innerText()), 'order: the status says ready for pickup');

  // the order panel: number and postcode
  await page.fill('#order-number', 'ap100232');
  await page.fill('#order-postcode', '50667');
  await page.click('#order-form button');
  await page.locator('#order-result .status-card').waitFor();
  t.check(/AP-100232/.test(await page.locator('#order-result').innerText()), 'order panel: status shown');
  await page.fill('#order-postcode', '123');
  await page.click('#order-form button');
  t.check(/fünf Ziffern/.test(await page.locator('#order-error').innerText()), 'order panel: a short postcode is explained');
  provoked = false;
  await shots(page, artifacts, 'index-order');
  t.check(bodies.every((b) => b.lang === 'de'), 'inquiries are sent in German');
  t.check(bodies.length >= 2 && bodies[0].conversation === undefined &&
    bodies.slice(1).every((b) => typeof b.conversation === 'string' && b.conversation === bodies[1].conversation),
    'follow-up inquiries carry the conversation');

  // the newsletter form is opt-in: unticked, and no sign-up without the tick
  t.eq(await page.locator('#lead-newsletter').isChecked(), false, 'lead: the newsletter box starts unticked');
  t.check(await page.locator('#lead-form a[href^="/privacy"]').count() === 1, 'lead: the privacy notice is linked');
  t.eq(errors.join('\n'), '', 'index: no console errors or CSP violations');

  // the language switch
  const en = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const p2 = await en.newPage();
  const errors2 = watch(p2, (text, url) => !full && PENDING.some((p) => url.includes(p)) && /status of 404/.test(text));
  const bodies2 = [];
  p2.on('request', (r) => { if (r.url().endsWith('/api/v1/inquiries')) bodies2.push(r.postDataJSON()); });
  await p2.goto(srv.url + '/');
  await ready(p2);
  await p2.click('a.lang-switch');
  await p2.waitForURL(/lang=en/);
  await ready(p2);
  t.eq(await p2.getAttribute('html', 'lang'), 'en', 'switch: English page');
  t.check(/Ask us/.test(await p2.locator('h1').innerText()), 'switch: English heading');
  t.check(/automated system/.test(await p2.locator('.disclosure').innerText()), 'switch: English disclosure');
  await p2.fill('#message', 'Do you have Ibuprofen 400 in stock?');
  await p2.keyboard.press('Enter');
  await p2.locator('#log li.answer').waitFor();
  t.eq(bodies2.length && bodies2[0].lang, 'en', 'switch: inquiries are sent in English');
  t.check(/In stock|can be ordered|shortage|Discontinued/.test(await p2.locator('#log .badge').first().innerText()), 'switch: English availability');
  t.check(/stock|order/i.test(await p2.locator('#log li.answer .text').innerText()), 'switch: the reply is English');
  t.eq(await p2.getAttribute('a.lang-switch', 'lang'), 'de', 'switch: the way back is marked German');
  await shots(p2, artifacts, 'index-english');
  t.eq(errors2.join('\n'), '', 'English page: no console errors or CSP violations');

  // keyboard only: skip link, typing, Enter sends, focus stays visible
  const kb = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const p3 = await kb.newPage();
  const errors3 = watch(p3, (text, url) => !full && PENDING.some((p) => url.includes(p)) && /status of 404/.test(text));
  await p3.goto(srv.url + '/');
  await ready(p3);
  await p3.keyboard.press('Tab');
  t.eq(await p3.evaluate(() => document.activeElement.className), 'skip', 'keyboard: the first Tab reaches the skip link');
  t.check(await p3.locator('a.skip').isVisible(), 'keyboard: the focused skip link is visible');
  await p3.keyboard.press('Enter');
  t.eq(await p3.evaluate(() => document.activeElement.id), 'message', 'keyboard: the skip link leads to the question');
  t.check(await focusVisible(p3), 'keyboard: the question field shows its focus');
  await p3.keyboard.type('Haben Sie Nasenspray ratiopharm?');
  await p3.keyboard.press('Enter');
  await p3.locator('#log li.answer').waitFor();
  t.eq(await p3.evaluate(() => document.activeElement.id), 'message', 'keyboard: focus returns to the question field');
  await p3.keyboard.press('Tab');
  t.eq(await p3.evaluate(() => document.activeElement.id), 'send', 'keyboard: Tab reaches Send');
  t.check(await focusVisible(p3), 'keyboard: Send shows its focus');
  await p3.keyboard.press('Tab');
  t.eq(await p3.evaluate(() => document.activeElement.id), 'open-handoff', 'keyboard: then the pharmacist button');
  await p3.keyboard.press('Enter');
  t.eq(await p3.evaluate(() => document.activeElement.id), 'handoff-h', 'keyboard: the handoff form takes focus');
  await p3.keyboard.press('Tab');
  t.eq(await p3.evaluate(() => document.activeElement.id), 'ho-message', 'keyboard: into the handoff form');
  t.eq(errors3.join('\n'), '', 'keyboard: no console errors');

  // the widget: same page, compact, frameable
  const wr = await page.goto(srv.url + '/widget?lang=en');
  await ready(page);
  t.check(await page.evaluate(() => document.body.classList.contains('embedded')), 'widget: compact layout');
  t.check((wr.headers()['content-security-policy'] || '').includes("frame-ancestors 'self'"), 'widget: frameable by the configured origins');
  t.eq(wr.headers()['x-frame-options'], undefined, 'widget: no X-Frame-Options DENY');
  await pageQuality(t, page, 'widget');
  await shots(page, artifacts, 'widget');
});
