import { connect } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ModbusGatewayIngest, type ModbusGatewayOptions } from '../../agent/src/ingest/modbus-gateway.ts';
import type { AlertType } from '../../agent/src/alert/catalogue.ts';
import { encodeAdu } from '../../agent/src/model/modbus-codec.ts';
import type { Observation } from '../../agent/src/ingest/observation.ts';
import { startModbusPump } from '../helpers/modbus-ward.ts';
import { writeMultipleRegistersPdu } from '../helpers/modbus-pdus.ts';
import { waitFor } from '../helpers/wait-for.ts';

/** A gateway in front of pump-01 on `targetPort`, with the test's own pipeline stand-in. */
function gatewayTo(targetPort: number, ingest: (observation: Observation) => readonly AlertType[], enforce: Set<AlertType>, onInspectionFailure: ModbusGatewayOptions['onInspectionFailure']): ModbusGatewayIngest {
  return new ModbusGatewayIngest({
    host: '127.0.0.1',
    routes: [{ deviceId: 'pump-01', listenPort: 0, targetHost: '127.0.0.1', targetPort }],
    ingest,
    enforce,
    onInspectionFailure,
    logger: pino({ level: 'silent' }),
  });
}

/** Sends raw bytes to a port and collects what comes back until `expectBytes` arrived. */
async function exchange(port: number, bytes: Buffer, expectBytes: number): Promise<Buffer> {
  const socket = connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(bytes);
  await waitFor(() => Buffer.concat(chunks).length >= expectBytes, 2_000, `${expectBytes} bytes back`);
  socket.destroy();
  return Buffer.concat(chunks);
}

describe('the gateway fails open', () => {
  it('when inspection throws, the request is still forwarded, answered, and the failure reported', async () => {
    const pump = await startModbusPump();
    const failures: string[] = [];
    const gateway = gatewayTo(pump.server.port, (observation: Observation) => {
        if (observation.kind === 'modbus-request') throw new Error('a bug in a detector');
        return [];
      }, new Set(['dose-above-hard-limit']), (deviceId, master, error) => failures.push(`${deviceId} ${master.address} ${(error as Error).message}`));
    const [bound] = await gateway.start();
    try {
      // FC16 [set_rate, 160] = 16.0 mL/h; the response echoes address and quantity (12 bytes).
      const response = await exchange(bound?.port ?? 0, encodeAdu(7, 1, writeMultipleRegistersPdu(0, [2, 160])), 12);
      expect(response.readUInt16BE(0)).toBe(7);
      expect(response.readUInt8(7)).toBe(16);
      expect(pump.pump.snapshot().rateMlH).toBe(16);
      expect(failures).toEqual(['pump-01 127.0.0.1 a bug in a detector']);
    } finally {
      await gateway.stop();
      await pump.stop();
    }
  });

  it('garbage before a good request is dropped as an anomaly, and the request behind it still goes through', async () => {
    const pump = await startModbusPump();
    const anomalies: string[] = [];
    const gateway = gatewayTo(pump.server.port, (observation: Observation) => {
        if (observation.kind === 'modbus-anomaly') anomalies.push(observation.name);
        return [];
      }, new Set(), () => undefined);
    const [bound] = await gateway.start();
    try {
      const garbage = Buffer.from('GET / HTTP/1.1\r\n\r\n');
      const request = encodeAdu(9, 1, Buffer.from([3, 0, 1, 0, 1]));
      const response = await exchange(bound?.port ?? 0, Buffer.concat([garbage, request]), 11);
      expect(response.readUInt16BE(0)).toBe(9);
      expect(response.readUInt8(7)).toBe(3);
      expect(anomalies.length).toBeGreaterThan(0);
    } finally {
      await gateway.stop();
      await pump.stop();
    }
  });
});

describe('a device the gateway cannot reach', () => {
  it('is a named anomaly, and the master\'s connection is closed rather than left hanging', async () => {
    const anomalies: string[] = [];
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    const gateway = gatewayTo(1, (observation: Observation) => {
        if (observation.kind === 'modbus-anomaly') anomalies.push(`${observation.name} ${observation.detail}`);
        return [];
      }, new Set(), () => undefined);
    const [bound] = await gateway.start();
    try {
      const socket = connect({ host: '127.0.0.1', port: bound?.port ?? 0 });
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
      expect(anomalies).toEqual(['gateway-target-unreachable 127.0.0.1:1: ECONNREFUSED']);
    } finally {
      await gateway.stop();
    }
  });
});
