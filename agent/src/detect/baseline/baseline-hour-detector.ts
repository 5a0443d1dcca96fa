import type { FindingSink } from '../../alert/finding.ts';
import type { LocalTimeConverter } from '../../model/local-time.ts';
import type { PipelineEvent } from '../../normalize/events.ts';
import type { Detector } from '../detector.ts';
import { reportDeviation } from './baseline-finding.ts';
import type { BaselineModel, SightingTable } from './baseline-model.ts';
import { learnedFor } from './explain.ts';

export function hourKey(hour: number): string {
  return `h${String(hour).padStart(2, '0')}`;
}

/** Whether the hour or one next to it was seen: 07:55 and 08:05 are the same habit. */
function nearSeen(hours: SightingTable, hour: number): boolean {
  return hours.has(hourKey(hour)) || hours.has(hourKey((hour + 23) % 24)) || hours.has(hourKey((hour + 1) % 24));
}

/** "08–17h" style summary of the hours seen. */
function hoursSeen(hours: SightingTable): string {
  const seen = [...hours.entries.keys()].filter((key) => key.startsWith('h')).map((key) => Number(key.slice(1))).sort((a, b) => a - b);
  return seen.length === 0 ? 'none' : seen.map((hour) => `${String(hour).padStart(2, '0')}h`).join(' ');
}

/**
 * Time of day (issue 5, part 3): a command at a local hour (site.timezone) at which neither
 * this device nor any device of its kind was commanded during learning: the EP clinic's
 * programmers at 03:00. Pumps are programmed around the clock, so for them the kind's hours
 * cover the day and only a device of an office-hours kind alarms. Day-of-week profiles are
 * learned and exported but not judged: a first day of learning cannot know a week (written
 * down in docs/architecture.md).
 */
export class BaselineHourDetector implements Detector {
  readonly id = 'baseline-hour';

  constructor(private readonly model: BaselineModel, private readonly clock: LocalTimeConverter) {}

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'command' || !this.model.judging(event.device.profile.id, event.ts)) return;
    const group = this.model.groups.get(event.device.profile.id);
    if (group === undefined || group.commands < this.model.config.minSamples) return;
    const hour = this.clock.at(event.ts).hour;
    if (nearSeen(group.hours, hour)) return;
    const device = this.model.device(event.device.config.id, event.device.profile.id, event.ts);
    if (this.model.deviceMature(device, event.ts) && nearSeen(device.hours, hour)) return;
    if (this.model.alreadyPending(group, `hour|${hourKey(hour)}`, event.ts)) return;
    const local = `${String(hour).padStart(2, '0')}:00–${String(hour).padStart(2, '0')}:59`;
    reportDeviation(this.model, report, {
      type: 'baseline-unusual-hour',
      event,
      dedupKey: `hour|${hourKey(hour)}`,
      what: `${event.message.command} at ${local} (${this.clock.timeZone}); in ${learnedFor(group.firstSeen, event.ts)} of learning ${event.device.profile.title.toLowerCase()}s were commanded only at ${hoursSeen(group.hours)}`,
      learned: { level: 'group', hour, hoursSeen: hoursSeen(group.hours), timeZone: this.clock.timeZone },
      accept: { device: event.device.config.id, table: 'hour', key: hourKey(hour), level: 'group' },
    });
  }
}
