import type { SocketAddress } from "./address.js"
import type { NamedGroup, PrivateKey } from "./crypto/backend.js"
import type { CipherSuite } from "./crypto/suite.js"
import { cipherSuites } from "./crypto/suite.js"
import type { QlogFactory } from "./qlog/types.js"
import { kInitialRtt } from "./recovery/rtt.js"
import type { CertificateVerifier } from "./tls/session.js"
import type { TicketStore } from "./tls/ticket.js"

/**
 * Settings of the sans-IO core. Times are in the units the RFC fields use
 * (milliseconds) unless the name says µs; sizes in bytes.
 */
export interface TransportConfig {
  /** RFC 9000 §10.1: ms; 0 disables our side of the idle timeout. */
  readonly maxIdleTimeout: number
  /** Send a PING when nothing else was sent for this long (µs), keeping the connection alive; 0 disables. */
  readonly keepAliveInterval: number
  /** Initial connection-level receive window (initial_max_data). */
  readonly initialMaxData: number
  /** Initial per-stream receive window. */
  readonly initialMaxStreamData: number
  /** The receive windows grow with the measured bandwidth-delay product up to these. */
  readonly maxConnectionWindow: number
  readonly maxStreamWindow: number
  /** Peer-initiated streams open at once (initial_max_streams_*). */
  readonly maxConcurrentBidiStreams: number
  readonly maxConcurrentUniStreams: number
  /** Bytes the application may queue per stream beyond what flow control lets out. */
  readonly streamSendBuffer: number
  /** RFC 9221: the largest DATAGRAM frame we accept; undefined disables datagrams. */
  readonly maxDatagramFrameSize: number | undefined
  readonly datagramSendBuffer: number
  /**
   * RFC 9002 §6.2.2: the RTT assumed before the first sample, µs (the first
   * PTO is three times it).
   */
  readonly initialRtt: number
  /** RFC 9000 §18.2. */
  readonly ackDelayExponent: number
  /** ms */
  readonly maxAckDelay: number
  readonly activeConnectionIdLimit: number
  readonly congestionController: "cubic" | "newreno"
  /** Upper bound of path MTU discovery (UDP payload bytes); 1200 disables probing above the minimum. */
  readonly maxUdpPayloadSize: number
  readonly mtuDiscovery: boolean
  /** Initiate a 1-RTT key update after this many packets under one key (also forced by the AEAD limits). */
  readonly keyUpdateInterval: number | undefined
  readonly disableActiveMigration: boolean
}

export const defaultTransportConfig: TransportConfig = {
  maxIdleTimeout: 30_000,
  keepAliveInterval: 0,
  initialMaxData: 1 << 20,
  initialMaxStreamData: 256 * 1024,
  maxConnectionWindow: 24 << 20,
  maxStreamWindow: 16 << 20,
  maxConcurrentBidiStreams: 100,
  maxConcurrentUniStreams: 100,
  streamSendBuffer: 1 << 20,
  maxDatagramFrameSize: 65535,
  datagramSendBuffer: 1 << 20,
  initialRtt: kInitialRtt,
  ackDelayExponent: 3,
  maxAckDelay: 25,
  activeConnectionIdLimit: 4,
  congestionController: "cubic",
  maxUdpPayloadSize: 1452,
  mtuDiscovery: true,
  keyUpdateInterval: undefined,
  disableActiveMigration: false
}

/** TLS settings shared by both roles. */
export interface CryptoConfig {
  readonly cipherSuites: ReadonlyArray<CipherSuite>
  readonly groups: ReadonlyArray<NamedGroup>
  readonly alpn: ReadonlyArray<string>
  /** NSS key-log lines (SSLKEYLOGFILE). */
  readonly keyLog?: ((line: string) => void) | undefined
}

export const defaultCryptoConfig: CryptoConfig = {
  cipherSuites,
  groups: ["x25519", "secp256r1"],
  alpn: []
}

export interface ServerConfig extends CryptoConfig {
  readonly certificateChain: ReadonlyArray<Uint8Array>
  readonly privateKey: PrivateKey
  readonly clientAuth?: "none" | "optional" | "required" | undefined
  readonly clientVerifier?: CertificateVerifier | undefined
  /** Send Retry to validate client addresses before any handshake work (RFC 9000 §8.1.2). */
  readonly retry: boolean
  /** Issue session tickets, and whether they allow 0-RTT. */
  readonly tickets: { readonly count: number; readonly lifetime: number; readonly earlyData: boolean } | undefined
  /** Key sealing tickets and tokens (32 bytes); random per endpoint when absent. */
  readonly secretKey?: Uint8Array | undefined
  /** Send a NEW_TOKEN after the handshake so the client can skip Retry next time. */
  readonly newTokens: boolean
  /** Most connections at once, and most still handshaking (a Retry is sent or the Initial dropped beyond). */
  readonly maxConnections: number
  readonly maxHandshakes: number
  /**
   * The QUIC version numbers this server speaks, most preferred first. A
   * client whose first Initial is in one of them and whose version_information
   * offers a version listed before it is moved to that version by compatible
   * negotiation (RFC 9368 §2.3); an Initial of an unlisted version gets
   * Version Negotiation listing these (RFC 9000 §6.1). Undefined: every
   * supported version, and each client is answered in the version it started in.
   */
  readonly versions?: ReadonlyArray<number> | undefined
  /**
   * RFC 9000 §9.6: addresses (at most one per family) offered to clients in
   * the preferred_address transport parameter. The endpoint must receive on
   * them: datagrams arriving there are handed to `handleDatagram` with that
   * `local` address, and packets of a connection whose path moved there carry
   * it as their `source`.
   */
  readonly preferredAddress?: { readonly ipv4?: SocketAddress | undefined; readonly ipv6?: SocketAddress | undefined } | undefined
}

export interface ClientConfig extends CryptoConfig {
  readonly verifier: CertificateVerifier
  readonly clientCertificate?: { readonly chain: ReadonlyArray<Uint8Array>; readonly key: PrivateKey } | undefined
  /** Tickets from earlier connections; resumption is attempted when one is present. */
  readonly ticketStore?: TicketStore | undefined
  /** Default true. False: no tickets are asked for, kept or offered (`ticketStore` is not used). */
  readonly resumption?: boolean | undefined
  /** Send 0-RTT data when a ticket allows it. */
  readonly earlyData: boolean
  /** The QUIC version to start with; the other supported one is accepted by compatible negotiation. */
  readonly version: number
  /**
   * RFC 9000 §9.6.1: move to the server's preferred address once the
   * handshake is confirmed (after validating the path to it). Default true.
   */
  readonly migrateToPreferredAddress?: boolean | undefined
}

export interface EndpointConfig {
  readonly transport: TransportConfig
  readonly server?: ServerConfig | undefined
  readonly client?: ClientConfig | undefined
  /** Length of the connection IDs we issue (RFC 9000 §5.1: 0–20; we need at least 4 to route). */
  readonly connectionIdLength: number
  /** Datagrams the send queue holds before the endpoint stops pulling from connections. */
  readonly sendQueueCapacity: number
  /** How many equal-size datagrams one OutgoingPacket may carry (GSO-style batching). */
  readonly maxTransmitDatagrams: number
  /** Seed for deterministic runs (tests); the crypto backend's generator otherwise. */
  readonly rngSeed?: number | undefined
  /** Wall-clock Unix milliseconds for a core time `now` (certificate validity, ticket ages). */
  readonly unixMillis: (now: number) => number
  /** qlog: asked once per connection for where its JSON-SEQ trace goes (src/internal/qlog/). */
  readonly qlog?: QlogFactory | undefined
}
