import { ipv4Bytes, ipv6Bytes, sameAddress, sameLocal, type SocketAddress } from "./address.js"
import type { EndpointConfig } from "./config.js"
import type { CryptoBackend } from "./crypto/backend.js"
import type { CidIssuer } from "./connection/cids.js"
import { type ConnectionStats, Connection } from "./connection/connection.js"
import type { DatagramSendError } from "./connection/datagrams.js"
import { TokenSealer } from "./connection/tokens.js"
import type { QuicEvent } from "./events.js"
import { decodePacketNumber } from "./codec/packetNumber.js"
import { initialKeys } from "./crypto/initial.js"
import { TimerHeap } from "./util/timerHeap.js"
import type { DirectionalKeys } from "./crypto/packetKeys.js"
import { isPacketDropped } from "./packet/dropped.js"
import { openPacket, readTruncatedPacketNumber, removeHeaderProtection } from "./packet/protection.js"
import { splitDatagram } from "./packet/coalesce.js"
import { MAX_CONNECTION_ID_LENGTH } from "./frame/types.js"
import { encodeVersionNegotiation, type LongHeader, type PacketHeader, parsePacketHeader } from "./packet/header.js"
import { encodeRetry } from "./packet/retry.js"
import { QUIC_V1, type QuicVersion, supportedVersions, versionByNumber } from "./packet/version.js"
import { type Random, secureRandom, seededRandom } from "./random.js"
import type { ReadChunk, ReadInto } from "./stream/streams.js"
import type { ReadError, WriteError } from "./stream/events.js"
import { TlsClient } from "./tls/client.js"
import { TlsServer } from "./tls/server.js"
import { MemoryTicketStore, TicketSealer, type TicketStore, UsedTickets } from "./tls/ticket.js"

/**
 * The sans-IO QUIC endpoint (ARCHITECTURE.md §1): demultiplexes datagrams to
 * connections by Destination Connection ID, accepts and initiates
 * connections, answers what no connection owns (Version Negotiation, Retry,
 * stateless reset), and queues events and datagrams for its driver.
 */

/** One datagram, or several of equal size back to back (GSO style, the last may be shorter). */
export class OutgoingPacket {
  constructor(
    readonly destination: SocketAddress,
    readonly data: Uint8Array,
    /** Set when `data` holds several datagrams of this size. */
    readonly segmentSize: number | undefined,
    /**
     * The local address to send from: one of the server's preferred addresses
     * (the path of the connection moved there, or a datagram arrived there);
     * undefined: the endpoint's primary address, wherever it is bound now.
     */
    readonly source: SocketAddress | undefined = undefined
  ) {}

  *datagrams(): IterableIterator<Uint8Array> {
    const size = this.segmentSize ?? this.data.length
    for (let offset = 0; offset < this.data.length; offset += size) yield this.data.subarray(offset, offset + size)
  }

  get count(): number {
    return this.segmentSize === undefined ? 1 : Math.ceil(this.data.length / this.segmentSize)
  }
}

/** Errors of the endpoint's application calls (ARCHITECTURE.md §1). */
export type EndpointError =
  | { readonly _tag: "InvalidConnection" }
  | { readonly _tag: "ConnectionClosing" }
  | { readonly _tag: "StreamClosed" }
  | { readonly _tag: "NoServerConfig" }
  | { readonly _tag: "NoClientConfig" }

export const InvalidConnection: EndpointError = { _tag: "InvalidConnection" }

/** RFC 9000 §14.1: servers ignore Initial datagrams below 1200 bytes; VN is only sent for datagrams that large. */
const MIN_INITIAL_DATAGRAM = 1200

/** RFC 9000 §10.3: a stateless reset looks like a short-header packet of at least 21 bytes. */
const MIN_STATELESS_RESET = 21

/** Stateless resets sent per second at most (RFC 9000 §10.3: rate-limit them). */
const STATELESS_RESETS_PER_SECOND = 100

/** RFC 9000 §7.2: a client's first Destination Connection ID is at least 8 bytes. */
const MIN_INITIAL_DCID = 8

const RETRY_TOKEN_LIFETIME = 10_000_000
const NEW_TOKEN_LIFETIME = 24 * 3600 * 1_000_000

/**
 * A connection ID as a map key: its length, then its bytes two to a UTF-16
 * code unit. The length keeps CIDs of different lengths apart (a client's
 * chosen Initial DCID is registered beside our own). Built by hand rather than
 * by spreading the bytes into `String.fromCharCode`, which costs several times
 * more on the per-datagram routing path; our own 8-byte CIDs (the default
 * length) in one call, as a flat string: 47 ns against 112 ns a lookup for
 * the concatenated one, which the map must flatten first.
 */
