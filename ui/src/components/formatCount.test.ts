import { describe, expect, it } from 'vitest';
import { formatCount } from './formatCount';

describe('formatCount', () => {
  it('groups thousands with commas', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(999)).toBe('999');
    expect(formatCount(1000)).toBe('1,000');
    expect(formatCount(1124710)).toBe('1,124,710');
    expect(formatCount(-25000)).toBe('-25,000');
    expect(formatCount(1234.6)).toBe('1,235');
  });
});
