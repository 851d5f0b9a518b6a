import type { Effect, Scope } from "effect"
import type { SocketError, UdpSocketService } from "../../UdpSocket.js"
import type { SocketAddress } from "../address.js"

/**
 * The driver's fast path into a socket (internal; not part of the public
 * `UdpSocket` contract).
 *
 * The public service moves datagrams through Effect values (`receive` is a
 * `Stream`, `send` an `Effect`), which costs several fiber hand-offs per
 * datagram. The sockets of this package (`NodeUdpSocket`, `MemoryNetwork`)
 * also carry this interface under {@link DirectSocketTypeId}: once a
 * receiver is attached, each datagram is handed to it synchronously from the
 * socket's own event (a node:dgram `message`, a MemoryNetwork delivery), the
 * end of each burst is signalled once, and sending is a plain call that says
 * whether the socket can take more. A socket without it is driven through
 * its public `receive` and `send`.
 */
export const DirectSocketTypeId: unique symbol = Symbol.for("effect-quic/internal/DirectSocket")

/** What the socket calls, synchronously, once a receiver is attached. */
export interface DirectReceiver {
  /** One received datagram; the bytes now belong to the receiver (it may modify them). */
  readonly datagram: (data: Uint8Array, remote: SocketAddress) => void
  /**
   * The datagrams that were available together have all been delivered:
   * time to answer them. Called once per burst (a node:dgram poll of the
   * socket, a MemoryNetwork delivery round).
   */
  readonly endOfBurst: () => void
  /** The socket can take datagrams again after {@link DirectSocket.send} returned false. */
  readonly writable: () => void
  /** The socket failed; nothing more will be received. */
  readonly failed: (error: SocketError) => void
}

export interface DirectSocket {
  /** Delivers every datagram from now on to `receiver` instead of the `receive` stream. */
  readonly attach: (receiver: DirectReceiver) => void
  /** Back to the `receive` stream (the receiver is going away). */
  readonly detach: (receiver: DirectReceiver) => void
  /**
   * Hands one datagram to the socket; the socket owns `data` from here on
   * (the caller must not modify it). Always accepted (or dropped, as a
   * network may drop it); the result says whether the socket wants more now:
   * after `false`, wait for {@link DirectReceiver.writable} before sending
   * again, which is how the socket's back-pressure reaches the sender.
   */
  readonly send: (destination: SocketAddress, data: Uint8Array) => boolean
  /**
   * Binds another socket of the same kind (the same network, the same
   * options) at `address`, for the scope: how an endpoint gets the socket of
   * a server's preferred address (RFC 9000 §9.6). Port 0 picks a free port.
   * Absent on sockets that cannot.
   */
  readonly bind?: ((address: SocketAddress) => Effect.Effect<UdpSocketService, SocketError, Scope.Scope>) | undefined
}

/** The direct interface of `socket`, if it has one. */
export const directSocketOf = (socket: UdpSocketService): DirectSocket | undefined =>
  (socket as Partial<Record<typeof DirectSocketTypeId, DirectSocket>>)[DirectSocketTypeId]
