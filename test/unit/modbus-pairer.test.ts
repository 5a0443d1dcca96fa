import { describe, expect, it } from 'vitest';
import { TransactionPairer, type ModbusAdu } from '../../agent/src/protocol/modbus/index.ts';

/** Request/response pairing by transaction id and unit id (Implementation Guide v1.0b §3.1.3). */

function aduOf(transactionId: number, unitId: number, pdu: number[]): ModbusAdu {
  return { transactionId, protocolId: 0, length: pdu.length + 1, unitId, functionCode: pdu[0] ?? 0, pdu: Buffer.from(pdu) };
}

const readRequest = (tid: number, unit = 1): ModbusAdu => aduOf(tid, unit, [0x03, 0x00, 0x00, 0x00, 0x02]);
const readResponse = (tid: number, unit = 1): ModbusAdu => aduOf(tid, unit, [0x03, 0x04, 0x00, 0x01, 0x00, 0x02]);

describe('TransactionPairer', () => {
  it('pairs a response with its request, context and latency', () => {
    const pairer = new TransactionPairer<string>();
    const request = readRequest(7);
    expect(pairer.request(request, 'master-a', 1_000)).toEqual({});
    expect(pairer.pending).toBe(1);
    const paired = pairer.response(readResponse(7), 1_042);
    expect(paired).toEqual({ request, context: 'master-a', latencyMs: 42 });
    expect(pairer.pending).toBe(0);
  });

  it('pairs out of order, pipelined requests answered in any order', () => {
    const pairer = new TransactionPairer<number>();
    for (let tid = 1; tid <= 5; tid++) pairer.request(readRequest(tid), tid * 10, tid);
    const order = [3, 1, 5, 2, 4];
    expect(order.map((tid) => pairer.response(readResponse(tid), 100))).toEqual(
      order.map((tid) => ({ request: readRequest(tid), context: tid * 10, latencyMs: 100 - tid })),
    );
  });

  it('keys on the unit id too: the same transaction id to two units pairs separately', () => {
    const pairer = new TransactionPairer<string>();
    pairer.request(readRequest(9, 1), 'unit-1', 0);
    pairer.request(readRequest(9, 2), 'unit-2', 5);
    expect(pairer.response(readResponse(9, 2), 10)).toMatchObject({ context: 'unit-2', latencyMs: 5 });
    expect(pairer.response(readResponse(9, 1), 10)).toMatchObject({ context: 'unit-1', latencyMs: 10 });
  });

  it('unsolicited-response: no pending request with that transaction id', () => {
    const pairer = new TransactionPairer<null>();
    expect(pairer.response(readResponse(1), 0)).toEqual({ anomaly: 'unsolicited-response' });
    pairer.request(readRequest(1, 1), null, 0);
    // Right transaction id, wrong unit: still unsolicited.
    expect(pairer.response(readResponse(1, 2), 1)).toEqual({ anomaly: 'unsolicited-response' });
    // A second answer to one request.
    expect(pairer.response(readResponse(1, 1), 2)).toMatchObject({ latencyMs: 2 });
    expect(pairer.response(readResponse(1, 1), 3)).toEqual({ anomaly: 'unsolicited-response' });
  });

  it('pending-request-flood: at the cap the oldest request is dropped and the flood reported', () => {
    const pairer = new TransactionPairer<number>({ maxPending: 3 });
    expect([1, 2, 3].map((tid) => pairer.request(readRequest(tid), tid, tid))).toEqual([{}, {}, {}]);
    expect(pairer.request(readRequest(4), 4, 4)).toEqual({ anomaly: 'pending-request-flood' });
    expect(pairer.pending).toBe(3);
    expect(pairer.response(readResponse(1), 10)).toEqual({ anomaly: 'unsolicited-response' }); // the dropped one
    expect(pairer.response(readResponse(4), 10)).toMatchObject({ context: 4 });
  });

  it('the default cap is 64', () => {
    const pairer = new TransactionPairer<null>();
    for (let tid = 0; tid < 64; tid++) expect(pairer.request(readRequest(tid), null, 0)).toEqual({});
    expect(pairer.request(readRequest(64), null, 0)).toEqual({ anomaly: 'pending-request-flood' });
    expect(pairer.pending).toBe(64);
  });

  it('a reused transaction id replaces the pending request without counting toward a flood', () => {
    const pairer = new TransactionPairer<string>({ maxPending: 2 });
    pairer.request(readRequest(1), 'first', 0);
    pairer.request(readRequest(2), 'other', 0);
    expect(pairer.request(readRequest(1), 'second', 5)).toEqual({});
    expect(pairer.pending).toBe(2);
    expect(pairer.response(readResponse(1), 8)).toMatchObject({ context: 'second', latencyMs: 3 });
  });

  it('expire drops requests older than the age limit, by event time', () => {
    const pairer = new TransactionPairer<null>();
    pairer.request(readRequest(1), null, 1_000);
    pairer.request(readRequest(2), null, 5_000);
    pairer.request(readRequest(3), null, 2_000); // capture timestamps need not be monotonic
    // At 6 000 with a 4 000 ms limit: the one sent at 1 000 (age 5 000) goes; the one sent
    // at 2 000 is exactly 4 000 old, not older, and stays.
    expect(pairer.expire(6_000, 4_000)).toBe(1);
    expect(pairer.pending).toBe(2);
    expect(pairer.expire(6_001, 4_000)).toBe(1); // now the one sent at 2 000 is older
    expect(pairer.response(readResponse(1), 6_001)).toEqual({ anomaly: 'unsolicited-response' });
    expect(pairer.response(readResponse(3), 6_001)).toEqual({ anomaly: 'unsolicited-response' });
    expect(pairer.response(readResponse(2), 6_001)).toMatchObject({ latencyMs: 1_001 });
    expect(pairer.expire(10_000, 0)).toBe(0);
  });

  it('clear forgets every pending request', () => {
    const pairer = new TransactionPairer<null>();
    pairer.request(readRequest(1), null, 0);
    pairer.clear();
    expect(pairer.pending).toBe(0);
    expect(pairer.response(readResponse(1), 1)).toEqual({ anomaly: 'unsolicited-response' });
  });

  it('refuses a cap below 1', () => {
    expect(() => new TransactionPairer({ maxPending: 0 })).toThrow(RangeError);
  });
});
