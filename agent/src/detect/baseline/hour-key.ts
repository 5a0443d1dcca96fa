/** `h00`…`h23`, made once: the hour detector reads all 24 on every command. */
const HOUR_KEYS: readonly string[] = Array.from({ length: 24 }, (_, hour) => `h${String(hour).padStart(2, '0')}`);

/** `h00`…`h23`: the key of a local hour in the baseline's hour tables. */
export function hourKey(hour: number): string {
  return HOUR_KEYS[((hour % 24) + 24) % 24] as string;
}
