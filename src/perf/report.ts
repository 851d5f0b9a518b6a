/**
 * What `quic-perf client` prints: one JSON line (`--json`, the fields of the
 * perf spec and a few more) or a readable summary.
 */
import { describeFailure } from "./failure.js"
import { formatBytes } from "./size.js"

export interface Report {
  readonly server: string
  readonly handshake_ms: number
  readonly bytes_down: number
  readonly bytes_up: number
  readonly streams: number
  readonly seconds: number
  readonly mbps: number
  readonly handshakes_per_s: number | null
  readonly rtt_ms: number
  readonly lost_packets: number
  readonly cipher: string | null
  readonly resumed: boolean
  readonly zero_rtt: "accepted" | "rejected" | "not attempted"
  readonly datagrams_sent: number
  readonly datagrams_received: number
  readonly key_updates: number
  readonly path_mtu: number
  readonly ok: boolean
  readonly error: string | null
}

const round = (n: number, digits: number): number => Number(n.toFixed(digits))

export const toJson = (report: Report): string =>
  JSON.stringify({
    ...report,
    handshake_ms: round(report.handshake_ms, 3),
    seconds: round(report.seconds, 3),
    mbps: round(report.mbps, 1),
    handshakes_per_s: report.handshakes_per_s === null ? null : round(report.handshakes_per_s, 1),
    rtt_ms: round(report.rtt_ms, 3)
  })

export const toSummary = (report: Report): string => {
  const lines = [`quic-perf client → ${report.server}: ${report.ok ? "OK" : `FAILED: ${report.error}`}`]
  if (report.handshakes_per_s !== null) {
    lines.push(
      `  ${report.streams} handshakes in ${report.seconds.toFixed(2)} s: ${report.handshakes_per_s.toFixed(1)}/s, ` +
        `${report.handshake_ms.toFixed(2)} ms each (${report.cipher ?? "?"})`
    )
    return lines.join("\n")
  }
  lines.push(
    `  handshake ${report.handshake_ms.toFixed(2)} ms, ${report.cipher ?? "?"}` +
      `${report.resumed ? ", resumed" : ""}${report.zero_rtt === "not attempted" ? "" : `, 0-RTT ${report.zero_rtt}`}`
  )
  lines.push(
    `  ${formatBytes(report.bytes_down)} down, ${formatBytes(report.bytes_up)} up, ${report.streams} requests ` +
      `in ${report.seconds.toFixed(2)} s: ${report.mbps.toFixed(1)} Mbit/s`
  )
  lines.push(`  RTT ${report.rtt_ms.toFixed(2)} ms, ${report.lost_packets} packets lost, path MTU ${report.path_mtu} bytes`)
  if (report.datagrams_sent > 0) lines.push(`  datagrams: ${report.datagrams_received} of ${report.datagrams_sent} echoed`)
  if (report.key_updates > 0) lines.push(`  key updates initiated: ${report.key_updates}`)
  return lines.join("\n")
}

/** The JSON line of a run that failed before it could measure anything. */
export const failedJson = (error: unknown): string => JSON.stringify({ ok: false, error: describeFailure(error) })