const cidKey = (cid: Uint8Array): string => {
  const length = cid.length
  if (length === 8) {
    return String.fromCharCode(8, (cid[0]! << 8) | cid[1]!, (cid[2]! << 8) | cid[3]!, (cid[4]! << 8) | cid[5]!, (cid[6]! << 8) | cid[7]!)
  }
  let key = String.fromCharCode(length)
  let i = 0
  for (; i + 1 < length; i += 2) key += String.fromCharCode((cid[i]! << 8) | cid[i + 1]!)
  if (i < length) key += String.fromCharCode(cid[i]!)
  return key
}

export class QuicEndpoint {
  private readonly connections = new Map<number, Connection>()
  private readonly byCid = new Map<string, number>()
  /**
   * Server connections: the client's first DCID, routed to them besides the
   * CIDs they issued (which they list themselves), so that it goes with them.
   */
  private readonly clientDcidOf = new Map<number, string>()
  private readonly events: Array<QuicEvent> = []
  /** The packet list of a short-header datagram, reused: it holds only that one packet. */
  private readonly onePacket: Array<PacketHeader> = []
  private readonly sendQueue: Array<OutgoingPacket> = []
  private readonly random: Random
  private readonly resetKey: Uint8Array
  private readonly tokenSealer: TokenSealer | undefined
  private readonly ticketSealer: TicketSealer | undefined
  private readonly usedTickets = new UsedTickets(100_000)
  /** Undefined for a client without resumption. */
  private readonly ticketStore: TicketStore | undefined
  /** Client: the last NEW_TOKEN token of each server, with the version it is good for (RFC 9369 §5). */
  private readonly clientTokens = new Map<string, { readonly token: Uint8Array; readonly version: number }>()
  /** Room for one batch of datagrams (GSO-style), written in place and copied out. */
  private readonly scratch: Uint8Array
  /** The scratch's first datagram, as large as our largest UDP payload. */
  private readonly firstSlot: Uint8Array
  /** A datagram `transmitBatch` pulled for another destination, sent right after its batch. */
  private strayPacket: OutgoingPacket | undefined
  private nextHandle = 1
  private batchDepth = 0
  private resetBudget = STATELESS_RESETS_PER_SECOND
  /**
   * When the budget was last refilled (a time, µs). It starts as a double, as
   * every later value is: a field first holding a small integer changes its
   * storage when the first reset is sent, and code optimized for the old
   * layout of the endpoint is thrown away mid-run (seen: 20 functions).
   */
  private resetBudgetAt = Number.NEGATIVE_INFINITY
  /**
   * Connections that may have something to send: marked by every input,
   * timer and application call, unmarked when they have nothing. Insertion
   * order is the round-robin order: a connection that sent goes to the back.
   */
  private readonly active = new Set<number>()
  /** Each connection's deadline as last scheduled in `timers`. */
  private readonly scheduled = new Map<number, number>()
  private readonly timers = new TimerHeap()
  /** Connections still handshaking (bounded by maxHandshakes). */
  private readonly handshaking = new Set<number>()
  /** Datagrams that could not be parsed or routed, for stats. */
  droppedDatagrams = 0
  /** Server: the versions it speaks, most preferred first, when configured (compatible negotiation, RFC 9368 §2.3). */
  private readonly serverVersions: ReadonlyArray<QuicVersion> | undefined
  /** The versions a server's Version Negotiation lists (RFC 9000 §6.1). */
  private readonly offeredVersions: ReadonlyArray<number>

