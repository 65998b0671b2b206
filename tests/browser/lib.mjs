// The browser tier's harness: webd started as the other tiers start it (under
// systemd-socket-activate, on a free port and a temporary RPC socket), Debian's
// chromium-headless-shell driven by playwright-core, one browser per test file and a fresh
// context per test. A failing test leaves a screenshot and the page's HTML in
// $BUILD/browser/ (with the webd log), so CI shows what the browser saw.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { createServer, connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '..', '..');
export const BUILD = resolve(process.env.BUILD || join(REPO, 'build'));
export const ARTIFACTS = join(BUILD, 'browser');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium-headless-shell';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

// Resolves once a TCP connect succeeds: systemd-socket-activate binds, then listens.
async function waitListening(port, proc, log, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const up = await new Promise((ok) => {
      const c = connect(port, '127.0.0.1', () => { c.destroy(); ok(true); });
      c.once('error', () => ok(false));
    });
    if (up) return;
    if (proc.exitCode !== null) throw new Error(`webd exited before listening: ${log()}`);
    if (Date.now() > deadline) throw new Error(`webd is not listening on ${port}: ${log()}`);
    await sleep(20);
  }
}

// Starts webd; returns {url, dir, stop(), log()}. opts.config is extra YAML.
export async function startWebd(opts = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'l4m-browser-'));
  const port = await freePort();
  const cfg = join(dir, 'left4me.yaml');
  mkdirSync(join(dir, 'root'));
  writeFileSync(cfg, `paths: {root: ${dir}/root, run: ${dir}}\nweb: {bind: 127.0.0.1, port: ${port}}\n` +
    (opts.config || ''));
  const logFile = join(dir, 'webd.log');
  const out = [];
  const proc = spawn('systemd-socket-activate',
    ['-l', `127.0.0.1:${port}`, '-l', join(dir, 'web.sock'), '--fdname=http:rpc',
      join(BUILD, 'left4me-webd'), '--config', cfg, '--idle-exit', String(opts.idle ?? 0),
      '--web-dir', opts.webDir || join(BUILD, 'web')],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (d) => out.push(d));
  proc.stderr.on('data', (d) => out.push(d));
  const log = () => Buffer.concat(out).toString();
  await waitListening(port, proc, log);
  return {
    url: `http://127.0.0.1:${port}`,
    dir,
    log,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        // An unref'd timer: a pending one would keep node (and the test file) alive 5 s more.
        await Promise.race([new Promise((r) => proc.once('exit', r)),
          new Promise((r) => setTimeout(r, 5000).unref())]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      writeFileSync(logFile, log());
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--disable-gpu'] });
}

function artifactName(t) {
  return t.fullName ? t.fullName : t.name;
}

// Saves what the page shows under $BUILD/browser/NAME.{png,html}. caret: 'initial'
// because Playwright hides the caret by leaving style="" on every input and textarea, and
// htmx's next swap copies such an attribute with setAttribute, which the CSP refuses: a
// screenshot in the middle of a test would fail it with a violation the page never made.
export async function saveArtifacts(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const base = join(ARTIFACTS, name.replace(/[^A-Za-z0-9_.-]+/g, '_'));
  await page.screenshot({ path: `${base}.png`, fullPage: true, caret: 'initial' }).catch(() => {});
  writeFileSync(`${base}.html`, await page.content().catch(() => ''));
  return base;
}

// Runs fn(page, ctx) in a fresh context. Console errors, page errors and CSP violations
// fail the test (a page that works only with errors in the console is broken). On failure,
// the screenshot, the HTML and webd's log are saved.
// allow: regular expressions of console errors a test expects (Chromium logs every 4xx
// document as "Failed to load resource").
export async function withPage(t, browser, webd, fn, contextOpts = {}, allow = []) {
  const ctx = await browser.newContext(contextOpts);
  const page = await ctx.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !allow.some((re) => re.test(m.text()))) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // Chromium reports CSP violations to the page as securitypolicyviolation events.
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}:` +
        `${e.columnNumber} ${JSON.stringify(e.sample)}`);
    });
  });
  try {
    await fn(page, ctx);
    if (problems.length) throw new Error(`the page reported problems:\n  ${problems.join('\n  ')}`);
  } catch (e) {
    const base = await saveArtifacts(page, artifactName(t));
    writeFileSync(`${base}.webd.log`, webd.log());
    e.message += `\n(screenshot and HTML: ${base}.png, ${base}.html)`;
    throw e;
  } finally {
    await ctx.close();
  }
}

// An account, made the way an operator makes the first one: l4d2ctl over web.sock.
export function createUser(webd, name, password, { admin = false, mustChange = false } = {}) {
  const args = ['--config', join(webd.dir, 'left4me.yaml'), '--socket-dir', webd.dir, 'web', 'user', 'create', name];
  if (admin) args.push('--admin');
  if (mustChange) args.push('--must-change');
  execFileSync(join(BUILD, 'l4d2ctl'), args, { env: { ...process.env, LEFT4ME_ADMIN_PASSWORD: password } });
}

// Logs in through the form; resolves once the dashboard (or next page) is shown.
export async function login(page, webd, name, password) {
  await page.goto(webd.url + '/login');
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

export function chromiumVersion() {
  try {
    return execFileSync(CHROMIUM, ['--version']).toString().trim();
  } catch {
    return 'unknown';
  }
}

export { readFileSync };

// Types into the code editor that replaces a textarea (as a user pasting would: no
// auto-closed quotes), or into the textarea itself where there is no editor (JS off).
export async function fillCode(page, textarea, text) {
  const editor = page.locator(`.field:has(${textarea}) .cm-content`);
  if (await editor.count()) {
    await editor.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(text);
  } else {
    await page.locator(textarea).fill(text);
  }
}
