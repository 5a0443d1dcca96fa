/**
 * The alert page (`#alert/<id>`): one alert for the engineer, with the evidence laid out
 * as what was sent (the raw command), who sent it (account, role, client id, address,
 * transport), and what fired (the rule, or the learned baseline with its range), then
 * every evidence key as sent. Built from the alert the page already holds from the live
 * feed, and rebuilt when a new version of it arrives.
 *
 * Everything from the wire goes in through textContent (dom.ts `el`): a command payload
 * is whatever its sender published.
 *
 * A learned alert's page offers a biomed or an admin "Accept as normal for this ward"
 * (baseline-accept.ts); a nurse's page does not (and the agent refuses her: 403).
 */
import { HUB_ORIGIN, type AlertView, type BaselineAcceptanceView } from '../../agent/src/server/dashboard-protocol.ts';
import { BaselineAcceptAction, type BaselineAcceptOptions } from './baseline-accept.ts';
import { acceptanceOfAlert } from './baseline-accept-text.ts';
import { el, requireElement, setHidden, setText } from './dom.ts';
import { alertPlace, evidenceText, formatEventTime, SEVERITY_LABEL } from './format.ts';
import { deviceHref } from './device-route.ts';
import { severityIcon } from './icons.ts';

const ALERT_HASH = /^#alert\/([A-Za-z0-9-]{1,64})$/;

/** The alert id of an `#alert/<id>` address, or null. */
export function alertPageOf(hash: string): string | null {
  return ALERT_HASH.exec(hash)?.[1] ?? null;
}

/** The address of an alert's page. */
export function alertHref(alertId: string): string {
  return `#alert/${encodeURIComponent(alertId)}`;
}

/** Evidence keys that describe the sender (authorization-detector.ts `sourceEvidence`; Modbus detectors use `master`). */
const SOURCE_FIELDS: readonly (readonly [key: string, label: string])[] = [
  ['account', 'Account'],
  ['role', 'Role'],
  ['clientId', 'Client id'],
  ['master', 'Modbus master'],
  ['address', 'Address'],
  ['transport', 'Transport'],
  ['retained', 'Retained message'],
];

type Fields = (readonly [label: string, value: unknown, field?: string])[];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A definition list; each value as text, anything nested as indented JSON in a <pre>. */
function fieldList(fields: Fields): HTMLDListElement {
  const list = el('dl', 'evidence-list');
  for (const [label, value, field] of fields) {
    const { text, nested } = evidenceText(value);
    const dd = el('dd');
    if (field !== undefined) dd.dataset['field'] = field;
    if (nested) dd.append(el('pre', 'evidence-json', text));
    else dd.textContent = text;
    list.append(el('dt', undefined, label), dd);
  }
  return list;
}

function section(title: string, name: string, ...content: Node[]): HTMLElement {
  const node = el('section', 'alert-page-section');
  node.dataset['section'] = name;
  node.append(el('h3', 'evidence-heading', title), ...content);
  return node;
}

function numberText(value: unknown): string {
  return typeof value === 'number' || typeof value === 'string' ? String(value) : '?';
}

/** "1.2–4.8 mL/h" from a learned value envelope, or null when the baseline entry has no range. */
export function learnedRange(baseline: Readonly<Record<string, unknown>>): string | null {
  if (baseline['low'] === undefined && baseline['high'] === undefined) return null;
  const unit = typeof baseline['unit'] === 'string' && baseline['unit'] !== '' ? ` ${baseline['unit']}` : '';
  return `${numberText(baseline['low'])}–${numberText(baseline['high'])}${unit}`;
}

export class AlertPage {
  private readonly view = requireElement('alert-view', HTMLElement);
  private readonly heading = requireElement('alert-view-heading', HTMLElement);
  private readonly body = requireElement('alert-view-body', HTMLElement);
  private shownId: string | null = null;
  private shownVersion: AlertView | null = null;
  /** The shown alert's accept action, kept while its page is rebuilt; null when none is offered. */
  private acceptAction: BaselineAcceptAction | null = null;
  /** Alerts accepted from this page in this session, and what the page said: shown again on return. */
  private readonly acceptedHere = new Map<string, string>();

  /** `acceptBaseline`: null for a role without `baseline.configure` (the action is then never built). */
  constructor(private readonly acceptBaseline: BaselineAcceptOptions | null = null) {}

  /** The id of the alert on screen, or null when the page is hidden. */
  get alertId(): string | null {
    return this.shownId;
  }

  /**
   * Shows the page for `alertId`. `alert` undefined: not (yet) known to the page: "loading"
   * before the first snapshot, then "not found" (an old acknowledged alert the page let go).
   */
  show(alertId: string, alert: AlertView | undefined, snapshotSeen: boolean): void {
    const first = this.shownId !== alertId || this.view.hidden;
    this.shownId = alertId;
    setHidden(this.view, false);
    if (alert === undefined) {
      this.shownVersion = null;
      setText(this.heading, 'Alert');
      this.body.replaceChildren(el('p', 'empty-note', snapshotSeen ? 'This alert is not among those the agent keeps or this screen holds. It may be in an export, or in alerts.jsonl on the agent.' : 'Loading…'));
    } else if (alert !== this.shownVersion) {
      this.shownVersion = alert;
      setText(this.heading, `Alert: ${alertPlace(alert)}`);
      // A repeat of the alert rebuilds the page: focus in the accept action (a reason being typed) is kept.
      const active = document.activeElement;
      const refocus = active instanceof HTMLElement && this.acceptAction?.element.contains(active) === true ? active : null;
      this.body.replaceChildren(...this.build(alert));
      if (refocus !== null && refocus.isConnected) refocus.focus();
    }
    if (first) this.heading.focus();
  }

