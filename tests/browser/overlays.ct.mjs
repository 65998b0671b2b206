// Script overlays in a real browser against the whole suite under a real systemd (run inside
// the container by tests/e2e/web-30-overlays.sh, which makes the users, installs the game and
// seeds the example overlays): the admin builds a seeded system overlay; a user writes a
// private script overlay in the code editor, builds it and watches the log live, stacks it
// in a blueprint, starts a server on it, rebuilds it from empty and sees "needs restart" on
// the server; a second user can neither see nor stack the private overlay.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
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

const allow = [/Failed to load resource: the server responded with a status of 40[0349]/];

async function jobEnds(page, badge, timeout = 60000) {
  const b = page.locator(`${badge} .state`);
  await b.filter({ hasText: /succeeded|failed|cancelled/ }).waitFor({ timeout });
  return (await b.textContent()).trim();
}

// A page that shows the host's state as of its load (the host list may be a second old):
// reload until locator has text, or fail.
async function untilShown(page, locator, text, timeout = 15000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if ((await locator.count()) && (await locator.first().textContent()).includes(text)) return;
    if (Date.now() > deadline) {
      throw new Error(`"${text}" not shown: ${(await locator.count()) ? await locator.first().textContent() : '(none)'}`);
    }
    await page.waitForTimeout(500);
    await page.reload();
  }
}

async function overlayId(page) {
  return Number(new globalThis.URL(page.url()).pathname.split('/')[2]);
}

test('the admin builds a seeded system overlay', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    await login(page, webd, 'ov-admin', 'ov-admin-password');
    await page.goto(`${URL}/overlays`);
    await page.getByRole('link', { name: 'Tickrate 100 (cfg)' }).click();
    assert.match(await page.locator('#f-script').inputValue(), /tickrate/, 'the seeded script is not there');
    await page.getByRole('button', { name: 'Save and build' }).click();
    await page.waitForURL(/\/overlays\/\d+\?m=overlay-building/);
    state.tickrate = await overlayId(page);
    await page.locator('#build-log').filter({ hasText: 'wrote cfg/tickrate100.cfg' }).waitFor({ timeout: 60000 });
    assert.equal(await jobEnds(page, '#build-state'), 'succeeded');
  }, {}, allow);
});

