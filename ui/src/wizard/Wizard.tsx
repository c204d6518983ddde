import { useEffect, useState } from 'react';
import { Button, Card, Layout, Steps } from 'antd';
import { useTranslation } from 'react-i18next';
import { api, type DraftBot, type WizardProgress } from '../api';
import { AppHeader } from '../components/AppHeader';
import { StepConnect } from './StepConnect';
import { StepBot } from './StepBot';
import { StepModel } from './StepModel';
import { StepSkills } from './StepSkills';

interface Props {
  initial: WizardProgress;
  botCount: number;
  onFinished: () => void;
  /** Set when adding another bot: a way back to the dashboard. */
  onCancel?: () => void;
}

/** The four-step first-run (and "add bot") wizard. Resumes at `initial.step`. */
export function Wizard({ initial, botCount, onFinished, onCancel }: Props) {
  const { t } = useTranslation();
  const [step, setStep] = useState<WizardProgress['step']>(initial.step);
  const [bot, setBot] = useState<string | null>(initial.bot);
  const [draft, setDraft] = useState<DraftBot | null>(null);
  const adding = initial.adding;

  // Save progress on entering every step, so a restart resumes here.
  useEffect(() => {
    void api.saveWizard({ step, bot, adding }).catch(() => undefined);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [step]);

  const go = (next: WizardProgress['step'], nextBot: string | null) => {
    setBot(nextBot);
    setStep(next);
  };

  let content: React.ReactNode;
  if (step === 1) {
    content = (
      <StepConnect
        botCount={botCount}
        adding={adding}
        onConnected={(d) => {
          setDraft(d);
          go(2, d.name);
        }}
      />
    );
  } else if (step === 2) {
    content = <StepBot draft={draft} draftName={bot ?? ''} onCreated={(name) => go(3, name)} />;
  } else if (step === 3) {
    content = <StepModel bot={bot ?? ''} onSaved={() => go(4, bot)} />;
  } else {
    content = (
      <StepSkills
        bot={bot ?? ''}
        onFinished={async () => {
          await api.finishWizard(bot ?? '');
          await api.saveWizard(null).catch(() => undefined);
          onFinished();
        }}
      />
    );
  }

  return (
    <Layout style={{ minHeight: '100vh', background: 'transparent' }}>
      <AppHeader
        extra={
          onCancel ? (
            <Button type="link" onClick={onCancel} data-testid="wizard-cancel">
              {t('wizard.cancel')}
            </Button>
          ) : null
        }
      />
      <Layout.Content style={{ padding: '20px 32px 24px' }}>
        <div data-testid="wizard" data-step={String(step)} style={{ maxWidth: 900, margin: '0 auto' }}>
          <Steps
            current={step - 1}
            size="small"
            style={{ marginBottom: 20 }}
            items={[
              { title: t('wizard.steps.connect') },
              { title: t('wizard.steps.bot') },
              { title: t('wizard.steps.model') },
              { title: t('wizard.steps.skills') },
            ]}
          />
          <Card>{content}</Card>
        </div>
      </Layout.Content>
    </Layout>
  );
}
