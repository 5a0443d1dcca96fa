import { randomUUID } from 'node:crypto';
import { topicFor, type CommandMessage } from '../../../agent/src/model/wire.ts';
import { isoTime, type SimClock } from '../clock.ts';
import { commandPdu, encodeAdu, readRegistersPdu, writeMultipleRegistersPdu, writeSingleRegisterPdu } from '../../../agent/src/model/modbus-codec.ts';
import type { DeviceKind } from '../../../agent/src/model/device-profile.ts';
import type { ActorSession, ActorTransport, ConnectRequest, ModbusTransport, WardControl } from './actor-transport.ts';
import type { ModbusStep, MqttScenarioActor, Scenario, ScenarioStep } from './scenario-schema.ts';

export interface RunnerOptions {
  readonly clock: SimClock;
  readonly transport: ActorTransport;
  /** Null on a live run: ward steps are skipped with a note. */
  readonly ward: WardControl | null;
  /** How Modbus masters reach devices; null when none is available (a step then fails with that reason). */
  readonly modbus?: ModbusTransport | null;
  /** Profile of each device, to encode a Modbus command's holding image. */
  readonly deviceKind?: (deviceId: string) => DeviceKind | undefined;
  /** Plain-text password of an account, from the site config, for actors that give none. */
  readonly passwordOf: (username: string) => string | undefined;
  readonly log?: (line: string) => void;
}

export interface RunOutcome {
  /** Clock time of the trigger step. */
  readonly triggerAt: number;
  /** Clock time the last step was scheduled for. */
  readonly lastStepAt: number;
  readonly refusedLogins: number;
  readonly skippedSteps: readonly string[];
}

const DEFAULT_ACTOR_ADDRESS = '10.66.0.66';

/**
 * Plays a scenario's steps on a clock: each at its offset from `startAt`, in file order
 * for equal offsets. Actions go through an ActorTransport, so the same file runs live
 * (real MQTT, real time) and in an evaluation (in-process, virtual time).
 */
export class ScenarioRunner {
  private readonly sessions = new Map<string, ActorSession>();
  private readonly captured = new Map<string, Buffer>();
  private readonly pending: Promise<void>[] = [];
  private refusedLogins = 0;
  private readonly skipped: string[] = [];
  private commandCounter = 0;
  private modbusTransaction = 0;
  private readonly runTag = randomUUID().slice(0, 8);

  constructor(private readonly scenario: Scenario, private readonly options: RunnerOptions) {}

  /** Schedules every step; resolves when the last has run and its connections have settled. */
  async run(startAt: number): Promise<RunOutcome> {
    const { clock } = this.options;
    const steps = this.scenario.steps;
    const trigger = steps.find((step) => step.trigger) ?? steps[0];
    let lastStepAt = startAt;
    const done: Promise<void>[] = [];
    for (const [index, step] of steps.entries()) {
      const due = startAt + step.at;
      lastStepAt = Math.max(lastStepAt, due + (step.repeat === undefined ? 0 : (step.repeat.count - 1) * step.repeat.every));
      done.push(new Promise<void>((resolve) => {
        clock.after(Math.max(0, due - clock.now()), () => {
          this.pending.push(this.execute(step, index).catch((error: unknown) => this.options.log?.(`step ${index + 1} failed: ${(error as Error).message}`)));
          resolve();
        });
      }));
    }
    await Promise.all(done);
    await this.settle();
    return { triggerAt: startAt + (trigger?.at ?? 0), lastStepAt, refusedLogins: this.refusedLogins, skippedSteps: this.skipped };
  }

  /** Waits for every action started so far, including ones that started more. */
  private async settle(): Promise<void> {
    while (this.pending.length > 0) await Promise.all(this.pending.splice(0));
  }

  async close(): Promise<void> {
    await this.settle();
    await Promise.all([...this.sessions.values()].map((session) => session.close()));
    this.sessions.clear();
    await this.options.modbus?.close();
  }

  private actor(step: ScenarioStep): { name: string; actor: MqttScenarioActor } {
    const name = step.actor ?? '';
    const actor = this.scenario.actors[name];
    if (actor === undefined || actor.kind !== 'mqtt') throw new Error(`no MQTT actor "${name}"`);
    return { name, actor };
  }