  constructor(
    readonly config: EndpointConfig,
    readonly localAddress: SocketAddress,
    private readonly backend: CryptoBackend
  ) {
    this.random = config.rngSeed === undefined ? secureRandom(backend) : seededRandom(backend, config.rngSeed)
    const secret = config.server?.secretKey ?? this.randomBytes(32)
    this.resetKey = backend.hkdfExpand("sha256", secret, new TextEncoder().encode("effect-quic stateless reset"), 32)
    const server = config.server
    if (server !== undefined) {
      const tokenKey = backend.hkdfExpand("sha256", secret, new TextEncoder().encode("effect-quic tokens"), 32)
      this.tokenSealer = new TokenSealer(backend, tokenKey, RETRY_TOKEN_LIFETIME, NEW_TOKEN_LIFETIME)
      if (server.tickets !== undefined) {
        const ticketKey = backend.hkdfExpand("sha256", secret, new TextEncoder().encode("effect-quic tickets"), 32)
        this.ticketSealer = new TicketSealer(backend, ticketKey)
      }
    }
    this.ticketStore = config.client?.resumption === false ? undefined : config.client?.ticketStore ?? new MemoryTicketStore()
    const datagramRoom = Math.max(config.transport.maxUdpPayloadSize, MIN_INITIAL_DATAGRAM)
    this.scratch = new Uint8Array(datagramRoom * Math.max(1, config.maxTransmitDatagrams))
    this.firstSlot = this.scratch.subarray(0, datagramRoom)
    if (config.connectionIdLength < 4 || config.connectionIdLength > MAX_CONNECTION_ID_LENGTH) {
      throw new RangeError("connectionIdLength must be 4 to 20 bytes")
    }
    const versions = server?.versions
    if (versions !== undefined) {
      const known = versions.map(versionByNumber)
      if (known.length === 0 || known.some((v) => v === undefined)) throw new RangeError("server versions must be supported QUIC versions")
      this.serverVersions = known as ReadonlyArray<QuicVersion>
    }
    this.offeredVersions = (this.serverVersions ?? supportedVersions).map((v) => v.number)
    const preferred = config.server?.preferredAddress
    if (preferred !== undefined) {
      if (preferred.ipv4 === undefined && preferred.ipv6 === undefined) throw new RangeError("preferredAddress needs an IPv4 or an IPv6 address")
      if (preferred.ipv4 !== undefined && ipv4Bytes(preferred.ipv4.address) === undefined) throw new RangeError("preferredAddress.ipv4 is not an IPv4 address")
      if (preferred.ipv6 !== undefined && ipv6Bytes(preferred.ipv6.address) === undefined) throw new RangeError("preferredAddress.ipv6 is not an IPv6 address")
      this.extraLocals = [preferred.ipv4, preferred.ipv6].filter((a): a is SocketAddress => a !== undefined)
    } else this.extraLocals = []
  }

  /** The server's preferred addresses: local addresses besides the primary one that datagrams arrive on. */
  private readonly extraLocals: ReadonlyArray<SocketAddress>

  /**
   * The path's local address as the core keeps it: one of the preferred
   * addresses, or undefined for the primary address (which a driver may
   * rebind under us, so the core never names it).
   */
  private localOf(local: SocketAddress | undefined): SocketAddress | undefined {
    if (local === undefined) return undefined
    for (const extra of this.extraLocals) if (sameAddress(extra, local)) return extra
    return undefined
  }

  private randomBytes(length: number): Uint8Array {
    const out = new Uint8Array(length)
    this.random.fill(out)
    return out
  }

  /** RFC 9000 §10.3.2: the reset token of a CID is a keyed hash of it, so it can be recomputed statelessly. */
  private resetTokenFor(cid: Uint8Array): Uint8Array {
    return this.backend.hmac("sha256", this.resetKey, cid).slice(0, 16)
  }

  private generateCid(): Uint8Array {
    let cid: Uint8Array
    do cid = this.randomBytes(this.config.connectionIdLength)
    while (this.byCid.has(cidKey(cid)))
    return cid
  }

  /** What every connection of this endpoint issues its CIDs with. */
  private readonly cidIssuer: CidIssuer = {
    generate: () => this.generateCid(),
    resetToken: (cid) => this.resetTokenFor(cid)
  }

  private register(handle: number, cid: Uint8Array): void {
    this.byCid.set(cidKey(cid), handle)
  }

  // ---- input -----------------------------------------------------------------

  /**
   * A datagram arrived from `peer`. Never throws; `bytes` may be modified in
   * place. `local`: the local address it arrived on, when the endpoint
   * receives on more than one (a server's preferred address, RFC 9000 §9.6);
   * omitted (or the primary address) for the endpoint's own socket.
   */
  handleDatagram(now: number, bytes: Uint8Array, peer: SocketAddress, local?: SocketAddress): void {
    const path = this.extraLocals.length === 0 ? undefined : this.localOf(local)
    const first = parsePacketHeader(bytes, 0, this.config.connectionIdLength)
    if (isPacketDropped(first)) {
      this.droppedDatagrams++
      return
    }
    const handle = this.byCid.get(cidKey(first.dcid))
    if (handle !== undefined) {
      const connection = this.connections.get(handle)!
      // RFC 9000 §12.2: a short-header packet runs to the end of its datagram,
      // so nothing can follow it; only long headers need the datagram split.
      let packets: ReadonlyArray<PacketHeader>
      if (first.form === "short") {
        this.onePacket[0] = first
        packets = this.onePacket
      } else packets = splitDatagram(bytes, this.config.connectionIdLength).packets
      try {
        connection.handleDatagram(now, peer, path, bytes, packets)
      } catch (error) {
        connection.failInternally(now, error)
      }
      this.afterConnectionCall(connection)
      return
    }
    switch (first.form) {
      case "long":
        if (first.type === "initial") return this.acceptInitial(now, bytes, peer, path, first)
        break
      case "unsupported-version":
        // RFC 9000 §6.1: answer with Version Negotiation, only for datagrams that could carry an Initial.
        if (this.config.server !== undefined && bytes.length >= MIN_INITIAL_DATAGRAM) return this.sendVersionNegotiation(peer, path, first.scid, first.dcid)
        break
      case "short":
        if (this.checkStatelessReset(bytes)) return
        return this.sendStatelessReset(now, bytes, first.dcid, peer, path)
      default:
        break
    }
    this.droppedDatagrams++
  }

