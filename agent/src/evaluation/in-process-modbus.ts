import type { SimClock } from '../../../simulators/src/clock.ts';
import type { ModbusRegisterBank, RegisterRead } from '../../../simulators/src/devices/modbus-register-bank.ts';
import type { ModbusTransport } from '../../../simulators/src/scenarios/actor-transport.ts';
import type { Observation } from '../ingest/observation.ts';
import { encodeAdu, exceptionPdu } from '../model/modbus-codec.ts';
import { decodeRequest, MbapFramer, type ModbusAdu } from '../protocol/modbus/index.ts';

/** Modbus App Proto v1.1b3 §7. */
const ILLEGAL_FUNCTION = 1;

function registersResponse(functionCode: number, read: RegisterRead): Buffer {
  if (!read.ok) return exceptionPdu(functionCode, read.exception);
  const pdu = Buffer.alloc(2 + 2 * read.values.length);
  pdu.writeUInt8(functionCode, 0);
  pdu.writeUInt8(2 * read.values.length, 1);
  read.values.forEach((value, index) => pdu.writeUInt16BE(value, 2 + 2 * index));
  return pdu;
}

/** What a simulated device answers, as its Modbus/TCP server would (FC3, 4, 6, 16; exception 1 for the rest). */
export function serveRequest(bank: ModbusRegisterBank, pdu: Buffer, master: string): Buffer {
  const request = decodeRequest(pdu);
  switch (request.kind) {
    case 'read':
      if (request.functionCode === 3) return registersResponse(3, bank.readHolding(request.address, request.quantity));
      if (request.functionCode === 4) return registersResponse(4, bank.readInput(request.address, request.quantity));
      return exceptionPdu(request.functionCode, ILLEGAL_FUNCTION);
    case 'write-single-register': {
      const refused = bank.writeRegisters(request.address, [request.value], { address: master });
      return refused === null ? Buffer.from(pdu) : exceptionPdu(6, refused);
    }
    case 'write-multiple-registers': {
      const refused = bank.writeRegisters(request.address, request.values, { address: master });
      if (refused !== null) return exceptionPdu(16, refused);
      const echo = Buffer.alloc(5);
      echo.writeUInt8(16, 0);
      echo.writeUInt16BE(request.address, 1);
      echo.writeUInt16BE(request.values.length, 3);
      return echo;
    }
    default:
      return exceptionPdu(request.functionCode & 0x7f, ILLEGAL_FUNCTION);
  }
}

/**
 * The Modbus gateway of an evaluation: a scenario master's bytes are framed by the agent's
 * own parser, each request and response observed as the socket gateway
 * (ingest/modbus-gateway.ts) observes them, and the request answered by the simulated
 * device's register bank, all in virtual time.
 */
export class InProcessModbusGateway implements ModbusTransport {
  private readonly framers = new Map<string, MbapFramer>();

  constructor(
    private readonly ingest: (observation: Observation) => unknown,
    private readonly clock: SimClock,
    private readonly banks: ReadonlyMap<string, ModbusRegisterBank>,
  ) {}

  send(master: { readonly actor: string; readonly address: string }, deviceId: string, adu: Buffer): Promise<Buffer | null> {
    const key = `${master.actor}|${deviceId}`;
    let framer = this.framers.get(key);
    if (framer === undefined) {
      framer = new MbapFramer();
      this.framers.set(key, framer);
    }
    const peer = { address: master.address, port: 40_000 };
    const frames: ModbusAdu[] = [];
    framer.push(adu, {
      frame: (frame) => frames.push(frame),
      anomaly: (name, detail) => this.ingest({ kind: 'modbus-anomaly', ts: this.clock.now(), master: peer, deviceId, direction: 'request', name, detail }),
    });
    let answer: Buffer | null = null;
    const bank = this.banks.get(deviceId);
    for (const frame of frames) {
      this.ingest({ kind: 'modbus-request', ts: this.clock.now(), master: peer, deviceId, unitId: frame.unitId, transactionId: frame.transactionId, pdu: frame.pdu });
      if (bank === undefined) continue;
      const response = serveRequest(bank, frame.pdu, master.address);
      this.ingest({ kind: 'modbus-response', ts: this.clock.now(), master: peer, deviceId, unitId: frame.unitId, transactionId: frame.transactionId, pdu: response, requestPdu: frame.pdu });
      answer = encodeAdu(frame.transactionId, frame.unitId, response);
    }
    return Promise.resolve(answer);
  }

  close(): Promise<void> {
    this.framers.clear();
    return Promise.resolve();
  }
}
