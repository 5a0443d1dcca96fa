import { describe, expect, it } from 'vitest';
import { MonitorHarness } from '../helpers/monitor-harness.ts';

describe('broad subscription (wildcard snooping)', () => {
  it('guest subscribing to "#" is high and says what the filter receives', () => {
    const ward = new MonitorHarness();
    ward.subscribe('guest', '#', '10.66.0.5', 'snoop');
    expect(ward.raised()).toEqual([['broad-subscription', 'high']]);
    const alert = ward.sink.raised[0];
    expect(alert?.deviceId).toBeNull();
    expect(alert?.title).toBe('Wildcard subscription: guest subscribed to "#", which receives every message on the broker, device commands included');
    expect(alert?.evidence).toMatchObject({ account: 'guest', role: 'guest', clientId: 'snoop', address: '10.66.0.5', broadFilters: 1 });
  });

  it.each([
    ['+/#', 'every message on the broker'],
    ['$SYS/#', "the broker's own $SYS topics"],
    ['$SYS/broker/clients/+', "the broker's own $SYS topics"],
    ['ward/#', 'the commands sent to 8 devices'],
    ['ward/+/command', 'the commands sent to 8 devices'],
    ['+/+/command', 'the commands sent to 8 devices'],
    ['ward/+/+', 'the commands sent to 8 devices'],
    ['ward/pump-02/command', 'the commands sent to pump-02'],
    ['ward/prog-01/#', 'the commands sent to prog-01'],
  ])('a station subscribing to %s is broad (%s)', (filter, scope) => {
    const ward = new MonitorHarness();
    ward.subscribe('station-4w', filter);
    expect(ward.raised()).toEqual([['broad-subscription', 'high']]);
    expect(ward.sink.raised[0]?.title).toContain(`subscribed to "${filter}", which receives ${scope}`);
  });

  it('what stations and devices normally subscribe to raises nothing', () => {
    const ward = new MonitorHarness();
    ward.subscribe('station-4w', ['ward/+/telemetry', 'ward/pump-01/ack', 'ward/+/ack', 'ward/+/status', 'ward/pump-01/telemetry']);
    ward.subscribe('ep-clinic', ['ward/prog-01/ack', 'ward/prog-01/telemetry']);
    ward.subscribe('guest', 'ward/pump-03/telemetry');
    for (const device of ward.config.devices) ward.subscribe(device.account, `ward/${device.id}/command`, '10.4.1.10', device.id);
    // A device's own topics, all of them, are its own business.
    ward.subscribe('pump-01', 'ward/pump-01/#', '10.4.1.10', 'pump-01');
    expect(ward.sink.raised).toEqual([]);
  });

  it('an admin account may watch everything', () => {
    const ward = new MonitorHarness();
    ward.subscribe('wardwatch-admin', ['#', '$SYS/#', 'ward/+/command']);
    expect(ward.sink.raised).toEqual([]);
  });

  it("a device subscribing to other devices' commands is shown on that device", () => {
    const ward = new MonitorHarness();
    ward.subscribe('pump-01', 'ward/+/command', '10.4.1.10', 'pump-01');
    const alert = ward.sink.raised[0];
    expect(alert?.type).toBe('broad-subscription');
    expect(alert?.deviceId).toBe('pump-01');
    expect(alert?.title).toBe('Bed 1 · pump-01: this device\'s account subscribed to "ward/+/command", which receives the commands sent to 7 other devices');
    expect(alert?.evidence.filters).toEqual([{ filter: 'ward/+/command', receives: 'the commands sent to 7 other devices', commandsOf: ['pump-02', 'pump-03', 'pump-04', 'pump-05', 'pump-06', 'prog-01', 'prog-02'] }]);
  });

  it('one alert for one SUBSCRIBE with several broad filters; an anonymous client is named by its address', () => {
    const ward = new MonitorHarness();
    ward.subscribe(null, ['ward/+/telemetry', '#', '$SYS/#'], '10.66.0.8', 'anon');
    expect(ward.raised()).toEqual([['broad-subscription', 'high']]);
    expect(ward.sink.raised[0]?.title).toBe('Wildcard subscription: an anonymous client at 10.66.0.8 subscribed to "#", which receives every message on the broker, device commands included (and 1 more broad filter)');
  });

  it('filters the broker would refuse, empty and huge ones never throw and raise nothing', () => {
    const ward = new MonitorHarness();
    ward.subscribe('guest', ['', 'ward/#/command', 'ward+/x', 'a'.repeat(70_000), '\u0000', '#/x']);
    expect(ward.sink.raised).toEqual([]);
    expect(ward.monitor.health.view().reasons).toEqual([]);
  });
});
