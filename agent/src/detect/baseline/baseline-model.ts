import type { BaselineConfig } from '../../model/site-schema.ts';
import type { DeviceKind } from '../../model/device-profile.ts';
import type { PipelineEvent } from '../../normalize/events.ts';
import type { BaselineHealthView } from '../../server/dashboard-protocol.ts';
import { LogHistogram, type LogHistogramJson } from './log-histogram.ts';
import { ValueEnvelope, type ValueEnvelopeJson } from './value-envelope.ts';

/**
 * The learned picture of a ward (issue 5): per device and per kind of device, keyed,
 * bounded, expiring tables that read event time only (DESIGN.md, principle 5; Zeek
 * `known-masters-slaves.zeek`). The learner fills it; the deviation detectors read it;
 * baseline-file.ts persists it. Every table has a cap, and an entry pushed out by the cap
 * is counted in `evictions` (principle 3).
 */

export type BaselineMode = BaselineConfig['mode'];

/** When and how often something was seen. */
export interface Sighting {
  firstSeen: number;
  lastSeen: number;
  count: number;
}

/** Table caps. A ward's real tables are far smaller; the caps stop a hostile sender from growing them. */
export const BASELINE_CAPS = {
  envelopesPerDevice: 64,
  categoriesPerKey: 32,
  commandersPerDevice: 32,
  transitionsPerDevice: 128,
  versionsPerField: 16,
  pendingPerDevice: 256,
  envelopesPerGroup: 1024,
  commandersPerGroup: 256,
  transitionsPerGroup: 512,
} as const;

/** A table whose least recently seen entry makes room for a new one at the cap. */
export class SightingTable {
  readonly entries = new Map<string, Sighting>();

  constructor(private readonly cap: number, private readonly onEvict: () => void) {}

  get(key: string): Sighting | undefined {
    return this.entries.get(key);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  get size(): number {
    return this.entries.size;
  }

  see(key: string, ts: number, times = 1): void {
    const existing = this.entries.get(key);
    if (existing !== undefined) {
      // Updated in place, not re-inserted: V8 keeps a deleted Map entry in its hash chain
      // until the next rehash, so deleting and re-adding the same key on every sighting
      // made each lookup walk a chain as long as the table (microseconds per command in a
      // 1,200-entry commanderHours table). Map order is therefore first seen first.
      existing.lastSeen = Math.max(existing.lastSeen, ts);
      existing.count += times;
      return;
    }
    if (this.entries.size >= this.cap) {
      this.evictLeastRecentlySeen();
      this.onEvict();
    }
    this.entries.set(key, { firstSeen: ts, lastSeen: ts, count: times });
  }

  /** At the cap only (a sender making up keys): one pass over the table for the oldest lastSeen. */
  private evictLeastRecentlySeen(): void {
    let oldestKey: string | undefined;
    let oldestTs = Infinity;
    for (const [key, sighting] of this.entries) {
      if (sighting.lastSeen < oldestTs) {
        oldestTs = sighting.lastSeen;
        oldestKey = key;
      }
    }
    if (oldestKey !== undefined) this.entries.delete(oldestKey);
  }

  expire(before: number): void {
    for (const [key, sighting] of this.entries) if (sighting.lastSeen < before) this.entries.delete(key);
  }

  toJSON(): Record<string, Sighting> {
    return Object.fromEntries(this.entries);
  }

  load(json: Readonly<Record<string, Sighting>>): void {
    for (const [key, sighting] of Object.entries(json)) this.entries.set(key, { ...sighting });
  }
}

/** Envelopes and categories of one device, or of one kind of device across the ward. */
export class ValueTables {
  readonly envelopes = new Map<string, ValueEnvelope>();
  /** Key → category value → sighting (pacing mode, tachy therapy on/off). */
  readonly categories = new Map<string, SightingTable>();

  constructor(private readonly cap: number, private readonly onEvict: () => void) {}

