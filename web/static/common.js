/* pharmdesk: what every page's script shares: the page's language and its texts
 * (/i18n/LANG.json, key "js"), JSON calls to the API, and building DOM nodes without HTML
 * strings (texts always go in as textContent). */
'use strict';
(function () {
  const lang = document.documentElement.lang === 'en' ? 'en' : 'de';
  let texts = {};

  function lookup(key) {
    let node = texts;
    for (const part of key.split('.')) {
      if (node === null || typeof node !== 'object' || !(part in node)) return null;
      node = node[part];
    }
    return typeof node === 'string' ? node : null;
  }

  /* the text for key with {name} filled from vars */
  function t(key, vars) {
    const s = lookup(key);
    if (s === null) return key;
    return s.replace(/\{([a-z_]+)\}/g, (m, name) =>
      vars && vars[name] !== undefined && vars[name] !== null ? String(vars[name]) : m);
  }

  const ready = fetch('/i18n/' + lang + '.json')
    .then((r) => (r.ok ? r.json() : {}))
    .then((j) => { texts = (j && j.js) || {}; })
    .catch(() => { texts = {}; });

  /* one API call: resolves to {status, data, retryAfter}; status 0 when the network failed */
  async function api(method, path, body, headers) {
    const h = Object.assign({ Accept: 'application/json' }, headers || {});
    const init = { method, headers: h, credentials: 'same-origin' };
    if (body !== undefined) {
      h['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(path, init);
    } catch (e) {
      return { status: 0, data: null, retryAfter: null };
    }
    let data = null;
    try {
      data = await r.json();
    } catch (e) {
      data = null;
    }
    return { status: r.status, data, retryAfter: r.headers.get('Retry-After') };
  }

  function errorCode(res) {
    return res && res.data && res.data.error && typeof res.data.error === 'object'
      ? res.data.error.code : null;
  }

  /* the customer-facing text for a failed call: network, rate limit, or a generic one */
  function errorText(res) {
    if (res.status === 0) return t('error_network');
    if (res.status === 429) return t('error_rate', { seconds: res.retryAfter || 60 });
    return t('error_generic');
  }

  /* el('p', {class: 'x', text: 'y', attrs: {...}, on: {click: f}}, child, ...) */
  function el(tag, opts, ...children) {
    const n = document.createElement(tag);
    const o = opts || {};
    if (o.class) n.className = o.class;
    if (o.text !== undefined) n.textContent = o.text;
    if (o.attrs) for (const [k, v] of Object.entries(o.attrs)) if (v !== null && v !== undefined) n.setAttribute(k, v);
    if (o.on) for (const [k, f] of Object.entries(o.on)) n.addEventListener(k, f);
    for (const c of children) if (c) n.append(c);
    return n;
  }

  function showError(node, text) {
    if (!node) return;
    node.textContent = text || '';
    node.hidden = !text;
  }

  let uid = 0;
  function nextId(prefix) {
    uid += 1;
    return prefix + '-' + uid;
  }

  function validEmail(s) {
    return /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/.test(s) && s.length <= 254;
  }

  /* a mailed link's page: the language switch keeps the link's parameters (token, …) */
  function keepParams(names) {
    const sw = document.getElementById('lang-switch');
    const here = new URLSearchParams(window.location.search);
    if (!sw) return;
    const u = new URL(sw.getAttribute('href'), window.location.href);
    for (const n of names) if (here.get(n)) u.searchParams.set(n, here.get(n));
    sw.setAttribute('href', u.pathname + u.search);
  }

  window.PD = { lang, t, ready, api, errorCode, errorText, el, showError, nextId, validEmail, keepParams };
})();
