import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { BotCard } from './BotCard';
import { callsOf, handlers } from '../test/tauri';
import type { BotStatus, BotSummary } from '../api';
import i18n from '../i18n';

const bot: BotSummary = { name: '小钳', appId: '1', enabled: true, provider: 'deepseek', model: 'deepseek-chat', persona: '', hasOwner: false, dailyTokenCap: 1000, dailyCostCap: null, currency: 'CNY' };
const now = Math.floor(Date.now() / 1000);
const status: BotStatus = {
  name: '小钳',
  app_id: '1',
  state: 'ready',
  since: now - 100,
  last_close_code: 4009,
  explanation: 'Online and receiving messages.',
  explanation_zh: '在线，正在接收消息。',
  heartbeat_rtt_ms: 42,
  heartbeat_rtts_ms: [40, 44, 42],
  last_ack_at: now - 5,
  resumes: 2,
  identifies: 1,
  events_in: 10,
  replies_out: 9,
  tokens_today: 500,
  cost_today: 0.12,
  pairing_code: '123456',
};

/** The editor's save button (antd spaces two-character labels: "保 存"). */
const saveButton = () => screen.getByText(/^保\s?存$/).closest('button')!;

describe('bot card', () => {
  it('shows the pairing code, the state light and the explanation', () => {
    render(<BotCard bot={bot} status={status} selected={false} onSelect={() => undefined} onChanged={() => undefined} />);
    const card = screen.getByTestId('bot-card-小钳');
    expect(card).toHaveAttribute('data-state', 'ready');
    expect(card.querySelector('.ant-badge-status-success')).not.toBeNull();
    expect(screen.getByTestId('pairing-code')).toHaveTextContent('123456');
    expect(screen.getByText('在线')).toBeInTheDocument();
    expect(screen.getByText('在线，正在接收消息。')).toBeInTheDocument();
    expect(screen.getByTestId('last-heartbeat')).toHaveTextContent(/上次心跳 \d+ 秒前/);
    expect(screen.getByText('50%')).toBeInTheDocument();
  });

  it("groups today's tokens by thousands", () => {
    render(<BotCard bot={bot} status={{ ...status, tokens_today: 1124710 }} selected={false} onSelect={() => undefined} onChanged={() => undefined} />);
    expect(screen.getByText(/今日 1,124,710 tokens · 0.12 CNY/)).toBeInTheDocument();
  });

  it('edits the persona and daily caps, and shows a refusal without closing', async () => {
    const onChanged = vi.fn();
    const onSelect = vi.fn();
    const { rerender } = render(<BotCard bot={{ ...bot, persona: '你是小钳。' }} status={status} selected={false} onSelect={onSelect} onChanged={onChanged} />);
    fireEvent.click(screen.getByTestId('edit-小钳'));
    expect(onSelect).not.toHaveBeenCalled();
    const persona = await screen.findByTestId('bot-edit-persona');
    expect(persona).toHaveValue('你是小钳。');
    expect(screen.getByTestId('bot-edit-token-cap')).toHaveValue('1000');
    expect(screen.getByTestId('bot-edit-cost-cap')).toHaveValue('');

    // The shell refuses: the reason shows and the editor stays open.
    handlers.edit_bot = () => {
      throw { zh: '每日花费上限必须大于 0；不设上限请留空。', en: 'the daily cost cap must be more than 0' };
    };
    fireEvent.change(persona, { target: { value: '你是小钳，说话简短。' } });
    // A status refresh while typing (a new `bot` object) keeps what was typed.
    rerender(<BotCard bot={{ ...bot, persona: '你是小钳。' }} status={{ ...status, events_in: 11 }} selected={false} onSelect={onSelect} onChanged={onChanged} />);
    expect(screen.getByTestId('bot-edit-persona')).toHaveValue('你是小钳，说话简短。');
    fireEvent.click(saveButton());
    expect(await screen.findByText('每日花费上限必须大于 0；不设上限请留空。')).toBeInTheDocument();
    expect(onChanged).not.toHaveBeenCalled();

    // Accepted: no token cap (emptied), a cost cap; the editor closes.
    handlers.edit_bot = () => ({ ...bot, persona: '你是小钳，说话简短。', dailyTokenCap: 0, dailyCostCap: 3 });
    fireEvent.change(screen.getByTestId('bot-edit-token-cap'), { target: { value: '' } });
    fireEvent.change(screen.getByTestId('bot-edit-cost-cap'), { target: { value: '3' } });
    fireEvent.click(saveButton());
    await waitFor(() => expect(onChanged).toHaveBeenCalledTimes(1));
    expect(callsOf('edit_bot').slice(-1)[0]).toEqual({
      name: '小钳',
      edit: { persona: '你是小钳，说话简短。', dailyTokenCap: null, dailyCostCap: 3 },
    });
    // Closing (jsdom never ends antd's leave animation, so it stays mounted).
    await waitFor(() => expect(screen.getByRole('dialog')).toHaveClass('ant-zoom-leave'));
  });

  it('uses red for fatal and English words after switching', async () => {
    await i18n.changeLanguage('en');
    render(
      <BotCard bot={bot} status={{ ...status, state: 'fatal', pairing_code: null }} selected={false} onSelect={() => undefined} onChanged={() => undefined} />,
    );
    const card = screen.getByTestId('bot-card-小钳');
    expect(card.querySelector('.ant-badge-status-error')).not.toBeNull();
    expect(screen.queryByTestId('pairing-code')).toBeNull();
    expect(screen.getByText('Stopped on error')).toBeInTheDocument();
    expect(screen.getByText('Online and receiving messages.')).toBeInTheDocument();
  });

  it('pauses, or resumes when paused', async () => {
    const onChanged = vi.fn();
    const { rerender } = render(<BotCard bot={bot} status={status} selected={false} onSelect={() => undefined} onChanged={onChanged} />);
    fireEvent.click(screen.getByTestId('pause-小钳'));
    await waitFor(() => expect(onChanged).toHaveBeenCalledTimes(1));
    expect(callsOf('pause_bot')).toEqual([{ name: '小钳' }]);
    rerender(<BotCard bot={bot} status={{ ...status, state: 'paused' }} selected={false} onSelect={() => undefined} onChanged={onChanged} />);
    expect(screen.getByTestId('bot-card-小钳').querySelector('.ant-badge-status-default')).not.toBeNull();
    fireEvent.click(screen.getByTestId('pause-小钳'));
    await waitFor(() => expect(onChanged).toHaveBeenCalledTimes(2));
    expect(callsOf('resume_bot')).toEqual([{ name: '小钳' }]);
  });
});
