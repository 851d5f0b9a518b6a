/**
 * The data of one stream's sending part (RFC 9000 §2.2, §13.3): bytes the
 * application wrote, which of them were sent, acknowledged or lost, and the
 * FIN.
 *
 * Ownership: {@link SendBuffer.write} keeps the chunk it is given, without
 * copying; the caller must not change those bytes afterwards. (The stream
 * manager's `send` copies the accepted bytes once before handing them here;
 * `sendChunks` passes the application's chunks through.) Bytes then leave
 * exactly once per transmission, copied straight into the packet by
 * {@link SendBuffer.copyInto}.
 *
 * Offsets fall into four sets: unsent (`[unsent, offset)`), in flight (sent,
 * neither acknowledged nor declared lost), acknowledged (`acked`) and lost
 * (`lost`, waiting for retransmission). Retransmissions go first and cover
 * exactly the lost bytes that have not been acknowledged since (§13.3: "Data
 * sent in ... STREAM frames is retransmitted in new STREAM frames unless the
 * endpoint has sent a RESET_STREAM"). The FIN is tracked like one more byte.
 * Chunks are released as soon as the acknowledged prefix covers them.
 */
import { RangeSet } from "../util/rangeSet.js"

/** What one STREAM frame carries: `length` bytes from `offset`, then perhaps the FIN. */
export interface StreamRange {
  readonly offset: number
  readonly length: number
  readonly fin: boolean
}

/** Where the FIN is: not written yet, to be sent, sent and unacknowledged, or acknowledged. */
type FinState = "None" | "Pending" | "InFlight" | "Acked"

const RELEASED = new Uint8Array(0)

export class SendBuffer {
  /** Application chunks in stream order; `chunks[head]` is the first not yet released. */
  private chunks: Array<Uint8Array> = []
  /** The stream offset of each chunk's first byte. */
  private starts: Array<number> = []
  private head = 0
  /** Bytes written so far: the stream offset the next write starts at. */
  offset = 0
  /** New data below this has been sent at least once. */
  private unsent = 0
  private readonly acked = new RangeSet()
  private readonly lost = new RangeSet()
  private fin: FinState = "None"

  /** Appends `chunk` (kept, not copied). */
  write(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.starts.push(this.offset)
    this.offset += chunk.length
  }

  /** The application is done writing; the FIN goes out after the last byte. */
  finish(): void {
    if (this.fin === "None") this.fin = "Pending"
  }

  get finished(): boolean {
    return this.fin !== "None"
  }

  /** Bytes written and not yet covered by the acknowledged prefix: what the buffer holds. */
  get unacked(): number {
    return this.offset - this.ackedPrefix()
  }

  /** Whether there is anything to transmit: lost bytes, unsent bytes or the FIN. */
  get hasPending(): boolean {
    return !this.lost.isEmpty || this.unsent < this.offset || this.fin === "Pending"
  }

  /** The offset {@link nextRange} starts at. */
  get nextOffset(): number {
    return this.lost.isEmpty ? this.unsent : this.lost.start(0)
  }

  /** How many contiguous bytes {@link nextRange} could return, given room. */
  get nextLength(): number {
    return this.lost.isEmpty ? this.offset - this.unsent : this.lost.end(0) - this.lost.start(0)
  }

  /**
   * Takes up to `maxLength` bytes to send next, retransmissions first, and
   * counts them in flight. The FIN rides along when the range ends the stream
   * and the FIN still needs sending; a range may be empty only to carry it.
   */
  nextRange(maxLength: number): StreamRange | undefined {
    let start: number
    let end: number
    if (!this.lost.isEmpty) {
      start = this.lost.start(0)
      end = Math.min(this.lost.end(0), start + maxLength)
      this.lost.removeBelow(end)
    } else if (this.unsent < this.offset || this.fin === "Pending") {
      start = this.unsent
      end = Math.min(this.offset, start + maxLength)
      this.unsent = end
    } else {
      return undefined
    }
    const fin = this.fin === "Pending" && end === this.offset
    if (end === start && !fin) return undefined
    if (fin) this.fin = "InFlight"
    return { offset: start, length: end - start, fin }
  }

  /**
   * Copies stream bytes `[offset, offset + length)` into `dest` at `at`. They
   * must be written and not released (anything sent and unacknowledged is).
   */
  copyInto(dest: Uint8Array, at: number, offset: number, length: number): void {
    let i = this.chunkAt(offset)
    let position = offset
    const end = offset + length
    while (position < end) {
      const chunk = this.chunks[i]!
      const from = position - this.starts[i]!
      const n = Math.min(chunk.length - from, end - position)
      dest.set(from === 0 && n === chunk.length ? chunk : chunk.subarray(from, from + n), at)
      at += n
      position += n
      i++
    }
  }

  /** A range sent earlier was acknowledged. */
  onAcked(offset: number, length: number, fin: boolean): void {
    this.acked.insert(offset, offset + length)
    // A range declared lost and then acknowledged after all (a late ACK) no
    // longer needs retransmitting.
    this.lost.remove(offset, offset + length)
    if (fin) this.fin = "Acked"
    this.release()
  }

  /** A range sent earlier was declared lost: its unacknowledged bytes are sent again. */
  onLost(offset: number, length: number, fin: boolean): void {
    const end = offset + length
    let cursor = offset
    for (let i = 0; i < this.acked.size && cursor < end; i++) {
      const s = this.acked.start(i)
      const e = this.acked.end(i)
      if (e <= cursor) continue
      if (s >= end) break
      if (s > cursor) this.lost.insert(cursor, s)
      cursor = e
    }
    if (cursor < end) this.lost.insert(cursor, end)
    if (fin && this.fin === "InFlight") this.fin = "Pending"
  }

  /**
   * RFC 9002 §6.2.4: a probe should carry data that may have been lost; this
   * queues every sent, unacknowledged byte (and the FIN) for sending again.
   */
  retransmitUnacked(): void {
    this.onLost(0, this.unsent, this.fin === "InFlight")
  }

  /** Every byte and the FIN acknowledged: RFC 9000 §3.1 "Recv All ACKs". */
  get allAcked(): boolean {
    return this.fin === "Acked" && this.ackedPrefix() === this.offset
  }

  /** Drops all data (RFC 9000 §3.1: after RESET_STREAM nothing is retransmitted). */
  discard(): void {
    this.chunks = []
    this.starts = []
    this.head = 0
    this.lost.clear()
    this.unsent = this.offset
  }

  private ackedPrefix(): number {
    return this.acked.min === 0 ? this.acked.end(0) : 0
  }

  /** Releases the chunks the acknowledged prefix covers. */
  private release(): void {
    const prefix = this.ackedPrefix()
    while (this.head < this.chunks.length && this.starts[this.head]! + this.chunks[this.head]!.length <= prefix) {
      this.chunks[this.head++] = RELEASED
    }
    // Compact now and then, so releasing stays O(1) amortized.
    if (this.head >= 64 && this.head * 2 >= this.chunks.length) {
      this.chunks.splice(0, this.head)
      this.starts.splice(0, this.head)
      this.head = 0
    }
  }

  /** The index of the chunk holding `offset` (binary search over the live chunks). */
  private chunkAt(offset: number): number {
    let lo = this.head
    let hi = this.chunks.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (this.starts[mid]! <= offset) lo = mid
      else hi = mid - 1
    }
    return lo
  }
}
