/**
 * Helpers for the endpoint-level tests in test/endpoint/: a client/server pair
 * with separate transport settings per side, deterministic payloads, NSS
 * key-log capture, and a 1-RTT packet codec built from logged traffic
 * secrets, so a test can decrypt what crossed the simulated wire or inject a
 * packet a well-behaved peer would never send.
 */
import { expect } from "vitest"
import type { SocketAddress } from "../../src/internal/address.js"
import { decodePacketNumber } from "../../src/internal/codec/packetNumber.js"
import { BufferWriter } from "../../src/internal/codec/writer.js"
import type { TransportConfig } from "../../src/internal/config.js"
import type { CryptoBackend } from "../../src/internal/crypto/backend.js"
import { type DirectionalKeys, deriveDirectionalKeys } from "../../src/internal/crypto/packetKeys.js"
import { type CipherSuite, TLS_AES_128_GCM_SHA256 } from "../../src/internal/crypto/suite.js"
import type { Connection } from "../../src/internal/connection/connection.js"
import { QuicEndpoint } from "../../src/internal/endpoint.js"
import { isTransportError } from "../../src/internal/errors.js"
import type { CloseReason, QuicEvent } from "../../src/internal/events.js"
import { decodeFrames } from "../../src/internal/frame/decode.js"
import { encodeFrame } from "../../src/internal/frame/encode.js"
import type { Frame } from "../../src/internal/frame/types.js"
import { splitDatagram } from "../../src/internal/packet/coalesce.js"
import { writeShortHeader } from "../../src/internal/packet/header.js"
import { openPacket, readTruncatedPacketNumber, removeHeaderProtection, sealPacket } from "../../src/internal/packet/protection.js"
import { QUIC_V1 } from "../../src/internal/packet/version.js"
import { CLIENT, endpointConfig, type LinkModel, Network, type Observed, perfectLink, SERVER } from "./link.js"

export { CLIENT, SERVER }

/** Deterministic bytes: a cheap function of the offset and a salt. */
export const pattern = (size: number, salt = 0): Uint8Array => {
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = (i * 7 + (i >> 8) + salt * 31) & 0xff
  return out
}

type EndpointOverrides = Parameters<typeof endpointConfig>[0]

export interface PairOptions {
  /** Applied to both sides, under the per-side settings below. */
  readonly transport?: Partial<TransportConfig>
  readonly clientTransport?: Partial<TransportConfig>
  readonly serverTransport?: Partial<TransportConfig>
  readonly client?: EndpointOverrides["client"]
  readonly server?: EndpointOverrides["server"]
  readonly seed?: number
  /** Record every datagram on the wire (intact: endpoints get a copy to decrypt in place). */
  readonly recordWire?: boolean
}

/**
 * Like link.ts's makePair, with separate transport settings per side. The
 * endpoints decrypt datagrams in place, and the link records the very array
 * it delivers; with `recordWire` each endpoint is handed a copy so that the
 * recorded bytes stay as they were sent.
 */
export const makeTestPair = (backend: CryptoBackend, model: LinkModel = perfectLink, options: PairOptions = {}) => {
  const network = new Network(model, options.seed ?? 1)
  const server = network.add(
    SERVER,
    new QuicEndpoint(
      endpointConfig({ role: "server", server: options.server ?? {}, transport: { ...options.transport, ...options.serverTransport }, seed: 11 }),
      SERVER,
      backend
    )
  )
  const client = network.add(
    CLIENT,
    new QuicEndpoint(
      endpointConfig({ role: "client", client: options.client ?? {}, transport: { ...options.transport, ...options.clientTransport }, seed: 22 }),
      CLIENT,
      backend
    )
  )
  if (options.recordWire === true) {
    network.recordWire = true
    for (const endpoint of [server, client]) {
      const original = endpoint.handleDatagram.bind(endpoint)
      endpoint.handleDatagram = (now: number, bytes: Uint8Array, peer: SocketAddress) => original(now, bytes.slice(), peer)
    }
  }
  return { network, server, client }
}

