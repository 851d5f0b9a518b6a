/**
 * Reassembly of one stream's received data (RFC 9000 §2.2): STREAM frames
 * arrive out of order, overlapping and duplicated, and the application reads
 * the bytes in order.
 *
 * Bytes are kept in fixed-size blocks indexed by stream offset, and a
 * {@link RangeSet} says which offsets have arrived. A frame's bytes are copied
 * once, from the packet into their block (the packet buffer is reused, so
 * what is kept must be copied); {@link RecvBuffer.read} then hands the
 * application a view of the block (no copy) and {@link RecvBuffer.readInto}
 * copies into the application's buffer (the one copy). Bytes below the read
 * offset are never written again, so a view handed out stays valid, and a
 * block is dropped once read past.
 *
 * Memory: the caller enforces flow control before {@link RecvBuffer.insert}
 * (RFC 9000 §4.1), so blocks only exist for offsets below the advertised
 * limit: at most the window plus one block. A peer that fragments its data
 * into many small gaps is stopped at {@link MAX_RECEIVE_RANGES}. A buffer
 * that is read rarely and completely (CRYPTO data) gives its blocks up with
 * {@link RecvBuffer.release} rather than keep one per connection for good.
 *
 * Final size (RFC 9000 §4.5) is checked here too: {@link RecvBuffer.checkFinalSize}.
 */
import { type TransportError, TransportErrorCode, transportError } from "../errors.js"
import { RangeSet } from "../util/rangeSet.js"

/** Bytes per block: one block bounds a view handed to the application. */
export const RECEIVE_BLOCK_SIZE = 16 * 1024

/** The first size of a block that starts small (see `block`). */
const MIN_BLOCK_SIZE = 1024

/**
 * The most disjoint ranges of unread data one stream keeps. Each insertion
 * into the middle of the range set costs time in the number of ranges, so a
 * peer sending tiny frames with gaps between them would otherwise buy
 * quadratic work with a window's worth of credit. Legitimate loss and
 * reordering stay far below this.
 */
export const MAX_RECEIVE_RANGES = 4096

const EMPTY = new Uint8Array(0)

export class RecvBuffer {
  /** `blockSize`: bytes per block (a bound on the views handed out). */
  constructor(private readonly blockSize = RECEIVE_BLOCK_SIZE) {}

  /** Offsets at or above `readOffset` that have arrived. */
  private readonly received = new RangeSet()
  /** `blocks[i]` holds offsets from `(firstBlock + i) * blockSize`; allocated on first use. */
  private blocks: Array<Uint8Array | undefined> = []
  private firstBlock = 0
  /** Bytes delivered to the application (or discarded). */
  readOffset = 0
  /** One past the highest offset received: the stream's flow-control consumption (§4.1). */
  highest = 0
  /** RFC 9000 §4.5: known once a FIN or RESET_STREAM arrives. */
  finalSize: number | undefined
  /** The application stopped reading (§3.5): data is tracked but not kept. */
  private discarding = false

  /**
   * RFC 9000 §4.5 for data ending at `end` (with the FIN when `fin`), or a
   * RESET_STREAM's final size (`end`, `fin` true):
   * "Once a final size for a stream is known, it cannot change. If a
   * RESET_STREAM or STREAM frame is received indicating a change in the final
   * size for the stream, an endpoint SHOULD respond with an error of type
   * FINAL_SIZE_ERROR"; "an endpoint SHOULD treat receipt of data at or beyond
   * the final size as an error of type FINAL_SIZE_ERROR"; and a final size
   * below data already received is one too.
   */
  checkFinalSize(end: number, fin: boolean, frameType: number): TransportError | undefined {
    if (this.finalSize !== undefined) {
      if (end > this.finalSize) return finalSizeError("data beyond the final size", frameType)
      if (fin && end !== this.finalSize) return finalSizeError("final size changed", frameType)
    } else if (fin && end < this.highest) {
      return finalSizeError("final size below data already received", frameType)
    }
    return undefined
  }

  /**
   * Stores `data` at `offset` (copying the bytes not yet read); `fin` fixes
   * the final size. The frame was checked with {@link checkFinalSize} and flow
   * control first. Fails only when the data is fragmented beyond
   * {@link MAX_RECEIVE_RANGES}.
   */
  insert(offset: number, data: Uint8Array, fin: boolean, frameType: number): TransportError | undefined {
    const end = offset + data.length
    if (end > this.highest) this.highest = end
    if (fin) this.finalSize = end
    const start = Math.max(offset, this.readOffset)
    if (start >= end) return undefined
    this.received.insert(start, end)
    if (this.received.size > MAX_RECEIVE_RANGES) {
      return transportError(TransportErrorCode.INTERNAL_ERROR, "stream data too fragmented", frameType)
    }
    if (this.discarding) {
      this.advance(this.contiguous)
      return undefined
    }
    let position = start
    while (position < end) {
      const index = Math.floor(position / this.blockSize)
      const at = position - index * this.blockSize
      const n = Math.min(this.blockSize - at, end - position)
      this.block(index, at + n).set(data.subarray(position - offset, position - offset + n), at)
      position += n
    }
    return undefined
  }

