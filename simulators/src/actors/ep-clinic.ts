import { localTime, nextLocalHourWhere } from '../../../agent/src/model/local-time.ts';
import type { LocalTime } from '../../../agent/src/model/local-time.ts';
import type { DeviceConfig } from '../../../agent/src/model/site-schema.ts';
import type { AckMessage, ParamValue } from '../../../agent/src/model/wire.ts';
import type { SimClock, SimTimer } from '../clock.ts';
import type { Random } from '../random.ts';
import type { StationTransport } from '../transports/station-transport.ts';
import { EP_CLINICIANS } from './clinician-roster.ts';
import { CommandChannel } from './command-channel.ts';
import type { SentCommand } from './command-channel.ts';

/**
 * The EP clinic's device checks: every 2–6 h per programmer a patient comes in, a session
 * is opened with the implant, 1–3 programs are sent, and the session is closed. Every
 * program is an ordinary bradycardia setting inside the typical envelope (DESIGN.md,
 * reference facts): synchronous modes only, tachy therapy on, amplitude well above off.
 * What the agent must flag as critical (asynchronous mode, tachy therapy off, output off)
 * never happens in a quiet clinic.
 *
 * With `hours`, patients come only in clinic hours (by default 08:00–18:00, Monday to
 * Friday, in the site's time zone): a patient due outside them comes 0–90 min after the
 * next opening. A session already open at closing time is finished.
 */

export interface EpClinicOptions {
  /** How the workstation reaches its programmers: MQTT, Modbus, or each its own (station-transport.ts). */
  readonly transport: StationTransport;
  readonly clock: SimClock;
  readonly random: Random;
  /** The EP workstation's MQTT account, sent as `issuer`. */
  readonly issuer: string;
  readonly programmers: readonly DeviceConfig[];
  /** Clinic hours; absent: patients come at any hour (a short demo at night still shows sessions). */
  readonly hours?: ClinicHours;
  readonly log?: (line: string) => void;
}

/** When the clinic sees patients, in local time. */
export interface ClinicHours {
  /** IANA time zone the hours are in (the site's `site.timezone`). */
  readonly timeZone: string;
  /** Local hour from which sessions start (8: 08:00). */
  readonly openHour: number;
  /** Local hour from which no session starts (18: 18:00); one in progress is finished. */
  readonly closeHour: number;
  /** Local days of the week the clinic is open, 0 = Sunday … 6 = Saturday. */
  readonly weekdays: readonly number[];
}

/** 08:00–18:00, Monday to Friday. */
export const DEFAULT_CLINIC_HOURS: Omit<ClinicHours, 'timeZone'> = Object.freeze({ openHour: 8, closeHour: 18, weekdays: Object.freeze([1, 2, 3, 4, 5]) });

/** The default clinic hours in a time zone, with any field overridden. */
export function clinicHoursIn(timeZone: string, overrides: Partial<Omit<ClinicHours, 'timeZone'>> = {}): ClinicHours {
  return { ...DEFAULT_CLINIC_HOURS, ...overrides, timeZone };
}

function checkClinicHours(hours: ClinicHours): void {
  const { openHour, closeHour, weekdays } = hours;
  if (!Number.isInteger(openHour) || !Number.isInteger(closeHour) || openHour < 0 || closeHour > 24 || openHour >= closeHour) {
    throw new RangeError(`clinic hours must be whole hours with 0 ≤ open < close ≤ 24, not ${openHour}–${closeHour}`);
  }
  if (weekdays.some((day) => !Number.isInteger(day) || day < 0 || day > 6)) {
    throw new RangeError(`clinic weekdays are 0 (Sunday) to 6 (Saturday), not ${weekdays.join(', ')}`);
  }
  localTime(0, hours.timeZone); // throws RangeError for an unknown zone
}

function isOpenAt(hours: ClinicHours, time: LocalTime): boolean {
  return time.hour >= hours.openHour && time.hour < hours.closeHour && hours.weekdays.includes(time.weekday);
}

