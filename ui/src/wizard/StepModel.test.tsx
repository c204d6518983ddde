import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { StepModel } from './StepModel';
import { callsOf, handlers } from '../test/tauri';
import type { ProviderPreset } from '../api';

const deepseek: ProviderPreset = {
  id: 'deepseek',
  nameZh: 'DeepSeek 深度求索',
  nameEn: 'DeepSeek',
  kind: 'openai',
  baseUrl: 'https://api.deepseek.com/v1',
  defaultModel: 'deepseek-chat',
  models: ['deepseek-chat', 'deepseek-reasoner'],
  needsKey: true,
  local: false,
  signupUrl: 'https://platform.deepseek.com',
  hasKey: true,
};
const ollama: ProviderPreset = { ...deepseek, id: 'ollama', nameZh: 'Ollama', nameEn: 'Ollama', baseUrl: 'http://127.0.0.1:11434/v1', defaultModel: 'qwen2.5', models: [], needsKey: false, local: true, signupUrl: '', hasKey: false };

function setup() {
  handlers.provider_presets = () => [deepseek, ollama];
  handlers.detect_local = () => [{ preset: 'ollama', baseUrl: 'http://localhost:11434/v1', models: ['llama3', 'qwen3', 'gemma'] }];
  const onSaved = vi.fn();
  render(<StepModel bot="小钳" onSaved={onSaved} />);
  return { onSaved };
}

describe('wizard step 3: model', () => {
  it('sends apiKey null when the key field is empty', async () => {
    const { onSaved } = setup();
    fireEvent.click(await screen.findByTestId('preset-deepseek'));
    expect(screen.getByTestId('provider-base-url')).toHaveValue('https://api.deepseek.com/v1');
    expect(screen.getByTestId('provider-model')).toHaveValue('deepseek-chat');
    expect(screen.getByTestId('provider-key')).toHaveAttribute('placeholder', '已保存在系统钥匙串');
    fireEvent.click(screen.getByTestId('provider-next'));
    await waitFor(() => expect(onSaved).toHaveBeenCalled());
    expect(callsOf('save_provider')).toEqual([
      { bot: '小钳', choice: { preset: 'deepseek', baseUrl: 'https://api.deepseek.com/v1', model: 'deepseek-chat', apiKey: null } },
    ]);
  });

  it('sends the typed key, tests, and clears the key after saving', async () => {
    handlers.test_provider = () => ({ model: 'deepseek-chat', reply: '你好呀', latencyMs: 321 });
    const { onSaved } = setup();
    fireEvent.click(await screen.findByTestId('preset-deepseek'));
    fireEvent.change(screen.getByTestId('provider-model'), { target: { value: 'deepseek-reasoner' } });
    fireEvent.change(screen.getByTestId('provider-key'), { target: { value: 'sk-test-123' } });
    fireEvent.click(screen.getByTestId('provider-test'));
    expect(await screen.findByTestId('provider-test-result')).toHaveTextContent('你好呀');
    expect(screen.getByTestId('provider-test-result')).toHaveTextContent('321');
    fireEvent.click(screen.getByTestId('provider-next'));
    await waitFor(() => expect(onSaved).toHaveBeenCalled());
    const choice = { preset: 'deepseek', baseUrl: 'https://api.deepseek.com/v1', model: 'deepseek-reasoner', apiKey: 'sk-test-123' };
    expect(callsOf('test_provider')).toEqual([{ choice }]);
    expect(callsOf('save_provider')).toEqual([{ bot: '小钳', choice }]);
    expect(screen.getByTestId('provider-key')).toHaveValue('');
  });

  it('shows a test error and highlights a detected local server', async () => {
    handlers.test_provider = () => {
      throw { zh: '连不上 Ollama', en: 'Cannot reach Ollama' };
    };
    setup();
    expect(await screen.findByText('检测到：3 个模型')).toBeInTheDocument();
    fireEvent.click(screen.getByTestId('preset-ollama'));
    expect(screen.getByTestId('provider-base-url')).toHaveValue('http://localhost:11434/v1');
    expect(screen.getByTestId('provider-model')).toHaveValue('llama3');
    expect(screen.queryByTestId('provider-key')).toBeNull();
    fireEvent.click(screen.getByTestId('provider-test'));
    expect(await screen.findByTestId('provider-error')).toHaveTextContent('连不上 Ollama');
    // No custom preset from the shell: the UI adds one.
    fireEvent.click(screen.getByTestId('preset-custom'));
    expect(screen.getByTestId('provider-base-url')).toHaveValue('');
  });
});
