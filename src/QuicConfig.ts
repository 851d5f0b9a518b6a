/**
 * Endpoint configuration as `effect/Schema` schemas: decode a plain object
 * (from JSON, a CLI, environment…) and get either a typed configuration or a
 * `ConfigError` that names the field.
 *
 * Certificates and keys are PEM text or paths to PEM files (read through
 * @effect/platform's `FileSystem` when one is provided).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

const Positive = Schema.Number.pipe(Schema.int(), Schema.positive())
const NonNegative = Schema.Number.pipe(Schema.int(), Schema.nonNegative())

/**
 * The application protocols to offer or accept, in order of preference
 * (ALPN is mandatory in QUIC, RFC 9001 §8.1).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Alpn = Schema.Array(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(255))).pipe(Schema.minItems(1))

/**
 * TLS 1.3 cipher suites by short name.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CipherSuiteName = Schema.Literal("aes128gcm", "aes256gcm", "chacha20")

/**
 * @since 0.1.0
 * @category models
 */
export type CipherSuiteName = typeof CipherSuiteName.Type

/**
 * Key-exchange groups.
 *
 * @since 0.1.0
 * @category schemas
 */
export const GroupName = Schema.Literal("x25519", "secp256r1")

/**
 * QUIC versions by short name: `v1` (RFC 9000) and `v2` (RFC 9369).
 *
 * @since 0.1.0
 * @category schemas
 */
export const QuicVersionName = Schema.Literal("v1", "v2")

/**
 * @since 0.1.0
 * @category models
 */
export type QuicVersionName = typeof QuicVersionName.Type

const KeyLog = Schema.declare((u: unknown): u is (line: string) => void => typeof u === "function", {
  identifier: "KeyLogCallback",
  description: "a function receiving NSS key-log lines"
})

/**
 * Where one connection's qlog trace goes: a function receiving each record,
 * or an object whose `close` is called once after the last record, when the
 * endpoint lets the connection go. Records are JSON-SEQ (RFC 7464): `"\x1e"`,
 * one JSON text, `"\n"`; the first is the header (qlog_version 0.3).
 *
 * @since 0.1.0
 * @category models
 */
export type QlogWriter =
  | ((record: string) => void)
  | { readonly write: (record: string) => void; readonly close?: (() => void) | undefined }

/**
 * Called once per connection with its side and original Destination
 * Connection ID (hex, the same at both ends); returns where its trace goes,
 * or `undefined` to leave that connection unlogged. `NodeQlog.dir(path)`
 * writes one file per connection.
 *
 * @since 0.1.0
 * @category models
 */
export type QlogFactory = (info: { readonly side: "client" | "server"; readonly odcid: string }) => QlogWriter | undefined

const Qlog = Schema.declare((u: unknown): u is QlogFactory => typeof u === "function", {
  identifier: "QlogFactory",
  description: "a function returning a qlog record writer for each connection"
})

/**
 * Accepts (`undefined`) or rejects (a reason) the peer's certificate chain
 * (DER, leaf first), replacing the built-in verification.
 *
 * @since 0.1.0
 * @category models
 */
export type CertificateVerifier = (
  chain: ReadonlyArray<Uint8Array>,
  context: { readonly serverName: string | undefined; readonly unixMillis: number }
) => string | undefined

const Verifier = Schema.declare((u: unknown): u is CertificateVerifier => typeof u === "function", {
  identifier: "CertificateVerifier"
})

/**
 * Transport settings (RFC 9000 §18.2 parameters and local policies).
 *
 * @since 0.1.0
 * @category schemas
 */
