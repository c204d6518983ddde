// The whole first run by the QR path, in the real app window: the simulator
// scans and confirms, the bot is created, a model chosen and tested, skills
// kept, and the dashboard shows the bot connected. Then a QQ message is
// answered, the conversation shows up, the test chat talks to the agent, a
// skill toggled through the tray's code path changes the runtime and the
// window, and no secret was written anywhere.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  startWorld, openApp, shot, tid, type, click, simGet, simPost, until, command, readTree,
} from './lib.mjs';

const APP_ID = '102000777';
const APP_SECRET = 'qr-bound-secret-5f1c9a';
const PROVIDER_KEY = 'sk-e2e-provider-key-8d2b';
const OWNER = 'E2E_OWNER_OPENID';
const BOT = '小钳';

let world;
let browser;

after(async () => {
  if (browser) await browser.deleteSession().catch(() => {});
  if (world) await world.stop();
});

test('first run by QR: wizard, dashboard, a QQ message answered, test chat, tray toggle', async (t) => {
  world = await startWorld({ providerKey: PROVIDER_KEY });
  browser = await openApp(world);
  try {
    // 1. Connect QQ: the QR code is drawn from the simulator's bind task.
    await browser.$(tid('wizard', '[data-step="1"]')).waitForDisplayed();
    const qr = await browser.$(tid('qr-code', '[data-state="waiting"]'));
    await qr.waitForDisplayed();
    const url = await qr.getAttribute('data-url');
    const [task] = await until(async () => {
      const tasks = await simGet(world, '/_sim/bind/tasks');
      return tasks.length ? tasks : null;
    }, 'a bind task');
    assert.ok(url.includes(task), `the QR code (${url}) encodes the bind task ${task}`);
    shot('01-connect-qr');

    await simPost(world, '/_sim/bind/scan', { task_id: task });
    await browser.$(tid('qr-code', '[data-state="scanned"]')).waitForDisplayed();
    shot('01b-connect-qr-scanned');
    await simPost(world, '/_sim/bind/confirm', {
      task_id: task, app_id: APP_ID, secret: APP_SECRET, user_openid: OWNER,
    });

    // 2. Your bot.
    await browser.$(tid('wizard', '[data-step="2"]')).waitForDisplayed();
    await type(browser, 'bot-name', BOT);
    shot('02-your-bot');
    await click(browser, 'create-bot');

    // 3. Model: the OpenAI-compatible provider simulator, tested for real.
    await browser.$(tid('wizard', '[data-step="3"]')).waitForDisplayed();
    await click(browser, 'preset-custom');
    await type(browser, 'provider-base-url', `${world.provider}/v1`);
    await type(browser, 'provider-model', 'sim-model');
    await type(browser, 'provider-key', PROVIDER_KEY);
    await click(browser, 'provider-test');
    const result = await browser.$(tid('provider-test-result'));
    await result.waitForDisplayed();
    assert.match(await result.getText(), /echo/);
    shot('03-model');
    await click(browser, 'provider-next');

    // 4. Skills: the bundled defaults are on.
    await browser.$(tid('wizard', '[data-step="4"]')).waitForDisplayed();
    const translate = await browser.$(tid('skill-translate'));
    await translate.waitForDisplayed();
    assert.equal(await translate.getAttribute('data-enabled'), 'true');
    shot('04-skills');
    await click(browser, 'wizard-finish');

    // The dashboard: the bot connects live.
    await browser.$(tid('dashboard')).waitForDisplayed();
    await browser.$(tid(`bot-card-${BOT}`, '[data-state="ready"]')).waitForDisplayed({ timeout: 30000 });
    // The QR path made the scanner the owner: no pairing code.
    assert.equal(await browser.$(tid('pairing-code')).isExisting(), false);

    // A QQ message is answered through the simulator...
    await simPost(world, '/_sim/inject/c2c', { app_id: APP_ID, user_openid: 'E2E_FRIEND', content: '你好，钳' });
    const send = await until(async () => {
      const sends = await simGet(world, '/_sim/sends');
      return sends.find((s) => s.app_id === APP_ID && JSON.stringify(s.body).includes('你好，钳'));
    }, 'the reply at the QQ simulator', 30000);
    assert.equal(send.target, 'E2E_FRIEND');
    // ...and the conversation shows in the window.
    const item = await browser.$(tid('conversation-item'));
    await item.waitForDisplayed({ timeout: 15000 });
    await item.click();
    await browser.waitUntil(async () => (await browser.$(tid('transcript')).getText()).includes('你好，钳'), {
      timeoutMsg: 'the transcript shows the message',
    });
    // Heartbeats arrive every 2 s from the simulator: the card shows them.
    await browser.waitUntil(async () => /\d/.test(await browser.$(tid('last-heartbeat')).getText()), {
      timeout: 15000, timeoutMsg: 'a heartbeat on the bot card',
    });
    await browser.pause(4500);
    shot('05-dashboard');

    // The test chat talks to the same agent without QQ.
    const sendsBefore = (await simGet(world, '/_sim/sends')).length;
    await type(browser, 'test-chat-input', '测试一下');
    await click(browser, 'test-chat-send');
    await browser.waitUntil(async () => (await browser.$(tid('test-chat-log')).getText()).includes('echo: 测试一下'), {
      timeout: 30000, timeoutMsg: 'the test chat reply',
    });
    assert.equal((await simGet(world, '/_sim/sends')).length, sendsBefore, 'the test chat sent nothing to QQ');
    shot('06-test-chat');

    // A skill toggled through the tray's code path: the runtime stops
    // expanding its /command, the tray unchecks it, the window follows.
    const asked = async (text) => {
      const r = await command(browser, 'test_chat', { bot: BOT, text });
      assert.ok(r.ok, JSON.stringify(r.err));
      return r.ok;
    };
    assert.match(await asked('/translate good morning'), /invoked the skill `?translate/);
    let tray = (await command(browser, 'tray_state')).ok;
    assert.equal(tray.skills.find((s) => s.id === `skill:${BOT}:translate`).checked, true);
    assert.equal(tray.light, 'green');
    const toggled = await command(browser, 'tray_action', { id: `skill:${BOT}:translate` });
    assert.ok(!toggled.err, JSON.stringify(toggled.err));
    tray = (await command(browser, 'tray_state')).ok;
    assert.equal(tray.skills.find((s) => s.id === `skill:${BOT}:translate`).checked, false);
    assert.equal(await asked('/translate good morning'), 'echo: /translate good morning');
    await click(browser, 'nav-skills');
    await browser.$(tid('skill-translate', '[data-enabled="false"]')).waitForDisplayed();
    shot('07-skills-page-after-tray-toggle');

    // No secret in the config, the logs, the data folder, or the page.
    const html = await browser.getPageSource();
    for (const secret of [APP_SECRET, PROVIDER_KEY]) {
      assert.ok(!html.includes(secret), 'a secret is in the page');
      for (const [file, text] of readTree(world.home)) {
        assert.ok(!text.includes(secret), `a secret is in ${file}`);
      }
    }
    const config = readFileSync(join(world.home, 'config.toml'), 'utf8');
    assert.match(config, new RegExp(`app_id = "${APP_ID}"`));
    assert.match(config, new RegExp(`owner = "${OWNER}"`));
  } catch (e) {
    shot('failure-wizard-qr');
    t.diagnostic(world.output().slice(-4000));
    throw e;
  }
});
