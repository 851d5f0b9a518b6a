import { it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option, Stream, TestClock, Tracer } from "effect"
import { expect } from "vitest"
import { envWith, echoServer } from "./drive.js"
import { CLIENT, clientConfig, endpointAt, NOW, SERVER, serverConfig } from "./support.js"

interface Recorded {
  readonly name: string
  readonly parent: string | undefined
  readonly attributes: Map<string, unknown>
  readonly events: Array<string>
  exit: Exit.Exit<unknown, unknown> | undefined
}

/** A tracer that keeps every span it is asked for, with its attributes, events and how it ended. */
const recordingTracer = () => {
  const spans: Array<Recorded> = []
  let ids = 0
  const tracer = Tracer.make({
    span(name, parent, context, links, startTime, kind) {
      const recorded: Recorded = {
        name,
        parent: Option.isSome(parent) && parent.value._tag === "Span" ? parent.value.name : undefined,
        attributes: new Map(),
        events: [],
        exit: undefined
      }
      spans.push(recorded)
      const spanId = String(++ids)
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId,
        traceId: "trace",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes: recorded.attributes,
        links,
        sampled: true,
        kind,
        end: (_endTime, exit) => void (recorded.exit = exit),
        attribute: (key, value) => void recorded.attributes.set(key, value),
        event: (eventName) => void recorded.events.push(eventName),
        addLinks: () => undefined
      }
      return span
    },
    context: (f) => f()
  })
  return { spans, tracer }
}

const env = envWith({ conditions: { latency: "10 millis" }, seed: 1 })

