import { describe, expect, it } from 'vitest';
import { escapeMeasurement, escapeTag, fieldValue, lineProtocol, pointLine } from '../../agent/src/store/influx-line-protocol.ts';

describe('InfluxDB line protocol', () => {
  it('escapes as the 1.x reference says: "," and " " in measurements; ",", "=" and " " in tags and field keys; \'"\' and "\\" in strings', () => {
    expect(escapeMeasurement('cpu load,x=1')).toBe('cpu\\ load\\,x=1');
    expect(escapeTag('4W, east=1')).toBe('4W\\,\\ east\\=1');
    expect(fieldValue('evil client"\\')).toBe('"evil client\\"\\\\"');
    expect(fieldValue('a,b=c d')).toBe('"a,b=c d"');
  });

  it('numbers are floats (no i suffix), booleans are words, and tags and fields are sorted by key', () => {
    const line = pointLine({ measurement: 'command', tags: { ward: '4W', bed: '1' }, fields: { rate_ml_h: 14.4, count: 1, tachy_therapy: false, client: 'ui' }, timestamp: 1_795_852_800_000_001 });
    expect(line).toBe('command,bed=1,ward=4W client="ui",count=1,rate_ml_h=14.4,tachy_therapy=false 1795852800000001');
  });

  it('a point line protocol cannot carry is left out of the batch and counted, so InfluxDB does not refuse the rest', () => {
    const good = { measurement: 'telemetry', tags: { device: 'pump-01' }, fields: { rate_ml_h: 5 }, timestamp: 1_000 };
    const batch = lineProtocol([
      good,
      { ...good, fields: { rate_ml_h: Number.NaN } },
      { ...good, fields: { rate_ml_h: Number.POSITIVE_INFINITY } },
      { ...good, fields: {} },
      { ...good, timestamp: 1.5 },
      { ...good, timestamp: 2_000 },
    ]);
    expect(batch).toEqual({ body: 'telemetry,device=pump-01 rate_ml_h=5 1000\ntelemetry,device=pump-01 rate_ml_h=5 2000', unwritable: 4 });
  });
});
