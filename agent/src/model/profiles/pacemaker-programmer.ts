import type { DeviceProfile } from '../device-profile.ts';

/** Bradycardia pacing modes, with and without rate response (DESIGN.md, reference facts). */
export const PACING_MODES = [
  'AOO', 'VOO', 'DOO', 'AAI', 'VVI', 'DDD', 'VDD', 'DDI',
  'AOOR', 'VOOR', 'DOOR', 'AAIR', 'VVIR', 'DDDR', 'VDDR', 'DDIR',
] as const;

/** Asynchronous modes pace regardless of the heart's own rhythm (no sensing). */
export const ASYNCHRONOUS_PACING_MODES: ReadonlySet<string> = new Set(['AOO', 'VOO', 'DOO', 'AOOR', 'VOOR', 'DOOR']);

/**
 * A pacemaker programmer: a clinician opens a session with an implant by serial number
 * and programs it. Ranges are the typical programmable envelope of current implants.
 */
export const pacemakerProgrammerProfile: DeviceProfile = {
  id: 'pacemaker-programmer',
  title: 'Pacemaker programmer',
  telemetryIntervalMs: 5_000,
  commands: {
    start_session: {
      name: 'start_session',
      description: 'Open a programming session with an implant',
      params: {
        implant_serial: { type: 'string', maxLength: 32, required: true, description: 'Implant serial number' },
      },
    },
    program: {
      name: 'program',
      description: 'Program the implant in the open session',
      params: {
        mode: { type: 'enum', values: PACING_MODES, required: true, description: 'Pacing mode' },
        lower_rate_ppm: { type: 'number', unit: 'ppm', min: 30, max: 175, required: true, description: 'Lower rate limit' },
        upper_rate_ppm: { type: 'number', unit: 'ppm', min: 50, max: 175, required: true, description: 'Upper tracking rate' },
        amplitude_v: { type: 'number', unit: 'V', min: 0.5, max: 7.0, offValue: 0, resolution: 0.1, required: true, description: 'Pulse amplitude; 0 = output off' },
        pulse_width_ms: { type: 'number', unit: 'ms', min: 0.05, max: 1.9, resolution: 0.01, required: true, description: 'Pulse width' },
        tachy_therapy: { type: 'boolean', required: true, description: 'Tachyarrhythmia therapy enabled' },
      },
    },
    end_session: { name: 'end_session', description: 'Close the programming session', params: {} },
    install_update: {
      name: 'install_update',
      description: 'Install a software update; only the vendor update server should send it (CareLink 2090, CVE-2018-10596)',
      params: {
        version: { type: 'string', maxLength: 64, required: true, description: 'Software version' },
        sha256: { type: 'string', maxLength: 64, required: true, description: 'SHA-256 of the update package' },
      },
    },
  },
  telemetry: {
    session: { type: 'string', description: 'idle | open' },
    implant_serial: { type: 'string', description: 'Implant in session, empty when idle' },
    mode: { type: 'string', description: 'Last programmed mode' },
    lower_rate_ppm: { type: 'number', unit: 'ppm', description: 'Last programmed lower rate' },
    battery_pct: { type: 'number', unit: '%', description: 'Battery charge' },
    firmware: { type: 'string', description: 'Programmer software version' },
  },
};
