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

  // ---- live logs over SSE --------------------------------------------------------------
  // One EventSource per log panel. A hidden tab closes its streams (browsers give a page six
  // connections per origin over HTTP/1.1; open tabs must not starve navigation) and reopens
  // them from the last id it saw when it is shown again, so nothing is lost or doubled.
  const streams = new Set();

  function status(el, text) {
    const s = document.querySelector(`[data-stream-status="${el.id}"]`);
    if (s) s.textContent = text;
  }

  function append(el, text, klass) {
    const atEnd = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
    const line = document.createElement('span');
    if (klass) line.className = klass;
    line.textContent = text + '\n';
    el.append(line);
    while (el.childElementCount > 5000) el.firstElementChild.remove();
    if (atEnd) el.scrollTop = el.scrollHeight;
  }

  function setBadge(href, state, text) {
    document.querySelectorAll(`[data-job-state="${href}"] .state`).forEach((b) => {
      b.className = `state ${state}`;
      b.textContent = text || state;
    });
  }

  function openStream(el, url, handlers) {
    const st = { el, url, lastId: '', es: null, ended: false };
    const connect = () => {
      const u = st.lastId ? `${url}${url.includes('?') ? '&' : '?'}after=${encodeURIComponent(st.lastId)}` : url;
      const es = new EventSource(u);
      st.es = es;
      es.addEventListener('open', () => status(el, ''));
      es.addEventListener('error', () => { if (!st.ended) status(el, 'Reconnecting…'); });
      es.addEventListener('unavailable', (e) => status(el, JSON.parse(e.data).message));
      for (const [name, fn] of Object.entries(handlers)) {
        es.addEventListener(name, (e) => {
          if (e.lastEventId) st.lastId = e.lastEventId;
          fn(JSON.parse(e.data), st);
        });
      }
    };
    st.close = () => { if (st.es) st.es.close(); st.es = null; };
    st.reopen = () => { if (!st.es && !st.ended) connect(); };
    connect();
    streams.add(st);
    return st;
  }

  function initJobLog(el) {
    const href = el.dataset.jobLog.replace(/\/events$/, '');
    openStream(el, el.dataset.jobLog, {
      line: (d) => append(el, d.line, d.stream === 'stderr' ? 'stderr' : ''),
      state: (d) => setBadge(href, d.state, d.text),
      end: (d, st) => {
        setBadge(href, d.state, d.text);
        st.ended = true;
        st.close();
        status(el, d.error ? `Ended: ${d.text}: ${d.error}` : `Ended: ${d.text}.`);
      },
    });
  }

  const stateText = { absent: 'not created', running: 'running', starting: 'starting', stopping: 'stopping',
    stopped: 'stopped', failed: 'failed', deleting: 'deleting' };
  function servers(d) {
    for (const s of d.servers) {
      document.querySelectorAll(`[data-server="${s.instance}"] .state`).forEach((b) => {
        b.className = `state ${s.state}`;
        b.textContent = stateText[s.state] || 'unknown';
      });
    }
  }

  function initStateFeed(el) {
    openStream(el, el.dataset.stateFeed, { servers });
  }

  function initJournal(el) {
    openStream(el, el.dataset.journal, {
      servers,
      entry: (d) => append(el, d.message, d.priority <= 3 ? 'stderr' : ''),
      restart: () => append(el, '— the server restarted —', 'notice'),
      lost: (d) => append(el, `— ${d.message} —`, 'notice'),
      caught_up: () => status(el, ''),
    });
  }

  document.addEventListener('visibilitychange', () => {
    for (const st of streams) {
      if (document.hidden) st.close(); else st.reopen();
    }
  });
  document.addEventListener('htmx:beforeSwap', () => {
    for (const st of streams) { st.ended = true; st.close(); }
    streams.clear();
  });

  // ---- the blueprint overlay picker ---------------------------------------------------
  // The server does all of this too (the buttons post an `op`); here it happens in place,
  // plus drag and drop, and the preview of the exec lines follows every change.
  function pickerPreview(form) {
    const pre = form.querySelector('#exec-preview');
    if (!pre) return;
    const rows = [...form.querySelectorAll('#overlay-list .overlay-row')];
    pre.textContent = rows.reverse()
      .filter((r) => r.querySelector('input[type=checkbox]').checked)
      .map((r) => `exec server_overlay_${r.dataset.overlay}\n`).join('');
  }

  function pickerButtons(list) {
    const rows = [...list.children];
    rows.forEach((row, i) => {
      row.querySelectorAll('[data-op=up]').forEach((b) => { b.hidden = i === 0; });
      row.querySelectorAll('[data-op=down]').forEach((b) => { b.hidden = i === rows.length - 1; });
    });
  }

  // id: the host overlay (web-<n> or an operator's); text: what the user knows it by.
  function makeRow(list, id, text) {
    const row = document.createElement('li');
    row.className = 'overlay-row';
    row.draggable = true;
    row.dataset.overlay = id;
    row.dataset.label = text;
    const hidden = document.createElement('input');
    hidden.type = 'hidden'; hidden.name = 'overlay_ids'; hidden.value = id;
    const name = document.createElement('span');
    name.className = 'overlay-name'; name.textContent = text;
    const label = document.createElement('label');
    const cb = document.createElement('input');
    cb.type = 'checkbox'; cb.name = 'expose_overlay_ids'; cb.value = id;
    label.append(cb, ' exec its server.cfg');
    const buttons = document.createElement('span');
    buttons.className = 'row-buttons';
    for (const [op, text, aria] of [['up', '↑', 'Move up'], ['down', '↓', 'Move down'], ['remove', '×', 'Remove']]) {
      const b = document.createElement('button');
      b.type = 'button'; b.dataset.op = op; b.textContent = text; b.setAttribute('aria-label', aria);
      b.className = op === 'remove' ? 'link danger' : 'link';
      buttons.append(b);
    }
    row.append(hidden, name, label, buttons);
    return row;
  }

  function initPicker(form) {
    const list = form.querySelector('#overlay-list');
    if (!list || form.dataset.pickerReady) return;
    form.dataset.pickerReady = '1';
    form.querySelectorAll('button[data-op]').forEach((b) => { b.type = 'button'; });
    form.addEventListener('click', (e) => {
      const b = e.target.closest('button[data-op]');
      if (!b) return;
      e.preventDefault();
      const row = b.closest('.overlay-row');
      if (b.dataset.op === 'add') {
        const sel = form.querySelector('select[name=add_overlay]');
        if (!sel.value) return;
        list.append(makeRow(list, sel.value, sel.selectedOptions[0].textContent));
        sel.selectedOptions[0].remove();
        sel.value = '';
      } else if (b.dataset.op === 'up' && row.previousElementSibling) {
        row.previousElementSibling.before(row);
      } else if (b.dataset.op === 'down' && row.nextElementSibling) {
        row.nextElementSibling.after(row);
      } else if (b.dataset.op === 'remove') {
        const sel = form.querySelector('select[name=add_overlay]');
        if (sel) {
          const o = document.createElement('option');
          o.value = row.dataset.overlay; o.textContent = row.dataset.label || row.dataset.overlay;
          sel.append(o);
        }
        row.remove();
      }
      pickerButtons(list);
      pickerPreview(form);
      const focus = row && row.isConnected ? row.querySelector(`[data-op=${b.dataset.op}]:not([hidden])`) : null;
      if (focus) focus.focus();
    });
    form.addEventListener('change', () => pickerPreview(form));
    let dragged = null;
    list.addEventListener('dragstart', (e) => { dragged = e.target.closest('.overlay-row'); });
    list.addEventListener('dragover', (e) => {
      const over = e.target.closest('.overlay-row');
      if (!dragged || !over || over === dragged) return;
      e.preventDefault();
      const r = over.getBoundingClientRect();
      if (e.clientY < r.top + r.height / 2) over.before(dragged); else over.after(dragged);
    });
    list.addEventListener('drop', (e) => { e.preventDefault(); pickerButtons(list); pickerPreview(form); });
    list.addEventListener('dragend', () => { dragged = null; pickerButtons(list); pickerPreview(form); });
    pickerButtons(list);
  }

  // ---- dialogs: a <details> fallback becomes a button and a modal <dialog> --------------
  function initDialog(det) {
    if (det.dataset.dialogReady) return;
    det.dataset.dialogReady = '1';
    const body = det.querySelector('.dialog-body');
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'secondary';
    open.textContent = det.querySelector('summary').textContent;
    const d = document.createElement('dialog');
    d.id = `${body.id}-modal`;
    const close = document.createElement('button');
    close.type = 'button';
    close.textContent = 'Cancel';
    close.addEventListener('click', () => d.close());
    d.append(body, close);
    det.replaceWith(open);
    open.after(d);
    open.addEventListener('click', () => d.showModal());
  }

  // ---- the code editor ------------------------------------------------------------------
  // page_begin loads editor.js on pages with an editor, but a page htmx swaps in (hx-boost)
  // keeps the old <head>: load it here the first time such content arrives. editor.js
  // mounts every textarea[data-editor] when it runs and on each later htmx:load.
  function loadEditor(root) {
    if (!root.querySelector('textarea[data-editor]') || document.querySelector('script[src="/static/editor.js"]')) return;
    const s = document.createElement('script');
    s.src = '/static/editor.js';
    document.head.append(s);
  }

  function init(root) {
    loadEditor(root);
    root.querySelectorAll('[data-job-log]').forEach(initJobLog);
    root.querySelectorAll('[data-journal]').forEach(initJournal);
    root.querySelectorAll('[data-state-feed]').forEach(initStateFeed);
    root.querySelectorAll('form.blueprint-form').forEach(initPicker);
    root.querySelectorAll('details[data-dialog]').forEach(initDialog);
  }
  if (window.htmx) window.htmx.onLoad(init);
  else document.addEventListener('DOMContentLoaded', () => init(document));
})();
