import { constants } from 'node:buffer';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUDIT_FILE, AUDIT_HEAD_FILE, AuditLog, entryHash, GENESIS_HASH, MAX_VERIFIED_LINE_BYTES, verifyAuditLog, type AuditEntry, type AuditVerification } from '../../agent/src/audit/audit-log.ts';

/**
 * `verifyAuditLog` streamed a chunk at a time (64 KiB): a log of years must neither stop
 * the monitor while it is verified nor fail for being longer than one string can hold.
 * The small logs' verdicts are in audit-log.test.ts; these are logs of many chunks.
 */

const T0 = Date.UTC(2025, 0, 6, 8, 0, 0);
let dir: string;
let file: string;

/**
 * Writes a chain of `count` entries and its head, as `AuditLog.append` would have, without
 * its lock and fsync per entry (200,000 appends would take minutes): hashed here, written in batches.
 */
function writeChain(count: number, detailsOf: (seq: number) => Record<string, unknown>): void {
  const fd = openSync(file, 'w', 0o600);
  let prev = GENESIS_HASH;
  let batch: string[] = [];
  try {
    for (let seq = 1; seq <= count; seq++) {
      const body = { seq, ts: new Date(T0 + seq * 1000).toISOString(), actor: 'alice', from: '10.4.0.21', action: 'alert-acknowledged' as const, details: detailsOf(seq), prev };
      const hash = entryHash(body);
      batch.push(`${JSON.stringify({ ...body, hash })}\n`);
      prev = hash;
      if (batch.length === 5_000 || seq === count) {
        writeSync(fd, batch.join(''));
        batch = [];
      }
    }
  } finally {
    closeSync(fd);
  }
  writeFileSync(join(dir, AUDIT_HEAD_FILE), JSON.stringify({ seq: count, hash: prev }));
}

const acknowledgement = (seq: number): Record<string, unknown> => ({ alertId: `a-${seq}`, type: 'drug-limit', reason: 'pump checked at bedside' });

function lines(): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((line) => line !== '');
}

