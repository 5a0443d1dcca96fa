/**
 * "Accept as normal for this ward" on a learned alert's page (biomed and admin, the
 * `baseline.configure` permission): a reason, then a confirmation that says exactly what
 * the baseline will learn (baseline-accept-text.ts, from the alert's evidence), then POST
 * /api/alerts/:id/accept-baseline. The running agent takes it into its live baseline, saves
 * it, acknowledges the alert if it is open and writes the audit log: nobody has to stop the
 * monitor, and leave the ward unwatched, to tune it.
 *
 * Built with textContent only (dom.ts `el`): keys and values come from the evidence, which
 * names accounts and commands a sender chose.
 */
import type { AcceptBaselineRequest, AlertView, BaselineAcceptanceView, BaselineAcceptedResponse, SessionUser } from '../../agent/src/server/dashboard-protocol.ts';
import { postJson } from './api.ts';
import { acceptanceSentence } from './baseline-accept-text.ts';
import { el, setHidden, setText } from './dom.ts';

const MAX_REASON_LENGTH = 200;

export interface BaselineAcceptOptions {
  /** The logged-in user, whom the agent records as accepting (from the session, not from the page). */
  readonly user: SessionUser;
  /** Called with the agent's updated alert (acknowledged if it was open). */
  onAccepted(alert: AlertView): void;
}

function looksLikeAccepted(value: unknown): value is BaselineAcceptedResponse {
  if (typeof value !== 'object' || value === null) return false;
  const alert = (value as { alert?: unknown }).alert;
  return typeof alert === 'object' && alert !== null && typeof (alert as { id?: unknown }).id === 'string';
}

function refusalText(status: number, message: string): string {
  if (status === 401) return 'Your session has ended: log in again. Nothing was accepted.';
  if (status === 403) return 'Your role may not change the learned baseline. Nothing was accepted.';
  return `${message} Nothing was accepted.`;
}

/** The section on one alert's page; kept across rebuilds of the page, so a reason being typed survives a repeat of the alert. */
export class BaselineAcceptAction {
  readonly element = el('section', 'alert-page-section accept-baseline');
  private readonly form = el('form', 'accept-form');
  private readonly reason = el('input', 'accept-reason');
  private readonly error = el('p', 'form-error accept-error');
  private readonly start = el('button', 'button-primary accept-start', 'Accept as normal for this ward…');
  private readonly confirmBox = el('div', 'accept-confirm');
  private readonly confirmText = el('p', 'accept-confirm-text');
  private readonly confirm = el('button', 'button-primary accept-confirm-button', 'Yes, learn this as normal');
  private readonly cancel = el('button', 'button-secondary accept-cancel', 'Cancel');
  private readonly done = el('p', 'accept-done');
  private readonly sentence: string;
  private sending = false;

  /** `doneText`: the outcome shown when this page already accepted the alert earlier in this session. */
  constructor(
    readonly alertId: string,
    acceptance: BaselineAcceptanceView,
    private readonly options: BaselineAcceptOptions,
    private readonly onDone: (text: string) => void,
    doneText: string | null = null,
  ) {
    this.sentence = acceptanceSentence(acceptance);
    this.element.dataset['section'] = 'accept-baseline';
    const what = el('p', 'accept-what', `What the baseline will learn: ${this.sentence}`);
    what.dataset['field'] = 'accept-what';
    const why = el('p', 'hint', 'For a learned alert that is normal after all: a new station on the ward, new opening hours, new firmware. The agent keeps watching; from now on this is judged normal. The alert is acknowledged, and the acceptance is recorded in the audit log.');

    this.form.noValidate = true;
    const label = el('label', 'accept-reason-label', 'Reason (kept in the audit log) ');
    this.reason.type = 'text';
    this.reason.name = 'accept-reason';
    this.reason.autocomplete = 'off';
    this.reason.maxLength = MAX_REASON_LENGTH;
    label.append(this.reason);
    this.error.setAttribute('role', 'alert');
    setHidden(this.error, true);
    this.start.type = 'submit';
    const startActions = el('div', 'ack-actions');
    startActions.append(this.start);
    this.form.append(label, this.error, startActions);

    this.confirmBox.setAttribute('role', 'group');
    this.confirmBox.setAttribute('aria-label', 'Confirm the acceptance');
    this.confirmText.dataset['field'] = 'accept-confirm';
    this.confirm.type = 'button';
    this.cancel.type = 'button';
    const confirmActions = el('div', 'ack-actions');
    confirmActions.append(this.cancel, this.confirm);
    this.confirmBox.append(this.confirmText, confirmActions);
    setHidden(this.confirmBox, true);

    this.done.dataset['field'] = 'accept-done';
    this.done.setAttribute('role', 'status');
    setHidden(this.done, true);

    this.element.append(el('h3', 'evidence-heading', 'Accept as normal for this ward'), what, why, this.form, this.confirmBox, this.done);
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.askToConfirm();
    });
    this.cancel.addEventListener('click', () => this.showForm());
    this.confirm.addEventListener('click', () => void this.send());
    if (doneText !== null) this.showDone(doneText);
  }

  private askToConfirm(): void {
    const reason = this.reason.value.trim();
    if (reason === '') {
      this.showError('Give a reason: it is kept in the audit log with the acceptance.');
      this.reason.focus();
      return;
    }
    this.showError(null);
    setText(this.confirmText, `Learn this as normal for this ward? ${this.sentence} Reason: “${reason}”. Recorded in the audit log as ${this.options.user.name}.`);
    setHidden(this.form, true);
    setHidden(this.confirmBox, false);
    this.confirm.focus();
  }

  private showForm(): void {
    setHidden(this.confirmBox, true);
    setHidden(this.form, false);
    this.reason.focus();
  }

  private async send(): Promise<void> {
    if (this.sending) return;
    const request: AcceptBaselineRequest = { reason: this.reason.value.trim() };
    this.setSending(true);
    const reply = await postJson<BaselineAcceptedResponse>(`/api/alerts/${encodeURIComponent(this.alertId)}/accept-baseline`, request);
    this.setSending(false);
    if (reply.kind === 'ok' && looksLikeAccepted(reply.value)) {
      const text = `Accepted into the baseline by ${this.options.user.name}: ${this.sentence}${reply.value.acknowledged ? ' The alert is acknowledged.' : ''}${reply.value.saved ? '' : ' The agent judges by it now and saves it at its next interval.'}`;
      this.showDone(text);
      this.onDone(text);
      this.options.onAccepted(reply.value.alert);
      return;
    }
    this.showForm();
    if (reply.kind === 'unreachable') this.showError('Could not reach the agent. Nothing was accepted; try again.');
    else if (reply.kind === 'refused') this.showError(refusalText(reply.status, reply.message));
    else this.showError('The agent answered with something unexpected; reload the page to see whether the alert was accepted.');
  }

  private showDone(text: string): void {
    setHidden(this.form, true);
    setHidden(this.confirmBox, true);
    setText(this.done, text);
    setHidden(this.done, false);
  }

  private showError(message: string | null): void {
    setText(this.error, message ?? '');
    setHidden(this.error, message === null);
  }

  private setSending(sending: boolean): void {
    this.sending = sending;
    this.confirm.disabled = sending;
    this.cancel.disabled = sending;
    setText(this.confirm, sending ? 'Accepting…' : 'Yes, learn this as normal');
  }
}
