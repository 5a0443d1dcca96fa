/**
 * Passive capture (DESIGN.md, "Ways to see traffic" item 4): pcap/pcapng records →
 * link layer → IPv4/IPv6 (fragments reassembled) → TCP → per-direction byte streams. `CaptureDecoder` takes
 * chunks as they come (a file, or a live `tcpdump -U -w -` pipe); `readCapture` runs a
 * whole buffer through it for tests and tools.
 */
import { IpDefragmenter, type FragmentEndpoints, type IpDefragAnomalyName, type IpDefragOptions } from './ip-defrag.ts';
import { decodeIpTcp, type IpTcpAnomalyName, type IpTcpResult, type TcpSegment } from './ip-tcp.ts';
import { decodeLinkLayer, type LinkAnomalyName } from './link-layer.ts';
import { CaptureReader, type CaptureAnomalyName, type CaptureRecord } from './pcap-reader.ts';
import { TcpStreamAssembler, type FlowEndReason, type TcpFlow, type TcpStreamAnomalyName, type TcpStreamOptions } from './tcp-streams.ts';

export { CaptureReader, DEFAULT_MAX_RECORD_BYTES } from './pcap-reader.ts';
export type { CaptureAnomalyName, CaptureFormat, CaptureReaderOptions, CaptureReaderSink, CaptureRecord } from './pcap-reader.ts';
export { LINKTYPE, decodeLinkLayer } from './link-layer.ts';
export type { LinkAnomalyName, LinkLayerResult } from './link-layer.ts';
export { TCP_FLAGS, decodeIpTcp, ipv6Text } from './ip-tcp.ts';
export type { IpTcpAnomalyName, IpTcpResult, TcpSegment } from './ip-tcp.ts';
export { IpDefragmenter } from './ip-defrag.ts';
export type { FragmentEndpoints, IpDefragAnomalyName, IpDefragOptions, IpFragment } from './ip-defrag.ts';
export {
  DEFAULT_MAX_BUFFERED_BYTES_PER_FLOW,
  DEFAULT_MAX_FLOWS,
  DEFAULT_MAX_OUT_OF_ORDER_SEGMENTS,
  DEFAULT_SERVER_PORTS,
  TcpStreamAssembler,
} from './tcp-streams.ts';
export type { Endpoint, FlowEndReason, StreamDirection, TcpFlow, TcpStreamAnomalyName, TcpStreamOptions, TcpStreamSink } from './tcp-streams.ts';

export type CaptureDecodeAnomalyName = CaptureAnomalyName | LinkAnomalyName | IpTcpAnomalyName | IpDefragAnomalyName | TcpStreamAnomalyName;

export interface CaptureHandlers {
  /** Every record, before decoding. */
  onRecord?(record: CaptureRecord): void;
  /** Every TCP segment, in capture order. */
  onSegment?(segment: TcpSegment, record: CaptureRecord): void;
  /** Reassembled payload of one direction of one flow. */
  onData?(flow: TcpFlow, payload: Buffer, tsMicros: number): void;
  onEnd?(flow: TcpFlow, reason: FlowEndReason): void;
  /** Every anomaly of every layer; `flow` is set for stream anomalies, `endpoints` for IP fragment anomalies (the datagram's addresses). */
  onAnomaly?(name: CaptureDecodeAnomalyName, detail: string, flow: TcpFlow | null, endpoints?: FragmentEndpoints): void;
}

export interface CaptureDecoderOptions extends TcpStreamOptions {
  readonly maxRecordBytes?: number;
  readonly defrag?: IpDefragOptions;
}

export interface CaptureSummary {
  records: number;
  /** Records per link type. */
  linkTypes: Record<number, number>;
  /** Frames that carry something other than IP (ARP, LLDP, …). */
  nonIp: number;
  /** IP packets that carry something other than TCP, per IP protocol number. */
  nonTcp: Record<number, number>;
  tcpSegments: number;
  /** IP fragments taken, and the datagrams they were put back into. */
  ipFragments: number;
  ipReassembled: number;
  /** Payload bytes delivered in order. */
  streamBytes: number;
  anomalies: Partial<Record<CaptureDecodeAnomalyName, number>>;
}

