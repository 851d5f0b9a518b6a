import type { SocketAddress } from "../../src/internal/address.js"
import { addressKey } from "../../src/internal/address.js"
import { type EndpointConfig, defaultCryptoConfig, defaultTransportConfig } from "../../src/internal/config.js"
import type { CryptoBackend } from "../../src/internal/crypto/backend.js"
import { QuicEndpoint } from "../../src/internal/endpoint.js"
import type { QuicEvent } from "../../src/internal/events.js"
import { insecureVerifier } from "../../src/internal/tls/certificates.js"
import { isX509Error } from "../../src/internal/x509/der.js"
import { parsePrivateKeyPem } from "../../src/internal/x509/keys.js"
import { cachedKeyPair, makeCertificate } from "./certs.js"
import { failOnDefect } from "./defects.js"
import { SeededRandom } from "./random.js"

/**
 * Two (or more) sans-IO endpoints wired through a simulated network with a
 * virtual clock: every datagram an endpoint sends is delivered after the
 * link's delay (and jitter), or lost, duplicated, corrupted or reordered, as
 * a seeded model decides. Nothing here reads a real clock, so a run replays
 * exactly.
 */
export interface LinkModel {
  /** One-way delay, µs. */
  readonly delay: number
  /** Extra uniform random delay in [0, jitter), µs (reorders packets when large). */
  readonly jitter: number
  readonly loss: number
  readonly duplicate: number
  readonly corrupt: number
  /** Probability that a datagram is held back by an extra `reorderDelay` µs. */
  readonly reorder: number
  readonly reorderDelay: number
  /** Datagrams larger than this are dropped. */
  readonly mtu: number
  /** Bytes per second the link carries (0 = unlimited), with a queue of `queueBytes`. */
  readonly bandwidth: number
  readonly queueBytes: number
}

export const perfectLink: LinkModel = {
  delay: 10_000,
  jitter: 0,
  loss: 0,
  duplicate: 0,
  corrupt: 0,
  reorder: 0,
  reorderDelay: 0,
  mtu: 65_535,
  bandwidth: 0,
  queueBytes: 0
}

interface InFlight {
  readonly at: number
  readonly seq: number
  readonly to: SocketAddress
  readonly from: SocketAddress
  readonly data: Uint8Array
}

/** What one datagram looked like on the wire, for assertions. */
export interface Observed {
  readonly at: number
  readonly from: SocketAddress
  readonly to: SocketAddress
  readonly data: Uint8Array
  readonly fate: "delivered" | "lost" | "corrupted" | "too-big" | "queue-full"
}

export class Network {
  now = 1_000_000
  private readonly endpoints = new Map<string, QuicEndpoint>()
  private readonly queue: Array<InFlight> = []
  private seq = 0
  private readonly rng: SeededRandom
  /** Every event each endpoint emitted, by address. */
  readonly events = new Map<string, Array<QuicEvent>>()
  readonly wire: Array<Observed> = []
  /** Called for each event as it is polled, so tests can react (read streams, reply…). */
  onEvent: (endpoint: QuicEndpoint, event: QuicEvent) => void = () => {}
  /** Per-direction link state for the bandwidth model: when the link is busy until. */
  private readonly busyUntil = new Map<string, number>()
  recordWire = false

  constructor(
    readonly model: LinkModel,
    seed = 1
  ) {
    this.rng = new SeededRandom(seed)
  }

  add(address: SocketAddress, endpoint: QuicEndpoint): QuicEndpoint {
    this.endpoints.set(addressKey(address), endpoint)
    this.events.set(addressKey(address), [])
    return endpoint
  }

  /**
   * Another address `endpoint` receives on (a server's preferred address):
   * datagrams to it are handed over with it as their local address, and
   * packets whose `source` it is leave from it.
   */
  addAddress(address: SocketAddress, endpoint: QuicEndpoint): void {
    this.endpoints.set(addressKey(address), endpoint)
  }