/** Whether the clinic sees patients at `epochMs`. */
export function isClinicOpen(hours: ClinicHours, epochMs: number): boolean {
  return isOpenAt(hours, localTime(epochMs, hours.timeZone));
}

/** Synchronous (sensing) modes seen in routine follow-up. */
export const ROUTINE_PACING_MODES: readonly string[] = ['DDD', 'DDDR', 'VVI', 'VVIR', 'AAI', 'DDI'];
const PULSE_WIDTHS_MS: readonly number[] = [0.3, 0.4, 0.5, 0.6];

type VisitPhase = 'waiting' | 'opening' | 'programming' | 'closing';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const ACK_TIMEOUT_MS = 2 * MINUTE;

/** One programmer and the patient currently at it. */
class ProgrammerVisit {
  phase: VisitPhase = 'waiting';
  timer: SimTimer | null = null;
  awaitingId: string | null = null;
  clinician = '';
  implantSerial = '';
  programsLeft = 0;
  readonly onTimer: () => void;

  constructor(readonly device: DeviceConfig, run: (visit: ProgrammerVisit) => void) {
    this.onTimer = () => run(this);
  }
}

/** An ordinary program for a bradycardia pacemaker, inside the typical envelope. */
export function routinePacingProgram(random: Random): Record<string, ParamValue> {
  const lower = random.int(50, 80);
  // Upper tracking rate 100–140 ppm in steps of 5, always above the lower rate.
  const upper = 5 * random.int(20, 28);
  return {
    mode: random.pick(ROUTINE_PACING_MODES),
    lower_rate_ppm: lower,
    upper_rate_ppm: upper,
    // 2.0–5.0 V in the 0.25 V steps of a programmer.
    amplitude_v: 2 + 0.25 * random.int(0, 12),
    pulse_width_ms: random.pick(PULSE_WIDTHS_MS),
    tachy_therapy: true,
  };
}

export class EpClinic {
  private readonly transport: StationTransport;
  private readonly clock: SimClock;
  private readonly random: Random;
  private readonly issuer: string;
  private readonly log: ((line: string) => void) | undefined;
  private readonly channel: CommandChannel<ProgrammerVisit>;
  private readonly visits: ProgrammerVisit[];
  private readonly hours: ClinicHours | null;
  private running = false;

