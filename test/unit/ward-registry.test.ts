import { describe, expect, it } from 'vitest';
import type { UplinkHealthMessage } from '../../agent/src/export/uplink-protocol.ts';
import { FAILURE_MEMORY_MS } from '../../agent/src/health/agent-health.ts';
import { WardRegistry, type HubLinkState } from '../../agent/src/hub/ward-registry.ts';

const CONNECTED: HubLinkState = { connected: true, reason: null, since: null };
const T0 = Date.parse('2026-03-01T10:00:00.000Z');

function healthReport(dropped: number): UplinkHealthMessage {
  return {
    v: 1,
    ward: '4W',
    site: 'Demo General Hospital',
    ts: new Date(T0).toISOString(),
    intervalSeconds: 86_400,
    health: { status: 'ok', reasons: [] },
    uplink: { queued: 0, capacity: 500, sent: 0, dropped, failures: 0, oldestQueuedAt: null },
  };
}

function ward4w(registry: WardRegistry, now: number) {
  const summary = registry.summaries(now, CONNECTED, new Map()).find((ward) => ward.ward === '4W');
  if (summary === undefined) throw new Error('ward 4W missing');
  return summary;
}

/** A registry that has heard ward 4W (health with nothing dropped) and its alerts up to `seq`. */
function heardUpTo(seq: number): WardRegistry {
  const registry = new WardRegistry(['4W'], 10);
  registry.health('4W', healthReport(0), T0);
  for (let n = 1; n <= seq; n += 1) registry.alertSeq('4W', n, T0);
  return registry;
}

describe('the hub\'s wards: gaps in a ward\'s alert seq', () => {
  it('consecutive seqs, resends and duplicates are no gap', () => {
    const registry = heardUpTo(5);
    registry.alertSeq('4W', 3, T0);
    registry.alertSeq('4W', 5, T0);
    registry.alertSeq('4W', 6, T0);
    registry.alertSeq('4W', 0, T0);
    expect(ward4w(registry, T0)).toMatchObject({ status: 'ok', reasons: [] });
  });

  it('a jump is said as messages that never arrived, the ward degraded; it ages out after FAILURE_MEMORY_MS', () => {
    const registry = heardUpTo(5);
    registry.alertSeq('4W', 9, T0 + 1_000);
    const shown = ward4w(registry, T0 + 2_000);
    expect(shown.status).toBe('degraded');
    expect(shown.reasons).toEqual(['3 alert messages from ward 4W never arrived (a gap in its seq, the last seen at 10:00:01 UTC)']);
    // A resend of what it had, after the gap: still 3, not more.
    registry.alertSeq('4W', 7, T0 + 3_000);
    expect(ward4w(registry, T0 + 3_000).reasons[0]).toMatch(/^3 alert messages/);
    expect(ward4w(registry, T0 + 1_000 + FAILURE_MEMORY_MS)).toMatchObject({ status: 'ok', reasons: [] });
  });

  it('drops the ward reported from its full queue explain a gap of that size (said as dropped, not as lost on the way)', () => {
    const registry = heardUpTo(5);
    registry.health('4W', healthReport(2), T0);
    registry.alertSeq('4W', 8, T0);
    expect(ward4w(registry, T0).reasons).toEqual(['2 alert changes were dropped from the ward\'s full uplink queue']);
    // The drops are used up: a later gap of the same size is not explained by them.
    registry.alertSeq('4W', 11, T0);
    expect(ward4w(registry, T0).reasons).toContain('2 alert messages from ward 4W never arrived (a gap in its seq, the last seen at 10:00:00 UTC)');
  });

  it('an agent restart (its dropped count starts again at 0; its seq goes on from its outbox) is no gap', () => {
    const registry = heardUpTo(5);
    registry.health('4W', healthReport(3), T0);
    registry.alertSeq('4W', 9, T0);
    registry.health('4W', healthReport(1), T0 + 1_000);
    registry.alertSeq('4W', 11, T0 + 1_000);
    registry.alertSeq('4W', 12, T0 + 1_000);
    expect(ward4w(registry, T0 + 1_000)).toMatchObject({ status: 'ok' });
    expect(ward4w(registry, T0 + 1_000).reasons.some((reason) => reason.includes('never arrived'))).toBe(false);
  });

  it('the first message after the hub starts only sets where the ward is', () => {
    const registry = new WardRegistry(['4W'], 10);
    registry.health('4W', healthReport(0), T0);
    registry.alertSeq('4W', 1_000, T0);
    expect(ward4w(registry, T0)).toMatchObject({ status: 'ok', reasons: [] });
  });
});
