/**
 * An in-process network for tests and simulations: sockets attach at
 * addresses of your choosing and exchange datagrams through links that can
 * add latency, jitter, a bandwidth bottleneck with a bounded queue, loss,
 * reordering, duplication, corruption and an MTU, and an endpoint can be
 * moved to a new address mid-connection (NAT rebinding).
 *
 * Time comes from Effect's `Clock`: deliveries are scheduled with
 * `Effect.sleep`, so under `TestClock` nothing arrives until the clock is
 * adjusted past its arrival time, and then everything due arrives in order of
 * arrival time (ties in the order sent). Randomness comes from a PRNG seeded
 * with {@link Options.seed}, drawn in a fixed order, so a run replays exactly.
 *
 * @example
 * ```ts
 * import { Effect, TestClock } from "effect"
 * import * as MemoryNetwork from "effect-quic/MemoryNetwork"
 *
 * const program = Effect.gen(function*() {
 *   const a = yield* MemoryNetwork.makeSocket({ address: "10.0.0.1", port: 1000 })
 *   const b = yield* MemoryNetwork.makeSocket({ address: "10.0.0.2", port: 2000 })
 *   yield* a.send([{ destination: { address: "10.0.0.2", port: 2000 }, data: new Uint8Array([1]) }])
 *   yield* TestClock.adjust("20 millis")
 * }).pipe(
 *   Effect.scoped,
 *   Effect.provide(MemoryNetwork.layer({ seed: 7, conditions: { latency: "20 millis", loss: 0.01 } }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { Context, Duration, Effect, Layer, Scope } from "effect"
import * as internal from "./internal/driver/platform/memoryNetwork.js"
import type { SocketAddress, SocketError, UdpSocket, UdpSocketService } from "./UdpSocket.js"

/**
 * How one direction of a link treats datagrams. Every field is optional: a
 * missing one means "no impairment" (or, for a direction's own conditions,
 * the network's default). Probabilities are clamped to [0, 1]; negative
 * durations and sizes count as 0.
 *
 * The order in which a datagram meets them: MTU, loss, the bandwidth
 * bottleneck, duplication, then for each copy corruption, latency + jitter
 * and reordering.
 *
 * @since 0.1.0
 * @category models
 */
export interface LinkConditions {
  /** One-way delay. Default 0. */
  readonly latency?: Duration.DurationInput | undefined
  /**
   * Extra delay drawn uniformly from [0, jitter] for each datagram, so
   * arrival falls in [latency, latency + jitter]. Jitter larger than the
   * spacing between datagrams reorders them. Default 0.
   */
  readonly jitter?: Duration.DurationInput | undefined
  /**
   * Bottleneck rate in bytes per second: datagrams leave the bottleneck one
   * after another, each taking `size / bandwidth` seconds. 0 or absent means
   * unlimited.
   */
  readonly bandwidth?: number | undefined
  /**
   * Bytes the bottleneck may hold while it transmits; a datagram that would
   * overflow it is dropped (tail drop). An idle bottleneck accepts any single
   * datagram. Default 65,536.
   */
  readonly queueBytes?: number | undefined
  /** Probability that a datagram is lost. Default 0. */
  readonly loss?: number | undefined
  /** Probability that a datagram is held back by `reorderDelay`, letting later ones overtake it. Default 0. */
  readonly reorder?: number | undefined
  /** How long a reordered datagram is held back. Default 10 ms. */
  readonly reorderDelay?: Duration.DurationInput | undefined
  /** Probability that a datagram is delivered twice. Default 0. */
  readonly duplicate?: number | undefined
  /** Probability that a delivered datagram has one byte altered (XOR with a random non-zero mask). Default 0. */
  readonly corrupt?: number | undefined
  /** The largest datagram (UDP payload, bytes) the link carries; larger ones are dropped. Default: no limit. */
  readonly mtu?: number | undefined
}

/**
 * One direction between two addresses, or both with `bidirectional`.
 * Directions are keyed by address: after a rebinding, conditions set for the
 * old address no longer apply.
 *
 * @since 0.1.0
 * @category models
 */
export interface Direction {
  readonly from: SocketAddress
  readonly to: SocketAddress
  /** Also the reverse direction (`to` → `from`). Default false. */
  readonly bidirectional?: boolean | undefined
}

/**
 * Conditions for one direction (or both), set when the network is made.
 *
 * @since 0.1.0
 * @category models
 */
export interface LinkRule extends Direction {
  readonly conditions: LinkConditions
}

/**
 * How to make a network.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Seed of the PRNG behind loss, jitter, reordering, duplication and corruption. Default 1. */
  readonly seed?: number | undefined
  /** Conditions of every direction without conditions of its own. Default: a perfect link. */
  readonly conditions?: LinkConditions | undefined
  /** Conditions of particular directions, laid over the default ones. */
  readonly links?: ReadonlyArray<LinkRule> | undefined
  /** Datagrams a socket holds for its reader before it drops new ones. Default 4096. */
  readonly receiveQueueSize?: number | undefined
  /** Record every datagram's fate in {@link MemoryNetwork.log}. Default false. */
  readonly log?: boolean | undefined
}

