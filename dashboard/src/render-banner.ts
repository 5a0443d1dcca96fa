/**
 * The monitoring banner and the staleness of everything below it. While offline the
 * tiles and alerts stay on screen (the last known picture is still useful) but dimmed,
 * with the time of the last data, so nobody mistakes them for live.
 */
import { requireElement, setData, setHidden, setText } from './dom.ts';
import { formatClock } from './format.ts';
import { DEGRADED_TITLE, OFFLINE_TITLE, type MonitoringStatus } from './monitoring-status.ts';

export class BannerView {
  private readonly banner = requireElement('monitoring-banner', HTMLElement);
  private readonly title = requireElement('monitoring-banner-title', HTMLElement);
  private readonly detail = requireElement('monitoring-banner-detail', HTMLElement);
  private readonly staleNotes = Array.from(document.querySelectorAll<HTMLElement>('.stale-note'));

  /** `lastDataAt`: when the page last received anything from the agent (epoch ms), or null. */
  render(status: MonitoringStatus, lastDataAt: number | null): void {
    const offline = status.level === 'offline';
    const lastUpdated = lastDataAt === null ? 'No data received yet' : `Last updated ${formatClock(new Date(lastDataAt))}`;

    document.body.classList.toggle('is-stale', offline);
    for (const note of this.staleNotes) {
      setText(note, `${lastUpdated} — not live`);
      setHidden(note, !offline);
    }

    if (status.level === 'ok' || status.level === 'connecting') {
      setHidden(this.banner, true);
      setData(this.banner, 'level', status.level);
      return;
    }
    setData(this.banner, 'level', status.level);
    if (offline) {
      setText(this.title, OFFLINE_TITLE);
      setText(this.detail, `${lastUpdated}. ${capitaliseFirst(status.reasons.join('; '))}. Reconnecting automatically. Check patients and devices directly.`);
    } else {
      setText(this.title, DEGRADED_TITLE);
      setText(this.detail, status.reasons.join(' · '));
    }
    setHidden(this.banner, false);
  }
}

function capitaliseFirst(text: string): string {
  return text.length === 0 ? text : text.charAt(0).toUpperCase() + text.slice(1);
}
