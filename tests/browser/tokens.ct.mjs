// API tokens in a real browser against the whole suite under a real systemd (run inside the
// container by tests/e2e/web-50-api.sh, which makes the user, its blueprint and its server,
// and passes the server's id in L4M_SERVER): the user makes a token on /profile/tokens, reads
// the secret the page shows once, starts the server with it through curl and the JSON API,
// follows the job to its end, revokes the token in the page, and curl is refused with it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { launchBrowser, withPage, login } from './lib.mjs';

const URL = process.env.L4M_URL || 'http://127.0.0.1:8080';
const SERVER = Number(process.env.L4M_SERVER);
const webd = { url: URL, log: () => '(see the container journal: journalctl -u left4me-web)' };
const state = {};
let browser;

before(async () => { browser = await launchBrowser(); });
after(async () => {
  await browser?.close();
  if (process.env.L4M_STATE) writeFileSync(process.env.L4M_STATE, JSON.stringify(state));
});

// curl, as a script would call the API: status and parsed body.
function api(method, path, secret) {
  const out = execFileSync('curl', ['-sS', '-X', method, '-w', '\n%{http_code}',
    '-H', `Authorization: Bearer ${secret}`, `${URL}${path}`]).toString();
  const nl = out.lastIndexOf('\n');
  const body = out.slice(0, nl);
  return { status: Number(out.slice(nl + 1)), body: body ? JSON.parse(body) : null };
}

async function until(what, fn, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test('a token made in the browser starts a server through curl, and is refused once revoked', async (t) => {
  assert.ok(SERVER > 0, 'L4M_SERVER names the server');
  await withPage(t, browser, webd, async (page) => {
    await login(page, webd, 'tina', 'tina-password-1');
    await page.waitForURL(`${URL}/`);
    await page.goto(`${URL}/profile`);
    await page.getByRole('link', { name: 'your API tokens' }).click();
    await page.waitForURL(`${URL}/profile/tokens`);
    await page.getByText('No tokens yet.').waitFor();
    await page.getByLabel('Name').fill('deploy bot');
    for (const s of ['server.read', 'server.control', 'jobs.read']) await page.getByLabel(s, { exact: true }).check();
    await page.getByLabel(/^ tina-one/).check();
    await page.getByLabel('Expires after').selectOption('7d');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByText('Copy the secret now').waitFor();
    const secret = await page.locator('#token-secret').inputValue();
    assert.match(secret, /^l4m_[A-Za-z0-9_-]{43}$/);
    const row = page.locator('#tokens tr[data-token="deploy bot"]');
    await assert.doesNotReject(row.waitFor());
    assert.match(await row.textContent(), /server\.read server\.control jobs\.read/);

    // The page again: the secret is not shown a second time.
    await page.goto(`${URL}/profile/tokens`);
    assert.equal(await page.locator('#token-secret').count(), 0);
    assert.ok(!(await page.content()).includes(secret), 'the secret is on the page again');

    const me = api('GET', '/api/v1/me', secret);
    assert.equal(me.status, 200);
    assert.equal(me.body.user.username, 'tina');
    const started = api('POST', `/api/v1/servers/${SERVER}/start`, secret);
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const job = started.body.job.id;
    const done = await until(`job ${job}`, () => {
      const j = api('GET', `/api/v1/jobs/${job}`, secret);
      return ['succeeded', 'failed', 'cancelled'].includes(j.body?.job?.state) && j.body.job;
    });
    assert.equal(done.state, 'succeeded', JSON.stringify(done));
    await until('the server running', () => api('GET', `/api/v1/servers/${SERVER}`, secret).body?.server?.state === 'running');
    // Not in its scopes: the answer names the scope.
    const files = api('GET', '/api/v1/blueprints', secret);
    assert.equal(files.status, 403);
    assert.equal(files.body.error.code, 'missing_scope');
    assert.match(files.body.error.message, /blueprint\.read/);
    state.job = job;

    // The page shows when it was last used, then revokes it.
    await page.reload();
    assert.match(await row.textContent(), /from /);
    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.getByText('The token was revoked').waitFor();
    assert.equal(await row.count(), 0);
    const refused = api('POST', `/api/v1/servers/${SERVER}/stop`, secret);
    assert.equal(refused.status, 401);
    assert.match(refused.body.error.message, /revoked/);
  });
});
