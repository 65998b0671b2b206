// The page webd serves today, through a real browser: it renders, its links work, its
// static files come with the right type, an unknown path is a 404, and the page is kept
// as a screenshot in light and dark mode and at phone width (artefacts for review).
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

test('the front page renders and links to /health', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    const res = await page.goto(webd.url + '/');
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-type'], /^text\/html/);
    assert.equal(res.headers()['x-content-type-options'], 'nosniff');
    assert.equal(await page.title(), 'left4me');
    await page.getByRole('link', { name: '/health' }).click();
    await page.waitForURL(webd.url + '/health');
    const health = JSON.parse(await page.locator('body').innerText());
    assert.equal(health.status, 'ok');
    assert.equal(health.service, 'left4me-webd');
  });
});

test('static files are served with their type; a missing one is a 404', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    const css = await page.request.get(webd.url + '/static/left4me.css');
    assert.equal(css.status(), 200);
    assert.match(css.headers()['content-type'], /^text\/css/);
    const missing = await page.request.get(webd.url + '/static/nope.js');
    assert.equal(missing.status(), 404);
    const res = await page.request.get(webd.url + '/no/such/page');
    assert.equal(res.status(), 404);
  });
});

test('light, dark and phone width: screenshots for review', async (t) => {
  for (const [name, opts] of [
    ['front-light', { colorScheme: 'light' }],
    ['front-dark', { colorScheme: 'dark' }],
    ['front-phone', { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }],
  ]) {
    await withPage(t, browser, webd, async (page) => {
      await page.goto(webd.url + '/');
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      const viewport = page.viewportSize().width;
      assert.ok(width <= viewport, `${name}: the page is ${width} px wide in a ${viewport} px viewport`);
      await saveArtifacts(page, name);
    }, opts);
  }
});
