import { useState } from 'react';
import { Col, Row, Spin, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import type { Overview } from '../api';
import { ErrorAlert } from '../components/ErrorAlert';
import { BotCard } from './BotCard';
import { AddBotButton } from './AddBotButton';
import { ConversationPanel } from './ConversationPanel';
import { TestChat } from './TestChat';

interface Props {
  overview: Overview | null;
  error: unknown;
  refresh: () => Promise<void>;
  onAddBot: () => void;
}

/** Bot cards, then conversations and a test chat for the selected bot. */
export function Dashboard({ overview, error, refresh, onAddBot }: Props) {
  const { t } = useTranslation();
  const [picked, setPicked] = useState<string | null>(null);
  const bots = overview?.bots ?? [];
  const selected = picked && bots.some((b) => b.name === picked) ? picked : (bots[0]?.name ?? null);

  return (
    <div data-testid="dashboard">
      <div style={{ display: 'flex', alignItems: 'center', justifyContent: 'space-between', marginBottom: 12 }}>
        <Typography.Title level={4} style={{ margin: 0 }}>
          {t('dashboard.title')}
        </Typography.Title>
        <AddBotButton count={bots.length} onAdd={onAddBot} />
      </div>
      <ErrorAlert error={error} />
      {overview === null && error === null && <Spin style={{ display: 'block', margin: '40px auto' }} />}
      <Row gutter={[12, 12]}>
        {bots.map((b) => (
          <Col key={b.name} span={bots.length === 1 ? 24 : 12}>
            <BotCard
              bot={b}
              status={overview?.status.find((s) => s.name === b.name)}
              selected={bots.length > 1 && b.name === selected}
              onSelect={() => setPicked(b.name)}
              onChanged={() => void refresh()}
            />
          </Col>
        ))}
      </Row>
      {selected && (
        <Row gutter={12} style={{ marginTop: 12 }}>
          <Col span={15}>
            <ConversationPanel bot={selected} />
          </Col>
          <Col span={9}>
            <TestChat bot={selected} />
          </Col>
        </Row>
      )}
    </div>
  );
}