  private request(name: string, actor: MqttScenarioActor, override: { password?: string; clientId?: string } = {}): ConnectRequest {
    return {
      actor: name,
      username: actor.username,
      password: override.password ?? actor.password ?? this.options.passwordOf(actor.username) ?? '',
      clientId: override.clientId ?? actor.clientId ?? `${name}-scenario`,
      address: actor.address ?? DEFAULT_ACTOR_ADDRESS,
      wardSession: actor.wardSession,
    };
  }

  /** The actor's session, connecting on first use. */
  private async session(step: ScenarioStep): Promise<ActorSession> {
    const { name, actor } = this.actor(step);
    const open = this.sessions.get(name);
    if (open !== undefined) return open;
    const session = await this.options.transport.connect(this.request(name, actor));
    if (session === null) throw new Error(`${name} could not log in as ${actor.username}`);
    this.sessions.set(name, session);
    return session;
  }

  /** Runs a step's action `repeat.count` times, `repeat.every` apart (once without repeat). */
  private async execute(step: ScenarioStep, index: number): Promise<void> {
    const count = step.repeat?.count ?? 1;
    const every = step.repeat?.every ?? 0;
    for (let i = 0; i < count; i += 1) {
      if (i > 0) await this.wait(every);
      await this.act(step, index, i);
    }
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => this.options.clock.after(ms, resolve));
  }

  private commandPayload(step: ScenarioStep): { topic: string; payload: string; retain: boolean } {
    const command = step.command;
    if (command === undefined) throw new Error('not a command step');
    const { actor } = this.actor(step);
    this.commandCounter += 1;
    const message: CommandMessage = {
      id: command.id ?? `${this.scenario.name}-${this.runTag}-${this.commandCounter}`,
      ts: isoTime(this.options.clock.now()),
      issuer: command.issuer ?? actor.username,
      user: command.user,
      command: command.command,
      params: command.params,
    };
    return { topic: topicFor(command.device, 'command'), payload: JSON.stringify(message), retain: command.retain };
  }

  private async act(step: ScenarioStep, index: number, repetition: number): Promise<void> {
    const { transport, log } = this.options;
    if (step.connect !== undefined) {
      const { name, actor } = this.actor(step);
      const session = await transport.connect(this.request(name, actor, step.connect));
      if (session === null) this.refusedLogins += 1;
      else this.sessions.set(name, session);
    } else if (step.disconnect !== undefined) {
      const name = step.actor ?? '';
      const session = this.sessions.get(name);
      this.sessions.delete(name);
      await session?.close();
    } else if (step.subscribe !== undefined) {
      const session = await this.session(step);
      for (const filter of step.subscribe.filters) session.subscribe(filter, () => undefined);
    } else if (step.command !== undefined) {
      const session = await this.session(step);
      const { topic, payload, retain } = this.commandPayload(step);
      session.publish(topic, payload, { retain, qos: 1 });
    } else if (step.publish !== undefined) {
      const session = await this.session(step);
      const payload = step.publish.payload.replaceAll('{i}', String(repetition));
      session.publish(step.publish.topic, payload, { retain: step.publish.retain, qos: step.publish.qos });
    } else if (step.capture !== undefined) {
      const session = await this.session(step);
      const device = step.capture.device;
      session.subscribe(topicFor(device, 'command'), (_topic, payload) => this.captured.set(device, Buffer.from(payload)));
    } else if (step.replay !== undefined) {
      const session = await this.session(step);
      const payload = this.captured.get(step.replay.device);
      if (payload === undefined) {
        log?.(`step ${index + 1}: nothing captured for ${step.replay.device} yet; nothing replayed`);
        return;
      }
      session.publish(topicFor(step.replay.device, 'command'), payload, { retain: false, qos: 1 });
    } else if (step.loginAttempts !== undefined) {
      await this.loginAttempts(step, step.loginAttempts);
    } else if (step.connectFlood !== undefined) {
      await this.connectFlood(step, step.connectFlood);
    } else if (step.modbus !== undefined) {
      await this.sendModbus(step, step.modbus);
    } else if (step.ward !== undefined) {
      this.stageWardEvent(step.ward, index);
    }
  }

  /** The ADU a Modbus step sends: raw bytes as given, or an MBAP header around the PDU it describes. */
  private modbusAdu(request: ModbusStep, unitId: number): Buffer {
    if (request.raw !== undefined) return Buffer.from(request.raw.replace(/\s+/g, ''), 'hex');
    let pdu: Buffer;
    if (request.pdu !== undefined) pdu = Buffer.from(request.pdu.replace(/\s+/g, ''), 'hex');
    else if (request.read !== undefined) pdu = readRegistersPdu(request.read.function, request.read.address, request.read.quantity);
    else if (request.write !== undefined) pdu = request.write.values.length === 1 ? writeSingleRegisterPdu(request.write.address, request.write.values[0] ?? 0) : writeMultipleRegistersPdu(request.write.address, request.write.values);
    else if (request.command !== undefined) {
      const kind = this.options.deviceKind?.(request.device);
      if (kind === undefined) throw new Error(`no profile known for ${request.device}`);
      pdu = commandPdu(kind, request.command.command, request.command.params);
    } else throw new Error('an empty Modbus step');
    this.modbusTransaction = (this.modbusTransaction + 1) & 0xffff;
    return encodeAdu(this.modbusTransaction, unitId, pdu);
  }

  private async sendModbus(step: ScenarioStep, request: ModbusStep): Promise<void> {
    const name = step.actor ?? '';
    const actor = this.scenario.actors[name];
    if (actor === undefined || actor.kind !== 'modbus-master') throw new Error(`no Modbus master "${name}"`);
    const transport = this.options.modbus;
    if (transport === undefined || transport === null) throw new Error('no Modbus transport: give the gateway (live) or run an evaluation');
    await transport.send({ actor: name, address: actor.address ?? DEFAULT_ACTOR_ADDRESS }, request.device, this.modbusAdu(request, request.unitId ?? actor.unitId));
  }

  private async loginAttempts(step: ScenarioStep, attempts: NonNullable<ScenarioStep['loginAttempts']>): Promise<void> {
    const { name, actor } = this.actor(step);
    const base = actor.clientId ?? `${name}-scenario`;
    const tries: Promise<void>[] = [];
    for (let i = 0; i < attempts.count; i += 1) {
      if (i > 0) await this.wait(attempts.every);
      const clientId = attempts.rotateClientIds ? `${base}-${i}` : base;
      tries.push(this.options.transport.connect(this.request(name, actor, { password: attempts.password, clientId })).then(async (session) => {
        if (session === null) this.refusedLogins += 1;
        else await session.close();
      }));
    }
    await Promise.all(tries);
  }

  private async connectFlood(step: ScenarioStep, flood: NonNullable<ScenarioStep['connectFlood']>): Promise<void> {
    const { name, actor } = this.actor(step);
    const base = actor.clientId ?? `${name}-scenario`;
    const opened: Promise<void>[] = [];
    for (let i = 0; i < flood.count; i += 1) {
      if (i > 0) await this.wait(flood.every);
      opened.push(this.options.transport.connect(this.request(name, actor, { clientId: `${base}-flood-${i}` })).then(async (session) => {
        if (session === null) this.refusedLogins += 1;
        else await session.close();
      }));
    }
    await Promise.all(opened);
  }

  private stageWardEvent(event: NonNullable<ScenarioStep['ward']>, index: number): void {
    const ward = this.options.ward;
    const description = JSON.stringify(event);
    if (ward === null) {
      this.skipped.push(`step ${index + 1} ward ${description}`);
      this.options.log?.(`step ${index + 1}: ward event ${description} needs the evaluation's own simulated ward; skipped on a live run`);
      return;
    }
    if ('silence' in event) ward.silence(event.silence);
    else if ('reboot' in event) ward.reboot(event.reboot, event.downtime);
    else if ('occlusion' in event) ward.occlusion(event.occlusion);
    else if ('reconfigureDelivery' in event) ward.reconfigureDelivery(event.reconfigureDelivery, event.factor);
    else ward.shiftChange(event.shiftChange);
  }
}
