import { useEffect, useState } from 'react';
import { Button, Card, Form, List, Popconfirm, Select, Switch, Typography } from 'antd';
import { DeleteOutlined, ExportOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { api, type BotSummary, type Settings } from '../api';
import { ErrorAlert } from '../components/ErrorAlert';
import { ExportModal } from './ExportModal';

interface Props {
  bots: BotSummary[];
  dataDir: string;
  onRemoved: () => Promise<void>;
  onAllRemoved: () => void;
}

/** Language, autostart, tray, export, remove bots. */
export function SettingsPage({ bots, dataDir, onRemoved, onAllRemoved }: Props) {
  const { t, i18n } = useTranslation();
  const [settings, setSettingsState] = useState<Settings | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [toml, setToml] = useState<string | null>(null);
  const [exporting, setExporting] = useState(false);

  // Re-read when the language changes elsewhere (the header switch, the tray).
  useEffect(() => {
    api.getSettings().then(setSettingsState, setError);
  }, [i18n.language]);

  const update = async (patch: Partial<Settings>) => {
    if (!settings) return;
    setError(null);
    try {
      const saved = await api.setSettings({ ...settings, ...patch });
      setSettingsState(saved);
      if (patch.language) {
        const lang = saved.language === 'auto' ? (await api.appInfo()).locale : saved.language;
        await i18n.changeLanguage(lang);
      }
    } catch (e) {
      setError(e);
    }
  };

  const exportConfig = async () => {
    setExporting(true);
    setError(null);
    try {
      setToml(await api.exportConfig());
    } catch (e) {
      setError(e);
    } finally {
      setExporting(false);
    }
  };

  const remove = async (name: string) => {
    setError(null);
    try {
      await api.removeBot(name);
      await onRemoved();
      if (bots.length <= 1) onAllRemoved();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <div data-testid="settings-page" style={{ maxWidth: 760 }}>
      <Typography.Title level={4} style={{ marginTop: 0 }}>
        {t('nav.settings')}
      </Typography.Title>
      <ErrorAlert error={error} testId="settings-error" />
      <Card size="small" style={{ marginBottom: 16, marginTop: error ? 12 : 0 }}>
        <Form labelCol={{ span: 7 }} wrapperCol={{ span: 17 }} labelAlign="left" colon={false} style={{ padding: '4px 8px 0' }}>
          <Form.Item style={{ marginBottom: 12 }} label={t('settings.language')}>
            <Select
              value={settings?.language}
              disabled={!settings}
              style={{ width: 200 }}
              onChange={(v) => void update({ language: v })}
              options={[
                { value: 'auto', label: t('settings.langAuto') },
                { value: 'zh-CN', label: '中文' },
                { value: 'en', label: 'English' },
              ]}
              data-testid="settings-language"
            />
          </Form.Item>
          <Form.Item style={{ marginBottom: 12 }} label={t('settings.autostart')}>
            <Switch checked={settings?.autostart ?? false} disabled={!settings} onChange={(v) => void update({ autostart: v })} data-testid="settings-autostart" />
          </Form.Item>
          <Form.Item style={{ marginBottom: 12 }} label={t('settings.closeToTray')}>
            <Switch checked={settings?.closeToTray ?? false} disabled={!settings} onChange={(v) => void update({ closeToTray: v })} data-testid="settings-tray" />
          </Form.Item>
          <Form.Item style={{ marginBottom: 12 }} label={t('settings.dataDir')}>
            <Typography.Text code copyable>
              {settings?.dataDir || dataDir}
            </Typography.Text>
          </Form.Item>
          <Form.Item style={{ marginBottom: 12 }} label={t('settings.export')}>
            <Button icon={<ExportOutlined />} onClick={() => void exportConfig()} loading={exporting} data-testid="export-config">
              {t('settings.exportButton')}
            </Button>
          </Form.Item>
        </Form>
      </Card>
      <Card size="small" title={t('settings.bots')}>
        <List
          size="small"
          dataSource={bots}
          rowKey="name"
          renderItem={(b) => (
            <List.Item
              actions={[
                <Popconfirm
                  key="rm"
                  title={t('settings.removeConfirm', { name: b.name })}
                  okText={t('settings.remove')}
                  okButtonProps={{ danger: true }}
                  cancelText={t('common.cancel')}
                  onConfirm={() => remove(b.name)}
                >
                  <Button danger size="small" icon={<DeleteOutlined />} data-testid={`remove-${b.name}`}>
                    {t('settings.remove')}
                  </Button>
                </Popconfirm>,
              ]}
            >
              <List.Item.Meta title={b.name} description={`AppID ${b.appId}${b.model ? ` · ${b.model}` : ''}`} />
            </List.Item>
          )}
        />
      </Card>
      <ExportModal toml={toml} onClose={() => setToml(null)} />
    </div>
  );
}
