import { commanderOf, describeCommander } from '../detect/baseline/commander.ts';
import { ownWord } from '../detect/baseline/baseline-learner.ts';
import { rateToDose } from '../model/dose.ts';
import { lookupDrug, type DrugLibrary } from '../model/drug-library.ts';
import type { DeviceKind, DeviceProfile } from '../model/device-profile.ts';
import { DEVICE_PROFILES } from '../model/profiles/index.ts';
import type { ParamValue } from '../model/wire.ts';
import type { InfusionContext } from '../normalize/device-state.ts';
import type { DeviceCommandEvent, EventSource, PipelineEvent, TelemetryEvent } from '../normalize/events.ts';
import type { HistoryFamily } from '../server/dashboard-protocol.ts';
import { HistoryBuckets, type BucketCounters, type BucketSeriesReadout } from './history-buckets.ts';

/**
 * A bounded, in-memory history per device for the engineer's device page (issue 6): the
 * numbers that matter on a chart, one bucket per minute of event time for 24 hours, and
 * the commands the device received as markers (when, what, who sent it). Fed from every
 * pipeline event after the detectors (app.ts `eventObservers`).
 *
 * Not persisted: a restart starts an empty history. The long-term store of every
 * reading is InfluxDB (docs/operations.md); this is the last day at a glance, kept small
 * enough for a Raspberry Pi.
 *
 * Bounds (DESIGN.md, principle 3), for the inventory's N devices:
 *   series  ≤ N × seriesPerDevice × buckets × 12 bytes  (54 devices: 5.6 MB)
 *   markers ≤ N × markersPerDevice, about 260 bytes each  (54 devices: 1.7 MB)
 * Measured for config/large-ward.yaml with every series and every marker ring full:
 * 6.9 MB (docs/architecture.md); the demo ward's 8 devices hold 1 MB at most. Series keys
 * come only from the device profile and the drug library, never from a name on the wire,
 * so a sender cannot make up new series.
 */
export const DEVICE_HISTORY_CAPS = {
  /** One point per minute: last value, minimum and maximum of the minute. */
  bucketMs: 60_000,
  /** 24 h of minutes. */
  buckets: 1_440,
  /** A pump: rate, volume, battery and the dose of up to three drugs in a day; a programmer: four programmed values and battery. */
  seriesPerDevice: 6,
  /** Five commands an hour on average over the day; a burst pushes the oldest out (counted). */
  markersPerDevice: 120,
  /** A string parameter kept on a marker is cut to this (profile strings are at most 64). */
  markerStringChars: 64,
} as const;

export interface SeriesSpec {
  readonly family: HistoryFamily;
  readonly label: string;
  readonly unit: string;
  /** `telemetry`: the device's own report; `command`: what it was last programmed (where its telemetry does not say). */
  readonly source: 'telemetry' | 'command';
}

function telemetryUnit(profile: DeviceProfile, field: string): string {
  return profile.telemetry[field]?.unit ?? '';
}

function commandUnit(profile: DeviceProfile, command: string, param: string): string {
  const spec = profile.commands[command]?.params[param];
  return spec?.type === 'number' ? spec.unit : '';
}

const PUMP = DEVICE_PROFILES['infusion-pump'];
const PROGRAMMER = DEVICE_PROFILES['pacemaker-programmer'];

/** The pacemaker programmer command whose numbers become series. */
export const PROGRAM_COMMAND = 'program';

/**
 * What each kind of device keeps, beside a pump's dose (one series per drug, keyed
 * `dose:<care area>/<drug>`). A pump reports its programmed rate every few seconds; a
 * programmer reports only the lower rate it last programmed, so its programmed values are
 * taken from the `program` commands themselves.
 */
