import { Layout, Space } from 'antd';
import { Logo } from './Logo';
import { LangSwitch } from './LangSwitch';

/** Logo on the left, the language switch in the top-right corner. */
export function AppHeader({ extra }: { extra?: React.ReactNode }) {
  return (
    <Layout.Header
      style={{
        background: '#fff',
        borderBottom: '1px solid #f0e6e0',
        display: 'flex',
        alignItems: 'center',
        justifyContent: 'space-between',
        padding: '0 20px',
        height: 52,
        lineHeight: '52px',
      }}
    >
      <Logo />
      <Space size="middle">
        {extra}
        <LangSwitch />
      </Space>
    </Layout.Header>
  );
}
