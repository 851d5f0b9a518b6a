/**
 * The in-process network behind src/MemoryNetwork.ts.
 *
 * Sending is synchronous: the link model (src/internal/platform/linkModel.ts)
 * decides each datagram's fate and arrival time, and the datagram goes into
 * one time-ordered delivery queue. A single delivery fiber per network sleeps
 * (through `Clock`, so `TestClock` drives it) until the earliest arrival,
 * hands everything due to the receiving sockets' queues, and sleeps again; a
 * send that becomes the earliest arrival wakes it. One fiber and one queue
 * (rather than a sleeping fiber per datagram) keep ties first-in, first-out
 * and make a `TestClock.adjust` deliver in a fixed order.
 *
 * Sockets also carry the driver's direct interface (../directSocket.ts): an
 * attached receiver gets each datagram synchronously from the delivery
 * (inside the delivery fiber, so still under `Clock`), and the end of the
 * burst once every datagram due at that instant was delivered.
 */
import { Clock, Context, Deferred, Duration, Effect, Exit, FiberId, Layer, Mailbox, type Scope } from "effect"
import type * as api from "../../../MemoryNetwork.js"
import { type Datagram, SocketError, type SocketAddress, UdpSocket, type UdpSocketService } from "../../../UdpSocket.js"
import { addressKey } from "../../address.js"
import { DeliveryQueue } from "../../platform/deliveryQueue.js"
import {
  type LinkParameters,
  type LinkSettings,
  type LinkState,
  corrupt,
  idealLink,
  makeLinkState,
  resolveLink,
  transmit
} from "../../platform/linkModel.js"
import { Prng } from "../../platform/prng.js"
import { segments } from "../../platform/segments.js"
import { type DirectReceiver, type DirectSocket, DirectSocketTypeId } from "../directSocket.js"

export const tag = Context.GenericTag<api.MemoryNetwork>("effect-quic/MemoryNetwork")

const defaultReceiveQueueSize = 4096
const firstEphemeralPort = 49152
/** Durations are capped (about 11.6 days) so that every arrival time is a finite integer of µs. */
const maxDurationMicros = 1e12

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

type Counters = Mutable<Omit<api.LinkStats, "from" | "to">>

interface Direction {
  readonly from: SocketAddress
  readonly to: SocketAddress
  readonly counters: Counters
  readonly link: LinkState
}

interface Slot {
  address: SocketAddress
  key: string
  closed: boolean
  readonly mailbox: Mailbox.Mailbox<Datagram>
  /** The driver attached for direct delivery, if any. */
  receiver: DirectReceiver | undefined
}

interface InFlight {
  readonly direction: Direction
  readonly toKey: string
  readonly data: Uint8Array
  readonly sentAt: number
  readonly corrupted: boolean
  readonly duplicate: boolean
  readonly reordered: boolean
}

const zeroCounters = (): Counters => ({
  sent: 0,
  bytesSent: 0,
  delivered: 0,
  bytesDelivered: 0,
  lost: 0,
  tooLarge: 0,
  queueFull: 0,
  unreachable: 0,
  overflow: 0,
  duplicated: 0,
  corrupted: 0,
  reordered: 0
})

const micros = (duration: Duration.DurationInput | undefined): number | undefined => {
  if (duration === undefined) return undefined
  const value = Duration.toMillis(duration) * 1000
  return Number.isNaN(value) ? undefined : Math.min(maxDurationMicros, Math.max(0, Math.round(value)))
}

const toSettings = (conditions: api.LinkConditions): LinkSettings => ({
  latency: micros(conditions.latency),
  jitter: micros(conditions.jitter),
  bandwidth: conditions.bandwidth,
  queueBytes: conditions.queueBytes,
  loss: conditions.loss,
  reorder: conditions.reorder,
  reorderDelay: micros(conditions.reorderDelay),
  duplicate: conditions.duplicate,
  corrupt: conditions.corrupt,
  mtu: conditions.mtu
})

const directionKey = (from: SocketAddress, to: SocketAddress): string => `${addressKey(from)}>${addressKey(to)}`

const copyAddress = (a: SocketAddress): SocketAddress => ({ address: a.address, port: a.port })

/** The network's clock in integer microseconds (TestClock keeps fractional milliseconds). */
const nowMicros: Effect.Effect<number> = Effect.map(Clock.currentTimeMillis, (ms) => Math.round(ms * 1000))

/** All of the network's mutable state; every method runs synchronously inside one Effect step. */
class Network {
  private readonly sockets = new Map<string, Slot>()
  private readonly pending = new DeliveryQueue<InFlight>()
  private readonly directions = new Map<string, Direction>()
  private readonly overlays = new Map<string, LinkSettings>()
  private readonly resolved = new Map<string, LinkParameters>()
  private defaults: LinkParameters
  private readonly rng: Prng
  private readonly entries: Array<api.LogEntry> | undefined
  private wake: Deferred.Deferred<void> | undefined
  private nextPort = firstEphemeralPort

