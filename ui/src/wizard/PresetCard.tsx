import { Card, Tag, Typography } from 'antd';
import { CheckCircleFilled } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import type { LocalServer } from '../api';

interface Props {
  id: string;
  name: string;
  local: boolean;
  hasKey: boolean;
  detected: LocalServer | undefined;
  selected: boolean;
  onSelect: () => void;
}

/** One selectable model provider in step 3. */
export function PresetCard({ id, name, local, hasKey, detected, selected, onSelect }: Props) {
  const { t } = useTranslation();
  return (
    <Card
      size="small"
      hoverable
      onClick={onSelect}
      data-testid={`preset-${id}`}
      className={selected ? 'pincer-card-selected' : undefined}
      style={{ height: '100%', background: detected ? '#f6ffed' : undefined }}
      styles={{ body: { padding: '10px 12px' } }}
    >
      <div style={{ display: 'flex', alignItems: 'center', justifyContent: 'space-between', gap: 4 }}>
        <Typography.Text strong style={{ lineHeight: 1.3 }}>
          {name}
        </Typography.Text>
        {selected && <CheckCircleFilled style={{ color: '#e8590c', flexShrink: 0 }} />}
      </div>
      <div style={{ marginTop: 4, minHeight: 22 }}>
        {local && <Tag color="green">{t('model.local')}</Tag>}
        {hasKey && <Tag color="blue">{t('model.keySaved')}</Tag>}
        {detected && (
          <Typography.Text type="success" style={{ fontSize: 12 }}>
            {t('model.detected', { count: detected.models.length })}
          </Typography.Text>
        )}
      </div>
    </Card>
  );
}
