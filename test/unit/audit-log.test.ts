import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUDIT_FILE, AUDIT_HEAD_FILE, AuditLog, entryHash, GENESIS_HASH, readAuditLines, verifyAuditLog, type AuditEntry } from '../../agent/src/audit/audit-log.ts';
import { canonicalJson } from '../../agent/src/audit/canonical-json.ts';
import { FileLockTimeoutError, withFileLock } from '../../agent/src/audit/file-lock.ts';

const T0 = Date.UTC(2025, 0, 6, 8, 0, 0);
let dir: string;
let file: string;

function writeFive(): AuditEntry[] {
  const log = AuditLog.forDataDir(dir);
  return [
    log.append({ actor: 'cli:root', from: 'local', action: 'user-added', details: { username: 'alice', role: 'nurse' }, at: T0 }),
    log.append({ actor: 'alice', from: '10.4.0.21', action: 'login', details: { method: 'totp' }, at: T0 + 1000 }),
    log.append({ actor: 'alice', from: '10.4.0.21', action: 'alert-acknowledged', details: { alertId: 'a-17', reason: 'pump checked at bedside' }, at: T0 + 2000 }),
    log.append({ actor: 'alice', from: '10.4.0.21', action: 'logout', at: T0 + 3000 }),
    log.append({ actor: 'system', from: 'local', action: 'config-changed', details: { path: 'policy.rules', nested: { z: 1, a: [1, 'two', null] } }, at: T0 + 4000 }),
  ];
}

function lines(): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((line) => line !== '');
}

function rewrite(newLines: string[]): void {
  writeFileSync(file, newLines.map((line) => `${line}\n`).join(''));
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wardwatch-audit-'));
  file = join(dir, AUDIT_FILE);
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('canonical JSON', () => {
  it('sorts keys at every depth and keeps arrays in order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { y: 1, x: 2 }], c: 'é' } })).toBe('{"a":{"c":"é","d":[3,{"x":2,"y":1}]},"b":1}');
    expect(canonicalJson({ a: undefined, b: null })).toBe('{"b":null}');
  });
});

describe('AuditLog.append', () => {
  it('writes one JSON object per line, chained from "0"×64, with seq from 1', () => {
    const entries = writeFive();
    expect(entries.map((entry) => entry.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(entries[0]?.prev).toBe(GENESIS_HASH);
    for (let index = 1; index < entries.length; index++) expect(entries[index]?.prev).toBe(entries[index - 1]?.hash);
    const parsed = lines().map((line) => JSON.parse(line) as AuditEntry);
    expect(parsed).toEqual(entries);
    expect(parsed[3]).toMatchObject({ ts: new Date(T0 + 3000).toISOString(), actor: 'alice', from: '10.4.0.21', action: 'logout', details: {} });
  });

  it('hashes prev + the canonical JSON of the entry without its hash', () => {
    const [first] = writeFive();
    const { hash, ...body } = first as AuditEntry;
    const sorted = `{"action":"user-added","actor":"cli:root","details":{"role":"nurse","username":"alice"},"from":"local","prev":"${GENESIS_HASH}","seq":1,"ts":"${new Date(T0).toISOString()}"}`;
    expect(canonicalJson(body)).toBe(sorted);
    expect(hash).toBe(entryHash(body));
  });

  it('continues the chain of an existing log when opened again, as another process would', async () => {
    writeFive();
    const again = new AuditLog(file).append({ actor: 'bob', from: '10.4.0.30', action: 'login', at: T0 + 9000 });
    expect(again.seq).toBe(6);
    expect(again.prev).toBe((JSON.parse(lines()[4] as string) as AuditEntry).hash);
    expect(await verifyAuditLog(file)).toEqual({ ok: true, entries: 6 });
  });

  it('keeps the log and the head owner-only and the head at the last entry', () => {
    const entries = writeFive();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, AUDIT_HEAD_FILE)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dir, AUDIT_HEAD_FILE), 'utf8'))).toEqual({ seq: 5, hash: entries[4]?.hash });
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('stores exactly what it hashed: undefined dropped, NaN as null', async () => {
    const entry = AuditLog.forDataDir(dir).append({ actor: 'x', from: 'local', action: 'config-changed', details: { gone: undefined, nan: Number.NaN } });
    expect(entry.details).toEqual({ nan: null });
    expect(await verifyAuditLog(file)).toEqual({ ok: true, entries: 1 });
  });

  it('waits for a lock held by a live process and breaks one left by a dead one', () => {
    writeFileSync(`${file}.lock`, '999999999\n');
    expect(AuditLog.forDataDir(dir).append({ actor: 'x', from: 'local', action: 'logout' }).seq).toBe(1);
    // The parent process (vitest's) is alive and is not us: its lock is respected until the timeout.
    writeFileSync(`${file}.lock`, `${process.ppid}\n`);
    expect(() => withFileLock(`${file}.lock`, () => 0, 50)).toThrow(FileLockTimeoutError);
    unlinkSync(`${file}.lock`);
  });
});