  learn(key: string, value: number | string, unit: string, ts: number, source?: string): void {
    if (typeof value === 'number') {
      let envelope = this.envelopes.get(key);
      if (envelope === undefined) {
        if (this.envelopes.size >= this.cap) return this.onEvict();
        envelope = ValueEnvelope.empty(unit, ts);
        this.envelopes.set(key, envelope);
      }
      envelope.learn(value, ts, source);
      return;
    }
    let table = this.categories.get(key);
    if (table === undefined) {
      if (this.categories.size >= this.cap) return this.onEvict();
      table = new SightingTable(BASELINE_CAPS.categoriesPerKey, this.onEvict);
      this.categories.set(key, table);
    }
    table.see(value, ts);
  }

  expire(before: number): void {
    for (const [key, envelope] of this.envelopes) if (envelope.lastSeen < before && envelope.pinned === null) this.envelopes.delete(key);
    for (const [key, table] of this.categories) {
      table.expire(before);
      if (table.size === 0) this.categories.delete(key);
    }
  }
}

export interface DeviceBaselineJson {
  readonly profile: DeviceKind;
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly commands: number;
  readonly frozen: boolean;
  readonly envelopes: Readonly<Record<string, ValueEnvelopeJson>>;
  readonly categories: Readonly<Record<string, Record<string, Sighting>>>;
  readonly commanders: Readonly<Record<string, Sighting>>;
  readonly hours: Readonly<Record<string, Sighting>>;
  readonly transitions: Readonly<Record<string, Sighting>>;
  readonly versions: Readonly<Record<string, Sighting>>;
  readonly interArrivalMinutes: LogHistogramJson;
  readonly telemetrySeconds: LogHistogramJson;
  readonly pending: Readonly<Record<string, number>>;
}

/** What one device has learned. */
export class DeviceBaseline {
  firstSeen: number;
  lastSeen: number;
  commands = 0;
  frozen = false;
  readonly values: ValueTables;
  /** Commander (commander.ts) → sighting. */
  readonly commanders: SightingTable;
  /** `h00`…`h23` and `d0`…`d6` (Sunday = 0), local time of the site, of commands. */
  readonly hours: SightingTable;
  /** `previous>command` (`start>set_rate`); `-` when there was no recent previous command. */
  readonly transitions: SightingTable;
  /** `library_version=4W-2026.11` and `firmware=…` seen in the device's own telemetry. */
  readonly versions: SightingTable;
  interArrivalMinutes = new LogHistogram();
  telemetrySeconds = new LogHistogram();
  /** Deviations already alerted (key → event time of the alert), not learned: waiting for review. */
  readonly pending = new Map<string, number>();
  /** Not persisted: the last command and telemetry, for sequences and cadence. */
  lastCommand: { readonly name: string; readonly ts: number } | null = null;
  lastTelemetryTs: number | null = null;
  /** Not persisted: the versions last reported and when the versions table was last touched. */
  readonly lastVersions = new Map<string, string>();
  versionsTouchedAt = -Infinity;

  constructor(readonly deviceId: string, readonly profile: DeviceKind, ts: number, onEvict: () => void) {
    this.firstSeen = ts;
    this.lastSeen = ts;
    this.values = new ValueTables(BASELINE_CAPS.envelopesPerDevice, onEvict);
    this.commanders = new SightingTable(BASELINE_CAPS.commandersPerDevice, onEvict);
    this.hours = new SightingTable(24 + 7, onEvict);
    this.transitions = new SightingTable(BASELINE_CAPS.transitionsPerDevice, onEvict);
    this.versions = new SightingTable(BASELINE_CAPS.versionsPerField * 2, onEvict);
  }

