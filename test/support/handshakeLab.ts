/**
 * A laboratory for endpoint-level handshake tests (test/endpoint/handshakeVariants,
 * recovery, amplification): a simulated network like ./link.ts, but with
 *
 *  - a `drop` hook deciding, per datagram, whether it is lost (targeted
 *    losses: "the first client flight", "every ACK for 300 ms", …);
 *  - a `timeline` of every send and every delivery in the order they
 *    happened, so byte budgets (RFC 9000 §8.1) can be checked exactly;
 *  - endpoints that can be replaced at an address (a server restart).
 *
 * It also decodes what it sees: packet headers of every datagram, and the
 * frames of Initial packets (keys from the client's DCID) and of Handshake
 * packets (keys from an NSS key log), so tests can assert on the wire.
 */
import type { SocketAddress } from "../../src/internal/address.js"
import { addressKey } from "../../src/internal/address.js"
import { decodePacketNumber } from "../../src/internal/codec/packetNumber.js"
import type { Connection } from "../../src/internal/connection/connection.js"
import type { CryptoBackend } from "../../src/internal/crypto/backend.js"
import { initialKeys } from "../../src/internal/crypto/initial.js"
import { deriveDirectionalKeys, type DirectionalKeys } from "../../src/internal/crypto/packetKeys.js"
import { type CipherSuite, cipherSuites } from "../../src/internal/crypto/suite.js"
import { QuicEndpoint } from "../../src/internal/endpoint.js"
import { isTransportError } from "../../src/internal/errors.js"
import type { QuicEvent } from "../../src/internal/events.js"
import { decodeFrames } from "../../src/internal/frame/decode.js"
import type { Frame } from "../../src/internal/frame/types.js"
import { splitDatagram } from "../../src/internal/packet/coalesce.js"
import type { PacketHeader } from "../../src/internal/packet/header.js"
import { openPacket, readTruncatedPacketNumber, removeHeaderProtection } from "../../src/internal/packet/protection.js"
import type { QuicVersion } from "../../src/internal/packet/version.js"
import { MemoryTicketStore, type SessionTicket } from "../../src/internal/tls/ticket.js"
import { failOnDefect } from "./defects.js"
import { CLIENT, endpointConfig, SERVER, testServerIdentity } from "./link.js"

export { CLIENT, SERVER }

/** One datagram handed to the network. */
export interface LabDatagram {
  readonly id: number
  readonly at: number
  readonly from: SocketAddress
  readonly to: SocketAddress
  /** A copy of the bytes as sent. */
  readonly data: Uint8Array
  /** The n-th datagram from `from` to `to` (0-based). */
  readonly index: number
  readonly fate: "delivered" | "dropped"
  /** Set once delivered. */
  deliveredAt?: number
}

export type TimelineEntry =
  | { readonly kind: "send"; readonly datagram: LabDatagram }
  | { readonly kind: "deliver"; readonly datagram: LabDatagram }

export interface DropContext {
  readonly at: number
  readonly from: SocketAddress
  readonly to: SocketAddress
  readonly index: number
  readonly data: Uint8Array
  readonly packets: ReadonlyArray<PacketHeader>
}

export class LabNetwork {
  now = 1_000_000
  /** One-way delay, µs. */
  delay = 10_000
  private readonly endpoints = new Map<string, QuicEndpoint>()
  private readonly queue: Array<LabDatagram> = []
  private nextId = 0
  private readonly counts = new Map<string, number>()
  readonly events = new Map<string, Array<QuicEvent>>()
  readonly wire: Array<LabDatagram> = []
  readonly timeline: Array<TimelineEntry> = []
  onEvent: (endpoint: QuicEndpoint, event: QuicEvent) => void = () => {}
  /** Whether a connection closed by a bug in the core is expected (else its exception is thrown: ./defects.ts). */
  allowDefects = false
  /** Decides whether a datagram is lost. */
  drop: (datagram: DropContext) => boolean = () => false