  constructor(readonly options: api.Options) {
    this.rng = new Prng(options.seed ?? 1)
    this.defaults = resolveLink(toSettings(options.conditions ?? {}))
    this.entries = options.log === true ? [] : undefined
    for (const rule of options.links ?? []) this.setConditions(rule.conditions, rule)
  }

  // --- conditions -------------------------------------------------------

  setConditions(conditions: api.LinkConditions, direction: api.Direction | undefined): void {
    this.resolved.clear()
    if (direction === undefined) {
      this.defaults = resolveLink(toSettings(conditions))
      return
    }
    const settings = toSettings(conditions)
    this.overlays.set(directionKey(direction.from, direction.to), settings)
    if (direction.bidirectional === true) this.overlays.set(directionKey(direction.to, direction.from), settings)
  }

  clearConditions(direction: api.Direction | undefined): void {
    this.resolved.clear()
    if (direction === undefined) {
      this.overlays.clear()
      this.defaults = idealLink
      return
    }
    this.overlays.delete(directionKey(direction.from, direction.to))
    if (direction.bidirectional === true) this.overlays.delete(directionKey(direction.to, direction.from))
  }

  private parameters(key: string): LinkParameters {
    let parameters = this.resolved.get(key)
    if (parameters === undefined) {
      const overlay = this.overlays.get(key)
      parameters = overlay === undefined ? this.defaults : resolveLink(overlay, this.defaults)
      this.resolved.set(key, parameters)
    }
    return parameters
  }

  // --- sockets ----------------------------------------------------------

  private resolvePort(address: SocketAddress): SocketAddress | undefined {
    if (address.port !== 0) return copyAddress(address)
    for (let i = 0; i <= 65535 - firstEphemeralPort; i++) {
      const port = firstEphemeralPort + ((this.nextPort - firstEphemeralPort + i) % (65536 - firstEphemeralPort))
      const candidate = { address: address.address, port }
      if (!this.sockets.has(addressKey(candidate))) {
        this.nextPort = port + 1
        return candidate
      }
    }
    return undefined
  }

  /** Binds a slot at `address`, or says why not. */
  bind(address: SocketAddress, mailbox: Mailbox.Mailbox<Datagram>): Slot | SocketError {
    if (!Number.isInteger(address.port) || address.port < 0 || address.port > 65535) {
      return new SocketError({ reason: "AddressNotAvailable", message: `${address.port} is not a valid UDP port (0-65535)` })
    }
    const resolved = this.resolvePort(address)
    if (resolved === undefined) {
      return new SocketError({ reason: "AddressNotAvailable", message: `no free port left on ${address.address}` })
    }
    const key = addressKey(resolved)
    if (this.sockets.has(key)) {
      return new SocketError({ reason: "AddressInUse", message: `${key} is already bound on the memory network` })
    }
    const slot: Slot = { address: resolved, key, closed: false, mailbox, receiver: undefined }
    this.sockets.set(key, slot)
    return slot
  }

  unbind(slot: Slot): void {
    slot.closed = true
    slot.receiver = undefined
    if (this.sockets.get(slot.key) === slot) this.sockets.delete(slot.key)
  }

  rebind(from: SocketAddress, to: SocketAddress): SocketError | undefined {
    const fromKey = addressKey(from)
    const slot = this.sockets.get(fromKey)
    if (slot === undefined) {
      return new SocketError({ reason: "AddressNotAvailable", message: `nothing is bound at ${fromKey} to rebind` })
    }
    const target = this.resolvePort(to)
    if (target === undefined) {
      return new SocketError({ reason: "AddressNotAvailable", message: `no free port left on ${to.address}` })
    }
    const toKey = addressKey(target)
    if (toKey === fromKey) return undefined
    if (this.sockets.has(toKey)) {
      return new SocketError({ reason: "AddressInUse", message: `cannot rebind to ${toKey}: already bound` })
    }
    this.sockets.delete(fromKey)
    slot.address = target
    slot.key = toKey
    this.sockets.set(toKey, slot)
    return undefined
  }

  // --- sending and delivery ----------------------------------------------

  private direction(from: SocketAddress, to: SocketAddress, key: string): Direction {
    let direction = this.directions.get(key)
    if (direction === undefined) {
      direction = { from: copyAddress(from), to: copyAddress(to), counters: zeroCounters(), link: makeLinkState() }
      this.directions.set(key, direction)
    }
    return direction
  }