/** Connects the client and runs until both sides report Connected; returns both handles. */
export const connect = (pair: ReturnType<typeof makeTestPair>, limit = 5_000_000) => {
  const { network, client } = pair
  const handle = client.connect(network.now, SERVER, "localhost")
  if (typeof handle !== "number") throw new Error(`connect failed: ${handle._tag}`)
  const connected = (address: SocketAddress) => network.eventsOf(address).find((e) => e._tag === "Connected")
  if (!network.run(() => connected(CLIENT) !== undefined && connected(SERVER) !== undefined, limit)) {
    throw new Error("handshake did not complete")
  }
  return { clientConn: handle, serverConn: connected(SERVER)!.connection }
}

export const closedEvents = (network: Network, address: SocketAddress): Array<CloseReason> =>
  network.eventsOf(address).flatMap((e: QuicEvent) => (e._tag === "ConnectionClosed" ? [e.reason] : []))

// ---- key log ------------------------------------------------------------------

/** Collects NSS key-log lines; `secret(label)` returns the logged secret. */
export class KeyLog {
  readonly lines: Array<string> = []
  readonly log = (line: string): void => {
    this.lines.push(line)
  }

  secret(label: string): Uint8Array {
    const line = this.lines.find((l) => l.startsWith(`${label} `))
    if (line === undefined) throw new Error(`no ${label} in the key log`)
    return Buffer.from(line.split(" ")[2]!, "hex")
  }
}

// ---- 1-RTT packets --------------------------------------------------------------

/** One direction's 1-RTT packet protection at key phase 0, from a logged traffic secret. */
export class OneRttCodec {
  private readonly keys: DirectionalKeys
  /** The largest packet number opened, for decoding truncated ones (RFC 9000 App. A). */
  largest: number | undefined

  constructor(backend: CryptoBackend, secret: Uint8Array, suite: CipherSuite = TLS_AES_128_GCM_SHA256) {
    this.keys = deriveDirectionalKeys(backend, suite, QUIC_V1, secret)
  }

  /** A datagram holding one 1-RTT packet with `frames` (4-byte packet number). */
  seal(dcid: Uint8Array, packetNumber: number, frames: ReadonlyArray<Frame>): Uint8Array {
    return this.sealWith(dcid, packetNumber, (w) => {
      for (const frame of frames) encodeFrame(w, frame)
    })
  }

  /** Like {@link seal}, with the payload written by `write` (at most 1200 bytes). */
  sealWith(dcid: Uint8Array, packetNumber: number, write: (payload: BufferWriter) => void): Uint8Array {
    const buffer = new Uint8Array(4096)
    const w = new BufferWriter(buffer)
    const pnOffset = writeShortHeader(w, dcid, false, 0, packetNumber % 2 ** 32, 4)
    const payload = new BufferWriter(buffer.subarray(0, pnOffset + 4 + 1200), w.offset)
    write(payload)
    w.offset = payload.offset
    // RFC 9001 §5.4.2: enough bytes for the header-protection sample (PADDING frames).
    while (w.offset < pnOffset + 8) w.u8(0)
    const end = sealPacket(this.keys, buffer, 0, pnOffset, 4, w.offset, packetNumber)
    return buffer.slice(0, end)
  }

  /**
   * Opens the 1-RTT packet of a datagram (a copy is decrypted); `undefined`
   * when it has none or it does not authenticate.
   */
  open(datagram: Uint8Array, cidLength: number): { packetNumber: number; frames: Array<Frame> } | undefined {
    const bytes = datagram.slice()
    const { packets } = splitDatagram(bytes, cidLength)
    const packet = packets.find((p) => p.form === "short")
    if (packet === undefined || packet.form !== "short") return undefined
    const pnLength = removeHeaderProtection(this.keys.header, bytes, packet.start, packet.pnOffset, packet.end)
    if (pnLength === 0) return undefined
    const truncated = readTruncatedPacketNumber(bytes, packet.pnOffset, pnLength)
    const packetNumber = decodePacketNumber(this.largest, truncated, pnLength * 8)
    const end = openPacket(this.keys.packet, bytes, packet.start, packet.pnOffset, pnLength, packet.end, packetNumber)
    if (end < 0) return undefined
    if (this.largest === undefined || packetNumber > this.largest) this.largest = packetNumber
    const frames = decodeFrames(bytes.subarray(packet.pnOffset + pnLength, end), "1rtt")
    if (isTransportError(frames)) throw new Error(`undecodable frames: ${frames.reason}`)
    return { packetNumber, frames }
  }
}