function rewrite(newLines: string[]): void {
  writeFileSync(file, newLines.map((line) => `${line}\n`).join(''));
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wardwatch-audit-verify-'));
  file = join(dir, AUDIT_FILE);
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('verifyAuditLog, streamed', () => {
  it('verifies a 200,000-entry log while a 5 ms timer keeps firing, and leaves out entries appended meanwhile', async () => {
    writeChain(200_000, acknowledgement);
    expect(statSync(file).size).toBeGreaterThan(60 * 1024 * 1024);
    let ticks = 0;
    let longestGapMs = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      longestGapMs = Math.max(longestGapMs, now - last);
      last = now;
      ticks += 1;
      // Well into the verification: the agent audits a login while the admin's page is being answered.
      if (ticks === 3) new AuditLog(file).append({ actor: 'bob', from: '10.4.0.30', action: 'login', at: T0 });
    }, 5);
    const started = performance.now();
    let result: AuditVerification | undefined;
    try {
      result = await verifyAuditLog(file);
    } finally {
      clearInterval(timer);
    }
    const elapsedMs = performance.now() - started;
    // The log as it was when opened: the entry appended meanwhile is neither counted nor "added by something other than Wardwatch".
    expect(result).toEqual({ ok: true, entries: 200_000 });
    // Read whole and checked at once, this log blocks for 2.3–3.2 s here; chunked, the longest gap is tens of ms. The bound leaves room for a loaded CI machine.
    expect(longestGapMs).toBeLessThan(1_000);
    // Read whole and checked in one go, the timer would not fire at all until the end.
    expect(ticks).toBeGreaterThan(elapsedMs / 5 / 10);
    expect(lines().length).toBe(200_001);
  });

  describe('gives the verdicts of a small log past the first chunks', () => {
    const COUNT = 3_000;

    it('an edited entry', async () => {
      writeChain(COUNT, acknowledgement);
      expect(statSync(file).size).toBeGreaterThan(10 * 64 * 1024);
      const all = lines();
      all[2_499] = (all[2_499] as string).replace('pump checked at bedside', 'nothing to see');
      rewrite(all);
      expect(await verifyAuditLog(file)).toEqual({ ok: false, seq: 2_500, line: 2_500, reason: expect.stringMatching(/does not match its hash: the entry was changed/) as string, entries: 2_499 });
    });

    it('a removed line', async () => {
      writeChain(COUNT, acknowledgement);
      const all = lines();
      all.splice(2_499, 1);
      rewrite(all);
      expect(await verifyAuditLog(file)).toEqual({ ok: false, seq: 2_501, line: 2_500, reason: expect.stringMatching(/seq 2501 where 2500 was expected: 1 entry was removed before it/) as string, entries: 2_499 });
    });

    it('a truncated tail, cut mid-line', async () => {
      writeChain(COUNT, acknowledgement);
      const all = lines();
      // The last 101 entries cut, the first of them only halfway: a torn last line without its newline.
      const kept = all.slice(0, COUNT - 101).map((line) => `${line}\n`).join('');
      writeFileSync(file, `${kept}${(all[COUNT - 101] as string).slice(0, 100)}`);
      expect(await verifyAuditLog(file)).toEqual({ ok: false, seq: COUNT - 100, line: COUNT - 100, reason: expect.stringMatching(/not JSON/) as string, entries: COUNT - 101 });
      writeFileSync(file, kept);
      expect(await verifyAuditLog(file)).toEqual({ ok: false, seq: COUNT - 100, line: COUNT - 100, reason: expect.stringMatching(/ends at seq 2899, but audit.head records seq 3000: 101 entries were removed from the end/) as string, entries: COUNT - 101 });
    });
  });

  it('verifies an entry that spans many chunks, up to the line cap', async () => {
    writeChain(3, (seq) => ({ note: seq === 2 ? 'x'.repeat(MAX_VERIFIED_LINE_BYTES - 1_000) : 'short' }));
    const second = lines()[1] as string;
    expect(Buffer.byteLength(second)).toBeGreaterThan(MAX_VERIFIED_LINE_BYTES - 1_000);
    expect(Buffer.byteLength(second)).toBeLessThanOrEqual(MAX_VERIFIED_LINE_BYTES);
    expect(await verifyAuditLog(file)).toEqual({ ok: true, entries: 3 });
    // One character edited in the middle of it, many chunks in: still seen.
    const middle = Math.floor(second.length / 2);
    rewrite([lines()[0] as string, `${second.slice(0, middle)}y${second.slice(middle + 1)}`, lines()[2] as string]);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, seq: 2, line: 2, reason: expect.stringMatching(/does not match its hash/) as string });
  });

  it('fails at a line longer than the cap without holding it, in a log larger than one string can hold (sparse)', async () => {
    writeChain(5, acknowledgement);
    // A tail of NUL bytes with no newline, as a crash can leave on some filesystems: 600 MB of one line, a hole on disk.
    truncateSync(file, 600 * 1024 * 1024);
    expect(statSync(file).size).toBeGreaterThan(constants.MAX_STRING_LENGTH);
    const before = process.memoryUsage().rss;
    expect(await verifyAuditLog(file)).toEqual({ ok: false, seq: 6, line: 6, reason: `the line is longer than ${MAX_VERIFIED_LINE_BYTES} bytes, which no audit entry comes near: it was not read`, entries: 5 });
    // Bounded: the cap plus a chunk or two, not the 600 MB line (slack for the test runner's own allocations).
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('reports a line over the cap that ends with a newline by its line number', async () => {
    writeChain(2, acknowledgement);
    const all = lines();
    const entry = JSON.parse(all[1] as string) as AuditEntry;
    rewrite([all[0] as string, JSON.stringify({ ...entry, details: { padding: 'z'.repeat(MAX_VERIFIED_LINE_BYTES) } })]);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, seq: 2, line: 2, reason: expect.stringMatching(/longer than 1048576 bytes/) as string, entries: 1 });
  });
});
