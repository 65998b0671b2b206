// Accounts through a real browser: login, a wrong password, the rate limit, logout, a
// password change ending another browser's session, an admin creating and deactivating a
// user (whose open session then dies), the CSRF refusal, and the signed-in pages in dark
// mode and at phone width. One webd and one browser for the file, a context per test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWebd, launchBrowser, withPage, saveArtifacts, createUser, login } from './lib.mjs';

let webd, browser;
const ADMIN = ['admin', 'admin-password-1'];
// Chromium logs every 4xx document as a console error; these tests expect some.
const EXPECTED = [/status of 40[0-9]/, /status of 429/];

before(async () => {
  [webd, browser] = await Promise.all([startWebd({ config: 'web: {trusted_proxies: [127.0.0.1]}\n' }),
    launchBrowser()]);
  createUser(webd, ...ADMIN, { admin: true });
  createUser(webd, 'alice', 'alice-password-1');
  createUser(webd, 'limited', 'limited-password-1');
});
after(async () => {
  await browser?.close();
  await webd?.stop();
});

test('login shows the dashboard; logout ends the session', async (t) => {
  await withPage(t, browser, webd, async (page, ctx) => {
    await login(page, webd, 'alice', 'alice-password-1');
    await page.waitForURL(webd.url + '/');
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Welcome, alice');
    assert.equal(await page.getByRole('link', { name: 'alice' }).getAttribute('href'), '/profile');
    assert.equal(await page.getByRole('link', { name: 'Users' }).count(), 0, 'admin links for a regular user');
    const cookie = (await ctx.cookies()).find((c) => c.name === '__Host-left4me');
    assert.ok(cookie && cookie.httpOnly && cookie.secure && cookie.sameSite === 'Strict' && cookie.path === '/');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login\?m=logged-out$/);
    assert.match(await page.getByRole('status').innerText(), /You are logged out/);
    await page.goto(webd.url + '/profile');
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.equal(new URL(page.url()).searchParams.get('next'), '/profile');
  });
});

test('a wrong password: the same form again, with one clear message', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    await login(page, webd, 'alice', 'not-her-password');
    assert.match(await page.getByRole('alert').innerText(), /^Wrong username or password\.$/);
    assert.equal(await page.getByLabel('Username').inputValue(), 'alice');
    assert.equal(await page.getByLabel('Password').inputValue(), '');
    await page.getByLabel('Password').fill('alice-password-1');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(webd.url + '/');
  }, {}, EXPECTED);
});

test('the rate limit: the 21st attempt within a minute is refused, even with the right password', async (t) => {
  // From an address of its own (webd trusts 127.0.0.1 as a proxy here), so the full bucket
  // does not lock the other tests out.
  await withPage(t, browser, webd, async (page) => {
    for (let i = 0; i < 20; i++) {
      await login(page, webd, 'limited', `wrong-${i}`);
      assert.match(await page.getByRole('alert').innerText(), /Wrong username or password/, `attempt ${i + 1}`);
    }
    const waited = page.waitForResponse((r) => r.url().endsWith('/login') && r.request().method() === 'POST');
    await login(page, webd, 'limited', 'limited-password-1');
    const res = await waited;
    assert.equal(res.status(), 429);
    assert.ok(Number(res.headers()['retry-after']) >= 1);
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Too many attempts');
  }, { extraHTTPHeaders: { 'X-Forwarded-For': '192.0.2.7' } }, EXPECTED);
});

test('a password change ends the sessions of another browser, not this one', async (t) => {
  createUser(webd, 'bob', 'bob-password-1');
  const other = await browser.newContext();
  try {
    const otherPage = await other.newPage();
    await login(otherPage, webd, 'bob', 'bob-password-1');
    await otherPage.waitForURL(webd.url + '/');
    await withPage(t, browser, webd, async (page) => {
      await login(page, webd, 'bob', 'bob-password-1');
      await page.waitForURL(webd.url + '/');
      await page.goto(webd.url + '/profile');
      assert.equal(await page.locator('tbody tr').count(), 2, 'the profile lists both sessions');
      await page.getByLabel('Current password').fill('bob-password-1');
      await page.getByLabel('New password (at least 8 characters)').fill('bob-password-2');
      await page.getByLabel('Repeat the new password').fill('bob-password-2');
      await page.getByRole('button', { name: 'Change password' }).click();
      await page.waitForURL(/\/profile\?m=password-changed$/);
      assert.match(await page.getByRole('status').innerText(), /password was changed/);
      assert.equal(await page.locator('tbody tr').count(), 1, 'the other session is still listed');
      await otherPage.reload();
      assert.equal(new URL(otherPage.url()).pathname, '/login', 'the other browser is still logged in');
      await page.goto(webd.url + '/');
      assert.equal(new URL(page.url()).pathname, '/', 'this browser was logged out');
    });
  } finally {
    await other.close();
  }
});