  /** RFC 9000 §6.1: the versions we speak, for a client that started in another. */
  private sendVersionNegotiation(peer: SocketAddress, local: SocketAddress | undefined, clientScid: Uint8Array, clientDcid: Uint8Array): void {
    this.queue(new OutgoingPacket(peer, encodeVersionNegotiation(clientScid, clientDcid, this.offeredVersions, this.random.u32()), undefined, local))
  }

  /** RFC 9000 §10.3.1: an unroutable datagram may be a stateless reset for one of our connections. */
  private checkStatelessReset(bytes: Uint8Array): boolean {
    if (bytes.length < MIN_STATELESS_RESET) return false
    for (const connection of this.connections.values()) {
      if (connection.isStatelessReset(bytes)) {
        connection.onStatelessReset()
        this.afterConnectionCall(connection)
        return true
      }
    }
    return false
  }

  private sendStatelessReset(now: number, bytes: Uint8Array, dcid: Uint8Array, peer: SocketAddress, local: SocketAddress | undefined): void {
    // RFC 9000 §10.3.3: the reset must be smaller than what triggered it (so two endpoints
    // cannot loop) and look like any short-header packet.
    if (bytes.length <= MIN_STATELESS_RESET || dcid.length === 0) {
      this.droppedDatagrams++
      return
    }
    if (now - this.resetBudgetAt >= 1_000_000) {
      this.resetBudget = STATELESS_RESETS_PER_SECOND
      this.resetBudgetAt = now
    }
    if (this.resetBudget <= 0) return
    this.resetBudget--
    const size = Math.max(MIN_STATELESS_RESET, Math.min(bytes.length - 1, 43))
    const reset = this.randomBytes(size)
    reset[0] = 0x40 | (reset[0]! & 0x3f)
    reset.set(this.resetTokenFor(dcid), size - 16)
    this.queue(new OutgoingPacket(peer, reset, undefined, local))
  }

