import { describe, expect, it } from 'vitest';
import { eventTimeIso, isValidEventTime } from '../../agent/src/model/wire.ts';
import { MonitorHarness } from '../helpers/monitor-harness.ts';
import { writeMultipleRegistersPdu } from '../helpers/modbus-pdus.ts';

describe('event times no date can hold (a fuzzed capture) never throw', () => {
  it('eventTimeIso reads an impossible time as the epoch instead of throwing RangeError', () => {
    expect(isValidEventTime(Date.parse('2026-11-28T08:00:00Z'))).toBe(true);
    expect(isValidEventTime(1e20)).toBe(false);
    expect(isValidEventTime(Number.NaN)).toBe(false);
    expect(eventTimeIso(1e20)).toBe('1970-01-01T00:00:00.000Z');
    expect(() => new Date(1e20).toISOString()).toThrow(RangeError);
  });

  it('a Modbus command and its alert at such a time go through the pipeline', () => {
    const ward = new MonitorHarness();
    ward.now = 1e20;
    expect(() => ward.modbusRequest('pump-01', '10.66.0.1', writeMultipleRegistersPdu(0, [5]))).not.toThrow();
    expect(ward.raised()).toContainEqual(['unauthorized-command', 'critical']);
    expect(ward.sink.raised.find((alert) => alert.type === 'unauthorized-command')?.ts).toBe('1970-01-01T00:00:00.000Z');
  });
});
