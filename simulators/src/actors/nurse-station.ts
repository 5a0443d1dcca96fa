import { localTime, nextLocalHourWhere } from '../../../agent/src/model/local-time.ts';
import type { DeviceConfig, DrugEntry, SiteConfig } from '../../../agent/src/model/site-schema.ts';
import type { AckMessage, ParamValue } from '../../../agent/src/model/wire.ts';
import type { SimClock, SimTimer } from '../clock.ts';
import { SimulatorError } from '../errors.ts';
import type { Random } from '../random.ts';
import type { StationTransport } from '../transports/station-transport.ts';
import { nurseFor } from './clinician-roster.ts';
import { CommandChannel } from './command-channel.ts';
import type { SentCommand } from './command-channel.ts';
import { chooseBolus, chooseStartingRate, chooseTitration, doseOfRate, rateForDose, softRateDoseRange } from './dose-plan.ts';
import type { BolusChoice, RateChoice } from './dose-plan.ts';

/**
 * The clinical day of a ward's infusion pumps, as the nurses at the station program it:
 * each bed gets an infusion from the drug library of the pump's care area, started, then
 * titrated every 1–4 h, paused and resumed now and then, given a bolus when the library
 * allows one, restarted 1–5 min after an occlusion alarm, and given a new bag 5–30 min
 * after the last one completes. Every dose is inside the soft limits (dose-plan.ts), so
 * the commands of a quiet day are exactly what the agent should learn as normal.
 *
 * Each bed has one timer and at most one command awaiting its ack: a nurse does one
 * thing at a time at a bedside, and the flow stays easy to follow.
 *
 * Long stays (`longStay`, for runs of several days): each bed's patient is discharged on
 * average every 2–4 days, in the daytime (09:00–20:00 local; infusion stopped, bed idle
 * 1–6 h) and a new patient admitted
 * (45–120 kg, a drug of the care area's library, a fresh starting dose); and from 23:00
 * to 06:00 local time routine titrations come 1.5 times less often, as on a night shift.
 * Off by default, so that short runs keep their exact behaviour for a seed.
 *
 * Spare pumps (`spares`) are known to the station but left alone until `swapPump` moves
 * a bed's patient onto one: the old pump is stopped, and 10–30 min later the spare is
 * programmed with the same patient and drug.
 */

/**
 * The demo prints a copy-paste command for the first ICU pump, computed for heparin and an
 * 80 kg patient at the typical 18 units/kg/h (DESIGN.md, reference facts): that pump always
 * starts the day on exactly this infusion.
 */
export const DEMO_INFUSION = { careArea: 'ICU', drug: 'heparin', weightKg: 80, dose: 18 } as const;

/** The pump that gets the demo infusion: the first pump of the inventory in the demo care area. */
export function findDemoPump(devices: readonly DeviceConfig[]): DeviceConfig | undefined {
  return devices.find((device) => device.profile === 'infusion-pump' && device.careArea === DEMO_INFUSION.careArea);
}

export interface NurseStationOptions {
  /** How the station reaches its pumps: MQTT, Modbus, or each pump its own (station-transport.ts). */
  readonly transport: StationTransport;
  readonly clock: SimClock;
  readonly random: Random;
  /** The station's MQTT account, sent as `issuer` (on Modbus, only in ids and logs: a master has no account). */
  readonly issuer: string;
  readonly ward: string;
  readonly drugLibrary: SiteConfig['drugLibrary'];
  /** The pumps this station looks after, in inventory order. */
  readonly pumps: readonly DeviceConfig[];
  /** Pumps in the equipment store that the station brings to a bed on `swapPump`, and leaves alone until then. */
  readonly spares?: readonly DeviceConfig[];
  /** Whether the first ICU pump starts on the demo infusion (default true; one station per ward only). */
  readonly demoInfusion?: boolean;
  /** Discharges and admissions, and quieter nights (see above); default off. */
  readonly longStay?: boolean;
  /** IANA time zone of the ward, in which night is 23:00–06:00 (default UTC). */
  readonly timeZone?: string;
  readonly log?: (line: string) => void;
}

