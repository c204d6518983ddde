import { useCallback, useEffect, useState } from 'react';
import { List } from 'antd';
import { api, events, type SkillView } from '../api';
import { ErrorAlert } from '../components/ErrorAlert';
import { useEvent } from '../components/useEvent';
import { SkillRow } from './SkillRow';

interface Props {
  bot: string;
  /** Bump to reload (e.g. after a community install). */
  reloadKey?: number;
  maxHeight?: number;
}

/** A bot's installed skills with their switches (wizard step 4 and the Skills page). */
export function SkillList({ bot, reloadKey = 0, maxHeight }: Props) {
  const [skills, setSkills] = useState<SkillView[] | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    try {
      setSkills(await api.listSkills(bot));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [bot]);

  useEffect(() => {
    if (bot) void load();
  }, [bot, reloadKey, load]);

  // The tray toggles skills too.
  useEvent(events.skillsChanged, (b) => {
    if (b === bot) void load();
  });

  const toggle = async (name: string, enabled: boolean) => {
    setBusy(name);
    setError(null);
    try {
      setSkills(await api.setSkillEnabled(bot, name, enabled));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  return (
    <div>
      <ErrorAlert error={error} testId="skills-error" />
      <div className="pincer-scroll" style={{ maxHeight }}>
        <List
          loading={skills === null && error === null}
          dataSource={skills ?? []}
          rowKey="name"
          size="small"
          renderItem={(s) => (
            <SkillRow skill={s} busy={busy === s.name} onToggle={(on) => void toggle(s.name, on)} onKeySaved={() => void load()} />
          )}
        />
      </div>
    </div>
  );
}
