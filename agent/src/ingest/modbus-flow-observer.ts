import type { AlertType } from '../alert/catalogue.ts';
import { MbapFramer, TransactionPairer } from '../protocol/modbus/index.ts';
import type { FramerSink, ModbusAdu, ModbusAnomalyName } from '../protocol/modbus/types.ts';
import type { ModbusPeer, Observation } from './observation.ts';

export interface ModbusFlowHandlers {
  /** A framed request and the findings its inspection caused (the gateway forwards or blocks). */
  request?(adu: ModbusAdu, findings: readonly AlertType[]): void;
  /** A framed response (the gateway sends it back to the master). */
  response?(adu: ModbusAdu): void;
}

/**
 * One Modbus/TCP connection seen from the middle, whatever carries it: the inspecting
 * gateway (live sockets) or a capture (reassembled TCP streams). A framer per direction,
 * pairing by transaction id, and an Observation for every request, response and anomaly,
 * so that both paths report alike (DESIGN.md: the same bytes give the same alerts).
 */
export class ModbusFlowObserver {
  private readonly requests = new MbapFramer();
  private readonly responses = new MbapFramer();
  private readonly pairer = new TransactionPairer<null>();
  private readonly requestSink: FramerSink;
  private readonly responseSink: FramerSink;
  private ts = 0;

  constructor(
    private readonly deviceId: string,
    private readonly master: ModbusPeer,
    private readonly ingest: (observation: Observation) => readonly AlertType[],
    private readonly onInspectionFailure: (deviceId: string, master: ModbusPeer, error: unknown) => void,
    private readonly handlers: ModbusFlowHandlers = {},
  ) {
    this.requestSink = { frame: (adu) => this.onRequest(adu), anomaly: (name, detail) => this.onAnomaly('request', name, detail) };
    this.responseSink = { frame: (adu) => this.onResponse(adu), anomaly: (name, detail) => this.onAnomaly('response', name, detail) };
  }

  /** Bytes from the master, seen at event time `ts`. */
  pushRequests(chunk: Buffer, ts: number): void {
    this.ts = ts;
    this.requests.push(chunk, this.requestSink);
  }

  /** Bytes from the device, seen at event time `ts`. */
  pushResponses(chunk: Buffer, ts: number): void {
    this.ts = ts;
    this.responses.push(chunk, this.responseSink);
  }

  /** A gap in one direction (capture): frame boundaries are lost, start afresh. */
  resetDirection(direction: 'request' | 'response'): void {
    if (direction === 'request') this.requests.reset();
    else this.responses.reset();
  }

  private observe(observation: Observation): readonly AlertType[] {
    try {
      return this.ingest(observation);
    } catch (error) {
      // Fail open: a bug in the monitor must never stop a clinical command (DESIGN.md).
      this.onInspectionFailure(this.deviceId, this.master, error);
      return [];
    }
  }

  private onRequest(adu: ModbusAdu): void {
    const findings = this.observe({ kind: 'modbus-request', ts: this.ts, master: this.master, deviceId: this.deviceId, unitId: adu.unitId, transactionId: adu.transactionId, pdu: adu.pdu });
    const flood = this.pairer.request(adu, null, this.ts);
    if (flood.anomaly !== undefined) this.onAnomaly('request', flood.anomaly, 'more than the pending-request cap on this connection');
    this.handlers.request?.(adu, findings);
  }

  private onResponse(adu: ModbusAdu): void {
    const paired = this.pairer.response(adu, this.ts);
    if ('anomaly' in paired) this.onAnomaly('response', paired.anomaly, `transaction ${adu.transactionId} matches no pending request`);
    this.observe({
      kind: 'modbus-response',
      ts: this.ts,
      master: this.master,
      deviceId: this.deviceId,
      unitId: adu.unitId,
      transactionId: adu.transactionId,
      pdu: adu.pdu,
      requestPdu: 'request' in paired ? paired.request.pdu : null,
    });
    this.handlers.response?.(adu);
  }

  private onAnomaly(direction: 'request' | 'response', name: ModbusAnomalyName | string, detail: string): void {
    this.observe({ kind: 'modbus-anomaly', ts: this.ts, master: this.master, deviceId: this.deviceId, direction, name, detail });
  }
}