type CarePhase =
  | 'awaiting-new-bag' // nothing infusing; a program is due
  | 'programming' // program sent or acknowledged, start not yet sent
  | 'starting' // start of a fresh infusion sent
  | 'infusing'
  | 'nurse-paused'
  | 'awaiting-restart' // the pump is in occlusion alarm
  | 'discharging' // stop sent: the patient is leaving
  | 'discharged' // no patient in the bed
  | 'swapping'; // stop sent to a pump that is being replaced by a spare

type TimerAction = 'program' | 'start' | 'routine' | 'ack-timeout' | 'admit';

/** Why a `stop` was sent. */
type StopPurpose = 'discharge' | 'swap';

interface Infusion {
  readonly drug: string;
  readonly entry: DrugEntry;
  readonly vtbiMl: number;
  rateMlH: number;
}

interface CommandContext {
  readonly bed: Bedside;
  readonly infusion?: Infusion;
  readonly rate?: RateChoice;
  readonly bolus?: BolusChoice;
  readonly stop?: StopPurpose;
}

/** What a spare pump continues after a swap: the same drug at the same rate, with what was left in the bag. */
interface CarryOver {
  readonly drug: string;
  readonly rateMlH: number;
  readonly vtbiMl: number;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
/** A pump answers within a second; two minutes of silence means the command was lost. */
const ACK_TIMEOUT_MS = 2 * MINUTE;
const RETRY_AFTER_REFUSAL_MS = 5 * MINUTE;
/** Left in the bag after a bolus, so that a bolus never empties it. */
const BOLUS_MARGIN_ML = 5;
/** A new bag continues the same therapy most of the time. */
const CHANGE_DRUG_ON_NEW_BAG = 0.3;
const DAY = 24 * HOUR;
/** Night shift hours (local), when routine titrations come less often. */
const NIGHT_FROM_HOUR = 23;
const NIGHT_UNTIL_HOUR = 6;
const NIGHT_INTERVAL_FACTOR = 1.5;
/** Patients go home in the daytime (local hours). */
const DISCHARGE_FROM_HOUR = 9;
const DISCHARGE_UNTIL_HOUR = 20;
/** A swapped pump's bag moves to the spare if at least this much is left; else a new bag is hung. */
const MIN_CARRY_OVER_ML = 10;

/** Per-bed state of the nurses' work. */
class Bedside {
  phase: CarePhase = 'awaiting-new-bag';
  /** The pump at this bed; a swap replaces it with a spare. */
  device: DeviceConfig;
  timer: SimTimer | null = null;
  timerAction: TimerAction = 'program';
  awaitingId: string | null = null;
  /** Drug of the current or next infusion. */
  drug: string;
  infusion: Infusion | null = null;
  /** Set when a fresh infusion is programmed: its routine clock starts when it starts. */
  fresh = false;
  pumpState = '';
  infusedMl = 0;
  vtbiMl = 0;
  /** Device time of the last ack: telemetry older than it describes the pump before our command. */
  lastAckMs = -Infinity;
  nextTitrationAt = 0;
  nextPauseAt = 0;
  nextBolusAt = 0;
  /** Long stays: when the current patient goes home, and the bed's usual length of stay. */
  dischargeAt = Infinity;
  meanStayMs = 0;
  /** After a swap: what the spare continues. */
  carryOver: CarryOver | null = null;
  /** Created once per bed; the clock calls it for whatever `timerAction` says. */
  readonly onTimer: () => void;

