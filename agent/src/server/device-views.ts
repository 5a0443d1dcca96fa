import { rateToDose } from '../model/dose.ts';
import { lookupDrug, type DrugLibrary } from '../model/drug-library.ts';
import { eventTimeIso } from '../model/wire.ts';
import { formatQuantity } from '../alert/format.ts';
import { SEVERITY_RANK } from '../alert/catalogue.ts';
import type { DeviceState } from '../normalize/device-state.ts';
import type { AlertView, DeviceView, Severity } from './dashboard-protocol.ts';

function pumpSummary(state: DeviceState, library: DrugLibrary): string {
  const infusion = state.infusion;
  if (infusion === null) return 'No infusion programmed';
  const entry = lookupDrug(library, infusion.careArea, infusion.drug);
  const rate = `${infusion.drug} ${formatQuantity(infusion.rateMlPerHour)} mL/h`;
  if (entry === undefined) return `${rate} (not in the ${infusion.careArea} library)`;
  const dose = rateToDose(infusion.rateMlPerHour, entry.concentration, entry.doseUnit, infusion.weightKg);
  return `${rate} = ${formatQuantity(dose)} ${entry.doseUnit}`;
}

function programmerSummary(state: DeviceState): string {
  const { session, implant_serial: implant, mode, lower_rate_ppm: lowerRate } = state.telemetry;
  if (session !== 'open') return 'No programming session';
  const programmed = typeof mode === 'string' && mode.length > 0 ? `, ${mode} ${typeof lowerRate === 'number' ? `${lowerRate} ppm` : ''}` : '';
  return `Session with ${typeof implant === 'string' ? implant : 'implant'}${programmed}`.trim();
}

/** What a tile on the nurse screen shows for one device. */
export function deviceView(state: DeviceState, library: DrugLibrary, openAlerts: readonly AlertView[]): DeviceView {
  const { config, profile } = state.device;
  const reported = state.telemetry.state ?? state.telemetry.session;
  const alarm = state.telemetry.alarm;
  let worst: Severity | null = null;
  for (const alert of openAlerts) {
    if (worst === null || SEVERITY_RANK[alert.severity] < SEVERITY_RANK[worst]) worst = alert.severity;
  }
  return {
    id: config.id,
    profile: profile.id,
    ward: config.ward,
    bed: config.bed ?? null,
    location: config.location ?? null,
    careArea: config.careArea ?? null,
    online: state.online,
    lastSeen: state.lastSeen === null ? null : eventTimeIso(state.lastSeen),
    state: state.online ? (typeof reported === 'string' ? reported : 'unknown') : 'offline',
    summary: profile.id === 'infusion-pump' ? pumpSummary(state, library) : programmerSummary(state),
    alarm: typeof alarm === 'string' && alarm.length > 0 ? alarm : null,
    openAlerts: openAlerts.length,
    worstOpenSeverity: worst,
  };
}
