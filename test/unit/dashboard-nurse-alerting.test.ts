import { describe, expect, it } from 'vitest';
import type { AlertView } from '../../agent/src/server/dashboard-protocol.ts';
import {
  chimesOnArrival,
  DEFAULT_ESCALATE_CRITICAL_AFTER_SECONDS,
  ESCALATED_CHIME_EVERY_MS,
  escalatedChimesDue,
  escalatedFor,
  escalationLabel,
  wallModeRequested,
} from '../../dashboard/src/nurse-alerting.ts';

const T0 = Date.parse('2025-03-01T10:00:00.000Z');

function alert(overrides: Partial<AlertView> = {}): AlertView {
  return {
    id: 'a1', type: 'dose-hard-limit', severity: 'critical', ts: new Date(T0).toISOString(), lastTs: new Date(T0).toISOString(), count: 1,
    deviceId: 'pump-01', ward: '4W', bed: '1', location: null, title: 'Dose above the hard limit', evidence: {}, state: 'open', ack: null,
    ...overrides,
  };
}

describe('the critical-alert chime', () => {
  it('chimes for a new open critical alert only, not for its updates or other severities', () => {
    expect(chimesOnArrival(undefined, alert())).toBe(true);
    expect(chimesOnArrival(alert(), alert({ count: 2 }))).toBe(false);
    expect(chimesOnArrival(undefined, alert({ severity: 'high' }))).toBe(false);
    expect(chimesOnArrival(undefined, alert({ state: 'acknowledged' }))).toBe(false);
  });
});

describe('escalation of unacknowledged critical alerts', () => {
  const after = DEFAULT_ESCALATE_CRITICAL_AFTER_SECONDS;

  it('measures from the first occurrence and starts at the configured time', () => {
    expect(after).toBe(120);
    expect(escalatedFor(alert(), T0 + 119_999, after)).toBeNull();
    expect(escalatedFor(alert(), T0 + 120_000, after)).toBe(120_000);
    // A later occurrence does not restart the clock.
    expect(escalatedFor(alert({ lastTs: new Date(T0 + 100_000).toISOString(), count: 3 }), T0 + 130_000, after)).toBe(130_000);
    expect(escalatedFor(alert({ state: 'acknowledged' }), T0 + 600_000, after)).toBeNull();
    expect(escalatedFor(alert({ severity: 'high' }), T0 + 600_000, after)).toBeNull();
    expect(escalatedFor(alert({ ts: 'not a time' }), T0 + 600_000, after)).toBeNull();
  });

  it('labels the time unacknowledged in whole minutes', () => {
    expect(escalationLabel(5_000)).toBe('UNACKNOWLEDGED for under 1 min');
    expect(escalationLabel(120_000)).toBe('UNACKNOWLEDGED for 2 min');
    expect(escalationLabel(179_999)).toBe('UNACKNOWLEDGED for 2 min');
  });

  it('chimes an escalated alert again once a minute', () => {
    const alerts = [alert(), alert({ id: 'a2', ts: new Date(T0 + 60_000).toISOString() }), alert({ id: 'a3', severity: 'warning' })];
    const now = T0 + 150_000;
    expect(escalatedChimesDue(alerts, now, after, new Map())).toEqual(['a1']);
    expect(escalatedChimesDue(alerts, now, after, new Map([['a1', now - 10_000]]))).toEqual([]);
    expect(escalatedChimesDue(alerts, now, after, new Map([['a1', now - ESCALATED_CHIME_EVERY_MS]]))).toEqual(['a1']);
    expect(escalatedChimesDue(alerts, T0 + 180_000, after, new Map([['a1', T0 + 150_000]]))).toEqual(['a2']);
  });
});

describe('wall-display mode', () => {
  it('is asked for with ?wall', () => {
    expect(wallModeRequested('?wall')).toBe(true);
    expect(wallModeRequested('?wall=1')).toBe(true);
    expect(wallModeRequested('?x=1&wall')).toBe(true);
    expect(wallModeRequested('')).toBe(false);
    expect(wallModeRequested('?wall=0')).toBe(false);
    expect(wallModeRequested('?wallpaper')).toBe(false);
  });
});