it.layer(env)("tracing spans", (it) => {
  it.scoped("one span per client connection: handshake end as an event, negotiated values as attributes, ended with its scope", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      yield* TestClock.setTime(NOW)
      yield* echoServer()
      const client = yield* endpointAt(CLIENT, clientConfig())
      const fiber = yield* Effect.fork(
        Effect.scoped(client.connect(SERVER, { serverName: "localhost" })).pipe(
          Effect.withSpan("application", { captureStackTrace: false }),
          Effect.withTracer(tracer)
        )
      )
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      const quic = spans.filter((s) => s.name.startsWith("quic."))
      expect(quic.map((s) => s.name)).toEqual(["quic.connection"])
      const span = quic[0]!
      expect(span.parent).toBe("application")
      expect(Object.fromEntries(span.attributes)).toEqual({
        "quic.side": "client",
        "quic.peer": `${SERVER.address}:${SERVER.port}`,
        "quic.server_name": "localhost",
        "quic.alpn": "echo",
        "quic.cipher": expect.stringMatching(/^TLS_/)
      })
      expect(span.events).toEqual(["quic.handshake_complete"])
      expect(span.exit !== undefined && Exit.isSuccess(span.exit)).toBe(true)
    }))

  it.scoped("a connect that fails ends its span with the failure and without a completed handshake", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      yield* TestClock.setTime(NOW)
      yield* echoServer()
      const client = yield* endpointAt(CLIENT, clientConfig({ alpn: ["other"] }))
      const fiber = yield* Effect.fork(
        Effect.scoped(client.connect(SERVER, { serverName: "localhost" })).pipe(Effect.withTracer(tracer), Effect.exit)
      )
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      const quic = spans.filter((s) => s.name.startsWith("quic."))
      expect(quic.map((s) => s.name)).toEqual(["quic.connection"])
      expect(quic[0]!.events).toEqual([])
      expect(quic[0]!.attributes.has("quic.alpn")).toBe(false)
      expect(quic[0]!.exit !== undefined && Exit.isFailure(quic[0]!.exit)).toBe(true)
    }))

  it.scoped("a server's accepted connection has its own span with the client's address and the negotiated values", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      yield* TestClock.setTime(NOW)
      const server = yield* endpointAt(SERVER, serverConfig())
      const accepted = yield* Effect.fork(Effect.scoped(server.accept).pipe(Effect.withTracer(tracer)))
      const client = yield* endpointAt(CLIENT, clientConfig())
      const connecting = yield* Effect.fork(Effect.scoped(Effect.zipRight(client.connect(SERVER, { serverName: "localhost" }), Effect.never)))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(accepted)
      yield* Fiber.interrupt(connecting)
      expect(spans.map((s) => s.name)).toEqual(["quic.connection"])
      expect(Object.fromEntries(spans[0]!.attributes)).toEqual({
        "quic.side": "server",
        "quic.peer": `${CLIENT.address}:${CLIENT.port}`,
        "quic.alpn": "echo",
        "quic.cipher": expect.stringMatching(/^TLS_/)
      })
      expect(spans[0]!.exit !== undefined && Exit.isSuccess(spans[0]!.exit)).toBe(true)
    }))

  it.scoped("connect on an endpoint with no client configuration ends the span it began, with the failure", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      yield* TestClock.setTime(NOW)
      const server = yield* endpointAt(SERVER, serverConfig())
      const exit = yield* Effect.scoped(server.connect(CLIENT, { serverName: "localhost" })).pipe(Effect.withTracer(tracer), Effect.exit)
      expect(Exit.isFailure(exit) && Cause.failureOption(exit.cause).pipe(Option.map((e) => e._tag), Option.getOrUndefined)).toBe("EndpointRoleError")
      expect(spans.map((s) => s.name)).toEqual(["quic.connection"])
      expect(spans[0]!.exit !== undefined && Exit.isFailure(spans[0]!.exit)).toBe(true)
    }))

  it.scoped("connections from incoming have spans too, ended when they close: clean with code 0, failed with another", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      yield* TestClock.setTime(NOW)
      const server = yield* endpointAt(SERVER, serverConfig())
      yield* server.incoming.pipe(Stream.runDrain, Effect.withTracer(tracer), Effect.forkScoped)
      const client = yield* endpointAt(CLIENT, clientConfig())
      // Open for a while first, so that the server has taken each connection before it closes.
      const closeWith = (code: number) =>
        Effect.scoped(Effect.flatMap(client.connect(SERVER, { serverName: "localhost" }), (connection) =>
          Effect.zipRight(Effect.sleep("100 millis"), connection.close(code, "done"))))
      const fiber = yield* Effect.fork(Effect.zipRight(closeWith(0), closeWith(7)))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      yield* TestClock.adjust("1 second")
      expect(spans.map((s) => s.name)).toEqual(["quic.connection", "quic.connection"])
      for (const span of spans) {
        expect(Object.fromEntries(span.attributes)).toEqual({
          "quic.side": "server",
          "quic.peer": `${CLIENT.address}:${CLIENT.port}`,
          "quic.alpn": "echo",
          "quic.cipher": expect.stringMatching(/^TLS_/)
        })
      }
      expect(spans[0]!.exit !== undefined && Exit.isSuccess(spans[0]!.exit)).toBe(true)
      const failed = spans[1]!.exit
      expect(failed !== undefined && Exit.isFailure(failed) && Cause.failureOption(failed.cause).pipe(Option.getOrUndefined)).toEqual({
        _tag: "ApplicationClosed",
        code: 7n,
        reason: "done"
      })
    }))

  it.scoped("a connection taken from incoming after it closed gets a span that has already ended", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      yield* TestClock.setTime(NOW)
      const server = yield* endpointAt(SERVER, serverConfig())
      const client = yield* endpointAt(CLIENT, clientConfig())
      const fiber = yield* Effect.fork(Effect.scoped(client.connect(SERVER, { serverName: "localhost" })))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      const taken = yield* server.incoming.pipe(Stream.take(1), Stream.runCollect, Effect.withTracer(tracer))
      expect(taken.length).toBe(1)
      expect(spans.map((s) => s.name)).toEqual(["quic.connection"])
      expect(spans[0]!.exit !== undefined && Exit.isSuccess(spans[0]!.exit)).toBe(true)
    }))
})
