import type { AlertView } from '../../agent/src/server/dashboard-protocol.ts';

let counter = 0;

/** A critical hard-limit alert on pump-01 of ward 4W, with a fresh id each call; `overrides` change any field. */
export function sampleAlert(overrides: Partial<AlertView> = {}): AlertView {
  counter += 1;
  return {
    id: `00000000-0000-4000-8000-${String(counter).padStart(12, '0')}`,
    type: 'dose-above-hard-limit',
    severity: 'critical',
    ts: '2026-03-01T10:00:00.000Z',
    lastTs: '2026-03-01T10:00:00.000Z',
    count: 1,
    deviceId: 'pump-01',
    ward: '4W',
    bed: '1',
    location: null,
    title: 'Bed 1 · pump-01: heparin above the hard limit',
    evidence: {},
    state: 'open',
    ack: null,
    ...overrides,
  };
}
