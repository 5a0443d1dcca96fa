import type { FindingSink } from '../alert/finding.ts';
import { isValidTopicFilter, topicMatchesFilter } from '../model/topic-filter.ts';
import { topicFor } from '../model/wire.ts';
import type { InventoryDevice, PipelineEvent, SubscribeEvent } from '../normalize/events.ts';
import { deviceLabel, type Inventory } from '../normalize/inventory.ts';
import { boundedKey, shortName } from './bounded-key.ts';
import type { Detector } from './detector.ts';

/** Filters and device ids listed in the evidence of one alert; the title names the first. */
const MAX_EVIDENCE_FILTERS = 20;
const MAX_EVIDENCE_DEVICES = 50;

interface BroadFilter {
  readonly filter: string;
  /** What the filter receives, in words. */
  readonly scope: string;
  readonly commandsOf: readonly string[];
}

/**
 * Wildcard snooping (DESIGN.md, attacks to model: "MQTT wildcard snooping"): a non-admin
 * account subscribing to every topic (`#`, `+/#`), to the broker's `$SYS` topics, or to a
 * filter that receives the commands of a device other than its own (`ward/#`,
 * `ward/+/command`, `+/+/command`). Commands carry drug, rate, patient weight and implant
 * serial; only the device they are for needs them. A device subscribing to its own command
 * topic, and a station to `ward/+/telemetry` or one device's ack, are normal.
 * Stateless: each subscription is judged on its own against the inventory.
 */
export class BroadSubscriptionDetector implements Detector {
  readonly id = 'broad-subscription';
  private readonly commandTopics: readonly { readonly deviceId: string; readonly topic: string }[];

  constructor(private readonly inventory: Inventory) {
    this.commandTopics = [...inventory.all()].map((device) => ({ deviceId: device.config.id, topic: topicFor(device.config.id, 'command') }));
  }

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'subscribe') return;
    const { source } = event;
    // Broker administrators may watch everything (site policy: role admin).
    if (source.role === 'admin') return;
    const own = source.account === null ? undefined : this.inventory.deviceForAccount(source.account);
    const broad: BroadFilter[] = [];
    for (const filter of event.topicFilters) {
      if (typeof filter !== 'string') continue;
      const judged = this.judge(filter, own?.config.id ?? null);
      if (judged !== null) broad.push(judged);
    }
    const first = broad[0];
    if (first === undefined) return;
    this.report(event, own ?? null, first, broad, report);
  }

  private judge(filter: string, ownDeviceId: string | null): BroadFilter | null {
    if (filter.startsWith('$SYS')) {
      return { filter, scope: "the broker's own $SYS topics (who is connected, load, version)", commandsOf: [] };
    }
    // A filter the broker refuses receives nothing [MQTT-4.7.1-2, MQTT-4.7.1-3].
    if (!isValidTopicFilter(filter)) return null;
    const commandsOf: string[] = [];
    for (const { deviceId, topic } of this.commandTopics) {
      if (deviceId !== ownDeviceId && topicMatchesFilter(filter, topic)) commandsOf.push(deviceId);
    }
    if (filter === '#' || filter === '+/#') return { filter, scope: 'every message on the broker, device commands included', commandsOf };
    if (commandsOf.length === 0) return null;
    const whose = commandsOf.length === 1
      ? (commandsOf[0] ?? '')
      : `${commandsOf.length} ${ownDeviceId === null ? '' : 'other '}devices`;
    return { filter, scope: `the commands sent to ${whose}`, commandsOf };
  }

  private report(event: SubscribeEvent, own: InventoryDevice | null, first: BroadFilter, broad: readonly BroadFilter[], report: FindingSink): void {
    const { source } = event;
    const subscriber = source.account ?? `anonymous@${source.address}`;
    const who = own !== null
      ? `${deviceLabel(own)}: this device's account subscribed`
      : `Wildcard subscription: ${source.account === null ? `an anonymous client at ${source.address}` : shortName(source.account)} subscribed`;
    const more = broad.length > 1 ? ` (and ${broad.length - 1} more broad filter${broad.length > 2 ? 's' : ''})` : '';
    report({
      type: 'broad-subscription',
      ts: event.ts,
      device: own,
      dedupKey: boundedKey(subscriber),
      title: `${who} to "${shortName(first.filter)}", which receives ${first.scope}${more}`,
      evidence: {
        account: source.account,
        role: source.role,
        clientId: shortName(source.clientId, 256),
        address: source.address,
        filters: broad.slice(0, MAX_EVIDENCE_FILTERS).map((b) => ({ filter: shortName(b.filter, 256), receives: b.scope, commandsOf: b.commandsOf.slice(0, MAX_EVIDENCE_DEVICES) })),
        broadFilters: broad.length,
        filtersInSubscription: event.topicFilters.length,
      },
    });
  }
}
