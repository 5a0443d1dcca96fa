import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, renameSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { canonicalJson } from './canonical-json.ts';
import { withFileLock } from './file-lock.ts';

/**
 * The audit log (issue 6): who did what, when and from where — every login, every
 * acknowledgement, every change of users, configuration and baseline — as an append-only
 * file of JSON lines, `<data-dir>/audit.jsonl`, whose entries are hash-chained.
 *
 * Each entry carries `prev`, the hash of the entry before it ("0"×64 for the first), and
 * `hash` = SHA-256(prev + canonical JSON of the entry without `hash`). Editing an entry
 * breaks its own hash; removing, inserting or reordering entries breaks a `seq` or a
 * `prev`. Removing entries from the end breaks nothing in the chain, so the last seq and
 * hash are also kept in `<data-dir>/audit.head`, rewritten atomically after each append:
 * a log that ends before its head has been truncated.
 *
 * What this protects against, and what not: the log is tamper-EVIDENT, not tamper-proof.
 * It shows an edit, a deletion or a truncation made with a text editor, a script that
 * does not know the scheme, or a restore of an older copy of one of the two files. Someone
 * with write access to both files can rewrite the whole chain and the head consistently,
 * and nothing local can tell. The answer to that is a copy out of their reach: forwarding
 * each entry to a SIEM or a remote syslog as it is written (issue 8); until then, keep the
 * data directory owner-only and back it up.
 *
 * Writes are synchronous, fsync'd, with O_APPEND, under a lock file shared by every
 * process (the agent and `wardwatch users …` append to the same log): when `append`
 * returns, the entry is on disk and chained to the one before it, whoever wrote that.
 */

export const AUDIT_FILE = 'audit.jsonl';
export const AUDIT_HEAD_FILE = 'audit.head';
export const GENESIS_HASH = '0'.repeat(64);

/** Stable ids: SIEM rules and reviews key on them; never change one's meaning once shipped. */
export const AUDIT_ACTIONS = [
  'login',
  'login-failed',
  'logout',
  'alert-acknowledged',
  'user-added',
  'user-disabled',
  'user-enabled',
  'mfa-enrolled',
  'mfa-reset',
  'recovery-codes-issued',
  'baseline-imported',
  'baseline-accepted',
  'baseline-frozen',
  'baseline-unfrozen',
  'config-changed',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEntry {
  readonly seq: number;
  /** ISO 8601, UTC. */
  readonly ts: string;
  /** A dashboard username, "system", or "cli:<os user>" for the command line. */
  readonly actor: string;
  /** The client's address, or "local" for the command line. */
  readonly from: string;
  readonly action: AuditAction;
  readonly details: Readonly<Record<string, unknown>>;
  readonly prev: string;
  readonly hash: string;
}

export interface AuditRecord {
  readonly actor: string;
  readonly from: string;
  readonly action: AuditAction;
  readonly details?: Readonly<Record<string, unknown>>;
  /** Event time, epoch ms; now if not given. */
  readonly at?: number;
}

export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

/** The actor of an offline command: "cli:<os user>" (uid when the user has no passwd entry, as in some containers). */
export function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return `cli:uid-${process.getuid?.() ?? 'unknown'}`;
  }
}

export function entryHash(entry: Omit<AuditEntry, 'hash'>): string {
  const { seq, ts, actor, from, action, details, prev } = entry;
  return createHash('sha256').update(prev + canonicalJson({ seq, ts, actor, from, action, details, prev }), 'utf8').digest('hex');
}

const HEX64 = /^[0-9a-f]{64}$/;

