/**
 * One connection's qlog trace: typed methods for the events the connection
 * logs (draft-ietf-quic-qlog-quic-events names and fields), written as
 * JSON-SEQ records to the writer the endpoint's qlog factory returned.
 *
 * The connection holds `QlogTrace | undefined` and tests it before building
 * any event, so a connection without qlog pays one comparison per site.
 * Every method takes the core's `now` (µs); times written are ms since the
 * connection started, never decreasing. A writer that throws ends the trace
 * (the core never throws on account of logging).
 */
import type { CloseReason } from "../events.js"
import { toHex } from "../codec/hex.js"
import type { TransportParameters } from "../tls/transportParameters.js"
import { transportErrorName } from "./frames.js"
import { eventRecord, headerRecord } from "./jsonSeq.js"
import type {
  QlogConnectionState,
  QlogFactory,
  QlogFrame,
  QlogKeyTrigger,
  QlogKeyType,
  QlogLossTrigger,
  QlogPacketHeader,
  QlogPacketNumberSpace,
  QlogSide,
  RecoveryMetrics
} from "./types.js"

const ms = (micros: number): number => micros / 1000

const versionHex = (version: number): string => (version >>> 0).toString(16).padStart(8, "0")

export interface QlogStart {
  readonly side: QlogSide
  readonly odcid: Uint8Array
  /** µs: the connection's creation, time 0 of the trace. */
  readonly now: number
  /** The Unix time in ms of `now`: the trace's reference_time. */
  readonly unixMillis: number
}

export class QlogTrace {
  /** The latest `now` seen, for events raised where the caller has no clock reading. */
  lastNow: number
  private readonly start: number
  private readonly writeRecord: (record: string) => void
  private readonly closeWriter: (() => void) | undefined
  /** The writer threw: nothing more is written. */
  private failed = false
  private ended = false
  private state: QlogConnectionState | undefined
  // recovery:metrics_updated logs only what changed (quic-events §7.2).
  private minRtt = -1
  private smoothedRtt = -1
  private latestRtt = -1
  private rttVariance = -1
  private congestionWindow = -1
  private bytesInFlight = -1
  private ssthresh = -1
  private ptoCount = -1

  private constructor(start: QlogStart, write: (record: string) => void, close: (() => void) | undefined) {
    this.start = start.now
    this.lastNow = start.now
    this.writeRecord = write
    this.closeWriter = close
  }

  /** Asks the factory for a writer; undefined (no trace) when it declines or fails. */
  static open(factory: QlogFactory, start: QlogStart): QlogTrace | undefined {
    const odcid = toHex(start.odcid)
    let output
    try {
      output = factory({ side: start.side, odcid })
    } catch {
      return undefined
    }
    if (output === undefined) return undefined
    const trace = typeof output === "function"
      ? new QlogTrace(start, output, undefined)
      : new QlogTrace(start, (record) => output.write(record), output.close === undefined ? undefined : () => output.close!())
    trace.write(headerRecord({ side: start.side, odcid, referenceTime: start.unixMillis }))
    return trace
  }

  private write(record: string): void {
    try {
      this.writeRecord(record)
    } catch {
      this.failed = true
    }
  }

  /** Moves the trace's clock forward (events logged without a clock reading use it). */
  advance(now: number): void {
    if (now > this.lastNow) this.lastNow = now
  }

  /** Writes one event at `now` (µs). */
  event(now: number, name: string, data: object): void {
    if (this.ended || this.failed) return
    if (now > this.lastNow) this.lastNow = now
    let record: string
    try {
      record = eventRecord(ms(this.lastNow - this.start), name, data)
    } catch {
      return
    }
    this.write(record)
  }

  // ---- connectivity ---------------------------------------------------------------

  /** The peer's address is `dst`; the local one is the endpoint's, not known here. */
  connectionStarted(now: number, remote: { readonly address: string; readonly port: number }, srcCid: Uint8Array, dstCid: Uint8Array): void {
    this.event(now, "connectivity:connection_started", {
      ip_version: remote.address.includes(":") ? "ipv6" : "ipv4",
      dst_ip: remote.address,
      dst_port: remote.port,
      protocol: "QUIC",
      src_cid: toHex(srcCid),
      dst_cid: toHex(dstCid)
    })
  }

