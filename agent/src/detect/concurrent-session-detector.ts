import type { FindingSink } from '../alert/finding.ts';
import type { ClientConnectEvent, ClientDisconnectEvent, PipelineEvent } from '../normalize/events.ts';
import { deviceLabel, type Inventory } from '../normalize/inventory.ts';
import { boundedKey, shortName } from './bounded-key.ts';
import type { Detector } from './detector.ts';

/**
 * Accounts with sessions tracked, least recently active evicted first; sessions per
 * account, oldest evicted first. Both evictions are counted. Authenticated accounts come
 * from the site config, so the account cap matters only for odd input (captures).
 */
export const SESSION_MAX_ACCOUNTS = 1_024;
export const SESSION_MAX_PER_ACCOUNT = 16;
/**
 * aedes ends the old connection of a client id before it announces the new one
 * [MQTT-3.1.4-2], so a takeover from another address shows as a disconnect and a connect
 * at the same moment. A connect with that client id from another address this soon after
 * is treated as if the old session were still open.
 */
export const TAKEOVER_GRACE_MS = 2_000;

interface Session {
  readonly clientId: string;
  readonly address: string;
  readonly since: number;
  /** Open connections with this client id from this address (an overlap during a same-host takeover). */
  connections: number;
}

interface AccountSessions {
  readonly sessions: Map<string, Session>;
  lastEnded: { readonly clientId: string; readonly address: string; readonly ts: number } | null;
}

/**
 * The same account connected twice at once from another client id or another address:
 * stolen credentials used while the real owner is online (a device account used from a
 * laptop, a station's password on a second host). The same client id from the same
 * address is the client reconnecting, which the broker resolves by taking the session
 * over [MQTT-3.1.4-2]: normal.
 */
export class ConcurrentSessionDetector implements Detector {
  readonly id = 'account-concurrent-session';
  private readonly accounts = new Map<string, AccountSessions>();
  /** Accounts or sessions forgotten because a table was full. */
  evictions = 0;

  constructor(private readonly inventory: Inventory) {}

  get accountsTracked(): number {
    return this.accounts.size;
  }

  sessionsTracked(account: string): number {
    return this.accounts.get(boundedKey(account))?.sessions.size ?? 0;
  }

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind === 'client-connect') this.connected(event, report);
    else if (event.kind === 'client-disconnect') this.disconnected(event);
  }

  private connected(event: ClientConnectEvent, report: FindingSink): void {
    const { account, address } = event.source;
    if (account === null) return;
    const clientId = boundedKey(event.source.clientId);
    const entry = this.entry(boundedKey(account));
    const others: Session[] = [];
    for (const session of entry.sessions.values()) {
      if (session.clientId !== clientId || session.address !== address) others.push(session);
    }
    const ended = entry.lastEnded;
    const takeover = ended !== null && ended.clientId === clientId && ended.address !== address && event.ts >= ended.ts && event.ts - ended.ts <= TAKEOVER_GRACE_MS;
    if (others.length === 0 && takeover) others.push({ clientId: ended.clientId, address: ended.address, since: ended.ts, connections: 0 });
    if (others.length > 0) this.report(event, account, clientId, others, takeover, report);

    const existing = entry.sessions.get(clientId);
    if (existing !== undefined && existing.address === address) {
      existing.connections += 1;
      return;
    }
    // Another address with this client id: the broker closes the old connection.
    if (existing !== undefined) entry.sessions.delete(clientId);
    if (entry.sessions.size >= SESSION_MAX_PER_ACCOUNT) {
      const oldest = entry.sessions.keys().next().value;
      if (oldest !== undefined) entry.sessions.delete(oldest);
      this.evictions += 1;
    }
    entry.sessions.set(clientId, { clientId, address, since: event.ts, connections: 1 });
  }

  private disconnected(event: ClientDisconnectEvent): void {
    const { account, address } = event.source;
    if (account === null) return;
    const entry = this.accounts.get(boundedKey(account));
    if (entry === undefined) return;
    const clientId = boundedKey(event.source.clientId);
    const session = entry.sessions.get(clientId);
    // A disconnect from another address is the old connection of a session already taken over.
    if (session === undefined || session.address !== address) return;
    session.connections -= 1;
    if (session.connections <= 0) entry.sessions.delete(clientId);
    entry.lastEnded = { clientId, address, ts: event.ts };
  }

  private entry(account: string): AccountSessions {
    let entry = this.accounts.get(account);
    if (entry === undefined) {
      if (this.accounts.size >= SESSION_MAX_ACCOUNTS) {
        const oldest = this.accounts.keys().next().value;
        if (oldest !== undefined) this.accounts.delete(oldest);
        this.evictions += 1;
      }
      entry = { sessions: new Map(), lastEnded: null };
    } else {
      // Re-insert so that Map order is least recently active first.
      this.accounts.delete(account);
    }
    this.accounts.set(account, entry);
    return entry;
  }

  private report(event: ClientConnectEvent, account: string, clientId: string, others: readonly Session[], takeover: boolean, report: FindingSink): void {
    const { address, role } = event.source;
    const device = this.inventory.deviceForAccount(account) ?? null;
    const first = others[0];
    if (first === undefined) return;
    const now = `${address} (client "${shortName(clientId, 40)}")`;
    const before = `${first.address} (client "${shortName(first.clientId, 40)}")${others.length > 1 ? ` and ${others.length - 1} more` : ''}`;
    const subject = device === null ? `Same login used twice: ${shortName(account)}` : `${deviceLabel(device)}: this device's account`;
    report({
      type: 'account-concurrent-session',
      ts: event.ts,
      device,
      dedupKey: boundedKey(account),
      title: `${subject} connected from ${now} while already connected from ${before}`,
      evidence: {
        account: shortName(account, 256),
        role,
        clientId,
        address,
        takeover,
        openSessions: others.map((s) => ({ clientId: s.clientId, address: s.address, since: s.since })),
      },
    });
  }
}
