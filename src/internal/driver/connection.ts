import { Effect, Option, type Scope, Stream } from "effect"
import type * as Connection from "../../Connection.js"
import { connectionClosedError, type ConnectionClosedError, DatagramError } from "../../QuicError.js"
import type { QuicStream } from "../../Stream.js"
import { type ConnectionSignals, type Driver, type End, type Mailbox, takeFromMailbox } from "./driver.js"
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

export const makeConnection = (driver: Driver, c: ConnectionSignals, side: "client" | "server"): Connection.Connection => {
  const handle = c.handle

  /**
   * A stream whose close is in the scope from the moment it exists. Only the
   * wait for the peer's stream credit can be interrupted: nothing is open yet.
   */
  const open = (bidi: boolean): Effect.Effect<QuicStream, ConnectionClosedError, Scope.Scope> =>
    acquireInScope(
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

  /** The next item of a connection queue (made at first use); fails once the connection closed and the queue is empty. */
  const takeOrClosed = <A>(queue: () => Mailbox<A | End>): Effect.Effect<A, ConnectionClosedError> =>
    Effect.suspend(() => takeFromMailbox(queue())).pipe(
      Effect.flatMap(Option.match({ onNone: () => Effect.fail(closedError(c)), onSome: Effect.succeed }))
    )

  const accept = (queue: () => Mailbox<number | End>): Effect.Effect<QuicStream, ConnectionClosedError> =>
    Effect.map(takeOrClosed(queue), (id) => makeQuicStream(driver, c, id, false))

  const sendDatagram = (data: Uint8Array, options?: { readonly dropOldWhenFull?: boolean }) =>
    Effect.suspend(function loop(): Effect.Effect<void, DatagramError | ConnectionClosedError> {
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

  /** Repeats `take` until it fails, which ends the Stream (the connection closed). */
  const untilClosed = <A>(take: Effect.Effect<A, ConnectionClosedError>): Stream.Stream<A> =>
    Stream.repeatEffectOption(Effect.mapError(take, () => Option.none()))

  const receiveDatagram = takeOrClosed(() => c.datagrams)

  return {
    id: handle,
    side,
    alpn: Effect.sync(() => driver.endpoint.alpn(handle)),
    cipherSuite: Effect.sync(() => driver.endpoint.cipherSuite(handle)),
    version: Effect.sync(() => {
      const version = driver.endpoint.version(handle)
      return version === QUIC_V1.number ? "v1" as const : version === QUIC_V2.number ? "v2" as const : undefined
    }),
    peerCertificates: Effect.sync(() => driver.endpoint.peerCertificates(handle)),
    remoteAddress: Effect.sync(() => driver.endpoint.remoteAddress(handle)),
    openBi: open(true),
    openUni: open(false),
    acceptBi: accept(() => c.incomingBidi),
    acceptUni: accept(() => c.incomingUni),
    // The Streams are built when first asked for: a Stream pipeline costs far
    // more to build than most connections would ever use.
    get incomingStreams() {
      return Stream.merge(untilClosed(accept(() => c.incomingBidi)), untilClosed(accept(() => c.incomingUni)))
    },
    sendDatagram,
    get datagrams() {
      return untilClosed(receiveDatagram)
    },
    receiveDatagram,
    maxDatagramSize: Effect.sync(() => {
      const size = driver.endpoint.maxDatagramSize(handle)
      return typeof size === "number" ? size : 0
    }),
    get events() {
      return Stream.suspend(() => Stream.fromPubSub(c.events))
    },
    stats: Effect.sync(() => driver.endpoint.connectionStats(handle)),
    close: (code = 0, reason = "") => driver.call((e, now) => e.closeConnection(now, handle, BigInt(code), reason)),
    closed: c.closed.await,
    is0Rtt: Effect.sync(() => driver.endpoint.has0rtt(handle)),
    accepted0Rtt: c.handshake.await.pipe(
      Effect.mapError(() => closedError(c)),
      Effect.map(() => driver.endpoint.accepted0rtt(handle))
    ),
    resumed: Effect.sync(() => driver.endpoint.resumed(handle)),
    updateKeys: driver.call((e, now) => e.initiateKeyUpdate(now, handle) === true)
  }
}
