import type { CommandSpec } from '../../../agent/src/model/device-profile.ts';
import { pacemakerProgrammerProfile } from '../../../agent/src/model/profiles/pacemaker-programmer.ts';
import type { CommandMessage, ParamValue } from '../../../agent/src/model/wire.ts';
import { SimulatedDevice } from './simulated-device.ts';
import type { SimulatedDeviceOptions } from './simulated-device.ts';

/**
 * A pacemaker programmer: a clinician opens a session with an implant by serial number,
 * programs it, and closes the session. The programmer shows the values it last
 * programmed. Beyond the device limits of the profile it refuses an upper tracking rate
 * below the lower rate, as real programmers refuse conflicting parameters.
 */

export const PROGRAMMER_FIRMWARE = 'PGM-4.2.1';

export interface PacemakerProgrammerSimOptions extends SimulatedDeviceOptions {
  readonly firmware?: string;
  /** Battery charge at switch-on; drawn at random (70–100 %) when absent. */
  readonly initialBatteryPct?: number;
}

export interface ProgrammedSettings {
  readonly mode: string;
  readonly lowerRatePpm: number;
  readonly upperRatePpm: number;
  readonly amplitudeV: number;
  readonly pulseWidthMs: number;
  readonly tachyTherapy: boolean;
}

export interface ProgrammerSnapshot {
  readonly session: 'idle' | 'open';
  readonly implantSerial: string;
  /** Last values programmed into any implant, or null before the first program. */
  readonly lastProgrammed: ProgrammedSettings | null;
  readonly batteryPct: number;
}

const MS_PER_HOUR = 3_600_000;
/** A cart-mounted programmer lives on mains; its battery sags slowly while a session is open. */
const BATTERY_DRAIN_PCT_PER_HOUR = 4;
const BATTERY_CHARGE_PCT_PER_HOUR = 10;

export class PacemakerProgrammerSim extends SimulatedDevice {
  private firmware: string;
  private sessionOpen = false;
  private implantSerial = '';
  private lastProgrammed: ProgrammedSettings | null = null;
  private batteryPct: number;
  private settledAt: number;

  constructor(options: PacemakerProgrammerSimOptions) {
    super(pacemakerProgrammerProfile, options);
    this.firmware = options.firmware ?? PROGRAMMER_FIRMWARE;
    this.batteryPct = options.initialBatteryPct ?? Math.round(this.random.uniform(70, 100) * 10) / 10;
    this.settledAt = this.clock.now();
  }

  snapshot(): ProgrammerSnapshot {
    this.settle();
    return {
      session: this.sessionOpen ? 'open' : 'idle',
      implantSerial: this.implantSerial,
      lastProgrammed: this.lastProgrammed,
      batteryPct: this.batteryPct,
    };
  }

  telemetry(): Record<string, ParamValue> {
    this.settle();
    return {
      session: this.sessionOpen ? 'open' : 'idle',
      implant_serial: this.implantSerial,
      mode: this.lastProgrammed?.mode ?? '',
      lower_rate_ppm: this.lastProgrammed?.lowerRatePpm ?? 0,
      battery_pct: Math.round(this.batteryPct * 10) / 10,
      firmware: this.firmware,
    };
  }

  protected applyCommand(message: CommandMessage, spec: CommandSpec): string | null {
    this.settle();
    const params = message.params;
    switch (spec.name) {
      case 'start_session':
        if (this.sessionOpen) return `a session with ${this.implantSerial} is already open; end it first`;
        this.sessionOpen = true;
        this.implantSerial = params.implant_serial as string;
        return null;
      case 'program': {
        if (!this.sessionOpen) return 'no session open; start a session with the implant first';
        const lowerRatePpm = params.lower_rate_ppm as number;
        const upperRatePpm = params.upper_rate_ppm as number;
        if (upperRatePpm < lowerRatePpm) return `upper rate ${upperRatePpm} ppm is below the lower rate ${lowerRatePpm} ppm`;
        this.lastProgrammed = {
          mode: params.mode as string,
          lowerRatePpm,
          upperRatePpm,
          amplitudeV: params.amplitude_v as number,
          pulseWidthMs: params.pulse_width_ms as number,
          tachyTherapy: params.tachy_therapy as boolean,
        };
        return null;
      }
      case 'end_session':
        if (!this.sessionOpen) return 'no session open';
        this.sessionOpen = false;
        this.implantSerial = '';
        return null;
      case 'install_update':
        // Unsigned updates over the network are accepted, as in CVE-2018-10596; the monitor judges the sender.
        if (this.sessionOpen) return 'cannot update during a programming session';
        this.firmware = params.version as string;
        return null;
      default:
        return `command ${spec.name} is not supported by this programmer`;
    }
  }

  protected cancelTimers(): void {
    // The programmer has no timers of its own beyond telemetry.
  }

  private settle(): void {
    const now = this.clock.now();
    const hours = (now - this.settledAt) / MS_PER_HOUR;
    this.settledAt = now;
    if (hours <= 0) return;
    this.batteryPct = this.sessionOpen
      ? Math.max(0, this.batteryPct - BATTERY_DRAIN_PCT_PER_HOUR * hours)
      : Math.min(100, this.batteryPct + BATTERY_CHARGE_PCT_PER_HOUR * hours);
  }
}
