/**
 * The relay as a scoped Effect resource: a listen socket facing the
 * clients, one server-facing socket per client address (a NAT mapping,
 * full-cone: whatever arrives on it goes back to its client), the faults of
 * each direction, rebinding, and the log.
 *
 * Socket events feed the pure fault logic synchronously; delayed datagrams
 * wait in one departure queue served by one timer. A datagram is logged
 * once its fate is settled: when dropped, or when the kernel has taken it.
 *
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import { addressKey, type SocketAddress } from "../internal/address.js"
import { errorCode } from "../internal/platform/socketErrors.js"
import { Departures } from "./departures.js"
import { NetemError } from "./error.js"
import { type Decision, type Direction, type DropReason, type Faults, makeDirection } from "./faults.js"
import { bindLeg, type Leg } from "./leg.js"
import { discardLog, formatDatagram, formatRebind, type LogSink, openLogFile } from "./log.js"

/**
 * An IP literal, port and socket family.
 *
 * @since 0.1.0
 * @category models
 */
export interface Address extends SocketAddress {
  readonly family: "udp4" | "udp6"
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RelayOptions {
  /** The client-facing socket (port 0: ephemeral). */
  readonly listen: Address
  readonly server: Address
  readonly faults: Faults
  readonly seed: number
  /** Replace each server-facing socket by one on a new port every so many ms. */
  readonly rebindPort?: number | undefined
  /** Replace each by one on the next 127.0.0.2–254 address every so many ms (IPv4 loopback only). */
  readonly rebindAddr?: number | undefined
  /**
   * The first replacement this many ms after a client's first datagram (default:
   * the interval). Each client's NAT mapping keeps its own schedule from its
   * creation, so a client that starts late is not rebound in mid-handshake.
   */
  readonly firstRebind?: number | undefined
  /** Where to write the JSON-lines log. */
  readonly log?: string | undefined
}

/**
 * A running relay.
 *
 * @since 0.1.0
 * @category models
 */
export interface Relay {
  /** Where clients send to (with the actual port). */
  readonly listenAddress: SocketAddress
}

interface Mapping {
  readonly client: SocketAddress
  readonly clientKey: string
  /** Undefined until the first socket is bound. */
  leg: Leg | undefined
  /** The last byte of the 127.0.0.x source address, for `rebindAddr`. */
  source: number
  rebinding: boolean
  /** To-server datagrams that arrived before the first socket was bound. */
  readonly waiting: Array<Pending>
}

interface Pending {
  readonly dir: Direction
  readonly t: number
  readonly size: number
  readonly decision: Decision
  readonly mapping: Mapping
  /** For to-client datagrams: the server-facing socket it arrived on. */
  readonly via: string | undefined
}

/** How long closing waits for sends already handed to the kernel. */
const CLOSE_WAIT_MILLIS = 1000
/** How often the log is written out while running, for readers that tail it. */
const LOG_FLUSH_MILLIS = 200

const sourceAddress = (server: Address): string =>
  server.family === "udp6" ? (server.address === "::1" ? "::1" : "::") : server.address.startsWith("127.") ? "127.0.0.1" : "0.0.0.0"

const nextLoopback = (source: number): number => (source < 2 || source >= 254 ? 2 : source + 1)

class RelayCore {
  private readonly mappings = new Map<string, Mapping>()
  private readonly departures = new Departures<Pending>()
  private readonly toServer
  private readonly toClient
  private readonly source: string
  /** The `via` of datagrams whose mapping never got a socket. */
  private readonly unbound: string
  private readonly started = performance.now()
  private readonly timers: Array<NodeJS.Timeout> = []
  private departureTimer: NodeJS.Timeout | undefined
  private departureAt = Number.POSITIVE_INFINITY
  private closed = false

  constructor(private readonly options: RelayOptions, private readonly log: LogSink, private readonly listen: Leg) {
    this.toServer = makeDirection(options.faults, options.seed, "to_server")
    this.toClient = makeDirection(options.faults, options.seed, "to_client")
    this.source = sourceAddress(options.server)
    this.unbound = addressKey({ address: this.source, port: 0 })
    const every = (millis: number | undefined, action: () => void) => {
      if (millis !== undefined) this.timers.push(setInterval(action, millis))
    }
    every(LOG_FLUSH_MILLIS, () => log.flush())
  }

  private now(): number {
    return performance.now() - this.started
  }

