/**
 * Flow control (RFC 9000 §4), one level at a time: the same two classes
 * serve a stream (MAX_STREAM_DATA, STREAM_DATA_BLOCKED) and the connection
 * (MAX_DATA, DATA_BLOCKED).
 *
 * - {@link SendCredit}: the limit the peer granted us and how much of it we
 *   used; says when to report being blocked.
 * - {@link ReceiveWindow}: the limit we granted the peer, how much it used and
 *   how much the application consumed; says when to grant more, and grows the
 *   window to follow the bandwidth-delay product (auto-tuning).
 *
 * Limits are numbers: a peer may grant up to 2^62-1, but offsets are capped
 * at 2^53-1 (the frame decoder rejects larger ones), so larger credit is as
 * good as infinite and is clamped by {@link creditFromWire}.
 */

/** A peer's limit as a number; anything beyond 2^53-1 can never be reached. */
export const creditFromWire = (value: bigint): number =>
  value >= BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value)

/** RFC 9000 §4.1: the credit the peer granted for sending. */
export class SendCredit {
  /** The peer's current limit: a transport parameter, then MAX_DATA / MAX_STREAM_DATA. */
  max: number
  /** Bytes counted against the limit (for streams: the highest offset written). */
  used = 0
  /** The limit at which we last reported being blocked; -1 when never. */
  private blockedAt = -1
  /** A *_BLOCKED frame is to be sent. */
  blockedPending = false

  constructor(max: number) {
    this.max = max
  }

  get available(): number {
    return this.max - this.used
  }

  /**
   * RFC 9000 §4.1: "A receiver MUST ignore any MAX_STREAM_DATA or MAX_DATA
   * frames that do not increase flow control limits." Returns whether it rose.
   */
  raise(max: number): boolean {
    if (max <= this.max) return false
    this.max = max
    // A *_BLOCKED report for the old limit is stale now.
    this.blockedPending = false
    return true
  }

  consume(n: number): void {
    this.used += n
  }

  /**
   * RFC 9000 §4.1: "A sender SHOULD send a STREAM_DATA_BLOCKED or
   * DATA_BLOCKED frame to indicate to the receiver that it has data to write
   * but is blocked by flow control limits." Once per limit value: repeating
   * it for the same limit tells the peer nothing new.
   */
  noteBlocked(): void {
    if (this.available > 0 || this.blockedAt === this.max) return
    this.blockedAt = this.max
    this.blockedPending = true
  }

  /** The limit a *_BLOCKED frame reports; it is in flight from now. */
  takeBlocked(): number {
    this.blockedPending = false
    return this.max
  }

  /** A *_BLOCKED frame was lost: resent only while still blocked at the limit it reported. */
  onBlockedLost(limit: number): void {
    if (limit === this.max && this.available === 0) this.blockedPending = true
  }
}

/** Configuration of a {@link ReceiveWindow}. */
export interface WindowConfig {
  /** The initial window: what the transport parameter grants. */
  readonly initial: number
  /** The largest the window grows to by auto-tuning. */
  readonly maximum: number
}

/**
 * RFC 9000 §4.1–4.2: the credit we grant the peer. The peer may send up to
 * {@link ReceiveWindow.max}. §4.2 leaves the timing of updates to us, asking
 * only that they go out early enough that the sender is not blocked and not
 * so often that they waste packets; like quinn and quic-go we raise the limit
 * to `consumed + window` once the application consumed half the window.
 *
 * Auto-tuning (after quic-go): if the application consumes at a rate that
 * uses a whole window in under four RTTs (half of one, the update threshold,
 * in under two), the peer, which needs a window of credit per round trip
 * plus the round trip of the update itself, would stall; the window doubles,
 * up to {@link WindowConfig.maximum}. The window thus tracks the
 * bandwidth-delay product, and it grows only as fast as the application
 * reads, never because of what the peer sends.
 */
export class ReceiveWindow {
  /** The current window size. */
  window: number
  private readonly maximum: number
  /** The limit granted to the peer (the latest MAX_DATA / MAX_STREAM_DATA value, sent or not). */
  max: number
  /**
   * Bytes the peer used, for a connection: the sum of its streams' highest
   * offsets (§4.1). A stream's own is its receive buffer's highest offset.
   */
  received = 0
  /** Bytes the application consumed (read, or released by a reset / STOP_SENDING). */
  consumed = 0
  /** {@link max} has not been sent since it last changed, or its frame was lost. */
  private unsent = false
  /** The start of the current auto-tuning epoch: time (µs) and `consumed` then. */
  private epochStart: number | undefined
  private epochConsumed = 0

  constructor(config: WindowConfig) {
    this.window = config.initial
    this.maximum = Math.max(config.initial, config.maximum)
    this.max = config.initial
  }

  /**
   * RFC 9000 §4.1: "A receiver MUST close the connection with an error of
   * type FLOW_CONTROL_ERROR if the sender violates the advertised connection
   * or stream data limits."
   */
  allows(received: number): boolean {
    return received <= this.max
  }

  onReceived(received: number): void {
    if (received > this.received) this.received = received
  }

  consume(n: number): void {
    this.consumed += n
  }

  /** Whether a MAX_DATA / MAX_STREAM_DATA frame should go out. */
  get wantsUpdate(): boolean {
    return this.unsent || this.thresholdReached()
  }

  /**
   * The limit to send now: raised (and the window perhaps auto-tuned) when
   * the threshold is reached, else the current limit again (a lost frame).
   * The limit counts as unsent until {@link onUpdateSent}.
   */
  update(now: number, smoothedRtt: number): number {
    if (this.thresholdReached()) {
      this.autoTune(now, smoothedRtt)
      this.max = this.consumed + this.window
      this.unsent = true
    }
    return this.max
  }

  onUpdateSent(): void {
    this.unsent = false
  }

  /** A frame carrying `max` was lost: resent only if no newer limit was granted since. */
  onUpdateLost(max: number): void {
    if (max === this.max) this.unsent = true
  }

  /** Grows the window to at least `window` (bounded by the maximum); the connection follows its streams this way. */
  ensureWindow(window: number): void {
    if (window > this.window) this.window = Math.min(window, this.maximum)
  }

  /** Half the window consumed, and an update would raise the limit (not so for a zero window). */
  private thresholdReached(): boolean {
    return this.max - this.consumed <= this.window / 2 && this.consumed + this.window > this.max
  }

  private autoTune(now: number, smoothedRtt: number): void {
    if (this.epochStart !== undefined && smoothedRtt > 0 && this.window < this.maximum) {
      // The fraction of the window consumed since the last update, against
      // the time it took: a whole window in under four RTTs is too fast.
      const fraction = (this.consumed - this.epochConsumed) / this.window
      if (now - this.epochStart < 4 * fraction * smoothedRtt) {
        this.window = Math.min(2 * this.window, this.maximum)
      }
    }
    this.epochStart = now
    this.epochConsumed = this.consumed
  }
}
