import type { ParamValue } from '../model/wire.ts';
import type { InventoryDevice, PipelineEvent } from './events.ts';
import type { Inventory } from './inventory.ts';

/** What a pump is infusing, as far as the agent knows: the context drug-library checks need. */
export interface InfusionContext {
  readonly drug: string;
  readonly careArea: string;
  readonly weightKg: number;
  readonly rateMlPerHour: number;
}

export interface DeviceState {
  readonly device: InventoryDevice;
  online: boolean;
  /** Event time of the last message from the device itself. */
  lastSeen: number | null;
  telemetry: Readonly<Record<string, ParamValue>>;
  infusion: InfusionContext | null;
}

function stringField(fields: Readonly<Record<string, ParamValue>>, name: string): string | null {
  const value = fields[name];
  return typeof value === 'string' && value.length > 0 ? value : null;
}

function numberField(fields: Readonly<Record<string, ParamValue>>, name: string): number | null {
  const value = fields[name];
  return typeof value === 'number' ? value : null;
}

/**
 * The agent's picture of each device, updated after the detectors have seen an event
 * (so that a detector compares a command with the state before it). Telemetry is the
 * device's own word and overrides what commands implied.
 */
export class DeviceStateTracker {
  private readonly states = new Map<string, DeviceState>();

  constructor(private readonly inventory: Inventory) {
    for (const device of inventory.all()) {
      this.states.set(device.config.id, { device, online: false, lastSeen: null, telemetry: {}, infusion: null });
    }
  }

  get(deviceId: string): DeviceState | undefined {
    return this.states.get(deviceId);
  }

  all(): IterableIterator<DeviceState> {
    return this.states.values();
  }

  /**
   * Telemetry or status over MQTT from an account that is not the device's own is an
   * impersonation (the authorization detector says so); it must not become the device's
   * state, or a forged weight or drug would hide the next overdose.
   */
  private static fromSomeoneElse(event: { readonly device: { readonly config: { readonly account: string } }; readonly source: { readonly transport: string; readonly account: string | null } | null }): boolean {
    return event.source !== null && event.source.transport === 'mqtt' && event.source.account !== event.device.config.account;
  }

  /** Returns the state that changed, or null when the event concerns no device's picture. */
  apply(event: PipelineEvent): DeviceState | null {
    if ((event.kind === 'telemetry' || event.kind === 'status') && DeviceStateTracker.fromSomeoneElse(event)) return null;
    switch (event.kind) {
      case 'telemetry': {
        const state = this.states.get(event.device.config.id);
        if (state === undefined) return null;
        state.telemetry = event.fields;
        state.lastSeen = event.ts;
        state.online = true;
        state.infusion = this.infusionFromTelemetry(event.fields) ?? (stringField(event.fields, 'state') === 'idle' ? null : state.infusion);
        return state;
      }
      case 'status': {
        const state = this.states.get(event.device.config.id);
        if (state === undefined) return null;
        state.online = event.status === 'online';
        state.lastSeen = event.ts;
        return state;
      }
      case 'command': {
        const state = this.states.get(event.device.config.id);
        if (state === undefined) return null;
        this.applyCommand(state, event.message.command, event.message.params);
        return state;
      }
      case 'client-disconnect': {
        const device = event.source.account === null ? undefined : this.deviceForAccount(event.source.account);
        if (device === undefined) return null;
        device.online = false;
        return device;
      }
      default:
        return null;
    }
  }

  private deviceForAccount(account: string): DeviceState | undefined {
    const device = this.inventory.deviceForAccount(account);
    return device === undefined ? undefined : this.states.get(device.config.id);
  }

  private infusionFromTelemetry(fields: Readonly<Record<string, ParamValue>>): InfusionContext | null {
    const drug = stringField(fields, 'drug');
    const careArea = stringField(fields, 'care_area');
    const weightKg = numberField(fields, 'weight_kg');
    const rate = numberField(fields, 'rate_ml_h');
    if (drug === null || careArea === null || weightKg === null || rate === null) return null;
    return { drug, careArea, weightKg, rateMlPerHour: rate };
  }

  private applyCommand(state: DeviceState, command: string, params: Readonly<Record<string, ParamValue>>): void {
    if (command === 'program_infusion') {
      const drug = params.drug;
      const careArea = params.care_area;
      const weightKg = params.weight_kg;
      const rate = params.rate_ml_h;
      if (typeof drug === 'string' && typeof careArea === 'string' && typeof weightKg === 'number' && typeof rate === 'number') {
        state.infusion = { drug, careArea, weightKg, rateMlPerHour: rate };
      }
    } else if (command === 'set_rate' && state.infusion !== null && typeof params.rate_ml_h === 'number') {
      state.infusion = { ...state.infusion, rateMlPerHour: params.rate_ml_h };
    } else if (command === 'stop') {
      state.infusion = null;
    }
  }
}