/** The whole chain for one capture; every anomaly is counted in `summary`. */
export class CaptureDecoder {
  readonly summary: CaptureSummary = { records: 0, linkTypes: {}, nonIp: 0, nonTcp: {}, tcpSegments: 0, ipFragments: 0, ipReassembled: 0, streamBytes: 0, anomalies: {} };
  private readonly reader: CaptureReader;
  private readonly defrag: IpDefragmenter;
  private readonly streams: TcpStreamAssembler;
  private lastTsMicros = 0;

  constructor(
    private readonly handlers: CaptureHandlers = {},
    options: CaptureDecoderOptions = {},
  ) {
    this.reader = new CaptureReader(
      { record: (record) => this.record(record), anomaly: (name, detail) => this.anomaly(name, detail, null) },
      options.maxRecordBytes === undefined ? {} : { maxRecordBytes: options.maxRecordBytes },
    );
    this.defrag = new IpDefragmenter((name, detail, endpoints) => this.anomaly(name, `record ${this.summary.records}: ${detail}`, null, { source: endpoints.source, destination: endpoints.destination }), options.defrag);
    this.streams = new TcpStreamAssembler(
      {
        onData: (flow, payload, tsMicros) => {
          this.summary.streamBytes += payload.length;
          this.handlers.onData?.(flow, payload, tsMicros);
        },
        onAnomaly: (name, detail, flow) => this.anomaly(name, detail, flow),
        onEnd: (flow, reason) => this.handlers.onEnd?.(flow, reason),
      },
      options,
    );
  }

  push(chunk: Buffer): void {
    this.reader.push(chunk);
  }

  /** The input is complete: report a truncated tail, deliver held data, end all flows. */
  end(): CaptureSummary {
    this.reader.end();
    this.defrag.flush();
    this.streams.flush(this.lastTsMicros);
    return this.summary;
  }

  private anomaly(name: CaptureDecodeAnomalyName, detail: string, flow: TcpFlow | null, endpoints?: FragmentEndpoints): void {
    this.summary.anomalies[name] = (this.summary.anomalies[name] ?? 0) + 1;
    this.handlers.onAnomaly?.(name, detail, flow, endpoints);
  }

  private record(record: CaptureRecord): void {
    const summary = this.summary;
    summary.records += 1;
    summary.linkTypes[record.linkType] = (summary.linkTypes[record.linkType] ?? 0) + 1;
    this.lastTsMicros = record.tsMicros;
    this.handlers.onRecord?.(record);
    const link = decodeLinkLayer(record.linkType, record.data);
    if (link.kind === 'anomaly') return this.anomaly(link.name, `record ${summary.records}: ${link.detail}`, null);
    if (link.kind === 'not-ip') {
      summary.nonIp += 1;
      return;
    }
    const ip = this.whole(decodeIpTcp(link.packet), record.tsMicros);
    if (ip === null) return;
    if (ip.kind === 'anomaly') return this.anomaly(ip.name, `record ${summary.records}: ${ip.detail}`, null);
    if (ip.kind === 'not-tcp') {
      summary.nonTcp[ip.protocol] = (summary.nonTcp[ip.protocol] ?? 0) + 1;
      return;
    }
    summary.tcpSegments += 1;
    this.handlers.onSegment?.(ip.segment, record);
    this.streams.push(ip.segment, record.tsMicros);
  }

  /** A fragment goes to the defragmenter: null until it completes a datagram, then that datagram decoded. */
  private whole(ip: IpTcpResult, tsMicros: number): Exclude<IpTcpResult, { kind: 'fragment' }> | null {
    if (ip.kind !== 'fragment') return ip;
    this.summary.ipFragments += 1;
    const result = this.defrag.push(ip.fragment, tsMicros);
    if (result.kind !== 'complete') return null;
    this.summary.ipReassembled += 1;
    const reassembled = decodeIpTcp(result.packet);
    if (reassembled.kind !== 'fragment') return reassembled;
    this.anomaly('ip-fragment-nested', `record ${this.summary.records}: a reassembled IPv${reassembled.fragment.ipVersion} datagram is itself a fragment`, null, reassembled.fragment);
    return null;
  }
}

/** Decodes a complete capture held in memory. */
export function readCapture(capture: Buffer, handlers: CaptureHandlers = {}, options: CaptureDecoderOptions = {}): CaptureSummary {
  const decoder = new CaptureDecoder(handlers, options);
  decoder.push(capture);
  return decoder.end();
}
