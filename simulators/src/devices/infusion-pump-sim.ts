import type { CommandSpec } from '../../../agent/src/model/device-profile.ts';
import { infusionPumpProfile } from '../../../agent/src/model/profiles/infusion-pump.ts';
import type { CommandMessage, ParamValue } from '../../../agent/src/model/wire.ts';
import type { SimTimer } from '../clock.ts';
import { SimulatedDevice } from './simulated-device.ts';
import type { SimulatedDeviceOptions } from './simulated-device.ts';

/**
 * A large-volume infusion pump. It obeys the wire commands, integrates the infused volume
 * over sim time, completes at the volume to be infused (VTBI), and now and then raises
 * a downstream occlusion alarm that halts the infusion until a nurse restarts it.
 *
 * State machine (a programmed infusion waits in `paused` until `start`, as on the
 * pump's own keypad, where programming and starting are two steps):
 *
 *   idle ──program_infusion──▶ paused ──start──▶ running ──VTBI reached──▶ complete
 *                               ▲  ▲               │  │                       │
 *                               │  └────pause──────┘  └─occlusion─▶ alarm     │
 *                               └──────────program_infusion───────────────────┘
 *   alarm ──start──▶ running;  any ──stop──▶ idle (clears the infusion)
 */

export const PUMP_STATES = ['idle', 'running', 'paused', 'alarm', 'complete'] as const;
export type PumpState = (typeof PUMP_STATES)[number];

export interface InfusionPumpSimOptions extends SimulatedDeviceOptions {
  /** Drug library version loaded on the pump (reported in telemetry). */
  readonly libraryVersion: string;
  /** Mean running time between occlusion alarms, in hours; Infinity disables them. */
  readonly occlusionMeanRunningHours?: number;
  /** Battery charge at switch-on; drawn at random (60–100 %) when absent. */
  readonly initialBatteryPct?: number;
}

/** The pump's state at one instant, for tests and logs. */
export interface PumpSnapshot {
  readonly state: PumpState;
  readonly drug: string;
  readonly careArea: string;
  readonly weightKg: number;
  readonly rateMlH: number;
  readonly infusedMl: number;
  readonly vtbiMl: number;
  readonly alarm: string;
  readonly batteryPct: number;
}

const MS_PER_HOUR = 3_600_000;
/** An occlusion about once per 8 running hours: frequent enough to be seen in a simulated day. */
const DEFAULT_OCCLUSION_MEAN_RUNNING_HOURS = 8;
/** Pumps drain their battery while infusing and recharge on mains while idle. */
const BATTERY_DRAIN_PCT_PER_HOUR = 1.5;
const BATTERY_CHARGE_PCT_PER_HOUR = 6;

function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

export class InfusionPumpSim extends SimulatedDevice {
  private libraryVersion: string;
  private readonly occlusionMeanMs: number;
  private state: PumpState = 'idle';
  private drug = '';
  private careArea = '';
  private weightKg = 0;
  private rateMlH = 0;
  private infusedMl = 0;
  /** Delivered over programmed rate: 1 unless reconfigured (reconfigureDelivery). */
  private deliveryFactor = 1;
  private vtbiMl = 0;
  private alarm = '';
  private batteryPct: number;
  /** Sim time up to which infusedMl and batteryPct are integrated. */
  private settledAt: number;
  private completionTimer: SimTimer | null = null;
  private occlusionTimer: SimTimer | null = null;

  constructor(options: InfusionPumpSimOptions) {
    super(infusionPumpProfile, options);
    this.libraryVersion = options.libraryVersion;
    this.occlusionMeanMs = (options.occlusionMeanRunningHours ?? DEFAULT_OCCLUSION_MEAN_RUNNING_HOURS) * MS_PER_HOUR;
    this.batteryPct = options.initialBatteryPct ?? round(this.random.uniform(60, 100), 1);
    this.settledAt = this.clock.now();
  }

  snapshot(): PumpSnapshot {
    this.settle();
    return {
      state: this.state,
      drug: this.drug,
      careArea: this.careArea,
      weightKg: this.weightKg,
      rateMlH: this.rateMlH,
      infusedMl: this.infusedMl,
      vtbiMl: this.vtbiMl,
      alarm: this.alarm,
      batteryPct: this.batteryPct,
    };
  }

  telemetry(): Record<string, ParamValue> {
    this.settle();
    return {
      state: this.state,
      drug: this.drug,
      care_area: this.careArea,
      weight_kg: this.weightKg,
      rate_ml_h: this.rateMlH,
      infused_ml: round(this.infusedMl, 2),
      vtbi_ml: this.vtbiMl,
      alarm: this.alarm,
      battery_pct: round(this.batteryPct, 1),
      library_version: this.libraryVersion,
    };
  }

  protected applyCommand(message: CommandMessage, spec: CommandSpec): string | null {
    this.settle();
    const params = message.params;
    switch (spec.name) {
      case 'program_infusion':
        return this.program(
          params.drug as string,
          params.care_area as string,
          params.weight_kg as number,
          params.rate_ml_h as number,
          params.vtbi_ml as number,
        );
      case 'start':
        return this.startInfusion();
      case 'pause':
        return this.pauseInfusion();
      case 'stop':
        this.clearInfusion();
        return null;
      case 'set_rate':
        return this.setRate(params.rate_ml_h as number);
      case 'bolus':
        return this.bolus(params.volume_ml as number);
      case 'load_drug_library':
        // Like the pumps of CVE-2014-5406, the simulated pump takes any library it is sent: judging the sender is the monitor's job.
        if (this.state === 'running') return 'cannot load a drug library while infusing';
        this.libraryVersion = params.version as string;
        return null;
      default:
        return `command ${spec.name} is not supported by this pump`;
    }
  }

