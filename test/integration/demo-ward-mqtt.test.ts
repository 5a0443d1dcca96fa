import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import type { DeviceView } from '../../agent/src/server/dashboard-protocol.ts';
import { configForAcceleratedWard } from '../../agent/src/config/accelerated-ward.ts';
import { startFleet } from '../../simulators/src/fleet.ts';
import { loggedInClient, startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { waitFor } from '../helpers/wait-for.ts';

/**
 * The demo as it runs: the simulated ward connects over real MQTT (mqtt.js) to the
 * agent's embedded aedes broker, each device with its own account. Two simulated hours
 * at 720× real time, with the agent's publish-flood threshold scaled as `demo --speed` does.
 */
describe('simulated ward over MQTT into the agent', () => {
  let agent: RunningAgent | null = null;
  const data = temporaryDataDir();

  afterEach(async () => {
    await agent?.stop();
    data.remove();
  });

  it('every device comes online with live state, and normal ward traffic raises no high or critical alert', async () => {
    const speed = 720;
    agent = await startTestAgent(data.dir, configForAcceleratedWard(loadDemoConfig(), speed));
    const running = agent;
    const nurse = await loggedInClient(running, data.dir);
    const fleet = await startFleet({ brokerUrl: `mqtt://127.0.0.1:${running.mqttPort}`, config: loadDemoConfig(), speed, seed: 7 });
    try {
      const devices = await waitFor(async () => {
        const views = await nurse.json<DeviceView[]>('/api/devices');
        const demoPumpInfusing = views.some((view) => view.id === 'pump-01' && /mL\/h = /.test(view.summary));
        return views.length === 8 && views.every((view) => view.online && view.state !== 'unknown') && demoPumpInfusing ? views : null;
      }, 10_000, 'all devices online, pumps infusing');
      expect(devices.find((view) => view.id === 'pump-01')?.summary).toMatch(/^heparin [\d.]+ mL\/h = [\d.]+ units\/kg\/h$/);
      await new Promise((resolve) => setTimeout(resolve, 10_000)); // two simulated hours
    } finally {
      await fleet.stop();
    }
    const health = await nurse.json<{ publishes: number; anomalies: Record<string, number> }>('/api/health');
    expect(health.publishes).toBeGreaterThan(8 * 1_000);
    expect(health.anomalies).toEqual({});
    const serious = running.alerts.list().filter((alert) => alert.severity === 'critical' || alert.severity === 'high');
    expect(serious.map((alert) => alert.title)).toEqual([]);
    // Stopping the fleet sends each device's retained `offline`.
    await waitFor(async () => {
      const views = await nurse.json<DeviceView[]>('/api/devices');
      return views.every((view) => !view.online);
    }, 5_000, 'devices offline after the fleet stops');
  });
});
