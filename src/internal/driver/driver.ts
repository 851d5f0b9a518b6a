import { Chunk, type Clock, Deferred, Duration, Effect, Exit, Fiber, FiberId, Option, PubSub, Queue, type Scope, Stream } from "effect"
import type { UdpSocketService } from "../../UdpSocket.js"
import type { SocketAddress } from "../address.js"
import type { QuicEndpoint } from "../endpoint.js"
import type { CloseReason, QuicEvent } from "../events.js"

/**
 * The endpoint driver (ARCHITECTURE.md §2): the one fiber that moves bytes
 * between the socket and the sans-IO core, runs its timers on Effect's
 * `Clock` (so `TestClock` drives them), and turns the core's events into
 * per-connection and per-stream signals.
 *
 * Application calls run synchronously on the caller's fiber inside
 * `Effect.sync` (`Driver.call`): JavaScript runs one fiber step at a time,
 * so the core is never entered concurrently, and nothing is copied between
 * fibers. Each call wakes the driver, which then sends what the call queued.
 */

/** Events an application may observe on a connection besides streams and datagrams. */
export type ConnectionEvent =
  | { readonly _tag: "HandshakeDataReady" }
  | { readonly _tag: "ZeroRttRejected" }
  | { readonly _tag: "PeerAddressChanged"; readonly previous: SocketAddress; readonly current: SocketAddress }
  | { readonly _tag: "Connected" }
  | { readonly _tag: "Closed"; readonly reason: CloseReason }

/** Per-stream signals. */
export class StreamSignals {
  readonly readable = Effect.unsafeMakeLatch(false)
  readonly writable = Effect.unsafeMakeLatch(false)
  readonly finished = Deferred.unsafeMake<void>(FiberId.none)
  readonly stopped = Deferred.unsafeMake<bigint>(FiberId.none)
  /** The application has read the FIN: later reads report the end again. */
  readFinished = false
}

const END = Symbol("end")
type End = typeof END

/** Per-connection signals and queues. */
export class ConnectionSignals {
  readonly handshake = Deferred.unsafeMake<void, CloseReason>(FiberId.none)
  readonly closed = Deferred.unsafeMake<CloseReason>(FiberId.none)
  readonly incomingBidi = Effect.runSync(Queue.unbounded<number | End>())
  readonly incomingUni = Effect.runSync(Queue.unbounded<number | End>())
  readonly datagrams: Queue.Queue<Uint8Array | End>
  readonly events = Effect.runSync(PubSub.sliding<ConnectionEvent>(256))
  readonly streams = new Map<number, StreamSignals>()
  readonly streamsAvailable = Effect.unsafeMakeLatch(false)
  readonly datagramsUnblocked = Effect.unsafeMakeLatch(false)
  closeReason: CloseReason | undefined
  zeroRttRejected = false

  constructor(
    readonly handle: number,
    datagramQueue: number
  ) {
    this.datagrams = Effect.runSync(Queue.sliding<Uint8Array | End>(datagramQueue))
  }

  stream(id: number): StreamSignals {
    let signals = this.streams.get(id)
    if (signals === undefined) {
      signals = new StreamSignals()
      this.streams.set(id, signals)
    }
    return signals
  }
}

export const isEnd = (value: unknown): value is End => value === END

type Input =
  | { readonly _tag: "Datagram"; readonly data: Uint8Array; readonly remote: SocketAddress }
  | { readonly _tag: "Wake" }

const WAKE: Input = { _tag: "Wake" }

/** Flush rounds per iteration before the driver looks at its inbox again. */
const MAX_FLUSH_ROUNDS = 16

export class Driver {
  readonly connections = new Map<number, ConnectionSignals>()
  /** Server connections whose handshake completed, waiting for `accept`. */
  readonly incoming = Effect.runSync(Queue.unbounded<ConnectionSignals | End>())
  private readonly inbox = Effect.runSync(Queue.bounded<Input>(4096))
  private wakePending = false
  private timer: Fiber.RuntimeFiber<void> | undefined
  private timerDeadline: number | undefined
  private closing = false

  constructor(
    readonly endpoint: QuicEndpoint,
    private readonly socket: UdpSocketService,
    private readonly clock: Clock.Clock,
    private readonly scope: Scope.Scope,
    private readonly datagramQueue: number
  ) {}

  /** The core's clock: µs since the Unix epoch on Effect's `Clock`. */
  now(): number {
    return Number(this.clock.unsafeCurrentTimeNanos() / 1000n)
  }