  private acceptInitial(now: number, bytes: Uint8Array, peer: SocketAddress, local: SocketAddress | undefined, header: LongHeader): void {
    const server = this.config.server
    if (server === undefined || bytes.length < MIN_INITIAL_DATAGRAM || header.dcid.length < MIN_INITIAL_DCID) {
      this.droppedDatagrams++
      return
    }
    // A version we support but were configured not to speak is answered like an unknown one (RFC 9000 §6.1).
    if (this.serverVersions !== undefined && !this.serverVersions.includes(header.version)) {
      return this.sendVersionNegotiation(peer, local, header.scid, header.dcid)
    }
    if (this.connections.size >= server.maxConnections || this.handshaking.size >= server.maxHandshakes) {
      this.droppedDatagrams++
      return
    }
    // RFC 9001 §5.2, §4.1.4 (as quinn-proto does): commit no state, send no Retry and
    // announce nothing for an Initial that does not open under the keys its DCID implies.
    const keys = initialKeys(this.backend, header.version, header.dcid)
    if (!this.initialOpens(bytes, header, keys.client)) {
      this.droppedDatagrams++
      return
    }
    let validated = false
    let originalDcid: Uint8Array = header.dcid.slice()
    let retrySourceCid: Uint8Array | undefined
    if (header.token.length > 0) {
      // RFC 9369 §5, §4.1: a token is only good in the version it was issued for.
      const token = this.tokenSealer!.open(header.token, peer, now, header.version.number)
      if (token?.kind === "retry") {
        // RFC 9000 §8.1.2: the Retry token carries the original DCID; the client now uses our Retry SCID.
        validated = true
        originalDcid = token.originalDcid
        retrySourceCid = token.retrySourceCid
      } else if (token?.kind === "new-token") {
        validated = true
      }
    }
    if (server.retry && !validated) {
      const scid = this.randomBytes(this.config.connectionIdLength)
      const token = this.tokenSealer!.seal("retry", peer, now, header.dcid, scid, header.version.number)
      this.queue(new OutgoingPacket(peer, encodeRetry(this.backend, header.version, header.scid, scid, token, header.dcid, this.random.u32()), undefined, local))
      return
    }

    const handle = this.nextHandle++
    const localCid = this.generateCid()
    const tickets = server.tickets
    const connection = new Connection({
      handle,
      role: "server",
      version: header.version,
      transport: this.config.transport,
      backend: this.backend,
      random: this.random,
      now,
      remote: peer,
      local,
      preferredAddress: server.preferredAddress,
      localCid: { sequence: 0, cid: localCid },
      remoteCid: header.scid.slice(),
      originalDcid,
      initialDcid: header.dcid.slice(),
      initialKeys: keys,
      retrySourceCid,
      addressValidated: validated,
      cidIssuer: this.cidIssuer,
      unixMillis: this.config.unixMillis,
      tokenSealer: server.newTokens ? this.tokenSealer : undefined,
      keyLog: server.keyLog,
      qlog: this.config.qlog,
      versionPreference: this.serverVersions,
      makeTls: (transportParameters, hooks) =>
        new TlsServer({
          backend: this.backend,
          cipherSuites: server.cipherSuites,
          groups: server.groups,
          alpn: server.alpn,
          transportParameters,
          onClientTransportParameters: hooks.onClientParameters,
          quicVersion: hooks.quicVersion,
          keyLog: server.keyLog,
          certificate: { chain: server.certificateChain, key: server.privateKey },
          clientAuth: server.clientAuth,
          clientVerifier: server.clientVerifier,
          tickets: tickets === undefined || this.ticketSealer === undefined
            ? undefined
            : {
              sealer: this.ticketSealer,
              lifetime: tickets.lifetime,
              count: tickets.count,
              earlyData: tickets.earlyData,
              usedTickets: this.usedTickets,
              earlyDataContext: this.earlyDataContext()
            }
        })
    })
    this.connections.set(handle, connection)
    this.handshaking.add(handle)
    this.register(handle, localCid)
    // Retransmitted Initials still carry the client's chosen DCID until it hears from us.
    const clientDcid = cidKey(header.dcid)
    this.byCid.set(clientDcid, handle)
    this.clientDcidOf.set(handle, clientDcid)
    this.events.push({ _tag: "NewConnection", connection: handle, remote: peer })
    const { packets } = splitDatagram(bytes, this.config.connectionIdLength)
    try {
      connection.handleDatagram(now, peer, local, bytes, packets)
    } catch (error) {
      connection.failInternally(now, error)
    }
    this.afterConnectionCall(connection)
  }

  /** Whether the first (Initial) packet of `bytes` authenticates; works on a copy, `bytes` is untouched. */
  private initialOpens(bytes: Uint8Array, header: LongHeader, keys: DirectionalKeys): boolean {
    const packet = bytes.slice(header.start, header.end)
    const pnOffset = header.pnOffset - header.start
    const pnLength = removeHeaderProtection(keys.header, packet, 0, pnOffset, packet.length)
    if (pnLength === 0) return false
    const pn = decodePacketNumber(undefined, readTruncatedPacketNumber(packet, pnOffset, pnLength), pnLength * 8)
    return openPacket(keys.packet, packet, 0, pnOffset, pnLength, packet.length, pn) >= 0
  }

  /**
   * RFC 9000 §7.4.1: 0-RTT is only accepted while the limits the client
   * remembered still hold; our transport settings stand for them.
   */
  private earlyDataContext(): Uint8Array {
    const t = this.config.transport
    return new TextEncoder().encode(
      [t.initialMaxData, t.initialMaxStreamData, t.maxConcurrentBidiStreams, t.maxConcurrentUniStreams, t.maxDatagramFrameSize ?? -1].join(",")
    )
  }

  // ---- connecting ----------------------------------------------------------------

