import type { FindingSink } from '../../alert/finding.ts';
import type { DeviceCommandEvent, PipelineEvent } from '../../normalize/events.ts';
import type { Detector } from '../detector.ts';
import { reportDeviation } from './baseline-finding.ts';
import { PUSH_COMMANDS } from './baseline-learner.ts';
import type { BaselineModel } from './baseline-model.ts';
import { commanderOf, describeCommander, originKey } from './commander.ts';
import { learnedFor } from './explain.ts';

/** How many known commanders an alert lists. */
const LISTED = 5;

function listCommanders(keys: Iterable<string>): string {
  const names = [...keys].slice(0, LISTED + 1).map(describeCommander);
  if (names.length === 0) return 'nobody';
  return names.length > LISTED ? `${names.slice(0, LISTED).join(', ')}…` : names.join(', ');
}

/**
 * Who commands what (issue 5, part 3; Zeek `known-masters-slaves.zeek`): a commander that
 * never commanded this device during learning. A device with little history of its own
 * (a spare just brought to a bed) is judged against its kind across the ward, so a swap
 * does not alarm while a station that never touches a pump still does. Library and
 * software pushes are judged against who pushed them during learning: a new pusher is
 * the Hospira PCA3 case (CVE-2014-5406), high even when the policy's role allows it.
 */
export class BaselineCommanderDetector implements Detector {
  readonly id = 'baseline-commander';

  constructor(private readonly model: BaselineModel) {}

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'command' || !this.model.judging(event.device.profile.id, event.ts)) return;
    const group = this.model.groups.get(event.device.profile.id);
    if (group === undefined) return;
    const command = event.message.command;
    const commander = commanderOf(event.source);
    const device = this.model.device(event.device.config.id, event.device.profile.id, event.ts);
    const who = describeCommander(commander);
    if (PUSH_COMMANDS.has(command)) {
      const pusherKey = `${command}@${commander}`;
      if (group.pushers.has(pusherKey)) return;
      if (this.model.alreadyPending(group, `pusher|${pusherKey}`, event.ts)) return this.model.flag(event);
      const known = [...group.pushers.entries.keys()].filter((key) => key.startsWith(`${command}@`)).map((key) => key.slice(command.length + 1));
      reportDeviation(this.model, report, {
        type: 'baseline-unknown-pusher',
        event,
        dedupKey: `pusher|${pusherKey}`,
        what: `${command} from ${who}, which never sent one to a ${event.device.profile.title.toLowerCase()} in ${learnedFor(group.firstSeen, event.ts)} of learning (known: ${listCommanders(known)})`,
        learned: { level: 'group', commander, knownPushers: known },
        accept: { device: event.device.config.id, table: 'pusher', key: pusherKey, level: 'group' },
      });
      return;
    }
    const ownHistory = this.model.deviceMature(device, event.ts) && device.commands >= this.model.config.minSamples;
    const known = ownHistory ? device.commanders : group.commanders;
    if (known.has(commander)) {
      this.judgeOrigin(event, commander, report);
      return;
    }
    if (!ownHistory && group.commands < this.model.config.minSamples) return;
    // Already on the screen: not alerted again, and still not learned (flagged).
    if (this.model.alreadyPending(ownHistory ? device : group, `commander|${commander}`, event.ts)) return this.model.flag(event);
    const whose = ownHistory ? 'this device' : `any ${event.device.profile.title.toLowerCase()}`;
    reportDeviation(this.model, report, {
      type: 'baseline-new-commander',
      event,
      dedupKey: `commander|${commander}`,
      what: `${command} from ${who}, which never commanded ${whose} in ${learnedFor(ownHistory ? device.firstSeen : group.firstSeen, event.ts)} of learning (known: ${listCommanders(known.entries.keys())})`,
      learned: { level: ownHistory ? 'device' : 'group', commander, knownCommanders: [...known.entries.keys()] },
      accept: { device: event.device.config.id, table: 'commander', key: commander, level: ownHistory ? 'device' : 'group' },
    });
  }

  /**
   * A known MQTT account from an address it never commanded from during learning: its
   * credentials in use somewhere else (a laptop on the VLAN). Modbus masters are their
   * address, so only MQTT is judged; a tap does not see addresses.
   */
  private judgeOrigin(event: DeviceCommandEvent, commander: string, report: FindingSink): void {
    if (event.source.transport !== 'mqtt') return;
    const group = this.model.groups.get(event.device.profile.id);
    if (group === undefined) return;
    const origin = originKey(commander, event.source.address);
    if (group.origins.has(origin)) return;
    const prefix = `${commander}@`;
    const addresses = [...group.origins.entries.keys()].filter((key) => key.startsWith(prefix)).map((key) => key.slice(prefix.length));
    // A commander learned only through imports or before addresses were kept has no addresses to compare with.
    if (addresses.length === 0) return;
    if (this.model.alreadyPending(group, `origin|${origin}`, event.ts)) return this.model.flag(event);
    reportDeviation(this.model, report, {
      type: 'baseline-new-commander',
      event,
      dedupKey: `origin|${origin}`,
      what: `${event.message.command} from ${describeCommander(commander)} at ${event.source.address}, an address it never commanded from in ${learnedFor(group.firstSeen, event.ts)} of learning (known: ${addresses.slice(0, LISTED).join(', ')})`,
      learned: { level: 'group', commander, address: event.source.address, knownAddresses: addresses },
      accept: { device: event.device.config.id, table: 'origin', key: origin, level: 'group' },
    });
  }
}
