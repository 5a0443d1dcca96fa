import { pino } from 'pino';
import type { AlertSink } from '../../agent/src/alert/alert-sink.ts';
import type { Detector } from '../../agent/src/detect/detector.ts';
import type { ClientIdentity } from '../../agent/src/ingest/observation.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import type { ParamValue } from '../../agent/src/model/wire.ts';
import { createMonitor, type Monitor } from '../../agent/src/monitor.ts';
import type { AlertView } from '../../agent/src/server/dashboard-protocol.ts';
import { loadDemoConfig } from './demo-config.ts';

/** Collects what the alert manager hands its sinks, in order. */
export class CollectingSink implements AlertSink {
  readonly name = 'collector';
  readonly raised: AlertView[] = [];
  readonly updated: AlertView[] = [];

  alertRaised(alert: AlertView): void {
    this.raised.push(alert);
  }

  alertUpdated(alert: AlertView): void {
    this.updated.push(alert);
  }

  types(): string[] {
    return this.raised.map((alert) => alert.type);
  }
}

/**
 * The agent's real pipeline (normalizer, detectors, alert manager) fed with observations
 * as the broker would produce them, with event time under the test's control.
 */
export class MonitorHarness {
  readonly sink = new CollectingSink();
  readonly monitor: Monitor;
  now = Date.parse('2026-11-28T08:00:00Z');
  private commandCounter = 0;

  constructor(readonly config: SiteConfig = loadDemoConfig()) {
    this.monitor = createMonitor(config, { sinks: [this.sink], logger: pino({ level: 'silent' }) });
  }

  client(username: string | null, address = '10.4.0.20', clientId = `${username ?? 'anon'}-client`): ClientIdentity {
    return { clientId, username, address };
  }

  advance(ms: number): this {
    this.now += ms;
    return this;
  }

  publish(client: ClientIdentity | null, topic: string, payload: string | Buffer, retain = false): void {
    this.monitor.pipeline.ingest({
      kind: 'mqtt-publish',
      ts: this.now,
      client,
      topic,
      payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
      retain,
      qos: 1,
    });
  }

  /**
   * A publish seen on the simulators' in-memory bus, given to the pipeline as the agent's
   * broker would: the sender's account, the ward station address, event time `ts`.
   */
  busPublish(identity: { readonly clientId: string; readonly username?: string | null }, topic: string, payload: Buffer, retain: boolean, ts: number): void {
    this.monitor.pipeline.ingest({ kind: 'mqtt-publish', ts, client: { clientId: identity.clientId, username: identity.username ?? null, address: '10.4.0.10' }, topic, payload, retain, qos: 1 });
  }

  /** A command as a station sends it; `issuer` defaults to the sending account. */
  command(account: string | null, deviceId: string, command: string, params: Record<string, ParamValue> = {}, issuer?: string): void {
    this.commandCounter += 1;
    const message = { id: `cmd-${this.commandCounter}`, ts: new Date(this.now).toISOString(), issuer: issuer ?? account ?? 'nobody', user: 'rn-test', command, params };
    this.publish(this.client(account), `ward/${deviceId}/command`, JSON.stringify(message));
  }

  telemetry(deviceId: string, fields: Record<string, ParamValue>, account = deviceId): void {
    this.publish(this.client(account, '10.4.1.10', deviceId), `ward/${deviceId}/telemetry`, JSON.stringify({ ts: new Date(this.now).toISOString(), ...fields }));
  }

  authFailure(username: string | null, address: string, clientId = 'guesser'): void {
    this.monitor.pipeline.ingest({ kind: 'mqtt-auth-failure', ts: this.now, client: { clientId, username, address }, reason: 'bad-password' });
  }

  /** A login the broker accepted (`mqtt-connect`) at the harness's event time. */
  connect(account: string | null, address = '10.4.0.20', clientId = `${account ?? 'anon'}-client`): void {
    this.monitor.pipeline.ingest({ kind: 'mqtt-connect', ts: this.now, client: this.client(account, address, clientId) });
  }