  add(address: SocketAddress, endpoint: QuicEndpoint): QuicEndpoint {
    this.endpoints.set(addressKey(address), endpoint)
    if (!this.events.has(addressKey(address))) this.events.set(addressKey(address), [])
    return endpoint
  }

  /** Puts `endpoint` at `address` in place of whatever was there (a restart); its events are logged apart. */
  replace(address: SocketAddress, endpoint: QuicEndpoint): QuicEndpoint {
    this.endpoints.set(addressKey(address), endpoint)
    this.events.set(addressKey(address), [])
    return endpoint
  }

  endpointAt(address: SocketAddress): QuicEndpoint | undefined {
    return this.endpoints.get(addressKey(address))
  }

  private drain(endpoint: QuicEndpoint): void {
    const log = this.events.get(addressKey(endpoint.localAddress))!
    const poll = () => {
      for (let event = endpoint.pollEvent(); event !== undefined; event = endpoint.pollEvent()) {
        log.push(event)
        if (!this.allowDefects) failOnDefect(event)
        this.onEvent(endpoint, event)
      }
    }
    poll()
    endpoint.flush(this.now)
    for (let packet = endpoint.pollSend(); packet !== undefined; packet = endpoint.pollSend()) {
      for (const datagram of packet.datagrams()) this.send(endpoint.localAddress, packet.destination, datagram.slice())
    }
    poll()
  }

  /** Injects a datagram as if `from` had sent it (subject to `drop`). */
  send(from: SocketAddress, to: SocketAddress, data: Uint8Array): LabDatagram {
    const key = `${addressKey(from)}>${addressKey(to)}`
    const index = this.counts.get(key) ?? 0
    this.counts.set(key, index + 1)
    const packets = splitDatagram(data, 8).packets
    const lost = this.drop({ at: this.now, from, to, index, data, packets })
    const datagram: LabDatagram = { id: this.nextId++, at: this.now, from, to, data: data.slice(), index, fate: lost ? "dropped" : "delivered" }
    this.wire.push(datagram)
    this.timeline.push({ kind: "send", datagram })
    if (!lost) this.queue.push(datagram)
    return datagram
  }

