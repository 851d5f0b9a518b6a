/**
 * NewReno as RFC 9002 §7 and Appendix B describe it for QUIC.
 */
import { minimumWindow, WindowController } from "./controller.js"

/** RFC 9002 §7.3.2 (kLossReductionFactor): halve the window on congestion. */
const kLossReductionFactor = 0.5

export class NewReno extends WindowController {
  /** Bytes acknowledged in congestion avoidance not yet turned into window growth. */
  private bytesAcked = 0

  protected congestionAvoidance(_now: number, bytes: number): void {
    // RFC 9002 §7.3.3: one maximum datagram size per window of bytes
    // acknowledged. Counting bytes rather than adding mds × bytes / cwnd per
    // ACK keeps the arithmetic in integers without losing the fractions.
    this.bytesAcked += bytes
    if (this.bytesAcked >= this.cwnd) {
      this.bytesAcked -= this.cwnd
      this.cwnd += this.maxDatagramSize
    }
  }

  protected reduce(): void {
    // RFC 9002 Appendix B.6: ssthresh = cwnd × kLossReductionFactor;
    // cwnd = max(ssthresh, kMinimumWindow).
    this.ssthresh = Math.floor(this.cwnd * kLossReductionFactor)
    this.cwnd = Math.max(this.ssthresh, minimumWindow(this.maxDatagramSize))
    this.bytesAcked = 0
  }
}
