import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import { CaptureIngest } from '../../agent/src/ingest/capture-ingest.ts';
import { createMonitor } from '../../agent/src/monitor.ts';
import { startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { CollectingSink } from '../helpers/monitor-harness.ts';
import { missingPeer } from '../helpers/peers.ts';
import { waitFor } from '../helpers/wait-for.ts';

const noTcpdump = missingPeer('tcpdump', 'tcpdump');

/**
 * A station speaking MQTT byte by byte (mqtt-packet over a raw socket), so that the test
 * decides DUP, the packet id and when the connection drops: mqtt.js 5 re-sends its stored
 * PUBLISH with DUP=0, against [MQTT-3.3.1-1], and hides the packet id.
 */
class RawStation {
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  readonly received: Packet[] = [];

  private constructor(readonly socket: Socket) {
    this.parser.on('packet', (packet) => this.received.push(packet));
    socket.on('data', (chunk) => this.parser.parse(chunk));
  }

  /** Connected and logged in: returns once the CONNACK (accepted) is read. */
  static async connect(port: number, clientId: string, clean: boolean): Promise<{ station: RawStation }> {
    const socket = connectTcp(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const station = new RawStation(socket);
    station.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean, keepalive: 60, clientId, username: 'station-4w', password: Buffer.from('demo') });
    const connack = await station.next('connack');
    if (connack.cmd !== 'connack' || connack.returnCode !== 0) throw new Error(`login refused: ${JSON.stringify(connack)}`);
    return { station };
  }

  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet, { protocolVersion: 4 }));
  }

  next(cmd: Packet['cmd'], messageId?: number): Promise<Packet> {
    return waitFor(() => this.received.find((packet) => packet.cmd === cmd && (messageId === undefined || packet.messageId === messageId)), 3_000, `${cmd} from the agent's broker`);
  }

  /** The link drops: bytes the broker sent (the PUBACK) are never read, and the peer sees a reset. */
  drop(): void {
    this.socket.pause();
    this.socket.resetAndDestroy();
  }

  end(): void {
    this.send({ cmd: 'disconnect' });
    this.socket.end();
  }
}

const PACKET_ID = 4242;

/** A pause command with an id of its own (unique across runs, as the stations make theirs). */
function pauseCommand(): Buffer {
  return Buffer.from(JSON.stringify({ id: `resend-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`, ts: new Date().toISOString(), issuer: 'station-4w', user: 'rn-it', command: 'pause', params: {} }));
}

/** The station's QoS 1 PUBLISH of `payload`, always with the same packet id. */
function publishOf(payload: Buffer, dup: boolean): Packet {
  return { cmd: 'publish', topic: 'ward/pump-01/command', payload, qos: 1, messageId: PACKET_ID, dup, retain: false };
}

