import { Typography } from 'antd';

/** One message, right (you) or left (the bot). */
export function ChatBubble({ role, text, meta }: { role: 'user' | 'assistant'; text: string; meta?: string | null }) {
  return (
    <div className={`pincer-bubble-row ${role}`}>
      <div style={{ maxWidth: '80%', minWidth: 0 }}>
        {meta && (
          <Typography.Text type="secondary" style={{ fontSize: 11, display: 'block', textAlign: role === 'user' ? 'right' : 'left' }}>
            {meta}
          </Typography.Text>
        )}
        <div className={`pincer-bubble ${role}`}>{text}</div>
      </div>
    </div>
  );
}
