import { createReadStream } from 'node:fs';
import { parseAuditEntry } from './audit-log.ts';

/** Who accepted an alert into the baseline, and when (ISO 8601), as the audit log says. */
export interface AlertAcceptance {
  readonly by: string;
  readonly at: string;
}

/**
 * Acceptances kept in memory. Each is a person's click or command, so this is far above
 * what a ward makes in years; past it the oldest is forgotten (counted in `forgotten`), and
 * accepting that old alert again only repeats what it already added.
 */
export const MAX_REMEMBERED_ACCEPTANCES = 10_000;

/**
 * Bytes read from the audit log at a time while it is scanned: a read and its scan are one
 * short task of the event loop, so the in-path broker and gateway keep running meanwhile.
 */
export const AUDIT_SCAN_CHUNK_BYTES = 64 * 1024;

/**
 * Longest audit line the scan holds. Entries the agent writes are a few hundred bytes (a
 * reason is capped by the request body limit); a longer line is not one of them (a damaged
 * or foreign line), so it is skipped unread and counted in `oversizedLines`, and the scan's
 * memory stays within this plus one chunk however the file looks.
 */
export const MAX_AUDIT_LINE_BYTES = 1024 * 1024;

const ACTION_MARKER = Buffer.from('baseline-accepted', 'utf8');

/**
 * Which alerts were already accepted into the baseline, so that accepting one twice (two
 * engineers at once, a double click, a retry after a lost answer) changes nothing the
 * second time. The audit log is the record: it holds the dashboard's acceptances and the
 * command line's (`wardwatch baseline accept`, made while the agent was stopped, as
 * "cli:<os user>"), and it survives restarts. The agent's own acceptances are added as
 * they are made, and the command line cannot add any while the agent runs (it refuses to,
 * cli/baseline-commands.ts).
 *
 * The log is read once, at the first acceptance after start (`ready()`), streamed a chunk
 * at a time: a log of years can be hundreds of megabytes, more than one string can hold,
 * and reading it whole would stop the monitor for seconds. Only lines that mention
 * "baseline-accepted" are parsed. Until the read has succeeded `get` refuses to answer,
 * so the duplicate check never works from a partial or empty record; a failed read is
 * tried again at the next acceptance.
 */
export class AcceptedAlerts {
  private readonly accepted = new Map<string, AlertAcceptance>();
  private loaded = false;
  private loading: Promise<void> | null = null;
  forgotten = 0;
  /** Lines longer than MAX_AUDIT_LINE_BYTES skipped by the scan. */
  oversizedLines = 0;

  constructor(private readonly auditFile: string) {}

  /** Resolves once the audit log has been read; rejects if it could not be (the next call reads it again). */
  ready(): Promise<void> {
    if (this.loaded) return Promise.resolve();
    this.loading ??= this.load().then(
      () => {
        this.loaded = true;
        this.loading = null;
      },
      (error: unknown) => {
        this.loading = null;
        throw error;
      },
    );
    return this.loading;
  }

  /** Only after `ready()` has resolved: before that the record is incomplete, and an answer from it could let an acceptance through twice. */
  get(alertId: string): AlertAcceptance | undefined {
    if (!this.loaded) throw new Error('the acceptances in the audit log have not been read yet: await ready() first');
    return this.accepted.get(alertId);
  }

  remember(alertId: string, acceptance: AlertAcceptance): void {
    this.accepted.delete(alertId);
    this.accepted.set(alertId, acceptance);
    while (this.accepted.size > MAX_REMEMBERED_ACCEPTANCES) {
      const oldest = this.accepted.keys().next().value;
      if (oldest === undefined) break;
      this.accepted.delete(oldest);
      this.forgotten += 1;
    }
  }

  /**
   * Reads what is found into a table of its own, moved in only when the whole log was read:
   * a read that fails halfway leaves nothing behind. Damaged lines are skipped: `wardwatch
   * audit verify` is where they are reported. No log yet: nothing was accepted.
   */
  private async load(): Promise<void> {
    const found = new AcceptedAlerts(this.auditFile);
    let oversizedLines = 0;
    const take = (line: Buffer): void => {
      if (line.indexOf(ACTION_MARKER) < 0) return;
      const entry = parseAuditEntry(line.toString('utf8'));
      if (entry === null || entry.action !== 'baseline-accepted') return;
      const alertId = entry.details['alertId'];
      if (typeof alertId === 'string') found.remember(alertId, { by: entry.actor, at: entry.ts });
    };
    let partial: Buffer[] = [];
    let partialBytes = 0;
    let oversized = false;
    const stream = createReadStream(this.auditFile, { highWaterMark: AUDIT_SCAN_CHUNK_BYTES });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        let start = 0;
        for (let newline = chunk.indexOf(0x0a, start); newline >= 0; newline = chunk.indexOf(0x0a, start)) {
          const piece = chunk.subarray(start, newline);
          if (!oversized && partialBytes + piece.length <= MAX_AUDIT_LINE_BYTES) take(partialBytes === 0 ? piece : Buffer.concat([...partial, piece]));
          else oversizedLines += 1;
          partial = [];
          partialBytes = 0;
          oversized = false;
          start = newline + 1;
        }
        if (start < chunk.length && !oversized) {
          const rest = chunk.subarray(start);
          if (partialBytes + rest.length > MAX_AUDIT_LINE_BYTES) {
            oversized = true;
            partial = [];
            partialBytes = 0;
          } else {
            // A copy: the stream may reuse its chunk's memory.
            partial.push(Buffer.from(rest));
            partialBytes += rest.length;
          }
        }
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    // The last line without its newline (a crash while it was written, or being written now).
    if (oversized) oversizedLines += 1;
    else if (partialBytes > 0) take(Buffer.concat(partial));
    // The log's acceptances are older than any remembered meanwhile: they go first, so they are the first forgotten.
    const meanwhile = [...this.accepted];
    this.accepted.clear();
    for (const [alertId, acceptance] of found.accepted) this.accepted.set(alertId, acceptance);
    for (const [alertId, acceptance] of meanwhile) this.remember(alertId, acceptance);
    this.forgotten += found.forgotten;
    this.oversizedLines += oversizedLines;
  }
}
