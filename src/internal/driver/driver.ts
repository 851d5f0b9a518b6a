import {
  Cause,
  Clock,
  Duration,
  Effect,
  Exit,
  type Fiber,
  FiberId,
  Option,
  PubSub,
  Queue,
  Runtime,
  type Scope,
  Stream,
  type Tracer
} from "effect"
import type { ConnectionClosedError } from "../../QuicError.js"
import type { OutgoingDatagrams, UdpSocketService } from "../../UdpSocket.js"
import { sameAddress, type SocketAddress } from "../address.js"
import type { OutgoingPacket, QuicEndpoint } from "../endpoint.js"
import type { CloseReason, QuicEvent } from "../events.js"
import { type DirectReceiver, type DirectSocket, directSocketOf } from "./directSocket.js"
import { Gate, Outcome } from "./signal.js"

/**
 * The endpoint driver (ARCHITECTURE.md §2): the one place that moves bytes
 * between the socket and the sans-IO core, runs its timers on Effect's
 * `Clock` (so `TestClock` drives them), and turns the core's events into
 * per-connection and per-stream signals.
 *
 * Nothing is handed between fibers on the way through. With the sockets of
 * this package (./directSocket.ts) each received datagram enters the core
 * synchronously from the socket's own event; once the burst of datagrams
 * that arrived together is in, the driver {@link Driver.pump pumps} once:
 * due timers, events to signals, and everything the core has to send out
 * to the socket, for as long as the socket takes it. Application calls run
 * synchronously on the caller's fiber (`Driver.call`): JavaScript runs one
 * fiber step at a time, so the core is never entered concurrently; each call
 * pumps too, so what it queued leaves at once. Fibers are woken only for
 * what the application can see (a stream readable or writable, a new
 * connection or stream, a datagram, a close).
 *
 * Timers: one fiber sleeps on `Clock` until the core's next deadline, and
 * is replaced only when the deadline moves earlier; a later deadline is
 * picked up when the sleeping one fires. On Effect's default (live) clock,
 * whose `sleep` is a `setTimeout`, the driver calls `setTimeout` itself:
 * same timing, without a fiber per re-arm.
 *
 * A socket without the direct interface is driven through its public
 * `receive` stream (one fiber) and `send` effect (one batch in flight).
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
  readonly readable = new Gate()
  readonly writable = new Gate()
  readonly finished = new Outcome<void>()
  readonly stopped = new Outcome<bigint>()
  /** The application has read the FIN: later reads report the end again. */
  readFinished = false
}

const END = Symbol("end")
export type End = typeof END

/**
 * A connection's queue of accepted streams or received datagrams: an array
 * and a latch. An Effect `Queue` costs tens of µs to make (`runSync` runs a
 * fiber for it), and a server connection wants three; this one is a plain
 * object. Takers wait on the latch and take synchronously once woken, so an
 * item goes to exactly one taker and none is lost to an interrupted one.
 * With a `capacity`, a full mailbox drops its oldest item (a sliding queue).
 */
export class Mailbox<A> {
  private items: Array<A> = []
  private head = 0
  private readonly ready = new Gate()

  constructor(private readonly capacity = Number.POSITIVE_INFINITY) {}

  get size(): number {
    return this.items.length - this.head
  }

  offer(item: A): void {
    if (this.size > 0 && this.size >= this.capacity) {
      this.items[this.head] = undefined as A
      this.head++
    }
    this.items.push(item)
    this.ready.open()
  }

  private poll(): A | undefined {
    const items = this.items
    const item = items[this.head]!
    items[this.head] = undefined as A
    this.head++
    if (this.head === items.length) {
      this.items = []
      this.head = 0
      this.ready.close()
    } else if (this.head >= 64 && this.head * 2 >= items.length) {
      this.items = items.slice(this.head)
      this.head = 0
    }
    return item
  }

  /** The next item, waiting for one. */
  readonly take: Effect.Effect<A> = Effect.suspend(() => this.takeNow())

  private takeNow(): Effect.Effect<A> {
    if (this.size > 0) return Effect.succeed(this.poll() as A)
    return Effect.zipRight(this.ready.await, Effect.suspend(() => this.takeNow()))
  }
}

