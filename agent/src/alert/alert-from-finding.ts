import { randomUUID } from 'node:crypto';
import { eventTimeIso } from '../model/wire.ts';
import type { AlertView } from '../server/dashboard-protocol.ts';
import { ALERT_CATALOGUE } from './catalogue.ts';
import type { Finding } from './finding.ts';

/**
 * A new open alert for a finding: a fresh id, the catalogue's severity, the device's ward,
 * bed and place when the finding has a device. Shared by the agent's alert manager and the
 * hub's own alerts (hub/hub-own-alerts.ts), so an alert reads the same wherever it is raised.
 */
export function openAlertFrom(finding: Finding): AlertView {
  const device = finding.device;
  return {
    id: randomUUID(),
    type: finding.type,
    severity: ALERT_CATALOGUE[finding.type].severity,
    ts: eventTimeIso(finding.ts),
    lastTs: eventTimeIso(finding.ts),
    count: 1,
    deviceId: device?.config.id ?? null,
    ward: device?.config.ward ?? null,
    bed: device?.config.bed ?? null,
    location: device?.config.location ?? null,
    title: finding.title,
    evidence: finding.evidence,
    state: 'open',
    ack: null,
  };
}
