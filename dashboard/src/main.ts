/**
 * Composition root of the nurse screen: wires the WebSocket link, the state and the
 * views. Bundled by the agent into /assets/app.js (esbuild, esm, es2022).
 */
import type { AlertView, ServerMessage } from '../../agent/src/server/dashboard-protocol.ts';
import { AcknowledgeDialog } from './acknowledge.ts';
import { AgentConnection, agentSocketUrl, type LinkStatus } from './connection.ts';
import { requireElement } from './dom.ts';
import { SEVERITY_LABEL } from './format.ts';
import { monitoringStatus, type MonitoringStatus } from './monitoring-status.ts';
import { AlertListView } from './render-alerts.ts';
import { BannerView } from './render-banner.ts';
import { HeaderView } from './render-header.ts';
import { WardView } from './render-ward.ts';
import { BaselineView } from './render-baseline.ts';
import { DashboardState } from './state.ts';

function start(): void {
  const state = new DashboardState();
  const header = new HeaderView();
  const banner = new BannerView();
  const ward = new WardView();
  const baselineLine = new BaselineView();
  const alertsHeading = requireElement('alerts-heading', HTMLElement);
  const alertList = new AlertListView(requireElement('alerts', HTMLElement), {
    acknowledge: (alertId) => ackDialog.open(alertId),
  });
  const ackDialog = new AcknowledgeDialog({
    getAlert: (alertId) => state.alerts.get(alertId),
    onAcknowledged: (alert) => {
      applyAlert(alert);
      renderSummary();
    },
    focusAfterAcknowledge: () => alertList.firstOpenAckButton() ?? alertsHeading,
  });

  let link: LinkStatus = { kind: 'connecting' };
  let lastDataAt: number | null = null;
  let shown: MonitoringStatus | null = null;

  function applyAlert(alert: AlertView): void {
    const change = state.upsertAlert(alert);
    if (change === null) return;
    alertList.upsert(alert);
    if (alert.deviceId !== null) ward.updateAlerts(alert.deviceId, state.openAlertsOf(alert.deviceId));
    const before = change.previous?.deviceId;
    if (before !== undefined && before !== null && before !== alert.deviceId) ward.updateAlerts(before, state.openAlertsOf(before));
    if (alert.state === 'acknowledged') for (const id of state.trimAcknowledged()) alertList.remove(id);
  }

  function handleMessage(message: ServerMessage): void {
    lastDataAt = Date.now();
    switch (message.type) {
      case 'snapshot':
        state.applySnapshot(message);
        header.renderSite(message.site);
        baselineLine.render(message.health.baseline);
        alertList.sync(state.alerts.values());
        ward.sync(state.devices.values(), (id) => state.openAlertsOf(id));
        break;
      case 'device':
        state.upsertDevice(message.device);
        ward.update(message.device, state.openAlertsOf(message.device.id));
        break;
      case 'alert':
        applyAlert(message.alert);
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
    const ward = state.site === null ? 'Wardwatch' : `Wardwatch · ${state.site.ward}`;
    const { open, worstOpen } = state.countByState();
    let prefix = '';
    if (shown?.level === 'offline') prefix = 'OFFLINE — ';
    else if (open > 0 && worstOpen !== null) prefix = `(${open}) ${SEVERITY_LABEL[worstOpen]} — `;
    const title = `${prefix}${ward}`;
    if (document.title !== title) document.title = title;
  }

  const connection = new AgentConnection(agentSocketUrl(window.location), {
    onMessage: handleMessage,
    onStatus: (status) => {
      link = status;
      renderStatus();
    },
  });

  header.renderLevel('connecting');
  header.tick(new Date());
  window.setInterval(() => header.tick(new Date()), 1_000);
  connection.start();
}

start();
