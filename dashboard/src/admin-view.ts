/**
 * The engineering and administration pages, minimal for now: the learned baseline and
 * the site configuration, read-only (biomed and admin), the users and the audit log
 * (admin), each a table read from the API. Opened by the header links (#baseline,
 * #config, #users, #audit); a role without the permission gets no link, and typing the
 * address anyway shows the agent's refusal.
 */
import type { AuditView, BaselineStatusView, DashboardUserView, SiteConfigView } from '../../agent/src/server/dashboard-protocol.ts';
import { adminTable } from './admin-table.ts';
import { getJson } from './api.ts';
import { siteConfigNodes } from './render-config.ts';
import { el, requireElement, setHidden, setText } from './dom.ts';
import { ROLE_LABEL } from './render-user.ts';

export type AdminPage = 'baseline' | 'config' | 'users' | 'audit';

const TITLES: Readonly<Record<AdminPage, string>> = {
  baseline: 'Learned baseline',
  config: 'Site configuration',
  users: 'Dashboard users',
  audit: 'Audit log',
};

export function adminPageOf(hash: string): AdminPage | null {
  const page = hash.replace(/^#/, '');
  return page === 'baseline' || page === 'config' || page === 'users' || page === 'audit' ? page : null;
}

function time(value: string | number | null): string {
  if (value === null) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

export class AdminView {
  private readonly view = requireElement('admin-view', HTMLElement);
  private readonly heading = requireElement('admin-heading', HTMLElement);
  private readonly error = requireElement('admin-error', HTMLElement);
  private readonly body = requireElement('admin-body', HTMLElement);
  private shown: AdminPage | null = null;

  get page(): AdminPage | null {
    return this.shown;
  }

  async show(page: AdminPage): Promise<void> {
    this.shown = page;
    setText(this.heading, TITLES[page]);
    setHidden(this.view, false);
    this.body.replaceChildren(el('p', 'empty-note', 'Loading…'));
    this.showError(null);
    this.heading.focus();
    const nodes = await this.load(page);
    if (this.shown !== page) return;
    this.body.replaceChildren(...nodes);
  }

  hide(): void {
    this.shown = null;
    setHidden(this.view, true);
    this.body.replaceChildren();
  }

  private async load(page: AdminPage): Promise<Node[]> {
    switch (page) {
      case 'baseline': {
        const reply = await getJson<BaselineStatusView>('/api/baseline');
        if (reply.kind !== 'ok') return this.refused(reply);
        const status = reply.value;
        return [
          el('p', 'admin-summary', `Mode ${status.mode}; ${status.devicesCovered} of ${status.devicesTotal} devices seen; learned until ${time(status.learnedUntil)}; ${status.events} events; ${status.saved ? 'saved' : 'not saved yet'}.`),
          adminTable(
            ['Device', 'Kind', 'State', 'Hours learned', 'Commands', 'Stable envelopes'],
            status.devices.map((device) => [device.id, device.profile, device.state, String(device.hoursLearned), String(device.commands), `${device.stableEnvelopes} of ${device.envelopes}`]),
          ),
          el('p', 'hint', 'A learned alert that is normal after all is accepted from its page ("Accept as normal for this ward"), with the agent running. Review, import and freeze the baseline with `wardwatch baseline …` (docs/operations.md).'),
        ];
      }
      case 'config': {
        const reply = await getJson<SiteConfigView>('/api/config');
        if (reply.kind !== 'ok') return this.refused(reply);
        return siteConfigNodes(reply.value);
      }
      case 'users': {
        const reply = await getJson<DashboardUserView[]>('/api/users');
        if (reply.kind !== 'ok') return this.refused(reply);
        return [
          adminTable(
            ['User', 'Role', 'Authenticator', 'Recovery codes left', 'Disabled', 'Locked until'],
            reply.value.map((user) => [user.username, ROLE_LABEL[user.role] ?? user.role, user.mfaEnrolled ? 'enrolled' : 'not yet (first login)', String(user.recoveryCodesLeft), yesNo(user.disabled), user.lockedUntil !== null && user.lockedUntil > Date.now() ? time(user.lockedUntil) : '—']),
          ),
          el('p', 'hint', 'Add, disable and reset users with `wardwatch users …` on the agent (docs/operations.md).'),
        ];
      }
      case 'audit': {
        const reply = await getJson<AuditView>('/api/audit?limit=200');
        if (reply.kind !== 'ok') return this.refused(reply);
        const chain = el('p', reply.value.chainIntact ? 'chain-state chain-ok' : 'chain-state chain-broken', reply.value.chainIntact ? '✔ Hash chain intact' : '✖ Hash chain BROKEN: run `wardwatch audit verify` on the agent to see where');
        return [
          chain,
          adminTable(
            ['#', 'When', 'Who', 'From', 'What', 'Details'],
            [...reply.value.entries].reverse().map((entry) => [String(entry.seq), time(entry.ts), entry.actor, entry.from, entry.action, JSON.stringify(entry.details)]),
          ),
        ];
      }
    }
  }

  private refused(reply: { readonly kind: 'refused'; readonly status: number; readonly message: string } | { readonly kind: 'unreachable' }): Node[] {
    if (reply.kind === 'unreachable') this.showError('Cannot reach the agent.');
    else if (reply.status === 403) this.showError(`Not for your role: ${reply.message}.`);
    else this.showError(reply.message);
    return [];
  }

  private showError(message: string | null): void {
    setText(this.error, message ?? '');
    setHidden(this.error, message === null);
  }
}
