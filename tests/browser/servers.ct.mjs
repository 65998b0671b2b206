// The web UI's core loop in a real browser against the whole suite under a real systemd
// (run inside the container by tests/e2e/web-20-servers.sh, which makes the users and the
// overlays): an admin installs the game and watches the log; a user composes a blueprint
// with two overlays (one cfg exposed), creates a server, starts it, sees it running and its
// console lines arrive live, stops, resets and deletes it; a second user sees none of it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { launchBrowser, withPage, login, fillCode } from './lib.mjs';

const URL = process.env.L4M_URL || 'http://127.0.0.1:8080';
const webd = { url: URL, log: () => '(see the container journal: journalctl -u left4me-web)' };
const state = {};
let browser;

before(async () => { browser = await launchBrowser(); });
after(async () => {
  await browser?.close();
  if (process.env.L4M_STATE) writeFileSync(process.env.L4M_STATE, JSON.stringify(state));
});

// Chromium logs every 4xx/5xx document it loads as a console error; these pages expect some.
const allow = [/Failed to load resource: the server responded with a status of 40[49]/];

async function jobSucceeds(page, timeout = 60000) {
  await page.waitForURL(/\/jobs\/\d+/);
  await page.locator('h1 .state').filter({ hasText: /succeeded|failed|cancelled/ }).waitFor({ timeout });
  assert.equal((await page.locator('h1 .state').textContent()).trim(), 'succeeded',
    `the job did not succeed: ${await page.locator('#job-log').textContent()}`);
}

async function serverState(page, wanted, timeout = 30000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const s = (await page.locator('#server-state .state').textContent()).trim();
    if (s === wanted) return;
    if (Date.now() > deadline) throw new Error(`server state is ${s}, not ${wanted}`);
    await page.waitForTimeout(500);
    await page.reload();
  }
}

test('an admin installs the game and watches its log', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    await login(page, webd, 'ct-admin', 'ct-admin-password');
    await page.goto(`${URL}/admin`);
    await page.getByRole('button', { name: 'Install or update the game' }).click();
    await page.waitForURL(/\/jobs\/\d+/);
    await page.locator('#job-log').filter({ hasText: 'installation complete' }).waitFor({ timeout: 60000 });
    await jobSucceeds(page);
  }, {}, allow);
});

