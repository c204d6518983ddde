import { useState } from 'react';
import { Alert, AutoComplete, Button, Form, Input, Space, Typography } from 'antd';
import { ExportOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { api, type ProviderChoice, type ProviderTestResult } from '../api';
import { ErrorAlert } from '../components/ErrorAlert';

export interface ProviderFormValue {
  preset: string;
  baseUrl: string;
  model: string;
  apiKey: string;
}

interface Props {
  value: ProviderFormValue;
  onChange: (v: ProviderFormValue) => void;
  models: string[];
  needsKey: boolean;
  hasKey: boolean;
  signupUrl: string;
  /** Saves the choice; the caller moves on. */
  onNext: (choice: ProviderChoice) => Promise<void>;
  nextLabel: string;
}

/** The ProviderChoice a form value stands for: an empty key is `null` ("keep the saved one"). */
export function toChoice(v: ProviderFormValue): ProviderChoice {
  return { preset: v.preset, baseUrl: v.baseUrl.trim(), model: v.model.trim(), apiKey: v.apiKey.trim() ? v.apiKey.trim() : null };
}

/** Base URL, model, key; test and save. */
export function ProviderForm({ value, onChange, models, needsKey, hasKey, signupUrl, onNext, nextLabel }: Props) {
  const { t } = useTranslation();
  const [testing, setTesting] = useState(false);
  const [saving, setSaving] = useState(false);
  const [result, setResult] = useState<ProviderTestResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const set = (patch: Partial<ProviderFormValue>) => {
    setResult(null);
    setError(null);
    onChange({ ...value, ...patch });
  };

  const test = async () => {
    setTesting(true);
    setResult(null);
    setError(null);
    try {
      setResult(await api.testProvider(toChoice(value)));
    } catch (e) {
      setError(e);
    } finally {
      setTesting(false);
    }
  };

  const next = async () => {
    setSaving(true);
    setError(null);
    try {
      await onNext(toChoice(value));
    } catch (e) {
      setError(e);
    } finally {
      setSaving(false);
    }
  };

  return (
    <Form layout="vertical" requiredMark={false} style={{ marginTop: 16 }}>
      <div style={{ display: 'flex', gap: 16 }}>
        <Form.Item label={t('model.baseUrl')} style={{ flex: 3, marginBottom: 12 }}>
          <Input
            value={value.baseUrl}
            onChange={(e) => set({ baseUrl: e.target.value })}
            placeholder="https://api.example.com/v1"
            data-testid="provider-base-url"
          />
        </Form.Item>
        <Form.Item label={t('model.model')} style={{ flex: 2, marginBottom: 12 }}>
          <AutoComplete
            value={value.model}
            onChange={(v: string) => set({ model: v })}
            options={models.map((m) => ({ value: m }))}
            filterOption={(input, opt) => String(opt?.value ?? '').toLowerCase().includes(input.toLowerCase())}
          >
            <Input data-testid="provider-model" placeholder={t('model.modelPlaceholder')} />
          </AutoComplete>
        </Form.Item>
      </div>
      {needsKey && (
        <Form.Item
          label={
            <Space>
              {t('model.apiKey')}
              {signupUrl && (
                <Typography.Link onClick={() => void api.openUrl(signupUrl)} data-testid="provider-signup">
                  <ExportOutlined /> {t('model.getKey')}
                </Typography.Link>
              )}
            </Space>
          }
          style={{ marginBottom: 12 }}
        >
          <Input.Password
            value={value.apiKey}
            onChange={(e) => set({ apiKey: e.target.value })}
            placeholder={hasKey ? t('model.keyInKeyring') : t('model.keyPlaceholder')}
            autoComplete="off"
            data-testid="provider-key"
          />
        </Form.Item>
      )}
      {result && (
        <div data-testid="provider-test-result" style={{ marginBottom: 12 }}>
          <Alert
            type="success"
            showIcon
            message={
              <span>
                <Typography.Text strong>{t('model.testOk', { model: result.model, ms: result.latencyMs })}</Typography.Text>
                <br />
                {result.reply}
              </span>
            }
          />
        </div>
      )}
      {error !== null && (
        <div style={{ marginBottom: 12 }}>
          <ErrorAlert error={error} testId="provider-error" />
        </div>
      )}
      <Space>
        <Button onClick={() => void test()} loading={testing} disabled={!value.preset || !value.model.trim()} data-testid="provider-test">
          {t('model.test')}
        </Button>
        <Button type="primary" onClick={() => void next()} loading={saving} disabled={!value.preset || !value.model.trim()} data-testid="provider-next">
          {nextLabel}
        </Button>
      </Space>
    </Form>
  );
}
