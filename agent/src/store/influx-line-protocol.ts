import { escape } from 'influx';

/**
 * InfluxDB 1.x line protocol ("Line protocol reference", InfluxDB 1.8 docs), the body of
 * `POST /write`. Pure functions, no I/O. The escaping is the `influx` package's (`escape`);
 * its HTTP client is not used, because it reads error bodies without a limit
 * (store/influx-http.ts says why), so the line is put together here.
 *
 *   measurement[,tag_key=tag_value…] field_key=field_value[,…] timestamp
 *
 * Escaping, as the reference gives it: in measurements, commas and spaces; in tag keys,
 * tag values and field keys, commas, equal signs and spaces; in string field values
 * (double-quoted), double quotes and backslashes. The reference also says line protocol
 * cannot carry a newline in a tag or field: influx-points.ts replaces control characters
 * (and backslashes in tags, which would escape what follows) before a point is queued.
 */

export type FieldValue = number | string | boolean;

/** A point as the line protocol needs it: `timestamp` in the precision the write names (here µs). */
export interface LinePoint {
  readonly measurement: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly fields?: Readonly<Record<string, FieldValue>>;
  readonly timestamp: number;
}

export function escapeMeasurement(name: string): string {
  return escape.measurement(name);
}

/** Tag keys, tag values and field keys. */
export function escapeTag(text: string): string {
  return escape.tag(text);
}

/**
 * A field value. Numbers are written without the `i` suffix, so InfluxDB stores them as
 * floats (every numeric field of INFLUX_SCHEMA is a float). Null for a number that is not
 * finite: it has no line-protocol form (influx-points.ts never queues one).
 */
export function fieldValue(value: FieldValue): string | null {
  if (typeof value === 'string') return escape.quoted(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return Number.isFinite(value) ? String(value) : null;
}

/**
 * One line, tags and fields sorted by key (InfluxDB's advice for the fastest writes). Null
 * for a point line protocol cannot carry (no field, a field that is not finite, a time that
 * is not an integer): InfluxDB would refuse the whole request, so it is left out instead.
 */
export function pointLine(point: LinePoint): string | null {
  if (!Number.isSafeInteger(point.timestamp)) return null;
  let line = escapeMeasurement(point.measurement);
  const tags = point.tags ?? {};
  for (const key of Object.keys(tags).sort()) line += `,${escapeTag(key)}=${escapeTag(tags[key] ?? '')}`;
  const fields = point.fields ?? {};
  const keys = Object.keys(fields).sort();
  if (keys.length === 0) return null;
  for (const [i, key] of keys.entries()) {
    const value = fields[key];
    const text = value === undefined ? null : fieldValue(value);
    if (text === null) return null;
    line += `${i === 0 ? ' ' : ','}${escapeTag(key)}=${text}`;
  }
  return `${line} ${point.timestamp}`;
}

/** A write request's body, one line per point, and how many points could not be written. */
export function lineProtocol(points: readonly LinePoint[]): { readonly body: string; readonly unwritable: number } {
  const lines: string[] = [];
  for (const point of points) {
    const line = pointLine(point);
    if (line !== null) lines.push(line);
  }
  return { body: lines.join('\n'), unwritable: points.length - lines.length };
}