  toJSON(): DeviceBaselineJson {
    return {
      profile: this.profile,
      firstSeen: this.firstSeen,
      lastSeen: this.lastSeen,
      commands: this.commands,
      frozen: this.frozen,
      envelopes: Object.fromEntries([...this.values.envelopes].map(([key, envelope]) => [key, envelope.toJSON()])),
      categories: Object.fromEntries([...this.values.categories].map(([key, table]) => [key, table.toJSON()])),
      commanders: this.commanders.toJSON(),
      hours: this.hours.toJSON(),
      transitions: this.transitions.toJSON(),
      versions: this.versions.toJSON(),
      interArrivalMinutes: this.interArrivalMinutes.toJSON(),
      telemetrySeconds: this.telemetrySeconds.toJSON(),
      pending: Object.fromEntries(this.pending),
    };
  }
}

export interface GroupBaselineJson {
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly commands: number;
  readonly envelopes: Readonly<Record<string, ValueEnvelopeJson>>;
  readonly categories: Readonly<Record<string, Record<string, Sighting>>>;
  readonly commanders: Readonly<Record<string, Sighting>>;
  readonly commanderHours: Readonly<Record<string, Sighting>>;
  readonly hours: Readonly<Record<string, Sighting>>;
  readonly transitions: Readonly<Record<string, Sighting>>;
  readonly pushers: Readonly<Record<string, Sighting>>;
  readonly origins: Readonly<Record<string, Sighting>>;
  readonly pending: Readonly<Record<string, number>>;
}

/** What the ward's devices of one kind have learned together: the fallback for a device with little history. */
export class GroupBaseline {
  firstSeen: number;
  lastSeen: number;
  commands = 0;
  readonly values: ValueTables;
  readonly commanders: SightingTable;
  /** `commander@h03`: the hours at which each commander commands devices of this kind. */
  readonly commanderHours: SightingTable;
  readonly hours: SightingTable;
  readonly transitions: SightingTable;
  /** `load_drug_library@account:pharmacy`: who pushed software or libraries to devices of this kind. */
  readonly pushers: SightingTable;
  /**
   * `account:station-4w@10.4.0.10`, `account:station-4w#station-4w-sim`: the addresses and
   * client ids each commander commands from. Addresses are judged (a known account from a
   * new address); client ids are kept for review only, since mqtt.js makes them up.
   */
  readonly origins: SightingTable;
  /** Deviations judged across the kind and already alerted (key → event time), waiting for review. */
  readonly pending = new Map<string, number>();

  constructor(readonly profile: DeviceKind, ts: number, onEvict: () => void) {
    this.firstSeen = ts;
    this.lastSeen = ts;
    this.values = new ValueTables(BASELINE_CAPS.envelopesPerGroup, onEvict);
    this.commanders = new SightingTable(BASELINE_CAPS.commandersPerGroup, onEvict);
    this.commanderHours = new SightingTable(BASELINE_CAPS.commandersPerGroup * 24, onEvict);
    this.hours = new SightingTable(24 + 7, onEvict);
    this.transitions = new SightingTable(BASELINE_CAPS.transitionsPerGroup, onEvict);
    this.pushers = new SightingTable(BASELINE_CAPS.commandersPerGroup, onEvict);
    this.origins = new SightingTable(BASELINE_CAPS.commandersPerGroup * 4, onEvict);
  }

  toJSON(): GroupBaselineJson {
    return {
      firstSeen: this.firstSeen,
      lastSeen: this.lastSeen,
      commands: this.commands,
      envelopes: Object.fromEntries([...this.values.envelopes].map(([key, envelope]) => [key, envelope.toJSON()])),
      categories: Object.fromEntries([...this.values.categories].map(([key, table]) => [key, table.toJSON()])),
      commanders: this.commanders.toJSON(),
      commanderHours: this.commanderHours.toJSON(),
      hours: this.hours.toJSON(),
      transitions: this.transitions.toJSON(),
      pushers: this.pushers.toJSON(),
      origins: this.origins.toJSON(),
      pending: Object.fromEntries(this.pending),
    };
  }
}

export interface BaselineJson {
  readonly format: 'wardwatch-baseline/1';
  /** Event time of the newest event learned. */
  readonly learnedUntil: number | null;
  readonly events: number;
  readonly evictions: number;
  readonly devices: Readonly<Record<string, DeviceBaselineJson>>;
  readonly groups: Readonly<Record<string, GroupBaselineJson>>;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The whole learned state, its mode, and which event the detectors flagged (so it is not learned). */
export class BaselineModel {
  readonly devices = new Map<string, DeviceBaseline>();
  readonly groups = new Map<DeviceKind, GroupBaseline>();
  events = 0;
  evictions = 0;
  learnedUntil: number | null = null;
  private flaggedEvent: PipelineEvent | null = null;
  private nextExpiryAt = -Infinity;
  readonly countEviction = (): void => {
    this.evictions += 1;
  };

