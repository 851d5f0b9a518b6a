/**
 * qlog (draft-ietf-quic-qlog-main-schema, qlog_version 0.3, and
 * draft-ietf-quic-qlog-quic-events): the shapes of the event data the
 * connection logs, with the drafts' field names, and the hook through which
 * an endpoint asks for one trace per connection.
 *
 * Times in event data are milliseconds (floats); byte counts and packet
 * numbers are plain numbers; connection IDs, tokens and path data are
 * lowercase hex.
 */

export type QlogSide = "client" | "server"

/** What the qlog factory is told about a new connection. */
export interface QlogInfo {
  readonly side: QlogSide
  /** The Destination Connection ID of the client's first Initial, hex: the same on both sides (the qlog ODCID / group_id). */
  readonly odcid: string
}

/** Receives the records of one trace, each `RS <JSON> LF` (JSON-SEQ, RFC 7464); `close` once, after the last. */
export interface QlogWriter {
  readonly write: (record: string) => void
  readonly close?: (() => void) | undefined
}

/** A bare function is a writer without `close`. */
export type QlogOutput = ((record: string) => void) | QlogWriter

/** Called once per connection; `undefined` leaves that connection unlogged. */
export type QlogFactory = (info: QlogInfo) => QlogOutput | undefined

// ---- common types (quic-events §8) ---------------------------------------------

export type QlogPacketType = "initial" | "handshake" | "0RTT" | "1RTT" | "retry" | "version_negotiation" | "stateless_reset" | "unknown"

export type QlogPacketNumberSpace = "initial" | "handshake" | "application_data"

export interface QlogPacketHeader {
  readonly packet_type: QlogPacketType
  readonly packet_number?: number
  /** Hex, long headers only. */
  readonly version?: string
  readonly dcid?: string
  readonly scid?: string
  readonly token?: { readonly raw: { readonly length: number } }
}

export interface QlogRawInfo {
  /** The whole packet on the wire (header, payload and AEAD tag). */
  readonly length: number
  /** The plaintext frames. */
  readonly payload_length?: number
}

export type QlogStreamType = "bidirectional" | "unidirectional"

export type QlogFrame =
  | { readonly frame_type: "padding"; readonly length: number; readonly payload_length: number }
  | { readonly frame_type: "ping" }
  | {
    readonly frame_type: "ack"
    /** ms */
    readonly ack_delay?: number
    /** Inclusive [smallest, largest] pairs, ascending. */
    readonly acked_ranges: ReadonlyArray<readonly [number, number]>
    readonly ect0?: number
    readonly ect1?: number
    readonly ce?: number
  }
  | { readonly frame_type: "reset_stream"; readonly stream_id: number; readonly error_code?: number | string; readonly final_size?: number }
  | { readonly frame_type: "stop_sending"; readonly stream_id: number; readonly error_code?: number | string }
  | { readonly frame_type: "crypto"; readonly offset: number; readonly length: number }
  | { readonly frame_type: "new_token"; readonly token: { readonly raw: { readonly length: number } } }
  | { readonly frame_type: "stream"; readonly stream_id: number; readonly offset: number; readonly length: number; readonly fin: boolean }
  | { readonly frame_type: "max_data"; readonly maximum: number | string }
  | { readonly frame_type: "max_stream_data"; readonly stream_id: number; readonly maximum: number | string }
  | { readonly frame_type: "max_streams"; readonly stream_type: QlogStreamType; readonly maximum: number | string }
  | { readonly frame_type: "data_blocked"; readonly limit: number | string }
  | { readonly frame_type: "stream_data_blocked"; readonly stream_id: number; readonly limit: number | string }
  | { readonly frame_type: "streams_blocked"; readonly stream_type: QlogStreamType; readonly limit: number | string }
  | {
    readonly frame_type: "new_connection_id"
    readonly sequence_number: number
    readonly retire_prior_to?: number
    readonly connection_id_length?: number
    readonly connection_id?: string
    readonly stateless_reset_token?: string
  }
  | { readonly frame_type: "retire_connection_id"; readonly sequence_number: number }
  | { readonly frame_type: "path_challenge"; readonly data: string }
  | { readonly frame_type: "path_response"; readonly data: string }
  | {
    readonly frame_type: "connection_close"
    readonly error_space: "transport" | "application"
    /** The transport error's name (crypto_error_0x1NN for TLS alerts), or the application's code. */
    readonly error_code: number | string
    readonly raw_error_code: number | string
    readonly reason: string
    readonly trigger_frame_type?: number | string
  }
  | { readonly frame_type: "handshake_done" }
  | { readonly frame_type: "datagram"; readonly length: number }

// ---- events ---------------------------------------------------------------------

/** connectivity:connection_state_updated (quic-events §5.6). */
export type QlogConnectionState =
  | "attempted"
  | "peer_validated"
  | "handshake_started"
  | "early_write"
  | "handshake_complete"
  | "handshake_confirmed"
  | "closing"
  | "draining"
  | "closed"

/** security:key_updated / key_discarded (quic-events §6). */
export type QlogKeyType = `${QlogSide}_${"initial" | "handshake" | "0rtt" | "1rtt"}_secret`

export type QlogKeyTrigger = "tls" | "remote_update" | "local_update"

/** recovery:packet_lost (quic-events §7.5). */
export type QlogLossTrigger = "reordering_threshold" | "time_threshold" | "pto_expired"

/** The recovery:metrics_updated fields (quic-events §7.2), in the core's units: µs and bytes. */
export interface RecoveryMetrics {
  readonly minRtt: number
  readonly smoothedRtt: number
  readonly latestRtt: number
  readonly rttVariance: number
  readonly congestionWindow: number
  readonly bytesInFlight: number
  /** Infinity before the first congestion event: not logged then. */
  readonly ssthresh: number
  readonly ptoCount: number
}
