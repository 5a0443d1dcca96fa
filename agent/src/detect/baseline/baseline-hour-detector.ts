import type { FindingSink } from '../../alert/finding.ts';
import type { LocalTimeConverter } from '../../model/local-time.ts';
import type { PipelineEvent } from '../../normalize/events.ts';
import type { Detector } from '../detector.ts';
import { reportDeviation } from './baseline-finding.ts';
import type { BaselineModel } from './baseline-model.ts';
import { learnedFor } from './explain.ts';
import { hourKey } from './hour-key.ts';
import { describeQuietPeriod, inQuietPeriod, quietPeriod } from './quiet-period.ts';

/**
 * Time of day (issue 5, part 3): a command in the quiet period (quiet-period.ts) of both
 * this device and its kind, in local time (site.timezone): the EP clinic's programmers at
 * 03:00. Pumps are programmed around the clock, so their kind has no quiet period and only
 * a device of an office-hours kind alarms. Day-of-week profiles are
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
    const quiet = quietPeriod(group.hours);
    if (quiet === null || !inQuietPeriod(quiet, hour)) return;
    const device = this.model.device(event.device.config.id, event.device.profile.id, event.ts);
    if (this.model.deviceMature(device, event.ts)) {
      const own = quietPeriod(device.hours);
      if (own === null || !inQuietPeriod(own, hour)) return;
    }
    if (this.model.alreadyPending(group, `hour|${hourKey(hour)}`, event.ts)) {
      // Already on the screen; still not learned, or a second command would teach the hour.
      this.model.flag(event);
      return;
    }
    const local = `${String(hour).padStart(2, '0')}:00–${String(hour).padStart(2, '0')}:59`;
    reportDeviation(this.model, report, {
      type: 'baseline-unusual-hour',
      event,
      dedupKey: `hour|${hourKey(hour)}`,
      what: `${event.message.command} at ${local} (${this.clock.timeZone}); in ${learnedFor(group.firstSeen, event.ts)} of learning ${event.device.profile.title.toLowerCase()}s were never commanded ${describeQuietPeriod(quiet)}`,
      learned: { level: 'group', hour, quietPeriod: describeQuietPeriod(quiet), timeZone: this.clock.timeZone },
      accept: { device: event.device.config.id, table: 'hour', key: hourKey(hour), level: 'group' },
    });
  }
}
