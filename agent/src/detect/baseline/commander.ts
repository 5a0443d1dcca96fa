import type { EventSource } from '../../normalize/events.ts';
import { boundedKey } from '../bounded-key.ts';

/**
 * Who commanded a device, as the baseline remembers it: the authenticated account when the
 * ingest saw one (MQTT through the agent's broker), else the client id (a tap, a capture
 * that missed the login), else the source address (a Modbus master has no account).
 * Client ids that mqtt.js makes up per connection would make every reconnect "new", so
 * an account always wins over them.
 */
export function commanderOf(source: EventSource): string {
  if (source.account !== null) return `account:${boundedKey(source.account)}`;
  if (source.transport === 'modbus') return `address:${boundedKey(source.address)}`;
  return `client:${boundedKey(source.clientId)}`;
}

/** `account:station-4w` → `station-4w`; `address:10.4.0.10` → `Modbus master 10.4.0.10`. */
export function describeCommander(commander: string): string {
  const colon = commander.indexOf(':');
  const kind = commander.slice(0, colon);
  const name = commander.slice(colon + 1);
  if (kind === 'address') return `Modbus master ${name}`;
  if (kind === 'client') return `client "${name}"`;
  return name;
}

/** `account:station-4w@10.4.0.10`: a commander and an address it commands from. */
export function originKey(commander: string, address: string): string {
  return `${commander}@${boundedKey(address)}`;
}