  fromClient(data: Buffer, client: SocketAddress): void {
    const t = this.now()
    const clientKey = addressKey(client)
    const mapping = this.mappings.get(clientKey) ?? this.createMapping(client, clientKey)
    this.arrive({ dir: "to_server", t, size: data.length, decision: this.toServer.decide(t, data), mapping, via: undefined })
  }

  private fromServer(mapping: Mapping, leg: Leg, data: Buffer): void {
    const t = this.now()
    this.arrive({ dir: "to_client", t, size: data.length, decision: this.toClient.decide(t, data), mapping, via: leg.key })
  }

  private arrive(pending: Pending): void {
    const decision = pending.decision
    if (decision.fate === "dropped") this.settleDropped(pending)
    else if (decision.delay <= 0) this.dispatch(pending)
    else {
      this.departures.push(pending.t + decision.delay, pending)
      this.armDepartures()
    }
  }

  private createMapping(client: SocketAddress, clientKey: string): Mapping {
    const mapping: Mapping = { client, clientKey, leg: undefined, source: 1, rebinding: false, waiting: [] }
    this.mappings.set(clientKey, mapping)
    this.scheduleRebinding(mapping)
    this.bindFor(mapping, this.source, (leg) => {
      if (leg instanceof Error) {
        // Forget the mapping so that the client's next datagram tries again.
        this.mappings.delete(clientKey)
        for (const pending of mapping.waiting.splice(0)) this.logDropped(pending, "closed", this.unbound)
        return
      }
      mapping.leg = leg
      for (const pending of mapping.waiting.splice(0)) {
        if (pending.decision.fate === "dropped") this.settleDropped(pending)
        else this.dispatch(pending)
      }
    })
    return mapping
  }

  /** Binds a server-facing socket for `mapping`; one bound after the relay closed is closed at once. */
  private bindFor(mapping: Mapping, address: string, ready: (leg: Leg | Error) => void): void {
    let bound: Leg | undefined
    bindLeg(this.options.server.family, address, 0, (data) => {
      if (bound !== undefined) this.fromServer(mapping, bound, data)
    }, (result) => {
      if (result instanceof Error) return ready(result)
      if (this.closed) return result.retire()
      bound = result
      ready(result)
    })
  }

  /** Starts `mapping`'s rebinding schedules: the first after `firstRebind`, then every interval. */
  private scheduleRebinding(mapping: Mapping): void {
    for (const [interval, newAddress] of [[this.options.rebindPort, false], [this.options.rebindAddr, true]] as const) {
      if (interval === undefined) continue
      this.timers.push(setTimeout(() => {
        if (this.closed || this.mappings.get(mapping.clientKey) !== mapping) return
        this.rebind(mapping, newAddress)
        this.timers.push(setInterval(() => this.rebind(mapping, newAddress), interval))
      }, this.options.firstRebind ?? interval))
    }
  }

  private rebind(mapping: Mapping, newAddress: boolean): void {
    const old = mapping.leg
    if (old === undefined || mapping.rebinding) return
    mapping.rebinding = true
    if (newAddress) mapping.source = nextLoopback(mapping.source)
    const address = newAddress ? `127.0.0.${mapping.source}` : old.local.address
    this.bindFor(mapping, address, (leg) => {
      mapping.rebinding = false
      // A failed rebinding keeps the old socket, as a NAT that ran out of ports would.
      if (leg instanceof Error) return
      const from = mapping.leg!
      mapping.leg = leg
      from.retire()
      this.log.write(formatRebind({ t: this.now(), client: mapping.clientKey, from: from.key, to: leg.key }))
    })
  }


  private armDepartures(): void {
    const at = this.departures.nextAt()
    if (at === undefined || at >= this.departureAt) return
    if (this.departureTimer !== undefined) clearTimeout(this.departureTimer)
    this.departureAt = at
    // Timers round down to whole milliseconds: round up so none leaves early.
    this.departureTimer = setTimeout(() => this.departNow(), Math.max(0, Math.ceil(at - this.now())))
  }

  private departNow(): void {
    this.departureTimer = undefined
    this.departureAt = Number.POSITIVE_INFINITY
    const now = this.now()
    for (let pending = this.departures.popDue(now); pending !== undefined; pending = this.departures.popDue(now)) {
      this.dispatch(pending)
    }
    this.armDepartures()
  }

