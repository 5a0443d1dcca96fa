/**
 * The audit log after years on a ward: hundreds of thousands of lines. Reading the earlier
 * acceptances must leave the event loop free (the in-path broker and gateway share it) and
 * hold a chunk, not the file; a read that fails must never let an alert be accepted twice;
 * the audit page must read only the end of the log.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BaselineAcceptor } from '../../agent/src/alert/accept-into-baseline.ts';
import { AcceptedAlerts, MAX_AUDIT_LINE_BYTES } from '../../agent/src/audit/accepted-alerts.ts';
import { AUDIT_FILE, AuditLog, readAuditLines, readAuditTail } from '../../agent/src/audit/audit-log.ts';
import { BaselineModel } from '../../agent/src/detect/baseline/baseline-model.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { sampleAlert } from '../helpers/sample-alert.ts';

const quiet = pino({ level: 'silent' });
const LINES = 200_000;
const HEX = 'ab'.repeat(32);
const COMMANDER_ACCEPT = { device: 'pump-01', table: 'commander', key: 'account:station-4w', level: 'device' } as const;

/** A line of the shape the agent writes (the chain is not checked here: `audit verify` does that). */
function line(seq: number, action: string, details: Record<string, unknown>, actor = 'rn-a'): string {
  return JSON.stringify({ seq, ts: new Date(Date.UTC(2026, 0, 1) + seq * 1000).toISOString(), actor, from: '10.4.0.21', action, details, prev: HEX, hash: HEX });
}

/** `count` lines: an acceptance first, logins and acknowledgements, one line too long to be an entry, an acceptance last (no final newline, as if being written). */
function writeLargeLog(file: string, count: number): void {
  appendFileSync(file, `${line(1, 'baseline-accepted', { alertId: 'a-first', reason: 'new station' }, 'cli:biomed')}\n`);
  const batch: string[] = [];
  for (let seq = 2; seq < count; seq += 1) {
    batch.push(seq % 3 === 0 ? line(seq, 'alert-acknowledged', { alertId: `b-${seq}`, reason: 'pump checked at the bedside, the line was kinked' }) : line(seq, 'login', { method: 'totp', session: `s-${seq}` }));
    if (seq === count >> 1) batch.push(`{"action":"baseline-accepted","details":{"alertId":"a-huge"},"pad":"${'x'.repeat(2 * MAX_AUDIT_LINE_BYTES)}"}`);
    if (batch.length === 10_000) {
      appendFileSync(file, `${batch.join('\n')}\n`);
      batch.length = 0;
    }
  }
  appendFileSync(file, `${batch.join('\n')}${batch.length > 0 ? '\n' : ''}${line(count, 'baseline-accepted', { alertId: 'a-last', reason: 'ward round' }, 'be-b')}`);
}

function learnedAlert(): ReturnType<typeof sampleAlert> {
  return sampleAlert({ type: 'baseline-new-commander', severity: 'warning', evidence: { baseline: { level: 'device', accept: COMMANDER_ACCEPT, howToAccept: 'If this is normal, accept it' } } });
}

