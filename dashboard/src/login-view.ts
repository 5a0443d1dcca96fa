/**
 * The login screen: username, password and code in one form (the agent never says which
 * was wrong); at a first login the authenticator enrolment (a QR code of the otpauth URI
 * to scan, the key as text beside it to type, and the URI itself), then the recovery
 * codes, shown once. When a session ends while the ward is on screen, the same view comes
 * back with a loud notice that the screen is no longer showing alerts.
 */
import { postEnrol, postLogin } from './api.ts';
import { el, requireElement, setHidden, setText } from './dom.ts';
import { qrCodeSvg } from './qr-code.ts';

export interface LoginViewOptions {
  /** Logged in (after the recovery codes, if any, were acknowledged). */
  onLoggedIn(): void;
}

const UNREACHABLE = 'Cannot reach the agent. Check the network and try again.';

/** "ABCD EFGH …": a base32 key in groups of four, as people type it. */
function grouped(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, '$1 ');
}

export class LoginView {
  private readonly view = requireElement('login-view', HTMLElement);
  private readonly notice = requireElement('signed-out-notice', HTMLElement);
  private readonly loginForm = requireElement('login-form', HTMLFormElement);
  private readonly username = requireElement('login-username', HTMLInputElement);
  private readonly password = requireElement('login-password', HTMLInputElement);
  private readonly code = requireElement('login-code', HTMLInputElement);
  private readonly loginError = requireElement('login-error', HTMLElement);
  private readonly loginSubmit = requireElement('login-submit', HTMLButtonElement);
  private readonly enrolForm = requireElement('enrol-form', HTMLFormElement);
  private readonly enrolQr = requireElement('enrol-qr', HTMLElement);
  private readonly enrolSecret = requireElement('enrol-secret', HTMLElement);
  private readonly enrolUri = requireElement('enrol-uri', HTMLElement);
  private readonly enrolCode = requireElement('enrol-code', HTMLInputElement);
  private readonly enrolError = requireElement('enrol-error', HTMLElement);
  private readonly enrolSubmit = requireElement('enrol-submit', HTMLButtonElement);
  private readonly enrolCancel = requireElement('enrol-cancel', HTMLButtonElement);
  private readonly recoveryView = requireElement('recovery-view', HTMLElement);
  private readonly recoveryList = requireElement('recovery-codes', HTMLOListElement);
  private readonly recoveryDone = requireElement('recovery-done', HTMLButtonElement);
  private sending = false;

  constructor(private readonly options: LoginViewOptions) {
    this.loginForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.logIn();
    });
    this.enrolForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.enrol();
    });
    this.enrolCancel.addEventListener('click', () => this.showStep('login'));
    this.recoveryDone.addEventListener('click', () => {
      this.recoveryList.replaceChildren();
      this.options.onLoggedIn();
    });
  }

  /** Shows the login form; `signedOut` is the loud reason when a session ended while the ward was shown. */
  show(signedOut: string | null = null): void {
    setText(this.notice, signedOut ?? '');
    setHidden(this.notice, signedOut === null);
    setHidden(this.view, false);
    this.showStep('login');
    this.username.focus();
  }

  hide(): void {
    setHidden(this.view, true);
  }

  private showStep(step: 'login' | 'enrol' | 'recovery'): void {
    setHidden(this.loginForm, step !== 'login');
    setHidden(this.enrolForm, step !== 'enrol');
    setHidden(this.recoveryView, step !== 'recovery');
    if (step === 'login') {
      this.password.value = '';
      this.code.value = '';
      this.showError(this.enrolError, null);
      // A cancelled enrolment leaves no secret on the page.
      this.enrolQr.replaceChildren();
      setText(this.enrolSecret, '');
      setText(this.enrolUri, '');
    }
  }

  private async logIn(): Promise<void> {
    if (this.sending) return;
    const username = this.username.value.trim();
    const password = this.password.value;
    const code = this.code.value.trim();
    if (username === '' || password === '') {
      this.showError(this.loginError, 'Enter your username and password.');
      (username === '' ? this.username : this.password).focus();
      return;
    }
    this.setSending(this.loginSubmit, true, 'Logging in…', 'Log in');
    const reply = await postLogin({ username, password, ...(code === '' ? {} : { code }) });
    this.setSending(this.loginSubmit, false, 'Logging in…', 'Log in');
    switch (reply.kind) {
      case 'ok':
        return this.loggedIn();
      case 'enrol':
        this.showError(this.loginError, null);
        this.showQrCode(reply.offer.uri);
        setText(this.enrolSecret, grouped(reply.offer.secretBase32));
        setText(this.enrolUri, reply.offer.uri);
        this.enrolCode.value = '';
        this.showStep('enrol');
        this.enrolCode.focus();
        return;
      case 'refused':
        this.code.value = '';
        this.showError(this.loginError, reply.message);
        this.code.focus();
        return;
      case 'unreachable':
        this.showError(this.loginError, UNREACHABLE);
    }
  }

  private loggedIn(): void {
    this.showError(this.loginError, null);
    this.password.value = '';
    this.code.value = '';
    this.options.onLoggedIn();
  }

  private async enrol(): Promise<void> {
    if (this.sending) return;
    const code = this.enrolCode.value.trim();
    if (code === '') {
      this.showError(this.enrolError, 'Type the 6-digit code the app shows.');
      this.enrolCode.focus();
      return;
    }
    this.setSending(this.enrolSubmit, true, 'Checking…', 'Confirm');
    const reply = await postEnrol(code);
    this.setSending(this.enrolSubmit, false, 'Checking…', 'Confirm');
    if (reply.kind === 'ok') {
      this.showError(this.enrolError, null);
      this.enrolQr.replaceChildren();
      setText(this.enrolSecret, '');
      setText(this.enrolUri, '');
      this.recoveryList.replaceChildren(...reply.value.recoveryCodes.map((recoveryCode) => el('li', 'recovery-code', recoveryCode)));
      this.showStep('recovery');
      this.recoveryDone.focus();
      return;
    }
    this.enrolCode.value = '';
    this.showError(this.enrolError, reply.kind === 'unreachable' ? UNREACHABLE : reply.message);
    this.enrolCode.focus();
  }

  /** The QR code of the setup link; should it fail to draw, the key beside it is still there to type. */
  private showQrCode(uri: string): void {
    try {
      this.enrolQr.replaceChildren(qrCodeSvg(uri, 'QR code of the setup link, for the authenticator app'));
      setHidden(this.enrolQr, false);
    } catch {
      this.enrolQr.replaceChildren();
      setHidden(this.enrolQr, true);
    }
  }

  private showError(node: HTMLElement, message: string | null): void {
    setText(node, message ?? '');
    setHidden(node, message === null);
  }

  private setSending(button: HTMLButtonElement, sending: boolean, busy: string, idle: string): void {
    this.sending = sending;
    button.disabled = sending;
    setText(button, sending ? busy : idle);
  }
}
