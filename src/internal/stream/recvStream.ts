/**
 * The receiving part of one stream (RFC 9000 §3.2): its state, the
 * reassembly buffer and the credit we granted the peer for it. Checks that
 * span the connection (connection-level flow control) are the manager's;
 * everything about this stream alone is here.
 */
import type { TransportError } from "../errors.js"
import { ReceiveWindow, type WindowConfig } from "./flowControl.js"
import { RecvBuffer } from "./recvBuffer.js"
import { isReceiving, isRecvTerminal, recvTransition, type RecvState } from "./state.js"

export class RecvStream {
  state: RecvState = "Recv"
  readonly buffer = new RecvBuffer()
  /** RFC 9000 §4.1: the MAX_STREAM_DATA we grant. */
  readonly window: ReceiveWindow
  /** The error code of the peer's RESET_STREAM. */
  resetCode: bigint | undefined
  /** The error code of our STOP_SENDING, once the application stopped reading (§3.5). */
  stopCode: bigint | undefined
  /** A STOP_SENDING is to be sent (again, if lost). */
  stopPending = false
  /** A StreamReadable event was emitted and the application has not read since. */
  readableSignalled = false
  /** Bytes of this stream already counted as consumed by connection-level flow control. */
  private released = 0

  constructor(window: WindowConfig) {
    this.window = new ReceiveWindow(window)
  }

  get terminal(): boolean {
    return isRecvTerminal(this.state)
  }

  /** The application has something to learn: data, the end of the stream, or a reset. */
  get readable(): boolean {
    if (this.stopCode !== undefined) return false
    return this.state === "ResetRecvd" || this.state === "DataRecvd" || this.buffer.contiguous > 0
  }

  /**
   * RFC 9000 §3.2: MAX_STREAM_DATA is useful only in "Recv": in "Size
   * Known", "the endpoint no longer needs to send MAX_STREAM_DATA frames; it
   * only receives any retransmissions of stream data". After STOP_SENDING
   * the peer is expected to reset (§3.5).
   */
  get wantsWindowUpdate(): boolean {
    return this.state === "Recv" && this.stopCode === undefined && this.window.wantsUpdate
  }

  /** A STOP_SENDING still matters: the peer has not finished or reset (§3.5). */
  get stopSendingPending(): boolean {
    return this.stopPending && isReceiving(this.state)
  }

  /**
   * Takes a STREAM frame that passed the final-size and flow-control checks.
   * Data after a reset or after everything arrived is a retransmission to
   * drop (§3.2).
   */
  onData(offset: number, data: Uint8Array, fin: boolean, frameType: number): TransportError | undefined {
    if (!isReceiving(this.state)) return undefined
    const error = this.buffer.insert(offset, data, fin, frameType)
    if (error !== undefined) return error
    if (fin) this.state = recvTransition(this.state, "RecvFin")
    if (this.buffer.complete) {
      this.state = recvTransition(this.state, "AllReceived")
      // Nobody will read a stream the application stopped: all read.
      if (this.stopCode !== undefined) this.state = recvTransition(this.state, "AllRead")
    }
    return undefined
  }

  /** RFC 9000 §3.2 "Recv RESET_STREAM", already checked against the final size and flow control. */
  onReset(code: bigint, finalSize: number): void {
    if (!isReceiving(this.state)) return
    this.buffer.setFinalSize(finalSize)
    // §3.2: an implementation MAY "interrupt delivery of stream data, discard
    // any data that was not consumed, and signal the receipt of the
    // RESET_STREAM"; we do, so unread data holds no memory.
    this.buffer.discard()
    this.resetCode = code
    this.state = recvTransition(this.state, "RecvReset")
    if (this.stopCode !== undefined) this.state = recvTransition(this.state, "ResetRead")
  }

  /**
   * The application stops reading (RFC 9000 §3.5): buffered and future data
   * are dropped; a STOP_SENDING goes out while the peer may still send.
   */
  stop(code: bigint): void {
    this.stopCode = code
    this.stopPending = isReceiving(this.state)
    this.buffer.discard()
    this.state = recvTransition(recvTransition(this.state, "AllRead"), "ResetRead")
  }

  /** The application read the reset: RFC 9000 §3.2 "App Read Reset". */
  onResetRead(): void {
    this.state = recvTransition(this.state, "ResetRead")
  }

  /** The application read `n` bytes. */
  onRead(n: number): void {
    this.window.consume(n)
    if (this.buffer.finished) this.state = recvTransition(this.state, "AllRead")
  }

  /**
   * Bytes to count as consumed at the connection level since the last call:
   * what the application read, or everything up to the highest offset once
   * nobody will read (RFC 9000 §4.5: a reset stream's final size counts in
   * full, and discarded data must not hold the connection window).
   */
  releasable(): number {
    const gone = this.stopCode !== undefined || this.resetCode !== undefined
    const target = gone ? this.buffer.highest : this.buffer.readOffset
    const n = target - this.released
    this.released = target
    return n
  }
}