  stateUpdated(now: number, state: QlogConnectionState): void {
    if (state === this.state) return
    const old = this.state
    this.state = state
    this.event(now, "connectivity:connection_state_updated", old === undefined ? { new: state } : { old, new: state })
  }

  connectionClosed(now: number, reason: CloseReason): void {
    switch (reason._tag) {
      case "LocallyClosed":
        return this.event(now, "connectivity:connection_closed", {
          owner: "local",
          application_code: Number(reason.code),
          reason: reason.reason,
          trigger: "application"
        })
      case "ApplicationClosed":
        return this.event(now, "connectivity:connection_closed", {
          owner: "remote",
          application_code: Number(reason.code),
          reason: reason.reason,
          trigger: "application"
        })
      case "TransportError":
        return this.event(now, "connectivity:connection_closed", {
          owner: reason.remote ? "remote" : "local",
          connection_code: transportErrorName(reason.code),
          reason: reason.reason,
          trigger: reason.code === 0 ? "clean" : "error"
        })
      case "TimedOut":
        return this.event(now, "connectivity:connection_closed", { owner: "local", trigger: "idle_timeout" })
      case "Reset":
        return this.event(now, "connectivity:connection_closed", { owner: "remote", trigger: "stateless_reset" })
      case "VersionMismatch":
        return this.event(now, "connectivity:connection_closed", { owner: "remote", trigger: "version_mismatch" })
      case "EndpointClosed":
        return this.event(now, "connectivity:connection_closed", { owner: "local", trigger: "clean" })
    }
  }

  // ---- transport --------------------------------------------------------------------

  versionInformation(now: number, side: QlogSide, supported: ReadonlyArray<number>, chosen: number | undefined): void {
    const versions = supported.map(versionHex)
    this.event(now, "transport:version_information", {
      ...(side === "client" ? { client_versions: versions } : { server_versions: versions }),
      ...(chosen === undefined ? {} : { chosen_version: versionHex(chosen) })
    })
  }