  private dispatch(pending: Pending): void {
    const decision = pending.decision
    if (decision.fate === "dropped") return
    const mapping = pending.mapping
    if (pending.dir === "to_client") {
      this.listen.send(decision.data, mapping.client, (error) => this.settleSent(pending, pending.via!, error))
      return
    }
    const leg = mapping.leg
    if (leg === undefined) {
      mapping.waiting.push(pending)
      return
    }
    leg.send(decision.data, this.options.server, (error) => this.settleSent(pending, leg.key, error))
  }

  private settleSent(pending: Pending, via: string, error: Error | null): void {
    const decision = pending.decision
    if (decision.fate === "dropped") return
    if (error !== null) return this.logDropped(pending, "closed", via)
    this.log.write(formatDatagram({
      t: pending.t,
      dir: pending.dir,
      size: pending.size,
      fate: decision.fate,
      reason: null,
      delay: decision.delay,
      client: pending.mapping.clientKey,
      via
    }))
  }

  private settleDropped(pending: Pending): void {
    if (pending.decision.fate !== "dropped") return
    const via = pending.via ?? pending.mapping.leg?.key
    if (via === undefined) pending.mapping.waiting.push(pending)
    else this.logDropped(pending, pending.decision.reason, via)
  }

  private logDropped(pending: Pending, reason: DropReason, via: string): void {
    this.log.write(formatDatagram({
      t: pending.t,
      dir: pending.dir,
      size: pending.size,
      fate: "dropped",
      reason,
      delay: null,
      client: pending.mapping.clientKey,
      via
    }))
  }

  /** Stops everything; `done` runs once the sends in flight have completed (or after a while) and are logged. */
  close(done: () => void): void {
    this.closed = true
    for (const timer of this.timers) clearInterval(timer)
    if (this.departureTimer !== undefined) clearTimeout(this.departureTimer)
    const legs = [this.listen]
    for (const mapping of this.mappings.values()) {
      const via = mapping.leg?.key ?? this.unbound
      for (const pending of mapping.waiting.splice(0)) this.logDropped(pending, "closed", via)
      if (mapping.leg !== undefined) legs.push(mapping.leg)
    }
    for (const pending of this.departures.drain()) {
      this.logDropped(pending, "closed", pending.via ?? pending.mapping.leg?.key ?? this.unbound)
    }
    for (const leg of legs) leg.retire()
    const started = performance.now()
    const finish = () => {
      if (legs.some((leg) => leg.inFlight() > 0) && performance.now() - started < CLOSE_WAIT_MILLIS) {
        setTimeout(finish, 5)
        return
      }
      this.log.flush()
      done()
    }
    finish()
  }
}

const openLog = (path: string | undefined) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => (path === undefined ? discardLog : openLogFile(path)),
      catch: (error) => new NetemError({ reason: "Io", message: `--log: cannot write ${path}: ${errorCode(error) ?? String(error)}` })
    }),
    (log) => Effect.sync(() => log.close())
  )

/**
 * Starts a relay from `options.listen` to `options.server`, until the scope
 * closes: then the sockets close, datagrams still delayed are logged as
 * dropped (`closed`), and the log is written out.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: RelayOptions): Effect.Effect<Relay, NetemError, Scope.Scope> =>
  Effect.gen(function*() {
    if (options.rebindAddr !== undefined && !(options.server.family === "udp4" && options.server.address.startsWith("127."))) {
      return yield* Effect.fail(
        new NetemError({ reason: "Usage", message: "--rebind-addr needs an IPv4 loopback server (127.x.x.x): it binds 127.0.0.2–254" })
      )
    }
    const log = yield* openLog(options.log)
    let core: RelayCore | undefined
    const listen = yield* Effect.acquireRelease(
      Effect.async<Leg, NetemError>((resume) =>
        bindLeg(options.listen.family, options.listen.address, options.listen.port, (data, from) => core?.fromClient(data, from), (result) =>
          resume(
            result instanceof Error
              ? Effect.fail(
                new NetemError({
                  reason: errorCode(result) === "EADDRINUSE" ? "AddressInUse" : "Socket",
                  message: `cannot listen on ${addressKey(options.listen)}: ${
                    errorCode(result) === "EADDRINUSE" ? "the address is in use" : result.message
                  }`
                })
              )
              : Effect.succeed(result)
          ))
      ),
      (leg) => core === undefined ? Effect.sync(() => leg.retire()) : Effect.async<void>((resume) => core!.close(() => resume(Effect.void)))
    )
    core = new RelayCore(options, log, listen)
    return { listenAddress: listen.local }
  })
