import { describe, expect, it } from 'vitest';
import { CommandReplayDetector, HONEST_RESEND_MAX_MS, HONEST_RESENDS_MAX } from '../../agent/src/detect/command-replay-detector.ts';
import { agentMetrics } from '../../agent/src/health/agent-metrics.ts';
import { ProcessMetrics } from '../../agent/src/health/process-metrics.ts';
import type { PublishObservation } from '../../agent/src/ingest/observation.ts';
import { UNKNOWN_CLIENT_ID } from '../../agent/src/protocol/mqtt/index.ts';
import { MonitorHarness } from '../helpers/monitor-harness.ts';

/**
 * The replay detector and MQTT's at-least-once delivery: a QoS 1 PUBLISH whose PUBACK was
 * lost is sent again after a reconnect with the same packet id and DUP=1 (MQTT 3.1.1
 * §3.3.1.1 [MQTT-3.3.1-1], §4.4 [MQTT-4.4.0-1]). That copy is counted, not alerted; a copy
 * that differs in anything but DUP, that comes without a reconnect, beyond
 * HONEST_RESENDS_MAX, or that only claims DUP, is still `command-replay`.
 */

const SECOND = 1_000;
const MINUTE = 60 * SECOND;

interface Copy {
  readonly account?: string | null;
  readonly clientId?: string;
  readonly address?: string;
  readonly packetId?: number;
  readonly dup?: boolean;
  readonly qos?: 0 | 1 | 2;
  /** Parameters of the command: a different value is a different payload, same command id. */
  readonly rate?: number;
  /** Seen through the MQTT tap: no sender, the broker's header (not the publisher's). */
  readonly tap?: boolean;
  /** The number of the connection it came on (default 1, the first copy's); a reconnect is a higher one. */
  readonly connection?: number;
  readonly ingest?: 'in-path' | 'capture';
}

/** One set_rate command, id `c-77`, written at the harness's start: every copy has the same bytes unless `rate` changes. */
function send(ward: MonitorHarness, written: number, copy: Copy = {}): void {
  const account = copy.account === undefined ? 'station-4w' : copy.account;
  const payload = Buffer.from(JSON.stringify({ id: 'c-77', ts: new Date(written).toISOString(), issuer: account ?? 'nobody', user: 'rn-test', command: 'set_rate', params: { rate_ml_h: copy.rate ?? 4.2 } }));
  const qos = copy.qos ?? 1;
  const observation: PublishObservation = {
    kind: 'mqtt-publish',
    ts: ward.now,
    client: copy.tap === true ? null : { clientId: copy.clientId ?? 'station-4w-pc1', username: account, address: copy.address ?? '10.4.0.20' },
    topic: 'ward/pump-01/command',
    payload,
    retain: false,
    qos,
    ...(copy.tap === true ? { via: 'tap' as const } : {}),
    ...(qos === 0 || copy.tap === true ? {} : { publisherPacket: { dup: copy.dup ?? false, packetId: copy.packetId ?? 4242, connection: { ingest: copy.ingest ?? 'in-path', sequence: copy.connection ?? 1 } } }),
  };
  ward.monitor.pipeline.ingest(observation);
}

function replays(ward: MonitorHarness) {
  return ward.sink.raised.filter((alert) => alert.type === 'command-replay');
}