  /** Starts a client connection to `peer`, verifying the server as `serverName`. Returns its handle. */
  connect(now: number, peer: SocketAddress, serverName: string): number | EndpointError {
    const client = this.config.client
    if (client === undefined) return { _tag: "NoClientConfig" }
    const handle = this.nextHandle++
    const local = this.generateCid()
    const dcid = this.randomBytes(Math.max(MIN_INITIAL_DCID, this.config.connectionIdLength))
    // RFC 9000 §6.3: a version we do not speak (e.g. a reserved 0x?a?a?a?a) still goes on
    // the wire, in v1's packet format, to solicit Version Negotiation.
    const configured = versionByNumber(client.version) ??
      { ...QUIC_V1, number: client.version >>> 0, name: `0x${(client.version >>> 0).toString(16)}` }
    const unixMillis = this.config.unixMillis(now)
    const session = this.ticketStore?.take(serverName, unixMillis)
    // RFC 9369 §5: a ticket is good only for the version of the connection it came
    // from (the negotiated one); resuming, we start in that version (as RFC 8446
    // Appendix D.1 has a TLS client resume in the version it negotiated).
    const version = (session?.quicVersion === undefined ? undefined : versionByNumber(session.quicVersion)) ?? configured
    const saved = this.clientTokens.get(serverName)
    this.clientTokens.delete(serverName)
    // Likewise a NEW_TOKEN token: used only when we start in its version.
    const token = saved !== undefined && saved.version === version.number ? saved.token : undefined
    const connection = new Connection({
      handle,
      role: "client",
      version,
      transport: this.config.transport,
      backend: this.backend,
      random: this.random,
      now,
      remote: peer,
      localCid: { sequence: 0, cid: local },
      remoteCid: dcid,
      originalDcid: dcid,
      token,
      addressValidated: true,
      cidIssuer: this.cidIssuer,
      unixMillis: this.config.unixMillis,
      keyLog: client.keyLog,
      qlog: this.config.qlog,
      onNewToken: (t) => this.clientTokens.set(serverName, { token: t, version: this.connections.get(handle)?.version.number ?? version.number }),
      onSessionTicket: (ticket) => this.ticketStore?.put(ticket),
      migrateToPreferredAddress: client.migrateToPreferredAddress,
      rememberedParameters: session !== undefined && client.earlyData ? session.transportParameters : undefined,
      makeTls: (transportParameters) =>
        new TlsClient({
          backend: this.backend,
          cipherSuites: client.cipherSuites,
          groups: client.groups,
          alpn: client.alpn,
          transportParameters,
          keyLog: client.keyLog,
          serverName,
          verifier: client.verifier,
          clientCertificate: client.clientCertificate,
          session,
          requestTickets: this.ticketStore !== undefined,
          earlyData: client.earlyData
        })
    })
    this.connections.set(handle, connection)
    this.handshaking.add(handle)
    this.register(handle, local)
    this.afterConnectionCall(connection)
    return handle
  }

  // ---- timers and output ------------------------------------------------------------

  /** Runs every timer that is due. */
  driveTimers(now: number): void {
    // Each due connection runs its timers once per call, even if its next deadline is also due.
    const due: Array<Connection> = []
    for (let at = this.nextTimerDeadline(); at !== undefined && at <= now; at = this.nextTimerDeadline()) {
      const handle = this.timers.peekHandle()!
      this.timers.pop()
      this.scheduled.delete(handle)
      due.push(this.connections.get(handle)!)
    }
    for (const connection of due) {
      try {
        connection.handleTimeout(now)
      } catch (error) {
        connection.failInternally(now, error)
      }
      this.afterConnectionCall(connection)
    }
  }

  /** The earliest time `driveTimers` has work, or undefined. */
  nextTimerDeadline(): number | undefined {
    for (let at = this.timers.peekAt(); at !== undefined; at = this.timers.peekAt()) {
      if (this.scheduled.get(this.timers.peekHandle()!) === at) return at
      this.timers.pop()
    }
    return undefined
  }

  /** Records a connection's next deadline in the timer heap, if it moved. */
  private schedule(connection: Connection): void {
    const handle = connection.handle
    const deadline = connection.nextTimeout()
    if (deadline === this.scheduled.get(handle)) return
    if (deadline === undefined) {
      this.scheduled.delete(handle)
      return
    }
    this.scheduled.set(handle, deadline)
    this.timers.push(deadline, handle)
    // Stale entries are dropped when they surface; rebuild before they outnumber live ones.
    if (this.timers.size > 4 * this.scheduled.size + 64) {
      this.timers.clear()
      for (const [h, at] of this.scheduled) this.timers.push(at, h)
    }
  }

  pollEvent(): QuicEvent | undefined {
    return this.events.shift()
  }

  /**
   * Pulls datagrams from connections into the send queue, round-robin, until
   * the queue is full or nobody has anything to send. Datagrams of one
   * connection to one destination are batched GSO-style.
   */
  flush(now: number): void {
    if (this.batchDepth > 0) return
    const active = this.active
    while (active.size > 0 && this.sendQueue.length < this.config.sendQueueCapacity) {
      const handle: number = active.values().next().value!
      active.delete(handle)
      const connection = this.connections.get(handle)
      if (connection === undefined) continue
      const packet = this.transmitBatch(now, connection)
      if (packet === undefined) continue
      this.sendQueue.push(packet)
      if (this.strayPacket !== undefined) {
        this.sendQueue.push(this.strayPacket)
        this.strayPacket = undefined
      }
      // Still active (it may have more), behind the others.
      if (this.connections.has(handle)) active.add(handle)
    }
  }

  /**
   * The connection's next datagrams; none when its code failed (it is then
   * closing with INTERNAL_ERROR, and its CONNECTION_CLOSE follows in a later
   * batch, unless that fails too).
   */
  private transmitBatch(now: number, connection: Connection): OutgoingPacket | undefined {
    try {
      return this.pollBatch(now, connection)
    } catch (error) {
      connection.failInternally(now, error)
      this.afterConnectionCall(connection)
      return undefined
    }
  }

