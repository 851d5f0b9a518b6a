/**
 * What loss detection asks of a congestion controller, and the window-based
 * framework NewReno and CUBIC share (RFC 9002 §7): slow start, the recovery
 * period, persistent congestion and the rule against growing an
 * under-used window. Windows are in bytes, times in microseconds.
 */
import type { RttEstimator } from "../rtt.js"

export interface CongestionController {
  /** The congestion window: how many bytes may be in flight. */
  readonly window: number
  /** For stats: the window is below the slow start threshold. */
  readonly inSlowStart: boolean
  /** For stats: a recovery period is running (RFC 9002 §7.3.2). */
  readonly inRecovery: boolean
  /** For stats and qlog: the slow start threshold in bytes (Infinity until the first congestion event). */
  readonly slowStartThreshold: number
  /** An in-flight packet of `bytes`, sent at `sentTime`, was acknowledged. */
  onAck(now: number, sentTime: number, bytes: number, rtt: RttEstimator, appLimited: boolean): void
  /**
   * Loss of in-flight packets, the last of them sent at `sentTime`
   * (RFC 9002 §7.3.2); `persistent` when that loss also established
   * persistent congestion (§7.6).
   */
  onCongestionEvent(now: number, sentTime: number, persistent: boolean): void
  /**
   * RFC 9002 §7.1: an increase in the ECN-CE count reported for a packet
   * sent at `sentTime` (the largest acknowledged) is a congestion event.
   */
  onEcnCongestion(now: number, sentTime: number): void
  /** RFC 9002 §7.2: the maximum datagram size changed (PMTU discovery). */
  onMtuChange(maxDatagramSize: number): void
}

/** RFC 9002 §7.2: min(10 × max_datagram_size, max(2 × max_datagram_size, 14720)). */
export const initialWindow = (maxDatagramSize: number): number =>
  Math.min(10 * maxDatagramSize, Math.max(2 * maxDatagramSize, 14_720))

/** RFC 9002 §7.2: the window never falls below two datagrams. */
export const minimumWindow = (maxDatagramSize: number): number => 2 * maxDatagramSize

/**
 * The RFC 9002 §7 state machine with the two algorithm-specific steps left
 * to subclasses: growth in congestion avoidance, and the reduction on a
 * congestion event.
 */
export abstract class WindowController implements CongestionController {
  protected cwnd: number
  /** RFC 9002 §7.3.1: infinite until the first congestion event. */
  protected ssthresh = Number.POSITIVE_INFINITY
  protected maxDatagramSize: number
  /**
   * RFC 9002 §7.3.2: when the current recovery period started; losses of
   * packets sent before it do not reduce the window again. Undefined when
   * no period applies (none yet, or after persistent congestion).
   */
  private recoveryStart: number | undefined
  private recovering = false

  constructor(maxDatagramSize: number) {
    this.maxDatagramSize = maxDatagramSize
    this.cwnd = initialWindow(maxDatagramSize)
  }

  get window(): number {
    return this.cwnd
  }

  get inSlowStart(): boolean {
    return this.cwnd < this.ssthresh
  }

  get inRecovery(): boolean {
    return this.recovering
  }

  get slowStartThreshold(): number {
    return this.ssthresh
  }

  onAck(now: number, sentTime: number, bytes: number, rtt: RttEstimator, appLimited: boolean): void {
    // RFC 9002 §7.3.2: the window does not grow during recovery; it ends when
    // a packet sent after it began is acknowledged.
    if (this.recoveryStart !== undefined && sentTime <= this.recoveryStart) return
    this.recovering = false
    // RFC 9002 §7.8: a window the sender does not fill has not been tested
    // by the network, so it must not grow.
    if (appLimited) {
      this.onAppLimited(now)
      return
    }
    // RFC 9002 §7.3.1: slow start grows the window by the bytes acknowledged.
    if (this.cwnd < this.ssthresh) this.cwnd += bytes
    else this.congestionAvoidance(now, bytes, rtt)
  }

  onCongestionEvent(now: number, sentTime: number, persistent: boolean): void {
    // RFC 9002 §7.3.2: one reduction per recovery period; a loss of a packet
    // sent before the period started was caused by the same congestion.
    if (this.recoveryStart === undefined || sentTime > this.recoveryStart) {
      this.recoveryStart = now
      this.recovering = true
      this.reduce()
    }
    if (persistent) {
      // RFC 9002 §7.6.2: collapse to the minimum window and start afresh
      // (Appendix B.8 also clears the recovery start time).
      this.cwnd = minimumWindow(this.maxDatagramSize)
      this.recoveryStart = undefined
      this.recovering = false
      this.onPersistentCongestion()
    }
  }

  onEcnCongestion(now: number, sentTime: number): void {
    // RFC 9002 §7.1: CE marks are handled like loss, but with no packet to retransmit.
    this.onCongestionEvent(now, sentTime, false)
  }

  onMtuChange(maxDatagramSize: number): void {
    // RFC 9002 §7.2: the windows are defined in datagrams, so the floor moves
    // with the datagram size; the current window keeps what it has learned.
    this.maxDatagramSize = maxDatagramSize
    const floor = minimumWindow(maxDatagramSize)
    if (this.cwnd < floor) this.cwnd = floor
  }

  /** RFC 9002 §7.3.3: growth once the window has reached the slow start threshold. */
  protected abstract congestionAvoidance(now: number, bytes: number, rtt: RttEstimator): void

  /** RFC 9002 §7.3.2: set `ssthresh` and shrink `cwnd` (never below the minimum window). */
  protected abstract reduce(): void

  /** An ACK arrived while the application left the window unfilled. */
  protected onAppLimited(_now: number): void {}

  /** Persistent congestion reset the window to its minimum. */
  protected onPersistentCongestion(): void {}
}