  constructor(
    device: DeviceConfig,
    readonly index: number,
    readonly drugs: Readonly<Record<string, DrugEntry>>,
    public weightKg: number,
    public isDemo: boolean,
    firstDrug: string,
    run: (bed: Bedside) => void,
  ) {
    this.device = device;
    this.drug = firstDrug;
    this.onTimer = () => run(this);
  }
}

/** For log lines: 12.377 → 12.4, 0.0681 → 0.0681. */
function threeFigures(value: number): string {
  return String(Number(value.toPrecision(3)));
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

export class NurseStation {
  /** The station's MQTT account, sent as `issuer`. */
  readonly issuer: string;
  /** The ward whose beds the station looks after (and whose nurses' ids it uses). */
  readonly ward: string;
  private readonly transport: StationTransport;
  private readonly clock: SimClock;
  private readonly random: Random;
  private readonly log: ((line: string) => void) | undefined;
  private readonly channel: CommandChannel<CommandContext>;
  private readonly beds: Bedside[] = [];
  private readonly bedsByDeviceId = new Map<string, Bedside>();
  private readonly spares: DeviceConfig[];
  private readonly telemetryWatched = new Set<string>();
  /** The spare each swapping bed moves to, while the old pump's stop is on its way. */
  private readonly swapTargets = new Map<Bedside, DeviceConfig>();
  private readonly longStay: boolean;
  private readonly timeZone: string;
  /** Patients' arrivals and departures: a stream of its own, so that they do not reshuffle the nurses' draws. */
  private readonly patients: Random;
  private running = false;

  constructor(options: NurseStationOptions) {
    this.transport = options.transport;
    this.clock = options.clock;
    this.random = options.random;
    this.issuer = options.issuer;
    this.ward = options.ward;
    this.log = options.log;
    this.spares = [...(options.spares ?? [])];
    this.longStay = options.longStay ?? false;
    this.timeZone = options.timeZone ?? 'UTC';
    if (this.longStay) localTime(0, this.timeZone); // an unknown zone fails here, not at the first night
    this.patients = this.random.fork('patients');
    this.channel = new CommandChannel<CommandContext>({ transport: this.transport, clock: this.clock, issuer: this.issuer, onAck: this.onAck });
    const demoPump = options.demoInfusion === false ? undefined : findDemoPump(options.pumps);
    const nextDrugIndex = new Map<string, number>();
    options.pumps.forEach((device, index) => {
      const careArea = device.careArea ?? '';
      const drugs = options.drugLibrary.careAreas[careArea]?.drugs ?? {};
      const names = Object.keys(drugs);
      if (names.length === 0) {
        this.log?.(`${device.id}: care area "${careArea}" has no drugs in the library; the station leaves this pump alone`);
        return;
      }
      const isDemo = device === demoPump && Object.hasOwn(drugs, DEMO_INFUSION.drug);
      // Other pumps take the care area's drugs in turn, from a seeded starting point; in the
      // demo pump's care area, from the drug after the demo's, so that the demo ICU runs
      // heparin, then insulin, then morphine whatever the seed (a scenario can count on it).
      const turn = nextDrugIndex.get(careArea) ?? this.random.int(0, names.length - 1);
      let firstDrug: string = DEMO_INFUSION.drug;
      if (isDemo) {
        nextDrugIndex.set(careArea, names.indexOf(DEMO_INFUSION.drug) + 1);
      } else {
        firstDrug = names[turn % names.length] as string;
        nextDrugIndex.set(careArea, turn + 1);
      }
      const weightKg = isDemo ? DEMO_INFUSION.weightKg : round1(this.random.uniform(50, 110));
      const bed = new Bedside(device, index, drugs, weightKg, isDemo, firstDrug, this.runTimer);
      this.beds.push(bed);
      this.bedsByDeviceId.set(device.id, bed);
    });
  }

  /** Ids of the pumps at the beds, in bed order (a swap changes them). */
  get pumpIds(): readonly string[] {
    return this.beds.map((bed) => bed.device.id);
  }

  /** Ids of the spare pumps in the equipment store. */
  get spareIds(): readonly string[] {
    return this.spares.map((device) => device.id);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const bed of this.beds) this.watch(bed.device.id);
    for (const bed of this.beds) {
      // The morning round: every bed programmed within the first minute, not all at once;
      // the demo bed first, so that the attack the demo prints finds heparin running at once.
      const delay = this.random.uniform(5 * SECOND, 60 * SECOND);
      this.schedule(bed, 'program', bed.isDemo ? SECOND : delay);
    }
    if (this.longStay) {
      const now = this.clock.now();
      for (const bed of this.beds) {
        // Each bed has its usual length of stay (2–4 days); the patient in it at the start came some time ago.
        bed.meanStayMs = this.patients.uniform(2 * DAY, 4 * DAY);
        bed.dischargeAt = this.inDaytime(now + Math.max(2 * HOUR, this.patients.uniform(0, 1) * this.stayLength(bed)));
      }
    }
  }

  /**
   * Replaces the pump at a bed with a spare: the old pump's infusion is stopped, and 10–30
   * min later the spare is programmed for the same patient and drug (and started). The
   * old pump becomes a spare. Throws SIM_SWAP when `fromDeviceId` is not at one of this
   * station's beds (or is already being swapped out), or `toDeviceId` is not one of its
   * spares in the same care area.
   */
  swapPump(fromDeviceId: string, toDeviceId: string): void {
    const bed = this.bedsByDeviceId.get(fromDeviceId);
    if (bed === undefined) throw new SimulatorError('SIM_SWAP', `${fromDeviceId} is not at a bed of the ${this.ward} station (${this.pumpIds.join(', ')})`);
    const spareIndex = this.spares.findIndex((device) => device.id === toDeviceId);
    const spare = this.spares[spareIndex];
    if (spare === undefined) throw new SimulatorError('SIM_SWAP', `${toDeviceId} is not a spare of the ${this.ward} station (${this.spareIds.join(', ') || 'none'})`);
    if (spare.careArea !== bed.device.careArea) {
      throw new SimulatorError('SIM_SWAP', `${toDeviceId} is set up for care area ${spare.careArea ?? '(none)'}, not ${bed.device.careArea ?? '(none)'} like ${fromDeviceId}`);
    }
    if (!this.running) throw new SimulatorError('SIM_SWAP', `the ${this.ward} station is not running`);
    if (bed.phase === 'swapping') throw new SimulatorError('SIM_SWAP', `${fromDeviceId} is already being swapped out`);
    this.spares.splice(spareIndex, 1);
    this.cancelTimer(bed);
    const commandPending = bed.awaitingId !== null;
    bed.awaitingId = null;
    this.log?.(`${fromDeviceId}: swapped for ${toDeviceId} at bed ${bed.device.bed ?? '?'}`);
    if (bed.phase === 'discharging') {
      // The patient was leaving: the stop is already on its way to the old pump.
      this.emptyBed(bed);
    }
    // What the spare will continue: the bag on the old pump, or a new one of the same drug.
    const infusion = bed.infusion;
    bed.carryOver = null;
    if (infusion !== null && bed.phase !== 'discharged') {
      const left = Math.round((bed.vtbiMl > 0 ? bed.vtbiMl - bed.infusedMl : infusion.vtbiMl) * 10) / 10;
      bed.carryOver = { drug: infusion.drug, rateMlH: infusion.rateMlH, vtbiMl: left >= MIN_CARRY_OVER_ML ? left : infusion.vtbiMl };
    }
    const pumpIdle = bed.pumpState === 'idle' || bed.pumpState === '';
    if (bed.phase === 'discharged' || (pumpIdle && !commandPending)) {
      this.finishSwap(bed, spare);
      return;
    }
    bed.phase = 'swapping';
    this.swapTargets.set(bed, spare);
    this.send(bed, 'stop', {}, { bed, stop: 'swap' });
  }

  /**
   * Shift change: the incoming nurses review every running infusion within `withinMs` and
   * titrate each one (within the soft limits, as always). A burst of legitimate reprogramming.
   */
  reviewAllInfusions(withinMs: number): number {
    let reviewed = 0;
    const now = this.clock.now();
    for (const bed of this.beds) {
      if (bed.phase !== 'infusing' || bed.awaitingId !== null) continue;
      bed.nextTitrationAt = now;
      this.schedule(bed, 'routine', this.random.uniform(0, withinMs));
      reviewed += 1;
    }
    return reviewed;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const bed of this.beds) this.cancelTimer(bed);
    await this.transport.close();
  }

