/**
 * Acknowledging an alert: a small dialog asks why, then POST /api/alerts/:id/ack. Who
 * acknowledges is the logged-in user: the agent takes it from the session (and writes it
 * to the audit log with the time and the address), so the dialog only shows it. The agent
 * answers with the updated alert, which the page applies at once; the same update also
 * arrives over the WebSocket.
 */
import type { AcknowledgeRequest, AlertView, SessionUser } from '../../agent/src/server/dashboard-protocol.ts';
import { requireElement, setHidden, setText } from './dom.ts';
import { alertHeadline, alertPlace, SEVERITY_LABEL } from './format.ts';

const MAX_REASON_LENGTH = 200;
const OTHER_REASON = 'Other';
const REQUEST_TIMEOUT_MS = 10_000;

export type AcknowledgeOutcome =
  | { readonly ok: true; readonly alert: AlertView }
  | { readonly ok: false; readonly status: number | null; readonly message: string };

function looksLikeAlert(value: unknown): value is AlertView {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Record<keyof AlertView, unknown>>;
  return typeof candidate.id === 'string' && (candidate.state === 'open' || candidate.state === 'acknowledged') && typeof candidate.severity === 'string';
}

function fallbackMessage(status: number): string {
  switch (status) {
    case 400:
      return 'The agent refused the acknowledgement as incomplete.';
    case 401:
      return 'Your session has ended: log in again. The alert is NOT acknowledged.';
    case 403:
      return 'Your role may not acknowledge alerts.';
    case 404:
      return 'The agent no longer knows this alert.';
    case 409:
      return 'This alert has already been acknowledged.';
    default:
      return `The agent answered with an error (HTTP ${status}).`;
  }
}

/** POST /api/alerts/:id/ack; every failure comes back as a message for the nurse, never a throw. */
export async function postAcknowledgement(alertId: string, request: AcknowledgeRequest, fetchImpl: typeof fetch = fetch): Promise<AcknowledgeOutcome> {
  let response: Response;
  try {
    response = await fetchImpl(`/api/alerts/${encodeURIComponent(alertId)}/ack`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(request),
      credentials: 'same-origin',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch {
    return { ok: false, status: null, message: 'Could not reach the agent. The alert is NOT acknowledged; try again.' };
  }
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // An error page or an empty body: fall back to a message by status below.
  }
  if (response.ok) {
    if (looksLikeAlert(body)) return { ok: true, alert: body };
    return { ok: false, status: response.status, message: 'The agent accepted the acknowledgement but sent back something unexpected; the list will update when it reconnects.' };
  }
  const error = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  return { ok: false, status: response.status, message: typeof error === 'string' && error !== '' ? error : fallbackMessage(response.status) };
}

export interface AcknowledgeDialogOptions {
  /** The current version of an alert, or undefined if the page no longer has it. */
  getAlert(alertId: string): AlertView | undefined;
  /** Called with the agent's updated alert after a successful acknowledgement. */
  onAcknowledged(alert: AlertView): void;
  /** Where focus goes once the dialog closed after an acknowledgement (the row's button is gone). */
  focusAfterAcknowledge(): HTMLElement | null;
  /** The logged-in user, who the acknowledgement will be recorded as. */
  readonly user: SessionUser;
}

export class AcknowledgeDialog {
  private readonly dialog = requireElement('ack-dialog', HTMLDialogElement);
  private readonly form = requireElement('ack-form', HTMLFormElement);
  private readonly summary = requireElement('ack-alert', HTMLElement);
  private readonly asWho = requireElement('ack-as', HTMLElement);
  private readonly otherInput = requireElement('ack-reason-other', HTMLInputElement);
  private readonly error = requireElement('ack-error', HTMLElement);
  private readonly submit = requireElement('ack-submit', HTMLButtonElement);
  private readonly cancel = requireElement('ack-cancel', HTMLButtonElement);
  private alertId: string | null = null;
  private sending = false;

  constructor(private readonly options: AcknowledgeDialogOptions) {
    this.otherInput.maxLength = MAX_REASON_LENGTH;
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.send();
    });
    this.form.addEventListener('change', () => this.syncOtherField());
    this.cancel.addEventListener('click', () => this.dialog.close('cancel'));
    this.dialog.addEventListener('close', () => {
      this.alertId = null;
    });
  }

  open(alertId: string): void {
    const alert = this.options.getAlert(alertId);
    if (alert === undefined || alert.state !== 'open') return;
    this.alertId = alertId;
    this.form.reset();
    setText(this.asWho, `Acknowledging as ${this.options.user.name}`);
    setText(this.summary, `${SEVERITY_LABEL[alert.severity]} · ${alertPlace(alert)} — ${alertHeadline(alert)}`);
    this.showError(null);
    this.setSending(false);
    this.syncOtherField();
    if (!this.dialog.open) this.dialog.showModal();
    (this.firstReason() ?? this.submit).focus();
  }

  isOpen(): boolean {
    return this.dialog.open;
  }

  close(): void {
    if (this.dialog.open) this.dialog.close('cancel');
  }

  private async send(): Promise<void> {
    const alertId = this.alertId;
    if (alertId === null || this.sending) return;
    const choice = this.selectedReason();
    const reason = choice === OTHER_REASON ? this.otherInput.value.trim() : choice;
    if (choice === null) return this.invalid('Choose a reason.', this.firstReason() ?? this.submit);
    if (reason === null || reason === '') return this.invalid('Describe the reason.', this.otherInput);

    this.showError(null);
    this.setSending(true);
    const outcome = await postAcknowledgement(alertId, { reason });
    this.setSending(false);
    if (this.alertId !== alertId) return; // Closed meanwhile; the WebSocket will bring the result.
    if (outcome.ok) {
      this.options.onAcknowledged(outcome.alert);
      this.dialog.close('acknowledged');
      this.options.focusAfterAcknowledge()?.focus();
      return;
    }
    let message = outcome.message;
    const current = this.options.getAlert(alertId);
    if (outcome.status === 409 && current?.ack !== null && current?.ack !== undefined) {
      message = `${message} (by ${current.ack.by}: ${current.ack.reason})`;
    }
    this.showError(message);
  }

  private invalid(message: string, focus: HTMLElement): void {
    this.showError(message);
    focus.focus();
  }

  private selectedReason(): string | null {
    const checked = this.form.querySelector<HTMLInputElement>('input[name="ack-reason"]:checked');
    return checked === null ? null : checked.value;
  }

  private firstReason(): HTMLInputElement | null {
    return this.form.querySelector<HTMLInputElement>('input[name="ack-reason"]');
  }

  private syncOtherField(): void {
    const other = this.selectedReason() === OTHER_REASON;
    this.otherInput.disabled = !other;
    this.otherInput.required = other;
  }

  private showError(message: string | null): void {
    setText(this.error, message ?? '');
    setHidden(this.error, message === null);
  }

  private setSending(sending: boolean): void {
    this.sending = sending;
    this.submit.disabled = sending;
    setText(this.submit, sending ? 'Sending…' : 'Acknowledge');
  }
}
