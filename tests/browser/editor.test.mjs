// The code editor (svc-web/editor/, bundled into /static/editor.js) in a real browser, on
// the blueprint pages' server.cfg field: it mounts over the textarea, highlights cfg text,
// completes cvar names, keeps the textarea in sync so the form saves what it shows, follows
// dark mode, renders styled under the real CSP, leaves keyboard users a way out, and is
// loaded only where there is an editor. Without JS the plain textarea posts. webd runs
// without hostd here: a blueprint without overlays can still be saved.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWebd, launchBrowser, withPage, saveArtifacts, createUser, login } from './lib.mjs';

let webd, browser;
const USER = ['erin', 'erin-password-1'];

before(async () => {
  [webd, browser] = await Promise.all([startWebd(), launchBrowser()]);
  createUser(webd, ...USER);
});
after(async () => {
  await browser?.close();
  await webd?.stop();
});

// The config text of a blueprint as webd renders it (server side, not the live DOM).
async function savedConfig(page, path) {
  return page.evaluate(async (p) => {
    const html = await (await fetch(p)).text();
    return new DOMParser().parseFromString(html, 'text/html').querySelector('#f-config').value;
  }, path);
}

async function loggedIn(page) {
  await login(page, webd, ...USER);
  await page.waitForURL(webd.url + '/');
}

test('the blueprint form: mounted, highlighted, completed, saved as typed', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    await loggedIn(page);
    await page.goto(webd.url + '/blueprints');
    const editor = page.locator('form.blueprint-form .cm-editor');
    await editor.waitFor();
    assert.equal(await page.locator('.cm-editor').count(), 1);
    assert.equal(await page.locator('#f-config').isHidden(), true, 'the textarea is still shown');
    assert.equal(await page.locator('#f-config').count(), 1, 'the textarea left the form');
    // Named by the field's own label, and line numbers are on.
    const content = page.getByRole('textbox', { name: 'server.cfg lines' });
    assert.equal(await content.getAttribute('contenteditable'), 'true');
    assert.equal(await editor.locator('.cm-lineNumbers').count(), 1);

    await page.getByLabel('Name', { exact: true }).fill('Editor bp');
    await content.click();
    await page.keyboard.type('// tuned for 100 tick\nhostname "Erin\'s server"\nsv_maxrate 30000\n');
    // Completion where a statement starts: the list offers sv_cheats, with its description.
    await page.keyboard.type('sv_che');
    const list = page.locator('.cm-tooltip-autocomplete');
    await list.waitFor();
    const first = list.locator('li[role="option"]').first();
    assert.equal(await first.locator('.cm-completionLabel').innerText(), 'sv_cheats');
    assert.match(await page.locator('.cm-completionInfo').innerText(), /cheat/i);
    await saveArtifacts(page, 'editor-completion');
    await page.keyboard.press('Enter');
    await list.waitFor({ state: 'detached' });
    await page.keyboard.type(' 0; exec banned_user.cfg\n');
    // Not in an argument: a word after the name is a value, not a cvar.
    await page.keyboard.type('sv_tags sv_al');
    await page.waitForTimeout(400);
    assert.equal(await list.count(), 0, 'completion offered in an argument');
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Backspace');
    await page.keyboard.type('coop');

    const expected = '// tuned for 100 tick\nhostname "Erin\'s server"\nsv_maxrate 30000\n' +
      'sv_cheats 0; exec banned_user.cfg\nsv_tags sv_coop';
    // The textarea follows every change, so FormData (and htmx, and a plain post) send it.
    assert.equal(await page.locator('#f-config').inputValue(), expected);
    assert.equal(await page.evaluate(() => new FormData(document.querySelector('form.blueprint-form')).get('config')),
      expected);

    // The srccfg language: a comment, names, a keyword, a string and a number, each a token.
    const tok = (cls) => editor.locator(`.cm-line .tok-${cls}`).allInnerTexts();
    assert.deepEqual(await tok('comment'), ['// tuned for 100 tick']);
    assert.deepEqual(await tok('propertyName'), ['hostname', 'sv_maxrate', 'sv_cheats', 'sv_tags']);
    assert.deepEqual(await tok('keyword'), ['exec']);
    assert.deepEqual(await tok('string'), ['"Erin\'s server"']);
    assert.deepEqual(await tok('number'), ['30000', '0']);
    // ... and coloured: the comment in the muted token colour, the name in another.
    const colour = (sel) => editor.locator(sel).first().evaluate((e) => getComputedStyle(e).color);
    assert.notEqual(await colour('.tok-comment'), await colour('.tok-propertyName'));
    assert.equal(await colour('.tok-comment'), 'rgb(91, 100, 112)'); // --muted, light

    await page.getByRole('button', { name: 'Create blueprint' }).click();
    await page.waitForURL(/\/blueprints\/\d+\?m=blueprint-saved$/);
    const path = new URL(page.url()).pathname;
    assert.equal(await savedConfig(page, path), expected, 'webd saved something else');
    // The detail page mounts the editor over the saved text.
    await page.locator('.cm-editor').waitFor();
    assert.equal(await page.locator('.cm-editor .cm-line').count(), 5);
    assert.equal(await page.locator('.cm-editor .cm-line').first().innerText(), '// tuned for 100 tick');

    // An edit on the detail page, saved by its form (htmx posts the boosted form).
    await page.locator('.cm-content').click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('\nsv_alltalk 1');
    const reloaded = page.waitForResponse((r) => r.request().method() === 'GET' && new URL(r.url()).pathname === path);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await reloaded;
    await page.locator('.cm-editor').waitFor();
    assert.equal(await savedConfig(page, path), expected + '\nsv_alltalk 1');
  });
});

