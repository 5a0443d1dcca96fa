/**
 * The alert list: open alerts first, most severe then most recent; acknowledged alerts
 * below, in a collapsed section. Rows are kept by alert id; an update rewrites only the
 * texts that changed and moves the row only if its place in the order changed (binary
 * search in the sorted keys), so hundreds of alerts cost nothing per message.
 */
import { HUB_ORIGIN, type AlertView, type Severity } from '../../agent/src/server/dashboard-protocol.ts';
import { el, requireElement, setData, setHidden, setText } from './dom.ts';
import { alertHeadline, alertPlace, evidenceText, formatEventTime, originLabel, SEVERITY_LABEL } from './format.ts';
import { severityIcon } from './icons.ts';
import { alertOrderKey, compareAlertKeys, type AlertOrderKey } from './state.ts';
import { alertHref } from './alert-page.ts';

interface Row {
  readonly root: HTMLLIElement;
  readonly toggle: HTMLButtonElement;
  readonly iconSlot: HTMLElement;
  readonly label: HTMLElement;
  readonly place: HTMLElement;
  /** The ward that raised the alert, or the hub itself, at `wardwatch hub` only (hub-view.ts). */
  readonly origin: HTMLElement;
  readonly title: HTMLElement;
  readonly count: HTMLElement;
  readonly time: HTMLTimeElement;
  readonly ackButton: HTMLButtonElement;
  readonly details: HTMLAnchorElement;
  readonly ackNote: HTMLElement;
  readonly ackText: HTMLElement;
  readonly ackTime: HTMLElement;
  readonly evidence: HTMLElement;
  readonly escalation: HTMLElement;
  readonly escalationText: HTMLElement;
  alert: AlertView;
  key: AlertOrderKey;
  severity: Severity | null;
  /** The alert version the evidence panel was built from; null when not built. */
  evidenceOf: AlertView | null;
}

interface Section {
  readonly list: HTMLOListElement;
  /** Keys in display order; the DOM children of `list` follow it. */
  readonly order: AlertOrderKey[];
}

export interface AlertListActions {
  acknowledge(alertId: string): void;
}

/** The alert list's client-side filter: words in the title, device, type or place; one severity or all. */
export interface AlertFilter {
  readonly text: string;
  readonly severity: Severity | null;
  /** At `wardwatch hub`: only the alerts of this ward (`origin`); null or absent: every ward. */
  readonly ward?: string | null;
}

export const NO_FILTER: AlertFilter = { text: '', severity: null };

export function isFiltering(filter: AlertFilter): boolean {
  return filter.text.trim() !== '' || filter.severity !== null || (filter.ward ?? null) !== null;
}

/** Whether `alert` passes: every whitespace-separated word appears (case-insensitive) in its title, device id, type or place. */
export function alertMatches(alert: AlertView, filter: AlertFilter): boolean {
  if (filter.severity !== null && alert.severity !== filter.severity) return false;
  if ((filter.ward ?? null) !== null && alert.origin !== filter.ward) return false;
  const words = filter.text.toLowerCase().split(/\s+/).filter((word) => word !== '');
  if (words.length === 0) return true;
  const haystack = [alert.title, alert.deviceId ?? '', alert.type, alertPlace(alert), alert.origin ?? ''].join('\n').toLowerCase();
  return words.every((word) => haystack.includes(word));
}

let evidenceIds = 0;

