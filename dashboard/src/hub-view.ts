/**
 * The page as `wardwatch hub` serves it (agent/src/hub/): the same nurse screen, with the
 * device tiles of one ward replaced by an overview of every ward (uplink, health, open
 * alerts by severity, devices), a ward filter on the alert list (with the hub's own
 * alerts as one more choice), and no Acknowledge buttons on a ward's alerts: those are
 * acknowledged at the ward, the hub only shows them. The hub's own alerts (a burst of
 * failed logins at its dashboard, origin HUB_ORIGIN) are acknowledged here.
 *
 * The page knows it is at a hub when the snapshot carries `wards`; an agent's never does.
 * Ward names and reasons come from the network: text only, through dom.ts.
 */
import { HUB_ORIGIN, type AlertView, type Severity, type WardSummaryView } from '../../agent/src/server/dashboard-protocol.ts';
import { el, requireElement, setData, setHidden, setText } from './dom.ts';
import { formatEventTime, SEVERITIES, SEVERITY_LABEL } from './format.ts';

const STATUS_TEXT: Readonly<Record<WardSummaryView['status'], string>> = {
  ok: 'Monitoring',
  degraded: 'Degraded',
  offline: 'OFFLINE',
};

const STATUS_SYMBOL: Readonly<Record<WardSummaryView['status'], string>> = { ok: '●', degraded: '▲', offline: '✖' };

/** "2 critical · 1 high", or "No open alerts". */
export function openAlertsText(open: Readonly<Record<Severity, number>>): string {
  const parts = SEVERITIES.filter((severity) => (open[severity] ?? 0) > 0).map((severity) => `${open[severity]} ${SEVERITY_LABEL[severity].toLowerCase()}`);
  return parts.length === 0 ? 'No open alerts' : parts.join(' · ');
}

/** "7 of 8 devices online · 2 under alert", or a note before the first device summary. */
export function devicesText(devices: WardSummaryView['devices']): string {
  if (devices === null) return 'No device summary yet';
  return `${devices.online} of ${devices.total} devices online${devices.underAlert > 0 ? ` · ${devices.underAlert} under alert` : ''}`;
}

export class HubView {
  private readonly panel = requireElement('hub-wards', HTMLElement);
  private readonly list = requireElement('hub-ward-list', HTMLOListElement);
  private readonly empty = requireElement('hub-wards-empty', HTMLElement);
  private readonly filterField = requireElement('alert-ward-field', HTMLElement);
  private readonly filter = requireElement('alert-ward-filter', HTMLSelectElement);
  private readonly devicesPanel = requireElement('ward', HTMLElement);
  private readonly wardName = requireElement('ward-name', HTMLElement);
  private active = false;

  /** `onFilter`: the ward filter changed (from the select or a ward card). */
  constructor(private readonly onFilter: () => void) {
    this.filter.addEventListener('change', () => {
      this.markSelected();
      this.onFilter();
    });
    this.list.addEventListener('click', (event) => {
      const card = event.target instanceof Element ? event.target.closest<HTMLElement>('[data-ward]') : null;
      const ward = card?.dataset['ward'];
      if (ward === undefined) return;
      // A second click on the ward in the filter shows every ward again.
      this.filter.value = this.filter.value === ward ? '' : ward;
      this.markSelected();
      this.onFilter();
    });
  }

  get isHub(): boolean {
    return this.active;
  }

  /** Whether this page acknowledges `alert`: every alert at an agent; at the hub only the hub's own. */
  acknowledgesHere(alert: AlertView | undefined): boolean {
    return !this.active || alert?.origin === HUB_ORIGIN;
  }

  /** The ward (or HUB_ORIGIN) the alert list is filtered to; null for every ward. */
  get selectedWard(): string | null {
    return this.active && this.filter.value !== '' ? this.filter.value : null;
  }