  private pollBatch(now: number, connection: Connection): OutgoingPacket | undefined {
    const scratch = this.scratch
    const first = connection.pollTransmit(now, this.firstSlot)
    if (first === undefined) {
      this.afterConnectionCall(connection, false)
      return undefined
    }
    const size = first.length
    const max = Math.min(this.config.maxTransmitDatagrams, Math.floor(scratch.length / size))
    let used = size
    let count = 1
    while (count < max) {
      const next = connection.pollTransmit(now, scratch.subarray(used, used + size))
      if (next === undefined) break
      if (!sameAddress(next.destination, first.destination) || !sameLocal(next.source, first.source)) {
        // Another path (a probe while migrating): its own datagram, after this batch.
        this.strayPacket = new OutgoingPacket(next.destination, scratch.slice(used, used + next.length), undefined, next.source)
        break
      }
      used += next.length
      count++
      // A shorter datagram ends the batch (it can only be the last segment).
      if (next.length < size) break
    }
    this.afterConnectionCall(connection, false)
    // Only the bytes used are copied out: the scratch is reused, the packet may wait in a socket queue.
    return new OutgoingPacket(first.destination, scratch.slice(0, used), count > 1 ? size : undefined, first.source)
  }

  /** The next datagram(s) to send, or undefined when the queue is empty. */
  pollSend(): OutgoingPacket | undefined {
    return this.sendQueue.shift()
  }

  get sendQueueLength(): number {
    return this.sendQueue.length
  }

  private queue(packet: OutgoingPacket): void {
    this.sendQueue.push(packet)
  }

  /** Operations inside `body` do not transmit; one flush follows, so many small writes leave as full packets. */
  batch<A>(now: number, body: () => A): A {
    this.beginBatch()
    try {
      return body()
    } finally {
      this.endBatch(now)
    }
  }

  /** Opens a batch that outlives one call (a driver's turn): until `endBatch`, operations do not transmit. */
  beginBatch(): void {
    this.batchDepth++
  }

  /** Closes what `beginBatch` opened; the last close flushes once. */
  endBatch(now: number): void {
    this.batchDepth--
    if (this.batchDepth === 0) this.flush(now)
  }