/** First index whose key sorts after `key` (upper bound), in O(log n). */
function insertionIndex(order: readonly AlertOrderKey[], key: AlertOrderKey): number {
  let low = 0;
  let high = order.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const probe = order[middle];
    if (probe !== undefined && compareAlertKeys(probe, key) <= 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

function indexOfKey(order: readonly AlertOrderKey[], key: AlertOrderKey): number {
  const index = insertionIndex(order, key) - 1;
  if (index >= 0 && order[index]?.id === key.id) return index;
  return order.findIndex((candidate) => candidate.id === key.id);
}

export class AlertListView {
  private readonly open: Section = { list: requireElement('open-alerts', HTMLOListElement), order: [] };
  private readonly acknowledged: Section = { list: requireElement('acknowledged-alerts', HTMLOListElement), order: [] };
  private readonly openCount = requireElement('open-alert-count', HTMLElement);
  private readonly acknowledgedCount = requireElement('acknowledged-alert-count', HTMLElement);
  private readonly openEmpty = requireElement('open-alerts-empty', HTMLElement);
  private readonly filterCount = requireElement('alert-filter-count', HTMLElement);
  private readonly rows = new Map<string, Row>();
  private filter: AlertFilter = NO_FILTER;

  constructor(
    container: HTMLElement,
    private readonly actions: AlertListActions,
  ) {
    // One listener for every row: rows come and go by the hundred.
    container.addEventListener('click', (event) => this.onClick(event));
  }

  /** After a snapshot: the given alerts are the whole list. */
  sync(alerts: Iterable<AlertView>): void {
    const present = new Set<string>();
    for (const alert of alerts) {
      present.add(alert.id);
      const row = this.rows.get(alert.id) ?? this.create(alert);
      this.write(row, alert);
    }
    for (const id of this.rows.keys()) if (!present.has(id)) this.remove(id);
    for (const section of [this.open, this.acknowledged]) section.order.length = 0;
    for (const row of this.rows.values()) (row.key.open ? this.open : this.acknowledged).order.push(row.key);
    for (const section of [this.open, this.acknowledged]) {
      section.order.sort(compareAlertKeys);
      const fragment = document.createDocumentFragment();
      for (const key of section.order) {
        const row = this.rows.get(key.id);
        if (row !== undefined) fragment.append(row.root);
      }
      section.list.replaceChildren(fragment);
    }
    this.renderCounts();
  }

  /** A new alert or a new version of one (count, lastTs, state): placed by its order key. */
  upsert(alert: AlertView): void {
    let row = this.rows.get(alert.id);
    const isNew = row === undefined;
    if (row === undefined) {
      row = this.create(alert);
    } else {
      const section = row.key.open ? this.open : this.acknowledged;
      const index = indexOfKey(section.order, row.key);
      if (index >= 0) section.order.splice(index, 1);
    }
    this.write(row, alert);
    this.place(row);
    if (isNew && alert.state === 'open') {
      row.root.classList.add('is-new');
      row.root.addEventListener('animationend', () => row.root.classList.remove('is-new'), { once: true });
    }
    this.renderCounts();
  }

  remove(alertId: string): void {
    const row = this.rows.get(alertId);
    if (row === undefined) return;
    const section = row.key.open ? this.open : this.acknowledged;
    const index = indexOfKey(section.order, row.key);
    if (index >= 0) section.order.splice(index, 1);
    row.root.remove();
    this.rows.delete(alertId);
    this.renderCounts();
  }

  /** Hides the rows that do not match; the count line says how many are shown. */
  setFilter(filter: AlertFilter): void {
    this.filter = filter;
    for (const row of this.rows.values()) setHidden(row.root, !alertMatches(row.alert, filter));
    this.renderCounts();
  }

  /** The first shown open row's Acknowledge button, to move focus to after an acknowledgement. */
  firstOpenAckButton(): HTMLButtonElement | null {
    const first = this.open.order.find((key) => this.rows.get(key.id)?.root.hidden === false);
    return first === undefined ? null : this.rows.get(first.id)?.ackButton ?? null;
  }

  private place(row: Row): void {
    const section = row.key.open ? this.open : this.acknowledged;
    const index = insertionIndex(section.order, row.key);
    section.order.splice(index, 0, row.key);
    const nextKey = section.order[index + 1];
    const next = nextKey === undefined ? null : this.rows.get(nextKey.id)?.root ?? null;
    if (row.root.parentElement !== section.list || row.root.nextElementSibling !== next) section.list.insertBefore(row.root, next);
  }

  private write(row: Row, alert: AlertView): void {
    row.alert = alert;
    row.key = alertOrderKey(alert);
    setHidden(row.root, !alertMatches(alert, this.filter));
    const open = alert.state !== 'acknowledged';
    setData(row.root, 'severity', alert.severity);
    setData(row.root, 'state', open ? 'open' : 'acknowledged');
    if (row.severity !== alert.severity) {
      row.iconSlot.replaceChildren(severityIcon(alert.severity));
      row.severity = alert.severity;
    }
    setText(row.label, SEVERITY_LABEL[alert.severity] ?? String(alert.severity).toUpperCase());
    setText(row.place, alertPlace(alert));
    setText(row.origin, originLabel(alert.origin));
    setHidden(row.origin, alert.origin === undefined);
    // The hub's own alerts are acknowledged at the hub (its Acknowledge button shows, style.css); a ward's at the ward.
    setData(row.root, 'hubOwn', String(alert.origin === HUB_ORIGIN));
    setText(row.title, alertHeadline(alert));
    setText(row.count, `×${alert.count}`);
    setHidden(row.count, !(alert.count > 1));
    setText(row.time, formatEventTime(alert.lastTs));
    if (row.time.dateTime !== alert.lastTs) row.time.dateTime = alert.lastTs;
    if (!open) this.showEscalation(row, null);
    setHidden(row.ackButton, !open);
    row.ackButton.disabled = !open;
    if (alert.ack !== null && !open) {
      setText(row.ackText, `Acknowledged by ${alert.ack.by}: ${alert.ack.reason}`);
      setText(row.ackTime, formatEventTime(alert.ack.at));
      setHidden(row.ackNote, false);
    } else {
      setHidden(row.ackNote, true);
    }
    if (row.evidenceOf !== null && row.evidenceOf !== alert) {
      if (row.evidence.hidden) row.evidenceOf = null;
      else this.buildEvidence(row);
    }
  }

  /**
   * Marks an open alert escalated ("UNACKNOWLEDGED for N min", a stronger border) or
   * clears the mark (`label` null). main.ts decides, from nurse-alerting.ts, once a second.
   */
  setEscalation(alertId: string, label: string | null): void {
    const row = this.rows.get(alertId);
    if (row !== undefined) this.showEscalation(row, row.alert.state === 'open' ? label : null);
  }

  private showEscalation(row: Row, label: string | null): void {
    setData(row.root, 'escalated', String(label !== null));
    setText(row.escalationText, label ?? '');
    setHidden(row.escalation, label === null);
  }

  private create(alert: AlertView): Row {
    const root = el('li', 'alert');
    root.dataset['alertId'] = alert.id;

    const line = el('div', 'alert-line');
    const toggle = el('button', 'alert-toggle');
    toggle.type = 'button';
    toggle.dataset['action'] = 'toggle-evidence';
    toggle.setAttribute('aria-expanded', 'false');

    const badge = el('span', 'severity-badge');
    const iconSlot = el('span', 'severity-icon');
    const label = el('span', 'severity-label');
    badge.append(iconSlot, label);

    const text = el('span', 'alert-text');
    const place = el('span', 'alert-place');
    const origin = el('span', 'alert-origin');
    origin.hidden = true;
    const title = el('span', 'alert-title');
    text.append(origin, place, title);

    const meta = el('span', 'alert-meta');
    const count = el('span', 'alert-count');
    const time = el('time', 'alert-time');
    meta.append(count, time);
    toggle.append(badge, text, meta);

    const ackButton = el('button', 'ack-button', 'Acknowledge');
    ackButton.type = 'button';
    ackButton.dataset['action'] = 'ack';
    const details = el('a', 'alert-details', 'Details');
    details.href = alertHref(alert.id);
    details.setAttribute('aria-label', 'Details and evidence of this alert');
    // Stacked under Acknowledge, so the row's text keeps its width.
    const actions = el('div', 'alert-actions');
    actions.append(ackButton, details);
    line.append(toggle, actions);

    const ackNote = el('p', 'alert-ack');
    const ackMark = el('span', 'alert-ack-mark', '✔');
    ackMark.setAttribute('aria-hidden', 'true');
    const ackText = el('span', 'alert-ack-text');
    const ackTime = el('span', 'alert-ack-time');
    ackNote.append(ackMark, ackText, ackTime);
    ackNote.hidden = true;

    const evidence = el('div', 'alert-evidence');
    evidence.id = `alert-evidence-${++evidenceIds}`;
    evidence.hidden = true;
    toggle.setAttribute('aria-controls', evidence.id);

    const escalation = el('p', 'alert-escalation');
    const escalationMark = el('span', 'alert-escalation-mark', '⚠');
    escalationMark.setAttribute('aria-hidden', 'true');
    const escalationText = el('span', 'alert-escalation-text');
    escalation.append(escalationMark, escalationText);
    escalation.hidden = true;
    root.dataset['escalated'] = 'false';

    root.append(line, escalation, ackNote, evidence);
    const row: Row = {
      root, toggle, iconSlot, label, place, origin, title, count, time, ackButton, details, ackNote, ackText, ackTime, evidence, escalation, escalationText,
      alert, key: alertOrderKey(alert), severity: null, evidenceOf: null,
    };
    this.rows.set(alert.id, row);
    return row;
  }

  private onClick(event: Event): void {
    const target = event.target;
    if (!(target instanceof Element)) return;
    const control = target.closest<HTMLElement>('[data-action]');
    const rowElement = control?.closest<HTMLElement>('[data-alert-id]');
    const alertId = rowElement?.dataset['alertId'];
    if (control === null || control === undefined || alertId === undefined) return;
    const row = this.rows.get(alertId);
    if (row === undefined) return;
    switch (control.dataset['action']) {
      case 'ack':
        if (row.alert.state === 'open') this.actions.acknowledge(alertId);
        break;
      case 'toggle-evidence':
        this.toggleEvidence(row);
        break;
    }
  }

  private toggleEvidence(row: Row): void {
    const expand = row.evidence.hidden;
    if (expand && row.evidenceOf !== row.alert) this.buildEvidence(row);
    row.evidence.hidden = !expand;
    row.toggle.setAttribute('aria-expanded', String(expand));
    row.root.classList.toggle('is-expanded', expand);
  }

  /** The engineer's view: identifiers, times, then every evidence key as sent. */
  private buildEvidence(row: Row): void {
    const alert = row.alert;
    const list = el('dl', 'evidence-list');
    const add = (name: string, value: unknown): void => {
      const { text, nested } = evidenceText(value);
      const dd = el('dd');
      if (nested) dd.append(el('pre', 'evidence-json', text));
      else dd.textContent = text;
      list.append(el('dt', undefined, name), dd);
    };
    add('Alert type', alert.type);
    add('Title', alert.title);
    add('Alert id', alert.id);
    add('First occurrence', alert.ts);
    add('Latest occurrence', alert.lastTs);
    add('Occurrences', alert.count);
    if (alert.ward !== null) add('Ward', alert.ward);
    const evidence = alert.evidence;
    if (typeof evidence === 'object' && evidence !== null) {
      for (const [key, value] of Object.entries(evidence)) add(key, value);
    }
    if (alert.ack !== null) {
      add('Acknowledged by', alert.ack.by);
      add('Acknowledged at', alert.ack.at);
      add('Acknowledgement reason', alert.ack.reason);
      add('Acknowledged from', alert.ack.from);
    }
    row.evidence.replaceChildren(el('h3', 'evidence-heading', 'Evidence'), list);
    row.evidenceOf = alert;
  }

  private renderCounts(): void {
    setText(this.openCount, String(this.open.order.length));
    setText(this.acknowledgedCount, String(this.acknowledged.order.length));
    if (!isFiltering(this.filter)) {
      setText(this.openEmpty, 'No open alerts');
      setHidden(this.openEmpty, this.open.order.length > 0);
      setText(this.filterCount, '');
      setHidden(this.filterCount, true);
      return;
    }
    const shownIn = (section: Section): number => section.order.reduce((sum, key) => sum + (this.rows.get(key.id)?.root.hidden === false ? 1 : 0), 0);
    const open = shownIn(this.open);
    const acknowledged = shownIn(this.acknowledged);
    const total = this.open.order.length + this.acknowledged.order.length;
    setText(this.filterCount, `Showing ${open + acknowledged} of ${total} alerts (${open} open, ${acknowledged} acknowledged)`);
    setHidden(this.filterCount, false);
    setText(this.openEmpty, this.open.order.length === 0 ? 'No open alerts' : 'No open alert matches the filter');
    setHidden(this.openEmpty, open > 0);
  }
}
