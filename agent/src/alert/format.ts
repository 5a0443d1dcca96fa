/** Numbers as a nurse reads them: three significant figures, no trailing zeros. */
export function formatQuantity(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  const digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3;
  return String(Number(value.toFixed(digits)));
}

/** " (sent by station-4w)" or " (sent by an anonymous client 10.0.0.9)". */
export function sentBy(account: string | null, address: string): string {
  return account === null ? ` (sent by an anonymous client at ${address})` : ` (sent by ${account})`;
}