  /** Advances until `done()` or `limit` µs pass; returns whether done. */
  run(done: () => boolean, limit = 60_000_000): boolean {
    const end = this.now + limit
    for (const endpoint of this.endpoints.values()) this.drain(endpoint)
    while (!done()) {
      let next = Infinity
      for (const d of this.queue) next = Math.min(next, d.at + this.delay)
      for (const endpoint of this.endpoints.values()) {
        const deadline = endpoint.nextTimerDeadline()
        if (deadline !== undefined && deadline < next) next = deadline
      }
      if (next === Infinity || next > end) return done()
      this.now = Math.max(this.now, next)
      this.queue.sort((a, b) => a.at - b.at || a.id - b.id)
      while (this.queue.length > 0 && this.queue[0]!.at + this.delay <= this.now) {
        const d = this.queue.shift()!
        const endpoint = this.endpoints.get(addressKey(d.to))
        if (endpoint === undefined) continue
        d.deliveredAt = this.now
        this.timeline.push({ kind: "deliver", datagram: d })
        endpoint.handleDatagram(this.now, d.data.slice(), d.from)
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

  /** Runs for exactly `micros` of virtual time (or until nothing is left to do). */
  runFor(micros: number): void {
    const until = this.now + micros
    this.run(() => false, micros)
    this.now = Math.max(this.now, until)
  }

  pump(endpoint: QuicEndpoint): void {
    this.drain(endpoint)
  }

  eventsOf(address: SocketAddress): ReadonlyArray<QuicEvent> {
    return this.events.get(addressKey(address)) ?? []
  }

  /** Datagrams sent from `from` to `to`, in order. */
  between(from: SocketAddress, to: SocketAddress): ReadonlyArray<LabDatagram> {
    return this.wire.filter((d) => addressKey(d.from) === addressKey(from) && addressKey(d.to) === addressKey(to))
  }
}

export type LabOptions = {
  server?: Parameters<typeof endpointConfig>[0]["server"]
  client?: Parameters<typeof endpointConfig>[0]["client"]
  transport?: Parameters<typeof endpointConfig>[0]["transport"]
}

export const makeServer = (backend: CryptoBackend, options: LabOptions = {}, seed = 11): QuicEndpoint =>
  new QuicEndpoint(endpointConfig({ role: "server", server: options.server ?? {}, transport: options.transport ?? {}, seed }), SERVER, backend)

export const makeClient = (backend: CryptoBackend, options: LabOptions = {}, seed = 22): QuicEndpoint =>
  new QuicEndpoint(endpointConfig({ role: "client", client: options.client ?? {}, transport: options.transport ?? {}, seed }), CLIENT, backend)

export const makeLab = (backend: CryptoBackend, options: LabOptions = {}) => {
  const network = new LabNetwork()
  const server = network.add(SERVER, makeServer(backend, options))
  const client = network.add(CLIENT, makeClient(backend, options))
  return { network, server, client }
}

/** Test-only view of a connection inside an endpoint (the negotiated suite, …). */
export const connectionOf = (endpoint: QuicEndpoint, handle: number): Connection | undefined =>
  (endpoint as unknown as { connections: Map<number, Connection> }).connections.get(handle)

export const tags = (events: ReadonlyArray<QuicEvent>): Array<string> => events.map((e) => e._tag)

export const isConnected = (network: LabNetwork, address: SocketAddress): boolean =>
  network.eventsOf(address).some((e) => e._tag === "Connected")

export const bothConnected = (network: LabNetwork) => () => isConnected(network, CLIENT) && isConnected(network, SERVER)

// ---- the wire --------------------------------------------------------------------

export type LongType = "initial" | "0rtt" | "handshake" | "retry" | "version-negotiation" | "1rtt" | "unsupported-version"

/** The kinds of packets in a datagram, in order. */
export const packetKinds = (data: Uint8Array): Array<LongType> =>
  splitDatagram(data, 8).packets.map((p) =>
    p.form === "long" ? p.type : p.form === "short" ? "1rtt" : p.form
  )

export const headersOf = (data: Uint8Array): ReadonlyArray<PacketHeader> => splitDatagram(data, 8).packets

/** The 32-bit version field of every long-header packet of a datagram. */
export const longHeaderVersions = (data: Uint8Array): Array<number> => {
  const out: Array<number> = []
  for (const p of splitDatagram(data, 8).packets) {
    if (p.form === "short") continue
    const at = p.start
    out.push(((data[at + 1]! << 24) | (data[at + 2]! << 16) | (data[at + 3]! << 8) | data[at + 4]!) >>> 0)
  }
  return out
}

/** Decrypts packets seen on the wire, tracking packet numbers per key. */
export class WireDecoder {
  private readonly largest = new Map<string, number>()

  constructor(readonly backend: CryptoBackend) {}

  /**
   * The frames of the packet `header` in `data`, opened with `keys`; undefined
   * when it does not open. `data` is not modified.
   */
  open(keys: DirectionalKeys, data: Uint8Array, header: PacketHeader, keyId: string): Array<Frame> | undefined {
    if (header.form !== "long" && header.form !== "short") return undefined
    const copy = data.slice()
    const pnLength = removeHeaderProtection(keys.header, copy, header.start, header.pnOffset, header.end)
    if (pnLength === 0) return undefined
    const truncated = readTruncatedPacketNumber(copy, header.pnOffset, pnLength)
    const pn = decodePacketNumber(this.largest.get(keyId), truncated, pnLength * 8)
    const end = openPacket(keys.packet, copy, header.start, header.pnOffset, pnLength, header.end, pn)
    if (end < 0) return undefined
    this.largest.set(keyId, Math.max(this.largest.get(keyId) ?? -1, pn))
    const type = header.form === "short" ? "1rtt" : header.type
    const frames = decodeFrames(copy.subarray(header.pnOffset + pnLength, end), type)
    return isTransportError(frames) ? undefined : frames
  }

  /** Frames of the Initial packets of a datagram from `sender`, with keys from `clientDcid`. */
  initialFrames(version: QuicVersion, clientDcid: Uint8Array, sender: "client" | "server", data: Uint8Array): Array<Frame> {
    const keys = initialKeys(this.backend, version, clientDcid)[sender]
    const out: Array<Frame> = []
    for (const header of splitDatagram(data, 8).packets) {
      if (header.form !== "long" || header.type !== "initial") continue
      const frames = this.open(keys, data, header, `initial-${sender}-${String.fromCharCode(...clientDcid)}`)
      if (frames !== undefined) out.push(...frames)
    }
    return out
  }

  /** Frames of the packets of type `type` of a datagram, opened with keys derived from a traffic secret. */
  framesWithSecret(
    type: "handshake" | "0rtt" | "1rtt",
    suite: CipherSuite,
    version: QuicVersion,
    secret: Uint8Array,
    data: Uint8Array
  ): Array<Frame> {
    const keys = deriveDirectionalKeys(this.backend, suite, version, secret)
    const out: Array<Frame> = []
    const id = `${type}-${Array.from(secret.subarray(0, 8)).join(",")}`
    for (const header of splitDatagram(data, 8).packets) {
      const kind = header.form === "long" ? header.type : header.form === "short" ? "1rtt" : undefined
      if (kind !== type) continue
      const frames = this.open(keys, data, header, id)
      if (frames !== undefined) out.push(...frames)
    }
    return out
  }
}

/** Reassembles CRYPTO frames into a byte stream (contiguous from offset 0). */
export const cryptoStream = (frames: ReadonlyArray<Frame>): Uint8Array => {
  const chunks = new Map<number, Uint8Array>()
  let size = 0
  for (const f of frames) {
    if (f._tag !== "Crypto") continue
    chunks.set(f.offset, f.data)
    size = Math.max(size, f.offset + f.data.length)
  }
  const out = new Uint8Array(size)
  const have = new Uint8Array(size)
  for (const [offset, data] of chunks) {
    out.set(data, offset)
    have.fill(1, offset, offset + data.length)
  }
  const contiguous = have.indexOf(0)
  return contiguous < 0 ? out : out.subarray(0, contiguous)
}

/** Splits a TLS handshake byte stream into messages. */
export const handshakeMessages = (stream: Uint8Array): Array<{ type: number; body: Uint8Array }> => {
  const out: Array<{ type: number; body: Uint8Array }> = []
  let at = 0
  while (at + 4 <= stream.length) {
    const length = (stream[at + 1]! << 16) | (stream[at + 2]! << 8) | stream[at + 3]!
    if (at + 4 + length > stream.length) break
    out.push({ type: stream[at]!, body: stream.subarray(at + 4, at + 4 + length) })
    at += 4 + length
  }
  return out
}

/** An NSS key log collector: `keyLog` to pass in a config, `secret(label)` to read one back. */
export const keyLogger = () => {
  const lines: Array<string> = []
  return {
    lines,
    keyLog: (line: string) => {
      lines.push(line)
    },
    secret(label: string, nth = 0): Uint8Array | undefined {
      const matching = lines.filter((l) => l.startsWith(`${label} `))
      const line = matching[nth]
      if (line === undefined) return undefined
      const hex = line.split(" ")[2]!
      return Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)))
    }
  }
}

