/**
 * One verdict from the two things that can make the screen untrustworthy: the link to
 * the agent (ours) and the agent's own health report (its). Offline wins over degraded:
 * a health report we cannot receive says nothing.
 */
import type { HealthView } from '../../agent/src/server/dashboard-protocol.ts';
import type { LinkStatus } from './connection.ts';

export type MonitoringLevel = 'connecting' | 'ok' | 'degraded' | 'offline';

export interface MonitoringStatus {
  readonly level: MonitoringLevel;
  /** Plain-language reasons, shown under the banner title. */
  readonly reasons: readonly string[];
}

export const OFFLINE_TITLE = 'MONITORING OFFLINE — the alert screen is not receiving data from the agent';
export const DEGRADED_TITLE = 'MONITORING DEGRADED';

export function monitoringStatus(link: LinkStatus, health: HealthView | null): MonitoringStatus {
  switch (link.kind) {
    case 'connecting':
      return { level: 'connecting', reasons: [] };
    case 'offline':
      return { level: 'offline', reasons: [link.reason] };
    case 'live':
      if (health !== null && health.status === 'degraded') {
        const reasons = Array.isArray(health.reasons) ? health.reasons.filter((reason) => typeof reason === 'string') : [];
        return { level: 'degraded', reasons: reasons.length > 0 ? reasons : ['the agent reports a problem without details'] };
      }
      return { level: 'ok', reasons: [] };
  }
}
