import { describe, expect, it } from 'vitest';
import zh from './zh-CN.json';
import en from './en.json';

function keys(o: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(o).flatMap(([k, v]) =>
    typeof v === 'object' && v !== null ? keys(v as Record<string, unknown>, `${prefix}${k}.`) : [`${prefix}${k}`],
  );
}

// Every non-test source file, as text (Vite's glob: no Node types needed).
const sources = import.meta.glob(['../**/*.{ts,tsx}', '!../**/*.test.{ts,tsx}'], { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

describe('translations', () => {
  const zhKeys = keys(zh).sort();
  const enKeys = keys(en).sort();

  it('every zh-CN key exists in en and vice versa', () => {
    expect(zhKeys.filter((k) => !enKeys.includes(k))).toEqual([]);
    expect(enKeys.filter((k) => !zhKeys.includes(k))).toEqual([]);
  });

  it('no empty strings', () => {
    const empty = (o: Record<string, unknown>) => keys(o).filter((k) => k.split('.').reduce<unknown>((a, p) => (a as Record<string, unknown>)[p], o) === '');
    expect(empty(zh)).toEqual([]);
    expect(empty(en)).toEqual([]);
  });

  it('every literal t("…") key used in the source exists', () => {
    const used = new Set<string>();
    for (const text of Object.values(sources)) {
      for (const m of text.matchAll(/\bt\('([a-zA-Z0-9_.]+)'/g)) used.add(m[1]);
    }
    expect(used.size).toBeGreaterThan(50);
    expect([...used].filter((k) => !zhKeys.includes(k))).toEqual([]);
  });
});
