import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AlertManager } from '../../agent/src/alert/alert-manager.ts';
import { AGENT_OPEN_LOGIN_BURST_CAP, cappedLoginBurstFinding, MANY_ADDRESSES_KEY, OVERFLOW_LISTED_ADDRESSES } from '../../agent/src/auth/login-burst-finding.ts';
import { loginSource } from '../../agent/src/auth/login-source.ts';
import { LoginGuard } from '../../agent/src/auth/login-guard.ts';

const T0 = Date.parse('2026-11-28T22:00:00.000Z');

/** Ten failed logins from each source through the real guard; every burst goes to the agent's alert manager as app.ts sends it. */
function spray(alerts: AlertManager, guard: LoginGuard, sources: readonly string[], at: number): void {
  for (const source of sources) {
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const burst = guard.recordAddressFailure(source, `user${attempt}`, at + attempt);
      if (burst !== null) alerts.raise(cappedLoginBurstFinding(burst, alerts.list()));
    }
  }
}

describe('an agent\'s dashboard-login-burst alerts are capped, so many sources cannot fill the nurses\' alert list', () => {
  it(`${AGENT_OPEN_LOGIN_BURST_CAP} sources get an alert each; the rest fold into one "many addresses" alert, and a capped source still folds into its own`, () => {
    // A 15-minute suppression window, so that the second burst below, 6 minutes on, folds.
    const alerts = new AlertManager([], 900_000, pino({ level: 'silent' }));
    const guard = new LoginGuard();
    // One address in each of 500 /64s of one site's /48: ten failures cross each address's limit, never a /64's (auth/login-guard.ts).
    const sources = Array.from({ length: 500 }, (_, index) => `2001:db8:4:${index.toString(16)}::1`);
    spray(alerts, guard, sources, T0);
    const bursts = alerts.list().filter((alert) => alert.type === 'dashboard-login-burst');
    expect(bursts).toHaveLength(AGENT_OPEN_LOGIN_BURST_CAP + 1);
    const many = bursts.filter((alert) => alert.title.startsWith(`Dashboard login: bursts of failed logins from more than ${AGENT_OPEN_LOGIN_BURST_CAP} addresses`));
    expect(many).toHaveLength(1);
    expect(many[0]?.count).toBe(500 - AGENT_OPEN_LOGIN_BURST_CAP);
    // Each folded burst is named: the first sources past the cap (bounded) and the latest as the guard reported it.
    const nameOf = (index: number): string => loginSource(sources[index] ?? '').address;
    expect(many[0]?.evidence).toMatchObject({
      openAlertCap: AGENT_OPEN_LOGIN_BURST_CAP,
      addresses: Array.from({ length: OVERFLOW_LISTED_ADDRESSES }, (_, offset) => nameOf(AGENT_OPEN_LOGIN_BURST_CAP + offset)),
      latest: { address: nameOf(499) },
    });
    // One of the first sources bursts again after its window: it folds into its own alert, not the many.
    const first = bursts.find((alert) => alert.evidence['address'] === '2001:db8:4::1'); // sources[0] in RFC 5952 text
    spray(alerts, guard, [sources[0] ?? ''], T0 + 6 * 60_000);
    expect(alerts.get(first?.id ?? '')?.count).toBe(2);
    expect(alerts.list().filter((alert) => alert.type === 'dashboard-login-burst')).toHaveLength(AGENT_OPEN_LOGIN_BURST_CAP + 1);
    expect(MANY_ADDRESSES_KEY).not.toMatch(/^[0-9a-f:.]+(\/64)?$/);
  });
});
