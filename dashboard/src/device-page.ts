/**
 * The device page (`#device/<id>`, issue 6, engineer view): which bed and device, what it
 * runs and its state; a chart per family of its last 24 hours (the running drug's dose in
 * its library unit with the hard and soft limits and the learned envelope, the rate in
 * mL/h, the volume and battery; a programmer's programmed pacing values against its
 * programmable range), the commands it received and who sent them, and its open alerts
 * with links to their evidence. Read from GET /api/devices/<id>/history on opening and
 * every 30 s while shown; the open alerts come live from the page's own feed.
 *
 * Everything from the wire goes in through textContent (dom.ts `el`).
 */
import type { AlertView, ApiError, CommandMarkerView, DeviceHistoryView } from '../../agent/src/server/dashboard-protocol.ts';
import { alertHref } from './alert-page.ts';
import { getJson } from './api.ts';
import { el, requireElement, setHidden, setText } from './dom.ts';
import { deviceStatus, formatEventTime, placeLabel, pluralise, profileLabel, SEVERITY_LABEL, SEVERITY_RANK } from './format.ts';
import { HistoryChart } from './history-chart.ts';
import { chartGroups, envelopeLegend, formatNumber, formatStamp, limitsLegend, markerDetails, type ChartGroup } from './history-format.ts';
import { severityIcon } from './icons.ts';
import { headedTable } from './admin-table.ts';

/** How often the page asks for the history again while it is shown. */
export const DEVICE_REFRESH_MS = 30_000;
/** Commands listed under the charts, newest first; the agent keeps at most 120 a device. */
const MAX_COMMAND_ROWS = 120;

interface ShownChart {
  readonly id: string;
  readonly chart: HistoryChart;
  readonly legend: HTMLUListElement;
  readonly host: HTMLElement;
}

function legendItem(kind: string, text: string): HTMLLIElement {
  const item = el('li', 'chart-legend-item');
  item.dataset['legend'] = kind;
  const swatch = el('span', `legend-swatch swatch-${kind}`);
  swatch.setAttribute('aria-hidden', 'true');
  item.append(swatch, el('span', 'legend-text', text));
  return item;
}

function fillLegend(list: HTMLUListElement, group: ChartGroup, markers: readonly CommandMarkerView[]): void {
  const items: HTMLLIElement[] = [];
  const several = group.series.length > 1;
  group.series.forEach((series, index) => {
    const label = several ? series.label : null;
    const source = series.source === 'telemetry' ? 'as the device reports it' : 'as programmed by commands';
    items.push(legendItem(`line-${index % 2}`, `${series.label}: last value each minute, ${source} (solid line; lighter band: the minute's minimum–maximum)`));
    for (const line of limitsLegend(series.limits, label)) items.push(legendItem(line.startsWith('Soft') ? 'soft' : 'hard', line));
    if (series.family === 'dose' || series.family === 'rate' || series.source === 'command') items.push(legendItem(series.envelope === null ? 'envelope-none' : 'envelope', envelopeLegend(series.envelope, label)));
  });
  const plotted = markers.filter((marker) => group.series.some((series) => marker.values[series.key] !== undefined)).length;
  if (markers.length > 0) items.push(legendItem('marker', `Commands: ${pluralise(markers.length, 'command', 'commands')} received (dotted vertical lines)${plotted > 0 ? `; the value a command set is a white diamond (${plotted})` : ''}`));
  list.replaceChildren(...items);
}

function headerFacts(view: DeviceHistoryView): HTMLElement {
  const { device, infusion } = view;
  const facts = el('dl', 'device-facts');
  const add = (label: string, value: string, field: string): void => {
    // A <div> per term and its value (HTML: a dl may group them so), laid out side by side.
    const fact = el('div', 'device-fact');
    const dd = el('dd', undefined, value);
    dd.dataset['field'] = field;
    fact.append(el('dt', undefined, label), dd);
    facts.append(fact);
  };
  add('Device', `${device.id} · ${profileLabel(device.profile)}`, 'device');
  if (device.careArea !== null) add('Care area', device.careArea, 'care-area');
  if (infusion !== null) {
    const dose = infusion.dose === null || infusion.doseUnit === null ? ' (not in the drug library)' : ` = ${formatNumber(infusion.dose)} ${infusion.doseUnit}`;
    add('Drug', `${infusion.drug} at ${formatNumber(infusion.rateMlPerHour)} mL/h${dose}`, 'drug');
    add('Patient weight', `${formatNumber(infusion.weightKg)} kg`, 'weight');
  } else if (device.profile === 'infusion-pump') {
    add('Drug', 'No infusion programmed', 'drug');
  } else {
    add('Session', device.summary, 'summary');
  }
  add('Last message', device.lastSeen === null ? 'not seen since the agent started' : formatEventTime(device.lastSeen), 'last-seen');
  return facts;
}

