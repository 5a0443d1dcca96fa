/**
 * What "Accept as normal for this ward" would teach the baseline, in words, read from the
 * alert's own evidence (`evidence.baseline.accept`, written by the agent's learned
 * detectors: agent/src/detect/baseline/baseline-finding.ts). The confirmation shows this
 * sentence before anything is sent, so the engineer accepts exactly what the agent will
 * add (agent/src/detect/baseline/baseline-accept.ts acceptDeviation), nothing broader.
 * No DOM, so unit tests import it directly.
 */
import type { AlertView, BaselineAcceptanceView } from '../../agent/src/server/dashboard-protocol.ts';

const TABLES: ReadonlySet<string> = new Set(['value', 'commander', 'origin', 'hour', 'transition', 'pusher', 'version', 'cadence']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The acceptance a learned alert carries, or null: not a learned alert (`baseline-*`), a
 * learned one with nothing to accept (a rate creep), or evidence of another shape. The agent
 * decides again when asked; this only decides whether the page offers the action.
 */
export function acceptanceOfAlert(alert: AlertView): BaselineAcceptanceView | null {
  if (!alert.type.startsWith('baseline-') || !isRecord(alert.evidence)) return null;
  const baseline = alert.evidence['baseline'];
  if (!isRecord(baseline)) return null;
  const accept = baseline['accept'];
  if (!isRecord(accept)) return null;
  const { device, table, key, value, unit, level } = accept;
  if (typeof device !== 'string' || device === '' || typeof key !== 'string' || key === '') return null;
  if (typeof table !== 'string' || !TABLES.has(table) || (level !== 'device' && level !== 'group')) return null;
  if (value !== undefined && typeof value !== 'number' && typeof value !== 'string') return null;
  if (unit !== undefined && typeof unit !== 'string') return null;
  return {
    device,
    table: table as BaselineAcceptanceView['table'],
    key,
    level,
    ...(value === undefined ? {} : { value }),
    ...(unit === undefined ? {} : { unit }),
  };
}

/** `account:station-4w` → `account station-4w` (agent/src/detect/baseline/commander.ts commanderOf). */
export function commanderText(commander: string): string {
  const colon = commander.indexOf(':');
  if (colon < 0) return commander;
  const name = commander.slice(colon + 1);
  switch (commander.slice(0, colon)) {
    case 'account':
      return `account ${name}`;
    case 'client':
      return `MQTT client "${name}"`;
    case 'address':
      return `Modbus master ${name}`;
    default:
      return commander;
  }
}

function numberText(value: number): string {
  return String(Math.round(value * 1000) / 1000);
}

function quantity(value: number | string | undefined, unit: string | undefined): string {
  const text = typeof value === 'number' ? numberText(value) : String(value ?? '?');
  return unit === undefined || unit === '' ? text : `${text} ${unit}`;
}

/** Whose baseline: the device's own, or its kind's across the ward (group level). */
function scope(acceptance: BaselineAcceptanceView): string {
  return acceptance.level === 'device' ? acceptance.device : `every device of ${acceptance.device}'s kind on this ward`;
}

/** `h07` → `07:00–07:59` (agent/src/detect/baseline/hour-key.ts). */
function hourText(key: string): string {
  const hour = /^h(\d{2})$/.exec(key)?.[1];
  return hour === undefined ? key : `${hour}:00–${hour}:59`;
}

/** One sentence: exactly what the baseline will hold afterwards, per table (baseline-accept.ts acceptDeviation). */
export function acceptanceSentence(acceptance: BaselineAcceptanceView): string {
  const { key, value, unit } = acceptance;
  switch (acceptance.table) {
    case 'value':
      if (typeof value === 'number') return `The learned range of ${key} for ${scope(acceptance)} is widened to include ${quantity(value, unit)}.`;
      return `${key} = ${quantity(value, unit)} becomes a known value for ${scope(acceptance)}.`;
    case 'commander':
      return `${commanderText(key)} becomes a known commander of ${scope(acceptance)}.`;
    case 'origin': {
      const at = key.lastIndexOf('@');
      return at < 0 ? `${key} becomes a known origin for ${scope(acceptance)}.` : `Commands from ${commanderText(key.slice(0, at))} at address ${key.slice(at + 1)} become normal for ${scope(acceptance)}.`;
    }
    case 'pusher': {
      const at = key.indexOf('@');
      return at < 0 ? `${key} becomes a known pusher for ${scope(acceptance)}.` : `${key.slice(0, at)} from ${commanderText(key.slice(at + 1))} becomes a known push for ${scope(acceptance)}.`;
    }
    case 'hour':
      return `Commands at ${hourText(key)} (the site's time zone) become normal for ${acceptance.device} and for every device of its kind on this ward.`;
    case 'transition': {
      const arrow = key.indexOf('>');
      if (arrow < 0) return `The sequence ${key} becomes known for every device of ${acceptance.device}'s kind on this ward.`;
      const before = key.slice(0, arrow);
      const after = key.slice(arrow + 1);
      return `${after} ${before === '-' ? 'as the first command in 12 hours' : `right after ${before}`} becomes a known sequence for ${acceptance.device} and every device of its kind on this ward.`;
    }
    case 'version':
      return `Version ${key} becomes known for ${acceptance.device}.`;
    case 'cadence':
      return typeof value === 'number' && value > 0
        ? `${acceptance.device}'s telemetry about every ${quantity(value, unit === undefined || unit === '' ? 's' : unit)} becomes its learned rate.`
        : `${acceptance.device}'s current telemetry rate becomes its learned rate.`;
  }
}
