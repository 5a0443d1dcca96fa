/**
 * Device tiles, one per device, sorted by bed then location. Tiles are kept by id and
 * updated in place; the list is reordered only when a device's place changes.
 */
import type { DeviceView } from '../../agent/src/server/dashboard-protocol.ts';
import { el, requireElement, setData, setHidden, setText } from './dom.ts';
import { deviceStatus, formatEventTime, placeLabel, pluralise, profileLabel, SEVERITY_LABEL } from './format.ts';
import { profileIcon, severityIcon } from './icons.ts';
import { compareDevices, type OpenAlertSummary } from './state.ts';
import { deviceHref } from './device-route.ts';

interface Tile {
  readonly root: HTMLLIElement;
  readonly place: HTMLElement;
  readonly iconSlot: HTMLElement;
  readonly ident: HTMLElement;
  readonly statusSymbol: HTMLElement;
  readonly statusText: HTMLElement;
  readonly summary: HTMLElement;
  readonly seen: HTMLElement;
  readonly marker: HTMLElement;
  readonly markerIconSlot: HTMLElement;
  readonly markerText: HTMLElement;
  device: DeviceView;
}

export class WardView {
  private readonly list = requireElement('device-tiles', HTMLOListElement);
  private readonly empty = requireElement('devices-empty', HTMLElement);
  private readonly tiles = new Map<string, Tile>();

  /** After a snapshot: add, update and remove tiles, then put them in order. */
  sync(devices: Iterable<DeviceView>, alertsOf: (deviceId: string) => OpenAlertSummary): void {
    const seen = new Set<string>();
    for (const device of devices) {
      seen.add(device.id);
      this.write(device, alertsOf(device.id));
    }
    for (const [id, tile] of this.tiles) {
      if (!seen.has(id)) {
        tile.root.remove();
        this.tiles.delete(id);
      }
    }
    this.reorder();
    setText(this.empty, 'No devices in the inventory');
    setHidden(this.empty, this.tiles.size > 0);
  }

  update(device: DeviceView, alerts: OpenAlertSummary): void {
    const before = this.tiles.get(device.id)?.device;
    this.write(device, alerts);
    if (before === undefined || before.bed !== device.bed || before.location !== device.location) this.reorder();
    setHidden(this.empty, this.tiles.size > 0);
  }

  /** Refreshes the "under alert" marker after an alert of this device changed. */
  updateAlerts(deviceId: string, alerts: OpenAlertSummary): void {
    const tile = this.tiles.get(deviceId);
    if (tile !== undefined) this.writeMarker(tile, alerts);
  }

  private write(device: DeviceView, alerts: OpenAlertSummary): void {
    let tile = this.tiles.get(device.id);
    if (tile === undefined) {
      tile = this.create(device);
      this.tiles.set(device.id, tile);
    } else if (tile.device.profile !== device.profile) {
      tile.iconSlot.replaceChildren(profileIcon(device.profile));
    }
    tile.device = device;
    const status = deviceStatus(device);
    setData(tile.root, 'profile', device.profile);
    setData(tile.root, 'status', status.kind);
    setText(tile.place, placeLabel(device.bed, device.location) ?? device.id);
    tile.place.classList.toggle('tile-place-long', (device.bed ?? '') === '');
    const linkName = `${placeLabel(device.bed, device.location) ?? device.id} · ${device.id}: history and limits`;
    if (tile.place.getAttribute('aria-label') !== linkName) tile.place.setAttribute('aria-label', linkName);
    setText(tile.ident, `${device.id} · ${profileLabel(device.profile)}`);
    setText(tile.statusSymbol, status.symbol);
    setText(tile.statusText, status.text);
    setText(tile.summary, device.summary);
    setHidden(tile.summary, device.summary === '');
    if (!device.online) {
      setText(tile.seen, device.lastSeen === null ? 'Not seen since the agent started' : `Last seen ${formatEventTime(device.lastSeen)}`);
    }
    setHidden(tile.seen, device.online);
    this.writeMarker(tile, alerts);
  }

  private writeMarker(tile: Tile, alerts: OpenAlertSummary): void {
    const severity = alerts.worst;
    setData(tile.root, 'alertSeverity', severity ?? 'none');
    if (severity === null) {
      setHidden(tile.marker, true);
      return;
    }
    if (tile.marker.dataset['severity'] !== severity) {
      tile.markerIconSlot.replaceChildren(severityIcon(severity));
      tile.marker.dataset['severity'] = severity;
    }
    setText(tile.markerText, `${SEVERITY_LABEL[severity]} · ${pluralise(alerts.count, 'open alert', 'open alerts')}`);
    setHidden(tile.marker, false);
  }

  private create(device: DeviceView): Tile {
    const root = el('li', 'tile');
    root.dataset['deviceId'] = device.id;

    const head = el('div', 'tile-head');
    // The place is the tile's link to the device page; the link covers the whole tile (style.css .tile-link).
    const place = el('a', 'tile-place tile-link');
    place.href = deviceHref(device.id);
    const iconSlot = el('span', 'tile-icon');
    iconSlot.append(profileIcon(device.profile));
    head.append(place, iconSlot);

    const ident = el('div', 'tile-ident');
    const status = el('div', 'tile-status');
    const statusSymbol = el('span', 'status-symbol');
    statusSymbol.setAttribute('aria-hidden', 'true');
    const statusText = el('span', 'status-text');
    status.append(statusSymbol, statusText);
    const summary = el('div', 'tile-summary');
    const seen = el('div', 'tile-seen');

    const marker = el('div', 'tile-alert');
    marker.hidden = true;
    const markerIconSlot = el('span', 'tile-alert-icon');
    const markerText = el('span', 'tile-alert-text');
    marker.append(markerIconSlot, markerText);

    root.append(head, ident, status, summary, seen, marker);
    return { root, place, iconSlot, ident, statusSymbol, statusText, summary, seen, marker, markerIconSlot, markerText, device };
  }

  private reorder(): void {
    const ordered = Array.from(this.tiles.values()).sort((a, b) => compareDevices(a.device, b.device));
    let previous: Element | null = null;
    for (const tile of ordered) {
      const expected: Element | null = previous === null ? this.list.firstElementChild : previous.nextElementSibling;
      if (expected !== tile.root) {
        if (previous === null) this.list.prepend(tile.root);
        else previous.after(tile.root);
      }
      previous = tile.root;
    }
  }
}
