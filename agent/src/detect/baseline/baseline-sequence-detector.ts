import type { FindingSink } from '../../alert/finding.ts';
import type { PipelineEvent } from '../../normalize/events.ts';
import type { Detector } from '../detector.ts';
import { reportDeviation } from './baseline-finding.ts';
import { PUSH_COMMANDS } from './baseline-learner.ts';
import type { BaselineModel, GroupBaseline } from './baseline-model.ts';
import { previousCommand } from './command-sequence.ts';
import { learnedFor } from './explain.ts';

/**
 * Command sequences (issue 5, part 3): a command following one it never followed on the
 * ward's devices of this kind during learning. `stop>bolus` is a bolus with no running
 * infusion; `end_session>program` programs an implant without a session. Judged across the
 * kind, not per device: one pump sees too few transitions in a day to know them all.
 * Library and software pushes are not steps of care and stay out of the sequences.
 */
export class BaselineSequenceDetector implements Detector {
  readonly id = 'baseline-sequence';

  constructor(private readonly model: BaselineModel) {}

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'command' || PUSH_COMMANDS.has(event.message.command) || !this.model.judging(event.device.profile.id, event.ts)) return;
    const group = this.model.groups.get(event.device.profile.id);
    if (group === undefined || group.commands < this.model.config.minSamples) return;
    const device = this.model.device(event.device.config.id, event.device.profile.id, event.ts);
    const previous = previousCommand(device, event.ts);
    const transition = `${previous}>${event.message.command}`;
    if (group.transitions.has(transition) || !this.commandKnown(group, event.message.command)) return;
    if (this.model.alreadyPending(group, `transition|${transition}`, event.ts)) return this.model.flag(event);
    const after = previous === '-' ? 'as the first command in 12 hours' : `right after ${previous}`;
    const followers = [...group.transitions.entries.keys()].filter((key) => key.startsWith(`${previous}>`)).map((key) => key.slice(previous.length + 1));
    reportDeviation(this.model, report, {
      type: 'baseline-unusual-sequence',
      event,
      dedupKey: `transition|${transition}`,
      what: `${event.message.command} ${after}, never seen in ${learnedFor(group.firstSeen, event.ts)} of learning (after ${previous}: ${followers.length === 0 ? 'nothing' : followers.join(', ')})`,
      learned: { level: 'group', transition, knownAfter: followers },
      accept: { device: event.device.config.id, table: 'transition', key: transition, level: 'group' },
    });
  }

  /**
   * Whether the command itself was seen minSamples times in learning: a command the ward
   * barely used (a discharge's `stop` on a first day with no discharge) says nothing yet
   * about what may precede it.
   */
  private commandKnown(group: GroupBaseline, command: string): boolean {
    let seen = 0;
    const suffix = `>${command}`;
    for (const [key, sighting] of group.transitions.entries) if (key.endsWith(suffix)) seen += sighting.count;
    return seen >= this.model.config.minSamples;
  }
}
