/**
 * Composition root of the nurse screen: asks the agent who is logged in, shows the login
 * (with the enrolment and recovery steps) when nobody is, and otherwise wires the
 * WebSocket link, the state and the views. Bundled by the agent into /assets/app.js
 * (esbuild, esm, es2022).
 *
 * After a login or a logout the page reloads: everything is rebuilt from a fresh session
 * and snapshot, with nothing of the previous user left in memory.
 */
import type { AlertView, ServerMessage, SessionView } from '../../agent/src/server/dashboard-protocol.ts';
import { AcknowledgeDialog } from './acknowledge.ts';
import { ActivityReporter } from './activity.ts';
import { adminPageOf, AdminView } from './admin-view.ts';
import { AlertPage, alertPageOf } from './alert-page.ts';
import { DevicePage } from './device-page.ts';
import { devicePageOf } from './device-route.ts';
import { fetchSession, postLogout } from './api.ts';
import { AgentConnection, agentSocketUrl, type LinkStatus } from './connection.ts';
import { requireElement, setHidden } from './dom.ts';
import { isSeverity, SEVERITY_LABEL } from './format.ts';
import { LoginView } from './login-view.ts';
import { monitoringStatus, type MonitoringStatus } from './monitoring-status.ts';
import { AlertListView } from './render-alerts.ts';
import { BannerView } from './render-banner.ts';
import { HeaderView } from './render-header.ts';
import { UserView } from './render-user.ts';
import { WardView } from './render-ward.ts';
import { HubView } from './hub-view.ts';
import { BaselineView } from './render-baseline.ts';
import { DashboardState } from './state.ts';
import { chimesOnArrival, DEFAULT_ESCALATE_CRITICAL_AFTER_SECONDS, escalatedChimesDue, escalatedFor, escalationLabel } from './nurse-alerting.ts';
import { SoundControl } from './sound.ts';
import { WallMode } from './wall-mode.ts';

type LoggedIn = Extract<SessionView, { readonly permissions: readonly string[] }>;

const RETRY_SESSION_MS = 3_000;
/** While the feed is down, how often the page asks whether the session still exists. */
const SESSION_CHECK_MS = 5_000;
/** How often escalation labels are refreshed and repeat chimes considered. */
const ESCALATION_TICK_MS = 1_000;

