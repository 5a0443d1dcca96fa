import type { DeviceConfig, DrugEntry, SiteConfig } from '../../../agent/src/model/site-schema.ts';
import type { AckMessage, ParamValue } from '../../../agent/src/model/wire.ts';
import type { SimClock, SimTimer } from '../clock.ts';
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
  readonly log?: (line: string) => void;
}

type CarePhase =
  | 'awaiting-new-bag' // nothing infusing; a program is due
  | 'programming' // program sent or acknowledged, start not yet sent
  | 'starting' // start of a fresh infusion sent
  | 'infusing'
  | 'nurse-paused'
  | 'awaiting-restart'; // the pump is in occlusion alarm

type TimerAction = 'program' | 'start' | 'routine' | 'ack-timeout';

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

/** Per-bed state of the nurses' work. */
class Bedside {
  phase: CarePhase = 'awaiting-new-bag';
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
  /** Created once per bed; the clock calls it for whatever `timerAction` says. */
  readonly onTimer: () => void;

  constructor(
    readonly device: DeviceConfig,
    readonly index: number,
    readonly drugs: Readonly<Record<string, DrugEntry>>,
    readonly weightKg: number,
    readonly isDemo: boolean,
    firstDrug: string,
    run: (bed: Bedside) => void,
  ) {
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
  private readonly transport: StationTransport;
  private readonly clock: SimClock;
  private readonly random: Random;
  private readonly issuer: string;
  private readonly ward: string;
  private readonly log: ((line: string) => void) | undefined;
  private readonly channel: CommandChannel<CommandContext>;
  private readonly beds: Bedside[] = [];
  private readonly bedsByDeviceId = new Map<string, Bedside>();
  private running = false;

  constructor(options: NurseStationOptions) {
    this.transport = options.transport;
    this.clock = options.clock;
    this.random = options.random;
    this.issuer = options.issuer;
    this.ward = options.ward;
    this.log = options.log;
    this.channel = new CommandChannel<CommandContext>({ transport: this.transport, clock: this.clock, issuer: this.issuer, onAck: this.onAck });
    const demoPump = findDemoPump(options.pumps);
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
      // Other pumps take the care area's drugs in turn, from a seeded starting point.
      const turn = nextDrugIndex.get(careArea) ?? this.random.int(0, names.length - 1);
      let firstDrug: string = DEMO_INFUSION.drug;
      if (!isDemo) {
        firstDrug = names[turn % names.length] as string;
        nextDrugIndex.set(careArea, turn + 1);
      }
      const weightKg = isDemo ? DEMO_INFUSION.weightKg : round1(this.random.uniform(50, 110));
      const bed = new Bedside(device, index, drugs, weightKg, isDemo, firstDrug, this.runTimer);
      this.beds.push(bed);
      this.bedsByDeviceId.set(device.id, bed);
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const bed of this.beds) {
      this.channel.watch(bed.device.id);
      this.transport.watchTelemetry(bed.device.id, this.onTelemetry);
    }
    for (const bed of this.beds) {
      // The morning round: every bed programmed within the first minute, not all at once;
      // the demo bed first, so that the attack the demo prints finds heparin running at once.
      const delay = this.random.uniform(5 * SECOND, 60 * SECOND);
      this.schedule(bed, 'program', bed.isDemo ? SECOND : delay);
    }
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
        this.programInfusion(bed);
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
    if (bed.nextTitrationAt <= now) {
      bed.nextTitrationAt = now + this.random.uniform(1 * HOUR, 4 * HOUR);
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

  private scheduleRoutine(bed: Bedside): void {
    const hasBolus = bed.infusion?.entry.bolus !== undefined;
    const due = Math.min(bed.nextTitrationAt, bed.nextPauseAt, hasBolus ? bed.nextBolusAt : Infinity);
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

  /** Due times of a fresh infusion's routine care. */
  private beginRoutine(bed: Bedside): void {
    const now = this.clock.now();
    bed.nextTitrationAt = now + this.random.uniform(1 * HOUR, 4 * HOUR);
    bed.nextPauseAt = now + this.random.uniform(2 * HOUR, 10 * HOUR);
    bed.nextBolusAt = now + this.random.uniform(1 * HOUR, 6 * HOUR);
  }

  /** After a refusal or a lost ack: program again if nothing is infusing, else carry on. */
  private recover(bed: Bedside): void {
    if (bed.phase === 'infusing') {
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
