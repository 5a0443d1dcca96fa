import type { Logger } from 'pino';
import { AcceptedAlerts } from '../audit/accepted-alerts.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { acceptanceOf, acceptDeviation, isLearnedAlertType } from '../detect/baseline/baseline-accept.ts';
import type { BaselineAcceptance } from '../detect/baseline/baseline-finding.ts';
import type { BaselineModel } from '../detect/baseline/baseline-model.ts';
import type { DeviceKind } from '../model/device-profile.ts';
import type { AlertView } from '../server/dashboard-protocol.ts';
import type { AcknowledgeOutcome } from './alert-manager.ts';

/** Stable codes (DESIGN.md, principle 7); the HTTP layer answers 404 for `not-found`, 503 for `not-audited` and `audit-unreadable`, 409 for the rest. */
export type AcceptIntoBaselineError = 'not-found' | 'not-learned' | 'nothing-to-accept' | 'already-accepted' | 'device-not-in-inventory' | 'not-audited' | 'audit-unreadable';

export type AcceptIntoBaselineOutcome =
  | {
      readonly ok: true;
      /** The alert after the acceptance: acknowledged if it was open. */
      readonly alert: AlertView;
      readonly accepted: BaselineAcceptance;
      /** Whether this acceptance acknowledged the alert (false: it was acknowledged before). */
      readonly acknowledged: boolean;
      /** Whether baseline.json was written; if not, the keeper writes it at its next interval (its log says why). */
      readonly saved: boolean;
    }
  | { readonly ok: false; readonly error: AcceptIntoBaselineError; readonly message: string };

export interface AcceptIntoBaselineRequest {
  readonly alertId: string;
  /** The session's user. */
  readonly by: string;
  readonly reason: string;
  /** The client's address. */
  readonly from: string;
}

export interface BaselineAcceptorOptions {
  /** The live model the detectors judge by. */
  readonly model: BaselineModel;
  /** Device id → profile, from the site config the agent runs with. */
  readonly inventory: ReadonlyMap<string, DeviceKind>;
  /** An alert by id: the alert manager's, else the store's (which keeps every alert); null if neither has it. */
  findAlert(alertId: string): AlertView | null;
  /** Acknowledges an open alert exactly as the dashboard's acknowledge route does (the alert manager, then the audit log). */
  acknowledge(alertId: string, by: string, reason: string, from: string): AcknowledgeOutcome;
  /** Writes baseline.json through the agent's one writer of it (store/baseline-keeper.ts). */
  save(): Promise<boolean>;
  readonly auditLog: AuditLog;
  readonly logger: Logger;
}

/** The acknowledgement an acceptance leaves on an open alert. */
export function acceptedAcknowledgementReason(reason: string): string {
  return `accepted into the baseline: ${reason}`;
}

/**
 * "Accept as normal for this ward" on a running agent (POST /api/alerts/<id>/accept-baseline):
 * what `wardwatch baseline accept` does with the agent stopped (the same acceptDeviation),
 * done to the live model so that the next occurrence is judged by the accepted baseline at
 * once, without stopping the monitor and leaving the ward unwatched.
 *
 * The steps from the duplicate check up to the save are synchronous, on the same event loop
 * as the pipeline: no event is judged halfway through, and a second request for the same
 * alert (two engineers, a double click) finds it accepted. The audit entry is written before the model changes:
 * if the audit log cannot be written, nothing is accepted (every change is audited).
 */
export class BaselineAcceptor {
  private readonly accepted: AcceptedAlerts;

  constructor(private readonly options: BaselineAcceptorOptions) {
    this.accepted = new AcceptedAlerts(options.auditLog.file);
  }

  async accept(request: AcceptIntoBaselineRequest): Promise<AcceptIntoBaselineOutcome> {
    const { options } = this;
    const { alertId, by, reason, from } = request;
    // The first acceptance after start waits for the audit log's earlier acceptances (read in
    // chunks, the event loop free meanwhile). From here to `remember` nothing awaits (the alert
    // is looked up after the wait), so a second request for the same alert, waiting at the
    // same point, finds this one's; a read that failed answers 503 and accepts nothing.
    try {
      await this.accepted.ready();
    } catch (error) {
      options.logger.error({ err: error, alertId, by }, 'the audit log could not be read to check earlier acceptances; nothing was accepted');
      return { ok: false, error: 'audit-unreadable', message: 'the audit log could not be read to check whether this alert was already accepted, so nothing was accepted; see the agent log, then try again' };
    }
    const alert = options.findAlert(alertId);
    if (alert === null) return { ok: false, error: 'not-found', message: 'no such alert' };
    if (!isLearnedAlertType(alert.type)) {
      return { ok: false, error: 'not-learned', message: `a ${alert.type} alert comes from a rule (the command policy, the drug library, a protocol or behaviour check), not from the learned baseline: there is nothing to accept into the baseline; acknowledge it instead, or change the site configuration` };
    }
    const acceptance = acceptanceOf(alert);
    if (acceptance === null) {
      return { ok: false, error: 'nothing-to-accept', message: `this ${alert.type} alert names nothing the baseline could learn (it judges a pattern over time, not one learned entry): acknowledge it instead` };
    }
    const before = this.accepted.get(alertId);
    if (before !== undefined) return { ok: false, error: 'already-accepted', message: `already accepted into the baseline by ${before.by} at ${before.at}` };
    const profile = options.inventory.get(acceptance.device);
    if (profile === undefined) {
      return { ok: false, error: 'device-not-in-inventory', message: `device ${acceptance.device} is no longer in the site configuration the agent runs with: there is no baseline to accept it into` };
    }

    const at = new Date();
    try {
      options.auditLog.append({
        actor: by,
        from,
        action: 'baseline-accepted',
        // The same details as the command line's (cli/baseline-commands.ts), and the reason.
        details: { alertId, alertType: alert.type, device: acceptance.device, level: acceptance.level, table: acceptance.table, key: acceptance.key, ...(acceptance.value === undefined ? {} : { value: acceptance.value }), reason },
        at: at.getTime(),
      });
    } catch (error) {
      options.logger.error({ err: error, alertId, by }, 'an acceptance into the baseline could not be written to the audit log; nothing was accepted');
      return { ok: false, error: 'not-audited', message: 'the audit log could not be written, so nothing was accepted; see the agent log' };
    }
    // Dated with the model's own clock (the newest event learned), as the command line does: detectors read event time.
    acceptDeviation(options.model, acceptance, profile, options.model.learnedUntil ?? at.getTime());
    this.accepted.remember(alertId, { by, at: at.toISOString() });
    options.logger.info({ alertId, by, from, device: acceptance.device, table: acceptance.table, level: acceptance.level }, 'alert accepted into the baseline');

    let current = alert;
    let acknowledged = false;
    if (alert.state === 'open') {
      const outcome = options.acknowledge(alertId, by, acceptedAcknowledgementReason(reason), from);
      if (outcome.ok) {
        current = outcome.alert;
        acknowledged = true;
      }
    }
    const saved = await options.save();
    return { ok: true, alert: options.findAlert(alertId) ?? current, accepted: acceptance, acknowledged, saved };
  }
}
