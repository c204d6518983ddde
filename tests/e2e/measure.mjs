// Measures the desktop app's memory and start-up in a real window (run it
// through scripts/measure-desktop.sh): one bot connected to the QQ simulator,
//   1. launch → dashboard shown (the WebDriver session starts the app),
//   2. RSS of the app and its WebKit processes with the dashboard open,
//   3. RSS after the window is closed to the tray (its webview destroyed).
// Prints a table and one JSON line. Use a release build for numbers worth
// quoting: PINCER_DESKTOP_BIN=target/release/pincer-desktop.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWorld, openApp, tid, sleep, until, appPid, treeRssKib, command, APP } from './lib.mjs';

const APP_ID = '102000555';
const SECRET = 'measure-secret';
// The bot's AppSecret, through the keyring-override variable.
process.env.PINCER_SECRET_BOT_MEASURE_APP_SECRET = SECRET;
const SETTLE_MS = Number(process.env.PINCER_MEASURE_SETTLE_MS ?? 20000);

const world = await startWorld({
  apps: [`${APP_ID}:${SECRET}`],
  configure: ({ home, qq, provider }) =>
    writeFileSync(
      join(home, 'config.toml'),
      `version = 1

[[provider]]
id = "sim"
kind = "openai"
base_url = "${provider}/v1"
model = "sim-model"

[[bot]]
name = "measure"
app_id = "${APP_ID}"
api_base = "${qq}"
token_url = "${qq}/app/getAppAccessToken"
provider = "sim"
owner = "OWNER"
`,
    ),
});
const mb = (kib) => (kib / 1024).toFixed(1);
let browser;
try {
  const t0 = performance.now();
  browser = await openApp(world);
  await browser.$(tid('dashboard')).waitForDisplayed({ timeout: 60000 });
  const shownMs = performance.now() - t0;
  await browser.$(tid('bot-card-measure', '[data-state="ready"]')).waitForDisplayed({ timeout: 60000 });
  const readyMs = performance.now() - t0;
  const pid = appPid();
  await sleep(SETTLE_MS);
  const open = treeRssKib(pid);

  // Close the window as the title bar's × would: the app stays in the tray.
  await command(browser, 'plugin:window|close', { label: 'main' }).catch(() => {});
  // The app replaces itself with a `--tray` image (same pid) that resumes the bot.
  await until(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--tray'), 'the tray image', 60000);
  await until(async () => {
    const r = await fetch(`${world.qq}/_sim/stats?app_id=${APP_ID}`).then((r) => r.json());
    return r.open_connections > 0 && r.resumes > 0;
  }, 'the bot resumed from the tray', 60000);
  await sleep(SETTLE_MS);
  const tray = treeRssKib(pid);

  console.log(`binary: ${APP}`);
  console.log(`launch → dashboard shown: ${shownMs.toFixed(0)} ms; bot ready: ${readyMs.toFixed(0)} ms`);
  const line = (m) => `RSS ${mb(m.total)} MB, PSS ${mb(m.totalPss)} MB  (${m.parts.map((p) => `${p.name} ${mb(p.rssKib)}/${mb(p.pssKib)}`).join(', ')})`;
  console.log(`dashboard open: ${line(open)}`);
  console.log(`closed to tray: ${line(tray)}`);
  console.log(
    JSON.stringify({
      binary: APP,
      launch_to_dashboard_ms: Math.round(shownMs),
      launch_to_bot_ready_ms: Math.round(readyMs),
      dashboard_open_rss_mb: Number(mb(open.total)),
      dashboard_open_pss_mb: Number(mb(open.totalPss)),
      tray_rss_mb: Number(mb(tray.total)),
      tray_pss_mb: Number(mb(tray.totalPss)),
      dashboard_parts: open.parts,
      tray_parts: tray.parts,
    }),
  );
} finally {
  if (browser) await browser.deleteSession().catch(() => {});
  await world.stop();
}
