import { Effect, Exit, Option, Schedule, type Scope, Stream, type Tracer } from "effect"
import type * as Connection from "../../Connection.js"
import type * as Endpoint from "../../Endpoint.js"
import type { EndpointConfigInput } from "../../QuicConfig.js"
import { QuicCrypto } from "../../QuicCrypto.js"
import { ConfigError, ConnectError, describeCloseReason, EndpointRoleError } from "../../QuicError.js"
import type * as QuicConfig from "../../QuicConfig.js"
import { type SocketAddress, type SocketError, UdpSocket, type UdpSocketService } from "../../UdpSocket.js"
import { QuicEndpoint } from "../endpoint.js"
import type * as Core from "../config.js"
import { makeConnection } from "./connection.js"
import { acquireInScope } from "./scoped.js"
import { directSocketOf } from "./directSocket.js"
import { Driver, type ExtraSocket, takeUntilEnd } from "./driver.js"
import { StatsSampler } from "./metrics.js"
import { resolveConfig } from "./resolveConfig.js"

/** A connection in its scope, with the tracing span its release ends (if it has one). */
interface Traced {
  readonly connection: Connection.Connection
  readonly span: Tracer.Span | undefined
}

/**
 * The tracer of Effect's default services. Its spans reach no exporter, and
 * ours are nobody's parent, so a connection makes none under it: a span held
 * by each of a server's idle connections cost 1.3 KiB of heap apiece.
 */
let defaultTracer: Tracer.Tracer | undefined
const isDefaultTracer = (tracer: Tracer.Tracer): boolean => tracer === (defaultTracer ??= Effect.runSync(Effect.tracer))

/** `"1.2.3.4:443"` or `"[::1]:443"`. */
const parseAddress = (text: string): SocketAddress | undefined => {
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(text)
  const v4 = /^([^:]+):(\d+)$/.exec(text)
  const m = v6 ?? v4
  if (m === null) return undefined
  const port = Number(m[2])
  return port > 0 && port < 65536 ? { address: m[1]!, port } : undefined
}

/**
 * RFC 9000 §9.6: binds a socket at each preferred address of the server
 * configuration, with the endpoint's own socket's `bind` (same kind, same
 * network), for the endpoint's scope (they close after the driver's last
 * CONNECTION_CLOSEs). The core is told the addresses as bound, so that port
 * 0 offers the port the system chose.
 */
const bindPreferredAddresses = (
  socket: UdpSocketService,
  config: QuicConfig.EndpointConfig,
  core: Core.EndpointConfig
): Effect.Effect<{ readonly core: Core.EndpointConfig; readonly extras: ReadonlyArray<ExtraSocket> }, ConfigError | SocketError, Scope.Scope> =>
  Effect.gen(function*() {
    const preferred = config.server?.preferredAddress
    if (preferred === undefined || core.server === undefined) return { core, extras: [] }
    const bind = directSocketOf(socket)?.bind
    if (bind === undefined) {
      return yield* Effect.fail(
        new ConfigError({ reason: "server.preferredAddress: the endpoint's socket cannot bind another (use NodeUdpSocket or MemoryNetwork)" })
      )
    }
    const extras: Array<ExtraSocket> = []
    const bound: { ipv4?: SocketAddress; ipv6?: SocketAddress } = {}
    for (const family of ["ipv4", "ipv6"] as const) {
      const text = preferred[family]
      if (text === undefined) continue
      // The schema checked the form; port 0 (any free port) is allowed here.
      const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text)!
      const address = { address: m[1]!, port: Number(m[2]) }
      const extra = yield* bind(address)
      const local = yield* extra.localAddress
      const direct = directSocketOf(extra)
      if (direct === undefined) {
        return yield* Effect.fail(new ConfigError({ reason: `server.preferredAddress.${family}: the socket bound there has no direct interface` }))
      }
      extras.push({ local, socket: direct })
      bound[family] = local
    }
    return { core: { ...core, server: { ...core.server, preferredAddress: bound } }, extras }
  })