export const suiteByCode = (code: number): CipherSuite => cipherSuites.find((s) => s.code === code)!

/** Total bytes of a list of datagrams. */
export const bytesOf = (datagrams: ReadonlyArray<LabDatagram>): number => datagrams.reduce((n, d) => n + d.data.length, 0)

/** One packet of a datagram as the lab sees it: its type and, when the keys are known, its frames. */
export interface SeenPacket {
  readonly type: LongType
  readonly frames: ReadonlyArray<Frame> | undefined
}

/**
 * Opens every packet on the wire of one client–server pair: Initial keys
 * from the client's first DCID (or the Retry's SCID), the others from the
 * client's NSS key log. Long-header packets are opened with the salt and
 * labels of the version in their header (a connection moved to another
 * version by compatible negotiation mixes them); 1-RTT packets with those of
 * `version`. Key updates are not followed (1-RTT packets after one show
 * `frames: undefined`).
 */
export class LabDecryptor {
  private readonly decoder: WireDecoder
  private keyDcid: Uint8Array | undefined

  constructor(
    backend: CryptoBackend,
    private readonly version: QuicVersion,
    private readonly suite: CipherSuite,
    private readonly log: ReturnType<typeof keyLogger>
  ) {
    this.decoder = new WireDecoder(backend)
  }