function startDashboard(session: LoggedIn, login: LoginView, header: HeaderView, banner: BannerView): void {
  const wardView = requireElement('ward-view', HTMLElement);
  const state = new DashboardState();
  const ward = new WardView();
  const baselineLine = new BaselineView();
  const admin = new AdminView();
  // A learned alert's "Accept as normal for this ward": only for a role that may change the baseline.
  const alertPage = new AlertPage(session.permissions.includes('baseline.configure') ? {
    user: session.user,
    onAccepted: (alert) => {
      applyAlert(alert);
      renderSummary();
    },
  } : null);
  const devicePage = new DevicePage((deviceId) => [...state.alerts.values()].filter((alert) => alert.deviceId === deviceId && alert.state === 'open'));
  const alertsHeading = requireElement('alerts-heading', HTMLElement);
  const screenControls = requireElement('screen-controls', HTMLElement);
  const sound = new SoundControl();
  // A wall display's own account opens in wall mode by itself (agent/src/auth/roles.ts, `display`).
  const wall = new WallMode(session.user.role === 'display');
  setHidden(screenControls, false);
  // At `wardwatch hub` (a snapshot with `wards`): every ward's overview and a ward filter.
  const hubView = new HubView(() => applyFilter());
  const alertList = new AlertListView(requireElement('alerts', HTMLElement), {
    // A wall display shows alerts; they are acknowledged at a station.
    acknowledge: (alertId) => {
      // The hub only shows a ward's alerts (acknowledged at the ward); its own it acknowledges.
      if (!wall.active && hubView.acknowledgesHere(state.alerts.get(alertId))) ackDialog.open(alertId);
    },
  });
  const ackDialog = new AcknowledgeDialog({
    getAlert: (alertId) => state.alerts.get(alertId),
    onAcknowledged: (alert) => {
      applyAlert(alert);
      renderSummary();
    },
    focusAfterAcknowledge: () => alertList.firstOpenAckButton() ?? alertsHeading,
    user: session.user,
  });
  const search = requireElement('alert-search', HTMLInputElement);
  const severityFilter = requireElement('alert-severity-filter', HTMLSelectElement);
  const applyFilter = (): void => {
    const severity = severityFilter.value;
    alertList.setFilter({ text: search.value, severity: isSeverity(severity) ? severity : null, ward: hubView.selectedWard });
  };
  search.addEventListener('input', applyFilter);
  severityFilter.addEventListener('change', applyFilter);
  const user = new UserView(() => {
    user.setLoggingOut(true);
    void postLogout().finally(() => window.location.reload());
  });
  user.render(session.user, session.permissions);

  let link: LinkStatus = { kind: 'connecting' };
  let lastDataAt: number | null = null;
  let shown: MonitoringStatus | null = null;
  let signedOut = false;
  let lastSessionCheck = 0;
  let snapshotSeen = false;
  let escalationTimer: number | undefined;
  let escalateAfterSeconds = DEFAULT_ESCALATE_CRITICAL_AFTER_SECONDS;
  /** Alert id → when it last chimed (epoch ms), for the once-a-minute repeat of escalated alerts. */
  const lastChimedAt = new Map<string, number>();

  function chimeFor(alertIds: readonly string[]): void {
    const last = alertIds[alertIds.length - 1];
    if (last === undefined || !sound.chime(last)) return;
    const now = Date.now();
    for (const id of alertIds) lastChimedAt.set(id, now);
  }

  /** Once a second: escalation labels, and the repeat chime of escalated alerts. */
  function checkEscalation(): void {
    if (signedOut) return;
    const now = Date.now();
    for (const alert of state.alerts.values()) {
      const age = escalatedFor(alert, now, escalateAfterSeconds);
      alertList.setEscalation(alert.id, age === null ? null : escalationLabel(age));
    }
    for (const id of lastChimedAt.keys()) if (state.alerts.get(id)?.state !== 'open') lastChimedAt.delete(id);
    chimeFor(escalatedChimesDue(state.alerts.values(), now, escalateAfterSeconds, lastChimedAt));
  }

  function applyAlert(alert: AlertView): void {
    const change = state.upsertAlert(alert);
    if (change === null) return;
    alertList.upsert(alert);
    if (alertPage.alertId === alert.id) alertPage.show(alert.id, alert, snapshotSeen);
    if (devicePage.deviceId !== null && (alert.deviceId === devicePage.deviceId || change.previous?.deviceId === devicePage.deviceId)) devicePage.alertsChanged();
    if (alert.deviceId !== null) ward.updateAlerts(alert.deviceId, state.openAlertsOf(alert.deviceId));
    const before = change.previous?.deviceId;
    if (before !== undefined && before !== null && before !== alert.deviceId) ward.updateAlerts(before, state.openAlertsOf(before));
    if (alert.state === 'acknowledged') for (const id of state.trimAcknowledged()) alertList.remove(id);
  }

  function handleMessage(message: ServerMessage): void {
    lastDataAt = Date.now();
    switch (message.type) {
      case 'snapshot': {
        // The first snapshot is the past and stays silent; after a reconnect, what arrived while the link was down is news.
        const arrived = snapshotSeen ? message.alerts.filter((alert) => chimesOnArrival(state.alerts.get(alert.id), alert)).map((alert) => alert.id) : [];
        snapshotSeen = true;
        escalateAfterSeconds = message.screen?.escalateCriticalAfterSeconds ?? DEFAULT_ESCALATE_CRITICAL_AFTER_SECONDS;
        state.applySnapshot(message);
        header.renderSite(message.site);
        if (message.wards !== undefined) hubView.render(message.wards);
        baselineLine.render(message.health.baseline);
        alertList.sync(state.alerts.values());
        if (alertPage.alertId !== null) alertPage.show(alertPage.alertId, state.alerts.get(alertPage.alertId), true);
        devicePage.alertsChanged();
        ward.sync(state.devices.values(), (id) => state.openAlertsOf(id));
        chimeFor(arrived);
        checkEscalation();
        break;
      }
      case 'device':
        state.upsertDevice(message.device);
        ward.update(message.device, state.openAlertsOf(message.device.id));
        break;
      case 'alert': {
        const chimes = chimesOnArrival(state.alerts.get(message.alert.id), message.alert);
        applyAlert(message.alert);
        if (chimes) chimeFor([message.alert.id]);
        break;
      }
      case 'wards':
        hubView.render(message.wards);
        break;
      case 'health':
        state.health = message.health;
        baselineLine.render(message.health.baseline);
        break;
    }
    renderStatus();
    if (message.type !== 'health') renderSummary();
  }

  function renderStatus(): void {
    if (signedOut) return;
    const status = monitoringStatus(link, state.health);
    const changed = shown === null || shown.level !== status.level || shown.reasons.join('\n') !== status.reasons.join('\n');
    if (!changed) return;
    shown = status;
    header.renderLevel(status.level);
    banner.render(status, lastDataAt);
    renderSummary();
  }

  /** The tab title doubles as a summary for a station that shows several tabs. */
  function renderSummary(): void {
    if (signedOut) return;
    const wardName = state.site === null ? 'Wardwatch' : `Wardwatch · ${state.site.ward}`;
    const { open, worstOpen } = state.countByState();
    let prefix = '';
    if (shown?.level === 'offline') prefix = 'OFFLINE — ';
    else if (open > 0 && worstOpen !== null) prefix = `(${open}) ${SEVERITY_LABEL[worstOpen]} — `;
    const title = `${prefix}${wardName}`;
    if (document.title !== title) document.title = title;
  }

  /** The session ended while the ward was on screen: say so loudly and ask for a login. */
  function signOut(reason: string): void {
    if (signedOut) return;
    signedOut = true;
    connection.stop();
    activity.stop();
    if (ackDialog.isOpen()) ackDialog.close();
    window.clearInterval(escalationTimer);
    setHidden(screenControls, true);
    admin.hide();
    alertPage.hide();
    devicePage.hide();
    setHidden(wardView, true);
    user.render(null, []);
    banner.render({ level: 'ok', reasons: [] }, lastDataAt);
    header.renderLevel('offline');
    document.title = 'SIGNED OUT — Wardwatch';
    login.show(`SIGNED OUT (${reason}) — this screen is not showing alerts until someone logs in.`);
  }

  /** The feed is down: is the agent gone (offline banner), or only the session (log in again)? */
  function checkSession(): void {
    if (signedOut || Date.now() - lastSessionCheck < SESSION_CHECK_MS) return;
    lastSessionCheck = Date.now();
    void fetchSession().then((reply) => {
      if (reply.kind === 'ok' && reply.value.user === null) signOut('the session has ended');
    });
  }

  function route(): void {
    if (signedOut) return;
    const alertId = alertPageOf(window.location.hash);
    if (alertId !== null) {
      admin.hide();
      devicePage.hide();
      setHidden(wardView, true);
      alertPage.show(alertId, state.alerts.get(alertId), snapshotSeen);
      return;
    }
    alertPage.hide();
    const deviceId = devicePageOf(window.location.hash);
    if (deviceId !== null) {
      admin.hide();
      setHidden(wardView, true);
      devicePage.show(deviceId);
      return;
    }
    devicePage.hide();
    const page = adminPageOf(window.location.hash);
    if (page === null) {
      admin.hide();
      setHidden(wardView, false);
      return;
    }
    setHidden(wardView, true);
    void admin.show(page);
  }

  const connection = new AgentConnection(agentSocketUrl(window.location), {
    onMessage: handleMessage,
    onStatus: (status) => {
      link = status;
      renderStatus();
      if (status.kind === 'offline') checkSession();
    },
    onSessionEnded: (reason) => signOut(reason === '' ? 'the session has ended' : reason),
  });
  const activity = new ActivityReporter(() => signOut('the session has ended'));

  login.hide();
  header.renderLevel('connecting');
  window.addEventListener('hashchange', route);
  route();
  connection.start();
  activity.start();
  escalationTimer = window.setInterval(checkEscalation, ESCALATION_TICK_MS);
}

async function boot(): Promise<void> {
  const header = new HeaderView();
  const banner = new BannerView();
  const login = new LoginView({ onLoggedIn: () => window.location.reload() });
  header.tick(new Date());
  window.setInterval(() => header.tick(new Date()), 1_000);

  // Until the agent answers, the page says loudly that it cannot show anything.
  for (;;) {
    const reply = await fetchSession();
    if (reply.kind === 'ok') {
      banner.render({ level: 'ok', reasons: [] }, null);
      if (reply.value.user === null) {
        header.showLink(false);
        document.title = 'Log in — Wardwatch';
        login.show();
        return;
      }
      startDashboard(reply.value, login, header, banner);
      return;
    }
    header.showLink(true);
    header.renderLevel('offline');
    banner.render({ level: 'offline', reasons: [reply.kind === 'unreachable' ? 'the agent cannot be reached' : reply.message] }, null);
    document.title = 'OFFLINE — Wardwatch';
    await new Promise((resolve) => window.setTimeout(resolve, RETRY_SESSION_MS));
  }
}

void boot();