/** The problem with a parsed line's shape, or null when it has every field with the right type. */
function shapeProblem(value: unknown): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const entry = value as Record<string, unknown>;
  if (!Number.isSafeInteger(entry.seq) || (entry.seq as number) < 1) return 'seq is missing or not a positive integer';
  if (typeof entry.ts !== 'string' || Number.isNaN(Date.parse(entry.ts))) return 'ts is missing or not a time';
  for (const field of ['actor', 'from'] as const) if (typeof entry[field] !== 'string') return `${field} is missing or not a string`;
  if (typeof entry.action !== 'string') return 'action is missing or not a string';
  if (entry.details === null || typeof entry.details !== 'object' || Array.isArray(entry.details)) return 'details is missing or not an object';
  if (typeof entry.prev !== 'string' || !HEX64.test(entry.prev)) return 'prev is missing or not a SHA-256 hex digest';
  if (typeof entry.hash !== 'string' || !HEX64.test(entry.hash)) return 'hash is missing or not a SHA-256 hex digest';
  return null;
}

/** One line of the log as an entry, or null when it is not one (not JSON, or a field missing or of the wrong type). */
export function parseAuditEntry(text: string): AuditEntry | null {
  try {
    const value: unknown = JSON.parse(text);
    return shapeProblem(value) === null ? (value as AuditEntry) : null;
  } catch {
    return null;
  }
}

/** `audit.head` beside a log: `<dir>/audit.jsonl` → `<dir>/audit.head`. */
export function headFileOf(logFile: string): string {
  return logFile.endsWith('.jsonl') ? `${logFile.slice(0, -'.jsonl'.length)}.head` : `${logFile}.head`;
}

type HeadRead = { readonly state: 'missing' } | { readonly state: 'bad'; readonly problem: string } | { readonly state: 'ok'; readonly head: AuditHead };

function readHead(file: string): HeadRead {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    throw error;
  }
  try {
    const value = JSON.parse(text) as Partial<AuditHead>;
    if (Number.isSafeInteger(value.seq) && (value.seq as number) >= 0 && typeof value.hash === 'string' && HEX64.test(value.hash)) return { state: 'ok', head: { seq: value.seq as number, hash: value.hash } };
  } catch {
    // fall through
  }
  return { state: 'bad', problem: `${file} is not a head record ({"seq", "hash"})` };
}

/** The last line of a file (without its newline) and whether the file ends with one; reads backwards, a block at a time. */
function readLastLine(file: string): { readonly line: string | null; readonly endsWithNewline: boolean; readonly size: number } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { line: null, endsWithNewline: true, size: 0 };
    throw error;
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return { line: null, endsWithNewline: true, size };
    const chunks: Buffer[] = [];
    let position = size;
    let endsWithNewline = false;
    let first = true;
    while (position > 0) {
      const length = Math.min(4096, position);
      position -= length;
      const block = Buffer.alloc(length);
      readSync(fd, block, 0, length, position);
      let searchEnd = block.length;
      if (first) {
        endsWithNewline = block[block.length - 1] === 0x0a;
        if (endsWithNewline) searchEnd--;
        first = false;
      }
      const newline = block.subarray(0, searchEnd).lastIndexOf(0x0a);
      if (newline >= 0) {
        chunks.unshift(block.subarray(newline + 1, searchEnd));
        break;
      }
      chunks.unshift(block.subarray(0, searchEnd));
    }
    return { line: Buffer.concat(chunks).toString('utf8'), endsWithNewline, size };
  } finally {
    closeSync(fd);
  }
}

