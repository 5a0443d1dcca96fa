import modbusSerial from 'modbus-serial';
import type { DeviceKind } from '../../../agent/src/model/device-profile.ts';
import { COMMAND_REGISTER, decodeField, modbusMapFor } from '../../../agent/src/model/modbus-map.ts';
import type { ModbusMap } from '../../../agent/src/model/modbus-map.ts';
import { DEVICE_PROFILES } from '../../../agent/src/model/profiles/index.ts';
import type { AckMessage, CommandMessage } from '../../../agent/src/model/wire.ts';
import type { SimClock, SimTimer } from '../clock.ts';
import { isoTime } from '../clock.ts';
import { commandWrite, MAX_READ_REGISTERS, MODBUS_EXCEPTION_NAMES } from '../devices/modbus-register-bank.ts';
import type { ModbusExceptionCode } from '../devices/modbus-register-bank.ts';
import type { OutcomeHandler, StationTransport, TelemetryHandler } from './station-transport.ts';

/**
 * A station as a Modbus/TCP master (modbus-serial's client), one TCP connection per
 * device to the address the site config gives it (the agent's gateway in front of the
 * device, or the device itself). On the register map of agent/src/model/modbus-map.ts:
 *
 * - a command is one FC16 write of the whole holding table at register 0: the command
 *   code, then every parameter the command carries (the other registers 0). A normal
 *   response means the device accepted it; an exception response that it refused.
 * - telemetry is an FC4 read of the whole input table (which the agent also reads as
 *   telemetry) every telemetry period of the profile, in sim time.
 *
 * A master talks to a device one request at a time, as simple masters do; the queue per
 * device is bounded. A request that gets no answer (timeout, connection refused) has no
 * outcome: the station's own timeout handles it, as for a lost MQTT ack.
 */

const ModbusRTU = modbusSerial.default;
type ModbusClient = InstanceType<typeof ModbusRTU>;

export interface ModbusEndpoint {
  readonly host: string;
  readonly port: number;
  /** Unit id written in every request (the gateway entry's `unitId`). */
  readonly unitId: number;
  readonly profile: DeviceKind;
}

export interface ModbusStationTransportOptions {
  readonly clock: SimClock;
  /** Where each device is reached, by device id. */
  readonly endpoints: ReadonlyMap<string, ModbusEndpoint>;
  /** Real milliseconds a request may wait for its response (default 2000). */
  readonly responseTimeoutMs?: number;
  /** Requests waiting per device beyond the one in flight; more are dropped (default 16). */
  readonly maxQueuedRequests?: number;
  readonly log?: (line: string) => void;
}

const DEFAULT_RESPONSE_TIMEOUT_MS = 2_000;
const DEFAULT_MAX_QUEUED_REQUESTS = 16;

type Request = (client: ModbusClient) => Promise<void>;

function exceptionCodeOf(error: unknown): number | null {
  const code = (error as { modbusCode?: unknown } | null)?.modbusCode;
  return typeof code === 'number' ? code : null;
}

function describeException(code: number): string {
  return `Modbus exception ${code} (${MODBUS_EXCEPTION_NAMES[code as ModbusExceptionCode] ?? 'unknown'})`;
}

/** One device as the master sees it: a connection, a request queue, a telemetry poll. */
class DeviceConnection {
  readonly map: ModbusMap;
  onOutcome: OutcomeHandler | null = null;
  onTelemetry: TelemetryHandler | null = null;
  pollTimer: SimTimer | null = null;
  nextPollAt = 0;
  /** A poll is queued or in flight: the next one is skipped rather than piled up. */
  polling = false;
  private client: ModbusClient | null = null;
  private readonly queue: Request[] = [];
  private busy = false;
  private closed = false;
  private lastProblem = '';

  constructor(
    readonly deviceId: string,
    readonly endpoint: ModbusEndpoint,
    private readonly timeoutMs: number,
    private readonly maxQueued: number,
    private readonly log: ((line: string) => void) | undefined,
  ) {
    this.map = modbusMapFor(endpoint.profile);
  }

  /** Queues a request; false when the queue is full (the request is dropped). */
  enqueue(request: Request): boolean {
    if (this.closed) return false;
    if (this.queue.length >= this.maxQueued) {
      this.report(`more than ${this.maxQueued} requests waiting; dropping one`);
      return false;
    }
    this.queue.push(request);
    if (!this.busy) void this.drain();
    return true;
  }

  /** Records a failure that is not a Modbus exception and drops the connection, so that the next request reconnects. */
  failed(error: unknown): void {
    this.report(error instanceof Error ? error.message : String(error));
    const client = this.client;
    this.client = null;
    client?.destroy(() => undefined);
  }

  succeeded(): void {
    if (this.lastProblem !== '') this.log?.(`${this.deviceId}: Modbus master reconnected to ${this.endpoint.host}:${this.endpoint.port}`);
    this.lastProblem = '';
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
    const client = this.client;
    this.client = null;
    client?.destroy(() => undefined);
  }

  private async drain(): Promise<void> {
    this.busy = true;
    try {
      for (let request = this.queue.shift(); request !== undefined && !this.closed; request = this.queue.shift()) {
        let client: ModbusClient;
        try {
          client = await this.connected();
        } catch (error) {
          this.failed(error);
          // Without a connection the queued requests cannot be answered either; the stations' timeouts take over.
          this.queue.length = 0;
          this.polling = false;
          break;
        }
        await request(client);
      }
    } finally {
      this.busy = false;
    }
  }

