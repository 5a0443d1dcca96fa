import { describe, expect, it } from 'vitest';
import { baselineText } from '../../dashboard/src/baseline-text.ts';

describe('the baseline line under the device list', () => {
  it('says in plain words whether learned alerts are on', () => {
    const base = { learningHours: 24, devicesLearned: 8, evictions: 0 };
    expect(baselineText({ ...base, mode: 'monitor', judging: false, hoursLearned: 5.4 })).toBe('Learned baseline: learning, 5 h of 24 h done; no learned alerts yet');
    expect(baselineText({ ...base, mode: 'monitor', judging: true, hoursLearned: 150 })).toBe('Learned baseline: watching, learned over 6 days on 8 devices');
    expect(baselineText({ ...base, mode: 'learn', judging: false, hoursLearned: 30 })).toBe('Learned baseline: learning only, 30 h so far; no learned alerts');
    expect(baselineText({ ...base, mode: 'off', judging: false, hoursLearned: 0 })).toBe('Learned baseline: off');
  });
});
