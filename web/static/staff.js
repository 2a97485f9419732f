/* pharmdesk: the staff dashboard (/staff). Sign-in (the session is an HttpOnly cookie; every
 * change carries the CSRF token the sign-in returned), the live queue of handoff tickets
 * (server-sent events, refetched on every event), claim / reply / close, the admin's view of
 * the team's accounts, and today's inquiries by decision drawn as an SVG bar chart. Nobody
 * misses a new ticket: while the tab is hidden or unfocused the title counts the unseen ones,
 * a desktop notification (opt-in) and a signal tone (opt-in) go off, a live region tells
 * screen readers, and a banner shows when the live stream is interrupted. */
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
    $('stream-banner').hidden = true;
    clearUnseen();
    seeded = false; /* the next sign-in's first list is again what was there */
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
    const es = new EventSource('/api/v1/staff/events');
    events = es;
    es.addEventListener('open', () => {
      setLive('live', t('staff.live'));
      /* (re)connected: whatever happened while the stream was down (or between the first
       * list and the stream's start) comes with a fresh list */
      $('stream-banner').hidden = true;
      refetch();
    });
    es.addEventListener('error', () => {
      if (events !== es) return;
      /* EventSource reconnects by itself, sending Last-Event-ID; until it does, the list
       * follows the 30-second refresh */
      setLive('down', t('staff.reconnecting'));
      $('stream-banner').hidden = false;
      if (es.readyState === EventSource.CLOSED) setTimeout(() => { if (session.csrf && events === es) connect(); }, 5000);
    });
    es.addEventListener('ticket', (ev) => {
      setLive('live', t('staff.live'));
      $('stream-banner').hidden = true;
      let d = null;
      try { d = JSON.parse(ev.data); } catch (e) { d = null; }
      if (d && typeof d.ticket === 'string') {
        if (d.type === 'new') arrived(d.ticket, d.priority, false);
        else if (d.type === 'escalated' && d.priority === 'emergency') arrived(d.ticket, d.priority, true);
      }
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

  let fetchSeq = 0;
  let shownSeq = 0;
  async function refetch() {
    if (!session.csrf) return;
    const status = $('queue-filter').value;
    const seq = ++fetchSeq;
    const res = await api('GET', '/api/v1/staff/handoffs' + (status ? '?status=' + encodeURIComponent(status) : ''));
    if (seq < shownSeq) return; /* a later list is already on the page */
    shownSeq = seq;
    if (res.status === 401) { signedOut(t('staff.session_expired')); return; }
    if (res.status !== 200 || !res.data || !Array.isArray(res.data.handoffs)) {
      showError($('queue-error'), errorText(res));
      return;
    }
    showError($('queue-error'), '');
    $('stream-updated').textContent = t('staff.notify.stream_updated', { time: new Date().toLocaleTimeString(lang === 'en' ? 'en-GB' : 'de-DE') });
    if (status === '' || status === 'open') listed(res.data.handoffs);
    /* the server sorts by priority, then age; sorting again keeps the page right if it did not */
    const list = res.data.handoffs.slice().sort((a, b) =>
      (PRIORITY[a.priority] ?? 2) - (PRIORITY[b.priority] ?? 2) || (b.age_s || 0) - (a.age_s || 0));
    const active = document.activeElement && document.activeElement.id;
    $('queue').replaceChildren(...list.map(ticketNode));
    $('queue-empty').hidden = list.length > 0;
    if (active && $(active) && $(active).tagName === 'TEXTAREA') $(active).focus();
  }

  /* ---- not missing a ticket ------------------------------------------------------------------
   * Each ticket is announced once (and once more if it becomes an emergency), whether the
   * stream's "new" event or a list (the 30-second refresh, the refetch after a reconnect)
   * shows it first. Notifications and the title carry the ticket number only, never the
   * customer's message or contact: they show on lock screens and taskbars. */

  const prefs = {
    get(k) { try { return window.localStorage.getItem(k); } catch (e) { return null; } },
    set(k, v) { try { window.localStorage.setItem(k, v); } catch (e) { /* storage off: not remembered */ } },
  };
  const PREF_DESKTOP = 'pharmdesk.staff.notify.desktop';
  const PREF_SOUND = 'pharmdesk.staff.notify.sound';
  const baseTitle = document.title;
  const announced = new Set(); /* tickets announced (or on the first list) */
  const announcedEmergency = new Set(); /* of those, announced as emergencies */
  const shown = new Map(); /* ticket -> its open desktop notification */
  let seeded = false; /* the first active list is what was there before: not announced */
  const unseen = new Set(); /* tickets that came while nobody looked (the title's count) */
  let unseenEmergency = false;

  function attended() {
    return document.visibilityState === 'visible' && document.hasFocus();
  }

  function updateTitle() {
    if (!unseen.size) { document.title = baseTitle; return; }
    const key = unseenEmergency ? 'title_emergency' : unseen.size === 1 ? 'title_one' : 'title_many';
    document.title = t('staff.notify.' + key, { n: unseen.size, title: baseTitle });
  }

  function clearUnseen() {
    unseen.clear();
    unseenEmergency = false;
    updateTitle();
  }

  /* the pharmacist looks at the page again: the count goes, and so do the notifications of
   * ordinary tickets (an emergency's stays until it is dismissed) */
  function attentionBack() {
    if (document.visibilityState !== 'visible') return;
    clearUnseen();
    for (const [ticket, n] of shown) {
      if (!n.emergency) { n.note.close(); shown.delete(ticket); }
    }
  }

  function announce(text, urgent) {
    const region = $(urgent ? 'announce-urgent' : 'announce');
    region.append(el('p', { text }));
    while (region.childElementCount > 3) region.firstElementChild.remove();
  }

  /* a ticket is new to this page (escalated: an open ticket became an emergency) */
  function arrived(ticket, priority, escalated) {
    const emergency = priority === 'emergency';
    if (emergency ? announcedEmergency.has(ticket) : announced.has(ticket)) return;
    announced.add(ticket);
    if (emergency) announcedEmergency.add(ticket);
    const kind = escalated ? 'escalated' : emergency ? 'emergency' : 'normal';
    announce(t(kind === 'normal' ? 'staff.notify.announce' : 'staff.notify.announce_' + kind, { ticket }), emergency);
    const away = !attended();
    if (away) {
      unseen.add(ticket);
      if (emergency) unseenEmergency = true;
      updateTitle();
      desktopNotify(ticket, kind);
    }
    /* an emergency sounds even while the page is in front: the pharmacist may be at the counter */
    if (emergency || away) signal(emergency);
  }

  /* a list of active (or open) tickets: the first is what was already there; later ones
   * announce open tickets no event announced (e.g. while the stream was down) */
  function listed(handoffs) {
    for (const h of handoffs) {
      if (!h || typeof h.ticket !== 'string') continue;
      if (!seeded || h.status !== 'open') {
        announced.add(h.ticket);
        if (h.priority === 'emergency') announcedEmergency.add(h.ticket);
      } else {
        arrived(h.ticket, h.priority, h.priority === 'emergency' && announced.has(h.ticket));
      }
    }
    seeded = true;
  }

  function focusTicket(ticket) {
    const head = document.querySelector('[data-ticket="' + CSS.escape(ticket) + '"] h3');
    if (!head) return;
    head.setAttribute('tabindex', '-1');
    head.focus();
    head.scrollIntoView({ block: 'center' });
  }

  /* desktop notifications: only after the button, never a prompt on load */
  const desktop = { wanted: prefs.get(PREF_DESKTOP) === 'on', asking: false };

  function desktopSupported() {
    return typeof window.Notification === 'function';
  }

  function desktopOn() {
    return desktop.wanted && desktopSupported() && Notification.permission === 'granted';
  }

  function renderDesktop() {
    const button = $('notify-desktop');
    const state = $('notify-desktop-state');
    if (!desktopSupported()) {
      button.hidden = true;
      state.textContent = t('staff.notify.desktop_unsupported');
      return;
    }
    const denied = Notification.permission === 'denied';
    button.hidden = denied;
    button.textContent = t(desktopOn() ? 'staff.notify.desktop_disable' : 'staff.notify.desktop_enable');
    state.textContent = t(denied ? 'staff.notify.desktop_denied' : desktopOn() ? 'staff.notify.desktop_on' : 'staff.notify.desktop_off');
  }

  function askPermission() {
    /* older browsers take a callback instead of returning a promise */
    return new Promise((resolve) => {
      const p = Notification.requestPermission(resolve);
      if (p && typeof p.then === 'function') p.then(resolve, () => resolve(Notification.permission));
    });
  }

  async function toggleDesktop() {
    if (!desktopSupported() || desktop.asking) return; /* a second click while the browser asks */
    if (desktopOn()) {
      desktop.wanted = false;
    } else if (Notification.permission === 'default') {
      desktop.asking = true;
      try {
        desktop.wanted = (await askPermission()) === 'granted';
      } finally {
        desktop.asking = false;
      }
    } else {
      desktop.wanted = Notification.permission === 'granted';
    }
    prefs.set(PREF_DESKTOP, desktop.wanted ? 'on' : 'off');
    renderDesktop();
  }

  function desktopNotify(ticket, kind) {
    if (!desktopOn()) return;
    const emergency = kind !== 'normal';
    const title = t(emergency ? 'staff.notify.notification_' + kind : 'staff.notify.notification_title');
    let note;
    try {
      note = new Notification(title, {
        body: t('staff.notify.notification_body', { ticket }),
        tag: 'pharmdesk-' + ticket, /* one per ticket, also across open tabs */
        renotify: emergency,
        requireInteraction: emergency,
        lang,
        icon: '/static/favicon.svg',
      });
    } catch (e) {
      return; /* e.g. Chrome on Android shows notifications only through a service worker */
    }
    shown.set(ticket, { note, emergency });
    note.addEventListener('click', () => {
      window.focus();
      note.close();
      shown.delete(ticket);
      focusTicket(ticket);
    });
    note.addEventListener('close', () => { if (shown.get(ticket) && shown.get(ticket).note === note) shown.delete(ticket); });
  }

  /* the signal tone, made with the Web Audio API; the browser lets it start only from a
   * user gesture (the switch, or any click or key on the page once it is on) */
  const sound = { on: prefs.get(PREF_SOUND) === 'on', ctx: null };
  const AudioCtx = window.AudioContext || window.webkitAudioContext;

  function audioFromGesture() {
    if (!AudioCtx || !sound.on) return;
    if (!sound.ctx) {
      sound.ctx = new AudioCtx();
      sound.ctx.addEventListener('statechange', renderSound);
    }
    if (sound.ctx.state === 'suspended') sound.ctx.resume().then(renderSound, renderSound);
    renderSound();
  }

  function renderSound() {
    const button = $('notify-sound');
    const state = $('notify-sound-state');
    if (!AudioCtx) {
      button.hidden = true;
      state.textContent = t('staff.notify.sound_unsupported');
      return;
    }
    button.setAttribute('aria-pressed', sound.on ? 'true' : 'false');
    const running = sound.ctx && sound.ctx.state === 'running';
    state.textContent = t(!sound.on ? 'staff.notify.sound_off' : running ? 'staff.notify.sound_on' : 'staff.notify.sound_blocked');
  }

  function toggleSound() {
    sound.on = !sound.on;
    prefs.set(PREF_SOUND, sound.on ? 'on' : 'off');
    audioFromGesture();
    renderSound();
    if (sound.on && sound.ctx) sound.ctx.resume().then(() => signal(false), () => {});
  }

  /* emergency: five loud alternating beeps (about 1.2 s); otherwise two soft rising tones */
  function signal(emergency) {
    const ctx = sound.ctx;
    if (!sound.on || !ctx || ctx.state !== 'running') return;
    const tones = emergency
      ? [[988, 0, 0.18], [740, 0.24, 0.18], [988, 0.48, 0.18], [740, 0.72, 0.18], [988, 0.96, 0.28]]
      : [[660, 0, 0.14], [880, 0.17, 0.22]];
    const start = ctx.currentTime + 0.02;
    for (const [freq, at, len] of tones) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = emergency ? 'square' : 'sine';
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, start + at);
      gain.gain.exponentialRampToValueAtTime(emergency ? 0.2 : 0.12, start + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + at + len);
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start(start + at);
      osc.stop(start + at + len + 0.02);
    }
  }

  function setupNotify() {
    $('notify-desktop').addEventListener('click', toggleDesktop);
    $('notify-sound').addEventListener('click', toggleSound);
    document.addEventListener('visibilitychange', attentionBack);
    window.addEventListener('focus', attentionBack);
    /* a remembered "sound on" needs one gesture on this page before the browser plays it */
    document.addEventListener('pointerdown', audioFromGesture, true);
    document.addEventListener('keydown', audioFromGesture, true);
    if (desktopSupported() && navigator.permissions && navigator.permissions.query) {
      navigator.permissions.query({ name: 'notifications' })
        .then((st) => { st.addEventListener('change', renderDesktop); }, () => {});
    }
    renderDesktop();
    renderSound();
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
    setupNotify();
    /* a reload keeps the session: the cookie is still there, /me returns a fresh CSRF token */
    const me = await api('GET', '/api/v1/staff/me');
    if (me.status === 200 && me.data && me.data.csrf_token) signedIn(me.data);
    else $('login-user').focus();
    setInterval(() => { if (session.csrf) refetch(); }, 30000); /* ages, and a safety net beside SSE */
    document.body.dataset.ready = '1';
  });
})();
