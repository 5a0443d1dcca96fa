import { bench, describe } from 'vitest';
import { MbapFramer, decodeRequest, type FramerSink, type ModbusAdu } from '../../agent/src/protocol/modbus/index.ts';

/**
 * The Modbus hot path: framing and decoding a pipelined request stream, as the gateway
 * and the capture reader feed it. Compared in one run with a plain Buffer.readUInt16BE
 * walk over the same bytes (the floor any MBAP reader pays: read each length, jump), so
 * the ratio holds on a noisy shared machine.
 */

function adu(transactionId: number, unitId: number, pdu: number[]): Buffer {
  const out = Buffer.alloc(7 + pdu.length);
  out.writeUInt16BE(transactionId, 0);
  out.writeUInt16BE(pdu.length + 1, 4);
  out[6] = unitId;
  Buffer.from(pdu).copy(out, 7);
  return out;
}

// A ward master's traffic: telemetry reads (FC 4, FC 3), a setpoint write (FC 6) and a
// command write of four registers (FC 16), repeated: 1 000 ADUs, about 14 KB.
const pattern = (tid: number): Buffer[] => [
  adu(tid, 1, [0x04, 0x00, 0x00, 0x00, 0x0c]),
  adu(tid + 1, 1, [0x03, 0x00, 0x00, 0x00, 0x10]),
  adu(tid + 2, 1, [0x06, 0x00, 0x02, 0x00, 0x96]),
  adu(tid + 3, 1, [0x10, 0x00, 0x00, 0x00, 0x04, 0x08, 0x00, 0x01, 0x00, 0x96, 0x00, 0x00, 0x01, 0xf4]),
];
const stream = Buffer.concat(Array.from({ length: 250 }, (_, i) => pattern(4 * i)).flat());
const ADUS = 1_000;

let sum = 0;
const decodingSink: FramerSink = {
  frame(frame: ModbusAdu) {
    const request = decodeRequest(frame.pdu);
    if (request.kind === 'malformed') throw new Error(request.reason);
    sum += frame.transactionId;
  },
  anomaly(_name, detail) {
    throw new Error(detail);
  },
};
const framingSink: FramerSink = {
  frame(frame: ModbusAdu) {
    sum += frame.transactionId;
  },
  anomaly(_name, detail) {
    throw new Error(detail);
  },
};
const framer = new MbapFramer();

describe(`Modbus parser (a pipelined stream of ${ADUS} ADUs, ${stream.length} bytes)`, () => {
  bench('baseline: Buffer.readUInt16BE walk (transaction id, length, jump)', () => {
    let at = 0;
    while (at + 6 <= stream.length) {
      sum += stream.readUInt16BE(at);
      at += 6 + stream.readUInt16BE(at + 4);
    }
  });

  bench('MbapFramer.push, whole stream in one chunk (framing only)', () => {
    framer.push(stream, framingSink);
  });

  bench('MbapFramer.push + decodeRequest of every ADU', () => {
    framer.push(stream, decodingSink);
  });

  bench('MbapFramer.push + decodeRequest, cut in 1 460-byte TCP segments', () => {
    for (let at = 0; at < stream.length; at += 1_460) framer.push(stream.subarray(at, at + 1_460), decodingSink);
  });
});
