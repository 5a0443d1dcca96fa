import type { AlertType } from '../alert/catalogue.ts';
import { rateToDose } from '../model/dose.ts';
import { lookupDrug, type DrugLibrary } from '../model/drug-library.ts';
import type { DeviceKind } from '../model/device-profile.ts';
import { DEVICE_PROFILES } from '../model/profiles/index.ts';
import type { DeviceConfig } from '../model/site-schema.ts';
import type { ParamValue } from '../model/wire.ts';
import type { DeviceCommandEvent, InventoryDevice, TelemetryEvent } from '../normalize/events.ts';
import type { AlertView } from '../server/dashboard-protocol.ts';
import type { LinePoint } from './influx-line-protocol.ts';

/**
 * What the InfluxDB output writes (docs/protocol.md, "InfluxDB"): measurement, tag and
 * field names in one place, so that the sink, the docs and the Grafana dashboard
 * (deploy/grafana/dashboards/wardwatch-ward.json, checked by test/unit/grafana-dashboard.test.ts)
 * cannot drift apart. Pure functions, no I/O.
 *
 * Tags are indexed and make series, so only values with a bounded set of values are tags
 * (inventory, profile, command and alert type names, accounts from the config); what a
 * client chooses freely (client id, address, command id) is a field, so that a hostile
 * client cannot grow the number of series (InfluxDB 1.x `max-series-per-database`).
 */

export type Measurement = 'telemetry' | 'command' | 'alert';
export type FieldKind = 'float' | 'string' | 'boolean';

export interface MeasurementSchema {
  readonly tags: readonly string[];
  readonly fields: Readonly<Record<string, FieldKind>>;
}

/** Telemetry fields written: every numeric telemetry field of every profile. */
function telemetryFields(): Record<string, FieldKind> {
  const fields: Record<string, FieldKind> = {};
  for (const profile of Object.values(DEVICE_PROFILES)) {
    for (const [name, spec] of Object.entries(profile.telemetry)) if (spec.type === 'number') fields[name] = 'float';
  }
  return fields;
}

/** Command parameters written as fields: the numeric and boolean ones (strings are free text, or a tag: drug). */
function commandParamFields(): Record<string, FieldKind> {
  const fields: Record<string, FieldKind> = {};
  for (const profile of Object.values(DEVICE_PROFILES)) {
    for (const command of Object.values(profile.commands)) {
      for (const [name, spec] of Object.entries(command.params)) {
        if (spec.type === 'number') fields[name] = 'float';
        else if (spec.type === 'boolean') fields[name] = 'boolean';
      }
    }
  }
  return fields;
}

/** Fields of a command point besides its parameters. */
export const COMMAND_OWN_FIELDS: Readonly<Record<string, FieldKind>> = { count: 'float', client: 'string', address: 'string', command_id: 'string', alerts: 'string' };

export const INFLUX_SCHEMA: Readonly<Record<Measurement, MeasurementSchema>> = {
  /** One point per telemetry message: its numeric fields, and the dose in the library's unit when it can be computed. */
  telemetry: {
    tags: ['ward', 'bed', 'device', 'profile', 'drug', 'dose_unit'],
    fields: { ...telemetryFields(), dose: 'float' },
  },
  /** One point per command to a device: who sent it, how, and whether the detectors flagged it. */
  command: {
    tags: ['ward', 'bed', 'device', 'profile', 'command', 'account', 'role', 'transport', 'verdict', 'drug'],
    fields: { ...commandParamFields(), ...COMMAND_OWN_FIELDS },
  },
  /** One point per alert raised, per batch of repeats folded into it, and per acknowledgement. */
  alert: {
    tags: ['ward', 'bed', 'device', 'profile', 'type', 'severity', 'change'],
    fields: { id: 'string', title: 'string', count: 'float', occurrences: 'float', state: 'string' },
  },
};

/** What happened to an alert: the `change` tag. */
export type AlertChange = 'raised' | 'repeated' | 'acknowledged';

