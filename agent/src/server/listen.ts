import type { AddressInfo, Server } from 'node:net';

/**
 * Starts `server` listening and resolves with the bound port (port 0: one the system
 * chose), or rejects with the listen error (EADDRINUSE, EACCES) instead of leaving it to
 * the server's later 'error' listeners. Shared by every listener the agent opens: the MQTT
 * broker, the Modbus gateways, the dashboard and the metrics endpoint.
 */
export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}
