/**
 * Local wall-clock time of a site, from an epoch time and an IANA time zone: what a
 * clinic's opening hours, a night shift or a learned "usual hour" is written in. Pure
 * (no I/O); Intl.DateTimeFormat is slow, so the zone's UTC offset is computed once per
 * UTC hour and cached. An offset change inside a UTC hour (Lord Howe Island changes at
 * :30 UTC) is detected by comparing the offsets at both ends of the hour; such an hour
 * is computed exactly, call by call, and not cached.
 */

export interface LocalTime {
  /** Local hour, 0–23. */
  readonly hour: number;
  /** Local minute, 0–59. */
  readonly minute: number;
  /** Local day of the week, 0 = Sunday … 6 = Saturday (as Date#getDay). */
  readonly weekday: number;
  /** Local time minus UTC at this instant, in ms (3 600 000 for BST). */
  readonly offsetMs: number;
}

const MS_PER_MINUTE = 60_000;
const MS_PER_HOUR = 3_600_000;
/** Cached UTC hours per zone before the cache is emptied (a 7-day run uses 168). */
const MAX_CACHED_HOURS = 100_000;

/** Whether `name` is a time zone this runtime knows (an IANA name such as Europe/London, or UTC). */
export function isValidTimeZone(name: string): boolean {
  if (name.length === 0) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** Converts epoch ms to local time in one zone; keep one per zone (or use `localTime`). */
export class LocalTimeConverter {
  readonly timeZone: string;
  private readonly format: Intl.DateTimeFormat;
  /** UTC hour number → offset valid for the whole hour, or null when the offset changes inside it. */
  private readonly offsets = new Map<number, number | null>();

  constructor(timeZone: string) {
    if (!isValidTimeZone(timeZone)) throw new RangeError(`unknown time zone "${timeZone}"`);
    this.timeZone = timeZone;
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  at(epochMs: number): LocalTime {
    if (!Number.isFinite(epochMs)) throw new RangeError(`not a time: ${epochMs}`);
    const offsetMs = this.offsetAt(epochMs);
    const local = new Date(epochMs + offsetMs);
    return { hour: local.getUTCHours(), minute: local.getUTCMinutes(), weekday: local.getUTCDay(), offsetMs };
  }

  /** Local time minus UTC at `epochMs`, in ms. */
  offsetAt(epochMs: number): number {
    const utcHour = Math.floor(epochMs / MS_PER_HOUR);
    let cached = this.offsets.get(utcHour);
    if (cached === undefined) {
      const start = utcHour * MS_PER_HOUR;
      const atStart = this.exactOffset(start);
      const atEnd = this.exactOffset(start + MS_PER_HOUR - 1);
      cached = atStart === atEnd ? atStart : null;
      if (this.offsets.size >= MAX_CACHED_HOURS) this.offsets.clear();
      this.offsets.set(utcHour, cached);
    }
    return cached ?? this.exactOffset(epochMs);
  }

  /** The offset by Intl, to the minute (zones have had second offsets only before 1900). */
  private exactOffset(epochMs: number): number {
    const whole = Math.floor(epochMs / MS_PER_MINUTE) * MS_PER_MINUTE;
    const fields: Record<string, number> = {};
    for (const part of this.format.formatToParts(new Date(whole))) {
      if (part.type !== 'literal') fields[part.type] = Number(part.value);
    }
    const asUtc = Date.UTC(fields.year ?? 1970, (fields.month ?? 1) - 1, fields.day ?? 1, fields.hour ?? 0, fields.minute ?? 0, fields.second ?? 0);
    const offset = asUtc - whole;
    // Round to whole minutes: Date.UTC of a pre-1900 second-level offset is not worth carrying.
    return Math.round(offset / MS_PER_MINUTE) * MS_PER_MINUTE;
  }
}

const converters = new Map<string, LocalTimeConverter>();

/** The converter for a zone, shared by every caller in the process. Throws RangeError for an unknown zone. */
export function localTimeConverter(timeZone: string): LocalTimeConverter {
  let converter = converters.get(timeZone);
  if (converter === undefined) {
    converter = new LocalTimeConverter(timeZone);
    converters.set(timeZone, converter);
  }
  return converter;
}

/** Local hour, minute and weekday of `epochMs` in `timeZone` (default UTC). */
export function localTime(epochMs: number, timeZone = 'UTC'): LocalTime {
  return localTimeConverter(timeZone).at(epochMs);
}

/**
 * The first instant at or after `fromMs` whose local time satisfies `accept`, searched
 * local hour by local hour (so `accept` should depend on the hour and weekday only);
 * null when none within `horizonMs` (default 8 days).
 */
export function nextLocalHourWhere(fromMs: number, timeZone: string, accept: (time: LocalTime) => boolean, horizonMs = 8 * 24 * MS_PER_HOUR): number | null {
  const converter = localTimeConverter(timeZone);
  let t = fromMs;
  while (t <= fromMs + horizonMs) {
    const time = converter.at(t);
    if (accept(time)) return t;
    // Start of the next local hour (the offset may change there; at() re-reads it).
    const localMs = t + time.offsetMs;
    t += MS_PER_HOUR - (((localMs % MS_PER_HOUR) + MS_PER_HOUR) % MS_PER_HOUR);
  }
  return null;
}
