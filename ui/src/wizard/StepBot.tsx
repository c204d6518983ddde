import { useEffect, useState } from 'react';
import { Button, Card, Col, Form, Input, Row, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { api, type DraftBot, type PersonaTemplate } from '../api';
import { ErrorAlert } from '../components/ErrorAlert';
import { useBilingual } from '../components/useErrorText';

interface Props {
  /** The DraftBot from step 1, or null when resumed after a restart. */
  draft: DraftBot | null;
  /** The draft's name (from the draft, or the saved wizard progress). */
  draftName: string;
  onCreated: (name: string) => void;
}

/** Step 2: name the bot and give it a persona. */
export function StepBot({ draft, draftName, onCreated }: Props) {
  const { t } = useTranslation();
  const bi = useBilingual();
  const [name, setName] = useState(draft?.name ?? draftName);
  const [persona, setPersona] = useState(draft?.persona ?? '');
  const [templates, setTemplates] = useState<PersonaTemplate[]>([]);
  const [picked, setPicked] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    api.personaTemplates().then((ts) => setTemplates(ts ?? []), setError);
  }, []);

  const create = async () => {
    setBusy(true);
    setError(null);
    try {
      const summary = await api.createBot(draft?.name ?? draftName, name.trim(), persona);
      onCreated(summary.name);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Form layout="vertical" requiredMark={false} onFinish={() => void create()}>
      <Typography.Title level={4} style={{ marginTop: 0 }}>
        {t('bot.title')}
      </Typography.Title>
      {draft && (
        <Typography.Paragraph type="secondary">{t('bot.connectedAs', { qqName: draft.qqName, appId: draft.appId })}</Typography.Paragraph>
      )}
      <Form.Item label={t('bot.name')} extra={t('bot.nameHint')} style={{ maxWidth: 360 }}>
        <Input value={name} onChange={(e) => setName(e.target.value)} data-testid="bot-name" maxLength={40} />
      </Form.Item>
      <Form.Item label={t('bot.persona')} style={{ marginBottom: 8 }}>
        <Row gutter={[8, 8]}>
          {templates.map((tp) => (
            <Col key={tp.id} span={6}>
              <Card
                size="small"
                hoverable
                className={picked === tp.id ? 'pincer-card-selected' : undefined}
                onClick={() => {
                  setPicked(tp.id);
                  setPersona(tp.text);
                }}
                data-testid={`persona-template-${tp.id}`}
                styles={{ body: { padding: '8px 12px' } }}
              >
                <Typography.Text strong ellipsis>
                  {bi(tp.nameZh, tp.nameEn)}
                </Typography.Text>
              </Card>
            </Col>
          ))}
        </Row>
      </Form.Item>
      <Form.Item>
        <Input.TextArea
          value={persona}
          onChange={(e) => setPersona(e.target.value)}
          autoSize={{ minRows: 4, maxRows: 8 }}
          placeholder={t('bot.personaPlaceholder')}
          data-testid="persona-text"
        />
      </Form.Item>
      {error !== null && (
        <div style={{ marginBottom: 12 }}>
          <ErrorAlert error={error} testId="create-error" />
        </div>
      )}
      <Button type="primary" htmlType="submit" loading={busy} disabled={!name.trim()} data-testid="create-bot">
        {t('bot.create')}
      </Button>
    </Form>
  );
}
