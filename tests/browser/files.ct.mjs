// A files overlay in a real browser against the whole suite under a real systemd (run inside
// the container by tests/e2e/web-40-files.sh, which makes the users): a user makes a files
// overlay and a folder, uploads a file through the form and another by drag and drop (both in
// slices, with the progress list), uploads one again and answers the "replace?" prompt,
// edits one in the editor dialog, moves one by drag and drop onto a crumb, downloads one and
// the whole overlay as a zip.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
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

const allow = [/Failed to load resource: the server responded with a status of 409/];

function row(page, name) {
  return page.locator('#files tbody tr').filter({ has: page.locator('td:first-child', { hasText: name }) });
}

// Waits for the listing to show name; else fails with what the progress list says.
async function listed(page, name) {
  try {
    await row(page, name).waitFor({ timeout: 20000 });
  } catch (e) {
    const why = await page.locator('.upload-progress').textContent().catch(() => '(no progress list)');
    const h1 = await page.locator('h1').first().textContent().catch(() => '');
    throw new Error(`${name} is not listed at ${page.url()} (${h1}); the upload list says: ${why}`);
  }
}

test('upload, replace, edit, move and download in a files overlay', async (t) => {
  await withPage(t, browser, webd, async (page) => {
    await login(page, webd, 'gina', 'gina-password-1');
    await page.goto(`${URL}/overlays`);
    await page.getByLabel('Name').fill('Browser files');
    await page.getByLabel('Type').selectOption('files');
    await page.getByRole('button', { name: 'Create overlay' }).click();
    await page.waitForURL(/\/overlays\/\d+\?m=overlay-created/);
    state.files = Number(new globalThis.URL(page.url()).pathname.split('/')[2]);
    await page.getByRole('link', { name: 'Browse and edit its files' }).click();
    await page.getByText('No files yet.').waitFor();

    await page.getByLabel('New folder').fill('cfg');
    await page.getByRole('button', { name: 'Make folder' }).click();
    await page.getByRole('link', { name: 'cfg/' }).click();
    await page.waitForURL(/path=cfg/);

    // Through the form: left4me.js sends it in slices.
    const big = Buffer.alloc(2_500_000, 'x');
    await page.locator('#f-file').setInputFiles({ name: 'one.cfg', mimeType: 'text/plain', buffer: big });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await listed(page, 'one.cfg');
    assert.match(await row(page, 'one.cfg').textContent(), /2\.4 MiB/, 'the listed size');

    // By drag and drop.
    const dt = await page.evaluateHandle(() => {
      const d = new DataTransfer();
      d.items.add(new File(['sv_tags two\n'], 'two.cfg', { type: 'text/plain' }));
      return d;
    });
    await page.dispatchEvent('.dropzone', 'dragover', { dataTransfer: dt });
    await page.dispatchEvent('.dropzone', 'drop', { dataTransfer: dt });
    await listed(page, 'two.cfg');

    // The same name again: the prompt, then the replacement.
    await page.locator('#f-file').setInputFiles({ name: 'one.cfg', mimeType: 'text/plain', buffer: Buffer.from('sv_tags one\n') });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const prompt = page.locator('dialog[open]').filter({ hasText: 'Replace it' });
    await prompt.waitFor();
    assert.match(await prompt.textContent(), /one\.cfg/, 'the prompt names the file');
    await prompt.getByRole('button', { name: 'Confirm' }).click();
    await page.waitForFunction(() => [...document.querySelectorAll('#files tbody tr')]
      .some((tr) => tr.textContent.includes('one.cfg') && tr.textContent.includes('12 B')));

    // The editor, in the page's dialog.
    await row(page, 'two.cfg').getByRole('link', { name: 'two.cfg' }).click();
    const dialog = page.locator('#file-dialog[open]');
    await dialog.locator('.cm-content').waitFor();
    await fillCode(page, '#f-content', 'sv_tags edited\n');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/m=files-changed/);
    const dl = await page.request.get(`${URL}/overlays/${state.files}/files/download?path=cfg/two.cfg`);
    assert.equal(dl.status(), 200);
    assert.equal(await dl.text(), 'sv_tags edited\n');
    assert.match(dl.headers()['content-disposition'], /attachment/);

    // Drag one.cfg onto the top crumb: it moves out of cfg/.
    await page.dragAndDrop('tr[data-path="cfg/one.cfg"]', 'nav.crumbs a[data-folder=""]');
    await page.waitForFunction(() => !document.querySelector('tr[data-path="cfg/one.cfg"]'));
    await page.goto(`${URL}/overlays/${state.files}/files`);
    await row(page, 'one.cfg').waitFor();

    // The whole overlay as a zip: the names are in its central directory, in the clear.
    const [zip] = await Promise.all([page.waitForEvent('download'), page.locator('nav.crumbs a.zip').click()]);
    assert.equal(zip.suggestedFilename(), 'Browser files.zip');
    const bytes = readFileSync(await zip.path());
    assert.equal(bytes.subarray(0, 2).toString(), 'PK', 'not a zip');
    for (const name of ['cfg/', 'cfg/two.cfg', 'one.cfg']) {
      assert.ok(bytes.includes(Buffer.from(name)), `${name} is not in the zip`);
    }
    assert.ok(bytes.includes(Buffer.from('sv_tags edited')), 'the edited bytes are not in the zip');
  }, {}, allow);
});