describe('verifyAuditLog', () => {
  it('verifies an intact chain and counts its entries', async () => {
    writeFive();
    expect(await verifyAuditLog(file)).toEqual({ ok: true, entries: 5 });
  });

  it('says an empty or missing log with no head is fine', async () => {
    expect(await verifyAuditLog(file)).toEqual({ ok: true, entries: 0 });
  });

  it('reports an edited entry\'s details at that seq and line', async () => {
    writeFive();
    const all = lines();
    all[2] = (all[2] as string).replace('pump checked at bedside', 'nothing to see');
    rewrite(all);
    expect(await verifyAuditLog(file)).toEqual({ ok: false, seq: 3, line: 3, reason: expect.stringMatching(/does not match its hash: the entry was changed/) as string, entries: 2 });
  });

  it('reports an edited entry whose hash was recomputed at the next entry, by its prev', async () => {
    writeFive();
    const all = lines();
    const edited = JSON.parse(all[1] as string) as AuditEntry;
    const { hash: _old, ...body } = { ...edited, actor: 'mallory' };
    all[1] = JSON.stringify({ ...body, hash: entryHash(body) });
    rewrite(all);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, seq: 3, line: 3, reason: expect.stringMatching(/prev does not match the hash of entry 2/) as string });
  });

  it('reports a deleted middle line as a seq gap at the line that follows it', async () => {
    writeFive();
    const all = lines();
    all.splice(2, 1);
    rewrite(all);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, seq: 4, line: 3, reason: expect.stringMatching(/seq 4 where 3 was expected: 1 entry was removed before it/) as string });
  });

  it('reports entries swapped', async () => {
    writeFive();
    const all = lines();
    [all[1], all[2]] = [all[2] as string, all[1] as string];
    rewrite(all);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, line: 2, seq: 3 });
  });

  it('reports a truncated end, through the head', async () => {
    writeFive();
    rewrite(lines().slice(0, 3));
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, seq: 4, line: 4, reason: expect.stringMatching(/ends at seq 3, but audit.head records seq 5: 2 entries were removed from the end/) as string, entries: 3 });
  });

  it('keeps a truncation visible after the next append: the new entry continues from the head', async () => {
    writeFive();
    rewrite(lines().slice(0, 3));
    const next = AuditLog.forDataDir(dir).append({ actor: 'alice', from: '10.4.0.21', action: 'login' });
    expect(next.seq).toBe(6);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, seq: 6, line: 4, reason: expect.stringMatching(/seq 6 where 4 was expected/) as string });
  });

  it('reports a deleted log, a deleted head and an unparsable line', async () => {
    writeFive();
    const text = readFileSync(file, 'utf8');
    unlinkSync(file);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, reason: expect.stringMatching(/missing, but audit.head records 5 entries/) as string });
    writeFileSync(file, text);
    const head = readFileSync(join(dir, AUDIT_HEAD_FILE));
    unlinkSync(join(dir, AUDIT_HEAD_FILE));
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, reason: expect.stringMatching(/audit.head is missing/) as string });
    writeFileSync(join(dir, AUDIT_HEAD_FILE), head);
    const all = lines();
    all[3] = '{"seq": 4, "torn';
    rewrite(all);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, seq: 4, line: 4, reason: expect.stringMatching(/not JSON/) as string });
  });

  it('reports a line that is JSON but not an entry, naming the field', async () => {
    writeFive();
    const all = lines();
    const entry = JSON.parse(all[0] as string) as Record<string, unknown>;
    delete entry.from;
    all[0] = JSON.stringify(entry);
    rewrite(all);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, seq: 1, line: 1, reason: 'not an audit entry: from is missing or not a string' });
  });

  it('tolerates a head one entry behind (a crash between the entry and its head), and the next append repairs it', async () => {
    const entries = writeFive();
    writeFileSync(join(dir, AUDIT_HEAD_FILE), JSON.stringify({ seq: 4, hash: entries[3]?.hash }));
    expect(await verifyAuditLog(file)).toMatchObject({ ok: true, entries: 5, warning: expect.stringMatching(/one entry behind/) as string });
    AuditLog.forDataDir(dir).append({ actor: 'x', from: 'local', action: 'logout' });
    expect(await verifyAuditLog(file)).toEqual({ ok: true, entries: 6 });
  });

  it('keeps a torn last line on its own line: it is reported, and the entry after it stays readable', async () => {
    writeFive();
    writeFileSync(file, `${readFileSync(file, 'utf8')}{"seq":6,"ts":"20`);
    const next = AuditLog.forDataDir(dir).append({ actor: 'x', from: 'local', action: 'logout' });
    expect(next.seq).toBe(6);
    expect(readAuditLines(file).map(({ entry }) => entry?.seq ?? null)).toEqual([1, 2, 3, 4, 5, null, 6]);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: false, line: 6, seq: 6 });
  });
});

describe('readAuditLines', () => {
  it('returns the last n lines with their line numbers', () => {
    writeFive();
    expect(readAuditLines(file, 2).map(({ line, entry }) => [line, entry?.action])).toEqual([[4, 'logout'], [5, 'config-changed']]);
    expect(readAuditLines(join(dir, 'none.jsonl'))).toEqual([]);
  });
});
