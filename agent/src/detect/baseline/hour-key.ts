/** `h00`…`h23`: the key of a local hour in the baseline's hour tables. */
export function hourKey(hour: number): string {
  return `h${String(hour).padStart(2, '0')}`;
}
