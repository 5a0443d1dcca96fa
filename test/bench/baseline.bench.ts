import v8 from 'node:v8';
import vm from 'node:vm';
import { pino } from 'pino';
import { afterAll, bench, describe } from 'vitest';
import type { FindingSink } from '../../agent/src/alert/finding.ts';
import type { Detector } from '../../agent/src/detect/detector.ts';
import type { ClientIdentity, PublishObservation } from '../../agent/src/ingest/observation.ts';
import { crossReferenceIssues, siteConfigSchema, type SiteConfig } from '../../agent/src/model/site-schema.ts';
import type { CommandMessage, ParamValue } from '../../agent/src/model/wire.ts';
import { createMonitor, type Monitor } from '../../agent/src/monitor.ts';
import type { DeviceCommandEvent, EventSource, InventoryDevice, TelemetryEvent } from '../../agent/src/normalize/events.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';

/**
 * Learned baselines (issue 5): the cost per event of learning and scoring at 10 and at
 * 1,000 pumps, side by side in one run so that the ratio holds on a noisy machine
 * (docs/benchmarks.md, "Learned baselines").
 *
 * Each size gets a hospital generated from config/demo.yaml's drug library and structure
 * (wards of 20 pumps, one nurse station each, ICU and Med-Surg, heparin and morphine) and
 * 25 h of history learned through the real pipeline: per pump a program, a start, 18
 * titrations and 5 boluses, one command an hour (so every hour is learned), and telemetry
 * every 10 min. The learning period is the default 24 h, so the detectors are judging
 * when the measured traffic starts.
 *
 * Measured traffic goes round all pumps, each pump one event per 5 s of event time
 * whatever the size (a 1,000-pump hospital sends 100 times the events of a 10-pump ward,
 * not each pump 100 times fewer): commands alternate titrations up and down inside the
 * learned envelope and a bolus; telemetry reports the running infusion with the infused
 * volume growing at the programmed rate. Ids are fresh and stamps follow event time, so
 * the traffic raises nothing and the path measured is the common one (learn and judge);
 * the findings are counted and printed at the end (expected 0).
 *
 * (a) the nine learned-baseline detectors alone: `inspect` on events as the normalizer
 *     makes them (a fresh object per event: the baseline flags events by identity); plus
 *     the largest hospital with traffic to only ten of its pumps (see `cases`);
 * (b) the whole pipeline: `pipeline.ingest` of the MQTT publish (normalizer, every
 *     detector, device state), payloads rewritten in place (stamp, id, infused volume).
 *
 * `detection.silence.intervals` is lifted: the learned history reports every 10 min, and
 * the command-only cases send no telemetry.
 */

const PUMPS_PER_WARD = 20;
/** Hospital sizes compared; `BASELINE_BENCH_PUMPS=10,100,1000,3000` adds more (each size takes a few seconds to learn). */
const SIZES: readonly number[] = (process.env.BASELINE_BENCH_PUMPS ?? '10,1000').split(',').map(Number);
if (SIZES.some((size) => !Number.isInteger(size) || size < 1)) throw new Error(`BASELINE_BENCH_PUMPS must list pump counts, got ${process.env.BASELINE_BENCH_PUMPS}`);
/** A longer run than vitest's default 500 ms: the machine is shared and noisy. */
const RUN = { time: 1_000 };
const HISTORY_START = Date.parse('2026-11-30T00:00:00Z');
const HOUR_MS = 3_600_000;
const SLOT_MS = 10 * 60_000;
/** 25 h of history: the 24 h learning period, then an hour judged. */
const HISTORY_HOURS = 25;
const SLOTS = HISTORY_HOURS * 6;
/** Pumps the "traffic to a few" case goes round in the largest hospital. */
const HOT_PUMPS = 10;
/** Each pump's event period in the measured traffic, whatever the number of pumps. */
const PER_PUMP_PERIOD_MS = 5_000;
/** Titration factors of the pre-learned history: the envelope the measured 0.9 and 1.1 fall inside. */
const HISTORY_FACTORS = [1.0, 1.1, 0.9, 1.2, 0.85, 1.05, 0.95, 1.15];
const LIBRARY_VERSION = '4W-2026.11-demo';
const BASELINE_DETECTORS = new Set(['rate-creep', 'delivery-mismatch', 'version-change']);

const round1 = (value: number): number => Math.round(value * 10) / 10;
const wardName = (index: number): string => `W${String(index + 1).padStart(2, '0')}`;
const pumpId = (index: number): string => `pump-${String(index + 1).padStart(4, '0')}`;