  private readonly runTimer = (bed: Bedside): void => {
    bed.timer = null;
    if (!this.running) return;
    switch (bed.timerAction) {
      case 'program':
        if (this.dischargeDue(bed)) this.discharge(bed);
        else this.programInfusion(bed);
        return;
      case 'admit':
        this.admit(bed);
        return;
      case 'start':
        this.sendStart(bed);
        return;
      case 'routine':
        this.routine(bed);
        return;
      case 'ack-timeout':
        this.log?.(`${bed.device.id}: no ack within ${ACK_TIMEOUT_MS / MINUTE} min; the nurse tries again`);
        bed.awaitingId = null;
        this.recover(bed);
        return;
    }
  };

  private watch(deviceId: string): void {
    this.channel.watch(deviceId);
    if (this.telemetryWatched.has(deviceId)) return;
    this.telemetryWatched.add(deviceId);
    this.transport.watchTelemetry(deviceId, this.onTelemetry);
  }

  /** Length of one patient's stay in the bed: its usual stay, ±50 %. */
  private stayLength(bed: Bedside): number {
    return bed.meanStayMs * this.patients.uniform(0.5, 1.5);
  }

  /** A discharge due at night happens in the first hours of the next day's discharge time instead. */
  private inDaytime(dueMs: number): number {
    const daytime = nextLocalHourWhere(dueMs, this.timeZone, ({ hour }) => hour >= DISCHARGE_FROM_HOUR && hour < DISCHARGE_UNTIL_HOUR);
    if (daytime === null || daytime === dueMs) return dueMs;
    return daytime + this.patients.uniform(0, 4 * HOUR);
  }

