import { Effect, Option, type Scope, Stream } from "effect"
import type * as Connection from "../../Connection.js"
import type { ConnectionStats } from "../../Connection.js"
import type { QuicVersionName } from "../../QuicConfig.js"
import { type CloseReason, connectionClosedError, type ConnectionClosedError, DatagramError } from "../../QuicError.js"
import type { QuicStream } from "../../Stream.js"
import type { SocketAddress } from "../../UdpSocket.js"
import { type ConnectionEvent, type ConnectionSignals, type Driver, type End, type Mailbox, takeFromMailbox } from "./driver.js"
import { acquireInScope } from "./scoped.js"
import { makeQuicStream } from "./stream.js"
import { QUIC_V1, QUIC_V2 } from "../packet/version.js"

/**
 * One error per closed connection, made at first need: every waiter of a
 * closed connection (a server's accept and datagram loops) fails with the
 * same value. It carries no stack trace: a close is an event, not a fault, its
 * stack would only show the driver's loop, and capturing one cost more
 * (tens of µs under the fiber runtime) than the rest of a connection's teardown.
 */
const closedError = (c: ConnectionSignals): ConnectionClosedError => {
  if (c.closeReason === undefined) return withoutStackTrace(() => connectionClosedError({ _tag: "EndpointClosed" }))
  const reason = c.closeReason
  return (c.closedError ??= withoutStackTrace(() => connectionClosedError(reason)))
}

const withoutStackTrace = <A>(make: () => A): A => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return make()
  } finally {
    Error.stackTraceLimit = limit
  }
}

/**
 * The `Connection` the application holds. A class, so that its members live
 * on the prototype: an object literal of two dozen Effects and closures cost
 * about 7 KB per connection (in dictionary mode, with its getters), more than
 * the rest of an idle connection's state. Each Effect-valued member is built
 * when read; the two function members are bound per connection, so they may
 * be passed around on their own.
 */
class DriverConnection implements Connection.Connection {
  readonly id: number

  constructor(
    private readonly driver: Driver,
    private readonly c: ConnectionSignals,
    readonly side: "client" | "server"
  ) {
    this.id = c.handle
  }

  get alpn(): Effect.Effect<string | undefined> {
    return Effect.sync(() => this.driver.endpoint.alpn(this.id))
  }

  get cipherSuite(): Effect.Effect<string | undefined> {
    return Effect.sync(() => this.driver.endpoint.cipherSuite(this.id))
  }

  get version(): Effect.Effect<QuicVersionName | undefined> {
    return Effect.sync(() => {
      const version = this.driver.endpoint.version(this.id)
      return version === QUIC_V1.number ? "v1" as const : version === QUIC_V2.number ? "v2" as const : undefined
    })
  }

  get peerCertificates(): Effect.Effect<ReadonlyArray<Uint8Array>> {
    return Effect.sync(() => this.driver.endpoint.peerCertificates(this.id))
  }

  get remoteAddress(): Effect.Effect<SocketAddress | undefined> {
    return Effect.sync(() => this.driver.endpoint.remoteAddress(this.id))
  }

  get openBi(): Effect.Effect<QuicStream, ConnectionClosedError, Scope.Scope> {
    return this.open(true)
  }

  get openUni(): Effect.Effect<QuicStream, ConnectionClosedError, Scope.Scope> {
    return this.open(false)
  }

  get acceptBi(): Effect.Effect<QuicStream, ConnectionClosedError> {
    return this.accept(() => this.c.incomingBidi)
  }

  get acceptUni(): Effect.Effect<QuicStream, ConnectionClosedError> {
    return this.accept(() => this.c.incomingUni)
  }

  // The Streams are built when asked for: a Stream pipeline costs far more
  // to build than most connections would ever use.
  get incomingStreams(): Stream.Stream<QuicStream, ConnectionClosedError> {
    return Stream.merge(untilClosed(this.acceptBi), untilClosed(this.acceptUni))
  }

  readonly sendDatagram = (
    data: Uint8Array,
    options?: { readonly dropOldWhenFull?: boolean }
  ): Effect.Effect<void, DatagramError | ConnectionClosedError> => {
    const { driver, c } = this
    const handle = this.id
    return Effect.suspend(function loop(): Effect.Effect<void, DatagramError | ConnectionClosedError> {
      const result = driver.unsafeCall((e, now) => e.sendDatagram(now, handle, data, options?.dropOldWhenFull ?? false))
      if (result === undefined) return Effect.void
      switch (result._tag) {
        case "DatagramBlocked":
          c.datagramsUnblocked.close()
          return Effect.zipRight(c.datagramsUnblocked.await, Effect.suspend(loop))
        case "DatagramDisabled":
          return Effect.fail(new DatagramError({ reason: "Disabled" }))
        case "DatagramUnsupportedByPeer":
          return Effect.fail(new DatagramError({ reason: "UnsupportedByPeer" }))
        case "DatagramTooLarge":
          return Effect.fail(new DatagramError({ reason: "TooLarge", maxSize: result.maxSize }))
        default:
          return Effect.fail(closedError(c))
      }
    })
  }