/** Per-connection signals and queues. */
export class ConnectionSignals {
  readonly handshake = new Outcome<void, CloseReason>()
  readonly closed = new Outcome<CloseReason>()
  private bidiQueue: Mailbox<number | End> | undefined
  private uniQueue: Mailbox<number | End> | undefined
  private datagramQueue: Mailbox<Uint8Array | End> | undefined
  private eventHub: PubSub.PubSub<ConnectionEvent> | undefined
  readonly streams = new Map<number, StreamSignals>()
  readonly streamsAvailable = new Gate()
  readonly datagramsUnblocked = new Gate()
  closeReason: CloseReason | undefined
  /** The error every waiter sees once `closeReason` is set (made at first need). */
  closedError: ConnectionClosedError | undefined
  zeroRttRejected = false
  /**
   * The tracing span of a connection from `Endpoint.incoming`, which has no
   * scope to end it: it ends when the connection closes ({@link Driver.traceUntilClosed}).
   */
  span: Tracer.Span | undefined

  constructor(
    readonly handle: number,
    private readonly datagramCapacity: number
  ) {}

  /*
   * The queues are made at first use: most connections never see a
   * unidirectional stream or a datagram. One made after the close starts
   * with its end marker.
   */

  get incomingBidi(): Mailbox<number | End> {
    return (this.bidiQueue ??= this.ended(new Mailbox<number | End>()))
  }

  get incomingUni(): Mailbox<number | End> {
    return (this.uniQueue ??= this.ended(new Mailbox<number | End>()))
  }

  get datagrams(): Mailbox<Uint8Array | End> {
    return (this.datagramQueue ??= this.ended(new Mailbox<Uint8Array | End>(this.datagramCapacity)))
  }

  private ended<A>(queue: Mailbox<A | End>): Mailbox<A | End> {
    if (this.closeReason !== undefined) queue.offer(END)
    return queue
  }

  /** Ends every queue made so far (the connection closed). */
  endQueues(): void {
    this.bidiQueue?.offer(END)
    this.uniQueue?.offer(END)
    this.datagramQueue?.offer(END)
  }

  /**
   * Made at the first subscription: a PubSub keeps nothing for subscribers
   * yet to come, so until then events have nobody to reach, and an idle
   * connection does not carry the hub's 256-slot ring.
   */
  get events(): PubSub.PubSub<ConnectionEvent> {
    return (this.eventHub ??= Effect.runSync(PubSub.sliding<ConnectionEvent>(256)))
  }

