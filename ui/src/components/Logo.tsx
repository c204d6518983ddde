import { Typography } from 'antd';

export const BRAND = '#e8590c';

/** The text logo: 钳 Pincer. */
export function Logo() {
  return (
    <Typography.Text strong style={{ fontSize: 20, color: BRAND, whiteSpace: 'nowrap', letterSpacing: 0.5 }}>
      <span style={{ fontSize: 24, marginRight: 6 }}>钳</span>Pincer
    </Typography.Text>
  );
}
