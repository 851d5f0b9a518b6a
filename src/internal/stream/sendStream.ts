/**
 * The sending part of one stream (RFC 9000 §3.1): its state, its data and
 * the credit the peer granted it. The stream manager decides what to write
 * and when; this class keeps the state machine and the buffer in step.
 */
import { SendCredit } from "./flowControl.js"
import { SendBuffer, type StreamRange } from "./sendBuffer.js"
import { canReset, isSendTerminal, sendTransition, type SendState } from "./state.js"

export class SendStream {
  state: SendState = "Ready"
  readonly buffer = new SendBuffer()
  /** RFC 9000 §4.1: the peer's MAX_STREAM_DATA (initially its transport parameter). */
  readonly credit: SendCredit
  /** The error code of the peer's STOP_SENDING (§3.5), once received. */
  stopCode: bigint | undefined
  /** The error code of our RESET_STREAM, once reset. */
  resetCode: bigint | undefined
  /** A RESET_STREAM is to be sent (again, if lost). */
  resetPending = false

  constructor(initialCredit: number) {
    this.credit = new SendCredit(initialCredit)
  }

  /** The application may still write (and finish): no reset, no FIN, no STOP_SENDING. */
  get open(): boolean {
    return (this.state === "Ready" || this.state === "Send") && !this.buffer.finished
  }

  /** STREAM frames to send: the data part is live and has lost, unsent bytes or the FIN. */
  get hasPending(): boolean {
    return (this.state === "Ready" || this.state === "Send" || this.state === "DataSent") && this.buffer.hasPending
  }

  /** A STREAM_DATA_BLOCKED is owed and still meaningful (data can still be sent). */
  get blockedPending(): boolean {
    return this.credit.blockedPending && (this.state === "Ready" || this.state === "Send")
  }

  get terminal(): boolean {
    return isSendTerminal(this.state)
  }

  /** RFC 9000 §3.1 "Send STREAM", "Send STREAM + FIN". */
  onSent(range: StreamRange): void {
    this.state = sendTransition(this.state, range.fin ? "SendFin" : "SendStream")
  }

  /** RFC 9000 §3.1 "Send STREAM_DATA_BLOCKED" also leaves Ready. */
  onBlockedSent(): void {
    this.state = sendTransition(this.state, "SendStream")
  }

  /** Returns true when this acknowledgment completed the stream ("Recv All ACKs"). */
  onAcked(offset: number, length: number, fin: boolean): boolean {
    if (this.state !== "Send" && this.state !== "DataSent") return false
    this.buffer.onAcked(offset, length, fin)
    if (!this.buffer.allAcked) return false
    this.state = sendTransition(this.state, "AllAcked")
    return this.state === "DataRecvd"
  }

  onLost(offset: number, length: number, fin: boolean): void {
    // RFC 9000 §13.3: after RESET_STREAM, data is not retransmitted.
    if (this.state === "Send" || this.state === "DataSent") this.buffer.onLost(offset, length, fin)
  }

  /**
   * RFC 9000 §3.1 "Send RESET_STREAM": abandons the data (§13.3) and queues
   * the frame. Returns false when the stream can no longer be reset.
   */
  reset(code: bigint): boolean {
    if (!canReset(this.state)) return false
    this.state = sendTransition(this.state, "SendReset")
    this.resetCode = code
    this.resetPending = true
    this.buffer.discard()
    return true
  }

  /** RFC 9000 §3.1 "Recv ACK" of RESET_STREAM. */
  onResetAcked(): void {
    this.state = sendTransition(this.state, "ResetAcked")
    // A copy queued after a spurious loss is no longer needed.
    this.resetPending = false
  }

  onResetLost(): void {
    if (this.state === "ResetSent") this.resetPending = true
  }
}
