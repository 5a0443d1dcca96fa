import type { SiteConfig } from '../../model/site-schema.ts';
import type { BaselineModel, ValueTables } from './baseline-model.ts';

/**
 * Learning progress for `wardwatch baseline status` (issue 5, part 2): events seen,
 * devices covered, and how stable each envelope is (its bounds held over the last 20
 * samples). Times are event times: "now" is the newest event learned.
 */

export type DeviceLearningState = 'not seen' | 'learning' | 'monitoring' | 'frozen';

export interface DeviceStatusLine {
  readonly id: string;
  readonly profile: string;
  readonly state: DeviceLearningState;
  readonly hoursLearned: number;
  readonly commands: number;
  readonly commanders: number;
  readonly envelopes: number;
  readonly stableEnvelopes: number;
  readonly pending: number;
}

export interface BaselineStatus {
  readonly saved: boolean;
  readonly mode: string;
  readonly learningHours: number;
  readonly learnedUntil: string | null;
  readonly events: number;
  readonly evictions: number;
  readonly devicesCovered: number;
  readonly devicesTotal: number;
  readonly devices: readonly DeviceStatusLine[];
  readonly kinds: readonly { readonly profile: string; readonly hoursLearned: number; readonly commands: number; readonly envelopes: number; readonly stableEnvelopes: number; readonly judging: boolean }[];
}

const HOUR_MS = 3_600_000;

function stableCount(values: ValueTables): number {
  let stable = 0;
  for (const envelope of values.envelopes.values()) if (envelope.stable) stable += 1;
  return stable;
}

function hours(from: number, to: number | null): number {
  return to === null ? 0 : Math.max(0, Math.round(((to - from) / HOUR_MS) * 10) / 10);
}

export function baselineStatus(model: BaselineModel, config: SiteConfig, saved: boolean): BaselineStatus {
  const now = model.learnedUntil;
  const devices = config.devices.map((device): DeviceStatusLine => {
    const learned = model.devices.get(device.id);
    if (learned === undefined) {
      return { id: device.id, profile: device.profile, state: 'not seen', hoursLearned: 0, commands: 0, commanders: 0, envelopes: 0, stableEnvelopes: 0, pending: 0 };
    }
    const hoursLearned = hours(learned.firstSeen, now);
    const state: DeviceLearningState = learned.frozen ? 'frozen' : model.mode === 'monitor' && hoursLearned >= config.baseline.learningHours ? 'monitoring' : 'learning';
    return {
      id: device.id,
      profile: device.profile,
      state,
      hoursLearned,
      commands: learned.commands,
      commanders: learned.commanders.size,
      envelopes: learned.values.envelopes.size,
      stableEnvelopes: stableCount(learned.values),
      pending: learned.pending.size,
    };
  });
  const kinds = [...model.groups.values()].map((group) => ({
    profile: group.profile,
    hoursLearned: hours(group.firstSeen, now),
    commands: group.commands,
    envelopes: group.values.envelopes.size,
    stableEnvelopes: stableCount(group.values),
    judging: now !== null && model.judging(group.profile, now),
  }));
  return {
    saved,
    mode: model.mode,
    learningHours: config.baseline.learningHours,
    learnedUntil: now === null ? null : new Date(now).toISOString(),
    events: model.events,
    evictions: model.evictions,
    devicesCovered: devices.filter((device) => device.commands > 0).length,
    devicesTotal: devices.length,
    devices,
    kinds,
  };
}

export function formatBaselineStatus(status: BaselineStatus): string {
  const lines: string[] = [];
  if (!status.saved) lines.push('No baseline saved yet: the agent writes one to its data directory while it runs.');
  lines.push(`mode ${status.mode}; learning period ${status.learningHours} h; learned until ${status.learnedUntil ?? '—'}`);
  lines.push(`${status.events.toLocaleString('en-US')} events learned; ${status.devicesCovered} of ${status.devicesTotal} devices commanded at least once${status.evictions > 0 ? `; ${status.evictions} entries pushed out by table caps` : ''}`);
  for (const kind of status.kinds) {
    lines.push(`${kind.profile}: ${kind.hoursLearned} h, ${kind.commands} commands, ${kind.stableEnvelopes}/${kind.envelopes} envelopes stable, ${kind.judging ? 'deviations judged' : 'still learning'}`);
  }
  lines.push('');
  const header = ['device', 'state', 'hours', 'commands', 'commanders', 'stable envelopes', 'pending review'];
  const rows = status.devices.map((device) => [device.id, device.state, String(device.hoursLearned), String(device.commands), String(device.commanders), `${device.stableEnvelopes}/${device.envelopes}`, String(device.pending)]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  for (const row of [header, ...rows]) lines.push(row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd());
  return `${lines.join('\n')}\n`;
}