  publish(event: ConnectionEvent): void {
    if (this.eventHub !== undefined) Effect.runSync(PubSub.publish(this.eventHub, event))
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

/**
 * How a connection's close reads as the end of its span: a success when
 * either side closed with code 0 (NO_ERROR, RFC 9000 §20.1, or the
 * application's 0), a failure carrying the reason otherwise.
 */
const closeExit = (reason: CloseReason): Exit.Exit<void, CloseReason> => {
  switch (reason._tag) {
    case "LocallyClosed":
    case "ApplicationClosed":
      return reason.code === 0n ? Exit.void : Exit.fail(reason)
    case "TransportError":
      return reason.code === 0 ? Exit.void : Exit.fail(reason)
    default:
      return Exit.fail(reason)
  }
}

/** Pump rounds (each: pending datagrams, due timers, events, sends) before the driver lets others run. */
const MAX_PUMP_ROUNDS = 16

/** Flush rounds of one pump: each pulls up to the core's send-queue capacity. */
const MAX_FLUSH_ROUNDS = 16

/** Datagram batches handed to a socket without the direct interface at once. */
const GENERIC_BATCH = 64

/** The prototype of Effect's default clock: `sleep` is `setTimeout`, time is `Date.now` / `process.hrtime`. */
const liveClockPrototype: unknown = Object.getPrototypeOf(Clock.make())

const hasPerformance = typeof performance === "object" && typeof performance.now === "function" &&
  typeof performance.timeOrigin === "number"

interface Received {
  readonly data: Uint8Array
  readonly remote: SocketAddress
  readonly local: SocketAddress | undefined
}

/**
 * A socket besides the endpoint's own, at a server's preferred address
 * (RFC 9000 §9.6): what arrives there enters the core with `local`, and
 * packets whose `source` is `local` leave through it.
 */
export interface ExtraSocket {
  readonly local: SocketAddress
  readonly socket: DirectSocket
}

export class Driver {
  readonly connections = new Map<number, ConnectionSignals>()
  /** Server connections whose handshake completed, waiting for `accept`. */
  readonly incoming = Effect.runSync(Queue.unbounded<ConnectionSignals | End>())
  private readonly direct: DirectSocket | undefined
  private readonly runFork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.RuntimeFiber<A, E>
  /** Inside the core: a datagram or pump arriving now (re-entrantly, from an in-process network) waits. */
  private busy = false
  /** Another pump round is wanted. */
  private again = false
  private pendingIn: Array<Received> = []
  /** The socket asked to wait (direct: until `writable`; generic: while a batch is in flight). */
  private blocked = false
  private outgoing: Array<OutgoingDatagrams> = []
  private timer: Fiber.RuntimeFiber<void> | undefined
  private liveTimer: ReturnType<typeof setTimeout> | undefined
  /** The deadline (core µs) the timer sleeps until. */
  private timerAt: number | undefined
  /** `clock` is Effect's default clock. */
  private readonly live: boolean
  private continuation = false
  /** Application calls of this turn are batched in the core until the next pump. */
  private batchOpen = false
  private closing = false
  private stopped = false

  constructor(
    readonly endpoint: QuicEndpoint,
    private readonly socket: UdpSocketService,
    private readonly clock: Clock.Clock,
    runtime: Runtime.Runtime<never>,
    private readonly datagramQueue: number,
    private readonly extraSockets: ReadonlyArray<ExtraSocket> = []
  ) {
    this.direct = directSocketOf(socket)
    this.extraReceivers = extraSockets.map(({ local }) => ({
      datagram: (data, remote) => this.receive(data, remote, local),
      endOfBurst: this.receiver.endOfBurst,
      writable: this.receiver.writable,
      failed: this.receiver.failed
    }))
    this.runFork = Runtime.runFork(runtime)
    this.live = Object.getPrototypeOf(clock) === liveClockPrototype
  }

  /**
   * The core's clock: µs since the Unix epoch on Effect's `Clock`. On the
   * live clock (called for every datagram) it is read from
   * `performance.now()` directly, as Effect's live clock does but without
   * its bigint arithmetic; other clocks (`TestClock`) are asked.
   */
  now(): number {
    if (this.live && hasPerformance) return Math.floor((performance.timeOrigin + performance.now()) * 1000)
    return Number(this.clock.unsafeCurrentTimeNanos() / 1000n)
  }

  /**
   * Runs `f` against the core now, inside a core batch that stays open for
   * the rest of the current turn: the pump that closes it (events, and what
   * the calls queued goes out) runs at the end of the turn, so the calls one
   * fiber makes in a row (a stream opened, written and finished) leave in one
   * packet rather than one each.
   */
  call<A>(f: (endpoint: QuicEndpoint, now: number) => A): Effect.Effect<A> {
    return Effect.sync(() => this.unsafeCall(f))
  }

  /** Like `call`, for code already inside `Effect.sync`. */
  unsafeCall<A>(f: (endpoint: QuicEndpoint, now: number) => A): A {
    if (!this.batchOpen && !this.stopped) {
      this.batchOpen = true
      this.endpoint.beginBatch()
      queueMicrotask(this.queuedPump)
    }
    return f(this.endpoint, this.now())
  }

  private readonly queuedPump = (): void => this.pump()

  /** Registers a connection the application created (client) before its events arrive. */
  register(handle: number): ConnectionSignals {
    let signals = this.connections.get(handle)
    if (signals === undefined) {
      signals = new ConnectionSignals(handle, this.datagramQueue)
      this.connections.set(handle, signals)
    }
    return signals
  }

  // ---- the socket side ------------------------------------------------------------

  /** What the extra sockets call: the primary's receiver, with their local address on each datagram. */
  private readonly extraReceivers: ReadonlyArray<DirectReceiver>

  /** What a direct socket calls. */
  private readonly receiver: DirectReceiver = {
    datagram: (data, remote) => this.receive(data, remote),
    endOfBurst: () => this.pump(),
    writable: () => {
      this.blocked = false
      this.pump()
    },
    failed: (error) => void this.runFork(Effect.logError("effect-quic: socket receive failed", error))
  }

  /**
   * Connects the driver to its socket: attaches to a direct socket, or
   * forks the fiber that reads the public `receive` stream. Closing `scope`
   * detaches it.
   */
  start(scope: Scope.Scope): Effect.Effect<void> {
    const direct = this.direct
    this.extraSockets.forEach((extra, i) => extra.socket.attach(this.extraReceivers[i]!))
    if (direct !== undefined) {
      return Effect.sync(() => direct.attach(this.receiver))
    }
    const receiveLoop = this.socket.receive.pipe(
      Stream.runForEachChunk((chunk) =>
        Effect.sync(() => {
          for (const datagram of chunk) this.receive(datagram.data, datagram.remote)
          this.pump()
        })
      ),
      Effect.catchAll((error) => Effect.logError("effect-quic: socket receive failed", error))
    )
    return Effect.asVoid(Effect.forkIn(receiveLoop, scope))
  }

  /** One received datagram into the core (or, while the core is busy, into the pending list). */
  private receive(data: Uint8Array, remote: SocketAddress, local?: SocketAddress): void {
    if (this.stopped) return
    if (this.busy) {
      this.pendingIn.push({ data, remote, local })
      this.again = true
      return
    }
    this.busy = true
    try {
      this.endpoint.handleDatagram(this.now(), data, remote, local)
    } catch (error) {
      this.defect(error)
    } finally {
      this.busy = false
    }
  }

  /**
   * Moves everything that is ready: datagrams that arrived while the core
   * was busy, due timers, events to signals, and the core's datagrams to the
   * socket while it takes them; then aims the timer at the next deadline.
   * Synchronous; re-entrant calls only ask for another round.
   */
  pump(): void {
    if (this.stopped) return
    if (this.busy) {
      this.again = true
      return
    }
    this.busy = true
    try {
      if (this.batchOpen) {
        this.batchOpen = false
        this.endpoint.endBatch(this.now())
      }
      let rounds = 0
      do {
        this.again = false
        if (this.pendingIn.length > 0) {
          const pending = this.pendingIn
          this.pendingIn = []
          for (const datagram of pending) this.endpoint.handleDatagram(this.now(), datagram.data, datagram.remote, datagram.local)
        }
        const now = this.now()
        const deadline = this.endpoint.nextTimerDeadline()
        if (deadline !== undefined && deadline <= now) this.endpoint.driveTimers(now)
        this.dispatch()
        this.transmit()
        if (!this.again) {
          // A timer that came due while sending is run now rather than after a sleep.
          const next = this.endpoint.nextTimerDeadline()
          if (next !== undefined && next <= this.now()) this.again = true
        }
      } while ((this.again || this.pendingIn.length > 0) && ++rounds < MAX_PUMP_ROUNDS)
      if (this.again || this.pendingIn.length > 0) this.continueLater()
    } catch (error) {
      this.defect(error)
    } finally {
      this.busy = false
    }
    // Also after a defect: one failed turn must not leave every connection without its timers.
    this.armTimer()
  }

  /**
   * Pumps again after others had their turn (the pump gave up after its
   * round limit, or a timer is already due): on the live clock after the
   * event loop's next poll for I/O (`setImmediate`), so that acknowledgements
   * get in between; otherwise after the fibers ready to run.
   */
  private continueLater(): void {
    if (this.continuation) return
    this.continuation = true
    if (this.live) {
      setImmediate(this.continuePump)
      return
    }
    this.runFork(Effect.zipRight(Effect.yieldNow(), Effect.sync(this.continuePump)))
  }

  private readonly continuePump = (): void => {
    this.continuation = false
    this.pump()
  }

  /** Sends what the core has queued, pulling more from its connections, until done or the socket pushes back. */
  private transmit(): void {
    const endpoint = this.endpoint
    for (let round = 0; round < MAX_FLUSH_ROUNDS && !this.blocked; round++) {
      endpoint.flush(this.now())
      let packet = endpoint.pollSend()
      if (packet === undefined) break
      do {
        if (!this.send(packet)) this.blocked = true
        else packet = endpoint.pollSend()
      } while (!this.blocked && packet !== undefined)
      this.dispatch()
    }
    if (this.outgoing.length > 0) this.sendGeneric()
  }

  /** Hands one packet (one datagram, or several of `segmentSize`) to the socket; false once it wants no more. */
  private send(packet: OutgoingPacket): boolean {
    const { destination, data, segmentSize, source } = packet
    // A connection whose path is at a preferred address sends from that address's socket.
    const direct = source === undefined ? this.direct : this.socketFor(source)
    if (direct === undefined) {
      this.outgoing.push({ destination, data, segmentSize })
      return this.outgoing.length < GENERIC_BATCH
    }
    if (segmentSize === undefined || data.length <= segmentSize) return direct.send(destination, data)
    let more = true
    for (let offset = 0; offset < data.length; offset += segmentSize) {
      if (!direct.send(destination, data.subarray(offset, Math.min(offset + segmentSize, data.length)))) more = false
    }
    return more
  }

  /** The socket bound at `source`: an extra one, or else the endpoint's own. */
  private socketFor(source: SocketAddress): DirectSocket | undefined {
    for (const extra of this.extraSockets) if (sameAddress(extra.local, source)) return extra.socket
    return this.direct
  }

  /** A socket without the direct interface: one `send` batch in flight at a time. */
  private sendGeneric(): void {
    const batch = this.outgoing
    this.outgoing = []
    this.blocked = true
    this.runFork(
      this.socket.send(batch).pipe(
        Effect.catchAll((error) => Effect.logDebug("effect-quic: send failed", error)),
        Effect.ensuring(Effect.sync(() => {
          this.blocked = false
          this.pump()
        }))
      )
    )
  }

  /** Keeps one timer fiber aimed at the core's next deadline; replaced only when the deadline moves earlier. */
  private armTimer(): void {
    const deadline = this.endpoint.nextTimerDeadline()
    if (deadline === undefined) return
    if (this.timerAt !== undefined && this.timerAt <= deadline) return
    const wait = Math.ceil(deadline - this.now())
    // Already due: the pump's continuation runs it.
    if (wait <= 0) return this.continueLater()
    this.timerAt = deadline
    if (this.live) {
      if (this.liveTimer !== undefined) clearTimeout(this.liveTimer)
      // Whole milliseconds, rounded up: waking early would only mean waking again.
      this.liveTimer = setTimeout(this.onLiveTimer, Math.ceil(wait / 1000))
      return
    }
    const previous = this.timer
    const fiber: Fiber.RuntimeFiber<void> = this.runFork(
      Effect.zipRight(
        this.clock.sleep(Duration.micros(BigInt(wait))),
        Effect.sync(() => {
          if (this.timer !== fiber) return
          this.timer = undefined
          this.timerAt = undefined
          this.pump()
        })
      )
    )
    this.timer = fiber
    previous?.unsafeInterruptAsFork(FiberId.none)
  }

  private readonly onLiveTimer = (): void => {
    this.liveTimer = undefined
    this.timerAt = undefined
    this.pump()
  }

  /** A bug in the core or the driver: logged, never thrown into the socket's event handler. */
  private defect(error: unknown, what = "driver failed"): void {
    this.runFork(Effect.logError(`effect-quic: ${what}`, Cause.die(error)))
  }

  // ---- events --------------------------------------------------------------------

  /** Turns every pending core event into signals (synchronous). */
  private dispatch(): void {
    for (let event = this.endpoint.pollEvent(); event !== undefined; event = this.endpoint.pollEvent()) this.onEvent(event)
  }

  private onEvent(event: QuicEvent): void {
    // A bug in the core that one connection met: that connection is closed, and the bug reported.
    if (event._tag === "ConnectionClosed" && event.reason._tag === "TransportError" && event.reason.defect !== undefined) {
      this.defect(event.reason.defect, "a connection was closed by a bug in effect-quic")
    }
    const c = event._tag === "NewConnection" ? this.register(event.connection) : this.connections.get(event.connection)
    if (c === undefined) return
    switch (event._tag) {
      case "NewConnection":
        break
      case "Connected":
        c.handshake.done(Exit.void)
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
        ;(event.bidi ? c.incomingBidi : c.incomingUni).offer(event.stream)
        break
      case "StreamReadable":
        c.stream(event.stream).readable.open()
        break
      case "StreamWritable":
        c.stream(event.stream).writable.open()
        break
      case "StreamFinished":
        c.stream(event.stream).finished.done(Exit.void)
        break
      case "StreamStopped": {
        const s = c.stream(event.stream)
        s.stopped.done(Exit.succeed(event.code))
        s.writable.open()
        break
      }
      case "StreamsAvailable":
        c.streamsAvailable.open()
        break
      case "DatagramReceived":
        c.datagrams.offer(event.data)
        break
      case "DatagramsUnblocked":
        c.datagramsUnblocked.open()
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
    c.publish(event)
  }

  /** Ends `span` when the connection closes, or now if it has closed already. */
  traceUntilClosed(c: ConnectionSignals, span: Tracer.Span): void {
    if (c.closeReason === undefined) c.span = span
    else span.end(this.clock.unsafeCurrentTimeNanos(), closeExit(c.closeReason))
  }

  private onClosed(c: ConnectionSignals, reason: CloseReason): void {
    if (c.closeReason !== undefined) return
    c.closeReason = reason
    c.span?.end(this.clock.unsafeCurrentTimeNanos(), closeExit(reason))
    c.span = undefined
    c.handshake.done(Exit.fail(reason))
    c.closed.done(Exit.succeed(reason))
    this.publish(c, { _tag: "Closed", reason })
    // Wake every waiter so it sees the connection is gone.
    c.endQueues()
    c.streamsAvailable.open()
    c.datagramsUnblocked.open()
    for (const s of c.streams.values()) {
      s.readable.open()
      s.writable.open()
    }
  }

  /**
   * Forgets a connection's signals once the application is done with it,
   * after a pump: what its last calls queued (a CONNECTION_CLOSE) goes out
   * and its close reaches the signals first.
   */
  forget(handle: number): void {
    this.pump()
    this.connections.delete(handle)
    this.clientHandles.delete(handle)
  }

  /**
   * Closes every connection with code 0 and sends the CONNECTION_CLOSE
   * frames before the socket goes (used when the endpoint's scope closes),
   * then detaches from the socket and stops the timer.
   */
  shutdown(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.closing) return Effect.void
      this.closing = true
      const now = this.now()
      const last: Array<OutgoingDatagrams> = this.outgoing
      this.outgoing = []
      // Whatever an in-process peer answers meanwhile waits (and is then dropped).
      this.busy = true
      try {
        for (const handle of this.connections.keys()) this.endpoint.closeConnection(now, handle, 0n, "endpoint closed")
        this.dispatch()
        // Everything queued goes now, whatever the socket said about back-pressure.
        this.endpoint.flush(now)
        for (let packet = this.endpoint.pollSend(); packet !== undefined; packet = this.endpoint.pollSend()) {
          if (this.direct !== undefined || packet.source !== undefined) this.send(packet)
          else last.push({ destination: packet.destination, data: packet.data, segmentSize: packet.segmentSize })
        }
        this.dispatch()
        // The socket closes next: no connection can hear its peer again.
        this.endpoint.discardAll()
      } finally {
        this.busy = false
      }
      this.stopped = true
      this.pendingIn = []
      this.direct?.detach(this.receiver)
      this.extraSockets.forEach((extra, i) => extra.socket.detach(this.extraReceivers[i]!))
      this.timer?.unsafeInterruptAsFork(FiberId.none)
      this.timer = undefined
      if (this.liveTimer !== undefined) clearTimeout(this.liveTimer)
      this.liveTimer = undefined
      this.timerAt = undefined
      Queue.unsafeOffer(this.incoming, END)
      return last.length === 0
        ? Effect.void
        : this.socket.send(last).pipe(Effect.catchAll((error) => Effect.logDebug("effect-quic: send failed", error)))
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

/** Takes from a mailbox that ends with END; None once it ended. */
export const takeFromMailbox = <A>(mailbox: Mailbox<A | End>): Effect.Effect<Option.Option<A>> =>
  Effect.map(mailbox.take, (value) => {
    if (isEnd(value)) {
      // Leave the marker for any other taker.
      mailbox.offer(END)
      return Option.none()
    }
    return Option.some(value)
  })
