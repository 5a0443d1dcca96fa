import { randomUUID } from 'node:crypto';
import { connectAsync } from 'mqtt';
import { topicFor, type CommandMessage, type ParamValue } from '../../agent/src/model/wire.ts';

export interface OneShotCommand {
  readonly brokerUrl: string;
  readonly username: string;
  readonly password: string;
  readonly deviceId: string;
  readonly command: string;
  readonly params: Readonly<Record<string, ParamValue>>;
  /** Defaults to the username: an honest station writes its own account as issuer. */
  readonly issuer?: string;
  readonly user?: string;
}

/** `rate_ml_h=320` → ["rate_ml_h", 320]; numbers and true/false are typed, the rest stays text. */
export function parseParamAssignment(assignment: string): [string, ParamValue] {
  const equals = assignment.indexOf('=');
  if (equals <= 0) throw new Error(`"${assignment}" is not name=value`);
  const name = assignment.slice(0, equals);
  const raw = assignment.slice(equals + 1);
  if (raw === 'true' || raw === 'false') return [name, raw === 'true'];
  const number = Number(raw);
  return [name, raw.trim().length > 0 && Number.isFinite(number) ? number : raw];
}

export function buildCommandMessage(command: OneShotCommand): CommandMessage {
  return {
    id: randomUUID(),
    ts: new Date().toISOString(),
    issuer: command.issuer ?? command.username,
    user: command.user ?? 'tester',
    command: command.command,
    params: command.params,
  };
}

/** Sends one command the way a station would, and waits until the broker has it (QoS 1). */
export async function sendOneShotCommand(command: OneShotCommand): Promise<CommandMessage> {
  const client = await connectAsync(command.brokerUrl, {
    username: command.username,
    password: command.password,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  });
  try {
    const message = buildCommandMessage(command);
    await client.publishAsync(topicFor(command.deviceId, 'command'), JSON.stringify(message), { qos: 1 });
    return message;
  } finally {
    await client.endAsync();
  }
}
