import type { AlertType } from '../alert/catalogue.ts';
import type { SiteConfig } from '../model/site-schema.ts';
import { CaptureDecoder, type CaptureSummary, type TcpFlow } from '../protocol/pcap/index.ts';
import { ModbusFlowObserver } from './modbus-flow-observer.ts';
import { MqttFlowTracker } from '../protocol/mqtt/index.ts';
import type { ModbusPeer, Observation } from './observation.ts';
import { isValidEventTime } from '../model/wire.ts';

/** What carries MQTT in a capture; the MQTT decoder plugs in here (protocol/mqtt). */
export interface CaptureProtocolHandler {
  onData(flow: TcpFlow, payload: Buffer, ts: number): void;
  onEnd(flow: TcpFlow): void;
}

export interface CaptureIngestOptions {
  readonly config: SiteConfig;
  readonly ingest: (observation: Observation) => readonly AlertType[];
  readonly onInspectionFailure: (deviceId: string, master: ModbusPeer, error: unknown) => void;
  /** Server ports decoded as Modbus/TCP besides 502 and the gateways' targets. */
  readonly modbusPorts?: readonly number[];
  /** Server ports decoded as MQTT besides 1883, 8883 and the config's `capture.mqttPorts`. */
  readonly mqttPorts?: readonly number[];
  /** Replaces the MQTT decoder (tests); by default the capture decoder of protocol/mqtt. */
  readonly mqtt?: CaptureProtocolHandler & { onGap?(flow: TcpFlow, ts?: number): void; flush?(): void };
}

export interface CaptureIngestSummary extends CaptureSummary {
  readonly modbusFlows: number;
  readonly mqttFlows: number;
  /** Flows on ports that are neither, not decoded. */
  readonly otherFlows: number;
}

/** A device's Modbus server address, `ip:port`, from the gateways' targets. */
function modbusDevicesByAddress(config: SiteConfig): Map<string, string> {
  return new Map(config.modbus.gateways.map((gateway) => [gateway.target.replace(/^\[|\](?=:)/g, ''), gateway.device]));
}

/**
 * Passive monitoring (DESIGN.md, way 4): capture records → TCP streams → Modbus/TCP (the
 * same flow observer as the gateway) or MQTT (the capture decoder) → the same
 * Observations as in-path, with event time taken from the capture. A Modbus server is
 * known as a device by the gateway `target` addresses of the config; traffic to unknown
 * servers is framed and counted but attributed to no device.
 */
export class CaptureIngest {
  private readonly decoder: CaptureDecoder;
  private readonly modbusFlows = new Map<string, ModbusFlowObserver>();
  private readonly modbusPorts: ReadonlySet<number>;
  private readonly mqttPorts: ReadonlySet<number>;
  private readonly devicesByAddress: ReadonlyMap<string, string>;
  private readonly mqttFlowKeys = new Set<string>();
  private lastEventTime = 0;
  private lastRecordMicros = 0;
  private invalidTimestamps = 0;
  private readonly mqtt: NonNullable<CaptureIngestOptions['mqtt']>;
  private modbusFlowCount = 0;
  private otherFlowKeys = new Set<string>();