  /** Moves `endpoint` to a new address (NAT rebinding): later datagrams from it come from `to`. */
  rebind(from: SocketAddress, to: SocketAddress): void {
    const endpoint = this.endpoints.get(addressKey(from))!
    this.endpoints.delete(addressKey(from))
    this.endpoints.set(addressKey(to), endpoint)
    this.events.set(addressKey(to), this.events.get(addressKey(from))!)
    this.rebound.set(addressKey(to), from)
    this.rebound.set(addressKey(from), to)
    ;(endpoint as { localAddress: SocketAddress }).localAddress = to
  }

  private readonly rebound = new Map<string, SocketAddress>()

  private drain(endpoint: QuicEndpoint): void {
    const log = this.events.get(addressKey(endpoint.localAddress))!
    for (let event = endpoint.pollEvent(); event !== undefined; event = endpoint.pollEvent()) {
      log.push(event)
      failOnDefect(event)
      this.onEvent(endpoint, event)
    }
    endpoint.flush(this.now)
    for (let packet = endpoint.pollSend(); packet !== undefined; packet = endpoint.pollSend()) {
      const from = packet.source ?? endpoint.localAddress
      for (const datagram of packet.datagrams()) this.send(from, packet.destination, datagram.slice())
    }
    // Events raised by sending (e.g. DatagramsUnblocked).
    for (let event = endpoint.pollEvent(); event !== undefined; event = endpoint.pollEvent()) {
      log.push(event)
      failOnDefect(event)
      this.onEvent(endpoint, event)
    }
  }

  private send(from: SocketAddress, to: SocketAddress, data: Uint8Array): void {
    const m = this.model
    const observe = (fate: Observed["fate"], bytes: Uint8Array) => {
      if (this.recordWire) this.wire.push({ at: this.now, from, to, data: bytes, fate })
    }
    if (data.length > m.mtu) return observe("too-big", data)
    if (this.rng.chance(m.loss)) return observe("lost", data)
    let departure = this.now
    if (m.bandwidth > 0) {
      const key = `${addressKey(from)}>${addressKey(to)}`
      const busy = Math.max(this.busyUntil.get(key) ?? 0, this.now)
      const backlog = ((busy - this.now) * m.bandwidth) / 1_000_000
      if (backlog + data.length > m.queueBytes) return observe("queue-full", data)
      departure = busy + Math.ceil((data.length * 1_000_000) / m.bandwidth)
      this.busyUntil.set(key, departure)
    }
    const copies = this.rng.chance(m.duplicate) ? 2 : 1
    for (let c = 0; c < copies; c++) {
      let bytes = data
      let fate: Observed["fate"] = "delivered"
      if (this.rng.chance(m.corrupt)) {
        bytes = data.slice()
        bytes[this.rng.int(bytes.length)]! ^= 1 << this.rng.int(8)
        fate = "corrupted"
      }
      let at = departure + m.delay + (m.jitter > 0 ? this.rng.int(m.jitter) : 0)
      if (this.rng.chance(m.reorder)) at += m.reorderDelay
      observe(fate, bytes)
      this.queue.push({ at, seq: this.seq++, to, from, data: bytes })
    }
  }