  constructor(readonly config: BaselineConfig) {}

  get mode(): BaselineMode {
    return this.config.mode;
  }

  device(deviceId: string, profile: DeviceKind, ts: number): DeviceBaseline {
    let baseline = this.devices.get(deviceId);
    if (baseline === undefined) {
      baseline = new DeviceBaseline(deviceId, profile, ts, this.countEviction);
      this.devices.set(deviceId, baseline);
    }
    return baseline;
  }

  group(profile: DeviceKind, ts: number): GroupBaseline {
    let baseline = this.groups.get(profile);
    if (baseline === undefined) {
      baseline = new GroupBaseline(profile, ts, this.countEviction);
      this.groups.set(profile, baseline);
    }
    return baseline;
  }

  /** Whether deviations are judged at `ts`: monitor mode, after the ward's learning period. */
  judging(profile: DeviceKind, ts: number): boolean {
    if (this.config.mode !== 'monitor') return false;
    const group = this.groups.get(profile);
    return group !== undefined && ts - group.firstSeen >= this.config.learningHours * HOUR_MS;
  }

  /** Whether a device's own tables are judged: it has been learned for the learning period. */
  deviceMature(baseline: DeviceBaseline | undefined, ts: number): baseline is DeviceBaseline {
    return baseline !== undefined && ts - baseline.firstSeen >= this.config.learningHours * HOUR_MS;
  }

  /** Progress for /api/health and the dashboard: hours learned on the longest-learned kind of device. */
  health(): BaselineHealthView {
    const now = this.learnedUntil;
    let hoursLearned = 0;
    let judging = false;
    for (const group of this.groups.values()) {
      if (now === null) break;
      hoursLearned = Math.max(hoursLearned, (now - group.firstSeen) / HOUR_MS);
      judging ||= this.judging(group.profile, now);
    }
    let devicesLearned = 0;
    for (const device of this.devices.values()) if (device.commands > 0) devicesLearned += 1;
    return { mode: this.config.mode, judging, hoursLearned: Math.round(hoursLearned * 10) / 10, learningHours: this.config.learningHours, devicesLearned, evictions: this.evictions };
  }

  /** A detector found a deviation in this event: the learner leaves it out (it waits for review). */
  flag(event: PipelineEvent): void {
    this.flaggedEvent = event;
  }

  isFlagged(event: PipelineEvent): boolean {
    return this.flaggedEvent === event;
  }

  /**
   * Whether a deviation `key` of a device was alerted within realertHours. Recording it
   * keeps the nurse's screen to one alert per new thing, not one per repetition.
   */
  alreadyPending(holder: DeviceBaseline | GroupBaseline, key: string, ts: number): boolean {
    const pending = holder.pending;
    const alertedAt = pending.get(key);
    if (alertedAt !== undefined && ts - alertedAt < this.config.realertHours * HOUR_MS) return true;
    if (pending.size >= BASELINE_CAPS.pendingPerDevice && !pending.has(key)) {
      const oldest = pending.keys().next().value;
      if (oldest !== undefined) pending.delete(oldest);
      this.countEviction();
    }
    pending.delete(key);
    pending.set(key, ts);
    return false;
  }

