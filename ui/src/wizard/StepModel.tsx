import { useEffect, useState } from 'react';
import { Col, Row, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { api, type LocalServer, type ProviderPreset } from '../api';
import { ErrorAlert } from '../components/ErrorAlert';
import { useBilingual } from '../components/useErrorText';
import { PresetCard } from './PresetCard';
import { ProviderForm, type ProviderFormValue } from './ProviderForm';

/** Used when the shell has no `custom` preset: any OpenAI-compatible server. */
const CUSTOM: ProviderPreset = {
  id: 'custom',
  nameZh: '其他兼容 OpenAI 的服务',
  nameEn: 'Other OpenAI-compatible service',
  kind: 'openai',
  baseUrl: '',
  defaultModel: '',
  models: [],
  needsKey: true,
  local: false,
  signupUrl: '',
  hasKey: false,
};

/** Step 3: pick the model the bot thinks with. */
export function StepModel({ bot, onSaved }: { bot: string; onSaved: () => void }) {
  const { t } = useTranslation();
  const bi = useBilingual();
  const [presets, setPresets] = useState<ProviderPreset[]>([]);
  const [local, setLocal] = useState<LocalServer[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [value, setValue] = useState<ProviderFormValue>({ preset: '', baseUrl: '', model: '', apiKey: '' });

  useEffect(() => {
    api.providerPresets().then(
      (ps) => setPresets(ps.some((p) => p.id === 'custom') ? ps : [...ps, CUSTOM]),
      (e) => {
        setError(e);
        setPresets([CUSTOM]);
      },
    );
    api.detectLocal().then(setLocal, () => setLocal([]));
  }, []);

  const preset = presets.find((p) => p.id === value.preset);
  const detected = (id: string) => local.find((l) => l.preset === id);

  const select = (p: ProviderPreset) => {
    const d = detected(p.id);
    setValue({
      preset: p.id,
      baseUrl: d?.baseUrl ?? p.baseUrl,
      model: d?.models[0] ?? p.defaultModel,
      apiKey: '',
    });
  };

  const models = preset ? Array.from(new Set([...(detected(preset.id)?.models ?? []), ...preset.models])) : [];

  return (
    <div>
      <Typography.Title level={4} style={{ marginTop: 0 }}>
        {t('model.title')}
      </Typography.Title>
      <Typography.Paragraph type="secondary">{t('model.intro')}</Typography.Paragraph>
      <ErrorAlert error={error} />
      <Row gutter={[10, 10]}>
        {presets.map((p) => (
          <Col key={p.id} span={6}>
            <PresetCard
              id={p.id}
              name={bi(p.nameZh, p.nameEn)}
              local={p.local}
              hasKey={p.hasKey && p.needsKey}
              detected={detected(p.id)}
              selected={value.preset === p.id}
              onSelect={() => select(p)}
            />
          </Col>
        ))}
      </Row>
      {preset ? (
        <ProviderForm
          value={value}
          onChange={setValue}
          models={models}
          needsKey={preset.needsKey}
          hasKey={preset.hasKey}
          signupUrl={preset.signupUrl}
          nextLabel={t('common.next')}
          onNext={async (choice) => {
            await api.saveProvider(bot, choice);
            // Never keep a key on screen once it is saved.
            setValue((v) => ({ ...v, apiKey: '' }));
            onSaved();
          }}
        />
      ) : (
        <Typography.Paragraph type="secondary" style={{ marginTop: 16 }}>
          {t('model.pickOne')}
        </Typography.Paragraph>
      )}
    </div>
  );
}