test('a user writes, builds and stacks a script overlay; a rebuild needs a restart', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    await login(page, webd, 'carol', 'carol-password-1');
    await page.goto(`${URL}/overlays`);
    await page.getByLabel('Name').fill('Carol cfg');
    await page.getByRole('button', { name: 'Create overlay' }).click();
    await page.waitForURL(/\/overlays\/\d+\?m=overlay-created/);
    state.mine = await overlayId(page);
    // The editor arrives with the page (or, after a boosted navigation, just after it).
    await page.locator('.field:has(#f-script) .cm-editor').waitFor({ timeout: 5000 });
    assert.equal(await page.locator('.cm-editor').count(), 1, 'not one code editor');
    const script = [
      'set -eu',
      'mkdir -p "$OVERLAY/left4dead2/cfg"',
      'for i in 1 2 3; do echo "step $i"; sleep 0.3; done',
      'echo "sv_tags carol-$(date +%s%N)" > "$OVERLAY/left4dead2/cfg/carol.cfg"',
      'echo built carol.cfg',
    ].join('\n');
    await fillCode(page, '#f-script', script);
    await page.getByRole('button', { name: 'Save and build' }).click();
    await page.waitForURL(/\/overlays\/\d+\?m=overlay-building/);
    // Live: the lines arrive one by one while the job runs.
    await page.locator('#build-log').filter({ hasText: 'step 1' }).waitFor({ timeout: 30000 });
    await page.locator('#build-log').filter({ hasText: 'built carol.cfg' }).waitFor({ timeout: 30000 });
    assert.equal(await jobEnds(page, '#build-state'), 'succeeded');
    await page.reload();
    assert.match(await page.locator('#generation').textContent(), /^1, built/);
    // What the build left: carol.cfg and two directories, at least a block each.
    assert.match(await page.locator('#overlay-size').textContent(), /^\d+(\.\d)? KiB$/);
    assert.equal(await page.locator('#f-script').inputValue(), script, 'the stored script differs');

    // Stack it (by its name) in a blueprint, and run a server on it.
    await page.goto(`${URL}/blueprints`);
    await page.getByLabel('Name').fill('Carol bp');
    const picker = page.locator('form.blueprint-form');
    await picker.getByLabel('Add overlay').selectOption({ label: 'Carol cfg' });
    await picker.getByRole('button', { name: 'Add', exact: true }).click();
    await picker.getByLabel('Add overlay').selectOption({ label: 'Tickrate 100 (cfg)' });
    await picker.getByRole('button', { name: 'Add', exact: true }).click();
    assert.equal(await picker.locator(`[data-overlay=web-${state.mine}] .overlay-name`).textContent(), 'Carol cfg');
    await page.getByRole('button', { name: 'Create blueprint' }).click();
    await page.waitForURL(/\/blueprints\/\d+/);
    const ids = await page.locator('input[name=overlay_ids]').evaluateAll((es) => es.map((e) => e.value));
    assert.deepEqual(ids, [`web-${state.mine}`, `web-${state.tickrate}`]);
    await page.goto(`${URL}/servers`);
    await page.getByLabel('Name').fill('On overlays');
    await page.getByLabel('Blueprint').selectOption({ label: 'Carol bp' });
    await page.getByRole('button', { name: 'Create server' }).click();
    await page.waitForURL(/\/servers\/\d+/);
    state.server = Number(new globalThis.URL(page.url()).pathname.split('/')[2]);
    await page.getByRole('button', { name: 'Start' }).click();
    await page.waitForURL(/\/jobs\/\d+/);
    await page.locator('h1 .state').filter({ hasText: /succeeded|failed/ }).waitFor({ timeout: 60000 });
    assert.equal((await page.locator('h1 .state').textContent()).trim(), 'succeeded',
      await page.locator('#job-log').textContent());

    // The server's merged view has the built file, said to come from the overlay.
    await page.goto(`${URL}/servers/${state.server}`);
    await page.getByRole('link', { name: 'Its files' }).click();
    await page.waitForURL(/\/servers\/\d+\/files/);
    await page.goto(`${URL}/servers/${state.server}/files?path=left4dead2/cfg`);
    const built = page.locator('#files tbody tr', { hasText: 'carol.cfg' });
    assert.equal(await built.count(), 1, 'carol.cfg is not in the merged view');
    assert.equal((await built.locator('td.layer').textContent()).trim(), 'Carol cfg');

    // The overlay page names the blueprint and the server, mounting generation 1.
    await page.goto(`${URL}/overlays/${state.mine}`);
    assert.match(await page.locator('#overlay-blueprints').textContent(), /Carol bp/);
    const row = page.locator('#overlay-servers tbody tr', { hasText: 'On overlays' });
    await untilShown(page, row, 'generation 1');

    // Save, reset and rebuild: a new generation from empty; the running server needs a restart.
    await page.getByRole('button', { name: 'Save, reset and rebuild' }).click();
    await page.waitForURL(/\/overlays\/\d+\?m=overlay-building/);
    assert.equal(await jobEnds(page, '#build-state'), 'succeeded');
    await page.reload();
    assert.match(await page.locator('#generation').textContent(), /^2, built/);
    await untilShown(page, row, 'needs restart');
    assert.match(await page.locator('#older-generations').textContent(), /^1 \(1 server\)/);
    await page.goto(`${URL}/servers/${state.server}`);
    await untilShown(page, page.locator('.state-cluster'), 'needs restart');
  }, {}, allow);
});

test('another user can neither see nor stack a private overlay', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    await login(page, webd, 'dave', 'dave-password-1');
    await page.goto(`${URL}/overlays`);
    assert.equal(await page.locator(`a[href="/overlays/${state.mine}"]`).count(), 0, 'listed to another user');
    assert.equal(await page.locator(`a[href="/overlays/${state.tickrate}"]`).count(), 1, 'a system overlay is hidden');
    const r = await page.goto(`${URL}/overlays/${state.mine}`);
    assert.equal(r.status(), 404);
    await page.goto(`${URL}/blueprints`);
    const options = await page.locator('select[name=add_overlay] option').evaluateAll((es) => es.map((e) => e.value));
    assert.ok(!options.includes(`web-${state.mine}`), 'the private overlay is offered to another user');
    assert.ok(options.includes(`web-${state.tickrate}`), 'the system overlay is not offered');
    // A hand-made post naming it is refused, and nothing is stored.
    const token = await page.locator('input[name=csrf_token]').first().inputValue();
    const res = await page.evaluate(async ([tok, id]) => {
      const body = new URLSearchParams({ csrf_token: tok, name: 'Stolen', overlay_ids: `web-${id}` });
      const r = await fetch('/blueprints', { method: 'POST', body, redirect: 'manual' });
      return { status: r.status, text: await r.text() };
    }, [token, state.mine]);
    assert.equal(res.status, 400, res.text.slice(0, 300));
    assert.match(res.text, /no overlay web-\d+ you may use/);
    await page.goto(`${URL}/blueprints`);
    assert.equal(await page.locator('#blueprints tbody tr', { hasText: 'Stolen' }).count(), 0);
  }, {}, allow);
});