  /** A decryptor with the same keys and no memory of what it saw. */
  fresh(): LabDecryptor {
    return new LabDecryptor(this.decoder.backend, this.version, this.suite, this.log)
  }

  packets(from: SocketAddress, data: Uint8Array): Array<SeenPacket> {
    const sender = addressKey(from) === addressKey(CLIENT) ? "client" : "server"
    const out: Array<SeenPacket> = []
    for (const header of splitDatagram(data, 8).packets) {
      if (header.form === "retry") {
        this.keyDcid = header.scid.slice()
        out.push({ type: "retry", frames: [] })
        continue
      }
      if (header.form === "version-negotiation" || header.form === "unsupported-version") {
        out.push({ type: header.form, frames: [] })
        continue
      }
      const type = header.form === "short" ? "1rtt" : header.type
      if (type === "initial" && sender === "client" && this.keyDcid === undefined && header.form === "long") {
        this.keyDcid = header.dcid.slice()
      }
      let frames: Array<Frame> | undefined
      const version = header.form === "long" ? header.version : this.version
      if (type === "initial") {
        const keys = initialKeys(this.decoder.backend, version, this.keyDcid ?? new Uint8Array(8))[sender]
        frames = this.decoder.open(keys, data, header, `initial-${sender}`)
      } else {
        const label = type === "0rtt"
          ? "CLIENT_EARLY_TRAFFIC_SECRET"
          : type === "handshake"
          ? `${sender.toUpperCase()}_HANDSHAKE_TRAFFIC_SECRET`
          : `${sender.toUpperCase()}_TRAFFIC_SECRET_0`
        const secret = this.log.secret(label, this.log.lines.filter((l) => l.startsWith(`${label} `)).length - 1)
        if (secret !== undefined) {
          const keys = deriveDirectionalKeys(this.decoder.backend, this.suite, version, secret)
          frames = this.decoder.open(keys, data, header, `${type}-${sender}`)
        }
      }
      out.push({ type, frames })
    }
    return out
  }
}

/** Whether every packet of the datagram opened and holds nothing but ACK and PADDING frames. */
export const isAckOnly = (packets: ReadonlyArray<SeenPacket>): boolean =>
  packets.length > 0 &&
  packets.every((p) => p.frames !== undefined && p.frames.length > 0 && p.frames.every((f) => f._tag === "Ack" || f._tag === "Padding")) &&
  packets.some((p) => p.frames!.some((f) => f._tag === "Ack"))

/** The frame tags of each packet, e.g. "initial[Ack,Crypto,Padding] handshake[Crypto]" (runs of PADDING collapsed). */
export const describePackets = (packets: ReadonlyArray<SeenPacket>): string =>
  packets.map((p) => {
    if (p.frames === undefined) return `${p.type}[?]`
    const tags: Array<string> = []
    for (const f of p.frames) if (tags[tags.length - 1] !== f._tag || f._tag !== "Padding") tags.push(f._tag)
    return `${p.type}[${tags.join(",")}]`
  }).join(" ")

/** The harness's server certificate repeated `copies` times: a long chain that makes the server's flight large. */
export const testIdentityChain = (copies: number): ReadonlyArray<Uint8Array> => {
  const chain = testServerIdentity().chain
  return Array.from({ length: copies }, () => chain[0]!)
}

// ---- applications ------------------------------------------------------------------

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

/** What each side of an echo exchange saw. */
export interface EchoState {
  /** Server side: text read per (connection, stream), and whether it had emitted Connected when the FIN arrived. */
  readonly serverReads: Map<string, { text: string; finished: boolean; connectedBeforeFin: boolean }>
  /** Client side: the echo read back per stream. */
  readonly replies: Map<number, { text: string; finished: boolean }>
}

