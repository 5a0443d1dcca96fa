import type { EventSource } from '../normalize/events.ts';

/** Numbers as a nurse reads them: three significant figures, no trailing zeros. */
export function formatQuantity(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  const digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3;
  return String(Number(value.toFixed(digits)));
}

/** " (sent by station-4w)", " (sent by Modbus master 10.4.2.7)" or " (sent by an anonymous client at 10.0.0.9)". */
export function sentBy(source: Pick<EventSource, 'account' | 'address' | 'transport'>): string {
  if (source.transport === 'mqtt-tap') return ' (sender not visible: seen through the MQTT tap)';
  if (source.transport === 'mqtt-unattributed') return ` (sender not visible: the capture did not contain its login; from ${source.address})`;
  if (source.transport === 'ip') return ` (from ${source.address}, seen at the IP layer of a capture)`;
  if (source.account !== null) return ` (sent by ${source.account})`;
  return source.transport === 'modbus' ? ` (sent by Modbus master ${source.address})` : ` (sent by an anonymous client at ${source.address})`;
}
