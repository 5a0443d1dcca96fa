import type { AccountRole, PolicyRule, SiteConfig } from '../model/site-schema.ts';
import type { InventoryDevice } from '../normalize/events.ts';

interface CompiledRule {
  readonly id: string;
  readonly accounts: ReadonlySet<string>;
  readonly roles: ReadonlySet<AccountRole>;
  readonly addresses: ReadonlySet<string>;
  readonly deviceIds: ReadonlySet<string> | null;
  readonly profile: string | null;
  readonly ward: string | null;
  readonly commands: ReadonlySet<string> | null;
}

function compile(rule: PolicyRule): CompiledRule {
  return {
    id: rule.id,
    accounts: new Set(rule.accounts ?? []),
    roles: new Set(rule.roles ?? []),
    addresses: new Set(rule.addresses ?? []),
    deviceIds: rule.devices.ids === undefined ? null : new Set(rule.devices.ids),
    profile: rule.devices.profile ?? null,
    ward: rule.devices.ward ?? null,
    commands: rule.commands.includes('*') ? null : new Set(rule.commands),
  };
}

/**
 * The command policy as data, compiled once and matched by a pure function (DESIGN.md,
 * principle 4). Default deny: a command no rule allows is unauthorized.
 */
export class CommandPolicy {
  private readonly rules: readonly CompiledRule[];

  constructor(config: SiteConfig) {
    this.rules = config.policy.rules.map(compile);
  }

  /**
   * The id of the first rule that allows this, or null. A rule names accounts and roles
   * (MQTT, where the broker authenticated the sender) or source addresses (Modbus/TCP,
   * which has no login: the gateway knows only where a request came from).
   */
  allowingRule(account: string | null, role: AccountRole | null, device: InventoryDevice, command: string, address: string | null = null): string | null {
    for (const rule of this.rules) {
      const byAccount = account !== null && (rule.accounts.has(account) || (role !== null && rule.roles.has(role)));
      const byAddress = account === null && address !== null && rule.addresses.has(address);
      if (!byAccount && !byAddress) continue;
      if (rule.deviceIds !== null && !rule.deviceIds.has(device.config.id)) continue;
      if (rule.profile !== null && rule.profile !== device.config.profile) continue;
      if (rule.ward !== null && rule.ward !== device.config.ward) continue;
      if (rule.commands !== null && !rule.commands.has(command)) continue;
      return rule.id;
    }
    return null;
  }
}