/** Longest tag value written; longer values are cut (tag values are kept in InfluxDB's in-memory index). */
const MAX_TAG_LENGTH = 64;
/** Longest string field written (an alert title is about 200 characters). */
const MAX_STRING_FIELD_LENGTH = 1_024;
/**
 * Line protocol (InfluxDB 1.x, "Line protocol reference") escapes commas, equals signs and
 * spaces in tag values, which influx-line-protocol.ts does; a newline would end the line and
 * a backslash would escape what that adds, so neither may reach it. Control characters have
 * no place in a tag either.
 */
const UNSAFE_IN_TAG = /[\u0000-\u001f\u007f\\]/g;
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/g;

function tagValue(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  const clean = value.replace(UNSAFE_IN_TAG, '_').slice(0, MAX_TAG_LENGTH);
  return clean.length === 0 ? undefined : clean;
}

/** influx-line-protocol.ts quotes string fields and escapes `"` and `\`; control characters become spaces. */
function stringField(value: string): string {
  return value.replace(CONTROL_CHARACTERS, ' ').slice(0, MAX_STRING_FIELD_LENGTH);
}

/** Tags with a value; InfluxDB refuses an empty tag value, so absent ones are left out. */
function tagsOf(entries: readonly (readonly [string, string | null | undefined])[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const [name, value] of entries) {
    const clean = tagValue(value);
    if (clean !== undefined) tags[name] = clean;
  }
  return tags;
}

/** A drug named on the wire: its name when the care area's library has it, `unlisted` when not (bounded either way). */
function drugTag(library: DrugLibrary, careArea: string | undefined, drug: ParamValue | undefined): string | undefined {
  if (typeof drug !== 'string' || drug.length === 0) return undefined;
  return careArea !== undefined && lookupDrug(library, careArea, drug) !== undefined ? drug : 'unlisted';
}

function careAreaOf(reported: ParamValue | undefined, device: InventoryDevice): string | undefined {
  return typeof reported === 'string' && reported.length > 0 ? reported : device.config.careArea;
}

/** The dose a pump's telemetry amounts to in the library's unit, as the nurse screen shows it (server/device-views.ts). */
function telemetryDose(library: DrugLibrary, event: TelemetryEvent): { readonly value: number; readonly unit: string } | null {
  const { drug, rate_ml_h: rate, weight_kg: weight, care_area: reportedArea } = event.fields;
  const careArea = careAreaOf(reportedArea, event.device);
  if (typeof drug !== 'string' || typeof rate !== 'number' || careArea === undefined) return null;
  const entry = lookupDrug(library, careArea, drug);
  if (entry === undefined) return null;
  const value = rateToDose(rate, entry.concentration, entry.doseUnit, typeof weight === 'number' ? weight : Number.NaN);
  return Number.isFinite(value) ? { value, unit: entry.doseUnit } : null;
}

/** Everything a point needs besides the event. */
export interface PointContext {
  readonly drugLibrary: DrugLibrary;
  /** The agent's ward: the ward of alerts about no device (floods, logins). */
  readonly siteWard: string;
  /** Device id → profile, for the `profile` tag of alerts. */
  readonly profiles: ReadonlyMap<string, DeviceKind>;
}

export function pointContext(drugLibrary: DrugLibrary, siteWard: string, devices: readonly DeviceConfig[]): PointContext {
  return { drugLibrary, siteWard, profiles: new Map(devices.map((device) => [device.id, device.profile])) };
}

/** A point as queued: `timestamp` in microseconds (see PointClock). */
export interface QueuedPoint extends LinePoint {
  readonly measurement: Measurement;
  readonly timestamp: number;
}

function deviceTags(device: InventoryDevice): (readonly [string, string | undefined])[] {
  return [['ward', device.config.ward], ['bed', device.config.bed], ['device', device.config.id], ['profile', device.profile.id]];
}

