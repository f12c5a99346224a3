// Postkasse staff pages: the only script. Everything works without it; with
// it, sending a response shows the upload's progress. No inline script, no
// third-party code (the Content-Security-Policy allows scripts from 'self' only).
(function () {
  'use strict';

  function showPage(html, url) {
    var doc = new DOMParser().parseFromString(html, 'text/html');
    document.title = doc.title;
    document.body.replaceWith(document.adoptNode(doc.body));
    if (url && url !== location.href) history.replaceState(null, '', url);
    init();
    var focus = document.querySelector('[role="alert"], .error-summary, h1');
    if (focus) {
      if (!focus.hasAttribute('tabindex')) focus.setAttribute('tabindex', '-1');
      focus.focus();
    }
  }

  function upload(form) {
    form.addEventListener('submit', function (event) {
      if (!window.FormData || !window.XMLHttpRequest) return;
      event.preventDefault();
      var box = form.querySelector('.upload-progress');
      var bar = form.querySelector('progress');
      var button = form.querySelector('button[type="submit"]');
      if (box) box.hidden = false;
      if (button) button.disabled = true;
      var xhr = new XMLHttpRequest();
      xhr.open('POST', form.action);
      xhr.upload.addEventListener('progress', function (e) {
        if (e.lengthComputable && bar) {
          var pct = Math.round((e.loaded / e.total) * 100);
          bar.value = pct;
          bar.textContent = pct + ' %';
        }
      });
      xhr.addEventListener('load', function () {
        showPage(xhr.responseText, xhr.responseURL);
      });
      xhr.addEventListener('error', function () {
        if (box) box.hidden = true;
        if (button) button.disabled = false;
        alert('Forbindelsen blev afbrudt. Prøv igen.');
      });
      xhr.send(new FormData(form));
    });
  }

  function init() {
    var forms = document.querySelectorAll('form[data-upload]');
    for (var i = 0; i < forms.length; i++) upload(forms[i]);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
