/**
 * A device profile is data: the commands a device accepts, their typed parameters with
 * units and device limits, its telemetry fields, and how each maps onto MQTT. The
 * simulators encode with it and the agent decodes with it, so the two cannot drift
 * (DESIGN.md, "The device model: one source of truth").
 */

/** A numeric parameter; the unit is also part of the wire name (`rate_ml_h`). */
export interface NumberParameter {
  readonly type: 'number';
  readonly unit: string;
  /** Device limits: the envelope the hardware can be programmed to. */
  readonly min: number;
  readonly max: number;
  /** A value outside [min, max] that the device still accepts and means "off" (pacing amplitude 0 V). */
  readonly offValue?: number;
  /** Smallest step the device distinguishes; a Modbus register holds value ÷ resolution (default 1). */
  readonly resolution?: number;
  readonly required: boolean;
  readonly description: string;
}

export interface StringParameter {
  readonly type: 'string';
  readonly maxLength: number;
  readonly required: boolean;
  readonly description: string;
}

export interface EnumParameter {
  readonly type: 'enum';
  readonly values: readonly string[];
  readonly required: boolean;
  readonly description: string;
}

export interface BooleanParameter {
  readonly type: 'boolean';
  readonly required: boolean;
  readonly description: string;
}

export type ParameterSpec = NumberParameter | StringParameter | EnumParameter | BooleanParameter;

export interface CommandSpec {
  readonly name: string;
  readonly description: string;
  readonly params: Readonly<Record<string, ParameterSpec>>;
}

export interface TelemetryFieldSpec {
  readonly type: 'number' | 'string' | 'boolean';
  readonly unit?: string;
  /** Smallest step reported; a Modbus input register holds value ÷ resolution (default 1). */
  readonly resolution?: number;
  readonly description: string;
}

export type DeviceKind = 'infusion-pump' | 'pacemaker-programmer';

export interface DeviceProfile {
  readonly id: DeviceKind;
  readonly title: string;
  readonly commands: Readonly<Record<string, CommandSpec>>;
  readonly telemetry: Readonly<Record<string, TelemetryFieldSpec>>;
  /** Telemetry period the device keeps when healthy, in milliseconds of event time. */
  readonly telemetryIntervalMs: number;
}