function benchConfig(pumps: number): SiteConfig {
  const demo = loadDemoConfig();
  const wards = Math.ceil(pumps / PUMPS_PER_WARD);
  const stations = Array.from({ length: wards }, (_, w) => `station-${wardName(w).toLowerCase()}`);
  const ids = Array.from({ length: pumps }, (_, i) => pumpId(i));
  const config = siteConfigSchema.parse({
    site: { name: `Bench hospital (${pumps} pumps)`, ward: wardName(0) },
    mqtt: {
      allowAnonymous: false,
      accounts: [
        ...stations.map((username) => ({ username, password: 'bench', role: 'station' })),
        { username: 'pharmacy', password: 'bench', role: 'pharmacy' },
        ...ids.map((username) => ({ username, password: 'bench', role: 'device' })),
      ],
    },
    devices: ids.map((id, i) => ({
      id,
      profile: 'infusion-pump',
      ward: wardName(Math.floor(i / PUMPS_PER_WARD)),
      bed: String((i % PUMPS_PER_WARD) + 1),
      careArea: i % 2 === 0 ? 'ICU' : 'Med-Surg',
      account: id,
    })),
    drugLibrary: demo.drugLibrary,
    policy: {
      rules: [
        // One rule naming every station (a set lookup), so that the policy costs the same at both sizes.
        { id: 'stations-program-pumps', accounts: stations, devices: { profile: 'infusion-pump' }, commands: ['program_infusion', 'set_rate', 'bolus', 'start', 'pause', 'stop'] },
        { id: 'pharmacy-pushes-drug-libraries', roles: ['pharmacy'], devices: { profile: 'infusion-pump' }, commands: ['load_drug_library'] },
      ],
    },
    modbus: demo.modbus,
    detection: { ...demo.detection, silence: { intervals: 1_000_000 } },
    baseline: { ...demo.baseline, mode: 'monitor', learningHours: 24 },
  });
  const issues = crossReferenceIssues(config);
  if (issues.length > 0) throw new Error(`bench config is invalid: ${JSON.stringify(issues)}`);
  return config;
}

/** A payload whose fixed-width slots (stamp, id, infused volume) are rewritten in place per message. */
class PayloadTemplate {
  readonly buffer: Buffer;
  private readonly offsets = new Map<string, number>();

  constructor(json: string, slots: Readonly<Record<string, string>>) {
    this.buffer = Buffer.from(json, 'latin1');
    for (const [name, placeholder] of Object.entries(slots)) {
      const offset = this.buffer.indexOf(placeholder, 0, 'latin1');
      if (offset < 0) throw new Error(`no ${name} slot in ${json}`);
      this.offsets.set(name, offset);
    }
  }

  set(name: string, value: string): void {
    this.buffer.write(value, this.offsets.get(name) ?? 0, 'latin1');
  }
}

const TS_SLOT = 'T'.repeat(24);
const ID_SLOT = 'I'.repeat(12);
const INFUSED_SLOT = '0'.repeat(10);

interface Pump {
  readonly index: number;
  readonly device: InventoryDevice;
  readonly drug: 'heparin' | 'morphine';
  readonly careArea: string;
  readonly weightKg: number;
  /** The rate the pump was programmed at; the measured titrations go to 1.1× and 0.9× of it. */
  readonly rate: number;
  readonly bolusMl: number;
  readonly station: string;
  readonly stationClient: ClientIdentity;
  readonly stationSource: EventSource;
  readonly pumpClient: ClientIdentity;
  readonly pumpSource: EventSource;
  readonly commandTopic: string;
  readonly telemetryTopic: string;
  /** Measured commands in order: set_rate up, set_rate down, bolus. */
  readonly messages: readonly CommandMessage[];
  readonly commandPayloads: readonly PayloadTemplate[];
  readonly telemetryPayload: PayloadTemplate;
  readonly telemetryFields: Readonly<Record<string, ParamValue>>;
  infusedMl: number;
  lastTelemetryTs: number;
}