describe('a QoS 1 command re-sent after a lost PUBACK, against the agent\'s embedded broker', () => {
  let data: ReturnType<typeof temporaryDataDir>;
  let agent: RunningAgent;
  let pump: MqttClient;
  let capture: ChildProcess | null = null;
  let captured = '';
  const deliveries: string[] = [];
  const stations: RawStation[] = [];

  beforeEach(async () => {
    data = temporaryDataDir();
    agent = await startTestAgent(data.dir, loadDemoConfig(), { mqttPort: 0, httpPort: 0 }, { metricsPort: 0 });
    if (noTcpdump === null) {
      // The same bytes recorded for the capture path (DESIGN.md, way 4).
      capture = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-n', '-w', join(data.dir, 'resend.pcap'), `tcp port ${agent.mqttPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
      capture.stderr?.on('data', (chunk: Buffer) => (captured += chunk.toString()));
      await waitFor(() => captured.includes('listening on'), 5_000, 'tcpdump to start');
      // "listening on" can come before packets are written: knock (a connection that sends
      // no byte, so no MQTT flow) until the file holds more than the 24-byte pcap header.
      await waitFor(async () => {
        const knock = connectTcp(agent.mqttPort ?? 0, '127.0.0.1');
        await new Promise((resolve) => knock.once('connect', resolve).once('error', resolve));
        knock.destroy();
        await new Promise((resolve) => setTimeout(resolve, 50));
        return (statSync(join(data.dir, 'resend.pcap'), { throwIfNoEntry: false })?.size ?? 0) > 24;
      }, 5_000, 'tcpdump to write packets');
    }
    // The pump, subscribed to its command topic: it shows what the broker delivers.
    pump = await connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { clientId: 'pump-01', username: 'pump-01', password: 'demo-pump-01', protocolVersion: 4, reconnectPeriod: 0 });
    pump.on('message', (_topic, payload) => deliveries.push(payload.toString()));
    await pump.subscribeAsync('ward/pump-01/command', { qos: 1 });
  });

  /** Stops tcpdump and judges its recording with a monitor of its own (DESIGN.md, way 4): its re-sends and the reasons of its replays. */
  async function judgeCapture(): Promise<{ resends: number; notAResendBecause: unknown[] }> {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopped = new Promise((resolve) => capture?.once('close', resolve));
    capture?.kill('SIGINT');
    await stopped;
    capture = null;
    const config = loadDemoConfig();
    const sink = new CollectingSink();
    const monitor = createMonitor(config, { sinks: [sink], logger: pino({ level: 'silent' }) });
    const ingest = new CaptureIngest({ config, ingest: (observation) => monitor.pipeline.ingest(observation), onInspectionFailure: () => undefined, mqttPorts: [agent.mqttPort ?? 0] });
    ingest.push(readFileSync(join(data.dir, 'resend.pcap')));
    ingest.end();
    return { resends: monitor.replay.resends, notAResendBecause: sink.raised.filter((alert) => alert.type === 'command-replay').map((alert) => alert.evidence.notAResendBecause) };
  }

  afterEach(async () => {
    for (const station of stations.splice(0)) station.socket.destroy();
    await pump.endAsync(true);
    capture?.kill('SIGINT');
    capture = null;
    deliveries.length = 0;
    await agent.stop();
    data.remove();
  });

  it('the honest re-send (DUP=1, same client, packet id and bytes) raises nothing and is counted; the same copy from another client is command-replay; a capture of it judges the same', async () => {
    const payload = pauseCommand();
    const publish = (dup: boolean): Packet => publishOf(payload, dup);

    // 1. The station publishes, and the link drops before it reads the PUBACK.
    const first = await RawStation.connect(agent.mqttPort ?? 0, 'station-4w-pc1', false);
    stations.push(first.station);
    first.station.send(publish(false));
    await waitFor(() => deliveries.length === 1, 3_000, 'the first delivery to the pump');
    first.station.drop();

    // 2. It reconnects with CleanSession=0 and sends the PUBLISH again with its packet id and DUP=1 [MQTT-4.4.0-1]
    // (aedes answers Session Present 0 here: for a publisher's QoS 1 the broker keeps no state; the client does).
    const again = await RawStation.connect(agent.mqttPort ?? 0, 'station-4w-pc1', false);
    stations.push(again.station);
    again.station.send(publish(true));
    await again.station.next('puback', PACKET_ID);
    // QoS 1 is at-least-once: the pump is handed the same command twice (the pump must dedupe by id).
    await waitFor(() => deliveries.length === 2, 3_000, 'the re-send delivered to the pump');
    expect(deliveries[1]).toBe(deliveries[0]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(agent.alerts.list().filter((alert) => alert.type === 'command-replay')).toEqual([]);
    const metrics = await (await fetch(`http://127.0.0.1:${agent.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^wardwatch_command_resends_total 1$/m);
    again.station.end();

    // 3. The same bytes, DUP=1 and packet id included, from another client of the same account: a replay.
    const other = await RawStation.connect(agent.mqttPort ?? 0, 'station-4w-corridor', true);
    stations.push(other.station);
    other.station.send(publish(true));
    await other.station.next('puback', PACKET_ID);
    const replay = await waitFor(() => agent.alerts.list().find((alert) => alert.type === 'command-replay'), 3_000, 'command-replay');
    expect(replay.severity).toBe('high');
    expect(replay.deviceId).toBe('pump-01');
    expect(replay.evidence).toMatchObject({ clientId: 'station-4w-corridor', firstSender: 'station-4w', dup: true, packetId: PACKET_ID, notAResendBecause: 'another client id than the first copy' });
    expect(agent.alerts.list().filter((alert) => alert.type === 'command-replay')).toHaveLength(1);
    other.station.end();

    // 4. Passive capture of the same traffic: mqtt-packet reads DUP and the packet id off the wire.
    if (capture === null) return;
    await waitFor(() => deliveries.length === 3, 3_000, 'the copy delivered to the pump');
    expect(await judgeCapture()).toEqual({ resends: 1, notAResendBecause: ['another client id than the first copy'] });
  });

  it('a DUP=1 copy on the same connection, without a reconnect, is command-replay though the broker delivers it; a capture of it judges the same', async () => {
    const payload = pauseCommand();
    const { station } = await RawStation.connect(agent.mqttPort ?? 0, 'station-4w-pc1', false);
    stations.push(station);
    station.send(publishOf(payload, false));
    await station.next('puback', PACKET_ID);
    // Everything a re-send has (client id, account, packet id, bytes, DUP=1) but a reconnect:
    // MQTT 3.1.1 §4.4 has a client re-send only when it reconnects, 5.0 forbids any other time [MQTT-4.4.0-1].
    station.send(publishOf(payload, true));
    // aedes acknowledges and forwards it: the pump is handed the command a second time (a repeated bolus, for a bolus).
    await waitFor(() => deliveries.length === 2, 3_000, 'the copy delivered to the pump');
    expect(deliveries[1]).toBe(deliveries[0]);
    const replay = await waitFor(() => agent.alerts.list().find((alert) => alert.type === 'command-replay'), 3_000, 'command-replay');
    expect(replay.severity).toBe('high');
    expect(replay.evidence).toMatchObject({ clientId: 'station-4w-pc1', firstSender: 'station-4w', dup: true, packetId: PACKET_ID, notAResendBecause: 'the same connection as the first copy: a client re-sends only after reconnecting' });
    const metrics = await (await fetch(`http://127.0.0.1:${agent.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^wardwatch_command_resends_total 0$/m);
    station.end();

    if (capture === null) return;
    expect(await judgeCapture()).toEqual({ resends: 0, notAResendBecause: ['the same connection as the first copy: a client re-sends only after reconnecting'] });
  });
});
