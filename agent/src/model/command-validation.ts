import type { CommandSpec, DeviceProfile, ParameterSpec } from './device-profile.ts';
import type { CommandMessage, ParamValue } from './wire.ts';

/** Why a payload on a command topic could not be read as a command (named anomalies). */
export type CommandAnomaly = 'payload-not-json' | 'payload-schema' | 'unknown-command';

export interface CommandDecodeFailure {
  readonly ok: false;
  readonly anomaly: CommandAnomaly;
  readonly detail: string;
}

export interface CommandDecodeSuccess {
  readonly ok: true;
  readonly message: CommandMessage;
  readonly spec: CommandSpec;
}

export type CommandDecodeResult = CommandDecodeSuccess | CommandDecodeFailure;

const ENVELOPE_STRING_FIELDS = ['id', 'ts', 'issuer', 'user', 'command'] as const;
const MAX_ENVELOPE_STRING = 128;

function fail(anomaly: CommandAnomaly, detail: string): CommandDecodeFailure {
  return { ok: false, anomaly, detail };
}

/**
 * Checks the type of one parameter. Range is deliberately not checked here: a value
 * outside the device limits is well-formed and is a finding for the device-limits
 * detector, not a parse failure.
 */
function parameterTypeError(name: string, spec: ParameterSpec, value: unknown): string | null {
  switch (spec.type) {
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? null : `params.${name} must be a finite number (${spec.unit})`;
    case 'string':
      return typeof value === 'string' && value.length <= spec.maxLength ? null : `params.${name} must be a string of at most ${spec.maxLength} characters`;
    case 'enum':
      return typeof value === 'string' && spec.values.includes(value) ? null : `params.${name} must be one of ${spec.values.join(', ')}`;
    case 'boolean':
      return typeof value === 'boolean' ? null : `params.${name} must be true or false`;
  }
}

/**
 * Decodes a command payload against the device profile: JSON, envelope fields, a known
 * command, and typed parameters. Never throws; returns a named anomaly instead.
 */
export function decodeCommand(profile: DeviceProfile, payload: string): CommandDecodeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return fail('payload-not-json', 'payload is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return fail('payload-schema', 'payload must be a JSON object');
  }
  const record = parsed as Record<string, unknown>;
  for (const field of ENVELOPE_STRING_FIELDS) {
    const value = record[field];
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ENVELOPE_STRING) {
      return fail('payload-schema', `${field} must be a non-empty string of at most ${MAX_ENVELOPE_STRING} characters`);
    }
  }
  const commandName = record.command as string;
  const spec = Object.hasOwn(profile.commands, commandName) ? profile.commands[commandName] : undefined;
  if (spec === undefined) return fail('unknown-command', `${profile.id} has no command "${commandName.slice(0, 64)}"`);

  const rawParams = record.params ?? {};
  if (typeof rawParams !== 'object' || rawParams === null || Array.isArray(rawParams)) {
    return fail('payload-schema', 'params must be a JSON object');
  }
  const params: Record<string, ParamValue> = {};
  for (const [name, paramSpec] of Object.entries(spec.params)) {
    const value = (rawParams as Record<string, unknown>)[name];
    if (value === undefined) {
      if (paramSpec.required) return fail('payload-schema', `params.${name} is required for ${spec.name}`);
      continue;
    }
    const error = parameterTypeError(name, paramSpec, value);
    if (error !== null) return fail('payload-schema', error);
    params[name] = value as ParamValue;
  }
  for (const name of Object.keys(rawParams)) {
    if (!Object.hasOwn(spec.params, name)) return fail('payload-schema', `params.${name.slice(0, 64)} is not a parameter of ${spec.name}`);
  }
  const message: CommandMessage = {
    id: record.id as string,
    ts: record.ts as string,
    issuer: record.issuer as string,
    user: record.user as string,
    command: commandName,
    params,
  };
  return { ok: true, message, spec };
}

/** A parameter value outside the device limits, for the device-limits detector and the simulated device. */
export interface LimitViolation {
  readonly param: string;
  readonly value: number;
  readonly min: number;
  readonly max: number;
  readonly unit: string;
}

export function deviceLimitViolations(spec: CommandSpec, params: Readonly<Record<string, ParamValue>>): LimitViolation[] {
  const violations: LimitViolation[] = [];
  for (const [name, paramSpec] of Object.entries(spec.params)) {
    if (paramSpec.type !== 'number') continue;
    const value = params[name];
    if (typeof value !== 'number') continue;
    if (paramSpec.offValue !== undefined && value === paramSpec.offValue) continue;
    if (value < paramSpec.min || value > paramSpec.max) {
      violations.push({ param: name, value, min: paramSpec.min, max: paramSpec.max, unit: paramSpec.unit });
    }
  }
  return violations;
}