  private dischargeDue(bed: Bedside): boolean {
    return this.longStay && bed.dischargeAt <= this.clock.now();
  }

  /** The patient goes home: the infusion is stopped (if the pump has one) and the bed stays empty 1–6 h. */
  private discharge(bed: Bedside): void {
    this.log?.(`${bed.device.id}: the patient in bed ${bed.device.bed ?? '?'} is discharged`);
    if (bed.pumpState === 'idle' || bed.pumpState === '') {
      this.finishDischarge(bed);
      return;
    }
    bed.phase = 'discharging';
    this.send(bed, 'stop', {}, { bed, stop: 'discharge' });
  }

  private finishDischarge(bed: Bedside): void {
    this.emptyBed(bed);
    this.schedule(bed, 'admit', this.patients.uniform(1 * HOUR, 6 * HOUR));
  }

  private emptyBed(bed: Bedside): void {
    bed.phase = 'discharged';
    bed.infusion = null;
    bed.carryOver = null;
    bed.dischargeAt = Infinity;
  }

  /** A new patient: weight, drug and stay of their own; the first infusion is set up within half an hour. */
  private admit(bed: Bedside): void {
    const names = Object.keys(bed.drugs);
    bed.weightKg = round1(this.patients.uniform(45, 120));
    bed.drug = this.patients.pick(names);
    bed.isDemo = false;
    bed.infusion = null;
    bed.dischargeAt = this.inDaytime(this.clock.now() + this.stayLength(bed));
    bed.phase = 'awaiting-new-bag';
    this.log?.(`${bed.device.id}: a new patient in bed ${bed.device.bed ?? '?'} (${bed.weightKg} kg, ${bed.drug})`);
    this.schedule(bed, 'program', this.patients.uniform(5 * MINUTE, 30 * MINUTE));
  }

  /** The bed's patient moves to the spare; the old pump goes to the store, and the spare is programmed 10–30 min later. */
  private finishSwap(bed: Bedside, spare: DeviceConfig): void {
    const old = bed.device;
    this.swapTargets.delete(bed);
    this.bedsByDeviceId.delete(old.id);
    this.spares.push(old);
    bed.device = spare;
    this.bedsByDeviceId.set(spare.id, bed);
    this.watch(spare.id);
    bed.pumpState = '';
    bed.infusedMl = 0;
    bed.vtbiMl = 0;
    if (bed.phase === 'discharged') {
      // An empty bed: the next patient is admitted as usual (the swap cancelled the wait).
      this.schedule(bed, 'admit', this.patients.uniform(1 * HOUR, 6 * HOUR));
      return;
    }
    bed.phase = 'awaiting-new-bag';
    this.schedule(bed, 'program', this.random.uniform(10 * MINUTE, 30 * MINUTE));
  }

  private programInfusion(bed: Bedside): void {
    const planned = this.planInfusion(bed);
    if (planned === null) {
      this.log?.(`${bed.device.id}: no dose of ${bed.drug} fits the soft limits for ${bed.weightKg} kg; trying again later`);
      this.schedule(bed, 'program', 30 * MINUTE);
      return;
    }
    bed.phase = 'programming';
    this.send(bed, 'program_infusion', {
      drug: planned.infusion.drug,
      rate_ml_h: planned.infusion.rateMlH,
      vtbi_ml: planned.infusion.vtbiMl,
      weight_kg: bed.weightKg,
      care_area: bed.device.careArea ?? '',
    }, { bed, infusion: planned.infusion, rate: planned.rate });
  }

