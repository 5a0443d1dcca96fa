/** The learned baseline's progress under the device list: engineers read it, nurses may ignore it. */
import type { BaselineHealthView } from '../../agent/src/server/dashboard-protocol.ts';
import { baselineText } from './baseline-text.ts';
import { requireElement, setData, setText } from './dom.ts';

export class BaselineView {
  private readonly line = requireElement('baseline-status', HTMLElement);

  render(view: BaselineHealthView | undefined): void {
    this.line.hidden = view === undefined;
    if (view === undefined) return;
    setData(this.line, 'state', view.mode === 'monitor' && view.judging ? 'watching' : view.mode === 'off' ? 'off' : 'learning');
    setText(this.line, baselineText(view));
  }
}