  private record(
    direction: Direction,
    sentAt: number,
    at: number,
    data: Uint8Array,
    fate: api.Fate,
    flags: { readonly corrupted: boolean; readonly duplicate: boolean; readonly reordered: boolean }
  ): void {
    this.entries?.push({
      from: direction.from,
      to: direction.to,
      sentAt: sentAt / 1000,
      at: at / 1000,
      size: data.length,
      fate,
      data,
      corrupted: flags.corrupted,
      duplicate: flags.duplicate,
      reordered: flags.reordered
    })
  }

  /** Offers one datagram (owned by the network from here on) to the link `from` → `to` at `now` (µs). */
  send(from: SocketAddress, to: SocketAddress, data: Uint8Array, now: number): void {
    const toKey = addressKey(to)
    const key = directionKey(from, to)
    const direction = this.direction(from, to, key)
    const counters = direction.counters
    counters.sent++
    counters.bytesSent += data.length
    const verdict = transmit(this.parameters(key), direction.link, this.rng, now, data.length)
    switch (verdict._tag) {
      case "TooLarge":
        counters.tooLarge++
        return this.record(direction, now, now, data, "too-large", noFlags)
      case "Lost":
        counters.lost++
        return this.record(direction, now, now, data, "lost", noFlags)
      case "QueueFull":
        counters.queueFull++
        return this.record(direction, now, now, data, "queue-full", noFlags)
      case "Transmit": {
        const copies = verdict.copies
        // Every copy gets its own bytes before any is corrupted.
        const buffers = copies.map((_, i) => (i === 0 ? data : data.slice()))
        for (let i = 0; i < copies.length; i++) {
          const copy = copies[i]!
          const bytes = buffers[i]!
          if (copy.corruption !== undefined) {
            corrupt(bytes, copy.corruption)
            counters.corrupted++
          }
          if (copy.duplicate) counters.duplicated++
          if (copy.reordered) counters.reordered++
          this.schedule(copy.at, now, {
            direction,
            toKey,
            data: bytes,
            sentAt: now,
            corrupted: copy.corruption !== undefined,
            duplicate: copy.duplicate,
            reordered: copy.reordered
          })
        }
        return
      }
    }
  }

  private schedule(at: number, now: number, packet: InFlight): void {
    // Nothing else waiting and already due (no delay): deliver at once.
    if (at <= now && this.pending.size === 0) return this.deliver(packet, now)
    if (this.pending.push(at, packet)) this.signal()
  }

  private signal(): void {
    const wake = this.wake
    if (wake !== undefined) {
      this.wake = undefined
      Deferred.unsafeDone(wake, Exit.void)
    }
  }

  /**
   * Hands one datagram to its socket. A direct receiver is told the burst
   * ended at once, or, when `burst` is given, by the caller once every
   * datagram due now was delivered.
   */
  private deliver(packet: InFlight, now: number, burst?: Set<DirectReceiver>): void {
    const counters = packet.direction.counters
    const slot = this.sockets.get(packet.toKey)
    let fate: api.Fate
    if (slot === undefined || slot.closed) {
      counters.unreachable++
      fate = "unreachable"
    } else if (slot.receiver !== undefined) {
      const receiver = slot.receiver
      counters.delivered++
      counters.bytesDelivered += packet.data.length
      fate = "delivered"
      this.record(packet.direction, packet.sentAt, now, packet.data, fate, packet)
      receiver.datagram(packet.data, packet.direction.from)
      if (burst === undefined) receiver.endOfBurst()
      else burst.add(receiver)
      return
    } else if (slot.mailbox.unsafeOffer({ data: packet.data, remote: packet.direction.from })) {
      counters.delivered++
      counters.bytesDelivered += packet.data.length
      fate = "delivered"
    } else {
      counters.overflow++
      fate = "overflow"
    }
    this.record(packet.direction, packet.sentAt, now, packet.data, fate, packet)
  }

  /**
   * Delivers everything due at `now`, then returns how to wait for the next
   * arrival: a sleep until it, cut short by a send that arrives earlier.
   */
  step(now: number): Effect.Effect<void> {
    const burst = new Set<DirectReceiver>()
    for (let packet = this.pending.popDue(now); packet !== undefined; packet = this.pending.popDue(now)) {
      this.deliver(packet, now, burst)
    }
    for (const receiver of burst) receiver.endOfBurst()
    const wake = Deferred.unsafeMake<void>(FiberId.none)
    this.wake = wake
    const next = this.pending.peekTime()
    return next === undefined
      ? Deferred.await(wake)
      : Effect.raceFirst(Effect.sleep(Duration.micros(BigInt(next - now))), Deferred.await(wake))
  }

  shutdown(): void {
    this.pending.clear()
    this.wake = undefined
  }

  // --- observation --------------------------------------------------------

  stats(): ReadonlyArray<api.LinkStats> {
    return Array.from(this.directions.values(), (d) => ({ from: d.from, to: d.to, ...d.counters }))
  }

