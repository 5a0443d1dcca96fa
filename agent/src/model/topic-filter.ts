/**
 * MQTT topic-filter matching (MQTT 3.1.1 §4.7), walking both strings once without
 * splitting them: the simulators' in-process bus matches every publish against every
 * subscription, and the agent's broad-subscription detector asks which device command
 * topics a client's filter would receive. Part of the model because both sides use it.
 */

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;
const DOLLAR = 0x24;

/** A filter the broker would accept: `+` and `#` occupy a whole level, `#` only the last [MQTT-4.7.1-2, MQTT-4.7.1-3]. */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.length > 65_535) return false;
  for (let i = 0; i < filter.length; i++) {
    const c = filter.charCodeAt(i);
    if (c !== PLUS && c !== HASH) continue;
    const startsLevel = i === 0 || filter.charCodeAt(i - 1) === SLASH;
    const endsLevel = i === filter.length - 1 || filter.charCodeAt(i + 1) === SLASH;
    if (!startsLevel || !endsLevel) return false;
    if (c === HASH && i !== filter.length - 1) return false;
  }
  return true;
}

/** Whether `topic` (no wildcards) matches a valid `filter`. */
export function topicMatchesFilter(filter: string, topic: string): boolean {
  // Wildcards at the first level do not match topics starting with $ [MQTT-4.7.2-1].
  const first = filter.charCodeAt(0);
  if (topic.charCodeAt(0) === DOLLAR && (first === PLUS || first === HASH)) return false;
  const filterLength = filter.length;
  const topicLength = topic.length;
  let f = 0;
  let t = 0;
  while (f < filterLength) {
    const c = filter.charCodeAt(f);
    if (c === HASH) return true;
    if (c === PLUS) {
      // One whole level, possibly empty.
      while (t < topicLength && topic.charCodeAt(t) !== SLASH) t++;
      f++;
      continue;
    }
    if (t >= topicLength) {
      // `sport/#` also matches `sport`, the parent level [MQTT-4.7.1-2].
      return f === filterLength - 2 && c === SLASH && filter.charCodeAt(f + 1) === HASH;
    }
    if (topic.charCodeAt(t) !== c) return false;
    f++;
    t++;
  }
  return t === topicLength;
}
