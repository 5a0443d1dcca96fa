import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { readFileSync } from 'node:fs';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import { DEMO_CONFIG_FILE } from '../helpers/demo-config.ts';
import { MonitorHarness } from '../helpers/monitor-harness.ts';
import { commandPdu, writeMultipleRegistersPdu } from '../helpers/modbus-pdus.ts';
import { encodeField, modbusMapFor } from '../../agent/src/model/modbus-map.ts';

const STATION = '10.4.0.10';
const ROGUE = '10.66.0.9';
const MAINTENANCE = '10.4.9.9';

/** The demo ward with pump-01 behind a gateway, the station's address allowed to program pumps. */
function modbusWard(enforce: string[] = []): MonitorHarness {
  const doc = parse(readFileSync(DEMO_CONFIG_FILE, 'utf8')) as Record<string, any>;
  doc.modbus = { gateways: [{ device: 'pump-01', listenPort: 0, target: '127.0.0.1:15020' }], maintenanceHosts: [MAINTENANCE], enforce };
  doc.policy.rules.push({ id: 'modbus-station', addresses: [STATION], devices: { profile: 'infusion-pump' }, commands: ['program_infusion', 'set_rate', 'bolus', 'start', 'pause', 'stop'] });
  const result = parseSiteConfig(stringify(doc));
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return new MonitorHarness(result.config as SiteConfig);
}

