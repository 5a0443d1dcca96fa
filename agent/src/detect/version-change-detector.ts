import type { FindingSink } from '../alert/finding.ts';
import type { AccountRole } from '../model/site-schema.ts';
import type { PipelineEvent } from '../normalize/events.ts';
import { deviceLabel } from '../normalize/inventory.ts';
import { ownWord, PUSH_COMMANDS, VERSION_FIELDS } from './baseline/baseline-learner.ts';
import type { CommandPolicy } from './command-policy.ts';
import type { Detector } from './detector.ts';

interface Push {
  readonly version: string;
  readonly ts: number;
  readonly allowedBy: string | null;
  readonly sender: string;
}

/** A push is followed by the new version in telemetry within this long (the device installs, reboots, reports). */
const PUSH_WINDOW_MS = 60 * 60_000;

/**
 * A drug library or software version that appears in a device's own telemetry with no
 * push the policy allows before it (issue 5, part 3): a library loaded by another path
 * (USB, a vendor tool, a compromised server the agent cannot see). The first version a
 * device reports is what it runs; only a change is judged. State: one version per field
 * and the last push per device of the inventory.
 */
export class VersionChangeDetector implements Detector {
  readonly id = 'version-change';
  /** Device id → field → the version last reported (no string built per telemetry message). */
  private readonly versions = new Map<string, Map<string, string>>();
  private readonly pushes = new Map<string, Push>();

  constructor(private readonly policy: CommandPolicy, private readonly roleOf: (account: string) => AccountRole | null) {}

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind === 'command' && PUSH_COMMANDS.has(event.message.command)) {
      const version = event.message.params.version;
      if (typeof version !== 'string') return;
      const source = event.source;
      const role = source.account === null ? null : this.roleOf(source.account);
      const allowedBy = this.policy.allowingRule(source.account, role, event.device, event.message.command, source.transport === 'modbus' ? source.address : null);
      this.pushes.set(event.device.config.id, { version, ts: event.ts, allowedBy, sender: source.account ?? source.address });
      return;
    }
    if (event.kind !== 'telemetry' || !ownWord(event)) return;
    let known = this.versions.get(event.device.config.id);
    for (const field of VERSION_FIELDS) {
      const version = event.fields[field];
      if (typeof version !== 'string' || version.length === 0) continue;
      known ??= new Map<string, string>();
      if (known.size === 0) this.versions.set(event.device.config.id, known);
      const before = known.get(field);
      if (before === version) continue;
      known.set(field, version);
      if (before === undefined) continue;
      const key = `${event.device.config.id}|${field}`;
      const push = this.pushes.get(event.device.config.id);
      const sanctioned = push !== undefined && push.version === version && push.allowedBy !== null && event.ts - push.ts <= PUSH_WINDOW_MS;
      if (sanctioned) continue;
      const what = field === 'firmware' ? 'software' : 'drug library';
      const pushText = push === undefined || push.version !== version ? 'no push of it was seen' : `the only push came from ${push.sender}, whom the policy does not allow`;
      report({
        type: 'baseline-version-change',
        ts: event.ts,
        device: event.device,
        dedupKey: `${key}|${version}`,
        title: `${deviceLabel(event.device)}: ${what} changed from ${before} to ${version}, but ${pushText}`,
        evidence: { telemetry: event.fields, version: { field, before, after: version, push: push ?? null } },
      });
    }
  }
}