  /** The next infusion for the bed: the demo infusion first, then usually the same therapy again. */
  private planInfusion(bed: Bedside): { infusion: Infusion; rate: RateChoice } | null {
    const carried = bed.carryOver;
    if (carried !== null) {
      // After a swap: the same drug at the same rate, with what was left in the bag.
      const entry = bed.drugs[carried.drug];
      if (entry !== undefined) {
        bed.drug = carried.drug;
        return {
          infusion: { drug: carried.drug, entry, vtbiMl: carried.vtbiMl, rateMlH: carried.rateMlH },
          rate: { dose: doseOfRate(entry, bed.weightKg, carried.rateMlH), rateMlH: carried.rateMlH },
        };
      }
    }
    const previous = bed.infusion;
    if (previous !== null && !bed.isDemo && this.random.chance(CHANGE_DRUG_ON_NEW_BAG)) {
      bed.drug = this.random.pick(Object.keys(bed.drugs));
    }
    const entry = bed.drugs[bed.drug];
    if (entry === undefined) return null;
    const soft = softRateDoseRange(entry);
    if (soft === null) return null;
    let rate: RateChoice | null = null;
    if (previous !== null && previous.drug === bed.drug) {
      // A new bag of the same drug continues at the current, titrated rate.
      const dose = doseOfRate(entry, bed.weightKg, previous.rateMlH);
      if (dose >= soft.min && dose <= soft.max) rate = { dose, rateMlH: previous.rateMlH };
    } else if (bed.isDemo && previous === null) {
      rate = rateForDose(entry, bed.weightKg, DEMO_INFUSION.dose, soft);
    }
    rate ??= chooseStartingRate(entry, bed.weightKg, this.random);
    if (rate === null) return null;
    // The whole container is hung; the volume to be infused is the bag volume.
    return { infusion: { drug: bed.drug, entry, vtbiMl: entry.concentration.volumeMl, rateMlH: rate.rateMlH }, rate };
  }

  private sendStart(bed: Bedside): void {
    if (bed.phase === 'programming') bed.phase = 'starting';
    this.send(bed, 'start', {}, { bed });
  }

  /** Titrate, pause or bolus, whichever is due first; then wait for the next one. */
  private routine(bed: Bedside): void {
    if (bed.phase !== 'infusing') return;
    const infusion = bed.infusion;
    if (infusion === null) return;
    if (bed.pumpState !== 'running') {
      this.schedule(bed, 'routine', MINUTE);
      return;
    }
    const now = this.clock.now();
    if (this.dischargeDue(bed)) {
      this.discharge(bed);
      return;
    }
    if (bed.nextTitrationAt <= now) {
      bed.nextTitrationAt = now + this.random.uniform(1 * HOUR, 4 * HOUR) * this.nightFactor(now);
      const rate = chooseTitration(infusion.entry, bed.weightKg, infusion.rateMlH, this.random);
      if (rate !== null) {
        this.send(bed, 'set_rate', { rate_ml_h: rate.rateMlH }, { bed, rate });
        return;
      }
    } else if (bed.nextPauseAt <= now) {
      // Line care, a trip to imaging, a dressing: the pump is paused for a few minutes.
      bed.nextPauseAt = now + this.random.uniform(4 * HOUR, 10 * HOUR);
      this.send(bed, 'pause', {}, { bed });
      return;
    } else if (bed.nextBolusAt <= now) {
      bed.nextBolusAt = now + this.random.uniform(3 * HOUR, 8 * HOUR);
      const bolus = chooseBolus(infusion.entry, bed.weightKg, bed.vtbiMl - bed.infusedMl - BOLUS_MARGIN_ML, this.random);
      if (bolus !== null) {
        this.send(bed, 'bolus', { volume_ml: bolus.volumeMl }, { bed, bolus });
        return;
      }
    }
    this.scheduleRoutine(bed);
  }

  /** Routine titrations come 1.5 times less often at night (long stays only). */
  private nightFactor(now: number): number {
    if (!this.longStay) return 1;
    const { hour } = localTime(now, this.timeZone);
    return hour >= NIGHT_FROM_HOUR || hour < NIGHT_UNTIL_HOUR ? NIGHT_INTERVAL_FACTOR : 1;
  }

  private scheduleRoutine(bed: Bedside): void {
    const hasBolus = bed.infusion?.entry.bolus !== undefined;
    const due = Math.min(bed.nextTitrationAt, bed.nextPauseAt, hasBolus ? bed.nextBolusAt : Infinity, bed.dischargeAt);
    this.schedule(bed, 'routine', Math.max(30 * SECOND, due - this.clock.now()));
  }

