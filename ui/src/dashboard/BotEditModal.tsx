import { useEffect, useState } from 'react';
import { Alert, Form, Input, InputNumber, Modal, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { api, type BotSummary } from '../api';
import { useErrorText } from '../components/useErrorText';

interface Props {
  bot: BotSummary;
  open: boolean;
  onClose: () => void;
  onSaved: () => void;
}

/** A bot's persona and daily caps, edited on the dashboard; empty caps mean none. */
export function BotEditModal({ bot, open, onClose, onSaved }: Props) {
  const { t } = useTranslation();
  const errText = useErrorText();
  const [persona, setPersona] = useState(bot.persona);
  const [tokenCap, setTokenCap] = useState<number | null>(bot.dailyTokenCap || null);
  const [costCap, setCostCap] = useState<number | null>(bot.dailyCostCap);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<unknown>(null);

  // Each opening starts from what is saved. Only an opening: the dashboard
  // refreshes `bot` on every status event, which must not undo typing.
  useEffect(() => {
    if (!open) return;
    setPersona(bot.persona);
    setTokenCap(bot.dailyTokenCap || null);
    setCostCap(bot.dailyCostCap);
    setError(null);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open]);

  const save = async () => {
    setSaving(true);
    setError(null);
    try {
      await api.editBot(bot.name, { persona, dailyTokenCap: tokenCap, dailyCostCap: costCap });
      onSaved();
      onClose();
    } catch (e) {
      setError(e);
    } finally {
      setSaving(false);
    }
  };

  return (
    <Modal
      open={open}
      title={t('dashboard.editTitle', { name: bot.name })}
      okText={t('common.save')}
      cancelText={t('common.cancel')}
      confirmLoading={saving}
      onOk={() => void save()}
      onCancel={onClose}
      destroyOnHidden
    >
      <Form layout="vertical">
        <Form.Item label={t('dashboard.persona')}>
          <Input.TextArea rows={4} value={persona} onChange={(e) => setPersona(e.target.value)} data-testid="bot-edit-persona" />
        </Form.Item>
        <Form.Item label={t('dashboard.tokenCap')}>
          <InputNumber
            style={{ width: '100%' }}
            min={1}
            precision={0}
            step={10000}
            placeholder={t('dashboard.noCap')}
            value={tokenCap}
            onChange={(v) => setTokenCap(v)}
            addonAfter="tokens"
            data-testid="bot-edit-token-cap"
          />
        </Form.Item>
        <Form.Item label={t('dashboard.costCap')}>
          <InputNumber
            style={{ width: '100%' }}
            min={0.01}
            precision={2}
            step={1}
            placeholder={t('dashboard.noCap')}
            value={costCap}
            onChange={(v) => setCostCap(v)}
            addonAfter={bot.currency}
            data-testid="bot-edit-cost-cap"
          />
        </Form.Item>
        <Typography.Paragraph type="secondary" style={{ fontSize: 12, marginBottom: 0 }}>
          {t('dashboard.capHint')}
        </Typography.Paragraph>
      </Form>
      {error !== null && <Alert type="error" showIcon message={errText(error)} style={{ marginTop: 12 }} />}
    </Modal>
  );
}
