/* pharmdesk: the pages a confirmation mail links to (/leads/confirm and /leads/withdraw).
 * Opening the page changes nothing (mail scanners open links); only its button sends
 * POST /api/v1/leads/confirm or /withdraw with the token from the address. */
'use strict';
(function () {
  const { t, api, showError } = window.PD;
  const form = document.getElementById('lead-action');
  const result = document.getElementById('lead-result');
  const err = document.getElementById('lead-error');
  const action = form.dataset.action === 'withdraw' ? 'withdraw' : 'confirm';
  const token = new URLSearchParams(window.location.search).get('token') || '';

  window.PD.ready.then(() => {
    window.PD.keepParams(['token']);
    if (!token) {
      form.querySelector('button').disabled = true;
      showError(err, t('lead.no_token'));
    }
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!token) return;
      const btn = form.querySelector('button');
      btn.disabled = true;
      const res = await api('POST', '/api/v1/leads/' + action, { token });
      if (res.status === 200) {
        showError(err, '');
        form.hidden = true;
        result.textContent = t(action === 'confirm' ? 'lead.confirmed' : 'lead.withdrawn');
        result.hidden = false;
        result.focus();
        return;
      }
      btn.disabled = false;
      showError(err, res.status === 404 || res.status === 410 || res.status === 400 || res.status === 422
        ? t('lead.bad_token') : window.PD.errorText(res));
    });
    document.body.dataset.ready = '1';
  });
})();
