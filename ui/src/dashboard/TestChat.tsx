import { useEffect, useRef, useState } from 'react';
import { Alert, Button, Card, Input, Space, Spin, Typography } from 'antd';
import { SendOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { api } from '../api';
import { useErrorText } from '../components/useErrorText';
import { ChatBubble } from './ChatBubble';

interface Line {
  role: 'user' | 'assistant';
  text: string;
}

/** Talk to the bot right here, without QQ. */
export function TestChat({ bot }: { bot: string }) {
  const { t } = useTranslation();
  const errText = useErrorText();
  const [text, setText] = useState('');
  const [log, setLog] = useState<Line[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    setLog([]);
    setError(null);
  }, [bot]);
  useEffect(() => {
    // Scroll only the log, never the page.
    if (box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [log, busy]);

  const send = async () => {
    const msg = text.trim();
    if (!msg || busy) return;
    setText('');
    setError(null);
    setLog((l) => [...l, { role: 'user', text: msg }]);
    setBusy(true);
    try {
      const reply = await api.testChat(bot, msg);
      setLog((l) => [...l, { role: 'assistant', text: reply }]);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card size="small" title={t('testChat.title')} styles={{ body: { padding: 8 } }}>
      <div ref={box} data-testid="test-chat-log" className="pincer-scroll" style={{ height: 214, padding: '0 4px' }}>
        {log.length === 0 && !busy && (
          <Typography.Paragraph type="secondary" style={{ fontSize: 12, margin: '8px 4px' }}>
            {t('testChat.hint')}
          </Typography.Paragraph>
        )}
        {log.map((l, i) => (
          <ChatBubble key={i} role={l.role} text={l.text} />
        ))}
        {busy && <Spin size="small" style={{ margin: '6px 8px' }} data-testid="test-chat-spinner" />}
        {error !== null && <Alert type="error" showIcon message={errText(error)} style={{ marginTop: 6 }} data-testid="test-chat-error" />}
      </div>
      <Space.Compact style={{ width: '100%', marginTop: 8 }}>
        <Input
          value={text}
          onChange={(e) => setText(e.target.value)}
          onPressEnter={() => void send()}
          placeholder={t('testChat.placeholder')}
          data-testid="test-chat-input"
        />
        <Button type="primary" icon={<SendOutlined />} onClick={() => void send()} loading={busy} data-testid="test-chat-send">
          {t('testChat.send')}
        </Button>
      </Space.Compact>
    </Card>
  );
}