  private send(bed: Bedside, command: string, params: Readonly<Record<string, ParamValue>>, context: CommandContext): void {
    const user = nurseFor(this.ward, bed.index, this.clock.now());
    const sent = this.channel.compose(bed.device.id, user, command, params, context);
    bed.awaitingId = sent.message.id;
    this.schedule(bed, 'ack-timeout', ACK_TIMEOUT_MS);
    if (this.log !== undefined) this.log(`${this.issuer}/${user} → ${bed.device.id} ${command}${this.describe(bed, context)}`);
    this.channel.transmit(sent);
  }

  private describe(bed: Bedside, context: CommandContext): string {
    const infusion = context.infusion ?? bed.infusion;
    if (infusion === undefined || infusion === null) return '';
    if (context.rate !== undefined) {
      return ` ${infusion.drug} ${context.rate.rateMlH} mL/h = ${threeFigures(context.rate.dose)} ${infusion.entry.doseUnit} for ${bed.weightKg} kg`;
    }
    if (context.bolus !== undefined) {
      return ` ${infusion.drug} ${context.bolus.volumeMl} mL = ${threeFigures(context.bolus.dose)} ${infusion.entry.bolus?.unit ?? ''}`;
    }
    return ` ${infusion.drug}`;
  }

  private readonly onAck = (sent: SentCommand<CommandContext>, ack: AckMessage): void => {
    const { bed, infusion, rate } = sent.context;
    const command = sent.message.command;
    // An answer from a pump the bed no longer uses (swapped out) says nothing about the bed.
    if (sent.deviceId !== bed.device.id) return;
    const ackMs = Date.parse(ack.ts);
    if (Number.isFinite(ackMs)) bed.lastAckMs = ackMs;
    // The pump did it even if the nurse has moved on (an alarm came first): keep the record true.
    if (ack.ok && command === 'program_infusion' && infusion !== undefined) {
      bed.infusion = infusion;
      bed.fresh = true;
    } else if (ack.ok && command === 'set_rate' && rate !== undefined && bed.infusion !== null) {
      bed.infusion.rateMlH = rate.rateMlH;
    }
    if (bed.awaitingId !== sent.message.id || !this.running) return;
    bed.awaitingId = null;
    this.cancelTimer(bed);
    if (sent.context.stop !== undefined) {
      // The patient leaves, or the pump is taken away, whatever the pump answered.
      if (!ack.ok) this.log?.(`${bed.device.id}: stop refused: ${ack.error ?? 'no reason given'}`);
      this.afterStop(bed);
      return;
    }
    if (!ack.ok) {
      this.log?.(`${bed.device.id}: ${command} refused: ${ack.error ?? 'no reason given'}`);
      this.recover(bed);
      return;
    }
    switch (command) {
      case 'program_infusion':
        // Check the programmed values on the screen, then press start.
        this.schedule(bed, 'start', this.random.uniform(5 * SECOND, 20 * SECOND));
        return;
      case 'start':
        if (bed.fresh) this.beginRoutine(bed);
        bed.fresh = false;
        bed.carryOver = null;
        bed.phase = 'infusing';
        this.scheduleRoutine(bed);
        return;
      case 'pause':
        bed.phase = 'nurse-paused';
        this.schedule(bed, 'start', this.random.uniform(2 * MINUTE, 15 * MINUTE));
        return;
      default:
        this.scheduleRoutine(bed);
    }
  };

  /** After the stop of a discharge or a swap (acknowledged, refused or lost). */
  private afterStop(bed: Bedside): void {
    if (bed.phase === 'swapping') {
      const spare = this.swapTargets.get(bed);
      if (spare !== undefined) {
        this.finishSwap(bed, spare);
        return;
      }
    }
    bed.infusion = null;
    this.finishDischarge(bed);
  }

  /** Due times of a fresh infusion's routine care. */
  private beginRoutine(bed: Bedside): void {
    const now = this.clock.now();
    bed.nextTitrationAt = now + this.random.uniform(1 * HOUR, 4 * HOUR) * this.nightFactor(now);
    bed.nextPauseAt = now + this.random.uniform(2 * HOUR, 10 * HOUR);
    bed.nextBolusAt = now + this.random.uniform(1 * HOUR, 6 * HOUR);
  }

