/**
 * Writes a large synthetic pcap for the replay benchmark: one Modbus/TCP connection (a
 * station polling a pump with FC4 and titrating with FC16, each answered) and one MQTT
 * connection (a pump's CONNECT, then telemetry PUBLISHes), interleaved, as Ethernet/IPv4/
 * TCP records with consistent sequence numbers. Streams to disk: memory stays flat.
 *
 *   npx tsx test/bench/generate-capture.ts OUT.pcap MESSAGES
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { commandPdu, encodeAdu, readRegistersPdu } from '../../agent/src/model/modbus-codec.ts';
import { encodeField, modbusMapFor } from '../../agent/src/model/modbus-map.ts';
import { frame, mqttConnect, mqttPublish, type Direction } from '../helpers/packet-builders.ts';

export async function generateCapture(file: string, messages: number): Promise<void> {
  const out = createWriteStream(file, { highWaterMark: 1 << 20 });
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262_144, 16);
  header.writeUInt32LE(1, 20);
  out.write(header);
  let micros = Date.parse('2026-11-28T08:00:00Z') * 1000;
  const write = async (data: Buffer): Promise<void> => {
    const record = Buffer.alloc(16);
    micros += 200;
    record.writeUInt32LE(Math.floor(micros / 1e6), 0);
    record.writeUInt32LE(micros % 1e6, 4);
    record.writeUInt32LE(data.length, 8);
    record.writeUInt32LE(data.length, 12);
    if (!out.write(Buffer.concat([record, data]))) await once(out, 'drain');
  };
  const station = [10, 4, 0, 10];
  const pump = [10, 4, 1, 11];
  const modbusUp: Direction = { seq: 1000, src: station, dst: pump, srcPort: 40_001, dstPort: 502 };
  const modbusDown: Direction = { seq: 5000, src: pump, dst: station, srcPort: 502, dstPort: 40_001 };
  const mqttUp: Direction = { seq: 9000, src: pump, dst: [10, 4, 0, 2], srcPort: 40_002, dstPort: 1883 };
  const mqttDown: Direction = { seq: 13_000, src: [10, 4, 0, 2], dst: pump, srcPort: 1883, dstPort: 40_002 };
  await write(frame(modbusUp, Buffer.alloc(0), 'syn'));
  await write(frame(modbusDown, Buffer.alloc(0), 'syn-ack'));
  await write(frame(mqttUp, Buffer.alloc(0), 'syn'));
  await write(frame(mqttDown, Buffer.alloc(0), 'syn-ack'));
  await write(frame(mqttUp, mqttConnect('pump-01', 'pump-01', 'demo-pump-01')));
  await write(frame(mqttDown, Buffer.from([0x20, 2, 0, 0])));
  // The pump's telemetry as its input registers (model/modbus-map.ts): heparin running, so set_rate is judged.
  const map = modbusMapFor('infusion-pump');
  const telemetry: Record<string, string | number> = { state: 'running', drug: 'heparin', care_area: 'ICU', weight_kg: 80, rate_ml_h: 14.4, infused_ml: 12, vtbi_ml: 250, alarm: '', battery_pct: 90, library_version: '4W-2026.11-demo' };
  const inputRegisters = Buffer.alloc(2 + 2 * map.inputSize);
  inputRegisters.writeUInt8(4, 0);
  inputRegisters.writeUInt8(2 * map.inputSize, 1);
  for (const field of map.input) encodeField(field, telemetry[field.name]).forEach((word, offset) => inputRegisters.writeUInt16BE(word, 2 + 2 * (field.address + offset)));
  let written = 0;
  for (let i = 0; written < messages; i += 1) {
    const transaction = i & 0xffff;
    if (i % 10 === 9) {
      const rate = 140 + (i % 7);
      await write(frame(modbusUp, encodeAdu(transaction, 1, commandPdu('infusion-pump', 'set_rate', { rate_ml_h: rate / 10 }))));
      await write(frame(modbusDown, encodeAdu(transaction, 1, Buffer.from([16, 0, 0, 0, 38]))));
    } else {
      await write(frame(modbusUp, encodeAdu(transaction, 1, readRegistersPdu(4, 0, map.inputSize))));
      await write(frame(modbusDown, encodeAdu(transaction, 1, inputRegisters)));
    }
    await write(frame(mqttUp, mqttPublish('ward/pump-01/telemetry', `{"ts":"2026-11-28T08:00:00Z","state":"running","drug":"heparin","rate_ml_h":14.4,"n":${i}}`)));
    written += 3;
  }
  out.end();
  await once(out, 'finish');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, count] = process.argv.slice(2);
  if (file === undefined) throw new Error('usage: generate-capture.ts OUT.pcap MESSAGES');
  await generateCapture(file, Number(count ?? 1_000_000));
}
