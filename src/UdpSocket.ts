/**
 * The datagram socket an endpoint sends and receives through, as an Effect
 * service. `NodeUdpSocket.layer` binds a real node:dgram socket;
 * `MemoryNetwork.socket` attaches to an in-process simulated network whose
 * timing follows Effect's `Clock`, so `TestClock` drives it.
 *
 * @since 0.1.0
 */
import { Context, Data, type Effect, type Stream } from "effect"
import type * as Address from "./internal/address.js"

/**
 * A UDP address: an IP literal (IPv4 or IPv6) and a port.
 *
 * @since 0.1.0
 * @category models
 */
export interface SocketAddress extends Address.SocketAddress {}

/**
 * One received datagram and where it came from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Datagram {
  readonly data: Uint8Array
  readonly remote: SocketAddress
}

/**
 * Datagrams to one destination: one, or several of `segmentSize` bytes back
 * to back (the last may be shorter), as a GSO-capable socket would send them.
 *
 * @since 0.1.0
 * @category models
 */
export interface OutgoingDatagrams {
  readonly destination: SocketAddress
  readonly data: Uint8Array
  readonly segmentSize?: number | undefined
}

/**
 * A socket failure: binding (`AddressInUse`, `AccessDenied`, `AddressNotAvailable`),
 * sending, or a closed socket.
 *
 * @since 0.1.0
 * @category errors
 */
export class SocketError extends Data.TaggedError("SocketError")<{
  readonly reason: "AddressInUse" | "AccessDenied" | "AddressNotAvailable" | "SendFailed" | "Closed" | "Unknown"
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * A bound datagram socket.
 *
 * @since 0.1.0
 * @category models
 */
export interface UdpSocketService {
  /** The address the socket is bound to (after any rebinding). */
  readonly localAddress: Effect.Effect<SocketAddress>
  /**
   * Sends a batch; completes once the socket has accepted every datagram,
   * which is where back-pressure comes from.
   */
  readonly send: (batch: ReadonlyArray<OutgoingDatagrams>) => Effect.Effect<void, SocketError>
  /** Every datagram received, in order of arrival; ends when the socket closes. */
  readonly receive: Stream.Stream<Datagram, SocketError>
}

/**
 * The socket service.
 *
 * @since 0.1.0
 * @category tags
 */
export class UdpSocket extends Context.Tag("effect-quic/UdpSocket")<UdpSocket, UdpSocketService>() {}
