/**
 * QUIC connections as scoped resources. A `Connection` comes from
 * `Endpoint.connect` (client) or `Endpoint.accept` / `Endpoint.incoming`
 * (server); closing its scope closes it with code 0.
 *
 * @since 0.1.0
 */
import type { Effect, Scope, Stream } from "effect"
import type * as Core from "./internal/connection/connection.js"
import type { ConnectionEvent } from "./internal/driver/driver.js"
import type { QuicVersionName } from "./QuicConfig.js"
import type { CloseReason, ConnectionClosedError, DatagramError } from "./QuicError.js"
import type { QuicStream } from "./Stream.js"
import type { SocketAddress } from "./UdpSocket.js"

export type {
  /**
   * Events of a connection other than streams and datagrams:
   * `HandshakeDataReady`, `Connected`, `ZeroRttRejected`,
   * `PeerAddressChanged`, `Closed`.
   *
   * @since 0.1.0
   * @category models
   */
  ConnectionEvent
} from "./internal/driver/driver.js"

/**
 * Counters and estimates of one connection (RFC 9002 names; times in µs;
 * `frames` counts received frames by type).
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionStats extends Core.ConnectionStats {}

/**
 * One QUIC connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  /** The endpoint's handle for this connection. */
  readonly id: number
  readonly side: "client" | "server"
  /** The negotiated application protocol (ALPN). */
  readonly alpn: Effect.Effect<string | undefined>
  /** The negotiated TLS cipher suite by its IANA name (`"TLS_AES_128_GCM_SHA256"`), once known. */
  readonly cipherSuite: Effect.Effect<string | undefined>
  /**
   * The QUIC version the connection is in: the one the client started in,
   * until compatible version negotiation (RFC 9368) moves it; final once
   * the handshake is done. `undefined` once the connection is gone.
   *
   * @since 0.1.0
   */
  readonly version: Effect.Effect<QuicVersionName | undefined>
  /** The peer's certificate chain (DER, leaf first), when it sent one. */
  readonly peerCertificates: Effect.Effect<ReadonlyArray<Uint8Array>>
  /**
   * The peer's address on the current path: it follows a client's NAT
   * rebinding on a server, and on a client the move to a server's preferred
   * address (RFC 9000 §9.6) once the path to it validated.
   */
  readonly remoteAddress: Effect.Effect<SocketAddress | undefined>
  /** Opens a bidirectional stream, waiting while the peer's stream limit is reached; closing the scope finishes it. */
  readonly openBi: Effect.Effect<QuicStream, ConnectionClosedError, Scope.Scope>
  /** Opens a unidirectional (send-only) stream. */
  readonly openUni: Effect.Effect<QuicStream, ConnectionClosedError, Scope.Scope>
  /** The next bidirectional stream the peer opened. */
  readonly acceptBi: Effect.Effect<QuicStream, ConnectionClosedError>
  /** The next unidirectional (receive-only) stream the peer opened. */
  readonly acceptUni: Effect.Effect<QuicStream, ConnectionClosedError>
  /** Every stream the peer opens, bidirectional and unidirectional. */
  readonly incomingStreams: Stream.Stream<QuicStream, ConnectionClosedError>
  /**
   * Sends an unreliable datagram (RFC 9221). With `dropOldWhenFull`, a full
   * queue drops its oldest datagram; otherwise this waits for room.
   */
  readonly sendDatagram: (
    data: Uint8Array,
    options?: { readonly dropOldWhenFull?: boolean }
  ) => Effect.Effect<void, DatagramError | ConnectionClosedError>
  /** Datagrams received, ending when the connection closes. */
  readonly datagrams: Stream.Stream<Uint8Array>
  /**
   * The next datagram received, waiting for one; fails once the connection
   * has closed and every datagram received before was taken.
   *
   * @since 0.1.0
   */
  readonly receiveDatagram: Effect.Effect<Uint8Array, ConnectionClosedError>
  /** The largest datagram payload that fits now (0 when the peer does not accept datagrams). */
  readonly maxDatagramSize: Effect.Effect<number>
  /** Connection events published from the moment the stream is subscribed (earlier ones are not replayed). */
  readonly events: Stream.Stream<ConnectionEvent>
  readonly stats: Effect.Effect<ConnectionStats | undefined>
  /** Closes with an application error code (CONNECTION_CLOSE); later calls do nothing. */
  readonly close: (code?: number | bigint, reason?: string) => Effect.Effect<void>
  /** Resolves with the reason once the connection has closed, for whatever cause. */
  readonly closed: Effect.Effect<CloseReason>
  /** Whether 0-RTT data was sent (client) or received (server) on this connection. */
  readonly is0Rtt: Effect.Effect<boolean>
  /** Whether the server accepted our 0-RTT data; waits for the handshake. */
  readonly accepted0Rtt: Effect.Effect<boolean, ConnectionClosedError>
  /** Whether the handshake resumed an earlier session. */
  readonly resumed: Effect.Effect<boolean>
  /** Starts a 1-RTT key update (RFC 9001 §6); false when it is not allowed yet. */
  readonly updateKeys: Effect.Effect<boolean>
}
