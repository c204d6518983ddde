import { Segmented } from 'antd';
import { useTranslation } from 'react-i18next';
import { api, type Locale } from '../api';

/** 中文 / English, top right; persists the choice through `set_settings`. */
export function LangSwitch() {
  const { i18n } = useTranslation();
  const value: Locale = i18n.language === 'en' ? 'en' : 'zh-CN';
  const change = async (lang: Locale) => {
    await i18n.changeLanguage(lang);
    try {
      const s = await api.getSettings();
      await api.setSettings({ ...s, language: lang });
    } catch {
      // The switch still works for this session; the setting is best effort.
    }
  };
  return (
    <span data-testid="lang-switch">
      <Segmented<Locale>
        size="small"
        value={value}
        onChange={(v) => void change(v)}
        options={[
          { label: '中文', value: 'zh-CN' },
          { label: 'English', value: 'en' },
        ]}
      />
    </span>
  );
}