  constructor(private readonly options: CaptureIngestOptions) {
    this.devicesByAddress = modbusDevicesByAddress(options.config);
    const targetPorts = [...this.devicesByAddress.keys()].map((address) => Number(address.slice(address.lastIndexOf(':') + 1)));
    this.modbusPorts = new Set([502, ...targetPorts, ...options.config.capture.modbusPorts, ...(options.modbusPorts ?? [])]);
    this.mqttPorts = new Set([1883, 8883, ...options.config.capture.mqttPorts, ...(options.mqttPorts ?? [])]);
    this.mqtt = options.mqtt ?? new MqttFlowTracker((observation) => options.ingest(observation), {
      onAnomaly: (anomaly) => options.ingest({
        kind: 'mqtt-anomaly',
        ts: anomaly.ts,
        client: { clientId: '(capture)', username: null, address: anomaly.flow.client.ip },
        name: anomaly.name,
        detail: anomaly.detail,
      }),
    });
    this.decoder = new CaptureDecoder(
      {
        onData: (flow, payload, tsMicros) => this.onData(flow, payload, this.eventTime(tsMicros)),
        onEnd: (flow) => this.onEnd(flow),
        onRecord: (record) => {
          this.lastRecordMicros = record.tsMicros;
        },
        onAnomaly: (name, detail, flow, endpoints) => {
          // IP fragment and TCP overlap anomalies: the addresses are all that is named (capture-evasion-detector.ts judges them).
          if (endpoints !== undefined) {
            options.ingest({ kind: 'capture-anomaly', ts: this.eventTime(this.lastRecordMicros), source: endpoints.source, destination: endpoints.destination, name, detail });
            return;
          }
          // Overlaps: a conflict is judged (capture-evasion), an unverified copy only counted.
          if (flow !== null && (name === 'tcp-overlap-conflict' || name === 'tcp-overlap-unverified')) {
            const fromClient = flow.direction === 'client-to-server';
            options.ingest({ kind: 'capture-anomaly', ts: this.eventTime(this.lastRecordMicros), source: fromClient ? flow.client.ip : flow.server.ip, destination: fromClient ? flow.server.ip : flow.client.ip, name, detail: `${flow.key}: ${detail}` });
            return;
          }
          if (flow === null || name !== 'tcp-gap') return;
          const observer = this.modbusFlows.get(flow.key);
          if (observer !== undefined) observer.resetDirection(flow.direction === 'client-to-server' ? 'request' : 'response');
          else if (this.mqttPorts.has(flow.server.port)) this.mqtt.onGap?.(flow);
        },
      },
      { serverPorts: [...this.modbusPorts, ...this.mqttPorts] },
    );
  }

  push(chunk: Buffer): void {
    this.decoder.push(chunk);
  }

  /** Capture time in ms; a timestamp no date can hold (a fuzzed pcapng) keeps the last good time. */
  private eventTime(tsMicros: number): number {
    const ms = tsMicros / 1000;
    if (isValidEventTime(ms)) this.lastEventTime = ms;
    else this.invalidTimestamps += 1;
    return this.lastEventTime;
  }

  end(): CaptureIngestSummary {
    const summary = this.decoder.end();
    this.mqtt.flush?.();
    const anomalies = this.invalidTimestamps === 0 ? summary.anomalies : { ...summary.anomalies, 'capture-invalid-timestamp': this.invalidTimestamps };
    return { ...summary, anomalies, modbusFlows: this.modbusFlowCount, mqttFlows: this.mqttFlowKeys.size, otherFlows: this.otherFlowKeys.size };
  }

  private onData(flow: TcpFlow, payload: Buffer, ts: number): void {
    if (this.modbusPorts.has(flow.server.port)) {
      const observer = this.modbusFlow(flow);
      if (flow.direction === 'client-to-server') observer.pushRequests(payload, ts);
      else observer.pushResponses(payload, ts);
    } else if (this.mqttPorts.has(flow.server.port)) {
      if (this.mqttFlowKeys.size < 10_000) this.mqttFlowKeys.add(flow.key);
      this.mqtt.onData(flow, payload, ts);
    } else if (this.otherFlowKeys.size < 10_000) {
      this.otherFlowKeys.add(flow.key);
    }
  }

  private modbusFlow(flow: TcpFlow): ModbusFlowObserver {
    let observer = this.modbusFlows.get(flow.key);
    if (observer === undefined) {
      const deviceId = this.devicesByAddress.get(`${flow.server.ip}:${flow.server.port}`) ?? `unknown:${flow.server.ip}:${flow.server.port}`;
      observer = new ModbusFlowObserver(deviceId, { address: flow.client.ip, port: flow.client.port }, this.options.ingest, this.options.onInspectionFailure);
      this.modbusFlows.set(flow.key, observer);
      this.modbusFlowCount += 1;
    }
    return observer;
  }

  private onEnd(flow: TcpFlow): void {
    this.modbusFlows.delete(flow.key);
    if (this.mqttPorts.has(flow.server.port)) this.mqtt.onEnd(flow);
  }
}
