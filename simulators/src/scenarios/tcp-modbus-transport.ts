import { connect, type Socket } from 'node:net';
import type { ModbusTransport } from './actor-transport.ts';

/** How long a live Modbus step waits for answers; a gateway that dropped garbage sends none. */
const ANSWER_TIMEOUT_MS = 1_000;
/** Once something came back, this much quiet means the answers are complete. */
const QUIET_MS = 100;

/**
 * Modbus masters on a real network, for `sim scenario run`: one TCP connection per actor
 * and device to the device's gateway port, the step's bytes written as they are.
 */
export class TcpModbusTransport implements ModbusTransport {
  private readonly sockets = new Map<string, Promise<Socket>>();

  constructor(private readonly gatewayOf: (deviceId: string) => { host: string; port: number } | undefined) {}

  private socket(actor: string, deviceId: string): Promise<Socket> {
    const key = `${actor}|${deviceId}`;
    let socket = this.sockets.get(key);
    if (socket === undefined) {
      const gateway = this.gatewayOf(deviceId);
      if (gateway === undefined) return Promise.reject(new Error(`no Modbus gateway known for ${deviceId} (config modbus.gateways, or --modbus-port)`));
      socket = new Promise<Socket>((resolve, reject) => {
        const opened = connect(gateway);
        opened.setNoDelay(true);
        opened.once('connect', () => resolve(opened));
        opened.once('error', reject);
      });
      this.sockets.set(key, socket);
    }
    return socket;
  }

  async send(master: { readonly actor: string; readonly address: string }, deviceId: string, adu: Buffer): Promise<Buffer | null> {
    const socket = await this.socket(master.actor, deviceId);
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let quiet: NodeJS.Timeout | null = null;
      const finish = (): void => {
        clearTimeout(deadline);
        if (quiet !== null) clearTimeout(quiet);
        socket.off('data', onData);
        resolve(chunks.length === 0 ? null : Buffer.concat(chunks));
      };
      const onData = (chunk: Buffer): void => {
        chunks.push(chunk);
        if (quiet !== null) clearTimeout(quiet);
        quiet = setTimeout(finish, QUIET_MS);
      };
      const deadline = setTimeout(finish, ANSWER_TIMEOUT_MS);
      socket.on('data', onData);
      socket.write(adu);
    });
  }

  async close(): Promise<void> {
    const sockets = await Promise.allSettled(this.sockets.values());
    for (const result of sockets) if (result.status === 'fulfilled') result.value.destroy();
    this.sockets.clear();
  }
}