/** A recorded datagram's 1-RTT content. */
export interface DecodedDatagram {
  readonly at: number
  readonly fromClient: boolean
  readonly fate: Observed["fate"]
  readonly packetNumber: number
  readonly frames: ReadonlyArray<Frame>
}

/**
 * Decrypts the 1-RTT packet of every recorded datagram (handshake-only
 * datagrams are skipped). Needs the client's key log (both traffic secrets
 * _0; no key update may have happened). `undecryptable` counts datagrams with
 * a short-header packet that failed to open.
 */
export const decodeWire = (backend: CryptoBackend, wire: ReadonlyArray<Observed>, keyLog: KeyLog, cidLength = 8) => {
  const up = new OneRttCodec(backend, keyLog.secret("CLIENT_TRAFFIC_SECRET_0"))
  const down = new OneRttCodec(backend, keyLog.secret("SERVER_TRAFFIC_SECRET_0"))
  const decoded: Array<DecodedDatagram> = []
  let undecryptable = 0
  for (const observed of wire) {
    if (observed.fate === "corrupted") continue
    const fromClient = observed.from.port === CLIENT.port && observed.from.address === CLIENT.address
    const first = observed.data[0]!
    const { packets } = splitDatagram(observed.data.slice(), cidLength)
    if ((first & 0x80) !== 0 && !packets.some((p) => p.form === "short")) continue
    const opened = (fromClient ? up : down).open(observed.data, cidLength)
    if (opened === undefined) {
      undecryptable++
      continue
    }
    decoded.push({ at: observed.at, fromClient, fate: observed.fate, ...opened })
  }
  return { decoded, undecryptable }
}

/** The Destination CID of the last short-header datagram the client sent (a CID the server routes). */
export const serverCidFromWire = (wire: ReadonlyArray<Observed>, cidLength = 8): Uint8Array => {
  for (let i = wire.length - 1; i >= 0; i--) {
    const observed = wire[i]!
    if (observed.from.port === CLIENT.port && (observed.data[0]! & 0x80) === 0) return observed.data.slice(1, 1 + cidLength)
  }
  throw new Error("no short-header datagram from the client on the wire")
}

// ---- application drivers ------------------------------------------------------------

/**
 * Writes `data` to one stream as fast as the endpoint takes it, then FIN.
 * Call `pump()` once the stream exists and on every StreamWritable for it.
 */
export class StreamWriter {
  sent = 0
  finished = false
  /** Writes that took some but not all of what was offered. */
  partialWrites = 0
  /** Writes refused with WriteBlocked. */
  blockedWrites = 0

  constructor(
    readonly endpoint: QuicEndpoint,
    readonly network: Network,
    readonly conn: number,
    readonly stream: number,
    readonly data: Uint8Array,
    readonly chunk = 65_536
  ) {}

  pump(): void {
    while (this.sent < this.data.length) {
      const want = Math.min(this.data.length - this.sent, this.chunk)
      const n = this.endpoint.streamSend(this.network.now, this.conn, this.stream, this.data.subarray(this.sent, this.sent + want))
      if (typeof n !== "number") {
        if (n._tag !== "WriteBlocked") throw new Error(`write failed: ${n._tag}`)
        this.blockedWrites++
        return
      }
      this.sent += n
      if (n < want) {
        this.partialWrites++
        return
      }
    }
    if (!this.finished) {
      const error = this.endpoint.streamFinish(this.network.now, this.conn, this.stream)
      if (error !== undefined) throw new Error(`finish failed: ${error._tag}`)
      this.finished = true
    }
  }
}

/**
 * Reads one stream and compares every byte with `expected` as it arrives
 * (nothing is kept). Call `pump()` on every StreamReadable for it.
 */
export class StreamReader {
  received = 0
  /** Offset of the first byte that differed, or -1. */
  firstMismatch = -1
  /** How many reads reported `finished` (must end at exactly 1). */
  finishedReads = 0
  /** When the FIN was read (virtual µs). */
  finishedAt: number | undefined

