/**
 * Wall-display mode: larger text and tiles for reading across a room, and no Acknowledge
 * buttons (alerts are acknowledged at a station, where the person is logged in and
 * answerable, not on a screen on the wall). Asked for with `?wall` in the address or the
 * header toggle, which keeps the address in step so a reload stays in the same mode.
 * The stylesheet keys on `data-wall="true"` on <html> (sizes) and <body>.
 */
import { requireElement, setData, setText } from './dom.ts';
import { wallModeRequested } from './nurse-alerting.ts';

export class WallMode {
  private readonly button = requireElement('wall-toggle', HTMLButtonElement);
  private readonly label = requireElement('wall-label', HTMLElement);
  private on = wallModeRequested(window.location.search);

  constructor() {
    this.button.addEventListener('click', () => this.set(!this.on));
    this.render();
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
