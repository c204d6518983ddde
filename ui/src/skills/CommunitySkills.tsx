import { useState } from 'react';
import { Alert, Button, Input, List, Progress, Space, Tag, Typography } from 'antd';
import { CloudDownloadOutlined, DownloadOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { api, events, type CommunitySkill, type InstallProgress } from '../api';
import { ErrorAlert } from '../components/ErrorAlert';
import { useBilingual } from '../components/useErrorText';
import { useEvent } from '../components/useEvent';
import { formatCount } from '../components/formatCount';

const STAGE_PERCENT: Record<InstallProgress['stage'], number> = { downloading: 35, checking: 75, installed: 100, failed: 100 };

/** Search the community registry and install a skill (with the safety scan's verdict). */
export function CommunitySkills({ onInstalled }: { onInstalled: () => void }) {
  const { t } = useTranslation();
  const bi = useBilingual();
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<CommunitySkill[] | null>(null);
  const [searching, setSearching] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [progress, setProgress] = useState<Record<string, InstallProgress>>({});
  const [installing, setInstalling] = useState<string | null>(null);

  useEvent(events.installProgress, (p) => setProgress((o) => ({ ...o, [p.slug]: p })));

  const search = async (q: string) => {
    setSearching(true);
    setError(null);
    try {
      setResults(await api.searchSkills(q.trim()));
    } catch (e) {
      setError(e);
    } finally {
      setSearching(false);
    }
  };

  const install = async (slug: string) => {
    setInstalling(slug);
    setProgress((o) => ({ ...o, [slug]: { slug, stage: 'downloading', verdict: null, findings: [], error: null } }));
    try {
      const p = await api.installSkill(slug);
      setProgress((o) => ({ ...o, [slug]: p }));
      if (p.stage === 'installed') {
        setResults((rs) => rs?.map((r) => (r.slug === slug ? { ...r, installed: true } : r)) ?? rs);
        onInstalled();
      }
    } catch (e) {
      setProgress((o) => ({ ...o, [slug]: { slug, stage: 'failed', verdict: null, findings: [], error: e as never } }));
    } finally {
      setInstalling(null);
    }
  };

  const renderProgress = (p: InstallProgress | undefined) => {
    if (!p) return null;
    if (p.stage === 'downloading' || p.stage === 'checking') {
      return (
        <div style={{ maxWidth: 320 }}>
          <Progress percent={STAGE_PERCENT[p.stage]} size="small" status="active" format={() => t(`community.stage.${p.stage}`)} />
        </div>
      );
    }
    const type = p.stage === 'failed' || p.verdict === 'block' ? 'error' : p.verdict === 'warn' ? 'warning' : 'success';
    const message =
      p.verdict === 'block'
        ? t('community.blocked')
        : p.stage === 'failed'
          ? p.error
            ? bi(p.error.zh, p.error.en)
            : t('community.failed')
          : p.verdict === 'warn'
            ? t('community.installedWarn')
            : t('community.installedOk');
    return (
      <Alert
        type={type}
        showIcon
        style={{ marginTop: 6, padding: '6px 12px' }}
        message={message}
        description={
          p.findings.length > 0 ? (
            <ul style={{ margin: 0, paddingLeft: 18 }}>
              {p.findings.map((f, i) => (
                <li key={i}>{f}</li>
              ))}
            </ul>
          ) : undefined
        }
      />
    );
  };

  return (
    <div data-testid="community-skills">
      <Input.Search
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        onSearch={(q) => void search(q)}
        placeholder={t('community.placeholder')}
        enterButton={t('community.search')}
        loading={searching}
        allowClear
        data-testid="community-search"
      />
      <ErrorAlert error={error} />
      {results !== null && (
        <List
          size="small"
          style={{ marginTop: 8 }}
          dataSource={results}
          rowKey="slug"
          locale={{ emptyText: t('community.empty') }}
          renderItem={(r) => (
            <List.Item
              data-testid={`community-${r.slug}`}
              actions={[
                <Button
                  key="install"
                  size="small"
                  type={r.installed ? 'default' : 'primary'}
                  icon={<CloudDownloadOutlined />}
                  disabled={r.installed || (installing !== null && installing !== r.slug)}
                  loading={installing === r.slug}
                  onClick={() => void install(r.slug)}
                  data-testid={`install-${r.slug}`}
                >
                  {r.installed ? t('community.installed') : t('community.install')}
                </Button>,
              ]}
            >
              <List.Item.Meta
                title={
                  <Space size={6}>
                    <Typography.Text strong>{r.name}</Typography.Text>
                    {r.version && <Tag bordered={false}>v{r.version}</Tag>}
                    <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                      <DownloadOutlined /> {formatCount(r.downloads)}
                    </Typography.Text>
                  </Space>
                }
                description={
                  <>
                    <Typography.Paragraph type="secondary" ellipsis={{ rows: 2 }} style={{ marginBottom: 0 }}>
                      {r.summary}
                    </Typography.Paragraph>
                    {renderProgress(progress[r.slug])}
                  </>
                }
              />
            </List.Item>
          )}
        />
      )}
    </div>
  );
}
