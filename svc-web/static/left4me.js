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

  // ---- files: uploads in slices, drag-and-drop, the editor dialog ------------------------
  // The listing's upload form posts multipart without JS. With it, each file goes up in
  // slices (docs/web.md, "Uploads"): start, PUT slices at the offset webd says, resume from
  // the offset a 409 names, then commit; a taken name asks before replacing.
  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token'] || ''; } catch { return ''; }
  }

  async function answer(r) {
    let j = {};
    try { j = await r.json(); } catch { /* not JSON: a proxy's page */ }
    const msg = (j.error && j.error.message) || j.error || `${r.status} ${r.statusText}`;
    return { r, j, msg };
  }

  async function uploadOne(zone, file, li) {
    const token = csrfToken();
    const headers = { 'X-CSRF-Token': token };
    const bar = li.querySelector('progress');
    const note = li.querySelector('.upload-note');
    const body = new URLSearchParams({ path: zone.dataset.folder, name: file.name, size: String(file.size) });
    let a = await answer(await fetch(zone.dataset.upload, { method: 'POST', headers, body }));
    if (!a.r.ok) throw new Error(a.msg);
    const url = `${zone.dataset.upload}/${a.j.upload}`;
    const chunk = a.j.chunk || 1048576;
    let off = a.j.offset || 0;
    for (let tries = 0; off < file.size;) {
      const r = await fetch(`${url}?offset=${off}`, { method: 'PUT', headers, body: file.slice(off, off + chunk) });
      a = await answer(r);
      if (r.status === 409 && typeof a.j.offset === 'number' && tries++ < 5) { off = a.j.offset; continue; }
      if (!r.ok) throw new Error(a.msg);
      off = a.j.offset;
      bar.value = file.size ? off / file.size : 1;
    }
    bar.value = 1;
    const commit = (replace) => fetch(`${url}/commit`, { method: 'POST', headers,
      body: new URLSearchParams(replace ? { replace: '1' } : {}) });
    // "Replace files of the same name" ticked: no question.
    const always = zone.querySelector('input[name=replace]')?.checked || false;
    a = await answer(await commit(always));
    if (a.r.status === 409) {
      if (await confirmDialog(`${a.msg} Replace it with the uploaded file?`)) a = await answer(await commit(true));
      else {
        await fetch(`${url}/abort`, { method: 'POST', headers, body: new URLSearchParams() });
        note.textContent = 'kept the old file';
        return false;
      }
    }
    if (!a.r.ok) throw new Error(a.msg);
    note.textContent = 'done';
    return true;
  }

  async function uploadAll(zone, files) {
    const list = zone.querySelector('.upload-progress');
    let changed = false;
    for (const file of files) {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.textContent = file.name;
      const bar = document.createElement('progress');
      bar.max = 1;
      bar.value = 0;
      const note = document.createElement('span');
      note.className = 'upload-note';
      li.append(name, bar, note);
      list.append(li);
      try {
        changed = (await uploadOne(zone, file, li)) || changed;
      } catch (err) {
        li.classList.add('error');
        note.textContent = err.message;
      }
    }
    // The listing shows the new files; the progress list stays until then.
    if (changed) location.reload();
  }

  function initDropzone(zone) {
    if (zone.dataset.ready) return;
    zone.dataset.ready = '1';
    const form = zone.querySelector('form.upload-form');
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      e.stopPropagation();
      const input = form.querySelector('input[type=file]');
      uploadAll(zone, [...input.files]);
      input.value = '';
    });
    zone.addEventListener('dragover', (e) => {
      if (!e.dataTransfer.types.includes('Files')) return;
      e.preventDefault();
      zone.classList.add('over');
    });
    zone.addEventListener('dragleave', () => zone.classList.remove('over'));
    zone.addEventListener('drop', (e) => {
      if (!e.dataTransfer.files.length) return;
      e.preventDefault();
      zone.classList.remove('over');
      uploadAll(zone, [...e.dataTransfer.files]);
    });
  }

  // Drag a row onto a folder (another row, a crumb) to move it there.
  function initMoves(root) {
    const zone = root.querySelector('.dropzone');
    if (!zone || root.dataset.movesReady) return;
    root.dataset.movesReady = '1';
    const moveUrl = zone.dataset.upload.replace(/\/uploads$/, '/move');
    root.addEventListener('dragstart', (e) => {
      const row = e.target.closest && e.target.closest('tr[data-path]');
      if (row) e.dataTransfer.setData('application/x-left4me-path', row.dataset.path);
    });
    root.addEventListener('dragover', (e) => {
      if (e.target.closest && e.target.closest('[data-folder]:not(.dropzone)') &&
          e.dataTransfer.types.includes('application/x-left4me-path')) e.preventDefault();
    });
    root.addEventListener('drop', async (e) => {
      const target = e.target.closest && e.target.closest('[data-folder]:not(.dropzone)');
      const path = e.dataTransfer.getData('application/x-left4me-path');
      if (!target || !path) return;
      e.preventDefault();
      const to = target.dataset.folder;
      if (to === path || to.startsWith(`${path}/`)) return;
      const a = await answer(await fetch(moveUrl, { method: 'POST', redirect: 'manual',
        headers: { 'X-CSRF-Token': csrfToken() }, body: new URLSearchParams({ path, to }) }));
      if (a.r.type === 'opaqueredirect' || a.r.ok) location.reload();
      else await confirmDialog(a.msg);
    });
  }

  document.addEventListener('htmx:afterSwap', (e) => {
    if (e.target.id !== 'file-dialog-body') return;
    const d = document.getElementById('file-dialog');
    if (d && !d.open) d.showModal();
  });
  document.addEventListener('click', (e) => {
    const b = e.target.closest && e.target.closest('[data-close-dialog]');
    if (b) b.closest('dialog').close();
  });

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
    root.querySelectorAll('.dropzone[data-upload]').forEach(initDropzone);
    if (root.querySelector && root.querySelector('.dropzone[data-upload]')) initMoves(document.body);
  }
  if (window.htmx) window.htmx.onLoad(init);
  else document.addEventListener('DOMContentLoaded', () => init(document));
})();