function commandsTable(view: DeviceHistoryView): HTMLElement {
  const unitOf = (key: string): string | undefined => view.series.find((series) => series.key === key)?.unit;
  const rows = [...view.markers].reverse().slice(0, MAX_COMMAND_ROWS);
  if (rows.length === 0) return el('p', 'empty-note', 'No command received in the window.');
  const { table, body } = headedTable('admin-table command-table', ['When', 'Command', 'Sent by', 'Parameters']);
  for (const marker of rows) {
    const row = el('tr');
    row.dataset['command'] = marker.command;
    const sender = el('td', undefined, marker.sender);
    if (marker.transport !== 'mqtt') sender.append(el('span', 'transport-note', ` (${marker.transport})`));
    row.append(el('td', 'command-time', formatStamp(marker.ts)), el('td', 'command-name', marker.command), sender, el('td', undefined, markerDetails(marker, unitOf)));
    body.append(row);
  }
  return table;
}

export class DevicePage {
  private readonly view = requireElement('device-view', HTMLElement);
  private readonly heading = requireElement('device-view-heading', HTMLElement);
  private readonly error = requireElement('device-view-error', HTMLElement);
  private readonly body = requireElement('device-view-body', HTMLElement);
  private shownId: string | null = null;
  private timer: number | undefined;
  private charts: ShownChart[] = [];
  private alertsHost: HTMLElement | null = null;
  private loadedAt: number | null = null;
  private readonly onResize = (): void => {
    for (const shown of this.charts) shown.chart.resize(shown.host.clientWidth);
  };

  constructor(private readonly openAlertsOf: (deviceId: string) => AlertView[]) {}

  /** The device on screen, or null when the page is hidden. */
  get deviceId(): string | null {
    return this.shownId;
  }

  show(deviceId: string): void {
    if (this.shownId === deviceId && !this.view.hidden) return;
    this.hide();
    this.shownId = deviceId;
    setHidden(this.view, false);
    setText(this.heading, `Device history: ${deviceId}`);
    this.body.replaceChildren(el('p', 'empty-note', 'Loading the device\'s history…'));
    this.showError(null);
    this.heading.focus();
    window.addEventListener('resize', this.onResize);
    this.timer = window.setInterval(() => void this.load(), DEVICE_REFRESH_MS);
    void this.load();
  }

  hide(): void {
    window.clearInterval(this.timer);
    this.timer = undefined;
    window.removeEventListener('resize', this.onResize);
    this.destroyCharts();
    this.shownId = null;
    this.alertsHost = null;
    this.loadedAt = null;
    setHidden(this.view, true);
    this.body.replaceChildren();
  }

  /** An alert changed: the open alerts of the shown device are redrawn from the page's state. */
  alertsChanged(): void {
    if (this.shownId !== null && this.alertsHost !== null) this.alertsHost.replaceChildren(...this.alertItems(this.shownId));
  }

  private async load(): Promise<void> {
    const deviceId = this.shownId;
    if (deviceId === null) return;
    const reply = await getJson<DeviceHistoryView>(`/api/devices/${encodeURIComponent(deviceId)}/history`);
    if (this.shownId !== deviceId) return;
    if (reply.kind === 'ok') {
      this.showError(null);
      this.loadedAt = Date.now();
      this.render(reply.value);
      return;
    }
    const since = this.loadedAt === null ? '' : ` Showing the history as of ${formatEventTime(new Date(this.loadedAt).toISOString())}.`;
    if (reply.kind === 'unreachable') this.showError(`Cannot reach the agent.${since}`);
    else if (reply.status === 404) this.showError(`No device "${deviceId}" in the agent's inventory.`);
    else if (reply.status === 403) this.showError(`Not for your role: ${(reply.body as Partial<ApiError> | null)?.error ?? reply.message}.`);
    else this.showError(`${reply.message}${since}`);
    if (this.loadedAt === null) this.body.replaceChildren();
  }

