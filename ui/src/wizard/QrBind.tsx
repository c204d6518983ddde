import { useCallback, useEffect, useRef, useState } from 'react';
import { Alert, Button, QRCode, Space, Typography } from 'antd';
import { CheckCircleFilled, LoadingOutlined, MobileOutlined, ReloadOutlined, WarningOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { api, events, type BindProgress, type DraftBot, type UserError } from '../api';
import { useErrorText } from '../components/useErrorText';

type Phase = 'waiting' | 'scanned' | 'checking' | 'failed' | 'done';

interface State {
  phase: Phase;
  url: string;
  /** The QR code was just swapped for a fresh one. */
  refreshing: boolean;
  pollError: UserError | null;
  error: unknown;
  cancelled: boolean;
}

const initial: State = { phase: 'waiting', url: '', refreshing: false, pollError: null, error: null, cancelled: false };

/** The QR binding: subscribes to `bind-progress`, then starts; cancels when it goes away. */
export function QrBind({ onDone }: { onDone: (draft: DraftBot) => void }) {
  const { t } = useTranslation();
  const errText = useErrorText();
  const [s, setS] = useState<State>(initial);
  const doneRef = useRef(false);
  const onDoneRef = useRef(onDone);
  onDoneRef.current = onDone;

  const onProgress = useCallback((p: BindProgress) => {
    switch (p.kind) {
      case 'qr':
        setS((o) => ({ ...o, phase: 'waiting', url: p.qrUrl, refreshing: false, error: null, cancelled: false }));
        break;
      case 'refreshed':
        setS((o) => ({ ...o, phase: 'waiting', url: p.qrUrl, refreshing: true }));
        setTimeout(() => setS((o) => ({ ...o, refreshing: false })), 600);
        break;
      case 'scanned':
        setS((o) => ({ ...o, phase: 'scanned', pollError: null }));
        break;
      case 'pollFailed':
        setS((o) => ({ ...o, pollError: p.error }));
        break;
      case 'checking':
        setS((o) => ({ ...o, phase: 'checking', pollError: null }));
        break;
      case 'failed':
        setS((o) => ({ ...o, phase: 'failed', error: p.error }));
        break;
      case 'cancelled':
        setS((o) => ({ ...o, phase: 'failed', cancelled: true, error: null }));
        break;
      case 'done':
        doneRef.current = true;
        setS((o) => ({ ...o, phase: 'done' }));
        onDoneRef.current(p.bot);
        break;
    }
  }, []);

  const start = useCallback(async () => {
    setS(initial);
    try {
      await api.bindStart();
    } catch (e) {
      setS((o) => ({ ...o, phase: 'failed', error: e }));
    }
  }, []);

  useEffect(() => {
    let un: (() => void) | null = null;
    let gone = false;
    void (async () => {
      try {
        const f = await events.bindProgress(onProgress);
        if (gone) {
          f();
          return;
        }
        un = f;
      } catch {
        /* no event bus: start anyway, errors surface from bindStart */
      }
      if (!gone) await start();
    })();
    return () => {
      gone = true;
      if (un) un();
      if (!doneRef.current) void api.bindCancel().catch(() => undefined);
    };
  }, [onProgress, start]);

  const qrStatus = s.phase === 'failed' ? 'expired' : !s.url || s.refreshing ? 'loading' : s.phase === 'scanned' || s.phase === 'checking' ? 'scanned' : 'active';

  let statusLine: React.ReactNode;
  switch (s.phase) {
    case 'waiting':
      statusLine = s.url ? (
        <>
          <MobileOutlined /> {t('qr.waiting')}
        </>
      ) : (
        <>
          <LoadingOutlined /> {t('qr.loading')}
        </>
      );
      break;
    case 'scanned':
      statusLine = (
        <>
          <CheckCircleFilled style={{ color: '#52c41a' }} /> {t('qr.scanned')}
        </>
      );
      break;
    case 'checking':
      statusLine = (
        <>
          <LoadingOutlined /> {t('qr.checking')}
        </>
      );
      break;
    case 'done':
      statusLine = (
        <>
          <CheckCircleFilled style={{ color: '#52c41a' }} /> {t('qr.done')}
        </>
      );
      break;
    case 'failed':
      statusLine = (
        <>
          <WarningOutlined /> {s.cancelled ? t('qr.cancelled') : t('qr.failed')}
        </>
      );
      break;
  }

  return (
    <div style={{ display: 'flex', gap: 32, alignItems: 'center', padding: '4px 8px' }}>
      <div data-testid="qr-code" data-state={s.phase} data-url={s.url}>
        <QRCode
          value={s.url || 'https://q.qq.com/'}
          size={200}
          status={qrStatus}
          onRefresh={() => void start()}
          // A failed binding is not an expired code: offer a retry instead.
          statusRender={
            s.phase === 'failed'
              ? () => (
                  <Button type="link" icon={<ReloadOutlined />} onClick={() => void start()}>
                    {t('common.retry')}
                  </Button>
                )
              : undefined
          }
          bordered
        />
      </div>
      <div style={{ flex: 1, minWidth: 0 }}>
        <Typography.Title level={5} style={{ marginTop: 0 }} data-testid="qr-status">
          {statusLine}
        </Typography.Title>
        <Typography.Paragraph type="secondary" style={{ marginBottom: 12 }}>
          {t('qr.hint')}
        </Typography.Paragraph>
        <Space direction="vertical" style={{ width: '100%' }}>
          {s.pollError && s.phase !== 'failed' && (
            <Alert type="warning" showIcon message={t('qr.pollFailed', { error: errText(s.pollError) })} />
          )}
          {s.phase === 'failed' && (
            <Alert
              type={s.cancelled ? 'info' : 'error'}
              showIcon
              message={s.cancelled ? t('qr.cancelled') : errText(s.error)}
              action={
                <Button size="small" type="primary" onClick={() => void start()} data-testid="qr-retry">
                  {t('common.retry')}
                </Button>
              }
            />
          )}
        </Space>
      </div>
    </div>
  );
}