test('a user composes a blueprint, runs a server and follows its console', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    await login(page, webd, 'alice', 'alice-password-1');
    await page.goto(`${URL}/blueprints`);
    await page.getByLabel('Name').fill('Versus night');
    await page.getByLabel('Launch arguments').fill('+map c1m1_hotel');
    await fillCode(page, '#f-config', 'sv_cheats 0\nsv_alltalk 1');
    const picker = page.locator('form.blueprint-form');
    for (const id of ['ctbottom', 'cttop']) {
      await picker.getByLabel('Add overlay').selectOption(id);
      await picker.getByRole('button', { name: 'Add', exact: true }).click();
    }
    // Added last is at the bottom of the list: move cttop up with the keyboard-reachable button.
    await picker.locator('[data-overlay=cttop]').getByRole('button', { name: 'Move up' }).click();
    await picker.locator('[data-overlay=cttop] input[type=checkbox]').check();
    assert.equal((await page.locator('#exec-preview').textContent()).trim(), 'exec server_overlay_cttop');
    await page.getByRole('button', { name: 'Create blueprint' }).click();
    await page.waitForURL(/\/blueprints\/\d+/);
    const ids = await page.locator('input[name=overlay_ids]').evaluateAll((es) => es.map((e) => e.value));
    assert.deepEqual(ids, ['cttop', 'ctbottom'], 'the stored layer order');

    await page.goto(`${URL}/servers`);
    await page.getByLabel('Name').fill('<b>Alice</b> "one"');
    await page.getByLabel('Blueprint').selectOption({ label: 'Versus night' });
    await page.getByRole('button', { name: 'Create server' }).click();
    await page.waitForURL(/\/servers\/\d+/);
    state.server = Number(new globalThis.URL(page.url()).pathname.split('/')[2]);
    assert.equal(await page.locator('h1').first().textContent(), '<b>Alice</b> "one"', 'the name, escaped');
    await page.getByRole('button', { name: 'Start' }).click();
    await jobSucceeds(page);
    await page.goto(`${URL}/servers/${state.server}`);
    await serverState(page, 'running');
    // The console: the last lines of this run, then live ones.
    await page.locator('#journal span').first().waitFor({ timeout: 20000 });
    const before = await page.locator('#journal span').count();
    assert.ok(before > 0, 'no console lines');
    // Resuming by Last-Event-ID: no gap and no duplicate (what EventSource does by itself on a
    // reconnect, made explicit here with fetch, which may set the header).
    const resume = await page.evaluate(async (path) => {
      async function read(headers, ms) {
        const ctl = new AbortController();
        const ids = [];
        setTimeout(() => ctl.abort(), ms);
        try {
          const r = await fetch(path, { headers, signal: ctl.signal });
          const reader = r.body.getReader();
          let text = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            text += new TextDecoder().decode(value);
            for (const m of text.matchAll(/^id: (.*)$/gm)) if (!ids.includes(m[1])) ids.push(m[1]);
          }
        } catch { /* aborted */ }
        return ids;
      }
      const all = await read({}, 2500);
      if (all.length < 2) return { all };
      const again = await read({ 'Last-Event-ID': all[all.length - 2] }, 2500);
      return { all, again };
    }, `/servers/${state.server}/log/events`);
    assert.ok(resume.all.length >= 2, `too few console entries to test resuming: ${JSON.stringify(resume)}`);
    assert.equal(resume.again[0], resume.all[resume.all.length - 1], 'resumed with a gap or a duplicate');
    state.rcon = (await page.locator('#rcon-password').textContent()).trim();

    // A rebuilt overlay does not reach the running game: the page says it needs a restart,
    // and a restart picks the new generation up.
    assert.equal(await page.locator('#needs-restart').count(), 0, 'needs restart before anything changed');
    execFileSync('l4d2ctl', ['jobs', 'submit', 'overlay.build', '--overlay', 'cttop', '--script', '/tmp/cttop.sh',
      '--wait']);
    await page.reload();
    await page.locator('#needs-restart').waitFor();
    await page.getByRole('button', { name: 'Restart' }).click();
    await jobSucceeds(page);
    await page.goto(`${URL}/servers/${state.server}`);
    await serverState(page, 'running');
    assert.equal(await page.locator('#needs-restart').count(), 0, 'still needs a restart after one');
    assert.match(state.rcon, /^[A-Za-z0-9]{24}$/);

    // A second tab on the list: its badge follows the stop without a reload (pushed, one
    // stream for the page).
    const list = await page.context().newPage();
    await list.goto(`${URL}/servers`);
    const badge = list.locator(`[data-server="web-${state.server}"] .state`);
    assert.equal((await badge.textContent()).trim(), 'running');
    await page.getByRole('button', { name: 'Stop' }).click();
    await jobSucceeds(page);
    await badge.filter({ hasText: 'stopped' }).waitFor({ timeout: 15000 });
    await list.close();
    await page.goto(`${URL}/servers/${state.server}`);
    await serverState(page, 'stopped');
    await page.getByRole('button', { name: 'Reset' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await jobSucceeds(page);
    await page.goto(`${URL}/servers/${state.server}`);
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete for good' }).click();
    await page.waitForURL(/\/servers\?m=server-deleting/);
    // The row goes once the host has no instance: a later look at the list removes it.
    const deadline = Date.now() + 30000;
    while (await page.locator('#servers tbody tr').count() > 0) {
      if (Date.now() > deadline) throw new Error('the deleted server is still listed');
      await page.waitForTimeout(500);
      await page.reload();
    }
  }, {}, allow);
});

test('another user sees none of it', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    await login(page, webd, 'bob', 'bob-password-1');
    await page.goto(`${URL}/servers`);
    assert.equal(await page.locator('#servers tbody tr').count(), 0);
    await page.goto(`${URL}/blueprints`);
    assert.equal(await page.locator('#blueprints tbody tr').count(), 0);
    const r = await page.goto(`${URL}/blueprints/1`);
    assert.equal(r.status(), 404);
  }, {}, allow);
});
