import { useState } from 'react';
import { Button, Checkbox, Col, Form, Input, Row, Typography } from 'antd';
import { ExportOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { api, type DraftBot } from '../api';
import { ErrorAlert } from '../components/ErrorAlert';

export const OPEN_PLATFORM_URL = 'https://q.qq.com/qqbot/';

/** Step 1, manual: paste the AppID and AppSecret from the QQ open platform. */
export function ManualConnect({ onConnected }: { onConnected: (draft: DraftBot) => void }) {
  const { t } = useTranslation();
  const [appId, setAppId] = useState('');
  const [secret, setSecret] = useState('');
  const [sandbox, setSandbox] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      const d = await api.connectManual(appId.trim(), secret.trim(), sandbox);
      onConnected(d);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Row gutter={32}>
      <Col span={11}>
        <Typography.Text strong>{t('manual.howTitle')}</Typography.Text>
        <ol style={{ paddingLeft: 20, lineHeight: 2, margin: '8px 0 12px' }}>
          <li>{t('manual.how1')}</li>
          <li>{t('manual.how2')}</li>
          <li>{t('manual.how3')}</li>
        </ol>
        <Button icon={<ExportOutlined />} onClick={() => void api.openUrl(OPEN_PLATFORM_URL)} data-testid="open-platform">
          {t('manual.openPlatform')}
        </Button>
      </Col>
      <Col span={13}>
        <Form layout="vertical" onFinish={() => void submit()} requiredMark={false}>
          <Form.Item label="AppID" style={{ marginBottom: 12 }}>
            <Input value={appId} onChange={(e) => setAppId(e.target.value)} data-testid="app-id" placeholder="102xxxxxx" autoComplete="off" />
          </Form.Item>
          <Form.Item label="AppSecret" style={{ marginBottom: 12 }}>
            <Input.Password value={secret} onChange={(e) => setSecret(e.target.value)} data-testid="app-secret" autoComplete="off" />
          </Form.Item>
          <Form.Item style={{ marginBottom: 12 }}>
            <Checkbox checked={sandbox} onChange={(e) => setSandbox(e.target.checked)} data-testid="sandbox">
              {t('manual.sandbox')}
            </Checkbox>
          </Form.Item>
          {error !== null && (
            <div style={{ marginBottom: 12 }}>
              <ErrorAlert error={error} testId="connect-error" />
            </div>
          )}
          <Button type="primary" htmlType="submit" loading={busy} data-testid="manual-submit">
            {t('manual.connect')}
          </Button>
        </Form>
      </Col>
    </Row>
  );
}
