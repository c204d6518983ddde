import { useState } from 'react';
import { Alert, Tabs, Typography } from 'antd';
import { QrcodeOutlined, FormOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import type { DraftBot } from '../api';
import { QrBind } from './QrBind';
import { ManualConnect } from './ManualConnect';

/** QQ allows this many bots per account. */
export const MAX_BOTS = 5;

interface Props {
  botCount: number;
  adding: boolean;
  onConnected: (draft: DraftBot) => void;
}

/** Step 1: connect QQ, by scanning a QR code (default) or by pasting AppID/AppSecret. */
export function StepConnect({ botCount, adding, onConnected }: Props) {
  const { t } = useTranslation();
  const [tab, setTab] = useState<'qr' | 'manual'>('qr');
  return (
    <div>
      <Typography.Title level={4} style={{ marginTop: 0 }}>
        {adding ? t('connect.titleAdding') : t('connect.title')}
      </Typography.Title>
      <Typography.Paragraph type="secondary">{t('connect.welcome')}</Typography.Paragraph>
      {botCount >= MAX_BOTS && (
        <Alert type="warning" showIcon style={{ marginBottom: 12 }} message={t('connect.maxBots', { max: MAX_BOTS })} />
      )}
      <Tabs
        activeKey={tab}
        onChange={(k) => setTab(k as 'qr' | 'manual')}
        items={[
          {
            key: 'qr',
            label: (
              <span data-testid="tab-qr">
                <QrcodeOutlined /> {t('connect.tabQr')}
              </span>
            ),
          },
          {
            key: 'manual',
            label: (
              <span data-testid="tab-manual">
                <FormOutlined /> {t('connect.tabManual')}
              </span>
            ),
          },
        ]}
      />
      {/* Only the active one is mounted: leaving the QR tab cancels the binding. */}
      {tab === 'qr' ? <QrBind onDone={onConnected} /> : <ManualConnect onConnected={onConnected} />}
    </div>
  );
}
