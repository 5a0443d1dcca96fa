/**
 * What the inspecting gateway adds to a Modbus request: the same sequential FC3 reads and
 * FC16 writes, straight to the simulated pump and through the agent's gateway (real
 * sockets on loopback, the full pipeline with every detector), measured side by side in
 * one run. Prints the medians and their difference. Run: `npm run bench:gateway`.
 */
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startAgent } from '../../agent/src/app.ts';
import { encodeAdu } from '../../agent/src/model/modbus-codec.ts';
import { modbusMapFor } from '../../agent/src/model/modbus-map.ts';
import { modbusSiteConfig, startModbusPump } from '../helpers/modbus-ward.ts';
import { writeMultipleRegistersPdu } from '../helpers/modbus-pdus.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 5_000);

async function open(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return socket;
}

/** Sends one ADU and resolves with the round-trip time in µs when the whole answer is back. */
function roundTrip(socket: Socket, adu: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    let received = 0;
    let expected = Infinity;
    const onData = (chunk: Buffer): void => {
      if (expected === Infinity && chunk.length >= 6) expected = 6 + chunk.readUInt16BE(4);
      received += chunk.length;
      if (received >= expected) {
        socket.off('data', onData);
        resolve(Number(process.hrtime.bigint() - started) / 1_000);
      }
    };
    socket.on('data', onData);
    socket.write(adu);
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

const pump = await startModbusPump();
const dataDir = mkdtempSync(join(tmpdir(), 'wardwatch-bench-'));
// A master looping as fast as loopback allows is a publish flood and a write burst by the
// defaults; those thresholds are lifted so that the path measured is the one that raises
// nothing (the pipeline still runs every detector on every request).
const base = modbusSiteConfig(pump.server.port);
const config = { ...base, detection: { ...base.detection, publishFlood: { count: 1e9, windowSeconds: 10 }, modbus: { ...base.detection.modbus, writeBurst: { count: 1e9, windowSeconds: 10 } } } };
const agent = await startAgent({ config, dataDir, mqttHost: '127.0.0.1', mqttPort: 0, httpHost: '127.0.0.1', httpPort: 0, modbusHost: '127.0.0.1', modbusPort: 0, logger: pino({ level: 'silent' }) });
const direct = await open(pump.server.port);
const viaGateway = await open(agent.modbusPorts.get('pump-01') ?? 0);
const read = encodeAdu(1, 1, Buffer.from([3, 0, 0, 0, 10]));
// An in-range titration back and forth (16.0 and 16.2 mL/h): judged by every detector, raises nothing.
const writes = [encodeAdu(2, 1, writeMultipleRegistersPdu(0, [2, 160])), encodeAdu(3, 1, writeMultipleRegistersPdu(0, [2, 162]))];
const samples = { directRead: [] as number[], gatewayRead: [] as number[], directWrite: [] as number[], gatewayWrite: [] as number[] };
// A full read of the input registers first: the agent learns the running heparin infusion, as from a station's poll.
await roundTrip(viaGateway, encodeAdu(4, 1, Buffer.from([4, 0, 0, 0, modbusMapFor('infusion-pump').inputSize])));
for (let i = 0; i < 200; i += 1) {
  await roundTrip(direct, read);
  await roundTrip(viaGateway, read);
}
for (let i = 0; i < ROUNDS; i += 1) {
  // Interleaved so that machine noise hits both paths alike.
  samples.directRead.push(await roundTrip(direct, read));
  samples.gatewayRead.push(await roundTrip(viaGateway, read));
  const write = writes[i % 2] ?? read;
  samples.directWrite.push(await roundTrip(direct, write));
  samples.gatewayWrite.push(await roundTrip(viaGateway, write));
}
const rows = [
  ['FC3 read 10 registers', samples.directRead, samples.gatewayRead],
  ['FC16 set_rate (in range)', samples.directWrite, samples.gatewayWrite],
] as const;
console.log(`${ROUNDS} round trips each, sequential, loopback, Node ${process.version}`);
console.log('request                    direct median  via gateway median  added (median)  gateway p99');
for (const [name, straight, gated] of rows) {
  const added = median(gated) - median(straight);
  console.log(`${name.padEnd(26)} ${median(straight).toFixed(0).padStart(10)} µs ${median(gated).toFixed(0).padStart(15)} µs ${added.toFixed(0).padStart(12)} µs ${percentile(gated, 0.99).toFixed(0).padStart(10)} µs`);
}
console.log(`alerts raised during the run: ${agent.alerts.list().map((alert) => `${alert.type} ×${alert.count}`).join(", ") || "none"}`);
direct.destroy();
viaGateway.destroy();
await agent.stop();
await pump.stop();
rmSync(dataDir, { recursive: true, force: true });
