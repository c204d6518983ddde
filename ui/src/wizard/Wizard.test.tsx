import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { Wizard } from './Wizard';
import { callsOf, emit, handlers, listening } from '../test/tauri';
import type { DraftBot } from '../api';

const draft: DraftBot = { name: '小钳', appId: '102345678', qqName: '小钳机器人', hasOwner: true, persona: '' };

function renderWizard(step: 1 | 2 | 3 | 4 = 1) {
  const onFinished = vi.fn();
  render(<Wizard initial={{ step, bot: step > 1 ? '小钳' : null, adding: false }} botCount={0} onFinished={onFinished} />);
  return { onFinished };
}

describe('wizard step 1: manual', () => {
  it('shows the Chinese error and keeps what was typed', async () => {
    handlers.connect_manual = () => {
      throw { zh: 'AppSecret 不正确，请重新复制', en: 'Wrong AppSecret' };
    };
    renderWizard(1);
    fireEvent.click(screen.getByTestId('tab-manual'));
    const appId = await screen.findByTestId('app-id');
    fireEvent.change(appId, { target: { value: '102345678' } });
    fireEvent.change(screen.getByTestId('app-secret'), { target: { value: 'nope' } });
    fireEvent.click(screen.getByTestId('sandbox'));
    fireEvent.click(screen.getByTestId('manual-submit'));
    const err = await screen.findByTestId('connect-error');
    expect(err).toHaveTextContent('AppSecret 不正确，请重新复制');
    expect(err).not.toHaveTextContent('Wrong AppSecret');
    expect(callsOf('connect_manual')).toEqual([{ appId: '102345678', appSecret: 'nope', sandbox: true }]);
    expect(screen.getByTestId('app-id')).toHaveValue('102345678');
    expect(screen.getByTestId('app-secret')).toHaveValue('nope');
    expect(screen.getByTestId('wizard')).toHaveAttribute('data-step', '1');
  });

  it('moves to step 2 on success', async () => {
    handlers.connect_manual = () => draft;
    handlers.persona_templates = () => [];
    renderWizard(1);
    fireEvent.click(screen.getByTestId('tab-manual'));
    fireEvent.change(await screen.findByTestId('app-id'), { target: { value: '1' } });
    fireEvent.change(screen.getByTestId('app-secret'), { target: { value: 's' } });
    fireEvent.click(screen.getByTestId('manual-submit'));
    await waitFor(() => expect(screen.getByTestId('wizard')).toHaveAttribute('data-step', '2'));
    expect(screen.getByTestId('bot-name')).toHaveValue('小钳');
  });
});

describe('wizard step 1: QR', () => {
  it('follows bind-progress: waiting → scanned → done moves to step 2', async () => {
    handlers.persona_templates = () => [{ id: 'friendly', nameZh: '热心助手', nameEn: 'Friendly', text: '你很热心。' }];
    renderWizard(1);
    // Subscribes first, then starts.
    await waitFor(() => expect(callsOf('bind_start')).toHaveLength(1));
    expect(listening('bind-progress')).toBe(1);

    await emit('bind-progress', { kind: 'qr', qrUrl: 'https://q.qq.com/bind?x=1' });
    const qr = screen.getByTestId('qr-code');
    expect(qr).toHaveAttribute('data-state', 'waiting');
    expect(qr).toHaveAttribute('data-url', 'https://q.qq.com/bind?x=1');
    expect(screen.getByTestId('qr-status')).toHaveTextContent('请用手机 QQ 扫码');

    await emit('bind-progress', { kind: 'refreshed', qrUrl: 'https://q.qq.com/bind?x=2' });
    expect(screen.getByTestId('qr-code')).toHaveAttribute('data-url', 'https://q.qq.com/bind?x=2');

    await emit('bind-progress', { kind: 'scanned' });
    expect(screen.getByTestId('qr-code')).toHaveAttribute('data-state', 'scanned');
    expect(screen.getByTestId('qr-status')).toHaveTextContent('已扫码，请在手机上确认');

    await emit('bind-progress', { kind: 'pollFailed', error: { zh: '网络不稳定', en: 'Flaky network' } });
    expect(screen.getByText(/网络不稳定/)).toBeInTheDocument();

    await emit('bind-progress', { kind: 'done', bot: draft });
    await waitFor(() => expect(screen.getByTestId('wizard')).toHaveAttribute('data-step', '2'));
    expect(screen.getByTestId('bot-name')).toHaveValue('小钳');
    await waitFor(() => expect(callsOf('save_wizard')).toContainEqual({ progress: { step: 2, bot: '小钳', adding: false } }));
    // Done: no cancel, and the listener is gone.
    expect(callsOf('bind_cancel')).toHaveLength(0);
    expect(listening('bind-progress')).toBe(0);

    // Step 2 picks a template and creates the bot from the draft.
    handlers.create_bot = (a) => ({ name: `${String(a.name)}`, appId: '1', enabled: false, provider: null, model: null, persona: '', hasOwner: true, dailyTokenCap: 0, dailyCostCap: null, currency: 'CNY' });
    handlers.provider_presets = () => [];
    handlers.detect_local = () => [];
    fireEvent.click(await screen.findByTestId('persona-template-friendly'));
    expect(screen.getByTestId('persona-text')).toHaveValue('你很热心。');
    fireEvent.change(screen.getByTestId('bot-name'), { target: { value: '阿钳' } });
    fireEvent.click(screen.getByTestId('create-bot'));
    await waitFor(() => expect(screen.getByTestId('wizard')).toHaveAttribute('data-step', '3'));
    expect(callsOf('create_bot')).toEqual([{ draft: '小钳', name: '阿钳', persona: '你很热心。' }]);
  });

  it('shows a failure with a retry, and cancels when switching to the manual tab', async () => {
    renderWizard(1);
    await waitFor(() => expect(callsOf('bind_start')).toHaveLength(1));
    await emit('bind-progress', { kind: 'failed', error: { zh: '二维码服务不可用', en: 'QR service down' } });
    expect(screen.getByTestId('qr-code')).toHaveAttribute('data-state', 'failed');
    expect(screen.getByText('二维码服务不可用')).toBeInTheDocument();
    fireEvent.click(screen.getByTestId('qr-retry'));
    await waitFor(() => expect(callsOf('bind_start')).toHaveLength(2));
    fireEvent.click(screen.getByTestId('tab-manual'));
    await waitFor(() => expect(callsOf('bind_cancel')).toHaveLength(1));
  });
});
