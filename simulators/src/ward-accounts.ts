import type { DeviceKind } from '../../agent/src/model/device-profile.ts';
import type { AccountConfig, DeviceConfig, PolicyRule, SiteConfig } from '../../agent/src/model/site-schema.ts';
import { SimulatorError } from './errors.ts';

/**
 * Which accounts the simulated ward logs in with. Devices use their own account from the
 * inventory; the nurse station and the EP workstation use the station accounts that the
 * site's command policy allows to command those devices, so that a quiet simulated day
 * raises no unauthorised-command alerts.
 */

export interface AccountCredentials {
  readonly username: string;
  readonly password: string;
}

/** Commands each actor sends; the account it uses must be allowed all of them. */
export const STATION_COMMANDS: readonly string[] = ['program_infusion', 'start', 'pause', 'set_rate', 'bolus'];
export const CLINIC_COMMANDS: readonly string[] = ['start_session', 'program', 'end_session'];
/** A station that discharges patients or swaps pumps also stops infusions. */
export const LONG_STAY_STATION_COMMANDS: readonly string[] = [...STATION_COMMANDS, 'stop'];

/** Whether one policy rule lets `account` send `command` to `device`. */
export function ruleAllows(rule: PolicyRule, account: AccountConfig, device: DeviceConfig, command: string): boolean {
  const who = (rule.accounts?.includes(account.username) ?? false) || (rule.roles?.includes(account.role) ?? false);
  if (!who) return false;
  const selector = rule.devices;
  if (selector.ids !== undefined && !selector.ids.includes(device.id)) return false;
  if (selector.profile !== undefined && selector.profile !== device.profile) return false;
  if (selector.ward !== undefined && selector.ward !== device.ward) return false;
  return rule.commands.includes('*') || rule.commands.includes(command);
}

export function policyAllows(config: SiteConfig, account: AccountConfig, device: DeviceConfig, command: string): boolean {
  return config.policy.rules.some((rule) => ruleAllows(rule, account, device, command));
}

/** The first station account the policy allows to send every one of `commands` to every one of `devices`. */
export function findCommandingAccount(config: SiteConfig, devices: readonly DeviceConfig[], commands: readonly string[]): AccountConfig | undefined {
  return config.mqtt.accounts.find((account) => account.role === 'station'
    && devices.every((device) => commands.every((command) => policyAllows(config, account, device, command))));
}

/** Every station account the policy allows to send every one of `commands` to every one of `devices`, in account order. */
export function findCommandingAccounts(config: SiteConfig, devices: readonly DeviceConfig[], commands: readonly string[]): AccountConfig[] {
  return config.mqtt.accounts.filter((account) => account.role === 'station'
    && devices.every((device) => commands.every((command) => policyAllows(config, account, device, command))));
}

/**
 * The account of one ward's nurse station when several wards have their own: the first
 * station account allowed to command all the ward's pumps that no other ward's station
 * uses yet (`taken`), else the first allowed one.
 */
export function wardStationCredentials(
  config: SiteConfig,
  ward: string,
  devices: readonly DeviceConfig[],
  commands: readonly string[],
  taken: ReadonlySet<string>,
): AccountCredentials | null {
  if (devices.length === 0) return null;
  const allowed = findCommandingAccounts(config, devices, commands);
  const account = allowed.find((candidate) => !taken.has(candidate.username)) ?? allowed[0];
  if (account === undefined) {
    throw new SimulatorError(
      'SIM_NO_COMMANDING_ACCOUNT',
      `no station account in mqtt.accounts is allowed by policy.rules to send ${commands.join(', ')} to the infusion-pumps of ward ${ward} ` +
        `(${devices.map((d) => d.id).join(', ')}); add a rule for that ward's nurse station, or name its account explicitly`,
    );
  }
  return { username: account.username, password: plainPassword(config, account.username, `the ${ward} nurse station`) };
}

/** The plain password of an account; the simulator logs in as the account, so a hash is not enough. */
export function plainPassword(config: SiteConfig, username: string, usedFor: string): string {
  const account = config.mqtt.accounts.find((candidate) => candidate.username === username);
  if (account === undefined) {
    throw new SimulatorError('SIM_UNKNOWN_ACCOUNT', `no MQTT account "${username}" in mqtt.accounts (needed for ${usedFor})`);
  }
  if (account.password === undefined) {
    throw new SimulatorError(
      'SIM_PLAIN_PASSWORD_REQUIRED',
      `account "${username}" (${usedFor}) has only a passwordHash; the simulator logs in as this account and needs its plain password. ` +
        'Give `password:` for simulated accounts in the config used for simulation (as config/demo.yaml does).',
    );
  }
  return account.password;
}

/** Credentials for an actor: the given ones, or the first station account the policy allows. */
export function actorCredentials(
  config: SiteConfig,
  given: AccountCredentials | undefined,
  devices: readonly DeviceConfig[],
  commands: readonly string[],
  profile: DeviceKind,
  actor: string,
): AccountCredentials | null {
  if (devices.length === 0) return null;
  if (given !== undefined) return given;
  const account = findCommandingAccount(config, devices, commands);
  if (account === undefined) {
    throw new SimulatorError(
      'SIM_NO_COMMANDING_ACCOUNT',
      `no station account in mqtt.accounts is allowed by policy.rules to send ${commands.join(', ')} to the ${profile}s ${devices.map((d) => d.id).join(', ')}; ` +
        `add a rule for the ${actor}, or name its account explicitly`,
    );
  }
  return { username: account.username, password: plainPassword(config, account.username, actor) };
}
