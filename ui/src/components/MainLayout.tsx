import { useState } from 'react';
import { Layout, Menu } from 'antd';
import { AppstoreOutlined, DashboardOutlined, SettingOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import type { AppInfo } from '../api';
import { AppHeader } from './AppHeader';
import { Dashboard } from '../dashboard/Dashboard';
import { SkillsPage } from '../skills/SkillsPage';
import { SettingsPage } from '../settings/SettingsPage';
import { useOverview } from '../dashboard/useOverview';

type Page = 'dashboard' | 'skills' | 'settings';

interface Props {
  info: AppInfo | null;
  onAddBot: (botCount: number) => void;
  onAllRemoved: () => void;
}

/** Header, a narrow menu on the left, the page on the right. */
export function MainLayout({ info, onAddBot, onAllRemoved }: Props) {
  const { t } = useTranslation();
  const [page, setPage] = useState<Page>('dashboard');
  const { overview, error, refresh } = useOverview();
  const bots = overview?.bots ?? [];

  return (
    <Layout style={{ height: '100vh' }}>
      <AppHeader />
      <Layout>
        <Layout.Sider width={150} theme="light" style={{ borderRight: '1px solid #f0e6e0' }}>
          <Menu
            mode="inline"
            selectedKeys={[page]}
            onClick={(e) => setPage(e.key as Page)}
            style={{ borderInlineEnd: 'none', paddingTop: 8 }}
            items={[
              { key: 'dashboard', icon: <DashboardOutlined />, label: <span data-testid="nav-dashboard">{t('nav.dashboard')}</span> },
              { key: 'skills', icon: <AppstoreOutlined />, label: <span data-testid="nav-skills">{t('nav.skills')}</span> },
              { key: 'settings', icon: <SettingOutlined />, label: <span data-testid="nav-settings">{t('nav.settings')}</span> },
            ]}
          />
        </Layout.Sider>
        <Layout.Content className="pincer-scroll" style={{ padding: '16px 20px', background: '#faf7f5' }}>
          {page === 'dashboard' && <Dashboard overview={overview} error={error} refresh={refresh} onAddBot={() => onAddBot(bots.length)} />}
          {page === 'skills' && <SkillsPage bots={bots} />}
          {page === 'settings' && (
            <SettingsPage
              bots={bots}
              dataDir={info?.dataDir ?? ''}
              onRemoved={async () => {
                await refresh();
              }}
              onAllRemoved={onAllRemoved}
            />
          )}
        </Layout.Content>
      </Layout>
    </Layout>
  );
}
