import { useCallback, useEffect, useState } from 'react';
import { api, events, type Overview } from '../api';
import { useEvent } from '../components/useEvent';

/** `overview()` every 2 s, and at once on status / reload / overview-changed events. */
export function useOverview(): { overview: Overview | null; error: unknown; refresh: () => Promise<void> } {
  const [overview, setOverview] = useState<Overview | null>(null);
  const [error, setError] = useState<unknown>(null);

  const refresh = useCallback(async () => {
    try {
      setOverview(await api.overview());
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, []);

  useEffect(() => {
    void refresh();
    const id = setInterval(() => void refresh(), 2000);
    return () => clearInterval(id);
  }, [refresh]);

  useEvent(events.runtime, (e) => {
    // Counters (events in, replies out) change with messages too.
    if (e.event !== 'warning') void refresh();
  });
  useEvent<void>((f) => events.overviewChanged(() => f()), () => void refresh());

  return { overview, error, refresh };
}
