import { z } from 'zod';
import { parseDuration } from './duration.ts';

/**
 * An attack (or benign) scenario as data, in the suricata-verify mould (DESIGN.md,
 * principle 10): what it models with a reference, its ATT&CK for ICS technique, the
 * actors, timed steps, and the alerts that must follow — or `none`.
 * Structure is checked here; names of devices, accounts and alert types are checked
 * against the site config and the alert catalogue by the loader.
 */

const duration = z.string().transform((text, context) => {
  const ms = parseDuration(text);
  if (ms === null) {
    context.addIssue({ code: 'custom', message: 'must be a duration such as 500ms, 30s, 2m or 1h30m' });
    return z.NEVER;
  }
  return ms;
});

const identifier = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1–64 letters, digits, ".", "_" or "-"');

const sourceSchema = z.strictObject({
  kind: z.enum(['cve', 'advisory', 'paper', 'dataset', 'clinical', 'standard']),
  id: z.string().min(1).max(64),
  reference: z.url(),
  note: z.string().min(1).max(400),
});

const mqttActorSchema = z.strictObject({
  kind: z.literal('mqtt'),
  username: z.string().min(1).max(64),
  /** Defaults to the account's plain-text password in the site config (demo configs have them). */
  password: z.string().optional(),
  clientId: z.string().min(1).max(128).optional(),
  /** Source address in an evaluation; a live run uses the machine's own. */
  address: z.ipv4().optional(),
  /** Evaluation only: send through the simulated ward's own session for this account (a legitimate user), not a new connection. */
  wardSession: z.boolean().default(false),
});

/** A Modbus/TCP master: it reaches a device through the agent's gateway and has no login, only an address. */
const modbusActorSchema = z.strictObject({
  kind: z.literal('modbus-master'),
  /** Source address in an evaluation; a live run uses the machine's own. */
  address: z.ipv4().optional(),
  unitId: z.number().int().min(0).max(255).default(1),
});

/** Room for the raw-socket actors of the capture work; the loader refuses them until a runner plays them. */
const reservedActorSchema = z.strictObject({
  kind: z.literal('raw-tcp'),
  target: z.string().optional(),
});

const actorSchema = z.discriminatedUnion('kind', [mqttActorSchema, modbusActorSchema, reservedActorSchema]);

const repeatSchema = z.strictObject({
  count: z.number().int().min(1).max(100_000),
  every: duration,
});

const paramValue = z.union([z.number(), z.string(), z.boolean()]);

const commandActionSchema = z.strictObject({
  device: z.string().min(1),
  command: z.string().min(1),
  params: z.record(z.string(), paramValue).default({}),
  /** Default: the actor's username (an honest client). */
  issuer: z.string().optional(),
  user: z.string().default('scenario'),
  /** Fixed command id; by default every command gets a fresh one. */
  id: z.string().optional(),
  retain: z.boolean().default(false),
});

const stepActions = {
  connect: z.strictObject({ password: z.string().optional(), clientId: z.string().optional() }),
  disconnect: z.strictObject({}),
  subscribe: z.strictObject({ filters: z.array(z.string().min(1)).min(1) }),
  command: commandActionSchema,
  /** `{i}` in the payload is replaced by the repetition number. */
  publish: z.strictObject({ topic: z.string().min(1), payload: z.string(), retain: z.boolean().default(false), qos: z.union([z.literal(0), z.literal(1)]).default(0) }),
  /** Sniff: subscribe to a device's command topic and keep the last command seen. */
  capture: z.strictObject({ device: z.string().min(1) }),
  /** Re-send, byte for byte, the last command captured for the device. */
  replay: z.strictObject({ device: z.string().min(1) }),
  /** Logins with a wrong password, `count` times, `every` apart. */
  loginAttempts: z.strictObject({ count: z.number().int().min(1).max(100_000), every: duration, password: z.string(), rotateClientIds: z.boolean().default(false) }),
  /** Successful logins opened and closed, `count` times, `every` apart. */
  connectFlood: z.strictObject({ count: z.number().int().min(1).max(100_000), every: duration }),
  /**
   * One Modbus request to a device through its gateway: a register write, a read, a whole
   * command (its holding image, as a station writes it), or raw bytes (hex) that no library
   * would send, MBAP header included.
   */
  modbus: z.strictObject({
    device: z.string().min(1),
    unitId: z.number().int().min(0).max(255).optional(),
    write: z.strictObject({ address: z.number().int().min(0).max(65_535), values: z.array(z.number().int().min(0).max(65_535)).min(1).max(123) }).optional(),
    read: z.strictObject({ function: z.union([z.literal(3), z.literal(4)]), address: z.number().int().min(0).max(65_535), quantity: z.number().int().min(1).max(125) }).optional(),
    command: z.strictObject({ command: z.string().min(1), params: z.record(z.string(), paramValue).default({}) }).optional(),
    /** Function code and data, hex; the runner adds the MBAP header. */
    pdu: z.string().regex(/^(\s*[0-9a-fA-F]{2})+\s*$/, 'must be hex bytes').optional(),
    /** Whole bytes, hex, MBAP header included, sent as they are. */
    raw: z.string().regex(/^(\s*[0-9a-fA-F]{2})+\s*$/, 'must be hex bytes').optional(),
  }).refine((request) => [request.write, request.read, request.command, request.pdu, request.raw].filter((part) => part !== undefined).length === 1, 'give exactly one of write, read, command, pdu or raw'),
  /** Evaluation only: stage a ward event on the simulated devices. */
  ward: z.union([
    z.strictObject({ silence: z.string().min(1) }),
    z.strictObject({ reboot: z.string().min(1), downtime: duration }),
    z.strictObject({ occlusion: z.string().min(1) }),
    z.strictObject({ shiftChange: duration }),
    /** A running pump reconfigured behind its display (B. Braun SpaceCom, CVE-2021-33885). */
    z.strictObject({ reconfigureDelivery: z.string().min(1), factor: z.number().positive().max(100) }),
  ]),
} as const;

