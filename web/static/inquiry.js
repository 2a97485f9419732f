/* pharmdesk: the inquiry page (/ and the embeddable /widget). The conversation with the
 * assistant (POST /api/v1/inquiries), product cards with availability, the emergency and
 * refusal replies, the order-status lookup with the postcode, "talk to a pharmacist" with
 * explicit consent and the ticket's replies, and the opt-in forms (newsletter, back in stock). */
'use strict';
(function () {
  const { t, api, el, showError, errorText, errorCode, nextId, validEmail } = window.PD;
  const lang = window.PD.lang;
  const $ = (id) => document.getElementById(id);
  const main = $('main');
  const log = $('log');
  const state = {
    conversation: null,
    lastMessage: '',
    consentRequired: false,
    consent: null, /* the consent texts, once loaded */
    polling: null,
    repliesShown: 0,
  };
  const TICKET_KEY = 'pharmdesk.ticket';

  function scrollToBottom(node) {
    node.scrollIntoView({ block: 'nearest' });
  }

  function addMessage(role, cls, ...children) {
    const li = el('li', { class: 'msg ' + cls }, ...children);
    log.append(li);
    scrollToBottom(li);
    return li;
  }

  function addUser(text) {
    return addMessage('user', 'user', el('span', { class: 'who', text: t('you') }),
      el('p', { class: 'text', text }));
  }

  function telLink(cls) {
    const phone = main.dataset.phone;
    return el('a', { class: cls || '', text: t('call_pharmacy', { phone }), attrs: { href: 'tel:' + main.dataset.tel } });
  }

  function formatPrice(eur) {
    return new Intl.NumberFormat(lang === 'en' ? 'en-IE' : 'de-DE', { style: 'currency', currency: 'EUR' }).format(eur);
  }

  /* ---- consent texts (GET /api/v1/consent-texts) -------------------------------------------- */

  let consentPromise = null;
  function loadConsent() {
    if (!consentPromise) {
      consentPromise = api('GET', '/api/v1/consent-texts?lang=' + lang).then((res) => {
        if (res.status === 200 && res.data && typeof res.data === 'object') {
          state.consent = res.data;
          return res.data;
        }
        consentPromise = null; /* try again next time */
        return null;
      });
    }
    return consentPromise;
  }

  function fillConsent(node, purpose) {
    return loadConsent().then((c) => {
      const entry = c && c[purpose];
      node.textContent = entry && entry.text ? entry.text : t('consent_unavailable');
      return entry && entry.text ? entry : null;
    });
  }

  /* ---- products and back-in-stock ------------------------------------------------------------ */

  function bisForm(product, container) {
    const ids = { email: nextId('bis-email'), consent: nextId('bis-consent'), text: nextId('bis-text') };
    const err = el('p', { class: 'error', attrs: { role: 'alert' } });
    err.hidden = true;
    const email = el('input', { attrs: { id: ids.email, type: 'email', autocomplete: 'email', maxlength: '254', required: '' } });
    const box = el('input', { attrs: { id: ids.consent, type: 'checkbox', 'aria-describedby': ids.text } });
    const text = el('p', { class: 'consent-text', text: '…', attrs: { id: ids.text } });
    fillConsent(text, 'back_in_stock');
    /* the same privacy link as the page's own forms */
    const privacy = document.querySelector('#lead-form .hint').cloneNode(true);
    const form = el('form', { class: 'bis', attrs: { novalidate: '' } },
      el('p', { class: 'title', text: t('bis_heading', { product: product.name }) }),
      el('label', { text: t('email_label'), attrs: { for: ids.email } }), email,
      el('div', { class: 'consent' }, box, el('label', { text: t('bis_consent_label'), attrs: { for: ids.consent } }), text),
      privacy, err,
      el('button', { text: t('bis_submit'), attrs: { type: 'submit' } }));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const addr = email.value.trim();
      if (!validEmail(addr)) { showError(err, t('email_invalid')); email.focus(); return; }
      if (!box.checked) { showError(err, t('consent_required')); box.focus(); return; }
      const c = await loadConsent();
      if (!c || !c.back_in_stock) { showError(err, t('consent_unavailable')); return; }
      const res = await api('POST', '/api/v1/leads', {
        email: addr, purpose: 'back_in_stock', pzn: product.pzn,
        consent: { given: true, text_version: c.back_in_stock.version }, lang,
      });
      if (res.status === 202 || res.status === 200) {
        const done = el('p', { class: 'done', text: t('check_mail'), attrs: { role: 'status', tabindex: '-1' } });
        form.replaceWith(done);
        done.focus();
      } else {
        showError(err, errorText(res));
      }
    });
    container.append(form);
    email.focus();
  }

  function productCard(p) {
    const li = el('li', { class: 'product' },
      el('h3', { text: p.name }),
      el('p', { class: 'meta', text: t('pack', { pack: p.pack_size }) + ' · ' + t('pzn', { pzn: p.pzn }) }),
      el('p', {}, el('span', { class: 'badge ' + p.availability, text: t('availability.' + p.availability) })));
    if (p.dispensing === 'rx') li.append(el('p', { class: 'rx', text: t('rx') }));
    if (typeof p.price_eur === 'number' && p.dispensing !== 'rx') li.append(el('p', { class: 'price', text: formatPrice(p.price_eur) }));
    if (p.availability === 'shortage' || p.availability === 'orderable') {
      const btn = el('button', { class: 'secondary', text: t('notify_me'), attrs: { type: 'button', 'aria-expanded': 'false' } });
      btn.addEventListener('click', () => {
        btn.setAttribute('aria-expanded', 'true');
        btn.hidden = true;
        bisForm(p, li);
      });
      li.append(btn);
    }
    return li;
  }

  /* ---- orders ----------------------------------------------------------------------------- */

  function statusCard(o) {
    const card = el('div', { class: 'status-card', attrs: { tabindex: '-1' } },
      el('h3', { text: t('order_title', { order: o.order_number }) }),
      el('p', { text: o.status_text }));
    if (o.expected) card.append(el('p', { text: t('order_expected', { date: o.expected }) }));
    return card;
  }

  /* POST /api/v1/orders/lookup; shows the status in into, errors in err */
  async function lookupOrder(number, postcode, into, err) {
    const pc = postcode.replace(/\s+/g, '');
    if (!/^[0-9]{5}$/.test(pc)) { showError(err, t('postcode_invalid')); return false; }
    showError(err, '');
    const res = await api('POST', '/api/v1/orders/lookup', { order_number: number, postcode: pc, lang });
    if (res.status === 200 && res.data) {
      const card = statusCard(res.data);
      into.replaceChildren(card);
      card.focus();
      return true;
    }
    const code = errorCode(res);
    if (res.status === 404) showError(err, t('order_not_found'));
    else if (code === 'bad_order_number') showError(err, t('order_number_invalid'));
    else if (code === 'bad_postcode') showError(err, t('postcode_invalid'));
    else showError(err, errorText(res));
    return false;
  }

  function postcodeForm(orderNumber) {
    const id = nextId('pc');
    const input = el('input', { attrs: { id, type: 'text', inputmode: 'numeric', autocomplete: 'postal-code', maxlength: '7', required: '' } });
    const err = el('p', { class: 'error', attrs: { role: 'alert' } });
    err.hidden = true;
    const result = el('div', { attrs: { role: 'status' } });
    const form = el('form', { class: 'inline-postcode', attrs: { novalidate: '' } },
      el('label', { text: t('order_postcode_label', { order: orderNumber }), attrs: { for: id } }),
      input, el('button', { text: t('order_check'), attrs: { type: 'submit' } }));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (await lookupOrder(orderNumber, input.value, result, err)) form.hidden = true;
    });
    return { nodes: [el('p', { text: t('order_prompt', { order: orderNumber }) }), form, err, result], input };
  }

  /* ---- the assistant's answers ---------------------------------------------------------------- */

  function offer(consentRequired) {
    const btn = el('button', { text: t('offer_pharmacist'), attrs: { type: 'button' } });
    btn.addEventListener('click', () => openHandoff(state.lastMessage, consentRequired));
    return el('div', { class: 'offer' }, btn, telLink());
  }

  function addAnswer(d) {
    const who = el('span', { class: 'who', text: t('assistant') });
    const text = el('p', { class: 'text', text: d.reply });
    const decision = d.decision;
    let li;
    if (decision === 'emergency') {
      /* 112 first: the call button leads, before any other word */
      li = addMessage('assistant', 'assistant emergency',
        el('a', { class: 'call-112', text: '112', attrs: { href: 'tel:112', 'aria-label': t('call_112') } }),
        el('strong', { class: 'title', text: t('emergency_title') }), text, who);
      li.setAttribute('role', 'alert');
    } else if (decision === 'refuse' || decision === 'handoff') {
      li = addMessage('assistant', 'assistant ' + decision, who,
        el('strong', { class: 'title', text: t(decision === 'refuse' ? 'refuse_title' : 'handoff_title') }), text);
    } else {
      li = addMessage('assistant', 'assistant answer', who, text);
    }
    if (d.handoff && d.handoff.offered) {
      state.consentRequired = !!d.handoff.consent_required;
      li.append(offer(!!d.handoff.consent_required));
    }
    if (Array.isArray(d.products) && d.products.length && decision === 'answer') {
      li.append(el('ul', { class: 'products' }, ...d.products.map(productCard)));
    }
    let focusAfter = null;
    if (d.order && d.order.verification === 'postcode_required') {
      const pf = postcodeForm(d.order.order_number);
      li.append(...pf.nodes);
      focusAfter = pf.input;
    } else if (d.order && d.order.status) {
      li.append(statusCard(d.order));
    }
    if (d.disclosure) $('disclosure-text').textContent = d.disclosure;
    scrollToBottom(li);
    return focusAfter;
  }

  async function send(message) {
    const err = $('ask-error');
    showError(err, '');
    state.lastMessage = message;
    addUser(message);
    const pending = addMessage('assistant', 'assistant pending', el('span', { text: t('sending') }));
    const body = { message, lang };
    if (state.conversation) body.conversation = state.conversation;
    const btn = $('send');
    btn.disabled = true;
    const res = await api('POST', '/api/v1/inquiries', body);
    btn.disabled = false;
    pending.remove();
    if (res.status === 200 && res.data) {
      state.conversation = res.data.conversation || state.conversation;
      return addAnswer(res.data);
    }
    showError(err, errorCode(res) === 'empty_message' ? t('error_empty') : errorText(res));
    return null;
  }

  /* ---- talk to a pharmacist ------------------------------------------------------------------ */

  function openHandoff(prefill, consentRequired) {
    const panel = $('handoff');
    panel.hidden = false;
    $('handoff-form').hidden = false;
    const msg = $('ho-message');
    if (prefill && !msg.value) msg.value = prefill;
    state.consentRequired = state.consentRequired || !!consentRequired;
    fillConsent($('ho-consent-text'), 'handoff');
    $('handoff-h').focus();
    panel.scrollIntoView({ block: 'start' });
  }

  function contactOf() {
    const c = {};
    for (const [key, id] of [['name', 'ho-name'], ['email', 'ho-email'], ['phone', 'ho-phone']]) {
      const v = $(id).value.trim();
      if (v) c[key] = v;
    }
    return Object.keys(c).length ? c : null;
  }

  async function submitHandoff(ev) {
    ev.preventDefault();
    const err = $('ho-error');
    const message = $('ho-message').value.trim();
    const box = $('ho-consent');
    if (!message) { showError(err, t('handoff_message_required')); $('ho-message').focus(); return; }
    const contact = contactOf();
    if (contact && contact.email && !validEmail(contact.email)) { showError(err, t('email_invalid')); $('ho-email').focus(); return; }
    if (state.consentRequired && !box.checked) { showError(err, t('handoff_consent_needed')); box.focus(); return; }
    const body = { message };
    if (state.conversation) body.conversation = state.conversation;
    if (contact) body.contact = contact;
    if (box.checked) {
      const c = await loadConsent();
      if (!c || !c.handoff) { showError(err, t('consent_unavailable')); return; }
      body.consent = { health_data: true, text_version: c.handoff.version };
    }
    showError(err, '');
    const res = await api('POST', '/api/v1/handoffs', body);
    if (res.status === 201 && res.data && res.data.ticket) {
      const ticket = { ticket: res.data.ticket, token: res.data.token };
      try { sessionStorage.setItem(TICKET_KEY, JSON.stringify(ticket)); } catch (e) { /* private mode */ }
      showTicket(ticket, res.data.status || 'open', true);
      return;
    }
    if (res.status === 422) {
      state.consentRequired = true;
      showError(err, t('handoff_consent_needed'));
      box.focus();
      return;
    }
    showError(err, errorText(res));
  }

  function showTicket(ticket, status, fresh) {
    $('handoff').hidden = false;
    $('handoff-form').hidden = true;
    $('ho-ticket').hidden = false;
    $('ho-ticket-number').textContent = ticket.ticket;
    $('ho-ticket-status').textContent = t('ticket_status.' + status);
    if (fresh) {
      /* written by this page, not by a person: labelled as automated */
      addMessage('assistant', 'assistant answer', el('span', { class: 'who', text: t('assistant') }),
        el('p', { class: 'text', text: t('handoff_created', { ticket: ticket.ticket }) }));
    }
    startPolling(ticket);
  }

  function startPolling(ticket) {
    if (state.polling) clearTimeout(state.polling);
    let delay = 3000;
    const poll = async () => {
      const res = await api('GET', '/api/v1/handoffs/' + encodeURIComponent(ticket.ticket), undefined,
        { Authorization: 'Bearer ' + ticket.token });
      if (res.status === 200 && res.data) {
        delay = 3000;
        const replies = Array.isArray(res.data.replies) ? res.data.replies : [];
        for (const r of replies.slice(state.repliesShown)) {
          addMessage('pharmacist', 'pharmacist', el('span', { class: 'who', text: t('pharmacist') }),
            el('p', { class: 'text', text: r.text }));
        }
        state.repliesShown = Math.max(state.repliesShown, replies.length);
        $('ho-ticket-status').textContent = t('ticket_status.' + res.data.status);
        if (res.data.status === 'closed') {
          try { sessionStorage.removeItem(TICKET_KEY); } catch (e) { /* ignore */ }
          return;
        }
      } else if (res.status === 401 || res.status === 403 || res.status === 404) {
        try { sessionStorage.removeItem(TICKET_KEY); } catch (e) { /* ignore */ }
        return;
      } else {
        delay = Math.min(delay * 2, 30000);
      }
      state.polling = setTimeout(poll, delay);
    };
    state.polling = setTimeout(poll, 500);
  }

  /* ---- the lead form ---------------------------------------------------------------------- */

  async function submitLead(ev) {
    ev.preventDefault();
    const err = $('lead-error');
    const email = $('lead-email');
    const box = $('lead-newsletter');
    const addr = email.value.trim();
    if (!validEmail(addr)) { showError(err, t('email_invalid')); email.focus(); return; }
    if (!box.checked) { showError(err, t('consent_required')); box.focus(); return; }
    const c = await loadConsent();
    if (!c || !c.newsletter) { showError(err, t('consent_unavailable')); return; }
    showError(err, '');
    const res = await api('POST', '/api/v1/leads', {
      email: addr, purpose: 'newsletter', consent: { given: true, text_version: c.newsletter.version }, lang,
    });
    if (res.status === 202 || res.status === 200) {
      $('lead-form').hidden = true;
      const done = $('lead-done');
      done.hidden = false;
      done.setAttribute('tabindex', '-1');
      done.focus();
      return;
    }
    showError(err, errorText(res));
  }

  /* ---- the embedded widget tells its host page how tall it is -------------------------------- */

  function reportHeight() {
    if (window.parent === window || !document.body.classList.contains('embedded')) return;
    const send = () => window.parent.postMessage({ type: 'pharmdesk:height', height: document.documentElement.scrollHeight }, '*');
    new ResizeObserver(send).observe(document.body);
    send();
  }

  /* ---- wiring ------------------------------------------------------------------------------ */

  window.PD.ready.then(() => {
    const msg = $('message');
    $('ask').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const text = msg.value.trim();
      if (!text) { showError($('ask-error'), t('error_empty')); msg.focus(); return; }
      msg.value = '';
      const focusNext = await send(text);
      (focusNext || msg).focus();
    });
    msg.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        $('ask').requestSubmit();
      }
    });
    $('open-handoff').addEventListener('click', () => openHandoff(state.lastMessage, false));
    $('ho-cancel').addEventListener('click', () => {
      $('handoff').hidden = true;
      $('open-handoff').focus();
    });
    $('handoff-form').addEventListener('submit', submitHandoff);
    $('order-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const num = $('order-number').value.trim();
      if (!num) { showError($('order-error'), t('order_number_invalid')); $('order-number').focus(); return; }
      lookupOrder(num, $('order-postcode').value, $('order-result'), $('order-error'));
    });
    $('lead-form').addEventListener('submit', submitLead);
    fillConsent($('lead-newsletter-text'), 'newsletter');
    let saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(TICKET_KEY) || 'null'); } catch (e) { saved = null; }
    if (saved && saved.ticket && saved.token) showTicket(saved, 'open', false);
    reportHeight();
    document.body.dataset.ready = '1';
  });
})();
