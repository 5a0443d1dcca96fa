import type { AddressInfo, Server, Socket } from 'node:net';
import { ServerTCP } from 'modbus-serial';
import type { IServiceVector } from 'modbus-serial';
import { MODBUS_EXCEPTION } from '../devices/modbus-register-bank.ts';
import type { ModbusExceptionCode, ModbusRegisterBank, ModbusRequestSource, RegisterRead } from '../devices/modbus-register-bank.ts';

/**
 * A simulated device's Modbus/TCP server: modbus-serial's ServerTCP in front of the
 * device's register bank. One server per device, as a real pump has its own address;
 * the agent's inspecting gateway forwards masters' frames to it.
 *
 * modbus-serial's vector API has no return value for "answer with exception N": a vector
 * function that throws (or calls back with) an object carrying `modbusErrorCode` makes the
 * server answer that exception (servers/servertcp.js, `_callbackFactory`). Function codes
 * without a vector function either get exception 1 from the library (FC8, FC22, …) or no
 * answer at all (FC1, FC2, FC5, FC15 with no coil functions), so the coil functions are
 * defined here and answer exception 1: the device has no coils.
 */

export interface ModbusDeviceServerOptions {
  readonly bank: ModbusRegisterBank;
  /** Address to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** TCP port; 0 picks a free one (read it from `port` once started). */
  readonly port: number;
  /** Unit id the device answers; 0 or absent answers every unit id. */
  readonly unitId?: number;
  readonly log?: (line: string) => void;
}

/** What modbus-serial reads from a thrown vector error (servers/servertcp.js). */
class ModbusExceptionError extends Error {
  constructor(readonly modbusErrorCode: ModbusExceptionCode) {
    super(`Modbus exception ${modbusErrorCode}`);
  }
}

function valuesOf(read: RegisterRead): number[] {
  if (!read.ok) throw new ModbusExceptionError(read.exception);
  return read.values as number[];
}

function firstValueOf(read: RegisterRead): number {
  return valuesOf(read)[0] ?? 0;
}

function noCoils(): never {
  throw new ModbusExceptionError(MODBUS_EXCEPTION.illegalFunction);
}

/** `::ffff:10.0.0.5` (an IPv4 peer on a dual-stack socket) → `10.0.0.5`. */
function plainAddress(address: string | undefined): string | undefined {
  return address?.startsWith('::ffff:') === true && address.includes('.') ? address.slice(7) : address;
}

export class ModbusDeviceServer {
  private readonly bank: ModbusRegisterBank;
  private readonly host: string;
  private readonly requestedPort: number;
  private readonly unitId: number;
  private readonly log: ((line: string) => void) | undefined;
  private server: ServerTCP | null = null;
  private boundPort: number | null = null;
  private closing: Promise<void> | null = null;

  constructor(options: ModbusDeviceServerOptions) {
    this.bank = options.bank;
    this.host = options.host ?? '127.0.0.1';
    this.requestedPort = options.port;
    this.unitId = options.unitId ?? 0;
    this.log = options.log;
  }

  get deviceId(): string {
    return this.bank.deviceId;
  }

  get address(): string {
    return this.host;
  }

  /** The port the server listens on; throws before `start()` has resolved. */
  get port(): number {
    if (this.boundPort === null) throw new Error(`the Modbus server of ${this.deviceId} is not listening`);
    return this.boundPort;
  }

  /** Masters connected now. */
  get connectionCount(): number {
    return this.server?.socks.size ?? 0;
  }

  /** Listens; rejects when the address cannot be bound (port in use, host not local). */
  start(): Promise<void> {
    if (this.server !== null) return Promise.resolve();
    const vector: IServiceVector = {
      getHoldingRegister: (address: number) => firstValueOf(this.bank.readHolding(address, 1)),
      getMultipleHoldingRegisters: (address: number, length: number) => valuesOf(this.bank.readHolding(address, length)),
      getInputRegister: (address: number) => firstValueOf(this.bank.readInput(address, 1)),
      getMultipleInputRegisters: (address: number, length: number) => valuesOf(this.bank.readInput(address, length)),
      setRegister: (address: number, value: number) => this.write(address, [value]),
      setRegisterArray: (address: number, values: number[]) => this.write(address, values),
      getCoil: noCoils,
      getDiscreteInput: noCoils,
      setCoil: noCoils,
    };
    return new Promise((resolve, reject) => {
      const server = new ServerTCP(vector, {
        host: this.host,
        // ServerTCP listens on `options.port || 502`, so a numeric 0 would mean 502; net's
        // listen() takes the port as a numeric string too, and '0' is truthy.
        port: (this.requestedPort === 0 ? '0' : this.requestedPort) as number,
        // ServerTCP answers every unit id when given 255 (or a falsy unit id).
        unitID: this.unitId === 0 ? 255 : this.unitId,
      });
      this.server = server;
      const onInitialized = (): void => {
        server.off('serverError', onStartError);
        server.on('serverError', this.onServerError);
        this.boundPort = (ModbusDeviceServer.netServer(server).address() as AddressInfo).port;
        resolve();
      };
      const onStartError = (error: Error | null): void => {
        server.off('initialized', onInitialized);
        this.server = null;
        server.close(() => undefined);
        reject(new Error(`cannot serve Modbus for ${this.deviceId} on ${this.host}:${this.requestedPort}: ${error?.message ?? 'unknown error'}`));
      };
      server.once('initialized', onInitialized);
      server.once('serverError', onStartError);
      // A master that resets its connection is not the device's problem; say so in the log only.
      server.on('socketError', this.onSocketError);
      // ServerTCP emits 'error' only for a failed response write; unhandled it would throw.
      server.on('error', this.onSocketError);
    });
  }

  /** Stops listening and drops the masters' connections; safe to call twice. */
  close(): Promise<void> {
    const server = this.server;
    if (server === null) return Promise.resolve();
    this.closing ??= new Promise((resolve) => {
      server.close(() => resolve());
    });
    return this.closing;
  }

  private write(address: number, values: readonly number[]): void {
    const exception = this.bank.writeRegisters(address, values, this.source());
    if (exception !== null) throw new ModbusExceptionError(exception);
  }

  /**
   * The vector functions are not told which connection a request came on. With a single
   * master connected (a station, or the agent's gateway) the request is that master's;
   * with several, the server cannot tell and says so.
   */
  private source(): ModbusRequestSource {
    const sockets = this.server?.socks;
    if (sockets === undefined || sockets.size !== 1) return {};
    const socket: Socket | undefined = sockets.keys().next().value;
    const address = plainAddress(socket?.remoteAddress);
    return address === undefined ? {} : { address };
  }

  private readonly onServerError = (error: Error | null): void => {
    this.log?.(`${this.deviceId}: Modbus server error: ${error?.message ?? 'unknown'}`);
  };

  private readonly onSocketError = (error: Error | null): void => {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ECONNRESET' || code === 'EPIPE') return;
    this.log?.(`${this.deviceId}: Modbus connection error: ${error?.message ?? 'unknown'}`);
  };

  /** ServerTCP keeps its net.Server private; the bound port (for port 0) is only there. */
  private static netServer(server: ServerTCP): Server {
    return (server as unknown as { _server: Server })._server;
  }
}

/** Starts a server and resolves once it listens. */
export async function startModbusDeviceServer(options: ModbusDeviceServerOptions): Promise<ModbusDeviceServer> {
  const server = new ModbusDeviceServer(options);
  await server.start();
  return server;
}
