import { useState } from 'react';
import { Card, Empty, Select, Space, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import type { BotSummary } from '../api';
import { SkillList } from './SkillList';
import { CommunitySkills } from './CommunitySkills';

/** Installed skills of one bot, and the community registry. */
export function SkillsPage({ bots }: { bots: BotSummary[] }) {
  const { t } = useTranslation();
  const [picked, setPicked] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const bot = picked && bots.some((b) => b.name === picked) ? picked : (bots[0]?.name ?? null);
  return (
    <div data-testid="skills-page">
      <Space style={{ marginBottom: 12, width: '100%', justifyContent: 'space-between' }}>
        <Typography.Title level={4} style={{ margin: 0 }}>
          {t('nav.skills')}
        </Typography.Title>
        {bots.length > 1 && (
          <Select
            value={bot}
            onChange={setPicked}
            style={{ width: 200 }}
            options={bots.map((b) => ({ value: b.name, label: b.name }))}
            data-testid="skills-bot"
          />
        )}
      </Space>
      {bot ? (
        <Card size="small" title={t('skills.installedTitle', { bot })} style={{ marginBottom: 16 }}>
          <SkillList bot={bot} reloadKey={reload} />
        </Card>
      ) : (
        <Empty description={t('dashboard.noBots')} />
      )}
      <Card size="small" title={t('community.title')}>
        <CommunitySkills onInstalled={() => setReload((n) => n + 1)} />
      </Card>
    </div>
  );
}