function acceptorFor(auditFile: string, alert: ReturnType<typeof sampleAlert>, model: BaselineModel): BaselineAcceptor {
  return new BaselineAcceptor({
    model,
    inventory: new Map([['pump-01', 'infusion-pump']]),
    findAlert: (id) => (id === alert.id ? alert : null),
    acknowledge: () => ({ ok: false, error: 'already-acknowledged' }),
    save: () => Promise.resolve(true),
    auditLog: new AuditLog(auditFile),
    logger: quiet,
  });
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wardwatch-audit-large-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('earlier acceptances from a large audit log', () => {
  it(`reads ${LINES} lines with the event loop free and memory bounded, and finds the acceptance on the last line`, async () => {
    const file = join(dir, AUDIT_FILE);
    writeLargeLog(file, LINES);
    const accepted = new AcceptedAlerts(file);
    const rssBefore = process.memoryUsage().rss;
    let ticks = 0;
    let longestGapMs = 0;
    let peakRss = rssBefore;
    let previous = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      longestGapMs = Math.max(longestGapMs, now - previous);
      previous = now;
      ticks += 1;
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 5);
    const started = performance.now();
    try {
      await accepted.ready();
    } finally {
      clearInterval(timer);
    }
    const tookMs = performance.now() - started;
    console.info(`${LINES} lines: read in ${Math.round(tookMs)} ms, ${ticks} timer ticks, longest gap ${Math.round(longestGapMs)} ms, peak RSS +${Math.round((peakRss - rssBefore) / 1e6)} MB`);
    // A whole-file read blocks for all of it (no tick at all); chunks leave the timer running throughout.
    expect(ticks).toBeGreaterThanOrEqual(5);
    // Generous for two shared cores under a full suite; a whole-file read of this log blocks for 1.3 s or more.
    expect(longestGapMs).toBeLessThan(800);
    // The file is ~70 MB; reading it whole costs several times that.
    expect(peakRss - rssBefore).toBeLessThan(64e6);
    expect(accepted.get('a-last')).toEqual({ by: 'be-b', at: new Date(Date.UTC(2026, 0, 1) + LINES * 1000).toISOString() });
    expect(accepted.get('a-first')?.by).toBe('cli:biomed');
    expect(accepted.get('b-3')).toBeUndefined();
    // The overlong line is skipped unparsed, and counted.
    expect(accepted.get('a-huge')).toBeUndefined();
    expect(accepted.oversizedLines).toBe(1);
  }, 60_000);

  it('will not answer before the log has been read', () => {
    expect(() => new AcceptedAlerts(join(dir, AUDIT_FILE)).get('a-1')).toThrow(/not been read/);
  });

  it('answers 503 while the log cannot be read, accepts nothing, and reads it again at the next request', async () => {
    const file = join(dir, AUDIT_FILE);
    // A directory where the log should be: open succeeds, every read fails (EISDIR).
    mkdirSync(file);
    const model = new BaselineModel(loadDemoConfig().baseline);
    const alert = learnedAlert();
    const acceptor = acceptorFor(file, alert, model);
    const refused = await acceptor.accept({ alertId: alert.id, by: 'be-a', reason: 'new station', from: '10.4.0.30' });
    expect(refused).toMatchObject({ ok: false, error: 'audit-unreadable' });
    expect(model.devices.get('pump-01')?.commanders.has('account:station-4w') ?? false).toBe(false);
    // The log is back, and says the alert was accepted (say, before the restart): the retry finds it rather than an empty record.
    rmSync(file, { recursive: true });
    writeFileSync(file, `${line(1, 'baseline-accepted', { alertId: alert.id }, 'cli:biomed')}\n`);
    expect(await acceptor.accept({ alertId: alert.id, by: 'be-a', reason: 'new station', from: '10.4.0.30' })).toMatchObject({ ok: false, error: 'already-accepted' });
    expect(model.devices.get('pump-01')?.commanders.has('account:station-4w') ?? false).toBe(false);
  });

  it('two requests for one alert while the log is still being read: one accepts, the other finds it accepted', async () => {
    const file = join(dir, AUDIT_FILE);
    writeLargeLog(file, 20_000);
    const model = new BaselineModel(loadDemoConfig().baseline);
    const alert = learnedAlert();
    const acceptor = acceptorFor(file, alert, model);
    const outcomes = await Promise.all([1, 2].map(() => acceptor.accept({ alertId: alert.id, by: 'be-a', reason: 'new station', from: '10.4.0.30' })));
    expect(outcomes.map((outcome) => (outcome.ok ? 'ok' : outcome.error)).sort()).toEqual(['already-accepted', 'ok']);
    expect(model.devices.get('pump-01')?.commanders.has('account:station-4w')).toBe(true);
  }, 30_000);
});

describe('the audit page reads only the end of the log', () => {
  it('gives the same last entries as a whole read', () => {
    const file = join(dir, AUDIT_FILE);
    writeLargeLog(file, 5_000);
    for (const last of [1, 3, 100, 1_000]) {
      expect(readAuditTail(file, last)).toEqual(readAuditLines(file, last).map(({ entry, text }) => ({ entry, text })));
    }
    expect(readAuditTail(file, 0)).toEqual([]);
    expect(readAuditTail(join(dir, 'none.jsonl'), 10)).toEqual([]);
  });

  it('reads the end of a log too large to read whole', () => {
    const file = join(dir, AUDIT_FILE);
    // 3 GiB of hole (sparse: no disk used) before the entries: more than a string or a Buffer can hold.
    writeFileSync(file, '');
    truncateSync(file, 3 * 2 ** 30);
    appendFileSync(file, `\n${[1, 2, 3].map((seq) => line(seq, 'login', { method: 'totp' })).join('\n')}\n`);
    const started = performance.now();
    const tail = readAuditTail(file, 10);
    expect(performance.now() - started).toBeLessThan(2_000);
    // The three entries, and nothing of the hole: it is one "line" longer than the tail reads.
    expect(tail.map(({ entry }) => entry?.seq ?? null)).toEqual([1, 2, 3]);
  });
});
