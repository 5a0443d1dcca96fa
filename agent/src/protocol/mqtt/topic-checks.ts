import { isUtf8 } from 'node:buffer';
import type { MqttProtocolVersion } from './fixed-header.ts';

/**
 * Topic rules mqtt-packet does not check (it decodes any bytes, replacing bad UTF-8):
 * a topic name or filter is well-formed UTF-8 without U+0000 (3.1.1 §1.5.3, [MQTT-1.5.3-1],
 * [MQTT-1.5.3-2]) and at least one character long ([MQTT-4.7.3-1]); a topic name has no
 * wildcard ([MQTT-3.3.2-2]). 5.0 allows an empty topic name when a Topic Alias stands for
 * it (5.0 §3.3.2.3.4). A packet that breaks them is one a broker must refuse, and, in a
 * capture, usually a sign that the bytes are not MQTT at all.
 */

/** Why a PUBLISH topic name, as its raw bytes, is invalid; null when it is valid. */
export function topicNameProblem(raw: Buffer, version: MqttProtocolVersion, hasTopicAlias: boolean): string | null {
  if (raw.length === 0) return version === 5 && hasTopicAlias ? null : 'an empty topic name [MQTT-4.7.3-1]';
  if (!isUtf8(raw)) return 'a topic name that is not well-formed UTF-8 [MQTT-1.5.3-1]';
  for (const byte of raw) {
    if (byte === 0) return 'a topic name containing U+0000 [MQTT-1.5.3-2]';
    if (byte === 0x23 || byte === 0x2b) return `a wildcard "${String.fromCharCode(byte)}" in a topic name [MQTT-3.3.2-2]`;
  }
  return null;
}

/** Why a SUBSCRIBE / UNSUBSCRIBE topic filter is invalid; null when it is valid. */
export function topicFilterProblem(filter: string): string | null {
  if (filter.length === 0) return 'an empty topic filter [MQTT-4.7.3-1]';
  if (filter.includes('\u0000')) return 'a topic filter containing U+0000 [MQTT-1.5.3-2]';
  // [MQTT-4.7.1-2], [MQTT-4.7.1-3]: "#" only as the whole last level, "+" only as a whole level.
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i += 1) {
    const level = levels[i] as string;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return `a misplaced "#" in the topic filter "${filter.slice(0, 64)}" [MQTT-4.7.1-2]`;
    if (level.includes('+') && level !== '+') return `a misplaced "+" in the topic filter "${filter.slice(0, 64)}" [MQTT-4.7.1-3]`;
  }
  return null;
}
