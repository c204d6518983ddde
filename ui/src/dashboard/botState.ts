import type { BotStatus } from '../api';

type BadgeStatus = 'success' | 'processing' | 'default' | 'error' | 'warning';

/** The state light of a bot: green when ready, blue/orange while connecting, grey paused, red when down. */
export function stateBadge(state: BotStatus['state']): BadgeStatus {
  switch (state) {
    case 'ready':
      return 'success';
    case 'connecting':
    case 'identifying':
    case 'resuming':
      return 'processing';
    case 'reconnecting':
      return 'warning';
    case 'paused':
      return 'default';
    case 'fatal':
    case 'stopped':
      return 'error';
  }
}