export const SERIES_SPECS: Readonly<Record<DeviceKind, Readonly<Record<string, SeriesSpec>>>> = {
  'infusion-pump': {
    rate_ml_h: { family: 'rate', label: 'Programmed rate', unit: telemetryUnit(PUMP, 'rate_ml_h'), source: 'telemetry' },
    infused_ml: { family: 'volume', label: 'Volume infused', unit: telemetryUnit(PUMP, 'infused_ml'), source: 'telemetry' },
    battery_pct: { family: 'battery', label: 'Battery', unit: telemetryUnit(PUMP, 'battery_pct'), source: 'telemetry' },
  },
  'pacemaker-programmer': {
    lower_rate_ppm: { family: 'pacing-rate', label: 'Lower rate', unit: commandUnit(PROGRAMMER, PROGRAM_COMMAND, 'lower_rate_ppm'), source: 'command' },
    upper_rate_ppm: { family: 'pacing-rate', label: 'Upper tracking rate', unit: commandUnit(PROGRAMMER, PROGRAM_COMMAND, 'upper_rate_ppm'), source: 'command' },
    amplitude_v: { family: 'pacing-amplitude', label: 'Pulse amplitude', unit: commandUnit(PROGRAMMER, PROGRAM_COMMAND, 'amplitude_v'), source: 'command' },
    pulse_width_ms: { family: 'pacing-width', label: 'Pulse width', unit: commandUnit(PROGRAMMER, PROGRAM_COMMAND, 'pulse_width_ms'), source: 'command' },
    battery_pct: { family: 'battery', label: 'Battery', unit: telemetryUnit(PROGRAMMER, 'battery_pct'), source: 'telemetry' },
  },
};

const DOSE_PREFIX = 'dose:';

/** `dose:ICU/heparin`: the series of a drug's dose in its library unit. */
export function doseSeriesKey(careArea: string, drug: string): string {
  return `${DOSE_PREFIX}${careArea}/${drug}`;
}

/** The care area and drug of a dose series key, or null for any other key. */
export function parseDoseSeriesKey(key: string): { readonly careArea: string; readonly drug: string } | null {
  if (!key.startsWith(DOSE_PREFIX)) return null;
  const rest = key.slice(DOSE_PREFIX.length);
  const slash = rest.indexOf('/');
  return slash <= 0 ? null : { careArea: rest.slice(0, slash), drug: rest.slice(slash + 1) };
}

export interface CommandMarker {
  /** Event time, epoch ms. */
  readonly ts: number;
  readonly command: string;
  /** Who sent it, as far as the ingest could see: an account, a Modbus master, a client id. */
  readonly sender: string;
  readonly transport: EventSource['transport'];
  /** The command's parameters the profile declares (strings cut to markerStringChars). */
  readonly params: Readonly<Record<string, ParamValue>>;
  /** Numbers to plot on the series of the same key (a rate, its dose, a programmed lower rate). */
  readonly values: Readonly<Record<string, number>>;
}

export interface HistoryCounters extends BucketCounters {
  /** Markers pushed out by a newer one at markersPerDevice. */
  markersEvicted: number;
}

/** One device's history read out for the API (server/device-history-view.ts shapes it). */
export interface DeviceHistorySnapshot {
  readonly deviceId: string;
  readonly profile: DeviceKind;
  /** Newest event time recorded, epoch ms; null before the first event. */
  readonly newest: number | null;
  /** Start of the window, epoch ms; null before the first event. */
  readonly windowStart: number | null;
  readonly series: ReadonlyMap<string, BucketSeriesReadout>;
  /** Oldest first, only those in the window. */
  readonly markers: readonly CommandMarker[];
  readonly counters: Readonly<HistoryCounters>;
}

/** A fixed-size ring of markers: the newest `capacity`, oldest overwritten first. */
class MarkerRing {
  private readonly slots: (CommandMarker | undefined)[];
  private next = 0;
  private size = 0;

  constructor(private readonly capacity: number, private readonly counters: HistoryCounters) {
    this.slots = new Array<CommandMarker | undefined>(capacity);
  }

