import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MqttUplink } from '../../agent/src/export/uplink.ts';
import { UplinkOutbox } from '../../agent/src/export/uplink-outbox.ts';
import { alertMessageSchema, parseUplinkTopic, uplinkSubscription, uplinkTopic } from '../../agent/src/export/uplink-protocol.ts';
import type { AlertView, HealthView } from '../../agent/src/server/dashboard-protocol.ts';
import { sampleAlert as alert } from '../helpers/sample-alert.ts';

const HEALTH: HealthView = { status: 'ok', reasons: [], startedAt: '', now: '', mqttClients: 0, publishes: 0, anomalies: {}, alerts: 0 };


/** A port nothing listens on: the uplink keeps retrying and never connects. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('uplink topics and payloads', () => {
  it('are <prefix>/<ward>/<kind>; anything else under the prefix is not a ward topic', () => {
    expect(uplinkTopic('hospital/wardwatch', '4W', 'alerts')).toBe('hospital/wardwatch/4W/alerts');
    expect(uplinkSubscription('wardwatch')).toBe('wardwatch/+/+');
    expect(parseUplinkTopic('wardwatch', 'wardwatch/5E/health')).toEqual({ ward: '5E', kind: 'health' });
    for (const topic of ['wardwatch/5E/other', 'wardwatch/5E/alerts/x', 'wardwatch//alerts', 'other/5E/alerts', 'wardwatchx/5E/alerts']) expect(parseUplinkTopic('wardwatch', topic)).toBeNull();
  });

  it('an alert message: a title too long for the hub is cut, not refused (the alert still shows); an id the page cannot address is refused', () => {
    const message = { v: 1, ward: '4W', site: 'Demo', seq: 7, change: 'raised', alert: alert({ title: 'x'.repeat(5_000) }) };
    const parsed = alertMessageSchema.parse(message);
    expect(parsed.alert.title).toHaveLength(2_000);
    expect(parsed.alert.title.endsWith('…')).toBe(true);
    expect(alertMessageSchema.safeParse({ ...message, alert: { ...message.alert, id: '../../etc' } }).success).toBe(false);
    expect(alertMessageSchema.safeParse({ ...message, change: 'deleted' }).success).toBe(false);
  });
});

describe('the uplink\'s store-and-forward queue while the central broker is away', () => {
  let dir: string;
  let uplink: MqttUplink | null = null;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wardwatch-uplink-'));
  });
  afterEach(async () => {
    await uplink?.stop();
    uplink = null;
    rmSync(dir, { recursive: true, force: true });
  });

  async function startUplink(maxQueuedAlerts: number, openAlerts: readonly AlertView[] = []): Promise<MqttUplink> {
    uplink = new MqttUplink({
      config: { url: `mqtt://127.0.0.1:${await closedPort()}`, topicPrefix: 'wardwatch', maxQueuedAlerts, healthIntervalSeconds: 1, reconnectMaxSeconds: 1 },
      site: { name: 'Demo General Hospital', ward: '4W' },
      dataDir: dir,
      health: () => HEALTH,
      devices: () => [],
      openAlerts: () => openAlerts,
      logger: pino({ level: 'silent' }),
    });
    await uplink.start();
    return uplink;
  }

  const outboxRows = () => {
    const outbox = UplinkOutbox.forDataDir(dir);
    try {
      return outbox.load(1_000_000).rows;
    } finally {
      outbox.close();
    }
  };

  it('holds each change once on disk and in memory, a newer version of a waiting alert in its place, and the oldest dropped and counted beyond the cap', async () => {
    const channel = await startUplink(3);
    const first = alert();
    channel.alertRaised(first);
    const repeated: AlertView = { ...first, count: 2, lastTs: '2026-03-01T10:01:00.000Z' };
    channel.alertUpdated(repeated, 'repeated');
    channel.alertUpdated({ ...repeated, state: 'acknowledged', ack: { by: 'rn', at: '2026-03-01T10:02:00.000Z', reason: 'Investigating', from: '10.4.0.10' } }, 'acknowledged');
    expect(channel.stats()).toMatchObject({ connected: false, queued: 1, dropped: 0, oldestQueuedAt: Date.parse('2026-03-01T10:01:00.000Z') });
    expect(outboxRows().map((row) => [row.alertId, row.change])).toEqual([[first.id, 'acknowledged']]);

    const later = [alert(), alert(), alert()];
    for (const each of later) channel.alertRaised(each);
    expect(channel.stats()).toMatchObject({ queued: 3, capacity: 3, dropped: 1, sent: 0 });
    expect(outboxRows().map((row) => row.alertId)).toEqual(later.map((each) => each.id));
  });

  it('what was queued at a stop is sent after the next start, in order; a change arriving after the stop is kept too', async () => {
    const channel = await startUplink(10);
    const [a, b] = [alert(), alert()];
    channel.alertRaised(a);
    channel.alertRaised(b);
    await channel.stop();
    // The alert manager flushes its folded repeats after the outputs stopped.
    channel.alertUpdated({ ...a, count: 5, lastTs: '2026-03-01T10:09:00.000Z' }, 'repeated');
    uplink = null;
    const seqs = outboxRows().map((row) => row.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(outboxRows().map((row) => [row.alertId, row.change])).toEqual([[a.id, 'raised'], [b.id, 'raised'], [a.id, 'repeated']]);
    const restarted = await startUplink(10);
    expect(restarted.stats()).toMatchObject({ queued: 3, dropped: 0 });
  });

  it('a new outbox (the uplink just configured) queues the ward\'s open alerts once; an existing one does not', async () => {
    const open = alert();
    const closed = { ...alert(), state: 'acknowledged' as const };
    const channel = await startUplink(10, [open, closed]);
    expect(channel.stats().queued).toBe(1);
    await channel.stop();
    const again = await startUplink(10, [open, closed]);
    expect(again.stats().queued).toBe(1);
  });

  it('a restart with more saved than the cap keeps the newest and counts the rest as dropped', async () => {
    const channel = await startUplink(10);
    for (let i = 0; i < 6; i += 1) channel.alertRaised(alert());
    await channel.stop();
    const smaller = await startUplink(4);
    expect(smaller.stats()).toMatchObject({ queued: 4, dropped: 2 });
    expect(outboxRows()).toHaveLength(4);
  });
});