  constructor(options: EpClinicOptions) {
    this.transport = options.transport;
    this.clock = options.clock;
    this.random = options.random;
    this.issuer = options.issuer;
    this.log = options.log;
    if (options.hours !== undefined) checkClinicHours(options.hours);
    this.hours = options.hours ?? null;
    this.channel = new CommandChannel<ProgrammerVisit>({ transport: this.transport, clock: this.clock, issuer: this.issuer, onAck: this.onAck });
    this.visits = options.programmers.map((device) => new ProgrammerVisit(device, this.runTimer));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const visit of this.visits) {
      this.channel.watch(visit.device.id);
      // The first patient arrives soon, so that a short demo shows a session.
      this.schedule(visit, this.random.uniform(2 * MINUTE, 20 * MINUTE));
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const visit of this.visits) this.cancelTimer(visit);
    await this.transport.close();
  }

  private readonly runTimer = (visit: ProgrammerVisit): void => {
    visit.timer = null;
    if (!this.running) return;
    if (visit.awaitingId !== null) {
      this.log?.(`${visit.device.id}: no ack within ${ACK_TIMEOUT_MS / MINUTE} min; the session is abandoned`);
      visit.awaitingId = null;
      this.nextPatient(visit, 30 * MINUTE);
      return;
    }
    switch (visit.phase) {
      case 'waiting':
        if (this.hours !== null && !isClinicOpen(this.hours, this.clock.now())) {
          this.waitForOpening(visit, this.hours);
          return;
        }
        visit.phase = 'opening';
        visit.clinician = this.random.pick(EP_CLINICIANS);
        visit.implantSerial = `PM-${String(this.random.int(0, 999_999)).padStart(6, '0')}`;
        this.send(visit, 'start_session', { implant_serial: visit.implantSerial });
        return;
      case 'programming':
        this.send(visit, 'program', routinePacingProgram(this.random));
        return;
      case 'closing':
        this.send(visit, 'end_session', {});
        return;
      case 'opening':
        return;
    }
  };

  private send(visit: ProgrammerVisit, command: string, params: Readonly<Record<string, ParamValue>>): void {
    const sent = this.channel.compose(visit.device.id, visit.clinician, command, params, visit);
    visit.awaitingId = sent.message.id;
    this.schedule(visit, ACK_TIMEOUT_MS);
    if (this.log !== undefined) {
      const detail = Object.entries(params).map(([name, value]) => `${name}=${String(value)}`).join(' ');
      this.log(`${this.issuer}/${visit.clinician} → ${visit.device.id} ${command}${detail.length > 0 ? ` ${detail}` : ''}`);
    }
    this.channel.transmit(sent);
  }

  private readonly onAck = (sent: SentCommand<ProgrammerVisit>, ack: AckMessage): void => {
    const visit = sent.context;
    if (visit.awaitingId !== sent.message.id || !this.running) return;
    visit.awaitingId = null;
    this.cancelTimer(visit);
    const command = sent.message.command;
    if (!ack.ok) {
      this.log?.(`${visit.device.id}: ${command} refused: ${ack.error ?? 'no reason given'}`);
      // A session left open (by someone else, or before a restart) is closed first.
      if (command === 'end_session') this.nextPatient(visit, 15 * MINUTE);
      else this.closeSession(visit);
      return;
    }
    switch (command) {
      case 'start_session':
        visit.phase = 'programming';
        visit.programsLeft = this.random.int(1, 3);
        // Interrogation and measurements before the first change.
        this.schedule(visit, this.random.uniform(1 * MINUTE, 3 * MINUTE));
        return;
      case 'program':
        visit.programsLeft--;
        if (visit.programsLeft > 0) this.schedule(visit, this.random.uniform(1 * MINUTE, 4 * MINUTE));
        else this.closeSession(visit);
        return;
      case 'end_session':
        this.nextPatient(visit, this.random.uniform(2 * HOUR, 6 * HOUR));
        return;
      default:
        return;
    }
  };

  /** A patient due while the clinic is closed comes in soon after it opens. */
  private waitForOpening(visit: ProgrammerVisit, hours: ClinicHours): void {
    const now = this.clock.now();
    const opening = nextLocalHourWhere(now, hours.timeZone, (time) => isOpenAt(hours, time));
    if (opening === null) {
      this.log?.(`${visit.device.id}: the clinic is never open (${hours.openHour}:00–${hours.closeHour}:00 on days ${hours.weekdays.join(',')}); no sessions`);
      return;
    }
    const spread = Math.min(90 * MINUTE, ((hours.closeHour - hours.openHour) * HOUR) / 2);
    this.schedule(visit, opening - now + this.random.uniform(0, spread));
  }

  private closeSession(visit: ProgrammerVisit): void {
    visit.phase = 'closing';
    this.schedule(visit, this.random.uniform(1 * MINUTE, 5 * MINUTE));
  }

  private nextPatient(visit: ProgrammerVisit, delayMs: number): void {
    visit.phase = 'waiting';
    this.schedule(visit, delayMs);
  }

  private schedule(visit: ProgrammerVisit, delayMs: number): void {
    this.cancelTimer(visit);
    visit.timer = this.clock.after(delayMs, visit.onTimer);
  }

  private cancelTimer(visit: ProgrammerVisit): void {
    if (visit.timer !== null) this.clock.cancel(visit.timer);
    visit.timer = null;
  }
}