  push(marker: CommandMarker): void {
    if (this.size === this.capacity) this.counters.markersEvicted += 1;
    else this.size += 1;
    this.slots[this.next] = marker;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Oldest first; event times may be out of order by a little, so sorted. */
  since(start: number): CommandMarker[] {
    const out: CommandMarker[] = [];
    for (let index = 0; index < this.size; index += 1) {
      const marker = this.slots[(this.next - this.size + index + this.capacity) % this.capacity];
      if (marker !== undefined && marker.ts >= start) out.push(marker);
    }
    return out.sort((a, b) => a.ts - b.ts);
  }
}

class DeviceHistory {
  newestTs: number | null = null;
  /** The dose series key last written, reused while the drug stays the same (no string built per telemetry message). */
  private doseKey: { readonly careArea: string; readonly drug: string; readonly key: string } | null = null;
  readonly counters: HistoryCounters = { late: 0, seriesEvicted: 0, unrepresentable: 0, markersEvicted: 0 };
  readonly buckets = new HistoryBuckets({ bucketMs: DEVICE_HISTORY_CAPS.bucketMs, buckets: DEVICE_HISTORY_CAPS.buckets, maxSeries: DEVICE_HISTORY_CAPS.seriesPerDevice }, this.counters);
  readonly markers = new MarkerRing(DEVICE_HISTORY_CAPS.markersPerDevice, this.counters);

  constructor(readonly deviceId: string, readonly profile: DeviceKind) {}

  seen(ts: number): void {
    if (this.newestTs === null || ts > this.newestTs) this.newestTs = ts;
  }

  doseKeyOf(careArea: string, drug: string): string {
    const cached = this.doseKey;
    if (cached !== null && cached.careArea === careArea && cached.drug === drug) return cached.key;
    const key = doseSeriesKey(careArea, drug);
    this.doseKey = { careArea, drug, key };
    return key;
  }
}

function senderOf(source: EventSource): string {
  if (source.transport === 'mqtt-tap') return `not visible (MQTT tap; client "${source.clientId.slice(0, 64)}")`;
  if (source.transport === 'mqtt-unattributed') return `not visible (capture without its login; from ${source.address})`;
  return describeCommander(commanderOf(source));
}

/**
 * Records what the device page charts. `infusionOf` is the device state after the event
 * (the pipeline calls observers after the state tracker): the drug a `set_rate` applies to.
 */
export class DeviceHistoryStore {
  private readonly devices = new Map<string, DeviceHistory>();

  constructor(
    private readonly library: DrugLibrary,
    private readonly infusionOf: (deviceId: string) => InfusionContext | null,
  ) {}

  /** Every pipeline event; only device telemetry and commands are kept. Never throws on what came off the wire. */
  observe(event: PipelineEvent): void {
    if (event.kind === 'telemetry') this.recordTelemetry(event);
    else if (event.kind === 'command') this.recordCommand(event);
  }

  /** The device's history, or null when it has sent or received nothing since the agent started. */
  snapshot(deviceId: string): DeviceHistorySnapshot | null {
    const history = this.devices.get(deviceId);
    if (history === undefined) return null;
    const windowStart = history.buckets.windowStart;
    const series = new Map<string, BucketSeriesReadout>();
    for (const key of history.buckets.keys()) {
      const readout = history.buckets.read(key);
      if (readout !== null && readout.t.length > 0) series.set(key, readout);
    }
    return {
      deviceId,
      profile: history.profile,
      newest: history.newestTs,
      windowStart,
      series,
      markers: windowStart === null ? [] : history.markers.since(windowStart),
      counters: { ...history.counters },
    };
  }

  /** Bytes held by the series arrays of every device (markers not included). */
  get seriesBytes(): number {
    let total = 0;
    for (const history of this.devices.values()) total += history.buckets.bytes;
    return total;
  }