test('styled under the real CSP: constructed stylesheets, no <style>, no violation', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    await loggedIn(page);
    const res = await page.goto(webd.url + '/blueprints');
    assert.match(res.headers()['content-security-policy'], /^default-src 'self';/);
    await page.locator('.cm-editor').waitFor();
    const facts = await page.evaluate(() => {
      const e = document.querySelector('.cm-editor');
      return {
        styleTags: document.querySelectorAll('style').length,
        adopted: document.adoptedStyleSheets.length,
        display: getComputedStyle(e).display, // CodeMirror's base theme: flex
        gutter: getComputedStyle(document.querySelector('.cm-gutters')).backgroundColor,
        font: getComputedStyle(document.querySelector('.cm-scroller')).fontFamily,
      };
    });
    assert.equal(facts.styleTags, 0, 'a <style> element (blocked by the CSP)');
    assert.ok(facts.adopted >= 1, 'no constructed stylesheet');
    assert.equal(facts.display, 'flex', 'the editor is unstyled');
    assert.equal(facts.gutter, 'rgb(238, 240, 243)'); // --surface-2, light
    assert.match(facts.font, /mono/i);
    // The façade: mount is idempotent, unmount gives the textarea back with the text.
    const facade = await page.evaluate(() => {
      const ta = document.querySelector('#f-config');
      const again = window.__editor.mount(ta, { mode: 'srccfg' }) === window.__editor.mount(ta);
      const editors = document.querySelectorAll('.cm-editor').length;
      window.__editor.unmount(ta);
      return { again, editors, after: document.querySelectorAll('.cm-editor').length, hidden: ta.hidden };
    });
    assert.deepEqual(facade, { again: true, editors: 1, after: 0, hidden: false });
    // withPage fails the test on any CSP violation or console error.
  });
});

test('dark mode changes the editor with the page, live', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    await loggedIn(page);
    await page.goto(webd.url + '/blueprints');
    const editor = page.locator('.cm-editor');
    await editor.waitFor();
    const bg = () => editor.evaluate((e) => getComputedStyle(e).backgroundColor);
    assert.equal(await bg(), 'rgb(255, 255, 255)'); // --surface, light
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.equal(await bg(), 'rgb(26, 30, 36)'); // --surface, dark
    await page.locator('.cm-content').click();
    await page.keyboard.type('// dark\nsv_cheats 0');
    assert.equal(await editor.locator('.tok-comment').evaluate((e) => getComputedStyle(e).color),
      'rgb(154, 164, 177)'); // --muted, dark
    await saveArtifacts(page, 'editor-dark');
  });
});

test('at phone width a long line scrolls inside the editor, not the page', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    await loggedIn(page);
    await page.goto(webd.url + '/blueprints');
    await page.locator('.cm-content').click();
    await page.keyboard.insertText(`hostname "${'a very long server name '.repeat(8)}"`);
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth - window.innerWidth,
      scroller: document.querySelector('.cm-scroller').scrollWidth - document.querySelector('.cm-scroller').clientWidth,
    }));
    assert.ok(widths.page <= 0, `the page scrolls sideways by ${widths.page}px`);
    assert.ok(widths.scroller > 0, 'the long line did not overflow the editor');
    await saveArtifacts(page, 'editor-phone');
  }, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
});

test('keyboard: Tab indents, Escape then Tab leaves the editor', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    await loggedIn(page);
    await page.goto(webd.url + '/blueprints');
    await page.locator('.cm-content').click();
    await page.keyboard.type('alias x');
    await page.keyboard.press('Tab');
    assert.match(await page.locator('#f-config').inputValue(), /^\s+alias x$/, 'Tab did not indent');
    assert.equal(await page.evaluate(() => !!document.activeElement.closest('.cm-editor')), true);
    await page.keyboard.press('Escape');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => !!document.activeElement.closest('.cm-editor')), false,
      'Escape, Tab kept the focus in the editor');
    // Ctrl+Z (history) undoes the indent.
    await page.locator('.cm-content').click();
    await page.keyboard.press('Control+z');
    assert.equal(await page.locator('#f-config').inputValue(), 'alias x');
    // Ctrl+F opens the search panel, Escape closes it again.
    await page.keyboard.press('Control+f');
    await page.locator('.cm-panel.cm-search').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('name')), 'search');
    await page.keyboard.press('Escape');
    await page.locator('.cm-panel.cm-search').waitFor({ state: 'detached' });
  });
});

