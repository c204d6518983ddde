// The first run by the manual path (AppID + AppSecret): a wrong AppSecret
// shows its clear error and keeps what was typed; the right one goes through
// the wizard; the dashboard shows the pairing code, and sending it from QQ
// makes that user the owner; the bot's settings set a daily cap that QQ
// users then run into.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWorld, openApp, shot, tid, type, click, simGet, simPost, until } from './lib.mjs';

const APP_ID = '102000001';
const APP_SECRET = 'manual-secret-3e7d';
const BOT = 'helper';

let world;
let browser;

after(async () => {
  if (browser) await browser.deleteSession().catch(() => {});
  if (world) await world.stop();
});

test('first run by AppID: wrong secret explained, then wizard, pairing from QQ, a daily cap', async (t) => {
  world = await startWorld({ apps: [`${APP_ID}:${APP_SECRET}`] });
  browser = await openApp(world);
  try {
    await browser.$(tid('wizard', '[data-step="1"]')).waitForDisplayed();
    await click(browser, 'tab-manual');
    await type(browser, 'app-id', APP_ID);
    await type(browser, 'app-secret', 'not-the-secret');
    await click(browser, 'manual-submit');
    const error = await browser.$(tid('connect-error'));
    await error.waitForDisplayed({ timeout: 20000 });
    const text = await error.getText();
    assert.match(text, /AppSecret/, `the error names the AppSecret: ${text}`);
    assert.match(text, /[\u4e00-\u9fff]/, `the error speaks Chinese: ${text}`);
    assert.equal(await browser.$(tid('app-id')).getValue(), APP_ID, 'the AppID is kept');
    shot('10-manual-wrong-secret');

    await type(browser, 'app-secret', APP_SECRET);
    await click(browser, 'manual-submit');
    await browser.$(tid('wizard', '[data-step="2"]')).waitForDisplayed({ timeout: 20000 });
    await type(browser, 'bot-name', BOT);
    await click(browser, 'create-bot');

    await browser.$(tid('wizard', '[data-step="3"]')).waitForDisplayed();
    await click(browser, 'preset-custom');
    await type(browser, 'provider-base-url', `${world.provider}/v1`);
    await type(browser, 'provider-model', 'sim-model');
    await click(browser, 'provider-next');

    await browser.$(tid('wizard', '[data-step="4"]')).waitForDisplayed();
    await click(browser, 'wizard-finish');

    await browser.$(tid(`bot-card-${BOT}`, '[data-state="ready"]')).waitForDisplayed({ timeout: 30000 });
    const pairing = await browser.$(tid('pairing-code'));
    await pairing.waitForDisplayed();
    const code = /\d{6}/.exec(await pairing.getText())?.[0];
    assert.ok(code, 'the dashboard shows a 6-digit pairing code');
    shot('11-manual-dashboard-pairing');

    await simPost(world, '/_sim/inject/c2c', { app_id: APP_ID, user_openid: 'NEW_OWNER', content: code });
    await until(async () => {
      const sends = await simGet(world, '/_sim/sends');
      return sends.find((s) => s.target === 'NEW_OWNER' && JSON.stringify(s.body).includes('配对成功'));
    }, 'the pairing confirmation in QQ');
    await browser.waitUntil(async () => !(await browser.$(tid('pairing-code')).isExisting()), {
      timeout: 15000, timeoutMsg: 'the pairing code disappears once paired',
    });
    const config = readFileSync(join(world.home, 'config.toml'), 'utf8');
    assert.match(config, /owner = "NEW_OWNER"/);

    // The bot's settings on the dashboard: a daily token cap of 1, saved to
    // the file and applied to the running bot. The next answer uses more than
    // 1 token, so the message after it gets the cap's notice.
    await click(browser, `edit-${BOT}`);
    await type(browser, 'bot-edit-token-cap', '1');
    shot('12-manual-bot-settings');
    await (await browser.$('.ant-modal .ant-btn-primary')).click();
    await until(
      async () => /daily_token_cap = 1\b/.test(readFileSync(join(world.home, 'config.toml'), 'utf8')),
      'the cap in config.toml',
    );
    await browser.$(`${tid(`bot-card-${BOT}`)} .ant-progress`).waitForDisplayed({ timeout: 15000 });
    const reply = (text) => async () => {
      const sends = await simGet(world, '/_sim/sends');
      return sends.find((s) => s.target === 'NEW_OWNER' && JSON.stringify(s.body).includes(text));
    };
    await simPost(world, '/_sim/inject/c2c', { app_id: APP_ID, user_openid: 'NEW_OWNER', content: '第一条' });
    await until(reply('echo: 第一条'), 'the answer before the cap');
    await simPost(world, '/_sim/inject/c2c', { app_id: APP_ID, user_openid: 'NEW_OWNER', content: '第二条' });
    await until(reply('使用额度已经用完'), "the cap's notice in QQ");
    shot('13-manual-dashboard-capped');
  } catch (e) {
    shot('failure-wizard-manual');
    t.diagnostic(world.output().slice(-4000));
    throw e;
  }
});
