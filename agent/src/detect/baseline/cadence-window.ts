/** Closed slots a window remembers. */
export const CADENCE_WINDOW_SLOTS = 10;

/**
 * One device's recent telemetry, in slots of event time: how many reports each of the last
 * CADENCE_WINDOW_SLOTS slots held beyond one per command to the device (a device reports
 * its new state after every command it obeys, so those reports are the ward's doing, not a
 * faster stream). Fixed size: ten numbers and the open slot, whatever the rate (DESIGN.md,
 * principle 3). Slots are aligned on multiples of `slotMs` since the epoch, so a replay
 * fills the same slots live traffic did.
 */
export class CadenceWindow {
  /** Net reports of the closed slots, a ring; `head` is where the next one goes. */
  private readonly closed = new Int32Array(CADENCE_WINDOW_SLOTS);
  private head = 0;
  private filled = 0;
  private slot: number;
  private telemetry = 0;
  private commands = 0;

  constructor(readonly slotMs: number, ts: number) {
    this.slot = Math.floor(ts / slotMs);
  }

  /**
   * Moves the window to `ts`: the open slot and any empty slots after it close (at most a
   * window's worth; a device silent that long has nothing left to count). Returns whether
   * a slot closed. Event time that goes backwards (a capture's reordering) counts in the
   * open slot.
   */
  advance(ts: number): boolean {
    const slot = Math.floor(ts / this.slotMs);
    if (!(slot > this.slot)) return false;
    this.push(this.telemetry - this.commands);
    for (let empty = Math.min(slot - this.slot - 1, CADENCE_WINDOW_SLOTS); empty > 0; empty--) this.push(0);
    this.slot = slot;
    this.telemetry = 0;
    this.commands = 0;
    return true;
  }

  countTelemetry(): void {
    this.telemetry += 1;
  }

  countCommand(): void {
    this.commands += 1;
  }

  /** Closed slots so far, at most CADENCE_WINDOW_SLOTS. */
  get slots(): number {
    return this.filled;
  }

  /** How many of the closed slots held more than `threshold` net reports. */
  slotsAbove(threshold: number): number {
    let above = 0;
    for (let index = 0; index < this.filled; index++) if ((this.closed[index] ?? 0) > threshold) above += 1;
    return above;
  }

  /** Net reports of the closed slots, oldest first (for the alert's evidence). */
  recent(): number[] {
    const out: number[] = [];
    for (let age = this.filled; age > 0; age--) out.push(this.closed[(this.head - age + CADENCE_WINDOW_SLOTS) % CADENCE_WINDOW_SLOTS] ?? 0);
    return out;
  }

  private push(net: number): void {
    this.closed[this.head] = Math.max(0, net);
    this.head = (this.head + 1) % CADENCE_WINDOW_SLOTS;
    if (this.filled < CADENCE_WINDOW_SLOTS) this.filled += 1;
  }
}
