/**
 * Who is logged in, in the header: name, role (a word, not a colour), the log-out button,
 * and the links to the engineering and administration pages the role may open. A nurse
 * sees no such link; the agent refuses those routes to a nurse anyway (403).
 */
import type { RoleName, SessionUser } from '../../agent/src/server/dashboard-protocol.ts';
import { requireElement, setData, setHidden, setText } from './dom.ts';

export const ROLE_LABEL: Readonly<Record<RoleName, string>> = {
  display: 'Wall display',
  nurse: 'Nurse',
  biomed: 'Biomedical engineer',
  admin: 'Administrator',
};

export class UserView {
  private readonly area = requireElement('user-area', HTMLElement);
  private readonly name = requireElement('user-name', HTMLElement);
  private readonly role = requireElement('user-role', HTMLElement);
  private readonly nav = requireElement('admin-nav', HTMLElement);
  private readonly logout = requireElement('logout-button', HTMLButtonElement);

  constructor(onLogout: () => void) {
    this.logout.addEventListener('click', onLogout);
  }

  render(user: SessionUser | null, permissions: readonly string[]): void {
    setHidden(this.area, user === null);
    setText(this.name, user?.name ?? '');
    setText(this.role, user === null ? '' : (ROLE_LABEL[user.role] ?? user.role));
    setData(this.role, 'role', user?.role ?? 'none');
    let anyLink = false;
    for (const link of Array.from(this.nav.querySelectorAll<HTMLAnchorElement>('a[data-permission]'))) {
      const allowed = user !== null && permissions.includes(link.dataset['permission'] ?? '');
      setHidden(link, !allowed);
      anyLink ||= allowed;
    }
    setHidden(this.nav, !anyLink);
  }

  setLoggingOut(busy: boolean): void {
    this.logout.disabled = busy;
    setText(this.logout, busy ? 'Logging out…' : 'Log out');
  }
}
