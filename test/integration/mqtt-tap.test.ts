import { connectAsync, type MqttClient } from 'mqtt';
import { pino, type Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MqttTapIngest, backoffDelay, type MonitoringGap, type MqttTapOptions } from '../../agent/src/ingest/mqtt-tap.ts';
import type { PublishObservation, Observation } from '../../agent/src/ingest/observation.ts';
import { missingMosquitto, startMosquitto, type RunningMosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/wait-for.ts';

const noMosquitto = missingMosquitto();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

function capturingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines };
}

function countTimers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}

describe('backoffDelay', () => {
  it('doubles from initialMs to maxMs, jittered within ±25 %, never above maxMs', () => {
    const backoff = { initialMs: 500, maxMs: 30_000 };
    expect([0, 1, 2, 3].map((attempt) => backoffDelay(attempt, backoff, () => 0.5))).toEqual([500, 1_000, 2_000, 4_000]);
    expect(backoffDelay(0, backoff, () => 0)).toBe(375);
    expect(backoffDelay(0, backoff, () => 0.999)).toBeLessThan(625);
    expect(backoffDelay(6, backoff, () => 0.999)).toBe(30_000);
    expect(backoffDelay(1_000, backoff, () => 0)).toBe(22_500);
  });
});

describe.skipIf(noMosquitto !== null)('MQTT tap on a real mosquitto (subscribes to #, sender not visible)', () => {
  let broker: RunningMosquitto;
  const taps: MqttTapIngest[] = [];
  const publishers: MqttClient[] = [];

  beforeEach(async () => {
    broker = await startMosquitto();
  });

  afterEach(async () => {
    await Promise.all(publishers.splice(0).map((client) => client.endAsync(true)));
    await Promise.all(taps.splice(0).map((tap) => tap.stop()));
    await broker.stop();
  });

  function tap(overrides: Partial<MqttTapOptions> = {}): { tap: MqttTapIngest; seen: Observation[]; gaps: MonitoringGap[]; log: LogLine[] } {
    const seen: Observation[] = [];
    const gaps: MonitoringGap[] = [];
    const { logger, lines } = capturingLogger();
    const ingest = new MqttTapIngest({
      url: broker.url,
      username: broker.username,
      password: broker.password,
      sink: (observation) => seen.push(observation),
      onGap: (gap) => gaps.push(gap),
      logger,
      ...overrides,
    });
    taps.push(ingest);
    return { tap: ingest, seen, gaps, log: lines };
  }

  async function publisher(): Promise<MqttClient> {
    const client = await connectAsync(broker.url, { username: broker.username, password: broker.password, protocolVersion: 4, reconnectPeriod: 0 });
    client.on('error', () => {}); // the broker is stopped under it on purpose
    publishers.push(client);
    return client;
  }

  const publishes = (seen: readonly Observation[]): PublishObservation[] => seen.filter((o): o is PublishObservation => o.kind === 'mqtt-publish');

  it('commands and telemetry published by another client reach the sink as mqtt-publish with client: null; stored retained messages are not replayed as new', async () => {
    const station = await publisher();
    // Stored before the tap subscribes: delivered to it with RETAIN=1 [MQTT-3.3.1-8].
    await station.publishAsync('ward/pump-01/status', 'online', { qos: 1, retain: true });

    const { tap: ingest, seen } = tap({ now: () => 1_700_000_000_000 });
    expect(ingest.connected).toBe(false);
    await ingest.start();
    expect(ingest.connected).toBe(true);

    const command = JSON.stringify({ id: 'c-1', issuer: 'station-4w', command: 'set_rate', params: { rate_ml_h: 12 } });
    await station.publishAsync('ward/pump-01/command', command, { qos: 1 });
    await station.publishAsync('ward/pump-01/telemetry', JSON.stringify({ rate_ml_h: 12 }), { qos: 0 });
    await station.publishAsync('ward/pump-02/status', 'offline', { qos: 1, retain: true });
    const got = await waitFor(() => publishes(seen).length >= 3 && publishes(seen), 3_000, 'three publishes through the tap');

    expect(got.map((o) => o.topic)).toEqual(['ward/pump-01/command', 'ward/pump-01/telemetry', 'ward/pump-02/status']);
    expect(got[0]?.payload.toString('utf8')).toBe(command);
    expect(JSON.parse(got[1]?.payload.toString('utf8') ?? 'null')).toEqual({ rate_ml_h: 12 });
    for (const observation of got) {
      expect(observation.client).toBeNull();
      expect(observation.via).toBe('tap');
      expect(observation.ts).toBe(1_700_000_000_000);
      // Subscribed with QoS 0, so delivered with QoS 0 [MQTT-3.8.4-6]; a live publish to an
      // established subscription has RETAIN=0 whatever its publisher set [MQTT-3.3.1-9].
      expect(observation.qos).toBe(0);
      expect(observation.retain).toBe(false);
    }
    expect(seen.every((o) => o.kind === 'mqtt-publish' && !o.topic.startsWith('$'))).toBe(true);
    expect(ingest.retainedMessagesSkipped).toBe(1);
  });

  it('wrong credentials: start() rejects with a clear TAP_LOGIN_REFUSED, no retries, no crash, no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      const { tap: ingest, gaps } = tap({ password: 'not-the-password', backoff: { initialMs: 50, maxMs: 100 } });
      // mosquitto's log of its connections; the helper's readiness probe was the first.
      const connections = (): number => broker.log().match(/New connection from/g)?.length ?? 0;
      const connectionsBefore = await waitFor(() => connections() > 0 && connections(), 1_000, "the readiness probe in mosquitto's log");
      await expect(ingest.start()).rejects.toMatchObject({
        name: 'MqttTapError',
        code: 'TAP_LOGIN_REFUSED',
        message: expect.stringMatching(/broker at mqtt:\/\/127\.0\.0\.1:\d+ refused the login of user "wardwatch-tap" \(CONNACK 5: Not authorized\); check the tap's username and password/),
      });
      expect(ingest.connected).toBe(false);
      await waitFor(() => connections() === connectionsBefore + 1, 1_000, "mosquitto's log of the tap's connection");
      await sleep(400);
      // No retry loop after a refused login at start: it is configuration, not weather.
      expect(connections()).toBe(connectionsBefore + 1);
      expect(gaps).toEqual([]);
      await ingest.stop();
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
    }
  });

  it('broker down for ~2 s: the tap reconnects and re-subscribes by itself, messages flow again, onGap once with about the downtime', async () => {
    const { tap: ingest, seen, gaps, log } = tap({ backoff: { initialMs: 200, maxMs: 1_000 } });
    await ingest.start();
    const before = await publisher();
    await before.publishAsync('ward/pump-01/command', 'before', { qos: 1 });
    await waitFor(() => publishes(seen).some((o) => o.payload.toString() === 'before'), 3_000, 'publish before the outage');

    const downAt = Date.now();
    await broker.stop();
    await waitFor(() => !ingest.connected, 3_000, 'the tap to notice the outage');
    expect(log.some((line) => line.msg.includes('monitoring gap started'))).toBe(true);
    expect(ingest.gapOpenSince).toBeGreaterThanOrEqual(downAt);
    await sleep(2_000 - (Date.now() - downAt));
    await broker.restart();
    const upAt = Date.now();
    await waitFor(() => ingest.connected, 5_000, 'the tap to re-subscribe');

    const after = await publisher();
    await after.publishAsync('ward/pump-01/command', 'after', { qos: 1 });
    await waitFor(() => publishes(seen).some((o) => o.payload.toString() === 'after'), 3_000, 'publish after the outage');
    expect(publishes(seen).every((o) => o.client === null && o.via === 'tap')).toBe(true);

    await sleep(300);
    expect(gaps).toHaveLength(1);
    expect(ingest.gapOpenSince).toBeNull();
    const [gap] = gaps;
    expect(gap?.durationMs).toBeGreaterThanOrEqual(1_500);
    expect(gap?.durationMs).toBeLessThan(15_000);
    expect(gap?.durationMs).toBeGreaterThanOrEqual(upAt - downAt - 200);
    expect((gap?.endedAt ?? 0) - (gap?.startedAt ?? 0)).toBe(gap?.durationMs);
    expect(gap?.reason).toBeTruthy();
    const ended = log.find((line) => line.msg.includes('monitoring gap ended'));
    expect(ended).toMatchObject({ durationMs: gap?.durationMs });
  });

  it('stop() during an outage ends the retry loop: no more attempts, no gap, no timers left', async () => {
    const timersBefore = countTimers();
    const { tap: ingest, gaps, log } = tap({ backoff: { initialMs: 50, maxMs: 100 } });
    await ingest.start();
    await broker.stop();
    const retries = (): number => log.filter((line) => line.msg.includes('could not reach')).length;
    await waitFor(() => retries() >= 3, 3_000, 'a few failed reconnect attempts');
    await ingest.stop();
    const retriesAtStop = retries();
    await sleep(400);
    expect(retries()).toBe(retriesAtStop);
    expect(gaps).toEqual([]);
    expect(ingest.connected).toBe(false);
    expect(countTimers()).toBeLessThanOrEqual(timersBefore);
  });

  it('stop() while start() is still waiting for an unreachable broker rejects start with TAP_STOPPED', async () => {
    await broker.stop();
    const { tap: ingest, log } = tap({ backoff: { initialMs: 50, maxMs: 100 } });
    const started = ingest.start();
    await waitFor(() => log.some((line) => line.msg.includes('could not reach')), 3_000, 'a failed attempt');
    await ingest.stop();
    await expect(started).rejects.toMatchObject({ code: 'TAP_STOPPED' });
  });
});
