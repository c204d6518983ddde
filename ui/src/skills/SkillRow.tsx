import { List, Space, Switch, Tag, Tooltip, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import type { SkillView } from '../api';
import { useBilingual } from '../components/useErrorText';
import { SafetyTag } from './SafetyTag';
import { SkillKeyField } from './SkillKeyField';

interface Props {
  skill: SkillView;
  busy: boolean;
  onToggle: (enabled: boolean) => void;
  onKeySaved: () => void;
}

/** One installed skill: emoji, name, description, switch, gating reason, missing keys. */
export function SkillRow({ skill, busy, onToggle, onKeySaved }: Props) {
  const { t } = useTranslation();
  const bi = useBilingual();
  const missing = skill.keys.filter((k) => !k.set);
  return (
    <List.Item
      data-testid={`skill-${skill.name}`}
      data-enabled={String(skill.enabled)}
      actions={[
        <Switch
          key="toggle"
          checked={skill.enabled}
          loading={busy}
          onChange={onToggle}
          data-testid={`skill-toggle-${skill.name}`}
          aria-label={skill.name}
        />,
      ]}
    >
      <List.Item.Meta
        avatar={<span style={{ fontSize: 22, lineHeight: '32px', width: 28, display: 'inline-block', textAlign: 'center' }}>{skill.emoji ?? '🧩'}</span>}
        title={
          <Space size={6} wrap>
            <Typography.Text strong>{skill.name}</Typography.Text>
            <Tag bordered={false}>{t(`skills.source.${skill.source}`)}</Tag>
            <SafetyTag safety={skill.safety} />
            {!skill.available && (
              <Tooltip title={skill.reason ? bi(skill.reason.zh, skill.reason.en) : undefined}>
                <Tag color="default">{t('skills.unavailable')}</Tag>
              </Tooltip>
            )}
          </Space>
        }
        description={
          <div>
            <Typography.Paragraph type="secondary" ellipsis={{ rows: 2 }} style={{ marginBottom: 0 }}>
              {skill.description}
            </Typography.Paragraph>
            {!skill.available && skill.reason && (
              <Typography.Text type="warning" style={{ fontSize: 12 }}>
                {bi(skill.reason.zh, skill.reason.en)}
              </Typography.Text>
            )}
            {missing.map((k) => (
              <div key={k.name} style={{ marginTop: 6 }}>
                <SkillKeyField skill={skill.name} name={k.name} onSaved={onKeySaved} />
              </div>
            ))}
          </div>
        }
      />
    </List.Item>
  );
}
