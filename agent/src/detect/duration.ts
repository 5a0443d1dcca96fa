import { formatQuantity } from '../alert/format.ts';

/**
 * A span of event time as a nurse reads it: "1.9 s", "45 s", "12 min", "2 h 5 min",
 * "3 d 4 h". Seconds keep their first decimal below ten, so a burst "in 1.9 s" says how
 * tight it was.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return `${String(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 10) return `${formatQuantity(Math.round(seconds * 10) / 10)} s`;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days} d` : `${days} d ${hours % 24} h`;
}
