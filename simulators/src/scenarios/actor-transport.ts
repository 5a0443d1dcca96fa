import type { MessageHandler } from '../transports/device-link.ts';

/** One connection an actor holds. */
export interface ActorSession {
  publish(topic: string, payload: string | Buffer, options: { retain: boolean; qos: 0 | 1 }): void;
  subscribe(filter: string, onMessage: MessageHandler): void;
  close(): Promise<void>;
}

export interface ConnectRequest {
  readonly actor: string;
  readonly username: string;
  readonly password: string;
  readonly clientId: string;
  /** Source address the evaluation attributes to this actor; ignored on a real network. */
  readonly address: string;
  /** Evaluation: reuse the simulated ward's own session of this account. */
  readonly wardSession: boolean;
}

/**
 * How a scenario's actors reach the broker: over real MQTT (a live run against a running
 * agent) or in-process (an evaluation in virtual time). A refused login resolves to null;
 * transports never throw on a refusal, since refusals are what brute-force scenarios do.
 */
export interface ActorTransport {
  connect(request: ConnectRequest): Promise<ActorSession | null>;
}

/** Ward events a scenario can stage; only an evaluation, which owns the simulated ward, has them. */
export interface WardControl {
  silence(deviceId: string): void;
  reboot(deviceId: string, downtimeMs: number): void;
  occlusion(deviceId: string): void;
  shiftChange(withinMs: number): void;
  /** The pump infuses `factor` times its programmed rate while reporting the programmed one (CVE-2021-33885). */
  reconfigureDelivery(deviceId: string, factor: number): void;
}

/**
 * How a scenario's Modbus masters reach a device: bytes to the device's gateway (live) or
 * through the in-process gateway of an evaluation. Resolves with the response ADU, or null
 * when none came (a malformed request the gateway dropped, a device that kept silent).
 */
export interface ModbusTransport {
  send(master: { readonly actor: string; readonly address: string }, deviceId: string, adu: Buffer): Promise<Buffer | null>;
  close(): Promise<void>;
}
