/* pharmdesk: the customer's data rights (Art. 15, 17, 20 GDPR).
 * On /privacy: the form that asks for a mailed link (POST /api/v1/data-requests); the answer
 * is the same whatever the address, so the page says "check your mail" every time.
 * On /data/confirm (the mailed link): opening the page changes nothing (mail scanners open
 * links); only its button sends POST /api/v1/data-requests/confirm with the token. An export
 * is shown here and offered as a JSON file (a Blob link); an erasure shows what was done. */
'use strict';
(function () {
  const { t, api, el, showError, errorCode, errorText, validEmail } = window.PD;

  /* ---- /privacy: ask for a link ---------------------------------------------------------- */

  function requestForm(form) {
    const email = document.getElementById('data-request-email');
    const err = document.getElementById('data-request-error');
    const done = document.getElementById('data-request-done');
    const btn = form.querySelector('button[type=submit]');
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const addr = email.value.trim();
      const kind = form.querySelector('input[name=kind]:checked');
      if (!validEmail(addr)) {
        showError(err, t('email_invalid'));
        email.setAttribute('aria-invalid', 'true');
        email.focus();
        return;
      }
      email.removeAttribute('aria-invalid');
      if (!kind) {
        showError(err, t('data.kind_required'));
        form.querySelector('input[name=kind]').focus();
        return;
      }
      btn.disabled = true;
      const res = await api('POST', '/api/v1/data-requests', { email: addr, kind: kind.value, lang: window.PD.lang });
      btn.disabled = false;
      if (res.status === 202) {
        showError(err, '');
        form.reset();
        form.hidden = true;
        done.hidden = false;
        done.focus();
        return;
      }
      if (res.status === 422 && errorCode(res) === 'invalid_email') {
        showError(err, t('email_invalid'));
        email.setAttribute('aria-invalid', 'true');
        email.focus();
        return;
      }
      showError(err, errorText(res));
    });
    document.getElementById('data-request-again').addEventListener('click', () => {
      done.hidden = true;
      form.hidden = false;
      email.focus();
    });
  }

  /* ---- /data/confirm: the export, readable ------------------------------------------------- */

  /* a text of the group, or the technical name when there is none (a source added later) */
  function label(group, name) {
    const key = 'data.' + group + '.' + name;
    const s = t(key);
    return s === key ? name : s;
  }

  function value(v) {
    if (v === null || v === undefined || v === '') return el('span', { text: '–' });
    if (Array.isArray(v)) {
      if (!v.length) return el('span', { text: t('data.nothing') });
      if (v.every((x) => x === null || typeof x !== 'object')) return el('span', { text: v.join(', ') });
      return el('ol', { class: 'export-rows' }, ...v.map((x) => el('li', {}, value(x))));
    }
    if (typeof v === 'object') {
      const dl = el('dl', { class: 'export-row' });
      for (const [k, x] of Object.entries(v)) dl.append(el('dt', { text: k }), el('dd', {}, value(x)));
      return dl;
    }
    return el('span', { text: String(v) });
  }

  function when(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso || '') : d.toLocaleString(window.PD.lang === 'en' ? 'en-GB' : 'de-DE');
  }

  function showExport(heading, body, data) {
    heading.textContent = t('data.exported_heading');
    body.append(el('p', { text: t('data.exported_intro', { email: data.email, at: when(data.generated_at) }) }));
    const json = JSON.stringify(data, null, 2);
    const blob = new Blob([json + '\n'], { type: 'application/json' });
    const day = String(data.generated_at || '').slice(0, 10) || 'export';
    body.append(el('p', {}, el('a', {
      class: 'download',
      text: t('data.download'),
      attrs: { id: 'data-download', href: URL.createObjectURL(blob), download: t('data.download_name') + '-' + day + '.json', type: 'application/json' },
    })));
    const sources = data.sources && typeof data.sources === 'object' ? data.sources : {};
    for (const src of Object.values(sources)) {
      for (const [table, rows] of Object.entries(src || {})) {
        const list = Array.isArray(rows) ? rows : [rows];
        const id = window.PD.nextId('export');
        body.append(el('section', { class: 'export-table', attrs: { 'aria-labelledby': id } },
          el('h3', { text: label('tables', table) + ' (' + list.length + ')', attrs: { id } }),
          list.length ? value(list) : el('p', { class: 'hint', text: t('data.nothing') })));
      }
    }
  }

  function showErasure(heading, body, summary) {
    heading.textContent = t('data.erased_heading');
    body.append(el('p', { text: t('data.erased_intro') }));
    const ul = el('ul', { attrs: { id: 'data-erased' } });
    const sources = summary && summary.sources && typeof summary.sources === 'object' ? summary.sources : {};
    for (const src of Object.values(sources)) {
      for (const [k, n] of Object.entries(src || {})) {
        if (typeof n === 'number') ul.append(el('li', { text: n + ' ' + label('summary', k) }));
      }
    }
    body.append(ul);
  }

  function confirmPage(form) {
    const params = new URLSearchParams(window.location.search);
    const token = params.get('token') || '';
    const kind = params.get('kind');
    const btn = document.getElementById('data-button');
    const result = document.getElementById('data-result');
    const err = document.getElementById('data-error');
    window.PD.keepParams(['token', 'kind']);
    /* the link names its kind so the page can say what the button does; the server decides */
    if (kind === 'export' || kind === 'erasure') {
      document.getElementById('data-intro-any').hidden = true;
      document.getElementById('data-intro-' + kind).hidden = false;
      btn.textContent = btn.dataset[kind];
      if (kind === 'erasure') btn.classList.add('danger');
    }
    if (!token) {
      btn.disabled = true;
      showError(err, t('data.no_token'));
    }
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!token || btn.disabled) return;
      btn.disabled = true;
      const res = await api('POST', '/api/v1/data-requests/confirm', { token });
      if (res.status === 200 && res.data) {
        showError(err, '');
        form.hidden = true;
        const heading = document.getElementById('data-result-h');
        const body = document.getElementById('data-result-body');
        body.replaceChildren();
        if (res.data.status === 'exported') showExport(heading, body, res.data.data || {});
        else showErasure(heading, body, res.data.summary || {});
        result.hidden = false;
        result.focus();
        return;
      }
      const code = errorCode(res);
      let text;
      if (res.status === 410) text = t(code === 'expired' ? 'data.expired' : 'data.used');
      else if (res.status === 404 || res.status === 400 || res.status === 422) text = t('data.unknown');
      else text = errorText(res);
      /* a used, expired or unknown link stays so: only a network or server problem is retried */
      btn.disabled = res.status >= 400 && res.status < 500 && res.status !== 429;
      showError(err, text);
      err.focus();
    });
  }

  window.PD.ready.then(() => {
    const requestEl = document.getElementById('data-request-form');
    const confirmEl = document.getElementById('data-action');
    if (requestEl) requestForm(requestEl);
    if (confirmEl) confirmPage(confirmEl);
    document.body.dataset.ready = '1';
  });
})();
