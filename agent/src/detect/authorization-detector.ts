import type { FindingSink } from '../alert/finding.ts';
import { sentBy } from '../alert/format.ts';
import { deviceLabel } from '../normalize/inventory.ts';
import { senderHidden, type DeviceCommandEvent, type EventSource, type InventoryDevice, type PipelineEvent } from '../normalize/events.ts';
import type { CommandPolicy } from './command-policy.ts';
import type { AccountRole } from '../model/site-schema.ts';
import type { Detector } from './detector.ts';

function sourceEvidence(source: EventSource): Record<string, unknown> {
  return { account: source.account, role: source.role, clientId: source.clientId, address: source.address, transport: source.transport };
}

export function commandEvidence(event: DeviceCommandEvent): Record<string, unknown> {
  return { command: event.message, ...sourceEvidence(event.source), retained: event.retained };
}

/**
 * Who may command what: the command policy (default deny), the issuer written in the
 * payload against the account that actually authenticated, and device channels
 * (telemetry, status, ack) published by an account that is not the device's own.
 */
export class AuthorizationDetector implements Detector {
  readonly id = 'authorization';

  constructor(
    private readonly policy: CommandPolicy,
    private readonly roleOf: (account: string) => AccountRole | null = () => null,
  ) {}

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind === 'command') {
      this.inspectCommand(event, report);
    } else if (event.kind === 'anomaly' && event.device !== null && event.source !== null && event.topic.endsWith('/command')) {
      this.inspectUnreadableCommand(event.ts, event.device, event.source, event.name, report);
    } else if ((event.kind === 'telemetry' || event.kind === 'status' || event.kind === 'ack') && event.source !== null) {
      this.inspectDeviceChannel(event.kind, event.ts, event.device, event.source, report);
    }
  }

  private inspectCommand(event: DeviceCommandEvent, report: FindingSink): void {
    const { source, device, message } = event;
    const label = deviceLabel(device);
    if (senderHidden(source)) {
      this.inspectTappedCommand(event, report);
      return;
    }
    const rule = this.policy.allowingRule(source.account, source.role, device, message.command, source.transport === 'modbus' ? source.address : null);
    if (rule === null) {
      report({
        type: 'unauthorized-command',
        ts: event.ts,
        device,
        dedupKey: `${device.config.id}|${source.account ?? source.address}|${message.command}`,
        title: `${label}: ${message.command} from ${source.account ?? (source.transport === 'modbus' ? `Modbus master ${source.address}` : `an anonymous client at ${source.address}`)}, which may not command this device`,
        evidence: { ...commandEvidence(event), policy: 'no rule allows this account, device and command (default deny)' },
      });
    }
    if (source.account !== null && message.issuer !== source.account) {
      report({
        type: 'issuer-mismatch',
        ts: event.ts,
        device,
        // Not the claimed issuer: free text would let one sender mint a new alert per message.
        dedupKey: `${device.config.id}|${source.account}`,
        title: `${label}: command claims to come from ${message.issuer.slice(0, 64)} but was sent by ${source.account}`,
        evidence: { ...commandEvidence(event), claimedIssuer: message.issuer },
      });
    }
  }

  /**
   * Through a tap only the payload's claimed issuer is visible: a command whose claimed
   * issuer may not send it is unauthorized whoever sent it; one that claims an allowed
   * issuer cannot be confirmed, and the alert titles say so.
   */
  private inspectTappedCommand(event: DeviceCommandEvent, report: FindingSink): void {
    const { device, message } = event;
    if (this.policy.allowingRule(message.issuer, this.roleOf(message.issuer), device, message.command) !== null) return;
    report({
      type: 'unauthorized-command',
      ts: event.ts,
      device,
      dedupKey: `${device.config.id}|hidden-sender|${message.command}`,
      title: `${deviceLabel(device)}: ${message.command} claiming issuer ${message.issuer.slice(0, 64)}, which may not command this device${sentBy(event.source)}`,
      evidence: { ...commandEvidence(event), policy: 'no rule allows the claimed issuer for this device and command (default deny)' },
    });
  }

  /**
   * A payload on a device's command topic that could not be read as a command is still a
   * command attempt: from an account that may send this device nothing at all, it is
   * unauthorized whatever its shape (a partial command must not slip past the policy).
   */
  private inspectUnreadableCommand(ts: number, device: InventoryDevice, source: EventSource, anomaly: string, report: FindingSink): void {
    if (senderHidden(source)) return;
    const address = source.transport === 'modbus' ? source.address : null;
    const mayCommand = Object.keys(device.profile.commands).some((command) => this.policy.allowingRule(source.account, source.role, device, command, address) !== null);
    if (mayCommand) return;
    report({
      type: 'unauthorized-command',
      ts,
      device,
      dedupKey: `${device.config.id}|${source.account ?? source.address}|unreadable`,
      title: `${deviceLabel(device)}: a command (unreadable: ${anomaly}) from ${source.account ?? `an anonymous client at ${source.address}`}, which may not command this device`,
      evidence: { anomaly, account: source.account, role: source.role, clientId: source.clientId, address: source.address, transport: source.transport, policy: 'no rule allows this account any command on this device (default deny)' },
    });
  }

  private inspectDeviceChannel(channel: string, ts: number, device: InventoryDevice, source: EventSource, report: FindingSink): void {
    // Through a tap the publisher is not visible, so impersonation cannot be told from the device itself.
    if (senderHidden(source) || source.account === device.config.account) return;
    report({
      type: 'device-impersonation',
      ts,
      device,
      dedupKey: `${device.config.id}|${source.account ?? source.address}|${channel}`,
      title: `${deviceLabel(device)}: ${channel} for this device published by ${source.account ?? `an anonymous client at ${source.address}`}, not by the device`,
      evidence: { channel, expectedAccount: device.config.account, ...sourceEvidence(source) },
    });
  }
}
