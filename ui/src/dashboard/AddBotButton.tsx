import { Button, Tooltip } from 'antd';
import { PlusOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { MAX_BOTS } from '../wizard/StepConnect';

/** Starts the wizard for another bot (with a note when QQ's limit is reached). */
export function AddBotButton({ count, onAdd }: { count: number; onAdd: () => void }) {
  const { t } = useTranslation();
  const full = count >= MAX_BOTS;
  return (
    <Tooltip title={full ? t('connect.maxBots', { max: MAX_BOTS }) : undefined}>
      <Button type="primary" ghost icon={<PlusOutlined />} onClick={onAdd} data-testid="add-bot">
        {t('dashboard.addBot')}
      </Button>
    </Tooltip>
  );
}
