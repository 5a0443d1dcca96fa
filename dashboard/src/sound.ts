/**
 * The chime for critical alerts and its mute button in the header. The chime is
 * synthesized with the Web Audio API (two short sine tones): the agent serves no audio
 * file and the CSP allows none from elsewhere.
 *
 * Browsers refuse audio until the person has interacted with the page; until then the
 * button says "Enable sound" in place of "Sound on" (short, so that a nurse's header keeps
 * one row at 1600 px; the tooltip says why). The first click or key press anywhere unlocks it
 * (a click on the button itself then only unlocks, it does not mute). Muting is kept in
 * localStorage, so a station stays muted across reloads. The button is the test hook
 * too: `data-last-chime` is the id of the alert that last chimed, `data-chime-count`
 * how many chimes played (a headless browser cannot be listened to).
 */
import { requireElement, setData, setHidden, setText } from './dom.ts';

const STORAGE_KEY = 'wardwatch.sound';

type AudioContextClass = new () => AudioContext;

function audioContextClass(): AudioContextClass | null {
  const scope = window as unknown as { AudioContext?: AudioContextClass; webkitAudioContext?: AudioContextClass };
  return scope.AudioContext ?? scope.webkitAudioContext ?? null;
}

function readMuted(): boolean {
  try {
    return window.localStorage.getItem(STORAGE_KEY) === 'off';
  } catch {
    return false;
  }
}

function writeMuted(muted: boolean): void {
  try {
    window.localStorage.setItem(STORAGE_KEY, muted ? 'off' : 'on');
  } catch {
    // Storage refused (private mode, quota): the choice holds until the page reloads.
  }
}

/** One tone: a quick rise and an exponential fade, so it neither clicks nor drones. */
function tone(context: AudioContext, frequency: number, start: number, length: number): void {
  const oscillator = context.createOscillator();
  const gain = context.createGain();
  oscillator.type = 'sine';
  oscillator.frequency.value = frequency;
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(0.35, start + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
  oscillator.connect(gain).connect(context.destination);
  oscillator.start(start);
  oscillator.stop(start + length + 0.02);
}

export class SoundControl {
  private readonly button = requireElement('sound-toggle', HTMLButtonElement);
  private readonly icon = requireElement('sound-icon', HTMLElement);
  private readonly label = requireElement('sound-label', HTMLElement);
  private readonly hint = requireElement('sound-hint', HTMLElement);
  private muted = readMuted();
  private context: AudioContext | null = null;
  private unlocked = false;
  /** The gesture that unlocked audio was on the button: its click must not also mute. */
  private swallowClick = false;
  private chimes = 0;

  constructor() {
    // On click, not pointerdown: the button's text changes when sound is enabled, and a
    // header that reflows between the press and the release would lose the click.
    window.addEventListener('click', this.onGesture, true);
    window.addEventListener('keydown', this.onGesture, true);
    this.button.addEventListener('click', () => {
      if (this.swallowClick) {
        this.swallowClick = false;
        return;
      }
      this.setMuted(!this.muted);
    });
    this.render();
  }

  get isMuted(): boolean {
    return this.muted;
  }

  setMuted(muted: boolean): void {
    this.muted = muted;
    writeMuted(muted);
    this.render();
  }

  /** Plays the chime for `alertId`; false when muted or the browser does not allow audio yet. */
  chime(alertId: string): boolean {
    if (this.muted || !this.unlocked || this.context === null) return false;
    try {
      const context = this.context;
      if (context.state === 'suspended') void context.resume().catch(() => undefined);
      const now = context.currentTime + 0.01;
      tone(context, 988, now, 0.22);
      tone(context, 784, now + 0.24, 0.4);
    } catch (error) {
      console.warn('wardwatch: the chime could not play', error);
      return false;
    }
    this.chimes += 1;
    this.button.dataset['lastChime'] = alertId;
    this.button.dataset['chimeCount'] = String(this.chimes);
    return true;
  }

  private readonly onGesture = (event: Event): void => {
    if (this.unlocked) return;
    const Context = audioContextClass();
    if (Context === null) return;
    try {
      this.context = new Context();
      void this.context.resume().catch(() => undefined);
    } catch (error) {
      console.warn('wardwatch: audio is not available', error);
      return;
    }
    this.unlocked = true;
    window.removeEventListener('click', this.onGesture, true);
    window.removeEventListener('keydown', this.onGesture, true);
    const clicks = event.type === 'click' || (event instanceof KeyboardEvent && (event.key === 'Enter' || event.key === ' '));
    if (clicks && !this.muted && event.target instanceof Node && this.button.contains(event.target)) this.swallowClick = true;
    this.render();
  };

  private render(): void {
    const blocked = !this.muted && !this.unlocked;
    setData(this.button, 'sound', this.muted ? 'off' : 'on');
    setData(this.button, 'blocked', String(blocked));
    setText(this.icon, this.muted ? '⊘' : '♪');
    setText(this.label, this.muted ? 'Sound off' : 'Sound on');
    // Until a click allows audio, "Sound on" would not be true yet: the hint takes the label's place (and its width in the header).
    setHidden(this.label, blocked);
    setHidden(this.hint, !blocked);
    this.button.title = this.muted
      ? 'The critical-alert chime is muted: click to turn it on'
      : blocked
        ? 'The browser allows sound only after a click on the page: click to enable sound'
        : 'The critical-alert chime is on: click to mute it';
  }
}