/**
 * Counters of one direction, by the addresses datagrams were sent from and to.
 * `sent + duplicated` equals the sum of the drops (`lost`, `tooLarge`,
 * `queueFull`, `unreachable`, `overflow`), `delivered`, and what is still in
 * flight.
 *
 * @since 0.1.0
 * @category models
 */
export interface LinkStats {
  readonly from: SocketAddress
  readonly to: SocketAddress
  /** Datagrams offered to the link. */
  readonly sent: number
  readonly bytesSent: number
  /** Datagrams (copies included) handed to the receiving socket. */
  readonly delivered: number
  readonly bytesDelivered: number
  /** Dropped at random (`loss`). */
  readonly lost: number
  /** Dropped for exceeding the MTU. */
  readonly tooLarge: number
  /** Dropped at a full bandwidth bottleneck. */
  readonly queueFull: number
  /** Arrived where no socket is bound (closed, or rebound away). */
  readonly unreachable: number
  /** Arrived at a socket whose receive queue was full. */
  readonly overflow: number
  /** Extra copies made by `duplicate`. */
  readonly duplicated: number
  /** Copies altered by `corrupt`. */
  readonly corrupted: number
  /** Copies held back by `reorder`. */
  readonly reordered: number
}

/**
 * What finally happened to a datagram (or a copy of it).
 *
 * @since 0.1.0
 * @category models
 */
export type Fate = "delivered" | "lost" | "too-large" | "queue-full" | "unreachable" | "overflow"

/**
 * One line of the network's log.
 *
 * @since 0.1.0
 * @category models
 */
export interface LogEntry {
  readonly from: SocketAddress
  readonly to: SocketAddress
  /** When it was sent, in milliseconds of the network's `Clock`. */
  readonly sentAt: number
  /** When its fate was sealed (arrival, or the send for drops on the way in), in milliseconds. */
  readonly at: number
  readonly size: number
  readonly fate: Fate
  /** The bytes as sent, or as delivered (after any corruption). */
  readonly data: Uint8Array
  readonly corrupted: boolean
  /** The second copy of a duplicated datagram. */
  readonly duplicate: boolean
  readonly reordered: boolean
}

/**
 * The network service.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryNetwork {
  /**
   * Attaches a socket at `address` for the lifetime of the scope; port 0
   * picks a free port from 49152. Fails with `AddressInUse` if taken.
   */
  readonly attach: (address: SocketAddress) => Effect.Effect<UdpSocketService, SocketError, Scope.Scope>
  /**
   * Replaces the default conditions (without `direction`) or the conditions
   * of a direction, which are laid over the default ones field by field.
   * Datagrams already in flight keep their fate.
   */
  readonly setConditions: (conditions: LinkConditions, direction?: Direction) => Effect.Effect<void>
  /** Removes a direction's own conditions; without `direction`, all of them, and resets the default to a perfect link. */
  readonly clearConditions: (direction?: Direction) => Effect.Effect<void>
  /**
   * Moves the socket bound at `from` to `to`, as a NAT rebinding would: its
   * later datagrams come from `to`, its `localAddress` becomes `to`, and
   * datagrams still arriving for `from` are dropped (`unreachable`). Fails
   * with `AddressNotAvailable` if nothing is bound at `from`, and
   * `AddressInUse` if `to` is taken.
   */
  readonly rebind: (from: SocketAddress, to: SocketAddress) => Effect.Effect<void, SocketError>
  /** Counters of every direction that has carried a datagram. */
  readonly stats: Effect.Effect<ReadonlyArray<LinkStats>>
  /** Counters of one direction (zeros if it carried nothing). */
  readonly linkStats: (from: SocketAddress, to: SocketAddress) => Effect.Effect<LinkStats>
  /** Every datagram's fate, in order, when the network was made with `log: true` (else empty). */
  readonly log: Effect.Effect<ReadonlyArray<LogEntry>>
  /** Datagrams scheduled for delivery and not delivered yet. */
  readonly inFlight: Effect.Effect<number>
}

/**
 * The network service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const MemoryNetwork: Context.Tag<MemoryNetwork, MemoryNetwork> = internal.tag

/**
 * Makes a network whose delivery fiber lives as long as the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<MemoryNetwork, never, Scope.Scope> = internal.make

/**
 * Provides a {@link MemoryNetwork}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (options?: Options) => Layer.Layer<MemoryNetwork> = internal.layer

/**
 * Attaches a socket to the network in the context, for the lifetime of the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSocket: (
  address: SocketAddress
) => Effect.Effect<UdpSocketService, SocketError, MemoryNetwork | Scope.Scope> = internal.makeSocket

/**
 * Provides {@link UdpSocket} with a socket attached to the network at `address`.
 *
 * @since 0.1.0
 * @category layers
 */
export const socket: (address: SocketAddress) => Layer.Layer<UdpSocket, SocketError, MemoryNetwork> = internal.socket