  /** After a refusal or a lost ack: program again if nothing is infusing, else carry on. */
  private recover(bed: Bedside): void {
    if (bed.phase === 'swapping' || bed.phase === 'discharging') {
      this.afterStop(bed);
    } else if (bed.phase === 'infusing') {
      this.scheduleRoutine(bed);
    } else if (bed.phase === 'nurse-paused' || bed.phase === 'awaiting-restart') {
      this.schedule(bed, 'start', MINUTE);
    } else {
      bed.phase = 'awaiting-new-bag';
      this.schedule(bed, 'program', RETRY_AFTER_REFUSAL_MS);
    }
  }

  private readonly onTelemetry = (deviceId: string, telemetry: Readonly<Record<string, unknown>>): void => {
    if (!this.running) return;
    const bed = this.bedsByDeviceId.get(deviceId);
    if (bed === undefined) return;
    const ts = typeof telemetry.ts === 'string' ? Date.parse(telemetry.ts) : NaN;
    if (!(ts >= bed.lastAckMs)) return;
    if (typeof telemetry.state === 'string') bed.pumpState = telemetry.state;
    if (typeof telemetry.infused_ml === 'number') bed.infusedMl = telemetry.infused_ml;
    if (typeof telemetry.vtbi_ml === 'number') bed.vtbiMl = telemetry.vtbi_ml;
    // While a command is on its way the pump's state is about to change; judge it after the ack.
    if (bed.awaitingId === null) this.reactToPumpState(bed, telemetry.alarm);
  };

  private reactToPumpState(bed: Bedside, alarm: unknown): void {
    const id = bed.device.id;
    // No patient on this pump, or it is being taken away.
    if (bed.phase === 'discharged' || bed.phase === 'discharging' || bed.phase === 'swapping') return;
    switch (bed.pumpState) {
      case 'alarm':
        if (bed.phase === 'awaiting-restart' || bed.phase === 'awaiting-new-bag') return;
        // Check the line, clamp, kinks; then restart (occlusion handling takes a few minutes).
        bed.phase = 'awaiting-restart';
        this.log?.(`${id}: ${typeof alarm === 'string' && alarm.length > 0 ? alarm : 'alarm'}; the nurse goes to bed ${bed.device.bed ?? '?'}`);
        this.schedule(bed, 'start', this.random.uniform(1 * MINUTE, 5 * MINUTE));
        return;
      case 'complete':
        if (bed.phase === 'awaiting-new-bag' || bed.phase === 'programming') return;
        bed.phase = 'awaiting-new-bag';
        this.log?.(`${id}: bag complete; a new bag is on its way`);
        this.schedule(bed, 'program', this.random.uniform(5 * MINUTE, 30 * MINUTE));
        return;
      case 'idle':
        // Stopped by someone else: the nurse notices and sets the infusion up again.
        if (bed.phase !== 'infusing' && bed.phase !== 'nurse-paused' && bed.phase !== 'awaiting-restart') return;
        bed.phase = 'awaiting-new-bag';
        this.log?.(`${id}: found stopped; programming it again`);
        this.schedule(bed, 'program', this.random.uniform(5 * MINUTE, 30 * MINUTE));
        return;
      case 'paused':
        // Paused by someone else: resumed at the next look at the pump.
        if (bed.phase !== 'infusing') return;
        bed.phase = 'nurse-paused';
        this.schedule(bed, 'start', this.random.uniform(1 * MINUTE, 5 * MINUTE));
        return;
      case 'running':
        if (bed.phase === 'awaiting-restart' || bed.phase === 'nurse-paused') {
          // Restarted by someone else: nothing left to do but the routine.
          bed.phase = 'infusing';
          this.scheduleRoutine(bed);
        }
        return;
      default:
        return;
    }
  }

  private schedule(bed: Bedside, action: TimerAction, delayMs: number): void {
    this.cancelTimer(bed);
    bed.timerAction = action;
    bed.timer = this.clock.after(delayMs, bed.onTimer);
  }

  private cancelTimer(bed: Bedside): void {
    if (bed.timer !== null) this.clock.cancel(bed.timer);
    bed.timer = null;
  }
}