  /** Collects what a call on `connection` produced; `mayHaveOutput`: mark it for the next flush. */
  private afterConnectionCall(connection: Connection, mayHaveOutput = true): void {
    const events = connection.events
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!
      if (event._tag === "Connected") this.handshaking.delete(connection.handle)
      this.events.push(event)
    }
    // Truncating an array is a runtime call even when it is empty, and this runs for every datagram.
    if (events.length > 0) events.length = 0
    const cids = connection.localCids
    if (cids.added.length > 0) {
      for (const cid of cids.added) this.register(connection.handle, cid)
      cids.added.length = 0
    }
    if (cids.retired.length > 0) {
      for (const cid of cids.retired) this.byCid.delete(cidKey(cid))
      cids.retired.length = 0
    }
    if (connection.isDrained) return this.reap(connection)
    if (mayHaveOutput) this.active.add(connection.handle)
    this.schedule(connection)
  }

  /**
   * The endpoint goes away (its socket closes): every connection is dropped
   * at once, whatever its state, and its qlog trace ends. Call it after the
   * last CONNECTION_CLOSEs were taken with `pollSend`.
   */
  discardAll(): void {
    for (const connection of [...this.connections.values()]) this.reap(connection)
    this.timers.clear()
  }

  private reap(connection: Connection): void {
    connection.endQlog()
    this.handshaking.delete(connection.handle)
    for (const issued of connection.localCids.all()) this.byCid.delete(cidKey(issued.cid))
    const clientDcid = this.clientDcidOf.get(connection.handle)
    if (clientDcid !== undefined) this.byCid.delete(clientDcid)
    this.clientDcidOf.delete(connection.handle)
    this.connections.delete(connection.handle)
    this.active.delete(connection.handle)
    this.scheduled.delete(connection.handle)
  }

  // ---- application calls ---------------------------------------------------------

  private live(handle: number): Connection | EndpointError {
    const connection = this.connections.get(handle)
    // ARCHITECTURE.md §1: a closed connection refuses application calls until it is reaped.
    if (connection === undefined || connection.closedReason !== undefined) return InvalidConnection
    return connection
  }

  private call<A>(now: number, handle: number, body: (connection: Connection) => A): A | EndpointError {
    const connection = this.live(handle)
    if ("_tag" in connection) return connection
    let result: A | EndpointError
    try {
      result = body(connection)
    } catch (error) {
      connection.failInternally(now, error)
      result = InvalidConnection
    }
    this.afterConnectionCall(connection)
    this.flush(now)
    return result
  }

  openBi(now: number, handle: number): number | undefined | EndpointError {
    return this.call(now, handle, (c) => c.streams.openBi())
  }

  openUni(now: number, handle: number): number | undefined | EndpointError {
    return this.call(now, handle, (c) => c.streams.openUni())
  }

  streamSend(now: number, handle: number, stream: number, data: Uint8Array): number | WriteError | EndpointError {
    return this.call(now, handle, (c) => c.streams.send(stream, data))
  }

  streamSendChunks(now: number, handle: number, stream: number, chunks: ReadonlyArray<Uint8Array>): number | WriteError | EndpointError {
    return this.call(now, handle, (c) => c.streams.sendChunks(stream, chunks))
  }

  streamFinish(now: number, handle: number, stream: number): WriteError | undefined | EndpointError {
    return this.call(now, handle, (c) => c.streams.finish(stream))
  }

  resetStream(now: number, handle: number, stream: number, code: bigint): WriteError | undefined | EndpointError {
    return this.call(now, handle, (c) => c.streams.resetStream(stream, code))
  }

  stopSending(now: number, handle: number, stream: number, code: bigint): ReadError | undefined | EndpointError {
    return this.call(now, handle, (c) => c.streams.stopSending(stream, code))
  }

  streamRecv(now: number, handle: number, stream: number, max: number): ReadChunk | ReadError | EndpointError {
    return this.call(now, handle, (c) => c.streams.recv(stream, max))
  }

  streamRecvInto(now: number, handle: number, stream: number, buffer: Uint8Array): ReadInto | ReadError | EndpointError {
    return this.call(now, handle, (c) => c.streams.recvInto(stream, buffer))
  }

  sendDatagram(now: number, handle: number, data: Uint8Array, dropOldWhenFull: boolean): DatagramSendError | undefined | EndpointError {
    return this.call(now, handle, (c) => c.sendDatagram(data, dropOldWhenFull))
  }

  maxDatagramSize(handle: number): number | EndpointError {
    const connection = this.live(handle)
    return "_tag" in connection ? connection : connection.maxDatagramPayload()
  }

  datagramSendBufferSpace(handle: number): number | EndpointError {
    const connection = this.live(handle)
    return "_tag" in connection ? connection : connection.datagrams.sendBufferSpace
  }

  /** Queues CONNECTION_CLOSE and emits ConnectionClosed{LocallyClosed} once; repeat calls do nothing. */
  closeConnection(now: number, handle: number, code: bigint, reason: string): void {
    const connection = this.connections.get(handle)
    if (connection === undefined || connection.closedReason !== undefined) return
    connection.closeByApplication(now, code, reason)
    this.afterConnectionCall(connection)
    this.flush(now)
  }

  /** Starts a 1-RTT key update on `handle` (RFC 9001 §6); false when not allowed yet. */
  initiateKeyUpdate(now: number, handle: number): boolean | EndpointError {
    return this.call(now, handle, (c) => c.initiateKeyUpdate())
  }

  /** Whether the handshake resumed a session (PSK from a ticket). */
  resumed(handle: number): boolean {
    return this.connections.get(handle)?.resumed ?? false
  }

  /** Client: continue `handle` from a new local address (RFC 9000 §9.2); false when not allowed. */
  migrate(now: number, handle: number): boolean | EndpointError {
    return this.call(now, handle, (c) => c.migrate(now))
  }

  has0rtt(handle: number): boolean {
    return this.connections.get(handle)?.has0Rtt ?? false
  }

  accepted0rtt(handle: number): boolean {
    return this.connections.get(handle)?.accepted0Rtt ?? false
  }

  connectionStats(handle: number): ConnectionStats | undefined {
    return this.connections.get(handle)?.stats()
  }

  remoteAddress(handle: number): SocketAddress | undefined {
    return this.connections.get(handle)?.remote
  }

  alpn(handle: number): string | undefined {
    return this.connections.get(handle)?.alpn
  }

  /** The QUIC version number the connection is in (the negotiated one, RFC 9368 §2). */
  version(handle: number): number | undefined {
    return this.connections.get(handle)?.version.number
  }

  /** The negotiated cipher suite's name, once known. */
  cipherSuite(handle: number): string | undefined {
    return this.connections.get(handle)?.cipherSuite?.name
  }

  peerCertificates(handle: number): ReadonlyArray<Uint8Array> {
    return this.connections.get(handle)?.peerCertificates ?? []
  }

  get connectionCount(): number {
    return this.connections.size
  }
}