  /** Advances the simulation until `done()` holds or `limit` µs of virtual time pass. Returns whether done. */
  run(done: () => boolean, limit = 60_000_000): boolean {
    const end = this.now + limit
    for (const endpoint of this.endpoints.values()) this.drain(endpoint)
    while (!done()) {
      let next = Infinity
      for (const packet of this.queue) if (packet.at < next) next = packet.at
      for (const endpoint of this.endpoints.values()) {
        const deadline = endpoint.nextTimerDeadline()
        if (deadline !== undefined && deadline < next) next = deadline
      }
      if (next === Infinity || next > end) return done()
      this.now = Math.max(this.now, next)
      this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq)
      while (this.queue.length > 0 && this.queue[0]!.at <= this.now) {
        const packet = this.queue.shift()!
        const endpoint = this.endpoints.get(addressKey(packet.to))
        if (endpoint === undefined) continue
        endpoint.handleDatagram(this.now, packet.data, packet.from, packet.to)
        this.drain(endpoint)
      }
      for (const endpoint of this.endpoints.values()) {
        const deadline = endpoint.nextTimerDeadline()
        if (deadline !== undefined && deadline <= this.now) endpoint.driveTimers(this.now)
        this.drain(endpoint)
      }
    }
    return true
  }

  /** Lets an endpoint act now (after an application call) and delivers its output. */
  pump(endpoint: QuicEndpoint): void {
    this.drain(endpoint)
  }

  eventsOf(address: SocketAddress): ReadonlyArray<QuicEvent> {
    return this.events.get(addressKey(address)) ?? []
  }
}

export const SERVER: SocketAddress = { address: "10.0.0.1", port: 4433 }
export const CLIENT: SocketAddress = { address: "10.0.0.2", port: 50000 }

let serverIdentity: { chain: ReadonlyArray<Uint8Array>; key: ReturnType<typeof parsePrivateKeyPem> } | undefined

/** A self-signed P-256 certificate for "localhost", made once per test file. */
export const testServerIdentity = () => {
  if (serverIdentity === undefined) {
    const issued = makeCertificate({ subject: { CN: "localhost" }, key: cachedKeyPair("p256", "server"), dnsNames: ["localhost"] })
    serverIdentity = { chain: [issued.der], key: parsePrivateKeyPem(issued.keyPem) }
  }
  const key = serverIdentity.key
  if (isX509Error(key)) throw new Error(key.reason)
  return { chain: serverIdentity.chain, key }
}

export const endpointConfig = (overrides: {
  server?: Partial<NonNullable<EndpointConfig["server"]>>
  client?: Partial<NonNullable<EndpointConfig["client"]>>
  transport?: Partial<EndpointConfig["transport"]>
  seed?: number
  role: "client" | "server" | "both"
}): EndpointConfig => {
  const identity = testServerIdentity()
  return {
    transport: { ...defaultTransportConfig, ...overrides.transport },
    server: overrides.role === "client" ? undefined : {
      ...defaultCryptoConfig,
      alpn: ["test"],
      certificateChain: identity.chain,
      privateKey: identity.key,
      retry: false,
      tickets: { count: 2, lifetime: 3600, earlyData: true },
      newTokens: true,
      maxConnections: 10_000,
      maxHandshakes: 1_000,
      secretKey: new Uint8Array(32).fill(7),
      ...overrides.server
    },
    client: overrides.role === "server" ? undefined : {
      ...defaultCryptoConfig,
      alpn: ["test"],
      verifier: insecureVerifier,
      earlyData: false,
      version: 1,
      ...overrides.client
    },
    connectionIdLength: 8,
    sendQueueCapacity: 64,
    maxTransmitDatagrams: 1,
    rngSeed: overrides.seed ?? 1,
    unixMillis: (now) => Date.UTC(2026, 0, 1) + Math.floor(now / 1000)
  }
}

export const makePair = (
  backend: CryptoBackend,
  model: LinkModel = perfectLink,
  options: { server?: Parameters<typeof endpointConfig>[0]["server"]; client?: Parameters<typeof endpointConfig>[0]["client"]; transport?: Parameters<typeof endpointConfig>[0]["transport"]; seed?: number } = {}
) => {
  const network = new Network(model, options.seed ?? 1)
  const server = network.add(SERVER, new QuicEndpoint(endpointConfig({ role: "server", server: options.server ?? {}, transport: options.transport ?? {}, seed: 11 }), SERVER, backend))
  const client = network.add(CLIENT, new QuicEndpoint(endpointConfig({ role: "client", client: options.client ?? {}, transport: options.transport ?? {}, seed: 22 }), CLIENT, backend))
  return { network, server, client }
}
