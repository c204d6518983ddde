import '@testing-library/jest-dom/vitest';
import { afterEach, beforeEach, vi } from 'vitest';
import { cleanup } from '@testing-library/react';
import { invokeImpl, listenImpl, resetTauri } from './tauri';
import i18n from '../i18n';

vi.mock('@tauri-apps/api/core', () => ({ invoke: vi.fn((cmd: string, args?: Record<string, unknown>) => invokeImpl(cmd, args)) }));
vi.mock('@tauri-apps/api/event', () => ({
  listen: vi.fn((event: string, cb: Parameters<typeof listenImpl>[1]) => listenImpl(event, cb)),
}));

// jsdom lacks these; antd's responsive helpers need them.
if (!window.matchMedia) {
  Object.defineProperty(window, 'matchMedia', {
    writable: true,
    value: (query: string) => ({
      matches: false,
      media: query,
      onchange: null,
      addListener: () => undefined,
      removeListener: () => undefined,
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
      dispatchEvent: () => false,
    }),
  });
}

beforeEach(async () => {
  resetTauri();
  await i18n.changeLanguage('zh-CN');
});

afterEach(() => {
  cleanup();
});
