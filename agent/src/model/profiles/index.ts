import type { DeviceKind, DeviceProfile } from '../device-profile.ts';
import { infusionPumpProfile } from './infusion-pump.ts';
import { pacemakerProgrammerProfile } from './pacemaker-programmer.ts';

export const DEVICE_PROFILES: Readonly<Record<DeviceKind, DeviceProfile>> = {
  'infusion-pump': infusionPumpProfile,
  'pacemaker-programmer': pacemakerProgrammerProfile,
};

export const DEVICE_KINDS = Object.keys(DEVICE_PROFILES) as DeviceKind[];
