import { useTranslation } from 'react-i18next';
import type { UserError } from '../api';

function isUserError(e: unknown): e is UserError {
  return typeof e === 'object' && e !== null && 'zh' in e && 'en' in e;
}

/** Picks the text of a `UserError` (or anything a command rejected with) for the current language. */
export function errorText(e: unknown, lang: string): string {
  if (isUserError(e)) return lang === 'en' ? e.en : e.zh;
  if (typeof e === 'string') return e;
  if (e instanceof Error) return e.message;
  return String(e);
}

export function useErrorText(): (e: unknown) => string {
  const { i18n } = useTranslation();
  return (e: unknown) => errorText(e, i18n.language);
}

/** Picks the zh or en variant of a pair of strings. */
export function useBilingual(): (zh: string | null | undefined, en: string | null | undefined) => string {
  const { i18n } = useTranslation();
  return (zh, en) => (i18n.language === 'en' ? en || zh || '' : zh || en || '');
}
