/**
 * The {@link UdpSocket} service over `node:dgram`, for IPv4 (`udp4`) and
 * IPv6 (`udp6`).
 *
 * The socket is bound when the layer (or the scope of {@link make}) is built
 * and closed when it is released. Received datagrams go through a bounded
 * queue: when the reader falls behind, new datagrams are dropped, as the
 * kernel would drop them, and counted in {@link NodeUdpSocket.stats}.
 * `send` hands every datagram of a batch (GSO-style batches are split into
 * `segmentSize` datagrams) to the socket and completes when Node has
 * reported each of them sent: that wait is the back-pressure. It resumes on
 * the next turn of the event loop, so a sender that never waits still lets
 * the process read its sockets (Node reports loopback sends done before
 * polling for I/O; without the turn, peers in one process drop each other's
 * datagrams).
 *
 * @example
 * ```ts
 * import * as NodeUdpSocket from "effect-quic/NodeUdpSocket"
 *
 * const SocketLive = NodeUdpSocket.layer({ address: "::1", port: 4433, type: "udp6" })
 * ```
 *
 * @since 0.1.0
 */
import type { Effect, Layer, Scope } from "effect"
import * as internal from "./internal/driver/platform/nodeUdpSocket.js"
import type { SocketError, UdpSocket, UdpSocketService } from "./UdpSocket.js"

/**
 * How to bind the socket.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The local IP literal to bind to (`"127.0.0.1"`, `"::1"`, `"0.0.0.0"`, `"::"`). */
  readonly address: string
  /** The local port; 0 lets the system choose one (read it from `localAddress`). */
  readonly port: number
  /** `"udp4"` for IPv4, `"udp6"` for IPv6. */
  readonly type: "udp4" | "udp6"
  /** The kernel receive buffer (SO_RCVBUF), in bytes. The system may cap it. */
  readonly recvBufferSize?: number | undefined
  /** The kernel send buffer (SO_SNDBUF), in bytes. The system may cap it. */
  readonly sendBufferSize?: number | undefined
  /**
   * How many received datagrams may wait for the reader before new ones are
   * dropped. Defaults to {@link defaultReceiveQueueSize}.
   */
  readonly receiveQueueSize?: number | undefined
}

/**
 * The default number of received datagrams buffered for the reader.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultReceiveQueueSize: number = internal.defaultReceiveQueueSize

/**
 * Counters of a bound socket, since it was bound.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** Datagrams handed to the kernel and reported sent. */
  readonly sent: number
  /** Datagrams received and queued for the reader. */
  readonly received: number
  /** Datagrams received while the reader's queue was full, and dropped. */
  readonly dropped: number
}

/**
 * A bound `node:dgram` socket: the {@link UdpSocketService} plus its counters.
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeUdpSocket extends UdpSocketService {
  readonly stats: Effect.Effect<Stats>
}

/**
 * Binds a socket for the lifetime of the current scope. Binding fails with a
 * {@link SocketError} whose `reason` is `AddressInUse` (EADDRINUSE),
 * `AccessDenied` (EACCES, EPERM), `AddressNotAvailable` (EADDRNOTAVAIL, or a
 * port outside 0–65535) or `Unknown`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<NodeUdpSocket, SocketError, Scope.Scope> = internal.make

/**
 * Provides {@link UdpSocket} with a socket bound for the lifetime of the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (options: Options) => Layer.Layer<UdpSocket, SocketError> = internal.layer