  constructor(
    readonly endpoint: QuicEndpoint,
    readonly network: Network,
    readonly conn: number,
    readonly stream: number,
    readonly expected: Uint8Array
  ) {}

  get finished(): boolean {
    return this.finishedReads > 0
  }

  pump(): void {
    if (this.finished) return
    for (;;) {
      const chunk = this.endpoint.streamRecv(this.network.now, this.conn, this.stream, 1 << 20)
      if ("_tag" in chunk) {
        if (chunk._tag === "ReadBlocked") return
        throw new Error(`read failed: ${chunk._tag}`)
      }
      const { data } = chunk
      if (this.firstMismatch < 0) {
        const expected = this.expected.subarray(this.received, this.received + data.length)
        if (expected.length !== data.length || Buffer.compare(expected, data) !== 0) {
          let i = 0
          while (i < expected.length && expected[i] === data[i]) i++
          this.firstMismatch = this.received + i
        }
      }
      this.received += data.length
      if (chunk.finished) {
        this.finishedReads++
        this.finishedAt = this.network.now
        return
      }
      if (data.length === 0) return
    }
  }
}

/** White-box access to a connection's state (the endpoint keeps them private). */
export const connectionOf = (endpoint: QuicEndpoint, handle: number): Connection | undefined =>
  (endpoint as unknown as { readonly connections: Map<number, Connection> }).connections.get(handle)

// ---- a misbehaving peer ---------------------------------------------------------------

/**
 * A connected pair whose client's 1-RTT write keys are known (key log), so
 * a test can inject packets "from the client" that a correct client would
 * never send.
 */
export const makeRogueClient = (
  backend: CryptoBackend,
  serverTransport: Partial<TransportConfig>,
  clientTransport: Partial<TransportConfig> = {}
) => {
  const keyLog = new KeyLog()
  const pair = makeTestPair(backend, perfectLink, {
    serverTransport,
    clientTransport,
    recordWire: true,
    client: { keyLog: keyLog.log, cipherSuites: [TLS_AES_128_GCM_SHA256] }
  })
  const { clientConn, serverConn } = connect(pair)
  // Let the handshake settle (HANDSHAKE_DONE, NEW_CONNECTION_ID, their ACKs).
  pair.network.run(() => false, 200_000)
  const codec = new OneRttCodec(backend, keyLog.secret("CLIENT_TRAFFIC_SECRET_0"))
  let packetNumber = 1_000_000
  /**
   * Sends one 1-RTT packet with `payload` to the server, as the client. Its
   * packet number was never used by the real client, so a server that
   * acknowledged it would make the client close (RFC 9000 §13.1): each test
   * injects one packet, and acceptable frames go in front of the violation.
   */
  const inject = (payload: ReadonlyArray<Frame> | ((w: BufferWriter) => void)) => {
    const dcid = serverCidFromWire(pair.network.wire)
    const datagram = typeof payload === "function" ? codec.sealWith(dcid, packetNumber++, payload) : codec.seal(dcid, packetNumber++, payload)
    pair.server.handleDatagram(pair.network.now, datagram, CLIENT)
    pair.network.pump(pair.server)
  }
  return { ...pair, clientConn, serverConn, keyLog, inject }
}

/**
 * The server closed with `code` (naming `frameType`), and the client heard it
 * as a remote TransportError with the same code, frame type and reason; both
 * then refuse application calls.
 */
export const expectClosedWith = (pair: ReturnType<typeof makeRogueClient>, code: number, frameType: number): void => {
  const { network } = pair
  expect(network.run(() => closedEvents(network, CLIENT).length > 0, 2_000_000)).toBe(true)
  const [serverReason, ...moreServer] = closedEvents(network, SERVER)
  expect(moreServer).toEqual([])
  expect(serverReason).toMatchObject({ _tag: "TransportError", code, frameType, remote: false })
  expect(closedEvents(network, CLIENT)).toEqual([
    { _tag: "TransportError", code, frameType, reason: (serverReason as { reason: string }).reason, remote: true }
  ])
  expect(pair.client.openBi(network.now, pair.clientConn)).toEqual({ _tag: "InvalidConnection" })
  expect(pair.server.openBi(network.now, pair.serverConn)).toEqual({ _tag: "InvalidConnection" })
}
