import { describe, expect, it } from 'vitest';
import { isValidTimeZone, LocalTimeConverter, localTime, nextLocalHourWhere } from '../../agent/src/model/local-time.ts';
import { Random } from '../../simulators/src/random.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** What Intl says directly, without any cache: the reference for the converter. */
function reference(epochMs: number, timeZone: string): { hour: number; minute: number; weekday: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', hour: 'numeric', minute: 'numeric', weekday: 'short' }).formatToParts(new Date(epochMs));
  const get = (type: string): string => parts.find((part) => part.type === type)?.value ?? '';
  return { hour: Number(get('hour')), minute: Number(get('minute')), weekday: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(get('weekday')) };
}

describe('local time of a site', () => {
  it('knows IANA zone names and UTC, and refuses anything else', () => {
    for (const name of ['UTC', 'Europe/London', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe']) expect(isValidTimeZone(name)).toBe(true);
    for (const name of ['', 'Mars/Olympus_Mons', 'Europe/Londres', 'GMT+25']) expect(isValidTimeZone(name)).toBe(false);
    expect(() => new LocalTimeConverter('Europe/Londres')).toThrow(RangeError);
  });

  it('gives hour, minute and weekday (0 = Sunday) in UTC by default', () => {
    // 2026-11-28 is a Saturday.
    expect(localTime(Date.parse('2026-11-28T07:30:00Z'))).toEqual({ hour: 7, minute: 30, weekday: 6, offsetMs: 0 });
    expect(localTime(Date.parse('2026-11-29T23:59:59Z'), 'UTC')).toMatchObject({ hour: 23, minute: 59, weekday: 0 });
  });

  it('follows summer time in London across both changes of 2026', () => {
    // Clocks go forward at 01:00 UTC on 29 March and back at 01:00 UTC on 25 October.
    expect(localTime(Date.parse('2026-03-29T00:59:00Z'), 'Europe/London')).toMatchObject({ hour: 0, minute: 59, offsetMs: 0 });
    expect(localTime(Date.parse('2026-03-29T01:00:00Z'), 'Europe/London')).toMatchObject({ hour: 2, minute: 0, offsetMs: HOUR });
    expect(localTime(Date.parse('2026-07-01T22:30:00Z'), 'Europe/London')).toMatchObject({ hour: 23, minute: 30, weekday: 3 });
    expect(localTime(Date.parse('2026-10-25T00:59:00Z'), 'Europe/London')).toMatchObject({ hour: 1, minute: 59, offsetMs: HOUR });
    expect(localTime(Date.parse('2026-10-25T01:00:00Z'), 'Europe/London')).toMatchObject({ hour: 1, minute: 0, offsetMs: 0 });
  });

  it('crosses midnight into another weekday, and handles half-hour zones', () => {
    // Friday 23:30 UTC is already Saturday in Kolkata (+05:30) and still Friday in New York.
    const friday = Date.parse('2026-11-27T23:30:00Z');
    expect(localTime(friday, 'Asia/Kolkata')).toMatchObject({ hour: 5, minute: 0, weekday: 6 });
    expect(localTime(friday, 'America/New_York')).toMatchObject({ hour: 18, minute: 30, weekday: 5 });
  });

  it('is exact in an hour whose offset changes at half past (Lord Howe Island, +10:30 → +11)', () => {
    // Summer time starts at 02:00 local standard time, 2026-10-03T15:30Z.
    const converter = new LocalTimeConverter('Australia/Lord_Howe');
    expect(converter.at(Date.parse('2026-10-03T15:29:00Z'))).toMatchObject({ hour: 1, minute: 59 });
    expect(converter.at(Date.parse('2026-10-03T15:30:00Z'))).toMatchObject({ hour: 2, minute: 30 });
    expect(converter.at(Date.parse('2026-10-03T15:10:00Z'))).toMatchObject({ hour: 1, minute: 40 });
  });

  it('agrees with Intl on random instants in several zones, cached or not', () => {
    const random = new Random(20260112);
    const start = Date.parse('2025-01-01T00:00:00Z');
    for (const zone of ['UTC', 'Europe/London', 'America/New_York', 'Asia/Kolkata', 'Asia/Kathmandu', 'Australia/Lord_Howe', 'Pacific/Chatham']) {
      const converter = new LocalTimeConverter(zone);
      for (let i = 0; i < 300; i++) {
        const t = start + Math.floor(random.uniform(0, 2 * 365 * 24)) * HOUR + random.int(0, 59) * MINUTE;
        const { hour, minute, weekday } = converter.at(t);
        expect({ hour, minute, weekday }, `${zone} ${new Date(t).toISOString()}`).toEqual(reference(t, zone));
        // Twice: the second answer comes from the cache.
        expect(converter.at(t).hour).toBe(hour);
      }
    }
  });

  it('is cheap: a week of minutes costs about one Intl call per hour', () => {
    const converter = new LocalTimeConverter('Europe/London');
    const start = Date.parse('2026-11-23T00:00:00Z');
    const began = performance.now();
    let nights = 0;
    for (let t = start; t < start + 7 * 24 * HOUR; t += MINUTE) if (converter.at(t).hour < 6) nights++;
    expect(nights).toBe(7 * 6 * 60);
    expect(performance.now() - began).toBeLessThan(1_000);
  });

  it('finds the next local hour that satisfies a condition', () => {
    const weekdayMorning = (time: { hour: number; weekday: number }): boolean => time.hour >= 8 && time.weekday >= 1 && time.weekday <= 5;
    // Saturday 10:15 UTC in London (GMT) → Monday 08:00.
    expect(nextLocalHourWhere(Date.parse('2026-11-28T10:15:00Z'), 'Europe/London', weekdayMorning)).toBe(Date.parse('2026-11-30T08:00:00Z'));
    // In summer 08:00 London is 07:00 UTC.
    expect(nextLocalHourWhere(Date.parse('2026-07-04T10:15:00Z'), 'Europe/London', weekdayMorning)).toBe(Date.parse('2026-07-06T07:00:00Z'));
    // Already satisfied: the instant itself.
    expect(nextLocalHourWhere(Date.parse('2026-11-30T09:10:00Z'), 'UTC', weekdayMorning)).toBe(Date.parse('2026-11-30T09:10:00Z'));
    expect(nextLocalHourWhere(0, 'UTC', () => false)).toBeNull();
  });
});