function makePump(monitor: Monitor, index: number): Pump {
  const id = pumpId(index);
  const device = monitor.state.get(id)?.device;
  if (device === undefined) throw new Error(`no ${id} in the inventory`);
  const careArea = device.config.careArea ?? 'ICU';
  const drug = Math.floor(index / 2) % 2 === 0 ? 'heparin' : 'morphine';
  const weightKg = 50 + ((index * 37) % 60);
  // Heparin 100 units/mL at 12–20 units/kg/h; morphine 1 mg/mL at 1.5–3 mg/h: inside the soft limits even at 1.2×.
  const rate = drug === 'heparin' ? round1(((12 + ((index * 13) % 9)) * weightKg) / 100) : round1(1.5 + ((index * 7) % 16) / 10);
  const bolusMl = drug === 'heparin' ? round1((40 * weightKg) / 100) : 1;
  const station = `station-${wardName(Math.floor(index / PUMPS_PER_WARD)).toLowerCase()}`;
  const stationClient: ClientIdentity = { clientId: `${station}-client`, username: station, address: '10.4.0.10' };
  const pumpClient: ClientIdentity = { clientId: id, username: id, address: `10.5.${Math.floor(index / 250)}.${(index % 250) + 1}` };
  const measured: [string, Record<string, ParamValue>][] = [
    ['set_rate', { rate_ml_h: round1(rate * 1.1) }],
    ['set_rate', { rate_ml_h: round1(rate * 0.9) }],
    ['bolus', { volume_ml: bolusMl }],
  ];
  const telemetryFields: Record<string, ParamValue> = { state: 'running', drug, care_area: careArea, weight_kg: weightKg, rate_ml_h: rate, infused_ml: 0, vtbi_ml: 500, alarm: '', battery_pct: 90, library_version: LIBRARY_VERSION };
  return {
    index,
    device,
    drug,
    careArea,
    weightKg,
    rate,
    bolusMl,
    station,
    stationClient,
    stationSource: { transport: 'mqtt', clientId: stationClient.clientId, account: station, role: 'station', address: stationClient.address },
    pumpClient,
    pumpSource: { transport: 'mqtt', clientId: pumpClient.clientId, account: id, role: 'device', address: pumpClient.address },
    commandTopic: `ward/${id}/command`,
    telemetryTopic: `ward/${id}/telemetry`,
    messages: measured.map(([command, params], i) => ({ id: `m-${id}-${i}`, ts: new Date(HISTORY_START).toISOString(), issuer: station, user: 'rn-1', command, params })),
    commandPayloads: measured.map(([command, params]) => new PayloadTemplate(
      JSON.stringify({ id: ID_SLOT, ts: TS_SLOT, issuer: station, user: 'rn-1', command, params }),
      { id: ID_SLOT, ts: TS_SLOT },
    )),
    telemetryPayload: new PayloadTemplate(
      JSON.stringify({ ts: TS_SLOT, ...telemetryFields, infused_ml: 'INFUSED' }).replace('"INFUSED"', INFUSED_SLOT),
      { ts: TS_SLOT, infused: INFUSED_SLOT },
    ),
    telemetryFields,
    infusedMl: 0,
    lastTelemetryTs: 0,
  };
}

/** A hospital of `size` pumps with 25 h learned, and the measured traffic's clock. */
class Hospital {
  readonly monitor: Monitor;
  readonly pumps: readonly Pump[];
  readonly detectors: readonly Detector[];
  now: number;
  findings = 0;
  historyFindings = 0;
  private commands = 0;
  private telemetries = 0;
  /** Counters of the traffic that goes round only the first HOT_PUMPS pumps. */
  private hotCommands = 0;
  private hotTelemetries = 0;
  private nextId = 0;
  readonly report: FindingSink = () => {
    this.findings += 1;
  };

  constructor(readonly size: number) {
    this.monitor = createMonitor(benchConfig(size), { sinks: [], logger: pino({ level: 'silent' }) });
    this.pumps = Array.from({ length: size }, (_, i) => makePump(this.monitor, i));
    this.detectors = this.monitor.detectors.filter((detector) => detector.id.startsWith('baseline') || BASELINE_DETECTORS.has(detector.id));
    if (this.detectors.length !== 9) throw new Error(`expected 9 baseline detectors, found ${this.detectors.map((d) => d.id).join(', ')}`);
    this.learnHistory();
    this.learnCadence();
    this.now = HISTORY_START + HISTORY_HOURS * HOUR_MS;
    for (const pump of this.pumps) pump.lastTelemetryTs = this.now;
  }

