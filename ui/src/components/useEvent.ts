import { useEffect, useRef } from 'react';
import type { UnlistenFn } from '@tauri-apps/api/event';

/**
 * Subscribes to one of `events.*` for the component's lifetime. The handler
 * may change between renders; the subscription does not.
 */
export function useEvent<T>(subscribe: (f: (p: T) => void) => Promise<UnlistenFn>, handler: (p: T) => void): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => {
    let un: UnlistenFn | null = null;
    let gone = false;
    subscribe((p) => ref.current(p))
      .then((f) => {
        if (gone) f();
        else un = f;
      })
      .catch(() => undefined);
    return () => {
      gone = true;
      if (un) un();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
}