describe('command replay and the publisher\'s own QoS 1 re-send', () => {
  it('the same PUBLISH again with DUP=1 after a reconnect, same client, account, packet id and bytes, 40 s later: counted, no alert', () => {
    const ward = new MonitorHarness();
    const written = ward.now;
    send(ward, written);
    ward.advance(40 * SECOND);
    send(ward, written, { dup: true, connection: 2 });
    // Lost again, reconnected again, re-sent again: each copy is timed from the first, so the bound cannot be stretched.
    ward.advance(2 * MINUTE);
    send(ward, written, { dup: true, connection: 3 });
    // set_rate on a pump with no known drug is info (rate-without-context), once: the copies fold into it.
    expect(ward.sink.types()).toEqual(['rate-without-context']);
    const detector = ward.detector(CommandReplayDetector);
    expect(detector.resends).toBe(2);
    expect(ward.monitor.replay).toBe(detector);
  });

  it('QoS 2 re-sends qualify too; exactly the bound after the first copy is still a re-send', () => {
    const ward = new MonitorHarness();
    const written = ward.now;
    send(ward, written, { qos: 2 });
    ward.advance(HONEST_RESEND_MAX_MS);
    send(ward, written, { qos: 2, dup: true, connection: 2 });
    // set_rate on a pump with no known drug is info (rate-without-context), once: the copies fold into it.
    expect(ward.sink.types()).toEqual(['rate-without-context']);
    expect(ward.detector(CommandReplayDetector).resends).toBe(1);
  });

  it('the count is in /metrics as wardwatch_command_resends_total, beside the id table\'s evictions', () => {
    const ward = new MonitorHarness();
    const written = ward.now;
    send(ward, written);
    ward.advance(10 * SECOND);
    send(ward, written, { dup: true, connection: 2 });
    const { monitor } = ward;
    const text = agentMetrics({ health: monitor.health, engine: monitor.engine, alerts: monitor.alerts, outbound: [], devices: () => monitor.state.all(), mqttClients: () => 0, dashboardSessions: () => 0, webSocketClients: () => 0, process: new ProcessMetrics(), replay: monitor.replay }).render();
    expect(text).toMatch(/^wardwatch_command_resends_total 1$/m);
    expect(text).toMatch(/^wardwatch_command_replay_evictions_total 0$/m);
  });

  // Each copy sets DUP=1, as an attacker can: the flag alone must not silence the detector.
  it.each<[string, Copy, string]>([
    ['from another client id of the same account', { clientId: 'station-4w-pc2' }, 'another client id than the first copy'],
    ['from another account under the same client id', { account: 'ep-clinic' }, 'another account than the first copy'],
    ['anonymous, from another address', { account: null, address: '10.4.9.9' }, 'another account than the first copy'],
    ['with another packet id', { packetId: 4243 }, 'another packet id (4243) than the first copy (4242)'],
    ['with a changed payload (another rate, same command id)', { rate: 42 }, 'a payload that differs from the first copy'],
  ])('DUP=1 %s is command-replay, with the reason in its evidence', (_what, copy, reason) => {
    const ward = new MonitorHarness();
    const written = ward.now;
    send(ward, written);
    ward.advance(30 * SECOND);
    send(ward, written, { connection: 2, ...copy, dup: true });
    expect(replays(ward)).toHaveLength(1);
    expect(replays(ward)[0]?.severity).toBe('high');
    expect(replays(ward)[0]?.evidence).toMatchObject({ dup: true, notAResendBecause: reason, firstSender: 'station-4w' });
    expect(ward.detector(CommandReplayDetector).resends).toBe(0);
  });

  it('DUP=1 later than the bound after the first copy is command-replay', () => {
    const ward = new MonitorHarness();
    const written = ward.now;
    send(ward, written);
    ward.advance(HONEST_RESEND_MAX_MS + 1);
    send(ward, written, { dup: true, connection: 2 });
    expect(replays(ward)).toHaveLength(1);
    expect(replays(ward)[0]?.evidence.notAResendBecause).toBe('5 min after the first copy, more than the 5 min a re-send takes');
  });

  it('the same copy without DUP is a plain replay (no re-send claimed, no reason in the evidence)', () => {
    const ward = new MonitorHarness();
    const written = ward.now;
    send(ward, written);
    ward.advance(30 * SECOND);
    send(ward, written);
    expect(replays(ward)).toHaveLength(1);
    expect(replays(ward)[0]?.evidence).not.toHaveProperty('notAResendBecause');
    expect(replays(ward)[0]?.evidence).not.toHaveProperty('dup');
  });

  it('a first copy at QoS 0 (no packet id) cannot be re-sent: a DUP=1 QoS 1 copy of it is command-replay', () => {
    const ward = new MonitorHarness();
    const written = ward.now;
    send(ward, written, { qos: 0 });
    ward.advance(30 * SECOND);
    send(ward, written, { dup: true, connection: 2 });
    expect(replays(ward).map((alert) => alert.evidence.notAResendBecause)).toEqual(['the first copy was not seen as a QoS 1 or 2 PUBLISH']);
  });

  it('through the MQTT tap the publisher\'s DUP and packet id are not visible: every copy stays command-replay', () => {
    const ward = new MonitorHarness();
    const written = ward.now;
    send(ward, written, { tap: true });
    ward.advance(30 * SECOND);
    send(ward, written, { tap: true });
    expect(replays(ward)).toHaveLength(1);
    expect(ward.detector(CommandReplayDetector).resends).toBe(0);
  });

  it('a captured session whose login the capture missed (client id "(unknown)") cannot be matched: command-replay', () => {
    const ward = new MonitorHarness();
    const written = ward.now;
    send(ward, written, { account: null, clientId: UNKNOWN_CLIENT_ID });
    ward.advance(30 * SECOND);
    send(ward, written, { account: null, clientId: UNKNOWN_CLIENT_ID, dup: true, connection: 2 });
    expect(replays(ward).map((alert) => alert.evidence.notAResendBecause)).toEqual(['the sender of the copy is not known']);
  });

  it('an honest re-send does not hide a later replay of the same command from elsewhere', () => {
    const ward = new MonitorHarness();
    const written = ward.now;
    send(ward, written);
    ward.advance(20 * SECOND);
    send(ward, written, { dup: true, connection: 2 });
    ward.advance(20 * SECOND);
    send(ward, written, { clientId: 'laptop-in-the-corridor', dup: true, connection: 3 });
    expect(ward.detector(CommandReplayDetector).resends).toBe(1);
    expect(replays(ward)).toHaveLength(1);
    expect(replays(ward)[0]?.evidence).toMatchObject({ ageMs: 40 * SECOND, clientId: 'laptop-in-the-corridor' });
  });

  // A client re-sends only when it reconnects (3.1.1 §4.4; 5.0 forbids any other time, [MQTT-4.4.0-1]).
  it('DUP=1 on the same connection as the first copy is command-replay: 50 copies over 4 min, not one taken as a re-send', () => {
    const ward = new MonitorHarness();
    const written = ward.now;
    send(ward, written);
    for (let copy = 1; copy < 50; copy += 1) {
      ward.advance(4.8 * SECOND);
      send(ward, written, { dup: true });
    }
    expect(ward.detector(CommandReplayDetector).resends).toBe(0);
    expect(replays(ward)).toHaveLength(1);
    expect(replays(ward)[0]?.evidence).toMatchObject({ dup: true, packetId: 4242, notAResendBecause: 'the same connection as the first copy: a client re-sends only after reconnecting' });
    // The 49 copies fold into that one alert (its suppression window), each counted.
    expect(ward.monitor.alerts.list().filter((alert) => alert.type === 'command-replay').map((alert) => alert.count)).toEqual([49]);
  });

  it(`one re-send per reconnect, at most ${HONEST_RESENDS_MAX}: the next copy is command-replay, already re-sent`, () => {
    const ward = new MonitorHarness();
    const written = ward.now;
    send(ward, written);
    for (let reconnect = 1; reconnect <= HONEST_RESENDS_MAX; reconnect += 1) {
      ward.advance(30 * SECOND);
      send(ward, written, { dup: true, connection: 1 + reconnect });
    }
    expect(replays(ward)).toEqual([]);
    ward.advance(30 * SECOND);
    send(ward, written, { dup: true, connection: 2 + HONEST_RESENDS_MAX });
    expect(ward.detector(CommandReplayDetector).resends).toBe(HONEST_RESENDS_MAX);
    expect(replays(ward).map((alert) => alert.evidence.notAResendBecause)).toEqual([`already re-sent ${HONEST_RESENDS_MAX} times, the most taken as honest`]);
  });

  it.each<[string, Copy, string]>([
    ['a second copy on the connection of its re-send', { connection: 2 }, 'the same connection as its last re-send: a client re-sends only after reconnecting'],
    ['a copy on a connection older than its re-send\'s', { connection: 1 }, 'an earlier connection than its last re-send'],
    ['a copy numbered by another ingest (capture beside the in-path broker)', { connection: 9, ingest: 'capture' }, 'seen capture and its last re-send in-path: not comparable connections'],
  ])('after an honest re-send, %s is command-replay', (_what, copy, reason) => {
    const ward = new MonitorHarness();
    const written = ward.now;
    send(ward, written);
    ward.advance(20 * SECOND);
    send(ward, written, { dup: true, connection: 2 });
    ward.advance(20 * SECOND);
    send(ward, written, { ...copy, dup: true });
    expect(ward.detector(CommandReplayDetector).resends).toBe(1);
    expect(replays(ward).map((alert) => alert.evidence.notAResendBecause)).toEqual([reason]);
  });
});