  /** 25 h through the real pipeline: per pump one command an hour (program, start, titrations, boluses), telemetry every 10 min. */
  private learnHistory(): void {
    const rates = this.pumps.map((pump) => pump.rate);
    for (let slot = 0; slot < SLOTS; slot += 1) {
      for (const pump of this.pumps) {
        const ts = HISTORY_START + slot * SLOT_MS + Math.floor((pump.index * SLOT_MS) / this.size);
        if (slot % 6 === pump.index % 6) {
          const k = Math.floor(slot / 6);
          let command: string;
          let params: Record<string, ParamValue> = {};
          if (k === 0) {
            command = 'program_infusion';
            params = { drug: pump.drug, rate_ml_h: pump.rate, vtbi_ml: 500, weight_kg: pump.weightKg, care_area: pump.careArea };
          } else if (k === 1) {
            command = 'start';
          } else if (k % 4 === 1) {
            command = 'bolus';
            params = { volume_ml: pump.bolusMl };
          } else {
            command = 'set_rate';
            params = { rate_ml_h: round1(pump.rate * (HISTORY_FACTORS[k % HISTORY_FACTORS.length] ?? 1)) };
            rates[pump.index] = params.rate_ml_h as number;
          }
          const message = { id: `h-${pump.index}-${k}`, ts: new Date(ts).toISOString(), issuer: pump.station, user: 'rn-1', command, params };
          this.historyFindings += this.monitor.pipeline.ingest({ kind: 'mqtt-publish', ts, client: pump.stationClient, topic: pump.commandTopic, payload: Buffer.from(JSON.stringify(message)), retain: false, qos: 1 }).length;
        }
        const telemetry = { ts: new Date(ts + 1).toISOString(), ...pump.telemetryFields, rate_ml_h: rates[pump.index] ?? pump.rate, infused_ml: round1(slot * 2.5) };
        this.historyFindings += this.monitor.pipeline.ingest({ kind: 'mqtt-publish', ts: ts + 1, client: pump.pumpClient, topic: pump.telemetryTopic, payload: Buffer.from(JSON.stringify(telemetry)), retain: false, qos: 0 }).length;
      }
    }
  }

  /**
   * The history reports every 10 min to keep learning quick; a day of the measured traffic's
   * reports would have taught each pump the period it reports at in it: 5 s, and for the
   * HOT_PUMPS that the "traffic to a few" case goes round, that case's faster period. Set
   * here, so that the cadence detector judges the measured traffic and finds it normal.
   */
  private learnCadence(): void {
    for (const pump of this.pumps) {
      const periodMs = pump.index < HOT_PUMPS ? (PER_PUMP_PERIOD_MS * Math.min(HOT_PUMPS, this.size)) / this.size : PER_PUMP_PERIOD_MS;
      this.monitor.baseline.devices.get(pump.device.config.id)?.telemetrySeconds.add(periodMs / 1000, Math.ceil((HISTORY_HOURS * HOUR_MS) / periodMs));
    }
  }

  /**
   * The next command of traffic that goes round `reach` pumps: all of them (each pump one
   * event per PER_PUMP_PERIOD_MS of event time), or the first HOT_PUMPS. Event time moves
   * at the same pace either way, so that what runs once per event-time second or hour (the
   * baseline's expiry) costs the same per event in both.
   */
  private nextCommand(reach: number): { readonly pump: Pump; readonly variant: number } {
    const n = reach === this.size ? this.commands++ : this.hotCommands++;
    this.now += PER_PUMP_PERIOD_MS / this.size;
    return { pump: this.pumps[n % reach] as Pump, variant: Math.floor(n / reach) % 3 };
  }

  private nextTelemetry(reach: number): Pump {
    const n = reach === this.size ? this.telemetries++ : this.hotTelemetries++;
    const pump = this.pumps[n % reach] as Pump;
    this.now += PER_PUMP_PERIOD_MS / this.size;
    pump.infusedMl += (pump.rate * (this.now - pump.lastTelemetryTs)) / HOUR_MS;
    pump.lastTelemetryTs = this.now;
    return pump;
  }

  /** (a) A command event, as the normalizer makes it, through the baseline detectors alone. */
  detectCommand(reach = this.size): void {
    const { pump, variant } = this.nextCommand(reach);
    const message = pump.messages[variant] as CommandMessage;
    const event: DeviceCommandEvent = { kind: 'command', ts: this.now, device: pump.device, message, spec: pump.device.profile.commands[message.command]!, source: pump.stationSource, retained: false };
    for (const detector of this.detectors) detector.inspect(event, this.report);
  }

  /** (a) A telemetry event through the baseline detectors alone. */
  detectTelemetry(reach = this.size): void {
    const pump = this.nextTelemetry(reach);
    const event: TelemetryEvent = { kind: 'telemetry', ts: this.now, device: pump.device, fields: { ...pump.telemetryFields, infused_ml: round1(pump.infusedMl) }, source: pump.pumpSource };
    for (const detector of this.detectors) detector.inspect(event, this.report);
  }