test('editor.js only on pages with an editor, also when htmx swaps one in', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    const fetched = [];
    page.on('response', (r) => {
      if (new URL(r.url()).pathname === '/static/editor.js') fetched.push(r.headers()['content-encoding']);
    });
    await loggedIn(page);
    for (const p of ['/', '/profile', '/servers']) {
      await page.goto(webd.url + p);
      assert.equal(await page.locator('script[src="/static/editor.js"]').count(), 0, `${p} names editor.js`);
      assert.equal(await page.evaluate(() => typeof window.__editor), 'undefined', `${p} ran editor.js`);
    }
    assert.deepEqual(fetched, []);
    // A boosted link keeps the old <head>: left4me.js loads the editor when one arrives.
    await page.getByRole('link', { name: 'Blueprints' }).click();
    await page.waitForURL(webd.url + '/blueprints');
    await page.locator('.cm-editor').waitFor();
    // Once, as its gzip copy (webd.mk builds it, h2o's file handler picks it).
    assert.deepEqual(fetched, ['gzip']);
    assert.equal(await page.locator('#f-config').isHidden(), true);
    // Away and back through htmx's history: one editor, not a dead copy next to a new one.
    await page.getByRole('link', { name: 'Servers' }).click();
    await page.waitForURL(webd.url + '/servers');
    await page.goBack();
    await page.waitForURL(webd.url + '/blueprints');
    await page.locator('.cm-editor').waitFor();
    assert.equal(await page.locator('.cm-editor').count(), 1);
    await page.locator('.cm-content').click();
    await page.keyboard.type('sv_lan 1');
    assert.equal(await page.locator('#f-config').inputValue(), 'sv_lan 1');
    // A full load of an editor page names the script in its head.
    await page.goto(webd.url + '/blueprints');
    assert.equal(await page.locator('head script[src="/static/editor.js"][defer]').count(), 1);
    // A client that takes no gzip gets the plain bundle, the same script.
    const plain = await page.request.get(webd.url + '/static/editor.js', { headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.headers()['content-encoding'], undefined);
    assert.match(plain.headers()['content-type'], /javascript/);
    assert.ok((await plain.body()).length > 300 * 1024);
  });
});

test('an overlay script in bash mode: highlighted, $OVERLAY completed, saved', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    await loggedIn(page);
    await page.goto(webd.url + '/overlays');
    await page.getByLabel('Name').fill('Erin script');
    await page.getByRole('button', { name: 'Create overlay' }).click();
    await page.waitForURL(/\/overlays\/\d+\?m=overlay-created$/);
    const path = new URL(page.url()).pathname;
    const editor = page.locator('.field:has(#f-script) .cm-editor');
    await editor.waitFor();
    assert.equal(await page.locator('#f-script').isHidden(), true);
    await editor.locator('.cm-content').click();
    await page.keyboard.type('# cfg files\nmkdir -p "$OVE');
    const list = page.locator('.cm-tooltip-autocomplete');
    await list.waitFor();
    assert.deepEqual(await list.locator('li[role="option"] .cm-completionLabel').allInnerTexts(),
      ['"$OVERLAY/left4dead2/cfg"', '"$OVERLAY/left4dead2/addons"']);
    await page.keyboard.press('Enter');
    await list.waitFor({ state: 'detached' });
    // Only words the text begins: "cfg" is in an option but starts none, so Enter is a newline.
    await page.keyboard.type(' && cd cfg');
    await page.waitForTimeout(400);
    assert.equal(await list.count(), 0, 'a fuzzy completion for "cfg"');
    await page.keyboard.type('\necho \'done\'');
    const script = '# cfg files\nmkdir -p "$OVERLAY/left4dead2/cfg" && cd cfg\necho \'done\'';
    assert.equal(await page.locator('#f-script').inputValue(), script);
    // The shell mode's tokens: the comment, the builtin, the strings.
    assert.deepEqual(await editor.locator('.tok-comment').allInnerTexts(), ['# cfg files']);
    assert.ok((await editor.locator('.tok-string').allInnerTexts()).join('').includes("'done'"));
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForURL(/\/overlays\/\d+\?m=overlay-saved$/);
    const saved = await page.evaluate(async (p) => {
      const html = await (await fetch(p)).text();
      return new DOMParser().parseFromString(html, 'text/html').querySelector('#f-script').value;
    }, path);
    assert.equal(saved, script);
  });
});

test('without JavaScript the plain textarea posts', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    await loggedIn(page);
    await page.goto(webd.url + '/blueprints');
    assert.equal(await page.locator('.cm-editor').count(), 0);
    const area = page.getByLabel('server.cfg lines');
    assert.equal(await area.isVisible(), true);
    await page.getByLabel('Name', { exact: true }).fill('No JS bp');
    await area.fill('sv_pure 2\nmp_gamemode versus');
    await page.getByRole('button', { name: 'Create blueprint' }).click();
    await page.waitForURL(/\/blueprints\/\d+\?m=blueprint-saved$/);
    assert.equal(await page.getByLabel('server.cfg lines').inputValue(), 'sv_pure 2\nmp_gamemode versus');
  }, { javaScriptEnabled: false });
});
