// The shell through a real browser: an anonymous visitor lands on the login page, static
// files come with their types, unknown paths get the error page, and the login page is
// kept as screenshots in light and dark mode and at phone width (artefacts for review).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWebd, launchBrowser, withPage, saveArtifacts } from './lib.mjs';

let webd, browser;
before(async () => {
  [webd, browser] = await Promise.all([startWebd(), launchBrowser()]);
});
after(async () => {
  await browser?.close();
  await webd?.stop();
});

test('an anonymous visitor is sent to the login page, with the security headers', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    const res = await page.goto(webd.url + '/');
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.equal(res.status(), 200);
    const h = res.headers();
    assert.match(h['content-type'], /^text\/html/);
    assert.equal(h['x-content-type-options'], 'nosniff');
    assert.match(h['content-security-policy'], /default-src 'self'/);
    assert.match(h['content-security-policy'], /frame-ancestors 'none'/);
    assert.equal(h['referrer-policy'], 'same-origin');
    assert.equal(h['cache-control'], 'no-store');
    assert.equal(await page.title(), 'Log in · left4me');
    // htmx loaded from our own static dir, configured for the CSP.
    assert.equal(await page.evaluate(() => typeof window.htmx), 'object');
    assert.equal(await page.evaluate(() => window.htmx.config.allowEval), false);
    assert.equal(await page.evaluate(() => window.htmx.config.includeIndicatorStyles), false);
  });
});

test('static files are served with their type; a missing one and an unknown page are 404s', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    const css = await page.request.get(webd.url + '/static/left4me.css');
    assert.equal(css.status(), 200);
    assert.match(css.headers()['content-type'], /^text\/css/);
    const js = await page.request.get(webd.url + '/static/htmx.min.js');
    assert.equal(js.status(), 200);
    assert.match(js.headers()['content-type'], /javascript/);
    assert.equal((await page.request.get(webd.url + '/static/nope.js')).status(), 404);
    const res = await page.goto(webd.url + '/no/such/page');
    assert.equal(res.status(), 404);
    assert.match(await page.locator('main').innerText(), /There is no such page/);
  }, {}, [/status of 404/]);
});

test('light, dark and phone width: screenshots for review', async (t) => {
  for (const [name, opts] of [
    ['login-light', { colorScheme: 'light' }],
    ['login-dark', { colorScheme: 'dark' }],
    ['login-phone', { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }],
  ]) {
    await withPage(t, browser, webd, async (page) => {
      await page.goto(webd.url + '/login');
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      const viewport = page.viewportSize().width;
      assert.ok(width <= viewport, `${name}: the page is ${width} px wide in a ${viewport} px viewport`);
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      if (name === 'login-dark') assert.equal(bg, 'rgb(17, 20, 24)', 'dark mode did not apply');
      if (name === 'login-light') assert.equal(bg, 'rgb(246, 247, 249)');
      await saveArtifacts(page, name);
    }, opts);
  }
});
