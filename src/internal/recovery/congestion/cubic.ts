/**
 * CUBIC (RFC 9438) on the RFC 9002 framework: slow start, recovery and
 * persistent congestion as NewReno; growth in congestion avoidance along
 * the cubic function, never slower than Reno would grow.
 *
 * RFC 9438 counts windows in segments and time in seconds. Here windows are
 * bytes, so every segment term is scaled by the maximum datagram size, and
 * the µs clock is converted to seconds only where W_cubic(t) is evaluated.
 * The cubic state (W_max, K, W_est) is fractional; the window is not.
 */
import type { RttEstimator } from "../rtt.js"
import { minimumWindow, WindowController } from "./controller.js"

/** RFC 9438 §5.1: C, the aggressiveness of the cubic growth (segments / s³). */
const kCubicC = 0.4
/** RFC 9438 §4.6: β_cubic = 0.7, the multiplicative decrease factor, as 7/10 for exact integer windows. */
const kBetaNumerator = 7
const kBetaDenominator = 10
const kBetaCubic = kBetaNumerator / kBetaDenominator
/** RFC 9438 §4.3: α_cubic = 3 × (1 − β_cubic) / (1 + β_cubic), Reno-equivalent growth. */
const kAlphaCubic = (3 * (1 - kBetaCubic)) / (1 + kBetaCubic)

const kMicrosPerSecond = 1_000_000

export class Cubic extends WindowController {
  /** RFC 9438 §4.1 W_max (bytes): the window just before the last reduction, 0 when unknown. */
  private windowMax = 0
  /** RFC 9438 §4.1 cwnd_prior (bytes): the window when ssthresh was last set. */
  private windowPrior = 0
  /** RFC 9438 §4.2 K (seconds): when W_cubic reaches W_max again. */
  private kSeconds = 0
  /** RFC 9438 §4.1 t_epoch (µs): start of the current congestion avoidance stage. */
  private epochStart: number | undefined
  /** RFC 9438 §4.3 W_est (bytes): the window Reno would have. */
  private windowEstimate = 0
  /** Growth earned but below one byte, so slow ACK-by-ACK increments are not truncated away. */
  private pendingGrowth = 0
  /** When the ACKs began to report the application leaving the window unfilled. */
  private appLimitedSince: number | undefined

  /** W_max in bytes, for stats and tests. */
  get wMax(): number {
    return this.windowMax
  }

  /** K in seconds, for stats and tests. */
  get k(): number {
    return this.kSeconds
  }

  protected congestionAvoidance(now: number, bytes: number, rtt: RttEstimator): void {
    const mds = this.maxDatagramSize
    let epochStart = this.epochStart
    if (epochStart === undefined) epochStart = this.startEpoch(now)
    else if (this.appLimitedSince !== undefined) {
      // RFC 9438 §5.8: t must not include application-limited periods, or
      // W_cubic(t) would leap ahead once the application sends again.
      epochStart += now - this.appLimitedSince
      this.epochStart = epochStart
    }
    this.appLimitedSince = undefined
    const cwnd = this.cwnd
    const t = (now - epochStart) / kMicrosPerSecond

    // RFC 9438 §4.3 (Eq. 4): W_est grows by α_cubic segments per window
    // acknowledged, and by a full segment (Reno's rate) once it has passed
    // the window that preceded the last reduction.
    const alpha = this.windowEstimate >= this.windowPrior ? 1 : kAlphaCubic
    this.windowEstimate += (alpha * mds * bytes) / cwnd

    if (this.wCubic(t) < this.windowEstimate) {
      // RFC 9438 §4.3: the Reno-friendly region; follow W_est.
      const estimate = Math.floor(this.windowEstimate)
      if (estimate > cwnd) this.cwnd = estimate
      return
    }
    // RFC 9438 §4.4, §4.5: concave and convex regions alike aim at
    // W_cubic(t + RTT), clamped to [cwnd, 1.5 × cwnd], and close
    // (target − cwnd) / cwnd of the gap per segment acknowledged.
    let target = this.wCubic(t + rtt.smoothed / kMicrosPerSecond)
    if (target < cwnd) target = cwnd
    else if (target > 1.5 * cwnd) target = 1.5 * cwnd
    this.pendingGrowth += ((target - cwnd) * bytes) / cwnd
    if (this.pendingGrowth >= 1) {
      const whole = Math.floor(this.pendingGrowth)
      this.cwnd += whole
      this.pendingGrowth -= whole
    }
  }

  protected reduce(): void {
    const cwnd = this.cwnd
    this.windowPrior = cwnd
    // RFC 9438 §4.7: fast convergence. A reduction below the previous W_max
    // means the available capacity shrank (a new flow, say): plateau lower to
    // release bandwidth sooner.
    this.windowMax = cwnd < this.windowMax ? (cwnd * (1 + kBetaCubic)) / 2 : cwnd
    // RFC 9438 §4.6: ssthresh = cwnd × β_cubic; RFC 9002 §7.2 keeps it at or
    // above the QUIC minimum window.
    this.ssthresh = Math.max(
      Math.floor((cwnd * kBetaNumerator) / kBetaDenominator),
      minimumWindow(this.maxDatagramSize)
    )
    this.cwnd = this.ssthresh
    this.epochStart = undefined
    this.pendingGrowth = 0
    this.appLimitedSince = undefined
  }

  protected override onAppLimited(now: number): void {
    if (this.appLimitedSince === undefined) this.appLimitedSince = now
  }

  protected override onPersistentCongestion(): void {
    // RFC 9438 §4.8: after a timeout (persistent congestion, for QUIC) the
    // first congestion avoidance stage uses K = 0 and W_max = the window it
    // starts with; forgetting W_max makes startEpoch do exactly that.
    this.windowMax = 0
    this.epochStart = undefined
    this.pendingGrowth = 0
  }

  /** RFC 9438 §4.2, §4.3: a congestion avoidance stage begins at the first ACK after a reduction. */
  private startEpoch(now: number): number {
    const cwnd = this.cwnd
    this.epochStart = now
    this.windowEstimate = cwnd
    if (this.windowMax <= cwnd) {
      // No plateau above us: slow start ended without a loss, or W_max was
      // forgotten by persistent congestion. Start at the inflection point.
      this.windowMax = cwnd
      this.kSeconds = 0
    } else {
      // RFC 9438 Eq. 2: K = ∛((W_max − cwnd_epoch) / C), in segments.
      this.kSeconds = Math.cbrt((this.windowMax - cwnd) / (kCubicC * this.maxDatagramSize))
    }
    return now
  }

  /** RFC 9438 Eq. 1: W_cubic(t) = C × (t − K)³ + W_max, in bytes for t in seconds. */
  private wCubic(t: number): number {
    const x = t - this.kSeconds
    return kCubicC * this.maxDatagramSize * x * x * x + this.windowMax
  }
}
