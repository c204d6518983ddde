import { useCallback, useEffect, useState } from 'react';
import { Card, Empty, List, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { api, events, type Conversation, type Turn } from '../api';
import { ErrorAlert } from '../components/ErrorAlert';
import { useEvent } from '../components/useEvent';
import { ChatBubble } from './ChatBubble';

function clock(at: number): string {
  const d = new Date(at * 1000);
  return `${d.getHours().toString().padStart(2, '0')}:${d.getMinutes().toString().padStart(2, '0')}`;
}

/** The bot's conversations and the transcript of the selected one. */
export function ConversationPanel({ bot }: { bot: string }) {
  const { t } = useTranslation();
  const [convs, setConvs] = useState<Conversation[] | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [turns, setTurns] = useState<Turn[]>([]);
  const [error, setError] = useState<unknown>(null);

  const loadList = useCallback(async () => {
    try {
      setConvs(await api.conversations(bot));
    } catch (e) {
      setError(e);
    }
  }, [bot]);

  const loadTranscript = useCallback(
    async (id: string) => {
      try {
        setTurns(await api.transcript(bot, id));
      } catch (e) {
        setError(e);
      }
    },
    [bot],
  );

  useEffect(() => {
    setSelected(null);
    setTurns([]);
    setConvs(null);
    void loadList();
  }, [bot, loadList]);

  useEvent(events.runtime, (e) => {
    if ((e.event === 'message_in' || e.event === 'reply_out') && e.bot === bot) {
      void loadList();
      if (selected) void loadTranscript(selected);
    }
  });

  const select = (id: string) => {
    setSelected(id);
    void loadTranscript(id);
  };

  return (
    <Card size="small" title={t('conv.title')} styles={{ body: { padding: 0 } }}>
      <ErrorAlert error={error} />
      <div style={{ display: 'flex', height: 300 }}>
        <div data-testid="conversation-list" className="pincer-scroll" style={{ width: 210, borderRight: '1px solid #f0f0f0' }}>
          <List
            size="small"
            dataSource={convs ?? []}
            loading={convs === null}
            rowKey="id"
            locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('conv.empty')} /> }}
            renderItem={(c) => (
              <List.Item
                data-testid="conversation-item"
                onClick={() => select(c.id)}
                style={{ cursor: 'pointer', padding: '8px 12px', background: c.id === selected ? '#fff4ec' : undefined }}
              >
                <div style={{ width: '100%', minWidth: 0 }}>
                  <div style={{ display: 'flex', justifyContent: 'space-between', gap: 4 }}>
                    <Typography.Text strong ellipsis style={{ maxWidth: 120 }}>
                      <Tag bordered={false} style={{ marginRight: 4 }}>
                        {t(`conv.scene.${c.scene}`)}
                      </Tag>
                      {c.peer}
                    </Typography.Text>
                    <Typography.Text type="secondary" style={{ fontSize: 11 }}>
                      {clock(c.lastAt)}
                    </Typography.Text>
                  </div>
                  <Typography.Text type="secondary" ellipsis style={{ fontSize: 12, display: 'block' }}>
                    {c.lastText}
                  </Typography.Text>
                </div>
              </List.Item>
            )}
          />
        </div>
        <div data-testid="transcript" className="pincer-scroll" style={{ flex: 1, padding: '8px 12px' }}>
          {selected === null ? (
            <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('conv.pick')} style={{ marginTop: 70 }} />
          ) : (
            turns.map((turn, i) => (
              <ChatBubble key={i} role={turn.role} text={turn.content} meta={[turn.sender, clock(turn.at)].filter(Boolean).join(' · ')} />
            ))
          )}
        </div>
      </div>
    </Card>
  );
}
