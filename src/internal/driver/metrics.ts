import { Effect, Metric, MetricBoundaries } from "effect"
import type { ConnectionStats } from "../connection/connection.js"
import type { QuicEndpoint } from "../endpoint.js"

/**
 * Effect `Metric`s of every endpoint (ARCHITECTURE.md §3): RTT, congestion
 * window, bytes and losses. Connections are sampled on a schedule rather
 * than per packet, and counters advance by the difference since the last
 * sample, so a connection costs nothing on the hot path.
 */

/** Smoothed RTT samples, milliseconds. */
export const rtt = Metric.histogram(
  "quic_smoothed_rtt_ms",
  MetricBoundaries.exponential({ start: 0.125, factor: 2, count: 16 }),
  "smoothed RTT of QUIC connections (RFC 9002 §5.3)"
)

/** The congestion window of the most recently sampled connection, bytes. */
export const congestionWindow = Metric.gauge("quic_congestion_window_bytes", {
  description: "congestion window of QUIC connections (RFC 9002 §7)"
})

export const bytesSent = Metric.counter("quic_bytes_sent", { description: "UDP payload bytes sent", incremental: true })
export const bytesReceived = Metric.counter("quic_bytes_received", { description: "UDP payload bytes received", incremental: true })
export const packetsLost = Metric.counter("quic_packets_lost", { description: "packets declared lost", incremental: true })

interface Seen {
  bytesSent: number
  bytesReceived: number
  packetsLost: number
}

/** Remembers what each connection reported last, to turn totals into increments. */
export class StatsSampler {
  private readonly seen = new Map<number, Seen>()

  /** Records one connection's current statistics. */
  record(handle: number, stats: ConnectionStats): Effect.Effect<void> {
    const last = this.seen.get(handle) ?? { bytesSent: 0, bytesReceived: 0, packetsLost: 0 }
    this.seen.set(handle, { bytesSent: stats.bytesSent, bytesReceived: stats.bytesReceived, packetsLost: stats.packetsLost })
    return Effect.all([
      Metric.update(rtt, stats.smoothedRtt / 1000),
      Metric.set(congestionWindow, stats.congestionWindow),
      Metric.incrementBy(bytesSent, stats.bytesSent - last.bytesSent),
      Metric.incrementBy(bytesReceived, stats.bytesReceived - last.bytesReceived),
      Metric.incrementBy(packetsLost, stats.packetsLost - last.packetsLost)
    ], { discard: true })
  }

  /** Samples every live connection of `endpoint` and forgets the ones that are gone. */
  sample(endpoint: QuicEndpoint, handles: Iterable<number>): Effect.Effect<void> {
    return Effect.suspend(() => {
      const live = new Set<number>()
      const updates: Array<Effect.Effect<void>> = []
      for (const handle of handles) {
        const stats = endpoint.connectionStats(handle)
        if (stats === undefined) continue
        live.add(handle)
        updates.push(this.record(handle, stats))
      }
      for (const handle of [...this.seen.keys()]) if (!live.has(handle)) this.seen.delete(handle)
      return Effect.all(updates, { discard: true })
    })
  }
}
