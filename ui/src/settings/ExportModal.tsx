import { Modal, Typography } from 'antd';
import { useTranslation } from 'react-i18next';

/** The exported TOML (no secrets), with a copy button. */
export function ExportModal({ toml, onClose }: { toml: string | null; onClose: () => void }) {
  const { t } = useTranslation();
  return (
    <Modal open={toml !== null} onCancel={onClose} onOk={onClose} cancelButtonProps={{ style: { display: 'none' } }} title={t('settings.exportTitle')} width={720}>
      <Typography.Paragraph type="secondary">{t('settings.exportHint')}</Typography.Paragraph>
      <Typography.Paragraph copyable={{ text: toml ?? '' }} style={{ marginBottom: 4 }}>
        {t('settings.copy')}
      </Typography.Paragraph>
      <pre data-testid="export-toml" style={{ maxHeight: 380, overflow: 'auto', background: '#faf7f5', padding: 12, borderRadius: 8, fontSize: 12 }}>
        {toml}
      </pre>
    </Modal>
  );
}