export const TransportConfig = Schema.Struct({
  /** Milliseconds without any packet before the connection is closed; 0 disables (RFC 9000 §10.1). */
  idleTimeoutMillis: Schema.optionalWith(NonNegative, { default: () => 30_000 }),
  /** Milliseconds between keep-alive PINGs when otherwise idle; 0 disables. */
  keepAliveMillis: Schema.optionalWith(NonNegative, { default: () => 0 }),
  /**
   * The round-trip time assumed before the first measurement, milliseconds
   * (RFC 9002 §6.2.2: 333 by default). The first flight is sent again after
   * three times it when nothing comes back, so a lower value recovers a lost
   * first packet sooner on a network known to be fast, and sends it twice
   * for nothing on a slower one.
   */
  initialRttMillis: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1, 60_000)), { default: () => 333 }),
  initialConnectionWindow: Schema.optionalWith(Positive, { default: () => 1 << 20 }),
  initialStreamWindow: Schema.optionalWith(Positive, { default: () => 256 * 1024 }),
  maxConnectionWindow: Schema.optionalWith(Positive, { default: () => 24 << 20 }),
  maxStreamWindow: Schema.optionalWith(Positive, { default: () => 16 << 20 }),
  maxConcurrentBidiStreams: Schema.optionalWith(NonNegative, { default: () => 100 }),
  maxConcurrentUniStreams: Schema.optionalWith(NonNegative, { default: () => 100 }),
  streamSendBuffer: Schema.optionalWith(Positive, { default: () => 1 << 20 }),
  /** Largest DATAGRAM frame accepted (RFC 9221); 0 disables datagrams. */
  maxDatagramFrameSize: Schema.optionalWith(NonNegative, { default: () => 65535 }),
  datagramSendBuffer: Schema.optionalWith(Positive, { default: () => 1 << 20 }),
  /** Received datagrams waiting for the application; beyond it the oldest are dropped (they are unreliable). */
  datagramReceiveQueue: Schema.optionalWith(Positive, { default: () => 1024 }),
  congestionController: Schema.optionalWith(Schema.Literal("cubic", "newreno"), { default: () => "cubic" as const }),
  /** Upper bound of path MTU discovery, UDP payload bytes (RFC 9000 §14). */
  maxUdpPayloadSize: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1200, 65527)), { default: () => 1452 }),
  mtuDiscovery: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** Initiate a 1-RTT key update after this many packets (RFC 9001 §6). */
  keyUpdateInterval: Schema.optional(Positive),
  disableActiveMigration: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  activeConnectionIdLimit: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(2, 8)), { default: () => 4 })
})

/**
 * @since 0.1.0
 * @category models
 */
export type TransportConfig = typeof TransportConfig.Type

const ipv4Address = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/
const ipv6Address = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/

const portOk = (port: string) => Number(port) <= 65535

/**
 * An IPv4 address and port, `"192.0.2.1:4434"` (port 0: any free port).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Ipv4SocketAddress = Schema.String.pipe(
  Schema.filter((s) => {
    const m = ipv4Address.exec(s)
    return m !== null && m.slice(1, 5).every((octet) => Number(octet) <= 255) && portOk(m[5]!)
  }, { message: () => "an IPv4 address and port, like \"192.0.2.1:4434\"" })
)

/**
 * An IPv6 address and port, `"[2001:db8::1]:4434"` (port 0: any free port).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Ipv6SocketAddress = Schema.String.pipe(
  Schema.filter((s) => {
    const m = ipv6Address.exec(s)
    return m !== null && m[1]!.includes(":") && portOk(m[2]!)
  }, { message: () => "an IPv6 address in brackets and a port, like \"[2001:db8::1]:4434\"" })
)

/**
 * A server's preferred address (RFC 9000 §9.6): an IPv4 and/or an IPv6
 * address with a port, offered to clients in the preferred_address
 * transport parameter. The endpoint binds a second socket of the same kind
 * as its own (`NodeUdpSocket` or `MemoryNetwork`) at each address and
 * receives and sends there too; port 0 binds a free port, which is then the
 * one offered. Clients move there after the handshake; the server itself
 * never moves a connection (§9.6.1), it answers on the path the client
 * validated.
 *
 * @since 0.1.0
 * @category schemas
 */
export const PreferredAddress = Schema.Struct({
  ipv4: Schema.optional(Ipv4SocketAddress),
  ipv6: Schema.optional(Ipv6SocketAddress)
}).pipe(Schema.filter((p) => p.ipv4 !== undefined || p.ipv6 !== undefined, { message: () => "an ipv4 or an ipv6 address" }))

/**
 * Server settings.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ServerConfig = Schema.Struct({
  /** PEM certificate chain (leaf first), or a path to one. */
  certificate: Schema.String,
  /** PEM private key (PKCS#8, SEC1 or PKCS#1), or a path to one. */
  privateKey: Schema.String,
  alpn: Alpn,
  /** Validate client addresses with Retry before any handshake work (RFC 9000 §8.1.2). */
  retry: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** Mutual TLS. */
  clientAuth: Schema.optionalWith(Schema.Literal("none", "optional", "required"), { default: () => "none" as const }),
  /** PEM CA certificates (or a path) that client certificates must chain to. */
  clientCa: Schema.optional(Schema.String),
  sessionTickets: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** Accept 0-RTT data on resumed connections (RFC 9001 §4.6). */
  earlyData: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  newTokens: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  maxConnections: Schema.optionalWith(Positive, { default: () => 10_000 }),
  maxHandshakes: Schema.optionalWith(Positive, { default: () => 1_000 }),
  /**
   * The QUIC versions this server speaks, most preferred first, e.g.
   * `["v2", "v1"]`. A client that starts in one of them and lists a more
   * preferred one in its version_information is moved to it by compatible
   * version negotiation (RFC 9368 §2.3; v1 and v2 are compatible, RFC 9369 §4);
   * a client in a version not listed gets Version Negotiation. Absent (the
   * default): both versions, and every client is answered in the version it
   * started in.
   */
  versions: Schema.optional(Schema.Array(QuicVersionName).pipe(Schema.minItems(1))),
  /** Addresses clients are asked to move to after the handshake (RFC 9000 §9.6); see {@link PreferredAddress}. */
  preferredAddress: Schema.optional(PreferredAddress)
})

