import type { AckMessage, CommandMessage } from '../../../agent/src/model/wire.ts';

/**
 * How a station (the nurse station, the EP workstation) reaches its devices: send a
 * command and learn whether the device accepted it; receive the device's telemetry.
 * Implementations: mqtt-station-transport.ts (commands, acks and telemetry on the MQTT
 * wire contract), modbus-station-transport.ts (a Modbus/TCP master: one FC16 write per
 * command, FC4 polls for telemetry), and a router that picks one per device.
 */

/**
 * The device's answer to a command, as an ack: on MQTT the device's own ack; on Modbus a
 * normal response (ok) or an exception response (refused), stamped when it arrived.
 */
export type OutcomeHandler = (deviceId: string, outcome: AckMessage) => void;

/** Telemetry fields of the profile plus `ts` (ISO-8601, the time of the report or the read). */
export type TelemetryHandler = (deviceId: string, telemetry: Readonly<Record<string, unknown>>) => void;

export interface StationTransport {
  /** Delivers the outcomes of commands sent to `deviceId`; call once per device before sending to it. */
  watchOutcomes(deviceId: string, onOutcome: OutcomeHandler): void;
  /** Delivers the device's telemetry about every telemetry period. */
  watchTelemetry(deviceId: string, onTelemetry: TelemetryHandler): void;
  /**
   * Sends a command; never throws for a network failure. A command that cannot be
   * delivered has no outcome: the station's own timeout handles it, as for a lost ack.
   */
  send(deviceId: string, message: CommandMessage): void;
  close(): Promise<void>;
}

/**
 * Sends each device's traffic over the transport `route` names for it: the ward under
 * `transport: 'modbus'` commands the devices that have a Modbus gateway over Modbus and
 * the others over MQTT.
 */
export class RoutedStationTransport implements StationTransport {
  constructor(
    private readonly route: (deviceId: string) => StationTransport,
    private readonly transports: readonly StationTransport[],
  ) {}

  watchOutcomes(deviceId: string, onOutcome: OutcomeHandler): void {
    this.route(deviceId).watchOutcomes(deviceId, onOutcome);
  }

  watchTelemetry(deviceId: string, onTelemetry: TelemetryHandler): void {
    this.route(deviceId).watchTelemetry(deviceId, onTelemetry);
  }

  send(deviceId: string, message: CommandMessage): void {
    this.route(deviceId).send(deviceId, message);
  }

  async close(): Promise<void> {
    await Promise.all(this.transports.map((transport) => transport.close()));
  }
}