/** A telemetry message as a point; null when it has no numeric field (InfluxDB refuses a point without fields). */
export function telemetryPoint(context: PointContext, event: TelemetryEvent, timestamp: number): QueuedPoint | null {
  const fields: Record<string, number> = {};
  let any = false;
  for (const [name, spec] of Object.entries(event.device.profile.telemetry)) {
    const value = event.fields[name];
    if (spec.type === 'number' && typeof value === 'number' && Number.isFinite(value)) {
      fields[name] = value;
      any = true;
    }
  }
  if (!any) return null;
  const dose = telemetryDose(context.drugLibrary, event);
  if (dose !== null) fields.dose = dose.value;
  const tags = tagsOf([
    ...deviceTags(event.device),
    ['drug', drugTag(context.drugLibrary, careAreaOf(event.fields.care_area, event.device), event.fields.drug)],
    ['dose_unit', dose?.unit],
  ]);
  return { measurement: 'telemetry', tags, fields, timestamp };
}

/** A command as a point: `verdict` is `flagged` when the detectors made any finding on it. */
export function commandPoint(context: PointContext, event: DeviceCommandEvent, findings: readonly AlertType[], timestamp: number): QueuedPoint {
  const fields: Record<string, ParamValue> = {};
  for (const [name, spec] of Object.entries(event.spec.params)) {
    const value = event.message.params[name];
    if (spec.type === 'number' && typeof value === 'number' && Number.isFinite(value)) fields[name] = value;
    else if (spec.type === 'boolean' && typeof value === 'boolean') fields[name] = value;
  }
  fields.count = 1;
  fields.client = stringField(event.source.clientId);
  fields.address = stringField(event.source.address);
  fields.command_id = stringField(event.message.id);
  fields.alerts = [...new Set(findings)].join(',');
  const tags = tagsOf([
    ...deviceTags(event.device),
    ['command', event.spec.name],
    ['account', event.source.account],
    ['role', event.source.role],
    ['transport', event.source.transport],
    ['verdict', findings.length === 0 ? 'accepted' : 'flagged'],
    ['drug', drugTag(context.drugLibrary, careAreaOf(event.message.params.care_area, event.device), event.message.params.drug)],
  ]);
  return { measurement: 'command', tags, fields, timestamp };
}

/** An alert change as a point. `occurrences`: how many new occurrences it stands for (0 for an acknowledgement). */
export function alertPoint(context: PointContext, alert: AlertView, change: AlertChange, occurrences: number, timestamp: number): QueuedPoint {
  const tags = tagsOf([
    ['ward', alert.ward ?? context.siteWard],
    ['bed', alert.bed],
    ['device', alert.deviceId],
    ['profile', alert.deviceId === null ? undefined : context.profiles.get(alert.deviceId)],
    ['type', alert.type],
    ['severity', alert.severity],
    ['change', change],
  ]);
  const fields = { id: alert.id, title: stringField(alert.title), count: alert.count, occurrences, state: alert.state };
  return { measurement: 'alert', tags, fields, timestamp };
}

/** When an alert change happened, in event time (ms): first occurrence, latest occurrence, or the acknowledgement. */
export function alertChangeTime(alert: AlertView, change: AlertChange): number {
  const iso = change === 'raised' ? alert.ts : change === 'repeated' ? alert.lastTs : alert.ack?.at ?? alert.lastTs;
  return Date.parse(iso);
}

/** Points of one measurement within one millisecond are told apart by the microseconds (up to this many). */
const POINTS_PER_MS = 1_000;

/**
 * Point times in microseconds: the event time in ms, times 1000, plus a counter of the
 * points of the same measurement already given that millisecond. InfluxDB 1.x keeps one
 * point per series and timestamp ("a point with the same measurement, tag set and
 * timestamp replaces the earlier one"), so two commands to one pump within a millisecond
 * would otherwise merge into one. Read with `epoch=ms`, the time is the event time.
 * The time is fixed when a point is queued, so a retried batch overwrites itself rather
 * than writing duplicates.
 */
export class PointClock {
  private readonly last = new Map<Measurement, { ms: number; seq: number }>();

  timeOf(measurement: Measurement, eventMs: number): number {
    const ms = Math.floor(eventMs);
    const last = this.last.get(measurement);
    if (last === undefined) {
      this.last.set(measurement, { ms, seq: 0 });
      return ms * 1000;
    }
    if (last.ms === ms) {
      last.seq = Math.min(last.seq + 1, POINTS_PER_MS - 1);
    } else {
      last.ms = ms;
      last.seq = 0;
    }
    return ms * 1000 + last.seq;
  }
}