test('an admin creates a user, then deactivates them: their open session dies', async (t) => {
  const userCtx = await browser.newContext();
  try {
    await withPage(t, browser, webd, async (page) => {
      await login(page, webd, ...ADMIN);
      await page.waitForURL(webd.url + '/');
      await page.getByRole('link', { name: 'Users' }).click();
      await page.waitForURL(webd.url + '/admin/users');
      await page.getByLabel('Username').fill('carol');
      await page.getByLabel('Password (at least 8 characters)').fill('carol-password-1');
      await page.getByLabel('Must change the password at first login').uncheck();
      await page.getByRole('button', { name: 'Create user' }).click();
      await page.waitForURL(/\/admin\/users\?m=user-created$/);
      const row = page.locator('#users tbody tr', { hasText: 'carol' });
      assert.match(await row.innerText(), /regular\s+active/);

      const userPage = await userCtx.newPage();
      await login(userPage, webd, 'carol', 'carol-password-1');
      await userPage.waitForURL(webd.url + '/');

      await row.getByRole('button', { name: 'Deactivate' }).click();
      await page.waitForURL(/\/admin\/users\?m=user-updated$/);
      assert.match(await page.locator('#users tbody tr', { hasText: 'carol' }).innerText(), /deactivated/);
      await userPage.reload();
      assert.equal(new URL(userPage.url()).pathname, '/login', 'the deactivated user is still logged in');

      // The last admin cannot remove themselves; the page says why.
      const self = page.locator('#users tbody tr', { hasText: 'you' });
      assert.equal(await self.getByRole('button', { name: 'Deactivate' }).count(), 0);
      // Delete asks first, in a <dialog>.
      const carol = page.locator('#users tbody tr', { hasText: 'carol' });
      await carol.getByRole('button', { name: 'Delete' }).click();
      const dialog = page.locator('dialog[open]');
      assert.match(await dialog.innerText(), /Delete this user for good\?/);
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      assert.equal(await page.locator('#users tbody tr', { hasText: 'carol' }).count(), 1, 'cancel deleted');
      await carol.getByRole('button', { name: 'Delete' }).click();
      await page.locator('dialog[open]').getByRole('button', { name: 'Confirm' }).click();
      await page.waitForURL(/\/admin\/users\?m=user-deleted$/);
      assert.equal(await page.locator('#users tbody tr', { hasText: 'carol' }).count(), 0);

      await page.getByRole('link', { name: 'Audit log' }).click();
      const audit = await page.locator('#audit').innerText();
      for (const kind of ['user.create', 'user.deactivate', 'user.delete', 'login'])
        assert.match(audit, new RegExp(kind.replace('.', '\\.')), `${kind} is not in the audit log`);
    });
  } finally {
    await userCtx.close();
  }
});

test('a form with a tampered token is refused and changes nothing', async (t) => {
  createUser(webd, 'dave', 'dave-password-1');
  await withPage(t, browser, webd, async (page) => {
    await login(page, webd, 'dave', 'dave-password-1');
    await page.waitForURL(webd.url + '/');
    await page.goto(webd.url + '/profile');
    await page.locator('form[action="/profile/password"] input[name="csrf_token"]')
      .evaluate((el) => { el.value = 'A'.repeat(43); });
    await page.getByLabel('Current password').fill('dave-password-1');
    await page.getByLabel('New password (at least 8 characters)').fill('dave-password-2');
    await page.getByLabel('Repeat the new password').fill('dave-password-2');
    const waited = page.waitForResponse((r) => r.url().endsWith('/profile/password'));
    await page.getByRole('button', { name: 'Change password' }).click();
    assert.equal((await waited).status(), 403);
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Request refused');
    // The old password still works.
    const ctx2 = await browser.newContext();
    const p2 = await ctx2.newPage();
    await login(p2, webd, 'dave', 'dave-password-1');
    await p2.waitForURL(webd.url + '/');
    await ctx2.close();
  }, {}, EXPECTED);
});

test('signed-in pages in dark mode and at phone width: screenshots for review', async (t) => {
  for (const [name, opts] of [
    ['dashboard-dark', { colorScheme: 'dark' }],
    ['users-light', { colorScheme: 'light' }],
    ['users-phone', { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }],
    ['profile-phone-dark', { colorScheme: 'dark', viewport: { width: 390, height: 844 }, isMobile: true }],
  ]) {
    await withPage(t, browser, webd, async (page) => {
      await login(page, webd, ...ADMIN);
      await page.waitForURL(webd.url + '/');
      if (name.startsWith('users')) await page.goto(webd.url + '/admin/users');
      if (name.startsWith('profile')) await page.goto(webd.url + '/profile');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name}: the page is ${overflow} px wider than the viewport`);
      await saveArtifacts(page, name);
    }, opts);
  }
});
