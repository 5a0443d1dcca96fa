/** The header: site and ward, the link indicator, and the station clock. */
import type { SiteView } from '../../agent/src/server/dashboard-protocol.ts';
import { requireElement, setData, setHidden, setText } from './dom.ts';
import { formatClock } from './format.ts';
import type { MonitoringLevel } from './monitoring-status.ts';

/** Symbol and word per level, so the indicator does not rely on colour. */
const INDICATOR: Readonly<Record<MonitoringLevel, { readonly symbol: string; readonly label: string }>> = {
  connecting: { symbol: '◌', label: 'Connecting…' },
  ok: { symbol: '●', label: 'Live' },
  degraded: { symbol: '▲', label: 'Degraded' },
  offline: { symbol: '✖', label: 'Offline' },
};

export class HeaderView {
  private readonly siteName = requireElement('site-name', HTMLElement);
  private readonly wardName = requireElement('ward-name', HTMLElement);
  private readonly indicator = requireElement('link-indicator', HTMLElement);
  private readonly indicatorSymbol = requireElement('link-symbol', HTMLElement);
  private readonly indicatorLabel = requireElement('link-label', HTMLElement);
  private readonly clock = requireElement('clock', HTMLTimeElement);

  renderSite(site: SiteView): void {
    setText(this.siteName, site.name);
    // The name may end in an ellipsis on a narrow header; the tooltip has it whole.
    if (this.siteName.title !== site.name) this.siteName.title = site.name;
    setText(this.wardName, `Ward ${site.ward}`);
  }

  renderLevel(level: MonitoringLevel): void {
    const { symbol, label } = INDICATOR[level];
    setData(this.indicator, 'link', level);
    setText(this.indicatorSymbol, symbol);
    setText(this.indicatorLabel, label);
  }

  /** No link indicator on the login screen: nothing is being monitored there to be live or not. */
  showLink(visible: boolean): void {
    setHidden(this.indicator, !visible);
  }

  tick(now: Date): void {
    setText(this.clock, formatClock(now));
    this.clock.dateTime = now.toISOString();
  }
}
