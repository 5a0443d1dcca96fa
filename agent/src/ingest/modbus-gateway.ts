import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { AlertType } from '../alert/catalogue.ts';
import { encodeAdu, exceptionPdu } from '../model/modbus-codec.ts';
import type { ModbusAdu } from '../protocol/modbus/types.ts';
import { ModbusFlowObserver } from './modbus-flow-observer.ts';
import { normalizeAddress } from './address.ts';
import type { ModbusPeer, Observation } from './observation.ts';
import { listen } from '../server/listen.ts';

export interface GatewayRoute {
  readonly deviceId: string;
  readonly listenPort: number;
  readonly targetHost: string;
  readonly targetPort: number;
}

export interface ModbusGatewayOptions {
  readonly host: string;
  readonly routes: readonly GatewayRoute[];
  /** The pipeline: returns the types of the findings an observation caused. */
  readonly ingest: (observation: Observation) => readonly AlertType[];
  /** Finding types that block a request (enforce mode, opt-in per type); empty = monitor only. */
  readonly enforce: ReadonlySet<AlertType>;
  /** The inspection of a request threw: it was forwarded unchecked (fail open); raise it. */
  readonly onInspectionFailure: (deviceId: string, master: ModbusPeer, error: unknown) => void;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** Masters at once on one gateway port (DESIGN.md, principle 3); more are refused. */
export const MAX_MASTERS_PER_GATEWAY = 64;
/** A master connection with no traffic this long is closed, so idle sockets cannot hold the gateway's slots. */
export const MASTER_IDLE_TIMEOUT_MS = 120_000;

/** Modbus App Proto v1.1b3 §7: exception codes the gateway answers with when it blocks. */
const ILLEGAL_FUNCTION = 0x01;
const ILLEGAL_DATA_VALUE = 0x03;
const VALUE_FINDINGS: ReadonlySet<AlertType> = new Set<AlertType>([
  'dose-above-hard-limit', 'dose-below-hard-limit', 'bolus-above-hard-limit', 'device-limit-exceeded', 'rate-step-tenfold',
  'pacing-tachy-therapy-off', 'pacing-asynchronous-mode', 'pacing-amplitude-off',
]);

function exceptionAdu(request: ModbusAdu, exceptionCode: number): Buffer {
  return encodeAdu(request.transactionId, request.unitId, exceptionPdu(request.functionCode, exceptionCode));
}

/**
 * One master's connection through the gateway to its device: the flow observer frames,
 * pairs and inspects; the gateway forwards each request (or answers it with an exception
 * in enforce mode) and sends each response back.
 */
class GatewaySession {
  constructor(
    route: GatewayRoute,
    private readonly masterSocket: Socket,
    private readonly deviceSocket: Socket,
    private readonly options: ModbusGatewayOptions,
    now: () => number,
  ) {
    const master = { address: normalizeAddress(masterSocket.remoteAddress), port: masterSocket.remotePort ?? 0 };
    const observer = new ModbusFlowObserver(route.deviceId, master, options.ingest, options.onInspectionFailure, {
      request: (adu, findings) => this.forward(route, master, adu, findings),
      response: (adu) => GatewaySession.relay(this.masterSocket, this.deviceSocket, encodeAdu(adu.transactionId, adu.unitId, adu.pdu)),
    });
    masterSocket.on('data', (chunk: Buffer) => observer.pushRequests(chunk, now()));
    deviceSocket.on('data', (chunk: Buffer) => observer.pushResponses(chunk, now()));
  }

  private forward(route: GatewayRoute, master: ModbusPeer, adu: ModbusAdu, findings: readonly AlertType[]): void {
    const { enforce } = this.options;
    if (enforce.size > 0) {
      const blocking = findings.filter((type) => enforce.has(type));
      if (blocking.length > 0) {
        const code = blocking.some((type) => VALUE_FINDINGS.has(type)) ? ILLEGAL_DATA_VALUE : ILLEGAL_FUNCTION;
        this.options.logger.warn({ device: route.deviceId, master: master.address, blocked: blocking }, 'modbus request blocked (enforce)');
        this.masterSocket.write(exceptionAdu(adu, code));
        return;
      }
    }
    GatewaySession.relay(this.deviceSocket, this.masterSocket, encodeAdu(adu.transactionId, adu.unitId, adu.pdu));
  }

  /**
   * Writes to one side and, while that side cannot keep up, stops reading the other
   * (back-pressure): a master that never reads its answers, or a device that stops
   * reading, must not make the agent buffer without bound (DESIGN.md, principle 3).
   */
  private static relay(to: Socket, from: Socket, bytes: Buffer): void {
    if (to.write(bytes) || from.isPaused()) return;
    from.pause();
    to.once('drain', () => from.resume());
  }
}

/**
 * The inspecting Modbus/TCP gateway (DESIGN.md, way 3): masters connect to the agent, one
 * listen port per device; each request is framed by the agent's own parser, observed
 * (so the pipeline judges it as it would an MQTT command) and forwarded to the device,
 * and each response is paired, observed and sent back. Monitor mode forwards everything
 * that frames as Modbus/TCP; enforce mode answers a request whose findings are in the
 * enforce list with a Modbus exception instead. Bytes that do not frame are not forwarded.
 */
export class ModbusGatewayIngest {
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly now: () => number;

  constructor(private readonly options: ModbusGatewayOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Starts every route; returns the bound port of each, in route order. */
  async start(): Promise<{ deviceId: string; port: number }[]> {
    const bound: { deviceId: string; port: number }[] = [];
    for (const route of this.options.routes) {
      const server = createServer((master) => this.accept(route, server, master));
      server.maxConnections = MAX_MASTERS_PER_GATEWAY;
      // A refused connection is itself worth seeing: somebody is holding every slot.
      server.on('drop', (data) => {
        const peer = { address: normalizeAddress(data?.remoteAddress), port: data?.remotePort ?? 0 };
        this.safeIngest({ kind: 'modbus-anomaly', ts: this.now(), master: peer, deviceId: route.deviceId, direction: 'request', name: 'gateway-connection-refused', detail: `more than ${MAX_MASTERS_PER_GATEWAY} masters connected` }, route.deviceId, peer);
      });
      this.servers.push(server);
      bound.push({ deviceId: route.deviceId, port: await listen(server, route.listenPort, this.options.host) });
    }
    return bound;
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  private accept(route: GatewayRoute, _server: Server, master: Socket): void {
    this.track(master);
    master.setNoDelay(true);
    master.setTimeout(MASTER_IDLE_TIMEOUT_MS, () => master.destroy());
    master.pause();
    const device = connect({ host: route.targetHost, port: route.targetPort });
    this.track(device);
    device.setNoDelay(true);
    device.once('connect', () => {
      new GatewaySession(route, master, device, this.options, this.now);
      master.resume();
    });
    device.once('error', (error) => {
      const peer = { address: normalizeAddress(master.remoteAddress), port: master.remotePort ?? 0 };
      this.safeIngest({ kind: 'modbus-anomaly', ts: this.now(), master: peer, deviceId: route.deviceId, direction: 'response', name: 'gateway-target-unreachable', detail: `${route.targetHost}:${route.targetPort}: ${(error as NodeJS.ErrnoException).code ?? error.message}` }, route.deviceId, peer);
    });
    device.once('close', () => master.destroy());
    master.once('close', () => device.destroy());
  }

  private safeIngest(observation: Observation, deviceId: string, peer: ModbusPeer): void {
    try {
      this.options.ingest(observation);
    } catch (error) {
      this.options.onInspectionFailure(deviceId, peer, error);
    }
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    this.servers.length = 0;
  }
}