const heparin = { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' };

describe('Modbus writes become the same commands as MQTT', () => {
  it('a station programs heparin over Modbus, then ten times the hard limit in one FC16 of [set_rate, 3200]: critical, naming bed and source address', () => {
    const ward = modbusWard();
    ward.modbusRequest('pump-01', STATION, commandPdu('infusion-pump', 'program_infusion', heparin));
    expect(ward.sink.raised).toEqual([]);
    ward.advance(1_000).modbusRequest('pump-01', STATION, writeMultipleRegistersPdu(0, [2, 3200]));
    const alert = ward.sink.raised.find((a) => a.type === 'dose-above-hard-limit');
    expect(alert?.severity).toBe('critical');
    expect(alert?.title).toBe('Bed 1 · pump-01: heparin 320 mL/h = 400 units/kg/h, above the hard limit of 40 units/kg/h (sent by Modbus master 10.4.0.10)');
    expect(alert?.evidence).toMatchObject({ address: STATION, transport: 'modbus' });
  });

  it('the same write from an address the policy does not name is unauthorized', () => {
    const ward = modbusWard();
    ward.modbusRequest('pump-01', ROGUE, writeMultipleRegistersPdu(0, [5]));
    expect(ward.raised()).toEqual([['unauthorized-command', 'critical']]);
    expect(ward.sink.raised[0]?.title).toBe('Bed 1 · pump-01: pause from Modbus master 10.66.0.9, which may not command this device');
  });

  it('staging parameter registers without a command, from an unknown master, is an unauthorized write', () => {
    const ward = modbusWard();
    ward.modbusRequest('pump-01', ROGUE, [6, 0, 1, 0x0c, 0x80]);
    expect(ward.raised()).toEqual([['modbus-unauthorized-write', 'critical']]);
    ward.modbusRequest('pump-01', STATION, [6, 0, 1, 0x00, 0x90]);
    expect(ward.raised()).toEqual([['modbus-unauthorized-write', 'critical']]);
  });

  it('a full read of the input registers is telemetry: the agent learns the running infusion', () => {
    const ward = modbusWard();
    const { map, values } = telemetryRegisters();
    const request = [4, 0, 0, 0, map];
    const response = Buffer.alloc(2 + 2 * values.length);
    response.writeUInt8(4, 0);
    response.writeUInt8(2 * values.length, 1);
    values.forEach((value, index) => response.writeUInt16BE(value, 2 + 2 * index));
    ward.modbusResponse('pump-01', STATION, request, response);
    expect(ward.monitor.state.get('pump-01')?.infusion).toEqual({ drug: 'heparin', careArea: 'ICU', weightKg: 80, rateMlPerHour: 14.4 });
  });
});

function telemetryRegisters(): { map: number; values: number[] } {
  // Built from the same map the device uses.
  const map = modbusMapFor('infusion-pump');
  const values = new Array<number>(map.inputSize).fill(0);
  const fields: Record<string, string | number> = { state: 'running', drug: 'heparin', care_area: 'ICU', weight_kg: 80, rate_ml_h: 14.4, infused_ml: 3.2, vtbi_ml: 250, alarm: '', battery_pct: 90, library_version: '4W' };
  for (const field of map.input) encodeField(field, fields[field.name]).forEach((word, offset) => { values[field.address + offset] = word; });
  return { map: map.inputSize, values };
}

describe('Modbus function codes', () => {
  it('FC8 force-listen-only from a non-maintenance host is critical; from the maintenance host it is not', () => {
    const ward = modbusWard();
    ward.modbusRequest('pump-01', STATION, [8, 0, 4, 0, 0]);
    expect(ward.raised()).toEqual([['modbus-diagnostic-command', 'critical']]);
    expect(ward.sink.raised[0]?.title).toBe('Bed 1 · pump-01: Modbus diagnostics force-listen-only-mode (FC8/4) from 10.4.0.10, which is not a maintenance host');
    ward.modbusRequest('pump-01', MAINTENANCE, [8, 0, 4, 0, 0]);
    expect(ward.sink.raised).toHaveLength(1);
  });

  it('FC43/14 device identification and FC17 from a station are maintenance functions (high)', () => {
    const ward = modbusWard();
    ward.modbusRequest('pump-01', STATION, [43, 14, 1, 0]);
    ward.modbusRequest('pump-01', STATION, [17]);
    expect(ward.raised()).toEqual([['modbus-maintenance-function', 'high'], ['modbus-maintenance-function', 'high']]);
  });

  it('coils, unknown and vendor codes are outside the allowlist', () => {
    const ward = modbusWard();
    ward.modbusRequest('pump-01', STATION, [1, 0, 0, 0, 8]);
    ward.modbusRequest('pump-01', STATION, [90, 1, 2, 3]);
    expect(ward.raised()).toEqual([['modbus-function-not-allowed', 'high'], ['modbus-function-not-allowed', 'high']]);
    expect(ward.sink.raised[1]?.title).toContain('unknown-90 (FC90)');
  });

  it('reads and writes of holding and input registers are normal', () => {
    const ward = modbusWard();
    ward.modbusRequest('pump-01', STATION, [3, 0, 0, 0, 10]);
    ward.modbusRequest('pump-01', STATION, [4, 0, 0, 0, 10]);
    expect(ward.sink.raised).toEqual([]);
  });
});

describe('Modbus scans, sweeps and bursts', () => {
  it('five illegal-function exceptions to one master within 60 s: one function-scan alert', () => {
    const ward = modbusWard();
    for (const code of [20, 21, 24, 65, 66, 67, 68]) ward.advance(500).modbusResponse('pump-01', ROGUE, [code, 0], [code | 0x80, 1]);
    expect(ward.raised()).toEqual([['modbus-function-scan', 'high']]);
    expect(ward.sink.raised[0]?.title).toBe('Bed 1 · pump-01: Modbus master 10.66.0.9 drew 5 illegal-function exceptions in 2 s (threshold 5 within 60 s)');
  });

  it('ten illegal-address exceptions: an address scan', () => {
    const ward = modbusWard();
    for (let i = 0; i < 9; i += 1) ward.advance(100).modbusResponse('pump-01', ROGUE, [3, 1, i, 0, 1], [0x83, 2]);
    expect(ward.sink.raised).toEqual([]);
    ward.advance(100).modbusResponse('pump-01', ROGUE, [3, 1, 9, 0, 1], [0x83, 2]);
    expect(ward.raised()).toEqual([['modbus-address-scan', 'high']]);
  });

  it('five distinct unit ids from one master: a unit sweep; the station polling unit 1 is not', () => {
    const ward = modbusWard();
    for (let i = 0; i < 20; i += 1) ward.advance(1_000).modbusRequest('pump-01', STATION, [4, 0, 0, 0, 10], 1);
    expect(ward.sink.raised).toEqual([]);
    for (const unit of [0, 2, 3, 4, 5]) ward.advance(100).modbusRequest('pump-01', ROGUE, [3, 0, 0, 0, 1], unit);
    expect(ward.raised()).toEqual([['modbus-unit-sweep', 'high']]);
  });

  it('twenty FC16 writes within 10 s: a write burst (FrostyGoop), even of harmless values', () => {
    const ward = modbusWard();
    for (let i = 0; i < 20; i += 1) ward.advance(200).modbusRequest('pump-01', STATION, writeMultipleRegistersPdu(5, [10]));
    expect(ward.raised()).toEqual([['modbus-write-burst', 'high']]);
  });

  it('malformed PDUs and framing anomalies are counted by name; a burst is one alert', () => {
    const ward = modbusWard();
    for (let i = 0; i < 6; i += 1) {
      ward.advance(100);
      ward.monitor.pipeline.ingest({ kind: 'modbus-anomaly', ts: ward.now, master: { address: ROGUE, port: 1 }, deviceId: 'pump-01', direction: 'request', name: 'invalid-protocol-id', detail: 'protocol id 7' });
    }
    expect(ward.monitor.health.anomalies.get('modbus-invalid-protocol-id')).toBe(6);
    expect(ward.raised()).toEqual([['malformed-payload-burst', 'high']]);
  });
});

describe('enforce mode returns the findings that block', () => {
  it('the pipeline reports which findings an observation caused', () => {
    const ward = modbusWard(['dose-above-hard-limit']);
    ward.modbusRequest('pump-01', STATION, commandPdu('infusion-pump', 'program_infusion', heparin));
    const findings = ward.advance(1_000).modbusRequest('pump-01', STATION, writeMultipleRegistersPdu(0, [2, 3200]));
    expect([...findings].sort()).toEqual(['dose-above-hard-limit', 'rate-step-tenfold']);
    expect(ward.modbusRequest('pump-01', STATION, [4, 0, 0, 0, 10])).toEqual([]);
  });

  it('an enforce list naming something that is not an alert type is a config error by path', () => {
    const doc = parse(readFileSync(DEMO_CONFIG_FILE, 'utf8')) as Record<string, any>;
    doc.modbus = { enforce: ['dose-above-hard-limit', 'block-everything'] };
    const result = parseSiteConfig(stringify(doc));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues).toEqual([{ path: 'modbus.enforce[1]', message: '"block-everything" is not an alert type (see docs/protocol.md, Catalogue)' }]);
  });
});
