/**
 * Wall-display mode: larger text and tiles for reading across a room, and no Acknowledge
 * buttons (alerts are acknowledged at a station, where the person is logged in and
 * answerable, not on a screen on the wall). Asked for with `?wall` in the address or the
 * header toggle, which keeps the address in step so a reload stays in the same mode.
 * The stylesheet keys on `data-wall="true"` on <html> (sizes) and <body>.
 *
 * A `display` login (a wall screen's own account, agent/src/auth/roles.ts) is always in
 * this mode: it opens by itself, whatever the address, and the toggle is hidden, since
 * that account may not acknowledge and a station layout would only offer buttons the
 * agent refuses.
 */
import { requireElement, setData, setHidden, setText } from './dom.ts';
import { wallModeRequested } from './nurse-alerting.ts';

export class WallMode {
  private readonly button = requireElement('wall-toggle', HTMLButtonElement);
  private readonly label = requireElement('wall-label', HTMLElement);
  private on = wallModeRequested(window.location.search);

  /** `alwaysOn`: a wall display's session; the mode is on and stays on. */
  constructor(alwaysOn = false) {
    this.button.addEventListener('click', () => this.set(!this.on));
    setHidden(this.button, alwaysOn);
    if (alwaysOn && !this.on) this.set(true);
    else this.render();
  }

  get active(): boolean {
    return this.on;
  }

  private set(on: boolean): void {
    this.on = on;
    const url = new URL(window.location.href);
    if (on) url.searchParams.set('wall', '');
    else url.searchParams.delete('wall');
    window.history.replaceState(window.history.state, '', url.href.replace(/([?&]wall)=(?=&|#|$)/, '$1'));
    this.render();
  }

  private render(): void {
    setData(document.body, 'wall', String(this.on));
    // The root's font size scales every rem in the stylesheet.
    document.documentElement.dataset['wall'] = String(this.on);
    setData(this.button, 'wall', String(this.on));
    this.button.setAttribute('aria-pressed', String(this.on));
    setText(this.label, this.on ? 'Wall display: on' : 'Wall display: off');
  }
}