  hide(): void {
    this.shownId = null;
    this.shownVersion = null;
    this.acceptAction = null;
    setHidden(this.view, true);
    this.body.replaceChildren();
  }

  private build(alert: AlertView): Node[] {
    const head = el('div', 'alert-page-head');
    head.dataset['severity'] = alert.severity;
    const badge = el('span', 'severity-badge');
    badge.append(severityIcon(alert.severity), el('span', 'severity-label', SEVERITY_LABEL[alert.severity] ?? String(alert.severity).toUpperCase()));
    const title = el('p', 'alert-page-title', alert.title);
    title.dataset['field'] = 'title';
    head.append(badge, title);
    if (alert.deviceId !== null && alert.deviceId !== '') {
      // The device's history around the alert: its charts, limits, envelope and commands.
      const device = el('a', 'alert-device-link', `${alert.deviceId} history →`);
      device.href = deviceHref(alert.deviceId);
      head.append(device);
    }

    const ack = alert.ack;
    const summary: Fields = [
      ['Where', alertPlace(alert), 'place'],
      // At `wardwatch hub`: the ward whose agent raised it, or the hub itself (a burst of failed logins at its dashboard).
      ...(alert.origin === undefined ? [] : [alert.origin === HUB_ORIGIN ? ['Raised by', 'The hub itself (its own dashboard)', 'origin'] as const : ['Ward (from its uplink)', alert.origin, 'origin'] as const]),
      ['Severity', SEVERITY_LABEL[alert.severity] ?? alert.severity, 'severity'],
      ['State', alert.state === 'open' ? 'Open, not acknowledged' : 'Acknowledged', 'state'],
      ['First occurrence', `${formatEventTime(alert.ts)} (${alert.ts})`, 'ts'],
      ['Latest occurrence', `${formatEventTime(alert.lastTs)} (${alert.lastTs})`, 'lastTs'],
      ['Occurrences', alert.count, 'count'],
    ];
    if (ack !== null) {
      summary.push(['Acknowledged by', ack.by, 'ack-by'], ['Acknowledged at', `${formatEventTime(ack.at)} (${ack.at})`, 'ack-at'], ['Reason', ack.reason, 'ack-reason'], ['From address', ack.from, 'ack-from']);
    }
    const nodes: Node[] = [head, section('Summary', 'summary', fieldList(summary))];

    const evidence: Readonly<Record<string, unknown>> = isRecord(alert.evidence) ? alert.evidence : {};
    if (evidence['command'] !== undefined) {
      const pre = el('pre', 'evidence-json command-json', evidenceText(evidence['command']).text);
      pre.dataset['field'] = 'command';
      nodes.push(section('Command as received', 'command', pre));
    }
    const source: Fields = SOURCE_FIELDS.filter(([key]) => evidence[key] !== undefined).map(([key, label]) => [label, evidence[key], key]);
    if (source.length > 0) nodes.push(section('Sent by', 'source', fieldList(source)));

    const fired: Fields = [
      ['Rule', typeof evidence['rule'] === 'string' ? evidence['rule'] : alert.type, 'rule'],
    ];
    for (const key of ['policy', 'violations', 'threshold'] as const) if (evidence[key] !== undefined) fired.push([key.charAt(0).toUpperCase() + key.slice(1), evidence[key], key]);
    const baseline = evidence['baseline'];
    if (isRecord(baseline)) {
      const range = learnedRange(baseline);
      if (range !== null) fired.push(['Learned range', range, 'learned-range']);
      if (baseline['observed'] !== undefined) fired.push(['Observed', `${numberText(baseline['observed'])}${typeof baseline['unit'] === 'string' ? ` ${baseline['unit']}` : ''}`, 'observed']);
      if (baseline['learnedSince'] !== undefined) fired.push(['Learned since', baseline['learnedSince'], 'learned-since']);
      fired.push(['Baseline', baseline, 'baseline']);
    }
    nodes.push(section(isRecord(baseline) ? 'What fired: the learned baseline' : 'What fired', 'fired', fieldList(fired)));

    // Not at `wardwatch hub` (an alert with an origin): a ward's baseline is accepted on that ward's dashboard.
    const acceptance = this.acceptBaseline === null || alert.origin !== undefined ? null : acceptanceOfAlert(alert);
    if (acceptance !== null) nodes.push(this.acceptActionFor(alert.id, acceptance).element);
    else this.acceptAction = null;

    const all: Fields = [['Alert id', alert.id], ['Alert type', alert.type], ['Ward', alert.ward], ['Device', alert.deviceId]];
    for (const [key, value] of Object.entries(evidence)) all.push([key, value]);
    nodes.push(section('All evidence, as sent', 'all', fieldList(all)));
    return nodes;
  }

  private acceptActionFor(alertId: string, acceptance: BaselineAcceptanceView): BaselineAcceptAction {
    if (this.acceptAction?.alertId === alertId) return this.acceptAction;
    const options = this.acceptBaseline as BaselineAcceptOptions;
    this.acceptAction = new BaselineAcceptAction(alertId, acceptance, options, (text) => this.acceptedHere.set(alertId, text), this.acceptedHere.get(alertId) ?? null);
    return this.acceptAction;
  }
}
