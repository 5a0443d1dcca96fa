import type { Severity } from '../server/dashboard-protocol.ts';

export interface CatalogueEntry {
  readonly severity: Severity;
  /** What the alert means, for the engineer and for docs/protocol.md. */
  readonly description: string;
}

/**
 * Every alert Wardwatch can raise, with a stable type id and its severity (DESIGN.md,
 * principle 6; Zeek notice framework). Ids never change meaning once shipped: log
 * shippers and SIEM rules key on them.
 */
export const ALERT_CATALOGUE = {
  'dose-above-hard-limit': { severity: 'critical', description: 'A programmed rate converts to a dose above the drug library hard maximum for the care area.' },
  'dose-below-hard-limit': { severity: 'critical', description: 'A programmed rate converts to a dose below the drug library hard minimum.' },
  'dose-above-soft-limit': { severity: 'warning', description: 'A programmed dose is above the soft maximum (overridable by a clinician).' },
  'dose-below-soft-limit': { severity: 'warning', description: 'A programmed dose is below the soft minimum.' },
  'bolus-above-hard-limit': { severity: 'critical', description: 'A bolus converts to a dose above the library hard maximum for a bolus of that drug.' },
  'bolus-above-soft-limit': { severity: 'warning', description: 'A bolus is above the soft bolus maximum.' },
  'rate-step-tenfold': { severity: 'high', description: 'A new rate is ten times (configurable) the current rate or less than a tenth of it: the classic decimal-point slip.' },
  'drug-not-in-library': { severity: 'high', description: 'A pump was programmed with a drug or care area the drug library does not list.' },
  'care-area-mismatch': { severity: 'warning', description: 'A pump was programmed under a care area other than the one it is assigned to, so other limits apply.' },
  'rate-without-context': { severity: 'info', description: 'A rate or bolus arrived for a pump whose drug is not known to the agent, so library limits could not be checked.' },
  'device-limit-exceeded': { severity: 'critical', description: 'A command parameter lies outside the range the device profile allows.' },
  'unauthorized-command': { severity: 'critical', description: 'A command came from an account the command policy does not allow for that device and command.' },
  'issuer-mismatch': { severity: 'high', description: 'The issuer written in a command differs from the account that authenticated and sent it.' },
  'device-impersonation': { severity: 'high', description: 'Telemetry, status or an acknowledgement for a device was published by an account that is not the device\'s own.' },
  'auth-failure-burst': { severity: 'high', description: 'Repeated failed MQTT logins from one address or for one username within the window.' },
  'dashboard-login-burst': { severity: 'high', description: 'Repeated failed or refused dashboard logins from one address (10 within 5 minutes by default): password guessing or a credential-stuffing run; the address is refused until its attempts age out.' },
  'pacing-tachy-therapy-off': { severity: 'critical', description: 'A programmer switched tachyarrhythmia therapy off.' },
  'pacing-asynchronous-mode': { severity: 'critical', description: 'A programmer set an asynchronous pacing mode (AOO, VOO, DOO), which paces regardless of the heart\'s own rhythm.' },
  'pacing-amplitude-off': { severity: 'critical', description: 'A programmer switched the pacing output off (amplitude 0 V).' },
  'malformed-payload-burst': { severity: 'high', description: 'A client sent a burst of payloads that do not follow the wire contract (not JSON, wrong types, unknown command, oversized).' },
  'capture-evasion': { severity: 'high', description: 'In a capture, traffic shaped so that the monitor and the device read different things: IP fragments overlapping with different bytes (RFC 1858 §4), misaligned, oversize, nested, or a flood that filled the reassembly budget (the datagram was not judged), or TCP segments carrying other bytes for sequence numbers already seen (the copy decoded first was judged). The device may have obeyed what the monitor did not see.' },
  'connect-flood': { severity: 'high', description: 'Many MQTT connection attempts, accepted or refused, from one address or for one account within the window (detection.connectFlood): a connection flood or a scripted login storm.' },
  'publish-flood': { severity: 'high', description: 'One sender published far more messages than a ward produces within the window (detection.publishFlood): a flood that can starve the broker and delay real commands.' },
  'broad-subscription': { severity: 'high', description: 'A non-admin account subscribed to every topic (#, +/#), to the broker\'s $SYS topics, or to the command topics of devices that are not its own: wildcard snooping on the ward\'s commands.' },
  'command-replay': { severity: 'high', description: 'A command reused the id of a command already received for the same device within detection.replay.windowHours: a captured command sent again. Its publisher\'s own QoS 1/2 re-send (DUP set, same client id, account, packet id and payload, within 5 min, on a later connection than the copy before it, at most 2 per command) is counted instead (wardwatch_command_resends_total); through the MQTT tap DUP is not visible.' },
  'command-stale': { severity: 'warning', description: 'A command arrived more than detection.replay.maxCommandAgeSeconds after the time written in it: a captured command re-sent later, or a sender whose clock is wrong.' },
  'device-silent': { severity: 'warning', description: 'A device that was seen sent no telemetry for detection.silence.intervals times its telemetry period, or went offline and did not come back within that time.' },
  'retained-command': { severity: 'high', description: 'A command was published with the MQTT retain flag, so the broker will deliver it again to the device at every reconnect.' },
  'modbus-diagnostic-command': { severity: 'critical', description: 'Modbus diagnostics that silence or restart a device (FC8 force-listen-only or restart-communications) from a host that is not a maintenance host.' },
  'modbus-maintenance-function': { severity: 'high', description: 'A maintenance function (other FC8 diagnostics, FC43/14 device identification, FC17 report server id) from a host that is not a maintenance host.' },
  'modbus-function-not-allowed': { severity: 'high', description: 'A Modbus function code outside the device\'s allowlist (3, 4, 6, 16, 23): coils, file records, FIFO, vendor or unknown codes.' },
  'modbus-unauthorized-write': { severity: 'critical', description: 'A register write from a Modbus master that the command policy does not allow to command this device.' },
  'modbus-function-scan': { severity: 'high', description: 'A master drew several illegal-function exceptions in a short window: probing which function codes a device answers.' },
  'modbus-address-scan': { severity: 'high', description: 'A master drew several illegal-data-address exceptions in a short window: probing the register map.' },
  'modbus-unit-sweep': { severity: 'high', description: 'A master addressed many distinct unit ids in a short window: sweeping for devices behind a gateway.' },
  'modbus-write-burst': { severity: 'high', description: 'Many register writes from one master in a short window (FrostyGoop-style FC16 loops).' },
  'monitoring-gap': { severity: 'high', description: 'The MQTT tap lost the site\'s broker: nothing published in that time was seen or judged. The alert gives the gap\'s length.' },
  'inspection-failed': { severity: 'high', description: 'The agent failed while inspecting a request and forwarded it unchecked (fail open); the request was not judged.' },
  'account-concurrent-session': { severity: 'high', description: 'An account connected from another client id or another address while it was already connected: the same credentials in use in two places at once.' },
  // Learned baselines (issue 5): deviations start at warning unless a clinical rule raises them.
  'baseline-value-unusual': { severity: 'warning', description: 'A commanded value inside the hard limits but outside what this device (or, with little history, devices of its kind in the care area) was learned to receive.' },
  'baseline-value-far': { severity: 'high', description: 'A high-alert drug (drug library highAlert) commanded far outside its learned envelope: baseline.farFactor times beyond its edge or more.' },
  'baseline-new-commander': { severity: 'warning', description: 'An account, client or Modbus master that never commanded this device during learning (or, for a device with little history, no device of its kind).' },
  'baseline-unknown-pusher': { severity: 'high', description: 'A drug library or software push from an account that never pushed one to devices of this kind during learning (Hospira PCA3, CVE-2014-5406; CareLink 2090, CVE-2018-10596).' },
  'baseline-unusual-hour': { severity: 'warning', description: 'A command in the quiet period of this kind of device (the longest run of hours, in site.timezone, in which none was commanded during learning), and of the device itself.' },
  'baseline-unusual-sequence': { severity: 'warning', description: 'A command following one it never followed during learning on devices of this kind (a bolus after stop, a program without start_session).' },
  'baseline-rate-creep': { severity: 'warning', description: 'Several small rate changes in one direction within a short window, together a large change: each step passes the limits, the sum walks the dose away (baseline.creep).' },
  'delivery-mismatch': { severity: 'high', description: 'The volume a pump reports infused does not match its programmed rate over time: reconfigured while the display shows the prescribed value (B. Braun SpaceCom, CVE-2021-33885).' },
  'baseline-version-change': { severity: 'high', description: 'A device reports a drug library or software version that no push from an account allowed to send one preceded.' },
  'baseline-telemetry-cadence': { severity: 'warning', description: 'A device\'s own telemetry arrived much faster than it was learned to, for most of the last ten slots (more than 1.5 times its learned rate, reports after commands not counted): a second publisher speaking as the device with its credentials, a replayer, or changed firmware. Through the MQTT tap, where no sender is visible, the only sign of one.' },
} as const satisfies Record<string, CatalogueEntry>;

export type AlertType = keyof typeof ALERT_CATALOGUE;

export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { critical: 0, high: 1, warning: 2, info: 3 };