  protected cancelTimers(): void {
    this.cancelRunningTimers();
  }

  private program(drug: string, careArea: string, weightKg: number, rateMlH: number, vtbiMl: number): string | null {
    if (this.state === 'running') return 'cannot program a running infusion; pause or stop it first';
    this.cancelRunningTimers();
    this.state = 'paused';
    this.drug = drug;
    this.careArea = careArea;
    this.weightKg = weightKg;
    this.rateMlH = rateMlH;
    this.vtbiMl = vtbiMl;
    this.infusedMl = 0;
    this.alarm = '';
    return null;
  }

  private startInfusion(): string | null {
    switch (this.state) {
      case 'idle':
        return 'no infusion programmed';
      case 'complete':
        return 'infusion complete; program a new infusion';
      case 'running':
        return null;
      case 'paused':
      case 'alarm':
        // Restarting after an occlusion clears the alarm: the nurse has checked the line.
        this.state = 'running';
        this.alarm = '';
        this.scheduleCompletion();
        this.scheduleOcclusion();
        return null;
    }
  }

  private pauseInfusion(): string | null {
    if (this.state === 'idle' || this.state === 'complete') return 'no infusion running';
    this.cancelRunningTimers();
    this.state = 'paused';
    this.alarm = '';
    return null;
  }

  private setRate(rateMlH: number): string | null {
    if (this.state === 'idle') return 'no infusion programmed';
    if (this.state === 'complete') return 'infusion complete; program a new infusion';
    this.rateMlH = rateMlH;
    if (this.state === 'running') this.scheduleCompletion();
    return null;
  }

  private bolus(volumeMl: number): string | null {
    if (this.state === 'idle') return 'no infusion programmed';
    if (this.state !== 'running') return 'a bolus needs a running infusion';
    const remaining = this.vtbiMl - this.infusedMl;
    // A bolus is drawn from the same container, so it cannot exceed what is left of the VTBI.
    if (volumeMl > remaining) return `bolus of ${volumeMl} mL exceeds the ${round(remaining, 1)} mL left to infuse`;
    // Delivered at once: a bolus runs in seconds to minutes, below the telemetry resolution that matters here.
    this.infusedMl += volumeMl;
    this.scheduleCompletion();
    return null;
  }

  private clearInfusion(): void {
    this.cancelRunningTimers();
    this.state = 'idle';
    this.drug = '';
    this.careArea = '';
    this.weightKg = 0;
    this.rateMlH = 0;
    this.infusedMl = 0;
    this.vtbiMl = 0;
    this.alarm = '';
  }

  /** Integrates infused volume and battery from the last settlement to now. */
  private settle(): void {
    const now = this.clock.now();
    const hours = (now - this.settledAt) / MS_PER_HOUR;
    this.settledAt = now;
    if (hours <= 0) return;
    if (this.state === 'running') {
      this.infusedMl = Math.min(this.vtbiMl, this.infusedMl + this.rateMlH * this.deliveryFactor * hours);
      this.batteryPct = Math.max(0, this.batteryPct - BATTERY_DRAIN_PCT_PER_HOUR * hours);
    } else {
      this.batteryPct = Math.min(100, this.batteryPct + BATTERY_CHARGE_PCT_PER_HOUR * hours);
    }
  }

  private scheduleCompletion(): void {
    if (this.completionTimer !== null) this.clock.cancel(this.completionTimer);
    const remainingMl = Math.max(0, this.vtbiMl - this.infusedMl);
    this.completionTimer = this.clock.after((remainingMl / (this.rateMlH * this.deliveryFactor)) * MS_PER_HOUR, this.onCompletionDue);
  }

  private scheduleOcclusion(): void {
    if (this.occlusionTimer !== null) this.clock.cancel(this.occlusionTimer);
    this.occlusionTimer = null;
    if (!Number.isFinite(this.occlusionMeanMs)) return;
    // Occlusions are memoryless: a fresh exponential wait each time the pump starts running.
    this.occlusionTimer = this.clock.after(this.random.exponential(this.occlusionMeanMs), this.onOcclusionDue);
  }

  private cancelRunningTimers(): void {
    if (this.completionTimer !== null) this.clock.cancel(this.completionTimer);
    if (this.occlusionTimer !== null) this.clock.cancel(this.occlusionTimer);
    this.completionTimer = null;
    this.occlusionTimer = null;
  }

  private readonly onCompletionDue = (): void => {
    this.completionTimer = null;
    if (this.state !== 'running') return;
    this.settle();
    this.cancelRunningTimers();
    this.infusedMl = this.vtbiMl;
    this.state = 'complete';
    this.alarm = 'complete';
    this.publishTelemetry();
  };

  /** An occlusion now, for scenarios that need one at a known time (the nurse station restarts it as usual). */
  /**
   * Evaluation only: the pump's delivery is reconfigured behind its display, so it infuses
   * `factor` times the programmed rate while telemetry still reports the programmed one
   * (B. Braun SpaceCom, CVE-2021-33885). It lasts for every later infusion too, until the
   * simulated pump is discarded. False for a factor that is not positive.
   */
  reconfigureDelivery(factor: number): boolean {
    if (!(factor > 0)) return false;
    this.settle();
    this.deliveryFactor = factor;
    if (this.state === 'running') this.scheduleCompletion();
    return true;
  }

  raiseOcclusion(): boolean {
    if (this.state !== 'running') return false;
    this.onOcclusionDue();
    return true;
  }

  private readonly onOcclusionDue = (): void => {
    this.occlusionTimer = null;
    if (this.state !== 'running') return;
    this.settle();
    this.cancelRunningTimers();
    this.state = 'alarm';
    this.alarm = 'occlusion';
    this.publishTelemetry();
  };
}