  private async connected(): Promise<ModbusClient> {
    if (this.client !== null && this.client.isOpen) return this.client;
    const client = new ModbusRTU();
    // ModbusRTU re-emits port errors; unhandled they would end the process.
    client.on('error', (error: unknown) => this.report(`connection error: ${error instanceof Error ? error.message : String(error)}`));
    await client.connectTCP(this.endpoint.host, { port: this.endpoint.port, timeout: this.timeoutMs });
    client.setID(this.endpoint.unitId);
    client.setTimeout(this.timeoutMs);
    if (this.closed) {
      client.destroy(() => undefined);
      throw new Error('transport closed');
    }
    this.client = client;
    return client;
  }

  /** Logs a problem once, not on every retry. */
  private report(problem: string): void {
    if (problem === this.lastProblem || this.closed) return;
    this.lastProblem = problem;
    this.log?.(`${this.deviceId}: Modbus master to ${this.endpoint.host}:${this.endpoint.port}: ${problem}`);
  }
}

export class ModbusStationTransport implements StationTransport {
  private readonly clock: SimClock;
  private readonly connections = new Map<string, DeviceConnection>();
  private closed = false;

  constructor(options: ModbusStationTransportOptions) {
    this.clock = options.clock;
    for (const [deviceId, endpoint] of options.endpoints) {
      const connection = new DeviceConnection(
        deviceId,
        endpoint,
        options.responseTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS,
        options.maxQueuedRequests ?? DEFAULT_MAX_QUEUED_REQUESTS,
        options.log,
      );
      // One FC4 read per poll: the agent reads a whole-table read as telemetry.
      if (connection.map.inputSize > MAX_READ_REGISTERS) throw new RangeError(`${endpoint.profile}: ${connection.map.inputSize} input registers do not fit one FC4 read`);
      this.connections.set(deviceId, connection);
    }
  }

  /** Device ids this transport reaches. */
  get deviceIds(): readonly string[] {
    return [...this.connections.keys()];
  }

  watchOutcomes(deviceId: string, onOutcome: OutcomeHandler): void {
    this.connection(deviceId).onOutcome = onOutcome;
  }

  watchTelemetry(deviceId: string, onTelemetry: TelemetryHandler): void {
    const connection = this.connection(deviceId);
    const first = connection.onTelemetry === null;
    connection.onTelemetry = onTelemetry;
    if (!first || this.closed) return;
    // Read at once, then every period on absolute sim times (late real timers do not make the period drift).
    connection.nextPollAt = this.clock.now();
    connection.pollTimer = this.clock.after(0, () => this.poll(connection));
  }

  send(deviceId: string, message: CommandMessage): void {
    const connection = this.connection(deviceId);
    const image = commandWrite(connection.map, message.command, message.params);
    if (image === null) {
      // Software and library updates carry a SHA-256 that does not fit the map: MQTT only.
      this.deliver(connection, { id: message.id, ts: isoTime(this.clock.now()), ok: false, error: `${message.command} has no Modbus command code` });
      return;
    }
    connection.enqueue(async (client) => {
      try {
        await client.writeRegisters(COMMAND_REGISTER, image);
        connection.succeeded();
        this.deliver(connection, { id: message.id, ts: isoTime(this.clock.now()), ok: true });
      } catch (error) {
        const exception = exceptionCodeOf(error);
        if (exception === null) {
          connection.failed(error);
          return;
        }
        connection.succeeded();
        this.deliver(connection, { id: message.id, ts: isoTime(this.clock.now()), ok: false, error: describeException(exception) });
      }
    });
  }

  /** Stops polling and drops every connection; requests in flight get no outcome. Safe to call twice. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const connection of this.connections.values()) {
      if (connection.pollTimer !== null) this.clock.cancel(connection.pollTimer);
      connection.pollTimer = null;
      connection.close();
    }
    return Promise.resolve();
  }

  private poll(connection: DeviceConnection): void {
    connection.pollTimer = null;
    if (this.closed) return;
    connection.nextPollAt += DEVICE_PROFILES[connection.endpoint.profile].telemetryIntervalMs;
    connection.pollTimer = this.clock.after(connection.nextPollAt - this.clock.now(), () => this.poll(connection));
    if (connection.polling) return;
    connection.polling = true;
    const queued = connection.enqueue(async (client) => {
      try {
        const result = await client.readInputRegisters(0, connection.map.inputSize);
        connection.succeeded();
        const telemetry: Record<string, unknown> = { ts: isoTime(this.clock.now()) };
        for (const field of connection.map.input) {
          const value = decodeField(field, result.data);
          if (value !== undefined) telemetry[field.name] = value;
        }
        if (!this.closed) connection.onTelemetry?.(connection.deviceId, telemetry);
      } catch (error) {
        if (exceptionCodeOf(error) === null) connection.failed(error);
      } finally {
        connection.polling = false;
      }
    });
    if (!queued) connection.polling = false;
  }

  private deliver(connection: DeviceConnection, outcome: AckMessage): void {
    if (!this.closed) connection.onOutcome?.(connection.deviceId, outcome);
  }

  private connection(deviceId: string): DeviceConnection {
    const connection = this.connections.get(deviceId);
    if (connection === undefined) throw new Error(`no Modbus endpoint for device ${deviceId}`);
    return connection;
  }
}
