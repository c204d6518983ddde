import { useState } from 'react';
import { Button, Collapse, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { SkillList } from '../skills/SkillList';
import { CommunitySkills } from '../skills/CommunitySkills';
import { ErrorAlert } from '../components/ErrorAlert';

/** Step 4: what the bot can do. */
export function StepSkills({ bot, onFinished }: { bot: string; onFinished: () => Promise<void> }) {
  const { t } = useTranslation();
  const [reload, setReload] = useState(0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const finish = async () => {
    setBusy(true);
    setError(null);
    try {
      await onFinished();
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  return (
    <div>
      <Typography.Title level={4} style={{ marginTop: 0 }}>
        {t('skills.wizardTitle')}
      </Typography.Title>
      <Typography.Paragraph type="secondary">{t('skills.wizardIntro')}</Typography.Paragraph>
      <SkillList bot={bot} reloadKey={reload} maxHeight={330} />
      <Collapse
        ghost
        size="small"
        style={{ marginTop: 8 }}
        items={[{ key: 'community', label: t('community.browse'), children: <CommunitySkills onInstalled={() => setReload((n) => n + 1)} /> }]}
      />
      <ErrorAlert error={error} testId="finish-error" />
      <div style={{ marginTop: 12, textAlign: 'right' }}>
        <Button type="primary" size="large" onClick={() => void finish()} loading={busy} data-testid="wizard-finish">
          {t('skills.finish')}
        </Button>
      </div>
    </div>
  );
}