  /** Forgets what was not seen for expireDays; runs at most once per event-time hour. */
  expire(ts: number): void {
    if (ts < this.nextExpiryAt) return;
    this.nextExpiryAt = ts + HOUR_MS;
    const before = ts - this.config.expireDays * DAY_MS;
    for (const baseline of this.devices.values()) {
      baseline.values.expire(before);
      baseline.commanders.expire(before);
      baseline.transitions.expire(before);
      baseline.versions.expire(before);
      for (const [key, alertedAt] of baseline.pending) if (alertedAt < before) baseline.pending.delete(key);
    }
    for (const group of this.groups.values()) {
      group.values.expire(before);
      group.commanders.expire(before);
      group.commanderHours.expire(before);
      group.transitions.expire(before);
      group.pushers.expire(before);
      group.origins.expire(before);
      for (const [key, alertedAt] of group.pending) if (alertedAt < before) group.pending.delete(key);
    }
  }

  toJSON(): BaselineJson {
    return {
      format: 'wardwatch-baseline/1',
      learnedUntil: this.learnedUntil,
      events: this.events,
      evictions: this.evictions,
      devices: Object.fromEntries([...this.devices].map(([id, baseline]) => [id, baseline.toJSON()])),
      groups: Object.fromEntries([...this.groups].map(([profile, group]) => [profile, group.toJSON()])),
    };
  }

  /** Restores a saved state; devices and kinds the inventory no longer has are dropped by the caller. */
  load(json: BaselineJson, keepDevice: (deviceId: string, profile: DeviceKind) => boolean): void {
    this.devices.clear();
    this.groups.clear();
    this.events = json.events;
    this.evictions = json.evictions;
    this.learnedUntil = json.learnedUntil;
    for (const [deviceId, saved] of Object.entries(json.devices)) {
      if (!keepDevice(deviceId, saved.profile)) continue;
      const baseline = new DeviceBaseline(deviceId, saved.profile, saved.firstSeen, this.countEviction);
      baseline.lastSeen = saved.lastSeen;
      baseline.commands = saved.commands;
      baseline.frozen = saved.frozen;
      loadValues(baseline.values, saved.envelopes, saved.categories, this.countEviction);
      baseline.commanders.load(saved.commanders);
      baseline.hours.load(saved.hours);
      baseline.transitions.load(saved.transitions);
      baseline.versions.load(saved.versions);
      baseline.interArrivalMinutes = LogHistogram.fromJSON(saved.interArrivalMinutes);
      baseline.telemetrySeconds = LogHistogram.fromJSON(saved.telemetrySeconds);
      for (const [key, ts] of Object.entries(saved.pending)) baseline.pending.set(key, ts);
      this.devices.set(deviceId, baseline);
    }
    for (const [profile, saved] of Object.entries(json.groups) as [DeviceKind, GroupBaselineJson][]) {
      const group = new GroupBaseline(profile, saved.firstSeen, this.countEviction);
      group.lastSeen = saved.lastSeen;
      group.commands = saved.commands;
      loadValues(group.values, saved.envelopes, saved.categories, this.countEviction);
      group.commanders.load(saved.commanders);
      group.commanderHours.load(saved.commanderHours);
      group.hours.load(saved.hours);
      group.transitions.load(saved.transitions);
      group.pushers.load(saved.pushers);
      group.origins.load(saved.origins);
      for (const [key, ts] of Object.entries(saved.pending)) group.pending.set(key, ts);
      this.groups.set(profile, group);
    }
  }
}

function loadValues(values: ValueTables, envelopes: Readonly<Record<string, ValueEnvelopeJson>>, categories: Readonly<Record<string, Record<string, Sighting>>>, onEvict: () => void): void {
  for (const [key, envelope] of Object.entries(envelopes)) values.envelopes.set(key, ValueEnvelope.fromJSON(envelope));
  for (const [key, table] of Object.entries(categories)) {
    const loaded = new SightingTable(BASELINE_CAPS.categoriesPerKey, onEvict);
    loaded.load(table);
    values.categories.set(key, loaded);
  }
}