export const make = (
  input: EndpointConfigInput
): Effect.Effect<Endpoint.Endpoint, ConfigError | SocketError, Scope.Scope | UdpSocket | QuicCrypto> =>
  Effect.gen(function*() {
    const socket = yield* UdpSocket
    const backend = yield* QuicCrypto
    const resolved = yield* resolveConfig(input, backend)
    const config = resolved.config
    const { core, extras } = yield* bindPreferredAddresses(socket, config, resolved.core)
    const local = yield* socket.localAddress
    const endpoint = new QuicEndpoint(core, local, backend)
    const scope = yield* Effect.scope
    const clock = yield* Effect.clock
    const runtime = yield* Effect.runtime<never>()
    const driver = new Driver(endpoint, socket, clock, runtime, config.transport.datagramReceiveQueue, extras)
    yield* driver.start(scope)
    const sampler = new StatsSampler()
    yield* Effect.forkIn(
      Effect.repeat(Effect.suspend(() => sampler.sample(endpoint, driver.connections.keys())), Schedule.spaced("1 second")),
      scope
    )
    yield* Effect.addFinalizer(() => driver.shutdown())

    /**
     * One span per connection, with the peer, ALPN and cipher as attributes:
     * from `connect` or `accept` until the connection's scope closes, or from
     * `incoming`, which gives no scope, until the connection closes. A
     * client's also carries the server name and marks the end of the
     * handshake with an event, so one span tells both how long the handshake
     * took and how long the connection lived. A scoped one ends in the
     * connection's own finalizer, after the close: a second span around
     * `connect` (Effect.withSpan) and a finalizer of its own
     * (Effect.makeSpanScoped) cost half of a connect's Effect operations.
     */
    const connectionSpan = (
      side: "client" | "server",
      peer: SocketAddress | undefined,
      serverName?: string
    ): Effect.Effect<Tracer.Span | undefined> =>
      Effect.tracerWith((tracer) =>
        isDefaultTracer(tracer) ? Effect.succeed(undefined) : Effect.makeSpan("quic.connection", {
          // The stack would only show this module; capturing it costs more than the span.
          captureStackTrace: false,
          attributes: {
            "quic.side": side,
            "quic.peer": peer === undefined ? "" : `${peer.address}:${peer.port}`,
            ...(serverName === undefined ? {} : { "quic.server_name": serverName })
          }
        }))

    const describeNegotiated = (span: Tracer.Span | undefined, handle: number): void => {
      if (span === undefined) return
      span.attribute("quic.alpn", endpoint.alpn(handle) ?? "")
      span.attribute("quic.cipher", endpoint.cipherSuite(handle) ?? "")
    }

    const closeOnRelease = ({ connection, span }: Traced, exit: Exit.Exit<unknown, unknown>) =>
      connection.close(0, "").pipe(Effect.andThen(Effect.sync(() => {
        driver.forget(connection.id)
        span?.end(clock.unsafeCurrentTimeNanos(), exit)
      })))

    const connect = (address: SocketAddress | string, options?: Endpoint.ConnectOptions) =>
      Effect.gen(function*() {
        const target = typeof address === "string" ? parseAddress(address) : address
        if (target === undefined) {
          return yield* Effect.fail(new ConnectError({ reason: { _tag: "EndpointClosed" }, message: `not an address: ${String(address)}` }))
        }
        const serverName = options?.serverName ?? target.address
        const { connection, span } = yield* acquireInScope(
          () =>
            Effect.flatMap(connectionSpan("client", target, serverName), (span) => {
              const handle = driver.unsafeCall((e, now) => e.connect(now, target, serverName))
              if (typeof handle !== "number") {
                const error = new EndpointRoleError({ reason: "NoClientConfig" })
                span?.end(clock.unsafeCurrentTimeNanos(), Exit.fail(error))
                return Effect.fail(error)
              }
              driver.markClient(handle)
              const signals = driver.register(handle)
              return Effect.succeed({ connection: makeConnection(driver, signals, "client"), span })
            }),
          closeOnRelease
        )
        const signals = driver.register(connection.id)
        // RFC 9001 §4.6.1: with 0-RTT keys the application may write at once.
        if (!(config.client?.earlyData === true && endpoint.has0rtt(connection.id))) {
          yield* signals.handshake.await.pipe(
            Effect.mapError((reason) => new ConnectError({ reason, message: describeCloseReason(reason) }))
          )
          span?.event("quic.handshake_complete", clock.unsafeCurrentTimeNanos())
        }
        describeNegotiated(span, connection.id)
        yield* Effect.logDebug(`effect-quic: connected to ${target.address}:${target.port}`)
        return connection
      })

    const nextIncoming = Effect.suspend(() =>
      config.server === undefined
        ? Effect.fail(new EndpointRoleError({ reason: "NoServerConfig" }))
        : takeUntilEnd(driver.incoming)
    )

    const accept = nextIncoming.pipe(
      Effect.flatMap((next) =>
        Option.isNone(next)
          ? Effect.interrupt
          : acquireInScope(() =>
            Effect.suspend(() => {
              const connection = makeConnection(driver, next.value, "server")
              return Effect.map(connectionSpan("server", endpoint.remoteAddress(connection.id)), (span) => {
                describeNegotiated(span, connection.id)
                return { connection, span }
              })
            }), closeOnRelease).pipe(Effect.map(({ connection }) => connection))
      )
    )

    const incoming: Stream.Stream<Connection.Connection, EndpointRoleError> = Stream.repeatEffectOption(
      nextIncoming.pipe(
        Effect.mapError(Option.some),
        Effect.flatMap(Option.match({
          onNone: () => Effect.fail(Option.none()),
          onSome: (signals) =>
            Effect.map(connectionSpan("server", endpoint.remoteAddress(signals.handle)), (span) => {
              const connection = makeConnection(driver, signals, "server")
              describeNegotiated(span, connection.id)
              if (span !== undefined) driver.traceUntilClosed(signals, span)
              return connection
            })
        }))
      )
    )

    return {
      localAddress: Effect.succeed(local),
      connect,
      accept,
      incoming,
      connectionCount: Effect.sync(() => endpoint.connectionCount),
      stats: Effect.sync(() => ({
        connections: endpoint.connectionCount,
        droppedDatagrams: endpoint.droppedDatagrams,
        sendQueueLength: endpoint.sendQueueLength
      }))
    } satisfies Endpoint.Endpoint
  })
