import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UplinkAlertMessage } from '../../agent/src/export/uplink-protocol.ts';
import { FAILURE_MEMORY_MS } from '../../agent/src/health/agent-health.ts';
import { FailureTally } from '../../agent/src/health/failure-tally.ts';
import { HubSubscriber, MAX_HUB_ALERT_MESSAGE_BYTES, unusedMessagesReason } from '../../agent/src/hub/hub-subscriber.ts';
import { missingMosquitto, startMosquitto, type RunningMosquitto } from '../helpers/mosquitto.ts';
import { sampleAlert } from '../helpers/sample-alert.ts';
import { waitFor } from '../helpers/wait-for.ts';

const noMosquitto = missingMosquitto();

let counter = 0;

function alertMessage(evidence: Record<string, unknown> = {}): UplinkAlertMessage {
  return {
    v: 1,
    ward: '4W',
    site: 'Demo General Hospital',
    seq: (counter += 1),
    change: 'raised',
    alert: sampleAlert({ evidence }),
  };
}

describe('the hub\'s health: messages it could not use', () => {
  it('are said while the last of a reason is recent, then age out; wrong topics are not said', () => {
    const rejected = new FailureTally();
    const now = Date.parse('2026-03-01T10:00:00.000Z');
    rejected.record('topic', now);
    expect(unusedMessagesReason(rejected, now)).toBe(null);
    rejected.record('invalid', now - 1_000);
    rejected.record('invalid', now);
    expect(unusedMessagesReason(rejected, now)).toBe('2 messages from the wards could not be used (invalid: 2; the last at 10:00:00 UTC); see the hub\'s log');
    expect(unusedMessagesReason(rejected, now + FAILURE_MEMORY_MS)).toBe(null);
  });
});

describe.skipIf(noMosquitto !== null)('the hub\'s subscriber against a real mosquitto', () => {
  let mosquitto: RunningMosquitto;
  let publisher: MqttClient;
  const subscribers: HubSubscriber[] = [];

  beforeAll(async () => {
    mosquitto = await startMosquitto();
    publisher = await connectAsync(mosquitto.url, { username: mosquitto.username, password: mosquitto.password, clientId: `ward-4w-${process.pid}`, protocolVersion: 4, reconnectPeriod: 0 });
  });

  afterAll(async () => {
    for (const subscriber of subscribers) await subscriber.stop();
    await publisher?.endAsync(true);
    await mosquitto?.stop();
  });

  async function subscriber(alert: (message: UplinkAlertMessage) => void): Promise<HubSubscriber> {
    const hub = new HubSubscriber({
      url: mosquitto.url,
      username: mosquitto.username,
      password: mosquitto.password,
      clientId: `hub-${process.pid}-${subscribers.length}`,
      topicPrefix: `t${subscribers.length}`,
      reconnectMaxSeconds: 1,
      logger: pino({ level: 'silent' }),
      handlers: { alert: (_ward, message) => alert(message), health: () => undefined, devices: () => undefined, uplink: () => undefined, link: () => undefined },
    });
    subscribers.push(hub);
    hub.start();
    await waitFor(() => hub.connected, 5_000, 'the hub connected');
    return hub;
  }

  it('an alert message over 64 KiB is refused as too-large before it is parsed; one under it is used', async () => {
    const seen: number[] = [];
    const hub = await subscriber((message) => seen.push(message.seq));
    const prefix = `t${subscribers.length - 1}`;
    // The SUBACK comes after the CONNACK: sent until one arrives, so the subscription is in place.
    const small = alertMessage({ padding: 'x'.repeat(40 * 1024) });
    await waitFor(async () => {
      await publisher.publishAsync(`${prefix}/4W/alerts`, JSON.stringify(small), { qos: 1 });
      return seen.includes(small.seq);
    }, 5_000, 'the small alert at the hub');
    const large = alertMessage({ padding: 'x'.repeat(MAX_HUB_ALERT_MESSAGE_BYTES) });
    await publisher.publishAsync(`${prefix}/4W/alerts`, JSON.stringify(large), { qos: 1 });
    await waitFor(() => hub.rejectedCounts()['too-large'] === 1, 5_000, 'the large alert refused');
    expect(seen).not.toContain(large.seq);
  });

  it('an alert whose store write fails is counted (not-stored), not acknowledged, and comes again until it is stored', async () => {
    const attempts: number[] = [];
    let failNext = false;
    const hub = await subscriber((message) => {
      attempts.push(message.seq);
      if (failNext) {
        failNext = false;
        throw new Error('SQLITE_FULL: database or disk is full');
      }
    });
    const prefix = `t${subscribers.length - 1}`;
    const probe = alertMessage();
    await waitFor(async () => {
      await publisher.publishAsync(`${prefix}/4W/alerts`, JSON.stringify(probe), { qos: 1 });
      return attempts.includes(probe.seq);
    }, 5_000, 'the subscription in place');
    failNext = true;
    const lost = alertMessage();
    await publisher.publishAsync(`${prefix}/4W/alerts`, JSON.stringify(lost), { qos: 1 });
    await waitFor(() => attempts.filter((seq) => seq === lost.seq).length === 2, 10_000, 'the alert delivered again after the failed store');
    expect(hub.rejectedCounts()['not-stored']).toBe(1);
    await waitFor(() => hub.connected, 5_000, 'the hub connected again');
  });
});