  /** Caps hit across the ward. */
  totals(): HistoryCounters {
    const totals: HistoryCounters = { late: 0, seriesEvicted: 0, unrepresentable: 0, markersEvicted: 0 };
    for (const { counters } of this.devices.values()) {
      totals.late += counters.late;
      totals.seriesEvicted += counters.seriesEvicted;
      totals.unrepresentable += counters.unrepresentable;
      totals.markersEvicted += counters.markersEvicted;
    }
    return totals;
  }

  private historyOf(deviceId: string, profile: DeviceKind): DeviceHistory {
    let history = this.devices.get(deviceId);
    if (history === undefined) {
      // Devices come from the inventory (the normalizer drops the rest), so this map is bounded by it.
      history = new DeviceHistory(deviceId, profile);
      this.devices.set(deviceId, history);
    }
    return history;
  }

  private recordTelemetry(event: TelemetryEvent): void {
    // Telemetry from another account is an impersonation (an alert), not the device's history.
    if (!ownWord(event)) return;
    const profile = event.device.profile.id;
    const history = this.historyOf(event.device.config.id, profile);
    if (!history.buckets.advance(event.ts)) return;
    history.seen(event.ts);
    const fields = event.fields;
    const specs = SERIES_SPECS[profile];
    for (const field in specs) {
      if (specs[field]?.source !== 'telemetry') continue;
      const value = fields[field];
      if (typeof value === 'number') history.buckets.record(field, event.ts, value);
    }
    if (profile === 'infusion-pump') this.recordDose(history, event);
  }

  /** The dose the pump reports running, in the drug's library unit (as the drug-library detector computes it). */
  private recordDose(history: DeviceHistory, event: TelemetryEvent): void {
    const { drug, care_area: careArea, weight_kg: weightKg, rate_ml_h: rate } = event.fields;
    if (typeof drug !== 'string' || typeof careArea !== 'string' || typeof weightKg !== 'number' || typeof rate !== 'number' || weightKg <= 0) return;
    const entry = lookupDrug(this.library, careArea, drug);
    if (entry === undefined) return;
    history.buckets.record(history.doseKeyOf(careArea, drug), event.ts, rateToDose(rate, entry.concentration, entry.doseUnit, weightKg));
  }

  private recordCommand(event: DeviceCommandEvent): void {
    const profile = event.device.profile.id;
    const history = this.historyOf(event.device.config.id, profile);
    if (!history.buckets.advance(event.ts)) return;
    history.seen(event.ts);
    const params: Record<string, ParamValue> = {};
    const values: Record<string, number> = {};
    const declared = event.spec.params;
    for (const name in declared) {
      const value = event.message.params[name];
      if (value === undefined) continue;
      params[name] = typeof value === 'string' ? value.slice(0, DEVICE_HISTORY_CAPS.markerStringChars) : value;
    }
    if (profile === 'pacemaker-programmer' && event.message.command === PROGRAM_COMMAND) {
      const specs = SERIES_SPECS[profile];
      for (const name in specs) {
        const value = params[name];
        if (specs[name]?.source !== 'command' || typeof value !== 'number') continue;
        values[name] = value;
        history.buckets.record(name, event.ts, value);
      }
    } else if (profile === 'infusion-pump') {
      this.pumpCommandValues(event, params, values);
    }
    history.markers.push({ ts: event.ts, command: event.message.command, sender: senderOf(event.source), transport: event.source.transport, params, values });
  }

  /** A rate command's mL/h and the dose it means for the drug running (after the command). */
  private pumpCommandValues(event: DeviceCommandEvent, params: Readonly<Record<string, ParamValue>>, values: Record<string, number>): void {
    const rate = params['rate_ml_h'];
    if (typeof rate !== 'number') return;
    values['rate_ml_h'] = rate;
    const infusion = this.infusionOf(event.device.config.id);
    if (infusion === null || infusion.weightKg <= 0) return;
    const entry = lookupDrug(this.library, infusion.careArea, infusion.drug);
    if (entry === undefined) return;
    values[doseSeriesKey(infusion.careArea, infusion.drug)] = rateToDose(rate, entry.concentration, entry.doseUnit, infusion.weightKg);
  }
}
