import { useCallback, useEffect, useState } from 'react';
import { ConfigProvider, Result, Spin } from 'antd';
import zhCN from 'antd/locale/zh_CN';
import enUS from 'antd/locale/en_US';
import { useTranslation } from 'react-i18next';
import { api, events, type AppInfo, type WizardProgress } from './api';
import { Wizard } from './wizard/Wizard';
import { MainLayout } from './components/MainLayout';
import { useErrorText } from './components/useErrorText';
import i18nInstance from './i18n';
import { useEvent } from './components/useEvent';
import { BRAND } from './components/Logo';

type Mode = { kind: 'loading' } | { kind: 'error'; error: unknown } | { kind: 'wizard'; progress: WizardProgress } | { kind: 'main' };

export function App() {
  const { i18n } = useTranslation();
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [mode, setMode] = useState<Mode>({ kind: 'loading' });
  const errText = useErrorText();

  const load = useCallback(async () => {
    try {
      const ai = await api.appInfo();
      await i18nInstance.changeLanguage(ai.locale);
      setInfo(ai);
      if (ai.wizard) setMode({ kind: 'wizard', progress: ai.wizard });
      else if (ai.botCount === 0) setMode({ kind: 'wizard', progress: { step: 1, bot: null, adding: false } });
      else setMode({ kind: 'main' });
    } catch (e) {
      setMode({ kind: 'error', error: e });
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  // The tray can change the language: follow it.
  useEvent<void>(
    (f) => events.overviewChanged(() => f()),
    () => {
      api.appInfo().then(
        (ai) => {
          if (ai.locale !== (i18nInstance.language === 'en' ? 'en' : 'zh-CN')) void i18nInstance.changeLanguage(ai.locale);
        },
        () => undefined,
      );
    },
  );

  useEffect(() => {
    document.documentElement.lang = i18n.language === 'en' ? 'en' : 'zh-CN';
  }, [i18n.language]);

  const refreshInfo = async () => {
    try {
      setInfo(await api.appInfo());
    } catch {
      /* keep the old one */
    }
  };

  let body: React.ReactNode;
  if (mode.kind === 'loading') {
    body = <Spin size="large" style={{ display: 'block', marginTop: 240 }} />;
  } else if (mode.kind === 'error') {
    body = <Result status="error" title={errText(mode.error)} />;
  } else if (mode.kind === 'wizard') {
    body = (
      <Wizard
        initial={mode.progress}
        botCount={info?.botCount ?? 0}
        onFinished={() => {
          void refreshInfo();
          setMode({ kind: 'main' });
        }}
        onCancel={
          mode.progress.adding
            ? () => {
                void api.saveWizard(null).catch(() => undefined);
                void refreshInfo();
                setMode({ kind: 'main' });
              }
            : undefined
        }
      />
    );
  } else {
    body = (
      <MainLayout
        info={info}
        onAddBot={(botCount) => {
          setInfo((i) => (i ? { ...i, botCount } : i));
          setMode({ kind: 'wizard', progress: { step: 1, bot: null, adding: true } });
        }}
        onAllRemoved={() => setMode({ kind: 'wizard', progress: { step: 1, bot: null, adding: false } })}
      />
    );
  }

  return (
    <ConfigProvider
      locale={i18n.language === 'en' ? enUS : zhCN}
      theme={{ token: { colorPrimary: BRAND, borderRadius: 8, colorLink: BRAND } }}
    >
      {body}
    </ConfigProvider>
  );
}
