import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { SkillList } from './SkillList';
import { callsOf, emit, handlers } from '../test/tauri';
import type { SkillView } from '../api';

const weather: SkillView = {
  name: 'weather',
  description: '查天气',
  emoji: '🌤️',
  source: 'bundled',
  enabled: false,
  available: true,
  reason: null,
  keys: [],
  safety: 'ok',
};
const search: SkillView = {
  ...weather,
  name: 'web-search',
  description: '搜索',
  available: false,
  reason: { zh: '需要 TAVILY_API_KEY', en: 'Needs TAVILY_API_KEY' },
  keys: [{ name: 'TAVILY_API_KEY', set: false }],
};

describe('skill list', () => {
  it('toggles through set_skill_enabled and re-renders from the result', async () => {
    handlers.list_skills = () => [weather, search];
    handlers.set_skill_enabled = (a) => [{ ...weather, enabled: a.enabled as boolean }, search];
    render(<SkillList bot="小钳" />);
    const row = await screen.findByTestId('skill-weather');
    expect(row).toHaveAttribute('data-enabled', 'false');
    expect(screen.getByText('不可用')).toBeInTheDocument();
    fireEvent.click(screen.getByTestId('skill-toggle-weather'));
    await waitFor(() => expect(screen.getByTestId('skill-weather')).toHaveAttribute('data-enabled', 'true'));
    expect(callsOf('set_skill_enabled')).toEqual([{ bot: '小钳', skill: 'weather', enabled: true }]);
    expect(screen.getByTestId('skill-toggle-weather')).toHaveAttribute('aria-checked', 'true');
  });

  it('saves a missing key and reloads on skills-changed for this bot', async () => {
    handlers.list_skills = () => [weather, search];
    render(<SkillList bot="小钳" />);
    const key = await screen.findByTestId('skill-key-TAVILY_API_KEY');
    fireEvent.change(key, { target: { value: 'tvly-1' } });
    fireEvent.click(screen.getByTestId('skill-key-save-TAVILY_API_KEY'));
    await waitFor(() => expect(callsOf('set_skill_key')).toEqual([{ skill: 'web-search', name: 'TAVILY_API_KEY', value: 'tvly-1' }]));
    const before = callsOf('list_skills').length;
    handlers.list_skills = () => [{ ...weather, enabled: true }];
    await emit('skills-changed', { bot: '别的' });
    expect(callsOf('list_skills')).toHaveLength(before);
    await emit('skills-changed', { bot: '小钳' });
    await waitFor(() => expect(screen.getByTestId('skill-weather')).toHaveAttribute('data-enabled', 'true'));
  });
});