  /** A connection ending (`mqtt-disconnect`), clean or not. */
  disconnect(account: string | null, address = '10.4.0.20', clientId = `${account ?? 'anon'}-client`): void {
    this.monitor.pipeline.ingest({ kind: 'mqtt-disconnect', ts: this.now, client: this.client(account, address, clientId) });
  }

  /** A SUBSCRIBE with one or more topic filters (`mqtt-subscribe`). */
  subscribe(account: string | null, filters: string | readonly string[], address = '10.4.0.20', clientId = `${account ?? 'anon'}-client`): void {
    this.monitor.pipeline.ingest({
      kind: 'mqtt-subscribe',
      ts: this.now,
      client: this.client(account, address, clientId),
      topicFilters: typeof filters === 'string' ? [filters] : [...filters],
    });
  }

  /** A device's retained status as the device (or its last will) publishes it. */
  status(deviceId: string, status: 'online' | 'offline', account = deviceId): void {
    this.publish(this.client(account, '10.4.1.10', deviceId), `ward/${deviceId}/status`, status, true);
  }

  /** A command with every field under the test's control: id, ts, retain flag, sender. */
  rawCommand(account: string | null, deviceId: string, message: { id: string; ts: string; command: string; params?: Record<string, ParamValue>; issuer?: string }, options: { retain?: boolean; address?: string } = {}): void {
    const payload = { id: message.id, ts: message.ts, issuer: message.issuer ?? account ?? 'nobody', user: 'rn-test', command: message.command, params: message.params ?? {} };
    this.publish(this.client(account, options.address), `ward/${deviceId}/command`, JSON.stringify(payload), options.retain ?? false);
  }

  /** The monitor's detector of this class, to check its bounded state. */
  detector<T extends Detector>(type: abstract new (...args: never[]) => T): T {
    const found = this.monitor.detectors.find((detector): detector is T => detector instanceof type);
    if (found === undefined) throw new Error(`no ${type.name} in the monitor`);
    return found;
  }

  /** Alerts raised so far as [type, severity] pairs, for compact assertions. */
  raised(): [string, string][] {
    return this.sink.raised.map((alert) => [alert.type, alert.severity]);
  }

  /** A message seen through the MQTT tap: the sender is not visible. */
  tapPublish(topic: string, payload: string): void {
    this.monitor.pipeline.ingest({ kind: 'mqtt-publish', ts: this.now, client: null, via: 'tap', topic, payload: Buffer.from(payload), retain: false, qos: 0 });
  }

  /** A Modbus request through the gateway to `deviceId`, as PDU bytes (function code and data). */
  modbusRequest(deviceId: string, masterAddress: string, pdu: readonly number[] | Buffer, unitId = 1, transactionId = 1): readonly string[] {
    return this.monitor.pipeline.ingest({ kind: 'modbus-request', ts: this.now, master: { address: masterAddress, port: 40_000 }, deviceId, unitId, transactionId, pdu: Buffer.from(pdu) });
  }

  /** The device's answer to a request, both as PDU bytes. */
  modbusResponse(deviceId: string, masterAddress: string, requestPdu: readonly number[] | Buffer | null, pdu: readonly number[] | Buffer, unitId = 1): readonly string[] {
    return this.monitor.pipeline.ingest({ kind: 'modbus-response', ts: this.now, master: { address: masterAddress, port: 40_000 }, deviceId, unitId, transactionId: 1, pdu: Buffer.from(pdu), requestPdu: requestPdu === null ? null : Buffer.from(requestPdu) });
  }

  /** Heparin in ICU for an 80 kg patient at `rate` mL/h, programmed by the station. */
  programHeparin(deviceId = 'pump-01', rate = 14.4): void {
    this.command('station-4w', deviceId, 'program_infusion', { drug: 'heparin', rate_ml_h: rate, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' });
  }
}