  get datagrams(): Stream.Stream<Uint8Array> {
    return untilClosed(this.receiveDatagram)
  }

  get receiveDatagram(): Effect.Effect<Uint8Array, ConnectionClosedError> {
    return takeOrClosed(this.c, () => this.c.datagrams)
  }

  get maxDatagramSize(): Effect.Effect<number> {
    return Effect.sync(() => {
      const size = this.driver.endpoint.maxDatagramSize(this.id)
      return typeof size === "number" ? size : 0
    })
  }

  get events(): Stream.Stream<ConnectionEvent> {
    return Stream.suspend(() => Stream.fromPubSub(this.c.events))
  }

  get stats(): Effect.Effect<ConnectionStats | undefined> {
    return Effect.sync(() => this.driver.endpoint.connectionStats(this.id))
  }

  readonly close = (code: number | bigint = 0, reason = ""): Effect.Effect<void> =>
    this.driver.call((e, now) => e.closeConnection(now, this.id, BigInt(code), reason))

  get closed(): Effect.Effect<CloseReason> {
    return this.c.closed.await
  }

  get is0Rtt(): Effect.Effect<boolean> {
    return Effect.sync(() => this.driver.endpoint.has0rtt(this.id))
  }

  get accepted0Rtt(): Effect.Effect<boolean, ConnectionClosedError> {
    return this.c.handshake.await.pipe(
      Effect.mapError(() => closedError(this.c)),
      Effect.map(() => this.driver.endpoint.accepted0rtt(this.id))
    )
  }

  get resumed(): Effect.Effect<boolean> {
    return Effect.sync(() => this.driver.endpoint.resumed(this.id))
  }

  get updateKeys(): Effect.Effect<boolean> {
    return this.driver.call((e, now) => e.initiateKeyUpdate(now, this.id) === true)
  }

  /**
   * A stream whose close is in the scope from the moment it exists. Only the
   * wait for the peer's stream credit can be interrupted: nothing is open yet.
   */
  private open(bidi: boolean): Effect.Effect<QuicStream, ConnectionClosedError, Scope.Scope> {
    const { driver, c } = this
    const handle = this.id
    return acquireInScope(
      (restore) =>
        Effect.suspend(function loop(): Effect.Effect<QuicStream, ConnectionClosedError> {
          if (c.closeReason !== undefined) return Effect.fail(closedError(c))
          const id = driver.unsafeCall((e, now) => (bidi ? e.openBi(now, handle) : e.openUni(now, handle)))
          if (typeof id === "number") return Effect.succeed(makeQuicStream(driver, c, id, true))
          if (id !== undefined) return Effect.fail(closedError(c))
          // The peer's MAX_STREAMS is reached: wait for StreamsAvailable. Nothing is
          // open yet, so this wait, and only it, can be interrupted.
          c.streamsAvailable.close()
          return Effect.zipRight(restore(c.streamsAvailable.await), Effect.suspend(loop))
        }),
      (stream) => stream.close
    )
  }

  private accept(queue: () => Mailbox<number | End>): Effect.Effect<QuicStream, ConnectionClosedError> {
    return Effect.map(takeOrClosed(this.c, queue), (id) => makeQuicStream(this.driver, this.c, id, false))
  }
}

/** The next item of a connection queue (made at first use); fails once the connection closed and the queue is empty. */
const takeOrClosed = <A>(c: ConnectionSignals, queue: () => Mailbox<A | End>): Effect.Effect<A, ConnectionClosedError> =>
  Effect.suspend(() => takeFromMailbox(queue())).pipe(
    Effect.flatMap(Option.match({ onNone: () => Effect.fail(closedError(c)), onSome: Effect.succeed }))
  )

/** Repeats `take` until it fails, which ends the Stream (the connection closed). */
const untilClosed = <A>(take: Effect.Effect<A, ConnectionClosedError>): Stream.Stream<A> =>
  Stream.repeatEffectOption(Effect.mapError(take, () => Option.none()))

export const makeConnection = (driver: Driver, c: ConnectionSignals, side: "client" | "server"): Connection.Connection =>
  new DriverConnection(driver, c, side)