  private render(view: DeviceHistoryView): void {
    const { device } = view;
    const place = placeLabel(device.bed, device.location);
    setText(this.heading, `Device history: ${place === null ? device.id : `${place} · ${device.id}`}`);
    const groups = chartGroups(view.series);
    const sameCharts = this.charts.length === groups.length && this.charts.every((shown, index) => shown.id === groups[index]?.id);
    const stepMs = view.resolutionSeconds * 1000;
    const until = view.until === null ? Date.now() : Date.parse(view.until);
    const first = Math.min(...view.series.map((series) => series.t[0] ?? until), ...view.markers.map((marker) => marker.ts), until);
    // At least the last half hour, so a device seen for a minute is not one stretched point.
    const from = Math.min(first, until - 30 * 60_000);
    const to = until + stepMs;

    const header = this.header(view);
    if (sameCharts && this.alertsHost !== null) {
      // A refresh with the same charts: update them in place, keep the scroll position.
      this.body.querySelector('.device-head')?.replaceWith(header);
      groups.forEach((group, index) => {
        const shown = this.charts[index];
        if (shown === undefined) return;
        shown.chart.update({ group, markers: view.markers, from, to, stepMs });
        fillLegend(shown.legend, group, view.markers);
      });
      this.body.querySelector('.device-commands')?.replaceWith(this.commandsSection(view));
      this.body.querySelector('.device-footnote')?.replaceWith(this.footnote(view));
      this.alertsChanged();
      return;
    }

    this.destroyCharts();
    const alerts = el('section', 'device-section device-alerts');
    alerts.append(el('h3', 'evidence-heading', 'Open alerts of this device'));
    this.alertsHost = el('ul', 'device-alert-list');
    alerts.append(this.alertsHost);
    const charts = el('section', 'device-section device-charts');
    charts.append(el('h3', 'evidence-heading', `Last ${view.windowHours} hours, one point a minute (local time)`));
    if (groups.length === 0) charts.append(el('p', 'empty-note', 'Nothing recorded yet: the agent keeps what it sees from when it starts.'));
    const pending: { group: ChartGroup; host: HTMLElement; readout: HTMLElement; legend: HTMLUListElement }[] = [];
    for (const group of groups) {
      const figure = el('figure', 'chart-card');
      figure.dataset['chart'] = group.id;
      const caption = el('figcaption', 'chart-title');
      caption.append(el('span', 'chart-name', group.title), el('span', 'chart-unit', group.unit === '' ? '' : ` · ${group.unit}`));
      const host = el('div', 'chart-host');
      const readout = el('p', 'chart-readout');
      const legend = el('ul', 'chart-legend');
      legend.setAttribute('aria-label', `Legend: ${group.title}`);
      figure.append(caption, host, readout, legend);
      charts.append(figure);
      pending.push({ group, host, readout, legend });
    }
    this.body.replaceChildren(header, alerts, charts, this.commandsSection(view), this.footnote(view));
    this.alertsChanged();
    // Charts measure their width, so they are made once their hosts are in the page.
    for (const { group, host, readout, legend } of pending) {
      const chart = new HistoryChart(host, readout, { group, markers: view.markers, from, to, stepMs });
      fillLegend(legend, group, view.markers);
      this.charts.push({ id: group.id, chart, legend, host });
    }
  }

  private header(view: DeviceHistoryView): HTMLElement {
    const { device } = view;
    const status = deviceStatus(device);
    const head = el('div', 'device-head');
    head.dataset['status'] = status.kind;
    const place = el('p', 'device-place', placeLabel(device.bed, device.location) ?? device.id);
    const state = el('p', 'device-state');
    const symbol = el('span', 'status-symbol', status.symbol);
    symbol.setAttribute('aria-hidden', 'true');
    const stateText = el('span', 'status-text', status.text);
    stateText.dataset['field'] = 'state';
    state.append(symbol, stateText);
    const title = el('div', 'device-title');
    title.append(place, state);
    head.append(title, headerFacts(view));
    return head;
  }

  private commandsSection(view: DeviceHistoryView): HTMLElement {
    const section = el('section', 'device-section device-commands');
    section.append(el('h3', 'evidence-heading', `Commands received (${view.markers.length}), newest first`), commandsTable(view));
    return section;
  }

  private footnote(view: DeviceHistoryView): HTMLElement {
    const dropped = view.dropped;
    const capped = dropped.markersEvicted + dropped.seriesEvicted + dropped.late + dropped.unrepresentable;
    const parts = [
      `History kept in the agent's memory: the last ${view.windowHours} h at one point every ${view.resolutionSeconds} s, started afresh when the agent restarts (InfluxDB keeps the long term).`,
      `Updated ${formatEventTime(new Date().toISOString())}; refreshes every ${DEVICE_REFRESH_MS / 1000} s.`,
    ];
    if (capped > 0) parts.push(`Caps reached: ${dropped.markersEvicted} older commands and ${dropped.seriesEvicted} series pushed out, ${dropped.late} late events and ${dropped.unrepresentable} unreadable values left out.`);
    return el('p', 'hint device-footnote', parts.join(' '));
  }

  private alertItems(deviceId: string): HTMLElement[] {
    const alerts = this.openAlertsOf(deviceId).sort((a, b) => (SEVERITY_RANK[a.severity] ?? 9) - (SEVERITY_RANK[b.severity] ?? 9) || Date.parse(b.lastTs) - Date.parse(a.lastTs));
    if (alerts.length === 0) return [el('li', 'device-alert-none', 'No open alerts.')];
    return alerts.map((alert) => {
      const item = el('li', 'device-alert');
      item.dataset['severity'] = alert.severity;
      item.dataset['alertId'] = alert.id;
      const badge = el('span', 'severity-badge');
      badge.append(severityIcon(alert.severity), el('span', 'severity-label', SEVERITY_LABEL[alert.severity] ?? alert.severity));
      const text = el('span', 'device-alert-title', alert.title);
      const time = el('span', 'device-alert-time', formatEventTime(alert.lastTs));
      const link = el('a', 'device-alert-link', 'Evidence →');
      link.href = alertHref(alert.id);
      item.append(badge, text, time, link);
      return item;
    });
  }

  private destroyCharts(): void {
    for (const shown of this.charts) shown.chart.destroy();
    this.charts = [];
  }

  private showError(message: string | null): void {
    setText(this.error, message ?? '');
    setHidden(this.error, message === null);
  }
}
