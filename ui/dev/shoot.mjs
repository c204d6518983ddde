import { chromium } from 'playwright-core';
const base = 'http://localhost:5199/';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
const ctx = await browser.newContext({ viewport: { width: 1100, height: 720 } });
await ctx.addInitScript({ path: new URL('./mock-tauri.js', import.meta.url).pathname });
const only = process.argv[2];
const shots = [
  ['01-wizard-qr', '#wizard1', async () => {}],
  ['02-wizard-qr-scanned', '#wizard1scanned', async () => {}],
  ['03-wizard-manual', '#wizard1manual', async (p) => { await p.click('[data-testid=tab-manual]'); await p.fill('[data-testid=app-id]', '102345678'); await p.fill('[data-testid=app-secret]', 'secret'); await p.click('[data-testid=manual-submit]'); await p.waitForSelector('[data-testid=connect-error]'); }],
  ['04-wizard-bot', '#wizard2', async (p) => { await p.click('[data-testid=persona-template-friendly]'); }],
  ['05-wizard-model', '#wizard3', async (p) => { await p.click('[data-testid=preset-deepseek]'); await p.click('[data-testid=provider-test]'); await p.waitForSelector('[data-testid=provider-test-result]'); }],
  ['06-wizard-model-local', '#wizard3', async (p) => { await p.click('[data-testid=preset-ollama]'); }],
  ['07-wizard-skills', '#wizard4', async (p) => { await p.waitForSelector('[data-testid=skill-weather]'); }],
  ['08-dashboard', '#dashboard', async (p) => { await p.waitForSelector('[data-testid=conversation-item]'); await p.click('[data-testid=conversation-item]'); await p.fill('[data-testid=test-chat-input]', '你好'); await p.click('[data-testid=test-chat-send]'); await p.waitForTimeout(300); }],
  ['09-dashboard-en', '#dashboard', async (p) => { await p.waitForSelector('[data-testid=conversation-item]'); await p.click('[data-testid=lang-switch] >> text=English'); await p.waitForTimeout(200); }],
  ['10-skills', '#dashboard', async (p) => { await p.click('[data-testid=nav-skills]'); await p.fill('[data-testid=community-search]', '股票'); await p.keyboard.press('Enter'); await p.waitForSelector('[data-testid=install-stock]'); await p.click('[data-testid=install-stock]'); await p.waitForTimeout(300); }],
  ['11-settings', '#dashboard', async (p) => { await p.click('[data-testid=nav-settings]'); await p.waitForTimeout(300); }],
  ['12-wizard-model-en', '#wizard3', async (p) => { await p.click('[data-testid=lang-switch] >> text=English'); await p.click('[data-testid=preset-qwen]'); }],
  ['13-dashboard-scrolled', '#dashboard', async (p) => { await p.waitForSelector('[data-testid=conversation-item]'); await p.click('[data-testid=conversation-item]'); await p.evaluate(() => document.querySelector('.ant-layout-content').scrollTo(0, 9999)); await p.waitForTimeout(200); }],
  ['14-export', '#dashboard', async (p) => { await p.click('[data-testid=nav-settings]'); await p.click('[data-testid=export-config]'); await p.waitForTimeout(500); }],
  ['15-add-bot', '#dashboard', async (p) => { await p.click('[data-testid=add-bot]'); await p.click('[data-testid=tab-manual]'); }],
  ['16-skills-step-community', '#wizard4', async (p) => { await p.click('text=浏览社区技能'); await p.fill('[data-testid=community-search]', 'x'); await p.keyboard.press('Enter'); await p.waitForTimeout(300); }],
];
for (const [name, hash, act] of shots) {
  if (only && !name.includes(only)) continue;
  const p = await ctx.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  p.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text().slice(0, 200)); });
  await p.goto(base + hash);
  await p.waitForTimeout(700);
  try { await act(p); } catch (e) { errors.push('ACT ' + e.message.split('\n')[0]); }
  await p.waitForTimeout(400);
  await p.screenshot({ path: `/tmp/ui-shots/${name}.png` });
  console.log(name, errors.length ? errors : 'ok');
  await p.close();
}
await browser.close();