  /** Runs `f` against the core now and wakes the driver to send what it queued. */
  call<A>(f: (endpoint: QuicEndpoint, now: number) => A): Effect.Effect<A> {
    return Effect.sync(() => {
      const result = f(this.endpoint, this.now())
      this.dispatch()
      this.wake()
      return result
    })
  }

  /** Like `call`, for code already inside `Effect.sync`. */
  unsafeCall<A>(f: (endpoint: QuicEndpoint, now: number) => A): A {
    const result = f(this.endpoint, this.now())
    this.dispatch()
    this.wake()
    return result
  }

  wake(): void {
    if (this.wakePending) return
    this.wakePending = true
    // A full inbox means the driver is about to run anyway; the flag stays set.
    Queue.unsafeOffer(this.inbox, WAKE)
  }

  /** Registers a connection the application created (client) before its events arrive. */
  register(handle: number): ConnectionSignals {
    let signals = this.connections.get(handle)
    if (signals === undefined) {
      signals = new ConnectionSignals(handle, this.datagramQueue)
      this.connections.set(handle, signals)
    }
    return signals
  }

  /** Turns every pending core event into signals (synchronous). */
  private dispatch(): void {
    for (let event = this.endpoint.pollEvent(); event !== undefined; event = this.endpoint.pollEvent()) this.onEvent(event)
  }

  private onEvent(event: QuicEvent): void {
    const c = event._tag === "NewConnection" ? this.register(event.connection) : this.connections.get(event.connection)
    if (c === undefined) return
    switch (event._tag) {
      case "NewConnection":
        break
      case "Connected":
        Deferred.unsafeDone(c.handshake, Exit.void)
        this.publish(c, { _tag: "Connected" })
        if (this.endpoint.config.server !== undefined && !this.isClientHandle(c.handle)) Queue.unsafeOffer(this.incoming, c)
        break
      case "ConnectionClosed":
        this.onClosed(c, event.reason)
        break
      case "HandshakeDataReady":
        this.publish(c, { _tag: "HandshakeDataReady" })
        break
      case "ZeroRttRejected":
        c.zeroRttRejected = true
        this.publish(c, { _tag: "ZeroRttRejected" })
        break
      case "PeerAddressChanged":
        this.publish(c, { _tag: "PeerAddressChanged", previous: event.previous, current: event.current })
        break
      case "StreamOpened":
        c.stream(event.stream)
        Queue.unsafeOffer(event.bidi ? c.incomingBidi : c.incomingUni, event.stream)
        break
      case "StreamReadable":
        c.stream(event.stream).readable.unsafeOpen()
        break
      case "StreamWritable":
        c.stream(event.stream).writable.unsafeOpen()
        break
      case "StreamFinished":
        Deferred.unsafeDone(c.stream(event.stream).finished, Exit.void)
        break
      case "StreamStopped": {
        const s = c.stream(event.stream)
        Deferred.unsafeDone(s.stopped, Exit.succeed(event.code))
        s.writable.unsafeOpen()
        break
      }
      case "StreamsAvailable":
        c.streamsAvailable.unsafeOpen()
        break
      case "DatagramReceived":
        Queue.unsafeOffer(c.datagrams, event.data)
        break
      case "DatagramsUnblocked":
        c.datagramsUnblocked.unsafeOpen()
        break
    }
  }

  private readonly clientHandles = new Set<number>()

  markClient(handle: number): void {
    this.clientHandles.add(handle)
  }

  private isClientHandle(handle: number): boolean {
    return this.clientHandles.has(handle)
  }

  private publish(c: ConnectionSignals, event: ConnectionEvent): void {
    Effect.runSync(PubSub.publish(c.events, event))
  }

  private onClosed(c: ConnectionSignals, reason: CloseReason): void {
    if (c.closeReason !== undefined) return
    c.closeReason = reason
    Deferred.unsafeDone(c.handshake, Exit.fail(reason))
    Deferred.unsafeDone(c.closed, Exit.succeed(reason))
    this.publish(c, { _tag: "Closed", reason })
    // Wake every waiter so it sees the connection is gone.
    Queue.unsafeOffer(c.incomingBidi, END)
    Queue.unsafeOffer(c.incomingUni, END)
    Queue.unsafeOffer(c.datagrams, END)
    c.streamsAvailable.unsafeOpen()
    c.datagramsUnblocked.unsafeOpen()
    for (const s of c.streams.values()) {
      s.readable.unsafeOpen()
      s.writable.unsafeOpen()
    }
  }

