import { useState } from 'react';
import { Button, Input, Space } from 'antd';
import { useTranslation } from 'react-i18next';
import { api } from '../api';
import { useErrorText } from '../components/useErrorText';

/** An unset API key a skill needs: typed once, saved to the keyring, never shown again. */
export function SkillKeyField({ skill, name, onSaved }: { skill: string; name: string; onSaved: () => void }) {
  const { t } = useTranslation();
  const errText = useErrorText();
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.setSkillKey(skill, name, value.trim());
      setValue('');
      onSaved();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Space.Compact size="small" style={{ width: 340 }}>
      <Input.Password
        value={value}
        onChange={(e) => setValue(e.target.value)}
        placeholder={name}
        status={error ? 'error' : undefined}
        title={error ? errText(error) : undefined}
        data-testid={`skill-key-${name}`}
        autoComplete="off"
      />
      <Button type="primary" onClick={() => void save()} loading={busy} disabled={!value.trim()} data-testid={`skill-key-save-${name}`}>
        {t('common.save')}
      </Button>
    </Space.Compact>
  );
}