function writeHeadAtomically(file: string, head: AuditHead): void {
  const temporary = `${file}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(head)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // rename(2) replaces the old head in one step: a reader sees the old head or the new one, never half of one.
  renameSync(temporary, file);
}

export class AuditLog {
  readonly file: string;
  readonly headFile: string;
  private readonly lockFile: string;

  constructor(file: string) {
    this.file = file;
    this.headFile = headFileOf(file);
    this.lockFile = `${file}.lock`;
  }

  static forDataDir(dataDir: string): AuditLog {
    return new AuditLog(join(dataDir, AUDIT_FILE));
  }

  /** The head as recorded in audit.head, or null when there is none yet. */
  head(): AuditHead | null {
    const read = readHead(this.headFile);
    return read.state === 'ok' ? read.head : null;
  }

  /**
   * Appends one entry and returns it. The chain continues from the log's last line,
   * read again at every append (another process may have written since), unless the
   * head says the log once went further or the last line is damaged: then it continues
   * from the head, so that the new entry does not paper over a truncation — `verify`
   * still reports the break, at the new entry.
   */
  append(record: AuditRecord): AuditEntry {
    return withFileLock(this.lockFile, () => {
      const headRead = readHead(this.headFile);
      const head = headRead.state === 'ok' ? headRead.head : null;
      const tail = readLastLine(this.file);
      const last = tail.line === null ? null : parseAuditEntry(tail.line);
      let previous: AuditHead = { seq: 0, hash: GENESIS_HASH };
      // The head one behind the log: a crash between writing an entry and its head. Missing: an older data dir.
      if (last !== null && (head === null || head.seq < last.seq || (head.seq === last.seq && head.hash === last.hash))) previous = { seq: last.seq, hash: last.hash };
      else if (head !== null) previous = head;
      // JSON round trip: what is hashed is exactly what a reader will parse back (undefined dropped, NaN → null).
      const details = JSON.parse(JSON.stringify(record.details ?? {})) as Record<string, unknown>;
      const body = { seq: previous.seq + 1, ts: new Date(record.at ?? Date.now()).toISOString(), actor: record.actor, from: record.from, action: record.action, details, prev: previous.hash };
      const entry: AuditEntry = { ...body, hash: entryHash(body) };
      // A torn last line (a crash mid-write) keeps its own line, so that it is reported and this entry stays readable.
      const line = `${tail.endsWithNewline ? '' : '\n'}${JSON.stringify(entry)}\n`;
      const fd = openSync(this.file, 'a', 0o600);
      try {
        writeSync(fd, line);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      writeHeadAtomically(this.headFile, { seq: entry.seq, hash: entry.hash });
      return entry;
    });
  }
}

export type AuditVerification =
  | { readonly ok: true; readonly entries: number; readonly warning?: string }
  | { readonly ok: false; readonly seq: number; readonly line: number; readonly reason: string; readonly entries: number };

/**
 * Bytes `verifyAuditLog` reads at a time. Each read is awaited, so the event loop runs
 * between chunks: a chunk and its checks (a couple of hundred entries) are one short task,
 * and the in-path broker and gateway keep running while a log of years is verified.
 */
const VERIFY_CHUNK_BYTES = 64 * 1024;

/**
 * Longest line `verifyAuditLog` holds. Entries Wardwatch writes are a few hundred bytes (a
 * reason is at most 200 characters); a longer line is not one of them, so it fails the
 * verification unread, and memory stays within this plus one chunk however the file looks.
 */
export const MAX_VERIFIED_LINE_BYTES = 1024 * 1024;

/** How a walk over a file's lines ended: `visit` returned a result, the end was reached, or line `line` was over the cap. */
type LineWalk<T> = { readonly kind: 'stopped'; readonly result: T } | { readonly kind: 'end'; readonly lines: number } | { readonly kind: 'line-too-long'; readonly line: number };

/**
 * Calls `visit` with each line of the first `size` bytes of a file, in order, 1-based, until
 * it returns a result. The lines are those of `text.split('\n')` without a last empty one:
 * UTF-8 never has 0x0a inside a character, so a line decoded alone reads as it would in the
 * whole text. Holds one line at a time, at most MAX_VERIFIED_LINE_BYTES.
 */
async function forEachLine<T>(handle: FileHandle, size: number, visit: (text: string, line: number) => T | null): Promise<LineWalk<T>> {
  const chunk = Buffer.alloc(VERIFY_CHUNK_BYTES);
  let partial: Buffer[] = [];
  let partialBytes = 0;
  let line = 0;
  let position = 0;
  while (position < size) {
    const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, size - position), position);
    // Shorter than when it was measured: cut while being read; what was read is all there is.
    if (bytesRead === 0) break;
    position += bytesRead;
    const data = chunk.subarray(0, bytesRead);
    let start = 0;
    for (let newline = data.indexOf(0x0a); newline >= 0; newline = data.indexOf(0x0a, start)) {
      line += 1;
      if (partialBytes + newline - start > MAX_VERIFIED_LINE_BYTES) return { kind: 'line-too-long', line };
      const text = partialBytes === 0 ? data.toString('utf8', start, newline) : Buffer.concat([...partial, data.subarray(start, newline)]).toString('utf8');
      partial = [];
      partialBytes = 0;
      start = newline + 1;
      const result = visit(text, line);
      if (result !== null) return { kind: 'stopped', result };
    }
    if (start < data.length) {
      partialBytes += data.length - start;
      if (partialBytes > MAX_VERIFIED_LINE_BYTES) return { kind: 'line-too-long', line: line + 1 };
      // A copy: the chunk's memory is read into again.
      partial.push(Buffer.from(data.subarray(start)));
    }
  }
  // The last line without its newline (torn by a crash, or being written now).
  if (partialBytes > 0) {
    line += 1;
    const result = visit(Buffer.concat(partial).toString('utf8'), line);
    if (result !== null) return { kind: 'stopped', result };
  }
  return { kind: 'end', lines: line };
}

/**
 * Checks the whole chain and the head; reports the first broken entry by seq and line
 * number (1-based) with the reason. `entries` counts the entries that verified.
 *
 * Streamed a chunk at a time, never read whole: the log is never rotated, and a log of
 * years is hundreds of megabytes, past what one string can hold (about 512 MiB) and seconds
 * of work that must not stop the monitor. It verifies the log as long as it was when it
 * was opened, just after the head was read, so entries appended while it runs do not read
 * as "added by something other than Wardwatch".
 */
export async function verifyAuditLog(file: string): Promise<AuditVerification> {
  const headFile = headFileOf(file);
  const headRead = readHead(headFile);
  if (headRead.state === 'bad') return { ok: false, seq: 0, line: 0, reason: headRead.problem, entries: 0 };
  const head = headRead.state === 'ok' ? headRead.head : null;
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    if (head !== null && head.seq > 0) return { ok: false, seq: 1, line: 1, reason: `${file} is missing, but ${AUDIT_HEAD_FILE} records ${head.seq} entries: the log was deleted`, entries: 0 };
    return { ok: true, entries: 0 };
  }
  const chain = { previous: { seq: 0, hash: GENESIS_HASH } as AuditHead, headHash: null as string | null };
  const checkLine = (text: string, lineNumber: number): AuditVerification | null => {
    const { previous } = chain;
    const expectedSeq = previous.seq + 1;
    const fail = (reason: string, seq = expectedSeq): AuditVerification => ({ ok: false, seq, line: lineNumber, reason, entries: previous.seq });
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return fail('the line is not JSON (edited by hand, or torn by a crash while it was written)');
    }
    const problem = shapeProblem(value);
    if (problem !== null) return fail(`not an audit entry: ${problem}`);
    const entry = value as AuditEntry;
    if (entryHash(entry) !== entry.hash) return fail('its content does not match its hash: the entry was changed after it was written', entry.seq);
    if (entry.seq !== expectedSeq) return fail(`seq ${entry.seq} where ${expectedSeq} was expected: ${entry.seq > expectedSeq ? `${entry.seq - expectedSeq} entr${entry.seq - expectedSeq === 1 ? 'y was' : 'ies were'} removed before it` : 'entries were inserted or reordered'}`, entry.seq);
    if (entry.prev !== previous.hash) return fail(`its prev does not match the hash of entry ${previous.seq}: the entry before it was changed or replaced`, entry.seq);
    if (head !== null && entry.seq === head.seq) chain.headHash = entry.hash;
    chain.previous = { seq: entry.seq, hash: entry.hash };
    return null;
  };
  let walk: LineWalk<AuditVerification>;
  try {
    walk = await forEachLine(handle, (await handle.stat()).size, checkLine);
  } finally {
    await handle.close();
  }
  const entries = chain.previous.seq;
  if (walk.kind === 'stopped') return walk.result;
  if (walk.kind === 'line-too-long') {
    return { ok: false, seq: entries + 1, line: walk.line, reason: `the line is longer than ${MAX_VERIFIED_LINE_BYTES} bytes, which no audit entry comes near: it was not read`, entries };
  }
  const { headHash } = chain;
  const lineCount = walk.lines;
  if (head === null) {
    if (entries === 0) return { ok: true, entries };
    return { ok: false, seq: entries, line: lineCount, reason: `${AUDIT_HEAD_FILE} is missing: without it, entries removed from the end cannot be detected`, entries };
  }
  if (head.seq > entries) {
    return { ok: false, seq: entries + 1, line: lineCount + 1, reason: `the log ends at seq ${entries}, but ${AUDIT_HEAD_FILE} records seq ${head.seq}: ${head.seq - entries} entr${head.seq - entries === 1 ? 'y was' : 'ies were'} removed from the end`, entries };
  }
  if (head.seq > 0 && headHash !== head.hash) {
    return { ok: false, seq: head.seq, line: head.seq, reason: `entry ${head.seq} is not the one ${AUDIT_HEAD_FILE} records: the log was rewritten from there on`, entries };
  }
  if (entries - head.seq === 1) return { ok: true, entries, warning: `${AUDIT_HEAD_FILE} is one entry behind (the writer stopped between the entry and the head); the next entry brings it up to date` };
  if (entries > head.seq) return { ok: false, seq: head.seq + 1, line: head.seq + 1, reason: `${entries - head.seq} entries follow the one ${AUDIT_HEAD_FILE} records: they were added by something other than Wardwatch`, entries };
  return { ok: true, entries };
}

export interface AuditLine {
  /** 1-based line number in the file. */
  readonly line: number;
  /** The entry, or null for a line that is not one (`text` then says what is there). */
  readonly entry: AuditEntry | null;
  readonly text: string;
}

/** The log's lines, the last `last` only if given, for `wardwatch audit show`. Does not verify. */
export function readAuditLines(file: string, last?: number): AuditLine[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const start = last === undefined ? 0 : Math.max(0, lines.length - last);
  return lines.slice(start).map((text, index) => ({ line: start + index + 1, entry: parseAuditEntry(text), text }));
}


/**
 * Most bytes `readAuditTail` reads from the end of the log. The dashboard asks for at most
 * 1,000 entries of a few hundred bytes each (a reason is at most 200 characters), so this is
 * several times what it needs; lines past it (only a log of damaged or foreign lines gets
 * there) are left out of the page, never read into memory.
 */
export const MAX_AUDIT_TAIL_BYTES = 4 * 1024 * 1024;

const TAIL_BLOCK_BYTES = 64 * 1024;

/**
 * The last `last` lines of the log, for the dashboard's audit page: read backwards a block
 * at a time from the end, so that its cost follows `last`, not the log's age (a log of years
 * is hundreds of megabytes). Without line numbers: they would need the whole file counted.
 * Does not verify.
 */
export function readAuditTail(file: string, last: number): Array<Omit<AuditLine, 'line'>> {
  if (last <= 0) return [];
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const blocks: Buffer[] = [];
  let position: number;
  try {
    const size = fstatSync(fd).size;
    position = size;
    let newlines = 0;
    // `last` lines need `last` newlines before the final line's start (the file's own final newline aside).
    while (position > 0 && size - position < MAX_AUDIT_TAIL_BYTES && newlines <= last) {
      const length = Math.min(TAIL_BLOCK_BYTES, position, MAX_AUDIT_TAIL_BYTES - (size - position));
      position -= length;
      const block = Buffer.alloc(length);
      readSync(fd, block, 0, length, position);
      for (let at = block.indexOf(0x0a); at >= 0; at = block.indexOf(0x0a, at + 1)) newlines += 1;
      blocks.unshift(block);
    }
  } finally {
    closeSync(fd);
  }
  const lines = Buffer.concat(blocks).toString('utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  // Not read from the start of the file: the first piece is the end of a line, not a line.
  if (position > 0) lines.shift();
  return lines.slice(Math.max(0, lines.length - last)).map((text) => ({ entry: parseAuditEntry(text), text }));
}
