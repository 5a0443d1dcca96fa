import { readAuditLines } from './audit-log.ts';

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
 * Which alerts were already accepted into the baseline, so that accepting one twice (two
 * engineers at once, a double click, a retry after a lost answer) changes nothing the
 * second time. The audit log is the record: it holds the dashboard's acceptances and the
 * command line's (`wardwatch baseline accept`, made while the agent was stopped, as
 * "cli:<os user>"), and it survives restarts. It is read once, at the first acceptance
 * after start; the agent's own acceptances are added as they are made, and the command
 * line cannot add any while the agent runs (it refuses to, cli/baseline-commands.ts).
 */
export class AcceptedAlerts {
  private readonly accepted = new Map<string, AlertAcceptance>();
  private loaded = false;
  forgotten = 0;

  constructor(private readonly auditFile: string) {}

  get(alertId: string): AlertAcceptance | undefined {
    this.load();
    return this.accepted.get(alertId);
  }

  remember(alertId: string, acceptance: AlertAcceptance): void {
    this.load();
    this.accepted.delete(alertId);
    this.accepted.set(alertId, acceptance);
    while (this.accepted.size > MAX_REMEMBERED_ACCEPTANCES) {
      const oldest = this.accepted.keys().next().value;
      if (oldest === undefined) break;
      this.accepted.delete(oldest);
      this.forgotten += 1;
    }
  }

  /** Damaged lines are skipped: `wardwatch audit verify` is where they are reported. */
  private load(): void {
    if (this.loaded) return;
    this.loaded = true;
    for (const { entry } of readAuditLines(this.auditFile)) {
      if (entry === null || entry.action !== 'baseline-accepted') continue;
      const alertId = entry.details['alertId'];
      if (typeof alertId === 'string') this.remember(alertId, { by: entry.actor, at: entry.ts });
    }
  }
}