export type StepActionName = keyof typeof stepActions;
export const STEP_ACTIONS = Object.keys(stepActions) as StepActionName[];

const stepSchema = z
  .strictObject({
    at: duration,
    actor: z.string().optional(),
    /** Time to alert is measured from the first step marked trigger (default: the first step). */
    trigger: z.boolean().default(false),
    repeat: repeatSchema.optional(),
    connect: stepActions.connect.optional(),
    disconnect: stepActions.disconnect.optional(),
    subscribe: stepActions.subscribe.optional(),
    command: stepActions.command.optional(),
    publish: stepActions.publish.optional(),
    capture: stepActions.capture.optional(),
    replay: stepActions.replay.optional(),
    loginAttempts: stepActions.loginAttempts.optional(),
    connectFlood: stepActions.connectFlood.optional(),
    modbus: stepActions.modbus.optional(),
    ward: stepActions.ward.optional(),
  })
  .superRefine((step, context) => {
    const actions = STEP_ACTIONS.filter((name) => step[name] !== undefined);
    if (actions.length !== 1) {
      context.addIssue({ code: 'custom', message: `a step has exactly one action (${STEP_ACTIONS.join(', ')}); found ${actions.length === 0 ? 'none' : actions.join(', ')}` });
    }
    if (actions[0] !== 'ward' && step.actor === undefined && actions.length === 1) {
      context.addIssue({ code: 'custom', path: ['actor'], message: `a ${actions[0]} step needs an actor` });
    }
  });

const expectedAlertSchema = z.strictObject({
  type: z.string().min(1),
  severity: z.enum(['critical', 'high', 'warning', 'info']).optional(),
  device: z.string().optional(),
  /** Latency bound from the trigger step, in simulated time. */
  within: duration,
});

export const scenarioSchema = z.strictObject({
  name: identifier,
  title: z.string().min(1).max(120),
  description: z.string().max(2_000).optional(),
  models: z.array(sourceSchema).min(1),
  /** MITRE ATT&CK for ICS; absent for benign scenarios. */
  attack: z.strictObject({ technique: z.string().regex(/^T0\d{3}$/, 'must be an ATT&CK for ICS technique id such as T0836'), name: z.string().min(1) }).optional(),
  /**
   * The site this scenario needs, when not the one evaluated (`config/<site>.yaml` of the
   * Wardwatch package): a ward with several stations, say. Its inventory and accounts are
   * what the steps name, and the evaluation runs on it.
   */
  site: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be the name of a config shipped in config/, such as large-ward').optional(),
  /**
   * Normal ward time before the first step, so that infusions run and sessions are open.
   * A day or more lets the learned baseline (baseline.learningHours) finish learning.
   */
  warmup: duration.default(10 * 60_000),
  /**
   * The ward's long-run routine (clinic hours Monday–Friday, quieter nights, discharges and
   * admissions) instead of round-the-clock care: what a learned baseline should learn from.
   */
  longStay: z.boolean().default(false),
  /**
   * How the evaluated agent sees the ward's MQTT: `in-path` (its embedded broker, the
   * default) or `tap` (DESIGN.md, way 2: a subscriber to the site's broker, which sees every
   * publish but no login, connection or sender). Evaluation only: a live run plays the
   * steps against whatever agent is running.
   */
  via: z.enum(['in-path', 'tap']).default('in-path'),
  actors: z.record(identifier, actorSchema).default({}),
  steps: z.array(stepSchema).min(1),
  expect: z.union([z.literal('none'), z.strictObject({ alerts: z.array(expectedAlertSchema).min(1) })]),
});

export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioStep = Scenario['steps'][number];
export type ScenarioActor = Scenario['actors'][string];
export type MqttScenarioActor = Extract<ScenarioActor, { kind: 'mqtt' }>;
export type ModbusScenarioActor = Extract<ScenarioActor, { kind: 'modbus-master' }>;
export type ModbusStep = NonNullable<ScenarioStep['modbus']>;
export type ExpectedAlert = Exclude<Scenario['expect'], 'none'>['alerts'][number];
