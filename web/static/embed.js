/* pharmdesk widget: put
 *   <script src="https://PHARMDESK-HOST/static/embed.js" async></script>
 * where the inquiry form should appear on the pharmacy's website (optionally with
 * data-lang="en", data-target="#element-id"). It inserts an iframe of /widget from the same
 * host; the pharmacy's origin must be listed in allowed_origins (the page's CSP
 * frame-ancestors), otherwise the browser refuses to show it. The iframe reports its height. */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || !script.src) return;
  var origin = new URL(script.src).origin;
  var lang = script.getAttribute('data-lang') === 'en' ? 'en' : 'de';
  var frame = document.createElement('iframe');
  frame.src = origin + '/widget?lang=' + lang;
  frame.title = lang === 'en' ? 'Pharmacy inquiry form' : 'Anfrageformular der Apotheke';
  frame.setAttribute('loading', 'lazy');
  frame.setAttribute('referrerpolicy', 'no-referrer');
  frame.className = 'pharmdesk-widget';
  frame.style.width = '100%';
  frame.style.minHeight = '32rem';
  frame.style.border = '0';
  var target = script.getAttribute('data-target');
  var host = target ? document.querySelector(target) : null;
  if (host) host.appendChild(frame);
  else script.parentNode.insertBefore(frame, script.nextSibling);
  window.addEventListener('message', function (ev) {
    if (ev.origin !== origin || ev.source !== frame.contentWindow) return;
    var d = ev.data;
    if (d && d.type === 'pharmdesk:height' && typeof d.height === 'number' && d.height > 0 && d.height < 20000) {
      frame.style.height = Math.ceil(d.height) + 'px';
    }
  });
})();
