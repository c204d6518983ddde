// Shared parts of the end-to-end tests: the simulators, tauri-driver with the
// app's environment, a WebDriver session, screenshots of the real screen, and
// small waits. Runs inside scripts/e2e.sh (Xvfb + D-Bus + gnome-keyring).

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { remote } from 'webdriverio';

export const ROOT = resolve(import.meta.dirname, '../..');
const TARGET = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
export const APP = process.env.PINCER_DESKTOP_BIN ?? join(TARGET, 'debug/pincer-desktop');
export const SIM = process.env.PINCER_SIM_BIN ?? join(TARGET, 'debug/pincer-sim');
export const PINCER = process.env.PINCER_BIN ?? join(TARGET, 'debug/pincer');
const DRIVER = process.env.TAURI_DRIVER ?? join(ROOT, '.tools/bin/tauri-driver');
export const SHOTS = process.env.PINCER_E2E_SHOTS ?? join(TARGET, 'e2e-shots');

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

async function waitPort(port, what, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise((r) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => (c.end(), r(true)));
      c.once('error', () => r(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${what} did not listen on ${port} within ${ms} ms`);
}

/** Waits until `f()` returns a truthy value; returns it. */
export async function until(f, what, ms = 20000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await f();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

/**
 * Starts the QQ simulator (with `apps` as APPID:SECRET), the provider
 * simulator, and tauri-driver with an environment pointing the app at them
 * and at a fresh PINCER_HOME (`configure` may write files into it first).
 */
export async function startWorld({ apps = [], providerKey = null, configure = null } = {}) {
  const home = mkdtempSync(join(tmpdir(), 'pincer-e2e-'));
  const procs = [];
  const start = (bin, args, env = process.env, name = bin) => {
    const p = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.output = () => out;
    p.label = name;
    procs.push(p);
    return p;
  };
  const qqPort = await freePort();
  const providerPort = await freePort();
  const qqArgs = ['qq', '--port', String(qqPort), '--heartbeat-ms', '2000'];
  for (const a of apps) qqArgs.push('--app', a);
  start(SIM, qqArgs, process.env, 'qq-sim');
  const provArgs = ['provider', '--port', String(providerPort)];
  if (providerKey) provArgs.push('--api-key', providerKey);
  start(SIM, provArgs, process.env, 'provider-sim');
  await waitPort(qqPort, 'the QQ simulator');
  await waitPort(providerPort, 'the provider simulator');
  const qq = `http://127.0.0.1:${qqPort}`;
  const env = {
    ...process.env,
    PINCER_HOME: home,
    PINCER_QQ_API_BASE: qq,
    PINCER_QQ_TOKEN_URL: `${qq}/app/getAppAccessToken`,
    PINCER_QQ_BIND_BASE: qq,
    WEBKIT_DISABLE_DMABUF_RENDERER: '1',
    LANG: process.env.PINCER_E2E_LANG ?? 'zh_CN.UTF-8',
  };
  // Files the app should find at its first start (a config, say).
  if (configure) configure({ home, qq, provider: `http://127.0.0.1:${providerPort}` });
  const driverPort = await freePort();
  const nativePort = await freePort();
  start(DRIVER, ['--port', String(driverPort), '--native-port', String(nativePort)], env, 'tauri-driver');
  await waitPort(driverPort, 'tauri-driver');
  return {
    home,
    env,
    qq,
    provider: `http://127.0.0.1:${providerPort}`,
    driverPort,
    procs,
    async stop() {
      for (const p of procs.reverse()) p.kill('SIGTERM');
      await sleep(300);
    },
    output() {
      return procs.map((p) => `--- ${p.label}\n${p.output()}`).join('\n');
    },
  };
}

/** A WebDriver session on the app (which tauri-driver starts). */
export async function openApp(world) {
  const browser = await remote({
    hostname: '127.0.0.1',
    port: world.driverPort,
    logLevel: 'warn',
    connectionRetryCount: 0,
    waitforTimeout: 20000,
    capabilities: { 'tauri:options': { application: APP } },
  });
  return browser;
}

/** A screenshot of the whole (virtual) screen: the real window as drawn. */
export function shot(name) {
  mkdirSync(SHOTS, { recursive: true });
  // Lets antd's fade-in transitions (0.2–0.3 s) finish first.
  execFileSync('sleep', ['0.5']);
  const file = join(SHOTS, `${name}.png`);
  execFileSync('import', ['-window', 'root', file]);
  return file;
}

/** `[data-testid=...]`. */
export function tid(id, extra = '') {
  return `[data-testid="${id}"]${extra}`;
}

/** Replaces an input's value the way a person types it. */
export async function type(browser, id, text) {
  const el = await browser.$(tid(id));
  await el.waitForDisplayed();
  await el.click();
  // Select-all + delete works for React-controlled inputs where clearValue does not.
  await browser.keys(['Control', 'a']);
  await browser.keys(['Backspace']);
  await el.addValue(text);
}

export async function click(browser, id) {
  const el = await browser.$(tid(id));
  await el.waitForClickable();
  await el.click();
}

export async function simGet(world, path) {
  const r = await fetch(`${world.qq}${path}`);
  if (!r.ok) throw new Error(`GET ${path}: ${r.status}`);
  return r.json();
}

export async function simPost(world, path, body) {
  const r = await fetch(`${world.qq}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`POST ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** Calls one of the app's commands from inside the window (as the UI does). */
export async function command(browser, name, args = {}) {
  return browser.executeAsync(
    (name, args, done) => {
      window.__TAURI_INTERNALS__
        .invoke(name, args)
        .then((v) => done({ ok: v }))
        .catch((e) => done({ err: e }));
    },
    name,
    args,
  );
}

/** Every file under `dir`, read as text (for grepping secrets). */
export function readTree(dir) {
  const out = [];
  const walk = (d) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push([p, readFileSync(p).toString('latin1')]);
    }
  };
  walk(dir);
  return out;
}

/** Resident memory (RSS and PSS) of a process and its live descendants, in KiB (from /proc). */
export function treeRssKib(rootPid) {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(name));
    } catch {
      /* gone */
    }
  }
  let total = 0;
  let totalPss = 0;
  const parts = [];
  const visit = (pid) => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      const name = /Name:\s+(.*)/.exec(status)?.[1] ?? '?';
      // PSS splits shared pages (WebKit's and Mesa's libraries are mapped by
      // all three processes) between their users: the fair sum.
      let pss = 0;
      try {
        pss = Number(/Pss:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
      } catch {
        /* gone */
      }
      total += rss;
      totalPss += pss;
      parts.push({ pid, name, rssKib: rss, pssKib: pss });
    } catch {
      /* gone */
    }
    for (const c of children.get(pid) ?? []) visit(c);
  };
  visit(rootPid);
  return { total, totalPss, parts: parts.filter((p) => p.rssKib > 0) };
}

/** The pid of the running app (started by WebKitWebDriver). */
export function appPid() {
  const out = execFileSync('pgrep', ['-n', '-f', APP]).toString().trim();
  return Number(out.split('\n').pop());
}
