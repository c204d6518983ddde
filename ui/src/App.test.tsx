import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { App } from './App';
import { callsOf, handlers } from './test/tauri';
import type { Overview } from './api';

const overview: Overview = {
  bots: [{ name: '小钳', appId: '1', enabled: true, provider: 'deepseek', model: 'deepseek-chat', persona: '', hasOwner: true, dailyTokenCap: 0, dailyCostCap: null, currency: 'CNY' }],
  status: [],
};

function dashboardShell(locale: 'zh-CN' | 'en' = 'zh-CN') {
  handlers.app_info = () => ({ version: '0.1.0', locale, wizard: null, botCount: 1, dataDir: '/tmp/p' });
  handlers.overview = () => overview;
  handlers.conversations = () => [{ id: 'c1', scene: 'c2c', peer: 'ABCD', lastText: '你好', lastAt: 1700000000, turns: 2 }];
  handlers.transcript = () => [
    { role: 'user', sender: 'ABCD', content: '你好', at: 1700000000 },
    { role: 'assistant', sender: null, content: '你好呀！', at: 1700000001 },
  ];
  handlers.get_settings = () => ({ language: 'auto', autostart: false, closeToTray: true, dataDir: '/tmp/p' });
  handlers.set_settings = (a) => a.settings;
}

describe('app', () => {
  it('starts the wizard when there are no bots, at the saved step', async () => {
    handlers.app_info = () => ({ version: '0.1.0', locale: 'zh-CN', wizard: { step: 2, bot: '小钳', adding: false }, botCount: 0, dataDir: '/tmp/p' });
    handlers.persona_templates = () => [];
    render(<App />);
    const wizard = await screen.findByTestId('wizard');
    expect(wizard).toHaveAttribute('data-step', '2');
    expect(screen.getByTestId('bot-name')).toHaveValue('小钳');
  });

  it('switches language: visible text changes and the setting is saved', async () => {
    dashboardShell();
    render(<App />);
    await screen.findByTestId('dashboard');
    expect(screen.getByTestId('nav-dashboard')).toHaveTextContent('仪表盘');
    fireEvent.click(within(screen.getByTestId('lang-switch')).getByText('English'));
    await waitFor(() => expect(screen.getByTestId('nav-dashboard')).toHaveTextContent('Dashboard'));
    expect(screen.getByTestId('nav-settings')).toHaveTextContent('Settings');
    await waitFor(() => expect(callsOf('set_settings')).toEqual([{ settings: { language: 'en', autostart: false, closeToTray: true, dataDir: '/tmp/p' } }]));
    expect(document.documentElement.lang).toBe('en');
  });

  it('starts in the language app_info reports', async () => {
    dashboardShell('en');
    render(<App />);
    await screen.findByTestId('dashboard');
    await waitFor(() => expect(screen.getByTestId('nav-skills')).toHaveTextContent('Skills'));
  });

  it('shows conversations, a transcript and a test chat', async () => {
    dashboardShell();
    handlers.test_chat = (a) => `回声：${String(a.text)}`;
    render(<App />);
    const item = await screen.findByTestId('conversation-item');
    fireEvent.click(item);
    await waitFor(() => expect(screen.getByTestId('transcript')).toHaveTextContent('你好呀！'));
    fireEvent.change(screen.getByTestId('test-chat-input'), { target: { value: '在吗' } });
    fireEvent.click(screen.getByTestId('test-chat-send'));
    await waitFor(() => expect(screen.getByTestId('test-chat-log')).toHaveTextContent('回声：在吗'));
    expect(callsOf('test_chat')).toEqual([{ bot: '小钳', text: '在吗' }]);
  });
});
