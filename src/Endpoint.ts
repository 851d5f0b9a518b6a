/**
 * QUIC endpoints: one UDP socket that initiates (client) and accepts
 * (server) connections.
 *
 * ```ts
 * import { Effect } from "effect"
 * import * as Endpoint from "effect-quic/Endpoint"
 * import * as NodeCrypto from "effect-quic/NodeCrypto"
 * import * as NodeUdpSocket from "effect-quic/NodeUdpSocket"
 *
 * const program = Effect.gen(function*() {
 *   const endpoint = yield* Endpoint.make({ client: { alpn: ["echo"] } })
 *   const connection = yield* endpoint.connect("127.0.0.1:4433", { serverName: "localhost" })
 *   const stream = yield* connection.openBi
 *   yield* stream.write(new TextEncoder().encode("hello"))
 *   yield* stream.finish
 *   return yield* stream.readToEnd(1 << 20)
 * }).pipe(
 *   Effect.scoped,
 *   Effect.provide(NodeUdpSocket.layer({ address: "127.0.0.1", port: 0, type: "udp4" })),
 *   Effect.provide(NodeCrypto.layer)
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Context, type Effect, Layer, type Scope, type Stream } from "effect"
import type { Connection } from "./Connection.js"
import * as internal from "./internal/driver/endpoint.js"
import type { EndpointConfigInput } from "./QuicConfig.js"
import type { QuicCrypto } from "./QuicCrypto.js"
import type { ConfigError, ConnectError, EndpointRoleError } from "./QuicError.js"
import type { SocketAddress, SocketError, UdpSocket } from "./UdpSocket.js"

/**
 * Options for one outgoing connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  /** The name to verify the server's certificate against and send as SNI; defaults to the host of the address. */
  readonly serverName?: string | undefined
}

/**
 * A QUIC endpoint bound to a socket.
 *
 * @since 0.1.0
 * @category models
 */
export interface Endpoint {
  readonly localAddress: Effect.Effect<SocketAddress>
  /**
   * Connects to a server (`"127.0.0.1:4433"`, `"[::1]:4433"` or an address);
   * resolves once the handshake completes — or at once with 0-RTT, when a
   * ticket allows it (see `Connection.accepted0Rtt`). Closing the scope
   * closes the connection with code 0.
   */
  readonly connect: (
    address: SocketAddress | string,
    options?: ConnectOptions
  ) => Effect.Effect<Connection, ConnectError | EndpointRoleError, Scope.Scope>
  /** The next connection whose handshake completed; closing the scope closes it. */
  readonly accept: Effect.Effect<Connection, EndpointRoleError, Scope.Scope>
  /** Every accepted connection, each living until it closes or the endpoint does. */
  readonly incoming: Stream.Stream<Connection, EndpointRoleError>
  /** Connections alive on this endpoint, handshaking ones included. */
  readonly connectionCount: Effect.Effect<number>
  readonly stats: Effect.Effect<EndpointStats>
}

/**
 * Endpoint-wide counters.
 *
 * @since 0.1.0
 * @category models
 */
export interface EndpointStats {
  readonly connections: number
  /** Datagrams that no connection could use: unparseable, unroutable or refused. */
  readonly droppedDatagrams: number
  /** Datagrams waiting in the core's send queue. */
  readonly sendQueueLength: number
}

/**
 * The endpoint service, for programs that take it from the context.
 *
 * @since 0.1.0
 * @category tags
 */
export const Endpoint: Context.Tag<Endpoint, Endpoint> = Context.GenericTag<Endpoint>("effect-quic/Endpoint")

/**
 * Creates an endpoint on the `UdpSocket` of the context. Closing the scope
 * closes every connection (CONNECTION_CLOSE with code 0 is sent) before the
 * socket is released.
 *
 * A server with `server.preferredAddress` (RFC 9000 §9.6) also binds a
 * socket at each preferred address, of the same kind as the context's
 * (`NodeUdpSocket`: the same options; `MemoryNetwork`: the same network;
 * any other socket: a `ConfigError`), released with the endpoint. It
 * receives on all of them and sends each connection's packets from the
 * address its client validated.
 *
 * With a tracer installed (`Layer.setTracer`, `Effect.withTracer`, an
 * OpenTelemetry layer), each connection is one tracing span,
 * `quic.connection`, under the span current where it is made (`connect`,
 * `accept`, or pulling from `incoming`), until its scope closes
 * (`incoming`: until the connection closes, a failure unless closed with
 * code 0); under Effect's default tracer, whose spans go nowhere, none. Attributes: `quic.side`,
 * `quic.peer`, `quic.alpn`, `quic.cipher`, and a client's
 * `quic.server_name`; a client's span has the event
 * `quic.handshake_complete`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  config: EndpointConfigInput
) => Effect.Effect<Endpoint, ConfigError | SocketError, Scope.Scope | UdpSocket | QuicCrypto> = internal.make

/**
 * A layer providing {@link Endpoint}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: EndpointConfigInput): Layer.Layer<Endpoint, ConfigError | SocketError, UdpSocket | QuicCrypto> =>
  Layer.scoped(Endpoint, make(config))
