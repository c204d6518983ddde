import { Tag } from 'antd';
import { useTranslation } from 'react-i18next';

/** The safety verdict of a skill's scan. */
export function SafetyTag({ safety }: { safety: 'ok' | 'warn' | 'block' | null }) {
  const { t } = useTranslation();
  if (!safety) return null;
  const color = safety === 'ok' ? 'green' : safety === 'warn' ? 'orange' : 'red';
  return <Tag color={color}>{t(`safety.${safety}`)}</Tag>;
}
