import { useState } from 'react';
import { Alert, Badge, Button, Card, Col, Progress, Row, Space, Statistic, Tooltip, Typography } from 'antd';
import { PauseCircleOutlined, PlayCircleOutlined, SettingOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { api, type BotStatus, type BotSummary } from '../api';
import { Sparkline } from '../components/Sparkline';
import { BRAND } from '../components/Logo';
import { useNow } from '../components/useNow';
import { formatCount } from '../components/formatCount';
import { useBilingual, useErrorText } from '../components/useErrorText';
import { stateBadge } from './botState';
import { BotEditModal } from './BotEditModal';

interface Props {
  bot: BotSummary;
  status: BotStatus | undefined;
  selected: boolean;
  onSelect: () => void;
  onChanged: () => void;
}

const small = { fontSize: 16 };

/** One bot's live status. */
export function BotCard({ bot, status, selected, onSelect, onChanged }: Props) {
  const { t } = useTranslation();
  const bi = useBilingual();
  const errText = useErrorText();
  const now = useNow();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState(false);
  const state: BotStatus['state'] = status?.state ?? (bot.enabled ? 'connecting' : 'stopped');
  const paused = state === 'paused';
  const rtts = status?.heartbeat_rtts_ms.slice(-60) ?? [];
  const lastRtt = status?.heartbeat_rtt_ms ?? rtts[rtts.length - 1] ?? null;
  const ago = status?.last_ack_at ? Math.max(0, now - status.last_ack_at) : null;
  const explanation = status ? bi(status.explanation_zh, status.explanation) : '';

  const toggle = async () => {
    setBusy(true);
    setError(null);
    try {
      if (paused) await api.resumeBot(bot.name);
      else await api.pauseBot(bot.name);
      onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <Card
        size="small"
        hoverable
        onClick={onSelect}
        className={selected ? 'pincer-card-selected' : undefined}
        data-testid={`bot-card-${bot.name}`}
        data-state={state}
        title={
          <span style={{ display: 'flex', alignItems: 'center', gap: 8 }}>
            <Badge status={stateBadge(state)} />
            <Typography.Text strong ellipsis style={{ maxWidth: 180 }}>
              {bot.name}
            </Typography.Text>
            <Typography.Text type="secondary" style={{ fontSize: 13, fontWeight: 400 }} data-testid="bot-state">
              {t(`state.${state}`)}
            </Typography.Text>
          </span>
        }
        extra={
          <Space size={6}>
            <Button
              size="small"
              icon={<SettingOutlined />}
              onClick={(e) => {
                e.stopPropagation();
                setEditing(true);
              }}
              data-testid={`edit-${bot.name}`}
            >
              {t('dashboard.edit')}
            </Button>
            <Button
              size="small"
              icon={paused ? <PlayCircleOutlined /> : <PauseCircleOutlined />}
              loading={busy}
              onClick={(e) => {
                e.stopPropagation();
                void toggle();
              }}
              data-testid={`pause-${bot.name}`}
            >
              {paused ? t('dashboard.resume') : t('dashboard.pause')}
            </Button>
          </Space>
        }
      >
        {status?.pairing_code && (
          <Alert
            type="warning"
            style={{ marginBottom: 10 }}
            message={
              <span>
                {t('dashboard.pairingLabel')}{' '}
                <Typography.Text strong copyable style={{ fontSize: 20, letterSpacing: 3, color: BRAND }} data-testid="pairing-code">
                  {status.pairing_code}
                </Typography.Text>
              </span>
            }
            description={t('dashboard.pairingHint')}
          />
        )}
        {explanation && (
          <Typography.Paragraph type={state === 'fatal' ? 'danger' : 'secondary'} style={{ fontSize: 13, marginBottom: 8 }}>
            {explanation}
          </Typography.Paragraph>
        )}
        {error !== null && <Alert type="error" showIcon message={errText(error)} style={{ marginBottom: 8 }} />}
        <div style={{ display: 'flex', alignItems: 'center', gap: 12, marginBottom: 8 }}>
          <Sparkline values={rtts} width={170} height={30} />
          <div style={{ lineHeight: 1.3 }}>
            <Typography.Text strong>{lastRtt !== null ? `${lastRtt.toFixed(lastRtt < 10 ? 1 : 0)} ms` : '—'}</Typography.Text>
            <br />
            <Typography.Text type="secondary" style={{ fontSize: 12 }} data-testid="last-heartbeat">
              {ago !== null ? t('dashboard.lastBeat', { n: ago }) : t('dashboard.noBeat')}
            </Typography.Text>
          </div>
        </div>
        <Row gutter={8}>
          <Col span={6}>
            <Statistic title={t('dashboard.eventsIn')} value={status?.events_in ?? 0} valueStyle={small} />
          </Col>
          <Col span={6}>
            <Statistic title={t('dashboard.repliesOut')} value={status?.replies_out ?? 0} valueStyle={small} />
          </Col>
          <Col span={6}>
            <Tooltip title={t('dashboard.reconnectsHint', { resumes: status?.resumes ?? 0, identifies: status?.identifies ?? 0 })}>
              <Statistic title={t('dashboard.reconnects')} value={`${status?.resumes ?? 0} / ${status?.identifies ?? 0}`} valueStyle={small} />
            </Tooltip>
          </Col>
          <Col span={6}>
            <Statistic title={t('dashboard.closeCode')} value={status?.last_close_code ?? '—'} groupSeparator="" valueStyle={small} />
          </Col>
        </Row>
        <div style={{ marginTop: 8, display: 'flex', alignItems: 'center', gap: 12 }}>
          <Typography.Text type="secondary" style={{ fontSize: 12, whiteSpace: 'nowrap' }}>
            {t('dashboard.today', {
              tokens: formatCount(status?.tokens_today ?? 0),
              cost: `${(status?.cost_today ?? 0).toFixed(2)} ${bot.currency}`,
            })}
          </Typography.Text>
          {bot.dailyTokenCap > 0 && (
            <Tooltip title={t('dashboard.cap', { cap: formatCount(bot.dailyTokenCap) })}>
              <Progress
                style={{ flex: 1, margin: 0 }}
                size="small"
                percent={Math.min(100, Math.round(((status?.tokens_today ?? 0) / bot.dailyTokenCap) * 100))}
                strokeColor={BRAND}
                status={(status?.tokens_today ?? 0) >= bot.dailyTokenCap ? 'exception' : 'normal'}
              />
            </Tooltip>
          )}
        </div>
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {bot.provider ? `${bot.provider} · ${bot.model ?? ''}` : t('dashboard.noModel')}
        </Typography.Text>
      </Card>
      <BotEditModal bot={bot} open={editing} onClose={() => setEditing(false)} onSaved={onChanged} />
    </>
  );
}