  /** Switches the page to the hub's layout, once, on the first snapshot with wards. */
  activate(): void {
    if (this.active) return;
    this.active = true;
    setData(document.body, 'hub', 'true');
    setHidden(this.devicesPanel, true);
    setHidden(this.panel, false);
    setHidden(this.filterField, false);
    // The hub keeps no learned baseline of its own.
    for (const link of document.querySelectorAll<HTMLElement>('#admin-nav a[href="#baseline"]')) link.dataset['hubHidden'] = 'true';
  }

  render(wards: readonly WardSummaryView[]): void {
    this.activate();
    const offline = wards.filter((ward) => ward.status === 'offline').length;
    setText(this.wardName, `Hub · ${wards.length} ward${wards.length === 1 ? '' : 's'}${offline > 0 ? ` · ${offline} offline` : ''}`);
    setHidden(this.empty, wards.length > 0);
    this.list.replaceChildren(...wards.map((ward) => this.card(ward)));
    this.renderFilterOptions(wards);
  }

  private card(ward: WardSummaryView): HTMLLIElement {
    const item = el('li', 'hub-ward');
    item.dataset['ward'] = ward.ward;
    item.dataset['status'] = ward.status;
    item.dataset['selected'] = String(this.filter.value === ward.ward);
    const worst = SEVERITIES.find((severity) => (ward.openAlerts[severity] ?? 0) > 0);
    if (worst !== undefined) item.dataset['severity'] = worst;
    const button = el('button', 'hub-ward-button');
    button.type = 'button';
    button.setAttribute('aria-pressed', String(this.filter.value === ward.ward));
    button.title = `Show only the alerts of ward ${ward.ward}`;
    const head = el('span', 'hub-ward-head');
    head.append(el('span', 'hub-ward-name', `Ward ${ward.ward}`), el('span', 'hub-ward-status', `${STATUS_SYMBOL[ward.status]} ${STATUS_TEXT[ward.status]}`));
    const lines = [
      el('span', 'hub-ward-alerts', openAlertsText(ward.openAlerts)),
      el('span', 'hub-ward-devices', devicesText(ward.devices)),
      el('span', 'hub-ward-uplink', `Uplink ${ward.uplink}${ward.lastHeard === null ? ', never heard from' : ` · last heard ${formatEventTime(ward.lastHeard)}`}${ward.queue !== null && ward.queue.queued > 0 ? ` · ${ward.queue.queued} queued` : ''}`),
    ];
    button.append(head, ...lines);
    if (ward.reasons.length > 0) {
      const reasons = el('ul', 'hub-ward-reasons');
      for (const reason of ward.reasons.slice(0, 5)) reasons.append(el('li', undefined, reason));
      button.append(reasons);
    }
    item.append(button);
    return item;
  }

  private markSelected(): void {
    for (const item of this.list.children) {
      if (!(item instanceof HTMLElement)) continue;
      const selected = String(item.dataset['ward'] === this.filter.value);
      item.dataset['selected'] = selected;
      item.querySelector('button')?.setAttribute('aria-pressed', selected);
    }
  }

  /** One option per ward, then the hub's own alerts; a selected ward that has gone stays selectable until changed. */
  private renderFilterOptions(wards: readonly WardSummaryView[]): void {
    const selected = this.filter.value;
    const names = wards.map((ward) => ward.ward);
    if (selected !== '' && selected !== HUB_ORIGIN && !names.includes(selected)) names.push(selected);
    names.push(HUB_ORIGIN);
    const current = Array.from(this.filter.options).slice(1).map((option) => option.value);
    if (current.join('\n') === names.join('\n')) return;
    const all = el('option', undefined, 'All wards');
    all.value = '';
    this.filter.replaceChildren(all, ...names.map((name) => {
      const option = el('option', undefined, name === HUB_ORIGIN ? 'The hub itself' : `Ward ${name}`);
      option.value = name;
      return option;
    }));
    this.filter.value = selected;
  }
}