  /** Forgets a connection's signals once the application is done with it. */
  forget(handle: number): void {
    this.connections.delete(handle)
    this.clientHandles.delete(handle)
  }

  /** Feeds every datagram the socket receives into the inbox. */
  readonly receiveLoop: Effect.Effect<void> = Effect.suspend(() =>
    this.socket.receive.pipe(
      Stream.runForEachChunk((chunk) =>
        Queue.offerAll(this.inbox, Chunk.map(chunk, (d): Input => ({ _tag: "Datagram", data: d.data, remote: d.remote })))
      ),
      Effect.catchAll((error) => Effect.logError("effect-quic: socket receive failed", error))
    )
  )

  /** The driver loop: inbox → core → signals → socket, forever. */
  readonly loop: Effect.Effect<never> = Effect.suspend(() => {
    const iteration = Effect.gen(this, function*() {
      const inputs = yield* Queue.takeBetween(this.inbox, 1, 1024)
      this.wakePending = false
      const now = this.now()
      for (const input of inputs) {
        if (input._tag === "Datagram") this.endpoint.handleDatagram(now, input.data, input.remote)
      }
      const deadline = this.endpoint.nextTimerDeadline()
      if (deadline !== undefined && deadline <= now) this.endpoint.driveTimers(now)
      this.dispatch()
      yield* this.flush()
      yield* this.rearm()
    })
    return Effect.forever(iteration)
  })

  /** Sends everything the core has queued, in socket batches. */
  flush(): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      for (let round = 0; round < MAX_FLUSH_ROUNDS; round++) {
        this.endpoint.flush(this.now())
        this.dispatch()
        const batch: Array<{ destination: SocketAddress; data: Uint8Array; segmentSize: number | undefined }> = []
        for (let packet = this.endpoint.pollSend(); packet !== undefined; packet = this.endpoint.pollSend()) {
          batch.push({ destination: packet.destination, data: packet.data, segmentSize: packet.segmentSize })
        }
        if (batch.length === 0) return
        yield* this.socket.send(batch).pipe(
          Effect.catchAll((error) => Effect.logDebug("effect-quic: send failed", error))
        )
      }
      // More to send: come back after looking at the inbox.
      this.wake()
    })
  }

  /** Keeps one timer fiber aimed at the core's next deadline. */
  private rearm(): Effect.Effect<void> {
    return Effect.suspend(() => {
      const deadline = this.endpoint.nextTimerDeadline()
      if (deadline === undefined) return Effect.void
      // An earlier timer still in place will wake us soon enough to re-aim.
      if (this.timer !== undefined && this.timerDeadline !== undefined && this.timerDeadline <= deadline) return Effect.void
      const previous = this.timer
      this.timerDeadline = deadline
      const wait = Math.max(0, deadline - this.now())
      return Effect.sleep(Duration.micros(BigInt(wait))).pipe(
        Effect.andThen(Effect.sync(() => {
          this.timer = undefined
          this.timerDeadline = undefined
          this.wake()
        })),
        Effect.forkIn(this.scope),
        Effect.tap((fiber) =>
          Effect.sync(() => {
            this.timer = fiber
          })
        ),
        Effect.tap(() => (previous === undefined ? Effect.void : Fiber.interruptFork(previous))),
        Effect.asVoid
      )
    })
  }

  /**
   * Closes every connection with code 0 and sends the CONNECTION_CLOSE
   * frames before the socket goes (used when the endpoint's scope closes).
   */
  shutdown(): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      if (this.closing) return
      this.closing = true
      const now = this.now()
      for (const handle of this.connections.keys()) this.endpoint.closeConnection(now, handle, 0n, "endpoint closed")
      this.dispatch()
      yield* this.flush()
      Queue.unsafeOffer(this.incoming, END)
    })
  }
}

/** Takes from a queue that ends with END; None once it ended. */
export const takeUntilEnd = <A>(queue: Queue.Queue<A | End>): Effect.Effect<Option.Option<A>> =>
  Queue.take(queue).pipe(
    Effect.flatMap((value) => {
      if (isEnd(value)) {
        // Leave the marker for any other taker.
        Queue.unsafeOffer(queue, END)
        return Effect.succeed(Option.none())
      }
      return Effect.succeed(Option.some(value))
    })
  )