  /** (b) The same command as an MQTT publish through the whole pipeline. */
  ingestCommand(reach = this.size): void {
    const { pump, variant } = this.nextCommand(reach);
    const payload = pump.commandPayloads[variant] as PayloadTemplate;
    payload.set('id', `b${(this.nextId++).toString(36).padStart(11, '0')}`);
    payload.set('ts', new Date(this.now).toISOString());
    const observation: PublishObservation = { kind: 'mqtt-publish', ts: this.now, client: pump.stationClient, topic: pump.commandTopic, payload: payload.buffer, retain: false, qos: 1 };
    this.findings += this.monitor.pipeline.ingest(observation).length;
  }

  /** (b) The same telemetry as an MQTT publish through the whole pipeline. */
  ingestTelemetry(reach = this.size): void {
    const pump = this.nextTelemetry(reach);
    const payload = pump.telemetryPayload;
    payload.set('ts', new Date(this.now).toISOString());
    payload.set('infused', pump.infusedMl.toFixed(1).padStart(INFUSED_SLOT.length, ' '));
    const observation: PublishObservation = { kind: 'mqtt-publish', ts: this.now, client: pump.pumpClient, topic: pump.telemetryTopic, payload: payload.buffer, retain: false, qos: 0 };
    this.findings += this.monitor.pipeline.ingest(observation).length;
  }

  summary(label: string): string {
    const model = this.monitor.baseline;
    return `${label} ${this.size} pumps: ${this.commands + this.hotCommands} commands, ${this.telemetries + this.hotTelemetries} telemetry measured over ${((this.now - HISTORY_START) / HOUR_MS - HISTORY_HOURS).toFixed(1)} h of event time; findings measured ${this.findings} (history ${this.historyFindings}); baseline ${model.devices.size} devices, ${model.events} events learned, ${model.evictions} evictions`;
  }
}

/** The heap a 1,000-pump monitor with its learned day holds, and the baseline's saved size. */
function measureMemory(size: number): string {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage();
  const hospital = new Hospital(size);
  gc();
  const after = process.memoryUsage();
  const json = JSON.stringify(hospital.monitor.baseline.toJSON());
  const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
  return `memory, ${size} pumps after 25 h learned: heap +${mib(after.heapUsed - before.heapUsed)} MiB, rss +${mib(after.rss - before.rss)} MiB (whole monitor); baseline JSON ${mib(json.length)} MiB (${Math.round(json.length / size)} bytes per pump)`;
}

const memoryLine = measureMemory(1_000);
const detectorsAlone = new Map(SIZES.map((size) => [size, new Hospital(size)]));
const wholePipeline = new Map(SIZES.map((size) => [size, new Hospital(size)]));
const at = (hospitals: Map<number, Hospital>, size: number): Hospital => hospitals.get(size) as Hospital;
const largest = Math.max(...SIZES);

/**
 * Each size with traffic round all its pumps. With `hot`, then the largest hospital with
 * traffic round only HOT_PUMPS of its pumps: the same tables and the same pace of event
 * time, but the state touched stays in the CPU's caches. That tells the cost of the
 * tables' size from the cost of reaching many pumps' state in memory. Only for the
 * detectors alone: through the whole pipeline, ten pumps sending the traffic of a
 * thousand would be publish floods.
 */
function cases(run: (hospital: Hospital, reach: number) => void, hospitals: Map<number, Hospital>, hot: boolean): void {
  for (const size of SIZES) {
    const hospital = at(hospitals, size);
    bench(`${size} pumps`, () => run(hospital, size), RUN);
  }
  const biggest = at(hospitals, largest);
  if (hot && largest > HOT_PUMPS) bench(`${largest} pumps, traffic to ${HOT_PUMPS} of them`, () => run(biggest, HOT_PUMPS), RUN);
}

describe('baseline detectors alone: command (learn + judge)', () => {
  cases((hospital, reach) => hospital.detectCommand(reach), detectorsAlone, true);
});

describe('baseline detectors alone: telemetry', () => {
  cases((hospital, reach) => hospital.detectTelemetry(reach), detectorsAlone, true);
});

describe('whole pipeline ingest: command publish', () => {
  cases((hospital, reach) => hospital.ingestCommand(reach), wholePipeline, false);
});

describe('whole pipeline ingest: telemetry publish', () => {
  cases((hospital, reach) => hospital.ingestTelemetry(reach), wholePipeline, false);
});

afterAll(() => {
  const lines = [memoryLine];
  for (const size of SIZES) lines.push(at(detectorsAlone, size).summary('detectors alone,'), at(wholePipeline, size).summary('whole pipeline,'));
  console.log(lines.join('\n'));
});
