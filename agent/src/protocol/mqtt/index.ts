/**
 * MQTT in captures (DESIGN.md, "Ways to see traffic" item 4): reassembled TCP streams →
 * MQTT 3.1 / 3.1.1 / 5.0 packets (mqtt-packet, framed and checked here) → the same
 * Observations the in-path broker reports.
 */
export {
  HEADER_INVALID_LENGTH,
  HEADER_NEED_MORE,
  HEADER_OK,
  MAX_REMAINING_LENGTH,
  PACKET_TYPE,
  connectProtocolLevel,
  emptyFixedHeader,
  headerProblem,
  packetTypeName,
  propertyLengthProblem,
  readFixedHeader,
} from './fixed-header.ts';
export type { FixedHeader, HeaderProblem, HeaderProblemName, MqttProtocolVersion } from './fixed-header.ts';
export { DEFAULT_MAX_PACKET_BYTES, MAX_TOPIC_ALIASES, MqttStreamDecoder } from './mqtt-stream-decoder.ts';
export type { MqttDecoderAnomalyName, MqttStreamDecoderOptions, MqttStreamDirection, MqttStreamSink, MqttVersionSource } from './mqtt-stream-decoder.ts';
export { CONNACK_ACCEPTED, connackCodeProblem, connackRefusalReason } from './connack-codes.ts';
export {
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_HELD_PACKETS,
  DEFAULT_MQTT_MAX_FLOWS,
  MqttFlowTracker,
  UNKNOWN_CLIENT_ID,
} from './mqtt-flow-tracker.ts';
export type { MqttAnomalyName, MqttFlowAnomaly, MqttFlowTrackerOptions, MqttTrackerAnomalyName, MqttTrackerStats } from './mqtt-flow-tracker.ts';
export type { Packet as MqttPacket } from 'mqtt-packet';
export { topicFilterProblem, topicNameProblem } from './topic-checks.ts';