/**
 * Installs `network.onEvent` handlers: the server reads every stream to its
 * end and writes the same bytes back with FIN on bidirectional streams; the
 * client collects what comes back.
 */
export const installEcho = (network: LabNetwork, client: QuicEndpoint): EchoState => {
  const state: EchoState = { serverReads: new Map(), replies: new Map() }
  const readAll = (endpoint: QuicEndpoint, connection: number, stream: number): { text: string; finished: boolean } => {
    let text = ""
    let finished = false
    for (;;) {
      const chunk = endpoint.streamRecv(network.now, connection, stream, 1 << 16)
      if ("_tag" in chunk) break
      text += fromUtf8.decode(chunk.data)
      if (chunk.finished) {
        finished = true
        break
      }
      if (chunk.data.length === 0) break
    }
    return { text, finished }
  }
  network.onEvent = (endpoint, event) => {
    if (event._tag !== "StreamReadable") return
    if (endpoint !== client) {
      const key = `${event.connection}/${event.stream}`
      const got = readAll(endpoint, event.connection, event.stream)
      const previous = state.serverReads.get(key) ?? { text: "", finished: false, connectedBeforeFin: false }
      const text = previous.text + got.text
      const connectedBeforeFin = got.finished
        ? network.eventsOf(SERVER).some((e) => e._tag === "Connected" && e.connection === event.connection)
        : previous.connectedBeforeFin
      state.serverReads.set(key, { text, finished: previous.finished || got.finished, connectedBeforeFin })
      if (got.finished && (event.stream & 2) === 0) {
        endpoint.streamSend(network.now, event.connection, event.stream, utf8.encode(text))
        endpoint.streamFinish(network.now, event.connection, event.stream)
      }
    } else if (endpoint === client) {
      const got = readAll(endpoint, event.connection, event.stream)
      const previous = state.replies.get(event.stream) ?? { text: "", finished: false }
      state.replies.set(event.stream, { text: previous.text + got.text, finished: previous.finished || got.finished })
    }
  }
  return state
}

/** Opens a bidirectional stream on the client, writes `text` with FIN; returns the stream id. */
export const sendText = (network: LabNetwork, client: QuicEndpoint, connection: number, text: string): number => {
  const stream = client.openBi(network.now, connection)
  if (typeof stream !== "number") throw new Error(`openBi refused: ${JSON.stringify(stream)}`)
  const written = client.streamSend(network.now, connection, stream, utf8.encode(text))
  if (written !== text.length) throw new Error(`streamSend wrote ${JSON.stringify(written)}`)
  client.streamFinish(network.now, connection, stream)
  return stream
}

/** A ticket store that remembers what it was given. */
export const recordingTicketStore = () => {
  const inner = new MemoryTicketStore()
  const puts: Array<SessionTicket> = []
  let takes = 0
  return {
    puts,
    get takes() {
      return takes
    },
    take(serverName: string, unixMillis: number) {
      takes++
      return inner.take(serverName, unixMillis)
    },
    put(ticket: SessionTicket) {
      puts.push(ticket)
      inner.put(ticket)
    }
  }
}

/** The TLS handshake messages carried in CRYPTO frames of `type` packets of the given datagrams. */
export const tlsMessages = (
  decryptor: LabDecryptor,
  wire: ReadonlyArray<LabDatagram>,
  type: "initial" | "handshake" | "1rtt",
  sender: "client" | "server"
): Array<{ type: number; body: Uint8Array }> => {
  const frames: Array<Frame> = []
  // A fresh pass over the whole exchange, in order: Initial keys follow the client's DCID and any Retry.
  const pass = decryptor.fresh()
  for (const d of wire) {
    const packets = pass.packets(d.from, d.data)
    if ((addressKey(d.from) === addressKey(CLIENT)) !== (sender === "client")) continue
    for (const p of packets) if (p.type === type && p.frames !== undefined) frames.push(...p.frames)
  }
  return handshakeMessages(cryptoStream(frames))
}