  linkStats(from: SocketAddress, to: SocketAddress): api.LinkStats {
    const direction = this.directions.get(directionKey(from, to))
    return { from: copyAddress(from), to: copyAddress(to), ...(direction?.counters ?? zeroCounters()) }
  }

  log(): ReadonlyArray<api.LogEntry> {
    return this.entries === undefined ? [] : this.entries.slice()
  }

  inFlight(): number {
    return this.pending.size
  }
}

const noFlags = { corrupted: false, duplicate: false, reordered: false } as const

const attach = (
  network: Network,
  address: SocketAddress
): Effect.Effect<UdpSocketService, SocketError, Scope.Scope> =>
  Effect.gen(function*() {
    const capacity = Math.max(1, Math.floor(network.options.receiveQueueSize ?? defaultReceiveQueueSize))
    const slot = yield* Effect.acquireRelease(
      Effect.flatMap(Mailbox.make<Datagram>({ capacity, strategy: "dropping" }), (mailbox) =>
        Effect.suspend(() => {
          const result = network.bind(address, mailbox)
          return result instanceof SocketError ? Effect.fail(result) : Effect.succeed(result)
        })),
      (slot, exit) =>
        Effect.sync(() => network.unbind(slot)).pipe(
          Effect.zipRight(slot.mailbox.end),
          Effect.zipRight(
            Exit.isFailure(exit)
              ? Effect.logDebug("memory socket closed by a failing scope", exit.cause)
              : Effect.logDebug("memory socket closed")
          ),
          Effect.annotateLogs({ module: "MemoryNetwork", local: slot.key })
        )
    )
    const clock = yield* Effect.clock
    const direct: DirectSocket = {
      attach: (receiver) => {
        slot.receiver = receiver
      },
      detach: (receiver) => {
        if (slot.receiver === receiver) slot.receiver = undefined
      },
      send: (destination, data) => {
        // A closed socket drops what it is given; the memory network never pushes back.
        if (!slot.closed) network.send(slot.address, destination, data.slice(), Math.round(clock.unsafeCurrentTimeMillis() * 1000))
        return true
      },
      bind: (other) => attach(network, other)
    }
    const service: UdpSocketService & { readonly [DirectSocketTypeId]: DirectSocket } = {
      [DirectSocketTypeId]: direct,
      localAddress: Effect.sync(() => slot.address),
      send: (batch) =>
        Effect.flatMap(nowMicros, (now) =>
          Effect.suspend(() => {
            if (slot.closed) {
              return Effect.fail(new SocketError({ reason: "Closed", message: `memory socket ${slot.key} is closed` }))
            }
            const from = slot.address
            for (const item of batch) {
              // Copy: the sender may reuse its buffer once `send` completes.
              for (const datagram of segments(item.data, item.segmentSize)) {
                network.send(from, item.destination, datagram.slice(), now)
              }
            }
            return Effect.void
          })),
      receive: Mailbox.toStream(slot.mailbox)
    }
    return service
  })

export const make = (options: api.Options = {}): Effect.Effect<api.MemoryNetwork, never, Scope.Scope> =>
  Effect.gen(function*() {
    const network = new Network(options)
    const deliveries = Effect.forever(Effect.flatMap(nowMicros, (now) => Effect.suspend(() => network.step(now))))
    yield* Effect.addFinalizer(() => Effect.sync(() => network.shutdown()))
    yield* Effect.forkScoped(Effect.interruptible(deliveries))
    const service: api.MemoryNetwork = {
      attach: (address) => attach(network, address),
      setConditions: (conditions, direction) => Effect.sync(() => network.setConditions(conditions, direction)),
      clearConditions: (direction) => Effect.sync(() => network.clearConditions(direction)),
      rebind: (from, to) =>
        Effect.suspend(() => {
          const error = network.rebind(from, to)
          return error === undefined ? Effect.void : Effect.fail(error)
        }),
      stats: Effect.sync(() => network.stats()),
      linkStats: (from, to) => Effect.sync(() => network.linkStats(from, to)),
      log: Effect.sync(() => network.log()),
      inFlight: Effect.sync(() => network.inFlight())
    }
    return service
  })

export const layer = (options?: api.Options): Layer.Layer<api.MemoryNetwork> => Layer.scoped(tag, make(options))

export const makeSocket = (
  address: SocketAddress
): Effect.Effect<UdpSocketService, SocketError, api.MemoryNetwork | Scope.Scope> =>
  Effect.flatMap(tag, (network) => network.attach(address))

export const socket = (address: SocketAddress): Layer.Layer<UdpSocket, SocketError, api.MemoryNetwork> =>
  Layer.scoped(UdpSocket, makeSocket(address))