  parametersSet(now: number, owner: "local" | "remote", p: TransportParameters, tlsCipher?: string): void {
    const hex = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : toHex(bytes))
    const data: Record<string, unknown> = {
      owner,
      ...(tlsCipher === undefined ? {} : { tls_cipher: tlsCipher }),
      original_destination_connection_id: hex(p.originalDestinationConnectionId),
      initial_source_connection_id: hex(p.initialSourceConnectionId),
      retry_source_connection_id: hex(p.retrySourceConnectionId),
      stateless_reset_token: hex(p.statelessResetToken),
      disable_active_migration: p.disableActiveMigration,
      max_idle_timeout: p.maxIdleTimeout,
      max_udp_payload_size: p.maxUdpPayloadSize,
      ack_delay_exponent: p.ackDelayExponent,
      max_ack_delay: p.maxAckDelay,
      active_connection_id_limit: p.activeConnectionIdLimit,
      initial_max_data: p.initialMaxData,
      initial_max_stream_data_bidi_local: p.initialMaxStreamDataBidiLocal,
      initial_max_stream_data_bidi_remote: p.initialMaxStreamDataBidiRemote,
      initial_max_stream_data_uni: p.initialMaxStreamDataUni,
      initial_max_streams_bidi: p.initialMaxStreamsBidi,
      initial_max_streams_uni: p.initialMaxStreamsUni,
      max_datagram_frame_size: p.maxDatagramFrameSize
    }
    const pa = p.preferredAddress
    if (pa !== undefined) {
      data["preferred_address"] = {
        ip_v4: [...pa.ipv4Address].join("."),
        port_v4: pa.ipv4Port,
        ip_v6: toHex(pa.ipv6Address),
        port_v6: pa.ipv6Port,
        connection_id: toHex(pa.connectionId),
        stateless_reset_token: toHex(pa.statelessResetToken)
      }
    }
    this.event(now, "transport:parameters_set", data)
  }

  packetSent(now: number, header: QlogPacketHeader, frames: ReadonlyArray<QlogFrame>, length: number, payloadLength: number): void {
    this.event(now, "transport:packet_sent", { header, frames, raw: { length, payload_length: payloadLength } })
  }

  packetReceived(now: number, header: QlogPacketHeader, frames: ReadonlyArray<QlogFrame>, length: number, payloadLength?: number): void {
    this.event(now, "transport:packet_received", {
      header,
      frames,
      raw: payloadLength === undefined ? { length } : { length, payload_length: payloadLength }
    })
  }

  /** A Version Negotiation packet arrived (its list of versions is the server's). */
  versionNegotiationReceived(now: number, length: number, versions: ReadonlyArray<number>): void {
    this.event(now, "transport:packet_received", {
      header: { packet_type: "version_negotiation" },
      supported_versions: versions.map(versionHex),
      raw: { length }
    })
  }

  packetsAcked(now: number, space: QlogPacketNumberSpace, packetNumbers: ReadonlyArray<number>): void {
    this.event(now, "transport:packets_acked", { packet_number_space: space, packet_numbers: packetNumbers })
  }

  // ---- recovery -------------------------------------------------------------------

  packetLost(
    now: number,
    header: QlogPacketHeader,
    frames: ReadonlyArray<QlogFrame>,
    trigger: QlogLossTrigger | undefined,
    mtuProbe: boolean
  ): void {
    this.event(now, "recovery:packet_lost", {
      header,
      frames,
      ...(trigger === undefined ? {} : { trigger }),
      ...(mtuProbe ? { is_mtu_probe_packet: true } : {})
    })
  }

  /** recovery:metrics_updated with the fields that changed since the last one; nothing when none did. */
  metricsUpdated(now: number, m: RecoveryMetrics): void {
    if (this.ended || this.failed) return
    let data: Record<string, number> | undefined
    // min_rtt and latest_rtt are 0 until the first RTT sample: nothing to report then.
    if (m.minRtt !== this.minRtt && m.minRtt > 0) (data ??= {})["min_rtt"] = ms(this.minRtt = m.minRtt)
    if (m.smoothedRtt !== this.smoothedRtt) (data ??= {})["smoothed_rtt"] = ms(this.smoothedRtt = m.smoothedRtt)
    if (m.latestRtt !== this.latestRtt && m.latestRtt > 0) (data ??= {})["latest_rtt"] = ms(this.latestRtt = m.latestRtt)
    if (m.rttVariance !== this.rttVariance) (data ??= {})["rtt_variance"] = ms(this.rttVariance = m.rttVariance)
    if (m.congestionWindow !== this.congestionWindow) (data ??= {})["congestion_window"] = this.congestionWindow = m.congestionWindow
    if (m.bytesInFlight !== this.bytesInFlight) (data ??= {})["bytes_in_flight"] = this.bytesInFlight = m.bytesInFlight
    if (m.ssthresh !== this.ssthresh && Number.isFinite(m.ssthresh)) (data ??= {})["ssthresh"] = this.ssthresh = m.ssthresh
    if (m.ptoCount !== this.ptoCount) (data ??= {})["pto_count"] = this.ptoCount = m.ptoCount
    if (data !== undefined) this.event(now, "recovery:metrics_updated", data)
  }

  // ---- security -------------------------------------------------------------------

  keyUpdated(now: number, keyType: QlogKeyType, trigger: QlogKeyTrigger, generation?: number): void {
    this.event(now, "security:key_updated", generation === undefined ? { key_type: keyType, trigger } : { key_type: keyType, generation, trigger })
  }

  keyDiscarded(now: number, keyType: QlogKeyType): void {
    this.event(now, "security:key_discarded", { key_type: keyType, trigger: "tls" })
  }

  // ---- end --------------------------------------------------------------------------

  /** The connection is gone: logs the closed state and closes the writer. Later calls do nothing. */
  end(now: number): void {
    if (this.ended) return
    this.stateUpdated(now, "closed")
    this.ended = true
    try {
      this.closeWriter?.()
    } catch {
      // The trace is over either way.
    }
  }
}
