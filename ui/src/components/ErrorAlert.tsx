import { Alert } from 'antd';
import { useErrorText } from './useErrorText';

interface Props {
  error: unknown;
  testId?: string;
  action?: React.ReactNode;
}

/** Shows a command's `UserError` in the current language. */
export function ErrorAlert({ error, testId, action }: Props) {
  const text = useErrorText();
  if (error === null || error === undefined) return null;
  return (
    <div data-testid={testId}>
      <Alert type="error" showIcon message={text(error)} action={action} />
    </div>
  );
}
