import { DEVICE_PROFILES } from '../model/profiles/index.ts';
import type { SiteConfig } from '../model/site-schema.ts';
import type { InventoryDevice } from './events.ts';

/** The site's devices indexed by id and by the account each connects with. */
export class Inventory {
  private readonly byId = new Map<string, InventoryDevice>();
  private readonly byAccount = new Map<string, InventoryDevice>();

  constructor(config: SiteConfig) {
    for (const deviceConfig of config.devices) {
      const device: InventoryDevice = { config: deviceConfig, profile: DEVICE_PROFILES[deviceConfig.profile] };
      this.byId.set(deviceConfig.id, device);
      this.byAccount.set(deviceConfig.account, device);
    }
  }

  device(id: string): InventoryDevice | undefined {
    return this.byId.get(id);
  }

  deviceForAccount(account: string): InventoryDevice | undefined {
    return this.byAccount.get(account);
  }

  all(): IterableIterator<InventoryDevice> {
    return this.byId.values();
  }
}

/** "Bed 3 · pump-03" or "EP clinic room 1 · prog-01": how a nurse finds a device. */
export function deviceLabel(device: InventoryDevice): string {
  const place = device.config.bed !== undefined ? `Bed ${device.config.bed}` : (device.config.location ?? device.config.ward);
  return `${place} · ${device.config.id}`;
}
