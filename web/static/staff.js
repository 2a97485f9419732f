/* pharmdesk: the staff dashboard (/staff). Sign-in (the session is an HttpOnly cookie; every
 * change carries the CSRF token the sign-in returned), the live queue of handoff tickets
 * (server-sent events, refetched on every event), claim / reply / close, the admin's view of
 * the team's accounts, and today's inquiries by decision drawn as an SVG bar chart. */
'use strict';
(function () {
  const { t, api, el, showError, errorText } = window.PD;
  const lang = window.PD.lang;
  const $ = (id) => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';
  const session = { csrf: null, username: null, role: null };
  let events = null;
  let refetchTimer = null;
  let statsTimer = null;
  const drafts = new Map(); /* ticket -> reply text being typed, kept across re-renders */
  const notes = new Map(); /* ticket -> a note for this ticket (e.g. claimed by someone else) */

  function changeHeaders() {
    return { 'X-CSRF-Token': session.csrf || '' };
  }

  /* a state-changing staff call; a 401 means the session is gone */
  async function change(method, path, body) {
    const res = await api(method, path, body, changeHeaders()); /* claim, close, logout: no body */
    if (res.status === 401) signedOut(t('staff.session_expired'));
    return res;
  }

  /* ---- session -------------------------------------------------------------------------- */

  function signedIn(me) {
    session.csrf = me.csrf_token;
    session.username = me.username;
    session.role = me.role;
    $('login').hidden = true;
    $('dashboard').hidden = false;
    $('whoami').hidden = false;
    $('whoami-name').textContent = me.username + ' (' + (me.role === 'admin' ? document.querySelector('#acc-role option[value=admin]').textContent : document.querySelector('#acc-role option[value=pharmacist]').textContent) + ')';
    $('accounts').hidden = me.role !== 'admin';
    refetch();
    loadStats();
    if (me.role === 'admin') loadAccounts();
    connect();
    clearInterval(statsTimer);
    statsTimer = setInterval(loadStats, 60000);
  }

  function signedOut(message) {
    session.csrf = null;
    if (events) { events.close(); events = null; }
    clearInterval(statsTimer);
    $('dashboard').hidden = true;
    $('whoami').hidden = true;
    $('login').hidden = false;
    showError($('login-error'), message || '');
    $('login-user').focus();
  }

  async function login(ev) {
    ev.preventDefault();
    const username = $('login-user').value.trim();
    const password = $('login-password').value;
    if (!username || !password) { showError($('login-error'), t('staff.login_failed')); return; }
    const res = await api('POST', '/api/v1/staff/login', { username, password });
    $('login-password').value = '';
    if (res.status === 200 && res.data && res.data.csrf_token) {
      showError($('login-error'), '');
      signedIn(res.data);
      $('queue-h').focus();
      return;
    }
    showError($('login-error'), res.status === 401 || res.status === 400 ? t('staff.login_failed') : errorText(res));
    $('login-user').focus();
  }

  async function logout() {
    await change('POST', '/api/v1/staff/logout');
    signedOut('');
  }

  /* ---- live events ---------------------------------------------------------------------- */

  function setLive(stateName, text) {
    const live = $('live');
    live.dataset.state = stateName;
    live.textContent = text;
  }

  function connect() {
    if (events) events.close();
    events = new EventSource('/api/v1/staff/events');
    events.addEventListener('open', () => setLive('live', t('staff.live')));
    events.addEventListener('error', () => {
      /* EventSource reconnects by itself, sending Last-Event-ID */
      setLive('down', t('staff.reconnecting'));
      if (events && events.readyState === EventSource.CLOSED) setTimeout(() => { if (session.csrf) connect(); }, 5000);
    });
    events.addEventListener('ticket', () => {
      setLive('live', t('staff.live'));
      scheduleRefetch();
      scheduleStats();
    });
  }

  /* the chart follows events at most every 10 s, however many tickets arrive */
  let statsPending = null;
  function scheduleStats() {
    if (!statsPending) statsPending = setTimeout(() => { statsPending = null; loadStats(); }, 10000);
  }

  function scheduleRefetch() {
    clearTimeout(refetchTimer);
    refetchTimer = setTimeout(refetch, 150);
  }

  /* ---- the queue -------------------------------------------------------------------------- */

  const PRIORITY = { emergency: 0, adverse_event: 1, normal: 2 };

  function age(s) {
    if (typeof s !== 'number' || s < 60) return t('staff.age_now');
    if (s < 3600) return t('staff.age_min', { n: Math.floor(s / 60) });
    return t('staff.age_h', { n: Math.floor(s / 3600) });
  }

  function contactText(c) {
    if (!c) return null;
    const parts = [c.name, c.email, c.phone].filter((x) => typeof x === 'string' && x);
    return parts.length ? parts.join(' · ') : null;
  }

  function ticketNode(h) {
    const prio = h.priority in PRIORITY ? h.priority : 'normal';
    const mine = h.claimed_by && h.claimed_by === session.username;
    const other = h.claimed_by && !mine;
    const headId = 'ticket-' + h.ticket;
    const li = el('li', { class: 'ticket ' + prio, attrs: { 'aria-labelledby': headId, 'data-ticket': h.ticket } },
      el('header', {},
        el('span', { class: 'prio ' + prio, text: t('staff.priority.' + prio) }),
        el('h3', { text: t('staff.ticket', { ticket: h.ticket }), attrs: { id: headId } }),
        el('span', { class: 'status', text: t('staff.status.' + h.status) }),
        el('span', { class: 'age', text: age(h.age_s) })),
      el('p', { class: 'message', text: h.message || '' }));
    const contact = contactText(h.contact);
    li.append(el('p', { class: 'hint', text: contact ? t('staff.contact', { contact }) : t('staff.no_contact') }));
    if (other) li.append(el('p', { class: 'note', text: t('staff.claimed_by_other', { user: h.claimed_by }) }));
    else if (mine) li.append(el('p', { class: 'hint', text: t('staff.claimed_by_me') }));
    const note = notes.get(h.ticket);
    if (note && !other) li.append(el('p', { class: 'note', attrs: { role: 'alert' }, text: note }));
    if (Array.isArray(h.replies) && h.replies.length) {
      li.append(el('p', { class: 'hint', text: t('staff.replies') }),
        el('ol', { class: 'replies' }, ...h.replies.map((r) => el('li', { text: (r.by ? r.by + ': ' : '') + r.text }))));
    }
    const err = el('p', { class: 'error', attrs: { role: 'alert' } });
    err.hidden = true;
    const actions = el('div', { class: 'actions' });
    if (h.status === 'open' || (h.status !== 'closed' && !h.claimed_by)) {
      actions.append(el('button', { text: t('staff.claim'), attrs: { type: 'button' }, on: { click: () => act(h, 'claim', undefined, err) } }));
    }
    if (h.status !== 'closed' && (mine || session.role === 'admin')) {
      actions.append(el('button', { class: 'secondary', text: t('staff.close'), attrs: { type: 'button' }, on: { click: () => act(h, 'close', undefined, err) } }));
    }
    li.append(actions);
    if (mine && h.status !== 'closed') {
      const id = 'reply-' + h.ticket;
      const area = el('textarea', { attrs: { id, rows: '3', maxlength: '4000', required: '' } });
      area.value = drafts.get(h.ticket) || '';
      area.addEventListener('input', () => drafts.set(h.ticket, area.value));
      const form = el('form', { attrs: { novalidate: '' } },
        el('label', { text: t('staff.reply_label'), attrs: { for: id } }), area,
        el('button', { text: t('staff.send_reply'), attrs: { type: 'submit' } }));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const text = area.value.trim();
        if (!text) { area.focus(); return; }
        if (await act(h, 'reply', { text }, err)) drafts.delete(h.ticket);
      });
      li.append(form);
    }
    if (session.role === 'admin' && h.status !== 'closed') {
      const id = 'assign-' + h.ticket;
      const input = el('input', { attrs: { id, type: 'text', maxlength: '64', autocomplete: 'off' } });
      const form = el('form', { class: 'inline-postcode', attrs: { novalidate: '' } },
        el('label', { text: t('staff.assign_label'), attrs: { for: id } }), input,
        el('button', { class: 'secondary', text: t('staff.assign'), attrs: { type: 'submit' } }));
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        if (input.value.trim()) act(h, 'assign', { username: input.value.trim() }, err);
      });
      li.append(form);
    }
    li.append(err);
    return li;
  }

  async function act(h, action, body, err) {
    const res = await change('POST', '/api/v1/staff/handoffs/' + encodeURIComponent(h.ticket) + '/' + action, body);
    if (res.status === 200) {
      notes.delete(h.ticket);
      await refetch();
      const again = document.querySelector('[data-ticket="' + CSS.escape(h.ticket) + '"]');
      const target = again && (again.querySelector('textarea') || again.querySelector('h3'));
      if (target) { if (target.tagName === 'H3') target.setAttribute('tabindex', '-1'); target.focus(); }
      return true;
    }
    if (res.status === 409) {
      /* someone else holds it: the refetched ticket names who; the server's message stays as
       * a note in case the list does not show it yet */
      notes.set(h.ticket, (res.data && res.data.error && res.data.error.message) || errorText(res));
      await refetch();
      const node = document.querySelector('[data-ticket="' + CSS.escape(h.ticket) + '"] .note');
      if (node) { node.setAttribute('role', 'alert'); node.setAttribute('tabindex', '-1'); node.focus(); }
      return false;
    }
    showError(err, errorText(res));
    return false;
  }

  async function refetch() {
    if (!session.csrf) return;
    const status = $('queue-filter').value;
    const res = await api('GET', '/api/v1/staff/handoffs' + (status ? '?status=' + encodeURIComponent(status) : ''));
    if (res.status === 401) { signedOut(t('staff.session_expired')); return; }
    if (res.status !== 200 || !res.data || !Array.isArray(res.data.handoffs)) {
      showError($('queue-error'), errorText(res));
      return;
    }
    showError($('queue-error'), '');
    /* the server sorts by priority, then age; sorting again keeps the page right if it did not */
    const list = res.data.handoffs.slice().sort((a, b) =>
      (PRIORITY[a.priority] ?? 2) - (PRIORITY[b.priority] ?? 2) || (b.age_s || 0) - (a.age_s || 0));
    const active = document.activeElement && document.activeElement.id;
    $('queue').replaceChildren(...list.map(ticketNode));
    $('queue-empty').hidden = list.length > 0;
    if (active && $(active) && $(active).tagName === 'TEXTAREA') $(active).focus();
  }

  /* ---- today's chart ---------------------------------------------------------------------- */

  function svg(tag, attrs, text) {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function drawChart(stats) {
    const order = ['answer', 'refuse', 'handoff', 'emergency'];
    const d = stats.decisions || {};
    for (const k of Object.keys(d)) if (!order.includes(k)) order.push(k);
    const rows = order.map((k) => ({ key: k, label: t('decision.' + k) === 'decision.' + k ? k : t('decision.' + k), n: Number(d[k]) || 0 }));
    const max = Math.max(1, ...rows.map((r) => r.n));
    const W = 300, labelW = 130, barH = 22, gap = 8, H = rows.length * (barH + gap) + gap;
    const total = rows.reduce((s, r) => s + r.n, 0);
    const title = t('staff.chart_label');
    const root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-labelledby': 'chart-title chart-desc' });
    root.append(svg('title', { id: 'chart-title' }, title));
    root.append(svg('desc', { id: 'chart-desc' }, rows.map((r) => r.label + ': ' + r.n).join(', ')));
    rows.forEach((r, i) => {
      const y = gap + i * (barH + gap);
      const w = Math.round(((W - labelW - 40) * r.n) / max);
      root.append(svg('text', { x: 0, y: y + barH * 0.7 }, r.label));
      root.append(svg('rect', { class: 'bar ' + (order.indexOf(r.key) < 4 ? r.key : 'other'), x: labelW, y, width: Math.max(w, r.n ? 2 : 0), height: barH, rx: 3 }));
      root.append(svg('text', { x: labelW + w + 6, y: y + barH * 0.7 }, String(r.n)));
    });
    $('chart').replaceChildren(root, el('p', { class: 'total', text: t('staff.chart_total', { n: total, date: stats.date }) }));
  }

  async function loadStats() {
    if (!session.csrf) return;
    const res = await api('GET', '/api/v1/staff/stats/today');
    if (res.status === 200 && res.data && res.data.decisions) {
      showError($('chart-error'), '');
      drawChart(res.data);
    } else {
      showError($('chart-error'), errorText(res));
    }
  }

  /* ---- accounts (admin) and the own password ------------------------------------------------ */

  async function loadAccounts() {
    const res = await api('GET', '/api/v1/staff/accounts');
    if (res.status !== 200 || !res.data || !Array.isArray(res.data.accounts)) {
      showError($('account-error'), errorText(res));
      return;
    }
    const roleName = (r) => document.querySelector('#acc-role option[value="' + CSS.escape(r) + '"]')?.textContent || r;
    $('accounts-body').replaceChildren(...res.data.accounts.map((a) => {
      const action = a.disabled ? 'enable' : 'disable';
      const btn = el('button', { class: 'secondary', text: t('staff.' + action), attrs: { type: 'button', 'aria-label': t('staff.' + action) + ': ' + a.username } });
      btn.addEventListener('click', async () => {
        const r = await change('POST', '/api/v1/staff/accounts/' + encodeURIComponent(a.username) + '/' + action);
        if (r.status === 200) loadAccounts(); else showError($('account-error'), errorText(r));
      });
      return el('tr', {}, el('td', { text: a.username }), el('td', { text: roleName(a.role) }),
        el('td', { text: a.disabled ? t('staff.disabled') : t('staff.active') }),
        el('td', { text: a.created_at ? new Date(a.created_at).toLocaleDateString(lang === 'en' ? 'en-GB' : 'de-DE') : '' }),
        el('td', {}, a.username === session.username ? null : btn));
    }));
  }

  async function createAccount(ev) {
    ev.preventDefault();
    const username = $('acc-user').value.trim();
    const password = $('acc-password').value;
    const err = $('account-error');
    if (!username || password.length < 12) { showError(err, t('staff.password_failed')); return; }
    const res = await change('POST', '/api/v1/staff/accounts', { username, password, role: $('acc-role').value });
    if (res.status === 200 || res.status === 201) {
      $('acc-user').value = '';
      $('acc-password').value = '';
      showError(err, '');
      loadAccounts();
      return;
    }
    showError(err, (res.data && res.data.error && res.data.error.message) || errorText(res));
  }

  async function changePassword(ev) {
    ev.preventDefault();
    const msg = $('password-msg');
    const res = await change('POST', '/api/v1/staff/password', { old_password: $('pw-old').value, new_password: $('pw-new').value });
    $('pw-old').value = '';
    $('pw-new').value = '';
    msg.textContent = res.status === 200 ? t('staff.password_changed') : t('staff.password_failed');
  }

  /* ---- start -------------------------------------------------------------------------------- */

  window.PD.ready.then(async () => {
    $('login-form').addEventListener('submit', login);
    $('logout').addEventListener('click', logout);
    $('queue-filter').addEventListener('change', refetch);
    $('account-form').addEventListener('submit', createAccount);
    $('password-form').addEventListener('submit', changePassword);
    /* a reload keeps the session: the cookie is still there, /me returns a fresh CSRF token */
    const me = await api('GET', '/api/v1/staff/me');
    if (me.status === 200 && me.data && me.data.csrf_token) signedIn(me.data);
    else $('login-user').focus();
    setInterval(() => { if (session.csrf) refetch(); }, 30000); /* ages, and a safety net beside SSE */
    document.body.dataset.ready = '1';
  });
})();
