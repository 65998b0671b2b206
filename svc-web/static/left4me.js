// left4me's own script: small, no inline handlers (the CSP forbids them). Forms with
// data-confirm ask first in a <dialog>; without this script they simply post.
'use strict';
(() => {
  function confirmDialog(message) {
    return new Promise((resolve) => {
      const d = document.createElement('dialog');
      const p = document.createElement('p');
      p.textContent = message;
      const buttons = document.createElement('div');
      buttons.className = 'buttons';
      const cancel = document.createElement('button');
      cancel.type = 'button';
      cancel.textContent = 'Cancel';
      const ok = document.createElement('button');
      ok.type = 'button';
      ok.className = 'danger';
      ok.textContent = 'Confirm';
      buttons.append(cancel, ok);
      d.append(p, buttons);
      document.body.append(d);
      const done = (v) => { d.close(); d.remove(); resolve(v); };
      cancel.addEventListener('click', () => done(false));
      ok.addEventListener('click', () => done(true));
      d.addEventListener('cancel', () => done(false));
      d.showModal();
      cancel.focus();
    });
  }
  document.addEventListener('submit', async (e) => {
    const form = e.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm || form.dataset.confirmed) return;
    e.preventDefault();
    e.stopImmediatePropagation();
    if (await confirmDialog(form.dataset.confirm)) {
      form.dataset.confirmed = '1';
      form.requestSubmit();
    }
  }, true);
})();
