import type { DeviceProfile } from '../model/device-profile.ts';
import type { ParamValue } from '../model/wire.ts';

export type TelemetryDecodeResult =
  | { readonly ok: true; readonly fields: Readonly<Record<string, ParamValue>> }
  | { readonly ok: false; readonly anomaly: 'payload-not-json' | 'telemetry-schema'; readonly detail: string };

/**
 * Reads a telemetry payload through the device profile. Unknown fields are dropped (a
 * newer firmware may add some); a known field of the wrong type is an anomaly, because
 * the agent would otherwise reason on a value the device did not mean.
 */
export function decodeTelemetry(profile: DeviceProfile, payload: string): TelemetryDecodeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return { ok: false, anomaly: 'payload-not-json', detail: 'telemetry is not valid JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, anomaly: 'telemetry-schema', detail: 'telemetry must be a JSON object' };
  }
  const fields: Record<string, ParamValue> = {};
  for (const [name, spec] of Object.entries(profile.telemetry)) {
    const value = (parsed as Record<string, unknown>)[name];
    if (value === undefined) continue;
    const valid = spec.type === 'number' ? typeof value === 'number' && Number.isFinite(value) : typeof value === spec.type;
    if (!valid) return { ok: false, anomaly: 'telemetry-schema', detail: `${name} must be a ${spec.type}` };
    fields[name] = value as ParamValue;
  }
  return { ok: true, fields };
}