/**
 * @since 0.1.0
 * @category models
 */
export type ServerConfig = typeof ServerConfig.Type

/**
 * Client settings.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ClientConfig = Schema.Struct({
  alpn: Alpn,
  /** PEM CA certificates (or a path) to trust instead of the system roots. */
  ca: Schema.optional(Schema.String),
  /** Accept any server certificate. Never the default; for tests and explicit opt-in. */
  insecure: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** A custom verifier replacing the built-in one. */
  verifyCertificate: Schema.optional(Verifier),
  /** Client certificate for mutual TLS. */
  certificate: Schema.optional(Schema.String),
  privateKey: Schema.optional(Schema.String),
  /**
   * Keep the server's session tickets and resume with them (RFC 8446 §2.2);
   * false makes every handshake a full one, and the client then asks for no
   * tickets (no psk_key_exchange_modes), so servers issue none.
   */
  resumption: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** Send 0-RTT data when resuming with a ticket that allows it. */
  earlyData: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /**
   * The QUIC version of the first Initial; the other is offered in
   * version_information, and followed when the server moves us to it (RFC 9368).
   */
  version: Schema.optionalWith(QuicVersionName, { default: () => "v1" as const }),
  /**
   * Move to the server's preferred address, in the address family in use,
   * once the handshake is confirmed and the path to it validates (RFC 9000
   * §9.6.1). `transport.disableActiveMigration` also keeps the client where
   * it is.
   */
  migrateToPreferredAddress: Schema.optionalWith(Schema.Boolean, { default: () => true })
})

/**
 * @since 0.1.0
 * @category models
 */
export type ClientConfig = typeof ClientConfig.Type

/**
 * Everything an endpoint needs. An endpoint may be a server, a client, or both.
 *
 * @since 0.1.0
 * @category schemas
 */
export const EndpointConfig = Schema.Struct({
  server: Schema.optional(ServerConfig),
  client: Schema.optional(ClientConfig),
  transport: Schema.optionalWith(TransportConfig, { default: () => Schema.decodeSync(TransportConfig)({}) }),
  /**
   * TLS 1.3 cipher suites in order of preference: a client offers them in this
   * order, a server picks its first one the client offers. ChaCha20-Poly1305
   * comes first by default because it is the fastest suite of both crypto
   * layers: `NodeCrypto` runs it in WebAssembly, about three times cheaper per
   * packet than node:crypto's AES-GCM, and noble's ChaCha20 is about three
   * times faster than its AES. Initial packets always use AES-128-GCM
   * (RFC 9001 §5.2).
   */
  cipherSuites: Schema.optionalWith(Schema.Array(CipherSuiteName).pipe(Schema.minItems(1)), {
    default: () => ["chacha20", "aes128gcm", "aes256gcm"] as const
  }),
  groups: Schema.optionalWith(Schema.Array(GroupName).pipe(Schema.minItems(1)), { default: () => ["x25519", "secp256r1"] as const }),
  /** Length of the connection IDs this endpoint issues (4–20 bytes). */
  connectionIdLength: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(4, 20)), { default: () => 8 }),
  /** Datagrams per socket batch (GSO-style). */
  maxTransmitDatagrams: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(1, 64)), { default: () => 10 }),
  sendQueueCapacity: Schema.optionalWith(Positive, { default: () => 256 }),
  /** Deterministic randomness for tests. */
  rngSeed: Schema.optional(Schema.Number),
  /** Receives NSS key-log lines (SSLKEYLOGFILE format) for every connection. */
  keyLog: Schema.optional(KeyLog),
  /** qlog (draft-ietf-quic-qlog, JSON-SEQ): a trace writer for each connection; see `NodeQlog.dir`. */
  qlog: Schema.optional(Qlog)
})

/**
 * @since 0.1.0
 * @category models
 */
export type EndpointConfig = typeof EndpointConfig.Type

/**
 * The configuration as written by users: every defaulted field optional.
 *
 * @since 0.1.0
 * @category models
 */
export type EndpointConfigInput = typeof EndpointConfig.Encoded
