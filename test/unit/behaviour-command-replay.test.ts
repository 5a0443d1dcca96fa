import { describe, expect, it } from 'vitest';
import { CommandReplayDetector, REPLAY_MAX_IDS_PER_DEVICE } from '../../agent/src/detect/command-replay-detector.ts';
import { parseCommandTime } from '../../agent/src/detect/command-stale-detector.ts';
import { MonitorHarness } from '../helpers/monitor-harness.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function pause(ward: MonitorHarness, id: string, options: { account?: string; device?: string; writtenAgoMs?: number } = {}): void {
  ward.rawCommand(options.account ?? 'station-4w', options.device ?? 'pump-01', { id, ts: new Date(ward.now - (options.writtenAgoMs ?? 0)).toISOString(), command: 'pause' });
}

describe('command replay (detection.replay.windowHours, default 24)', () => {
  it('the same command id for the same device 5 min later is high, with its age and the window', () => {
    const ward = new MonitorHarness();
    pause(ward, 'c-1');
    expect(ward.sink.raised).toEqual([]);
    ward.advance(5 * MINUTE);
    pause(ward, 'c-1');
    expect(ward.raised()).toEqual([['command-replay', 'high']]);
    const alert = ward.sink.raised[0];
    expect(alert?.deviceId).toBe('pump-01');
    expect(alert?.title).toBe('Bed 1 · pump-01: pause command with the id of one already received 5 min earlier (replay window 24 h) (sent by station-4w)');
    expect(alert?.evidence).toMatchObject({ ageMs: 5 * MINUTE, firstSender: 'station-4w', firstCommand: 'pause', windowHours: 24 });
  });

  it('a replay by another sender names both', () => {
    const ward = new MonitorHarness();
    pause(ward, 'c-9');
    ward.advance(2 * HOUR + 5 * MINUTE);
    pause(ward, 'c-9', { account: 'guest', writtenAgoMs: 2 * HOUR + 5 * MINUTE });
    const replay = ward.sink.raised.find((a) => a.type === 'command-replay');
    expect(replay?.title).toContain('already received 2 h 5 min earlier');
    expect(replay?.title).toContain('(sent by guest)');
    expect(replay?.evidence.firstSender).toBe('station-4w');
    // A captured command re-sent: also stale, and unauthorized for a guest.
    expect(ward.sink.types().sort()).toEqual(['command-replay', 'command-stale', 'unauthorized-command']);
  });

  it('the same id for another device, or after the window, is not a replay', () => {
    const ward = new MonitorHarness();
    pause(ward, 'c-2', { device: 'pump-01' });
    pause(ward, 'c-2', { device: 'pump-02' });
    ward.advance(24 * HOUR + 1);
    pause(ward, 'c-2', { device: 'pump-01' });
    expect(ward.sink.raised).toEqual([]);
    // The id was seen afresh: a copy an hour later is a replay again.
    ward.advance(HOUR);
    pause(ward, 'c-2', { device: 'pump-01' });
    expect(ward.sink.types()).toEqual(['command-replay']);
  });

  it('a busy day of fresh ids raises nothing', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 2_000; i += 1) ward.advance(40_000).command('station-4w', `pump-0${(i % 6) + 1}`, 'pause');
    expect(ward.sink.raised).toEqual([]);
  });

  it('state stays bounded: 50,000 ids to one pump keep 4,096, evictions counted; an evicted id goes unnoticed, a kept one does not', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 50_000; i += 1) pause(ward.advance(1), `id-${i}`);
    const detector = ward.detector(CommandReplayDetector);
    expect(detector.idsTracked('pump-01')).toBe(REPLAY_MAX_IDS_PER_DEVICE);
    expect(detector.evictions).toBe(50_000 - REPLAY_MAX_IDS_PER_DEVICE);
    expect(detector.devicesTracked).toBe(1);
    // (50,000 commands 1 ms apart are also a publish flood.) The oldest ids were forgotten:
    pause(ward.advance(1), 'id-0');
    expect(ward.sink.types()).toEqual(['publish-flood']);
    pause(ward.advance(1), `id-${50_000 - 1}`);
    expect(ward.sink.types()).toEqual(['publish-flood', 'command-replay']);
  });
});

describe('stale command (detection.replay.maxCommandAgeSeconds, default 600)', () => {
  it('a command written 11 min before it arrived is a warning with both numbers', () => {
    const ward = new MonitorHarness();
    pause(ward, 'old-1', { writtenAgoMs: 11 * MINUTE });
    expect(ward.raised()).toEqual([['command-stale', 'warning']]);
    const alert = ward.sink.raised[0];
    expect(alert?.title).toBe('Bed 1 · pump-01: pause command arrived 11 min after the time written in it (limit 10 min) (sent by station-4w)');
    expect(alert?.evidence).toMatchObject({ ageMs: 11 * MINUTE, maxCommandAgeSeconds: 600 });
  });

  it('9 min old, or in the future (accelerated simulators), is not stale', () => {
    const ward = new MonitorHarness();
    pause(ward, 'a', { writtenAgoMs: 9 * MINUTE });
    pause(ward, 'b', { writtenAgoMs: -2 * HOUR });
    pause(ward, 'c', { writtenAgoMs: -365 * 24 * HOUR });
    expect(ward.sink.raised).toEqual([]);
  });

  it.each(['yesterday', '1', '', '2026-11-28T07:00:00', '2026-11-28', '2026-13-45T99:00:00Z', `2026-11-28T07:00:00Z${' '.repeat(10)}`])('a ts that does not parse as a zoned ISO time (%j) is not judged', (ts) => {
    const ward = new MonitorHarness();
    ward.rawCommand('station-4w', 'pump-01', { id: 'x', ts: ts.length === 0 ? ' ' : ts, command: 'pause' });
    expect(ward.sink.raised.filter((a) => a.type === 'command-stale')).toEqual([]);
    expect(ward.monitor.health.view().reasons).toEqual([]);
  });

  it('parses the forms the contract allows', () => {
    expect(parseCommandTime('2026-11-28T08:00:00.000Z')).toBe(Date.parse('2026-11-28T08:00:00Z'));
    expect(parseCommandTime('2026-11-28T09:00:00+01:00')).toBe(Date.parse('2026-11-28T08:00:00Z'));
    expect(parseCommandTime('2026-11-28T08:00Z')).toBe(Date.parse('2026-11-28T08:00:00Z'));
    expect(parseCommandTime('1')).toBeNull();
  });

  it('follows the configured age', () => {
    const config = new MonitorHarness().config;
    const ward = new MonitorHarness({ ...config, detection: { ...config.detection, replay: { windowHours: 24, maxCommandAgeSeconds: 30 } } });
    pause(ward, 'a', { writtenAgoMs: 45_000 });
    expect(ward.sink.raised[0]?.title).toContain('arrived 45 s after the time written in it (limit 30 s)');
  });
});