  /** RFC 9000 §19.4: a RESET_STREAM fixes the final size (checked with {@link checkFinalSize}). */
  setFinalSize(finalSize: number): void {
    if (finalSize > this.highest) this.highest = finalSize
    this.finalSize = finalSize
  }

  /** Contiguous bytes ready to read. */
  get contiguous(): number {
    return this.received.min === this.readOffset ? this.received.end(0) - this.readOffset : 0
  }

  /** Every byte up to the final size has arrived: RFC 9000 §3.2 "Recv All Data". */
  get complete(): boolean {
    return this.finalSize !== undefined && this.readOffset + this.contiguous === this.finalSize
  }

  /** Every byte up to the final size was read: RFC 9000 §3.2 "App Read All Data". */
  get finished(): boolean {
    return this.readOffset === this.finalSize
  }

  /** Up to `max` contiguous bytes as a view of the buffer (no copy); empty when none are ready. */
  read(max: number): Uint8Array {
    const ready = Math.min(max, this.contiguous)
    if (ready <= 0) return EMPTY
    const index = Math.floor(this.readOffset / this.blockSize)
    const block = this.blocks[index - this.firstBlock]!
    const at = this.readOffset - index * this.blockSize
    const n = Math.min(ready, block.length - at)
    const view = block.subarray(at, at + n)
    this.advance(n)
    return view
  }

  /** Copies contiguous bytes into `buffer`; returns how many. */
  readInto(buffer: Uint8Array): number {
    let n = 0
    while (n < buffer.length) {
      const view = this.read(buffer.length - n)
      if (view.length === 0) break
      buffer.set(view, n)
      n += view.length
    }
    return n
  }

  /**
   * The application will read no more (RFC 9000 §3.5, or a reset): buffered
   * bytes are dropped and later data only advances the offsets, so the stream
   * can still reach "Data Recvd" without keeping anything.
   */
  discard(): void {
    this.discarding = true
    this.blocks = []
    this.advance(this.contiguous)
  }

  /**
   * Drops every block when no unread byte is kept, so that a buffer read
   * rarely and completely holds no memory between reads: the next insert
   * allocates afresh. Views handed out stay valid (they keep their block).
   */
  release(): void {
    if (this.received.size > 0) return
    this.blocks = []
    this.firstBlock = Math.floor(this.readOffset / this.blockSize)
  }

  private advance(n: number): void {
    this.readOffset += n
    this.received.removeBelow(this.readOffset)
    const first = Math.floor(this.readOffset / this.blockSize)
    if (first > this.firstBlock) {
      this.blocks.splice(0, first - this.firstBlock)
      this.firstBlock = first
    }
  }

  /**
   * Block `index`, holding at least its first `needed` bytes. A block behind
   * data that all arrived (a stream flowing in order) is made whole at once;
   * a stream's first block, and one beyond a gap, start at what arrived and
   * double as more does: a peer that puts a byte on each of many streams, or
   * one far ahead, makes us keep about what it sent rather than a block each.
   */
  private block(index: number, needed: number): Uint8Array {
    const i = index - this.firstBlock
    const block = this.blocks[i]
    if (block !== undefined && block.length >= needed) return block
    while (this.blocks.length < i) this.blocks.push(undefined)
    const start = index * this.blockSize
    // A stream whose final size is known needs no more than that.
    const limit = this.finalSize === undefined ? this.blockSize : Math.min(this.blockSize, this.finalSize - start)
    let length = limit
    if (index === 0 || this.readOffset + this.contiguous < start) {
      length = Math.max(MIN_BLOCK_SIZE, 2 * (block?.length ?? 0))
      while (length < needed) length *= 2
      length = Math.min(length, limit)
    }
    const grown = new Uint8Array(length)
    if (block !== undefined) grown.set(block)
    this.blocks[i] = grown
    return grown
  }
}

const finalSizeError = (reason: string, frameType: number): TransportError =>
  transportError(TransportErrorCode.FINAL_SIZE_ERROR, reason, frameType)
