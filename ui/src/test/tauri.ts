// A fake Tauri IPC for unit tests: `invoke` answers from `handlers`, `listen` records listeners.
import { act } from '@testing-library/react';

type Handler = (args: Record<string, unknown>) => unknown;
type Listener = (e: { event: string; id: number; payload: unknown }) => void;

export const handlers: Record<string, Handler> = {};
export const calls: { cmd: string; args: Record<string, unknown> }[] = [];
const listeners: Record<string, Set<Listener>> = {};

export function invokeImpl(cmd: string, args?: Record<string, unknown>): Promise<unknown> {
  const a = args ?? {};
  calls.push({ cmd, args: a });
  const h = handlers[cmd];
  if (!h) return Promise.resolve(null);
  try {
    return Promise.resolve(h(a));
  } catch (e) {
    return Promise.reject(e);
  }
}

export function listenImpl(event: string, cb: Listener): Promise<() => void> {
  (listeners[event] ??= new Set()).add(cb);
  return Promise.resolve(() => listeners[event]?.delete(cb));
}

/** Delivers an event to the UI, as the shell would. */
export async function emit(event: string, payload: unknown): Promise<void> {
  await act(async () => {
    for (const l of [...(listeners[event] ?? [])]) l({ event, id: 0, payload });
  });
}

export function listening(event: string): number {
  return listeners[event]?.size ?? 0;
}

export function callsOf(cmd: string): Record<string, unknown>[] {
  return calls.filter((c) => c.cmd === cmd).map((c) => c.args);
}

export function resetTauri(): void {
  for (const k of Object.keys(handlers)) delete handlers[k];
  for (const k of Object.keys(listeners)) delete listeners[k];
  calls.length = 0;
}
