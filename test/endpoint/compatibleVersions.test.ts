/**
 * Compatible version negotiation (RFC 9368 §2.3, §4; RFC 9369 §4.1) between
 * the sans-IO endpoints: a v1 client that lists v2 in its version_information
 * is moved to v2 by a server that prefers v2. Checked on the wire (version
 * fields, long-header type bits, packets opened with the salt and labels of
 * each version), by what both endpoints report, and under loss, Retry,
 * HelloRetryRequest and 0-RTT; downgrade attempts (a chosen_version that does
 * not match) close with VERSION_NEGOTIATION_ERROR (0x11).
 *
 * The downgrade tests need a peer that lies in its transport parameters: the
 * encoder is wrapped (vi.mock) so a test can rewrite what one side sends.
 */
import { describe, expect, it, vi } from "vitest"
import type { CryptoBackend } from "../../src/internal/crypto/backend.js"
import { initialKeys } from "../../src/internal/crypto/initial.js"
import { TLS_AES_128_GCM_SHA256 } from "../../src/internal/crypto/suite.js"
import { isTransportError, TransportErrorCode } from "../../src/internal/errors.js"
import type { QuicEvent } from "../../src/internal/events.js"
import type { LongHeader, PacketHeader } from "../../src/internal/packet/header.js"
import { QUIC_V1, QUIC_V2, type QuicVersion } from "../../src/internal/packet/version.js"
import { isTlsAlert } from "../../src/internal/tls/alert.js"
import { ExtensionType, HandshakeType, HELLO_RETRY_REQUEST_RANDOM } from "../../src/internal/tls/constants.js"
import { decodeClientHello, decodeEncryptedExtensions, decodeServerHello, findExtension } from "../../src/internal/tls/messages.js"
import { decodeTransportParameters, type TransportParameters } from "../../src/internal/tls/transportParameters.js"
import { bytesEqual } from "../../src/internal/codec/bytes.js"
import { encodeRetry } from "../../src/internal/packet/retry.js"
import { backends } from "../helpers.js"
import {
  bothConnected,
  makeServer,
  CLIENT,
  connectionOf,
  headersOf,
  installEcho,
  keyLogger,
  LabDecryptor,
  type LabDatagram,
  type LabNetwork,
  type LabOptions,
  longHeaderVersions,
  makeLab,
  recordingTicketStore,
  sendText,
  SERVER,
  tlsMessages,
  WireDecoder
} from "../support/handshakeLab.js"
import { addressKey } from "../../src/internal/address.js"
import { QuicEndpoint } from "../../src/internal/endpoint.js"
import { endpointConfig } from "../support/link.js"
import { collectingFactory, readTrace } from "../qlog/support.js"

/** Rewrites the transport parameters one side encodes; undefined leaves them alone. */
const tamper = vi.hoisted(() => ({
  current: undefined as undefined | ((params: TransportParameters, role: "client" | "server") => TransportParameters)
}))

vi.mock("../../src/internal/tls/transportParameters.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../../src/internal/tls/transportParameters.js")>()
  return {
    ...actual,
    encodeTransportParameters: (params: TransportParameters, role: "client" | "server") =>
      actual.encodeTransportParameters(tamper.current?.(params, role) ?? params, role)
  }
})

const fromClient = (d: LabDatagram) => addressKey(d.from) === addressKey(CLIENT)
const fromServer = (d: LabDatagram) => addressKey(d.from) === addressKey(SERVER)

const V2_FIRST = { versions: [QUIC_V2.number, QUIC_V1.number] }

/** The two long-header type bits of a packet (RFC 9000 §17.2, RFC 9369 §3.2). */
const typeBits = (data: Uint8Array, header: PacketHeader): number => (data[header.start]! & 0x30) >> 4

const longHeaders = (data: Uint8Array): Array<LongHeader> => headersOf(data).filter((h): h is LongHeader => h.form === "long")

const connect = (lab: ReturnType<typeof makeLab>, limit = 2_000_000) => {
  const handle = lab.client.connect(lab.network.now, SERVER, "localhost")
  if (typeof handle !== "number") throw new Error(`connect failed: ${JSON.stringify(handle)}`)
  const ok = lab.network.run(bothConnected(lab.network), limit)
  if (ok) lab.network.runFor(300_000)
  return { handle, ok }
}

const serverHandleOf = (network: LabNetwork, nth = 0): number => {
  const event = network.eventsOf(SERVER).filter((e) => e._tag === "NewConnection")[nth]
  if (event === undefined) throw new Error("no NewConnection")
  return event.connection
}

const echo = (lab: ReturnType<typeof makeLab>, handle: number, text: string) => {
  const state = installEcho(lab.network, lab.client)
  const stream = sendText(lab.network, lab.client, handle, text)
  lab.network.run(() => state.replies.get(stream)?.finished === true, 2_000_000)
  return state.replies.get(stream)
}

/** The server's transport parameters, from its EncryptedExtensions. */
const serverParameters = (decryptor: LabDecryptor, wire: ReadonlyArray<LabDatagram>): TransportParameters => {
  const ee = decodeEncryptedExtensions(tlsMessages(decryptor, wire, "handshake", "server")[0]!.body)
  if (isTlsAlert(ee)) throw new Error(ee.reason)
  const params = decodeTransportParameters(findExtension(ee.extensions, ExtensionType.quic_transport_parameters)!, "server")
  if (isTransportError(params)) throw new Error(params.reason)
  return params
}

/** The client's transport parameters, from its (last) ClientHello. */
const clientParameters = (decryptor: LabDecryptor, wire: ReadonlyArray<LabDatagram>): TransportParameters => {
  const hellos = tlsMessages(decryptor, wire, "initial", "client").filter((m) => m.type === HandshakeType.client_hello)
  const hello = decodeClientHello(hellos[hellos.length - 1]!.body)
  if (isTlsAlert(hello)) throw new Error(hello.reason)
  const params = decodeTransportParameters(findExtension(hello.extensions, ExtensionType.quic_transport_parameters)!, "client")
  if (isTransportError(params)) throw new Error(params.reason)
  return params
}

/** Position of an entry in the lab's timeline (sends and deliveries in the order they happened). */
const deliveredAt = (network: LabNetwork, datagram: LabDatagram): number =>
  network.timeline.findIndex((e) => e.kind === "deliver" && e.datagram === datagram)
const sentAt = (network: LabNetwork, datagram: LabDatagram): number =>
  network.timeline.findIndex((e) => e.kind === "send" && e.datagram === datagram)

const closeReasons = (events: ReadonlyArray<QuicEvent>) =>
  events.flatMap((e) => (e._tag === "ConnectionClosed" ? [e.reason] : []))

describe.each(backends)("compatible version negotiation on the %s backend", (_name, backend: CryptoBackend) => {
  /** A lab whose client logs its secrets, with one cipher suite so the decryptor knows it. */
  const lab = (options: LabOptions = {}) => {
    const log = keyLogger()
    const made = makeLab(backend, {
      ...options,
      client: { cipherSuites: [TLS_AES_128_GCM_SHA256], keyLog: log.keyLog, ...options.client }
    })
    return {
      ...made,
      log,
      decryptor: new LabDecryptor(backend, QUIC_V2, TLS_AES_128_GCM_SHA256, log),
      /** The endpoint at the server's address now (after any restart). */
      serverNow: () => made.network.endpointAt(SERVER)!
    }
  }

  /**
   * Every check of a connection moved from v1 to v2: the client's packets are
   * v1 until it hears from the server, everything the server sends is v2.
   */
  const expectMovedToV2 = (l: ReturnType<typeof lab>, handle: number) => {
    const { network } = l
    const serverHandle = serverHandleOf(network)
    expect(connectionOf(l.client, handle)!.version).toBe(QUIC_V2)
    expect(connectionOf(l.client, handle)!.originalVersion).toBe(QUIC_V1)
    expect(connectionOf(l.server, serverHandle)!.version).toBe(QUIC_V2)
    expect(l.client.version(handle)).toBe(QUIC_V2.number)
    expect(l.server.version(serverHandle)).toBe(QUIC_V2.number)

    const wire = network.wire
    // Every long header from the server is v2 (RFC 9369 §4.1: it starts sending
    // in the negotiated version as soon as it decides), and there are some of each kind.
    const serverLong = wire.filter(fromServer).flatMap((d) => longHeaders(d.data).map((h) => ({ d, h })))
    expect(serverLong.length).toBeGreaterThanOrEqual(2)
    expect(new Set(serverLong.map(({ h }) => h.version))).toEqual(new Set([QUIC_V2]))
    // RFC 9369 §3.2: v2 type bits, Initial 0b01 and Handshake 0b11.
    for (const { d, h } of serverLong) expect(typeBits(d.data, h)).toBe(h.type === "initial" ? 0b01 : h.type === "handshake" ? 0b11 : -1)
    expect(serverLong.some(({ h }) => h.type === "initial")).toBe(true)
    expect(serverLong.some(({ h }) => h.type === "handshake")).toBe(true)

    // The client: v1 until the server's first Initial reached it, v2 after.
    const firstAnswer = wire.find((d) => fromServer(d) && d.fate === "delivered" && longHeaders(d.data).length > 0)!
    const heard = deliveredAt(network, firstAnswer)
    const clientBefore = wire.filter((d) => fromClient(d) && sentAt(network, d) < heard)
    const clientAfter = wire.filter((d) => fromClient(d) && sentAt(network, d) > heard)
    expect(clientBefore.length).toBeGreaterThanOrEqual(1)
    for (const d of clientBefore) {
      for (const h of longHeaders(d.data)) {
        expect(h.version).toBe(QUIC_V1)
        expect(typeBits(d.data, h)).toBe(h.type === "initial" ? 0b00 : 0b01)
      }
    }
    const afterLong = clientAfter.flatMap((d) => longHeaders(d.data))
    expect(afterLong.length).toBeGreaterThanOrEqual(1)
    expect(new Set(afterLong.map((h) => h.version))).toEqual(new Set([QUIC_V2]))

    // RFC 9369 §3.3.1: the server's Initials open with the v2 salt applied to the DCID the
    // client's Initials carry (its first one, or a Retry's SCID), and not with v1's.
    const keyDcid = longHeaders(clientBefore[clientBefore.length - 1]!.data)[0]!.dcid
    const serverInitial = serverLong.find(({ h }) => h.type === "initial")!
    const decoder = new WireDecoder(backend)
    expect(decoder.open(initialKeys(backend, QUIC_V1, keyDcid).server, serverInitial.d.data, serverInitial.h, "v1")).toBeUndefined()
    const frames = decoder.open(initialKeys(backend, QUIC_V2, keyDcid).server, serverInitial.d.data, serverInitial.h, "v2")
    expect(frames).toBeDefined()

    // Handshake packets open with the v2 labels ("quicv2 key"); the server's flight is complete.
    expect(tlsMessages(l.decryptor, wire, "handshake", "server").map((m) => m.type)).toContain(HandshakeType.finished)
    const handshakeSecret = l.log.secret("SERVER_HANDSHAKE_TRAFFIC_SECRET")!
    const serverHandshake = serverLong.find(({ h }) => h.type === "handshake")!
    const v1Decoder = new WireDecoder(backend)
    expect(v1Decoder.framesWithSecret("handshake", TLS_AES_128_GCM_SHA256, QUIC_V1, handshakeSecret, serverHandshake.d.data)).toEqual([])
    expect(v1Decoder.framesWithSecret("handshake", TLS_AES_128_GCM_SHA256, QUIC_V2, handshakeSecret, serverHandshake.d.data).length)
      .toBeGreaterThan(0)
    // 1-RTT both ways under the v2 labels.
    const oneRtt = wire.flatMap((d) => l.decryptor.fresh().packets(d.from, d.data)).filter((p) => p.type === "1rtt")
    expect(oneRtt.length).toBeGreaterThan(0)

    // RFC 9368 §3: the client's chosen_version is the version it started in and lists v2;
    // the server's chosen_version is the negotiated one.
    const client = clientParameters(l.decryptor, wire)
    expect(client.versionInformation).toEqual({ chosenVersion: QUIC_V1.number, availableVersions: [QUIC_V1.number, QUIC_V2.number] })
    const server = serverParameters(l.decryptor, wire)
    expect(server.versionInformation).toEqual({ chosenVersion: QUIC_V2.number, availableVersions: [QUIC_V2.number, QUIC_V1.number] })
    return { server, serverHandle }
  }

  it("moves a v1 client that offers v2 to v2 when the server prefers v2: every server packet is v2, the client follows, a stream echoes", () => {
    const l = lab({ server: V2_FIRST })
    const { handle, ok } = connect(l)
    expect(ok).toBe(true)
    const { serverHandle } = expectMovedToV2(l, handle)
    // No packet was refused on either side on the way.
    expect(l.client.connectionStats(handle)!.packetsDropped).toBe(0)
    expect(l.server.connectionStats(serverHandle)!.packetsDropped).toBe(0)
    expect(echo(l, handle, "hello, moved to v2")).toEqual({ text: "hello, moved to v2", finished: true })
    // The echo's packets: the client's 1-RTT opens only with the v2 labels.
    const secret = l.log.secret("CLIENT_TRAFFIC_SECRET_0")!
    const last = l.network.wire.filter((d) => fromClient(d) && headersOf(d.data).every((h) => h.form === "short")).at(-1)!
    expect(new WireDecoder(backend).framesWithSecret("1rtt", TLS_AES_128_GCM_SHA256, QUIC_V1, secret, last.data)).toEqual([])
  })

  it.each([
    ["prefers v1", { versions: [QUIC_V1.number, QUIC_V2.number] }],
    ["speaks only v1", { versions: [QUIC_V1.number] }],
    ["has no preference (the default)", {}]
  ] as const)("keeps a v1 client that offers v2 in v1 when the server %s", (_what, server) => {
    const l = lab({ server })
    const { handle, ok } = connect(l)
    expect(ok).toBe(true)
    const serverHandle = serverHandleOf(l.network)
    expect(connectionOf(l.client, handle)!.version).toBe(QUIC_V1)
    expect(connectionOf(l.server, serverHandle)!.version).toBe(QUIC_V1)
    expect(new Set(l.network.wire.flatMap((d) => longHeaderVersions(d.data)))).toEqual(new Set([QUIC_V1.number]))
    const params = serverParameters(new LabDecryptor(backend, QUIC_V1, TLS_AES_128_GCM_SHA256, l.log), l.network.wire)
    expect(params.versionInformation?.chosenVersion).toBe(QUIC_V1.number)
    expect(echo(l, handle, "still v1")).toEqual({ text: "still v1", finished: true })
  })

  it("keeps a v2 client in v2 under a v2-first server, and moves it to v1 under a v1-first one", () => {
    const stay = lab({ server: V2_FIRST, client: { version: QUIC_V2.number } })
    expect(connect(stay).ok).toBe(true)
    expect(new Set(stay.network.wire.flatMap((d) => longHeaderVersions(d.data)))).toEqual(new Set([QUIC_V2.number]))

    const down = lab({ server: { versions: [QUIC_V1.number, QUIC_V2.number] }, client: { version: QUIC_V2.number } })
    const { handle, ok } = connect(down)
    expect(ok).toBe(true)
    expect(down.client.version(handle)).toBe(QUIC_V1.number)
    expect(new Set(down.network.wire.filter(fromServer).flatMap((d) => longHeaderVersions(d.data)))).toEqual(new Set([QUIC_V1.number]))
    expect(longHeaderVersions(down.network.wire[0]!.data)).toEqual([QUIC_V2.number])
    expect(echo(down, handle, "v2 to v1")).toEqual({ text: "v2 to v1", finished: true })
  })

  it.each([
    ["lists only v1 in version_information", (p: TransportParameters) => ({ ...p, versionInformation: { chosenVersion: QUIC_V1.number, availableVersions: [QUIC_V1.number] } })],
    ["sends no version_information (an RFC 9000 client)", (p: TransportParameters) => {
      const { versionInformation: _, ...rest } = p
      return rest
    }]
  ] as const)("keeps a client that %s in v1 under a v2-first server", (_what, rewrite) => {
    tamper.current = (params, role) => (role === "client" ? rewrite(params) : params)
    try {
      const l = lab({ server: V2_FIRST })
      const { handle, ok } = connect(l)
      expect(ok).toBe(true)
      expect(l.client.version(handle)).toBe(QUIC_V1.number)
      expect(l.server.version(serverHandleOf(l.network))).toBe(QUIC_V1.number)
      expect(new Set(l.network.wire.flatMap((d) => longHeaderVersions(d.data)))).toEqual(new Set([QUIC_V1.number]))
    } finally {
      tamper.current = undefined
    }
  })

  it("answers a client's Initial in a version it was configured not to speak with Version Negotiation listing its versions", () => {
    const l = lab({ server: { versions: [QUIC_V2.number] } })
    const handle = l.client.connect(l.network.now, SERVER, "localhost") as number
    l.network.run(() => false, 2_000_000)
    expect(l.network.eventsOf(CLIENT)).toEqual([
      { _tag: "ConnectionClosed", connection: handle, reason: { _tag: "VersionMismatch", serverVersions: [QUIC_V2.number] } }
    ])
    expect(l.server.connectionCount).toBe(0)
  })

  it("qlog: each side logs transport:version_information again with chosen_version v2 when it moves", () => {
    const { traces, factory } = collectingFactory()
    const l = lab({ server: V2_FIRST })
    const config = (role: "client" | "server", seed: number) =>
      ({ ...endpointConfig({ role, server: V2_FIRST, client: {}, transport: {}, seed }), qlog: factory })
    l.network.replace(SERVER, new QuicEndpoint(config("server", 11), SERVER, backend))
    const client = l.network.replace(CLIENT, new QuicEndpoint(config("client", 22), CLIENT, backend))
    client.connect(l.network.now, SERVER, "localhost")
    expect(l.network.run(bothConnected(l.network), 1_000_000)).toBe(true)
    const chosen = (side: "client" | "server") =>
      readTrace(traces.find((t) => t.info.side === side)!.records).events
        .filter((e) => e.name === "transport:version_information")
        .map((e) => e.data.chosen_version)
    expect(chosen("client")).toEqual(["00000001", "6b3343cf"])
    expect(chosen("server")).toEqual(["00000001", "6b3343cf"])
  })

  // ---- loss, coalescing, HelloRetryRequest, Retry, 0-RTT --------------------------------

  it("the client's first Initial lost: its retransmission (still v1) is moved to v2", () => {
    const l = lab({ server: V2_FIRST })
    l.network.drop = (d) => d.from.port === CLIENT.port && d.index === 0
    const { handle, ok } = connect(l)
    expect(ok).toBe(true)
    expect(l.network.between(CLIENT, SERVER)[0]!.fate).toBe("dropped")
    expectMovedToV2(l, handle)
    expect(echo(l, handle, "after a lost Initial")).toEqual({ text: "after a lost Initial", finished: true })
  })

  it("the server's first flight lost: the client's Initials that still come in v1 after the switch are read (original keys kept)", () => {
    const l = lab({ server: V2_FIRST })
    // Everything the server sends until the client has retransmitted its Initial is lost.
    let clientSent = 0
    l.network.drop = (d) => {
      if (d.from.port === CLIENT.port) clientSent++
      return d.from.port === SERVER.port && clientSent < 2
    }
    const { handle, ok } = connect(l)
    expect(ok).toBe(true)
    const fromClientWire = l.network.between(CLIENT, SERVER)
    // The client's retransmission was in v1 and reached the server after it had switched.
    expect(longHeaderVersions(fromClientWire[1]!.data).every((v) => v === QUIC_V1.number)).toBe(true)
    expectMovedToV2(l, handle)
    // The server opened it with the v1 keys it kept: its v2 Initial after that acknowledges packet 1.
    const retransmissionDelivered = deliveredAt(l.network, fromClientWire[1]!)
    const answer = l.network.wire.find((d) => fromServer(d) && sentAt(l.network, d) > retransmissionDelivered)!
    const dcid = longHeaders(fromClientWire[0]!.data)[0]!.dcid
    const acks = new WireDecoder(backend).initialFrames(QUIC_V2, dcid, "server", answer.data).filter((f) => f._tag === "Ack")
    expect(acks.length).toBeGreaterThan(0)
    // Ranges are flat [largest, smallest] pairs: packet 1 (the retransmission) is in one.
    const acked = (ranges: ReadonlyArray<number>, pn: number) => {
      for (let i = 0; i < ranges.length; i += 2) if (ranges[i + 1]! <= pn && pn <= ranges[i]!) return true
      return false
    }
    expect(acks.some((a) => a._tag === "Ack" && acked(a.ranges, 1))).toBe(true)
  })

  it("a ClientHello in two datagrams: the server answers the first in v1, switches on the whole ClientHello, and the client follows", () => {
    // Many long ALPN names make a ClientHello that does not fit one Initial.
    const alpn = Array.from({ length: 40 }, (_, i) => `protocol-${i.toString().padStart(3, "0")}-${"x".repeat(30)}`)
    const l = lab({ server: { ...V2_FIRST, alpn: [alpn[39]!] }, client: { alpn } })
    const { handle, ok } = connect(l)
    expect(ok).toBe(true)
    const clientFirst = l.network.between(CLIENT, SERVER)
    expect(clientFirst.length).toBeGreaterThanOrEqual(2)
    expect(l.client.version(handle)).toBe(QUIC_V2.number)
    // The server's datagrams: any in v1 come first (answers before the ClientHello was whole), then only v2.
    const versions = l.network.wire.filter(fromServer).flatMap((d) => longHeaderVersions(d.data))
    const firstV2 = versions.indexOf(QUIC_V2.number)
    expect(firstV2).toBeGreaterThanOrEqual(0)
    expect(versions.slice(firstV2).every((v) => v === QUIC_V2.number)).toBe(true)
    expect(versions.slice(0, firstV2).every((v) => v === QUIC_V1.number)).toBe(true)
    expect(echo(l, handle, "long hello")).toEqual({ text: "long hello", finished: true })
  })

  it("after a HelloRetryRequest in v1, the second ClientHello moves the connection to v2", () => {
    const l = lab({ server: { ...V2_FIRST, groups: ["secp256r1"] }, client: { groups: ["x25519", "secp256r1"] } })
    const { handle, ok } = connect(l)
    expect(ok).toBe(true)
    expect(l.client.version(handle)).toBe(QUIC_V2.number)
    const server = l.network.wire.filter(fromServer)
    // The HelloRetryRequest went before the server could read the client's parameters: v1.
    expect(longHeaderVersions(server[0]!.data)).toEqual([QUIC_V1.number])
    const hellos = tlsMessages(l.decryptor, l.network.wire, "initial", "server").filter((m) => m.type === HandshakeType.server_hello)
    expect(hellos).toHaveLength(2)
    const hrr = decodeServerHello(hellos[0]!.body)
    if (isTlsAlert(hrr)) throw new Error(hrr.reason)
    expect(bytesEqual(hrr.random, HELLO_RETRY_REQUEST_RANDOM)).toBe(true)
    // Everything after it is v2, and the client's second ClientHello was still v1.
    expect(new Set(server.slice(1).flatMap((d) => longHeaderVersions(d.data)))).toEqual(new Set([QUIC_V2.number]))
    expect(longHeaderVersions(l.network.between(CLIENT, SERVER)[1]!.data)[0]).toBe(QUIC_V1.number)
    expect(serverParameters(l.decryptor, l.network.wire).versionInformation?.chosenVersion).toBe(QUIC_V2.number)
    expect(echo(l, handle, "after HRR")).toEqual({ text: "after HRR", finished: true })
  })

  it("with Retry: the Retry and the token Initial are v1, the rest v2 with Initial keys from the Retry's SCID", () => {
    const l = lab({ server: { ...V2_FIRST, retry: true } })
    const { handle, ok } = connect(l)
    expect(ok).toBe(true)
    const wire = l.network.wire
    const retry = headersOf(wire[1]!.data)[0]!
    if (retry.form !== "retry") throw new Error("expected a Retry")
    // RFC 9369 §4.1: the Retry is in the original version, and so is the Initial that answers it.
    expect(retry.version).toBe(QUIC_V1)
    const tokenInitial = longHeaders(wire[2]!.data)[0]!
    expect(tokenInitial.version).toBe(QUIC_V1)
    expect(bytesEqual(tokenInitial.token, retry.token)).toBe(true)
    const { server } = expectMovedToV2(l, handle)
    // RFC 9368 §2.3 with RFC 9000 §7.3: the Retry is still authenticated after the switch.
    expect(server.retrySourceConnectionId).toEqual(retry.scid.slice())
    expect(bytesEqual(tokenInitial.dcid, retry.scid)).toBe(true)
    expect(echo(l, handle, "after a Retry")).toEqual({ text: "after a Retry", finished: true })
  })

  /** A first connection that leaves the client with tickets (and a NEW_TOKEN token), closed and drained. */
  const firstConnection = (options: LabOptions, store = recordingTicketStore()) => {
    const l = lab({ ...options, client: { ticketStore: store, earlyData: true, ...options.client } })
    const first = connect(l)
    expect(first.ok).toBe(true)
    l.client.closeConnection(l.network.now, first.handle, 0n, "done")
    l.network.runFor(2_000_000)
    expect(store.puts.length).toBeGreaterThan(0)
    return { l, store, firstVersion: l.network.wire.flatMap((d) => longHeaderVersions(d.data)).at(-1), mark: l.network.wire.length }
  }

  /** A second connection writing `text` at once (0-RTT when the ticket allows); runs until the echo is back. */
  const resume = (l: ReturnType<typeof lab>, text: string, nthServerConnection = 1) => {
    const state = installEcho(l.network, l.client)
    const handle = l.client.connect(l.network.now, SERVER, "localhost") as number
    const stream = sendText(l.network, l.client, handle, text)
    expect(l.network.run(() => state.replies.get(stream)?.finished === true, 1_000_000)).toBe(true)
    l.network.runFor(300_000)
    expect(state.replies.get(stream)).toEqual({ text, finished: true })
    return { handle, serverHandle: serverHandleOf(l.network, nthServerConnection) }
  }

  it("0-RTT with a ticket from a v1 connection stays v1 (RFC 9369 §4.1) and is accepted by a server that moves the rest to v2", () => {
    // The ticket comes from a v1 connection; the server then starts preferring v2 (same ticket key;
    // its events are logged apart from the first one's).
    const { l, mark } = firstConnection({})
    l.network.replace(SERVER, makeServer(backend, { server: V2_FIRST }))
    const { handle, serverHandle } = resume(l, "early, in v1", 0)
    expect(l.client.has0rtt(handle)).toBe(true)
    expect(l.client.accepted0rtt(handle)).toBe(true)
    expect(l.serverNow().accepted0rtt(serverHandle)).toBe(true)
    expect(l.client.resumed(handle)).toBe(true)
    expect(l.client.version(handle)).toBe(QUIC_V2.number)
    expect(l.serverNow().version(serverHandle)).toBe(QUIC_V2.number)

    const wire = l.network.wire.slice(mark)
    expect(longHeaderVersions(wire[0]!.data)[0]).toBe(QUIC_V1.number)
    const early = wire.filter(fromClient).flatMap((d) => longHeaders(d.data).filter((h) => h.type === "0rtt").map((h) => ({ d, h })))
    expect(early.length).toBeGreaterThan(0)
    for (const { d, h } of early) {
      expect(h.version).toBe(QUIC_V1)
      expect(typeBits(d.data, h)).toBe(0b01)
    }
    // They open with the v1 labels only, and carry the stream's FIN.
    const secret = l.log.secret("CLIENT_EARLY_TRAFFIC_SECRET")!
    const v1Frames = early.flatMap(({ d }) => new WireDecoder(backend).framesWithSecret("0rtt", TLS_AES_128_GCM_SHA256, QUIC_V1, secret, d.data))
    expect(v1Frames.some((f) => f._tag === "Stream" && f.fin)).toBe(true)
    expect(new WireDecoder(backend).framesWithSecret("0rtt", TLS_AES_128_GCM_SHA256, QUIC_V2, secret, early[0]!.d.data)).toEqual([])
    // The server's packets of this connection are all v2.
    expect(new Set(wire.filter(fromServer).flatMap((d) => longHeaderVersions(d.data)))).toEqual(new Set([QUIC_V2.number]))
  })

  it("RFC 9369 §5: a client resuming with a ticket from a connection moved to v2 starts in v2, its 0-RTT and NEW_TOKEN token with it", () => {
    const { l, mark, firstVersion } = firstConnection({ server: { ...V2_FIRST, retry: true } })
    expect(firstVersion).toBe(QUIC_V2.number)
    const { handle, serverHandle } = resume(l, "early, in v2")
    expect(l.client.resumed(handle)).toBe(true)
    expect(l.client.accepted0rtt(handle)).toBe(true)
    expect(l.serverNow().version(serverHandle)).toBe(QUIC_V2.number)
    const wire = l.network.wire.slice(mark)
    // No switch this time: every long header is v2 from the first Initial on, 0-RTT included.
    expect(new Set(wire.flatMap((d) => longHeaderVersions(d.data)))).toEqual(new Set([QUIC_V2.number]))
    expect(wire.some((d) => longHeaders(d.data).some((h) => h.type === "0rtt"))).toBe(true)
    // The NEW_TOKEN token of the v2 connection validated the address: no Retry.
    expect(wire.some((d) => headersOf(d.data).some((h) => h.form === "retry"))).toBe(false)
    expect(longHeaders(wire[0]!.data)[0]!.token.length).toBeGreaterThan(0)
  })

  it("RFC 9369 §5: a ticket and a token of a v2 connection are not taken in a v1 connection (full handshake, Retry)", () => {
    // A ticket store that forgets which version a ticket came from, as one written before RFC 9369 might:
    // the client then starts in its configured v1 with a ticket and token of the v2 connection.
    const inner = recordingTicketStore()
    const forgetful = {
      puts: inner.puts,
      get takes() {
        return inner.takes
      },
      take: (name: string, at: number) => {
        const ticket = inner.take(name, at)
        return ticket === undefined ? undefined : { ...ticket, quicVersion: undefined }
      },
      put: (ticket: Parameters<typeof inner.put>[0]) => inner.put(ticket)
    }
    const { l, mark, firstVersion } = firstConnection({ server: { ...V2_FIRST, retry: true } }, forgetful as never)
    expect(firstVersion).toBe(QUIC_V2.number)
    // The client keeps the token for v2 only; here it is offered in v1 all the same.
    const tokens = (l.client as unknown as { clientTokens: Map<string, { token: Uint8Array; version: number }> }).clientTokens
    const saved = tokens.get("localhost")!
    expect(saved.version).toBe(QUIC_V2.number)
    tokens.set("localhost", { token: saved.token, version: QUIC_V1.number })
    const { handle, serverHandle } = resume(l, "not early")
    const wire = l.network.wire.slice(mark)
    expect(longHeaders(wire[0]!.data)[0]!.version).toBe(QUIC_V1)
    expect(longHeaders(wire[0]!.data)[0]!.token.length).toBeGreaterThan(0)
    // The token did not open under v1: the server sent a Retry.
    expect(wire.some((d) => headersOf(d.data).some((h) => h.form === "retry"))).toBe(true)
    // The ticket did not open under v1: a full handshake, the 0-RTT data resent in 1-RTT.
    expect(l.client.resumed(handle)).toBe(false)
    expect(l.client.accepted0rtt(handle)).toBe(false)
    expect(l.serverNow().accepted0rtt(serverHandle)).toBe(false)
    expect(l.network.eventsOf(CLIENT).some((e) => e._tag === "ZeroRttRejected")).toBe(true)
    // And the connection was moved to v2 all the same.
    expect(l.client.version(handle)).toBe(QUIC_V2.number)
  })

  // ---- downgrade prevention (RFC 9368 §4) ----------------------------------------------

  const expectVersionNegotiationError = (l: ReturnType<typeof lab>, closer: "client" | "server") => {
    l.network.run(() => false, 5_000_000)
    const closedBy = closeReasons(l.network.eventsOf(closer === "client" ? CLIENT : SERVER))
    const closedAt = closeReasons(l.network.eventsOf(closer === "client" ? SERVER : CLIENT))
    expect(closedBy).toEqual([expect.objectContaining({ _tag: "TransportError", code: TransportErrorCode.VERSION_NEGOTIATION_ERROR, remote: false })])
    expect(closedAt).toEqual([expect.objectContaining({ _tag: "TransportError", code: 0x11, remote: true })])
    expect(l.network.eventsOf(CLIENT).some((e) => e._tag === "Connected")).toBe(false)
  }

  const withTamper = (rewrite: NonNullable<typeof tamper.current>, body: () => void) => {
    tamper.current = rewrite
    try {
      body()
    } finally {
      tamper.current = undefined
    }
  }

  const setChosen = (p: TransportParameters, chosen: QuicVersion): TransportParameters => ({
    ...p,
    versionInformation: { chosenVersion: chosen.number, availableVersions: p.versionInformation!.availableVersions }
  })

  it("a server that moved to v2 but names v1 as its chosen_version: the client closes with VERSION_NEGOTIATION_ERROR", () => {
    withTamper((p, role) => (role === "server" && p.versionInformation?.chosenVersion === QUIC_V2.number ? setChosen(p, QUIC_V1) : p), () => {
      const l = lab({ server: V2_FIRST })
      l.client.connect(l.network.now, SERVER, "localhost")
      expectVersionNegotiationError(l, "client")
    })
  })

  it("a server in v1 that names v2 as its chosen_version: the client closes with VERSION_NEGOTIATION_ERROR", () => {
    withTamper((p, role) => (role === "server" ? setChosen(p, QUIC_V2) : p), () => {
      const l = lab()
      l.client.connect(l.network.now, SERVER, "localhost")
      expectVersionNegotiationError(l, "client")
    })
  })

  it("a server that moved to v2 without version_information: the client closes with VERSION_NEGOTIATION_ERROR", () => {
    withTamper((p, role) => {
      if (role !== "server" || p.versionInformation?.chosenVersion !== QUIC_V2.number) return p
      const { versionInformation: _, ...rest } = p
      return rest
    }, () => {
      const l = lab({ server: V2_FIRST })
      l.client.connect(l.network.now, SERVER, "localhost")
      expectVersionNegotiationError(l, "client")
    })
  })

  it("a client whose chosen_version is not the version of its Initial: the server closes with VERSION_NEGOTIATION_ERROR", () => {
    withTamper((p, role) => (role === "client" ? setChosen(p, QUIC_V2) : p), () => {
      const l = lab({ server: V2_FIRST })
      l.client.connect(l.network.now, SERVER, "localhost")
      expectVersionNegotiationError(l, "server")
      // The server refused before it switched: its close went out in v1.
      expect(new Set(l.network.wire.filter(fromServer).flatMap((d) => longHeaderVersions(d.data)))).toEqual(new Set([QUIC_V1.number]))
    })
  })

  it("a server on its own (no negotiation configured) still checks the client's chosen_version", () => {
    withTamper((p, role) => (role === "client" ? setChosen(p, QUIC_V2) : p), () => {
      const l = lab()
      l.client.connect(l.network.now, SERVER, "localhost")
      expectVersionNegotiationError(l, "server")
    })
  })

  it("the client ignores a Retry in another version than its own", () => {
    const l = lab({ server: { retry: true } })
    const handle = l.client.connect(l.network.now, SERVER, "localhost") as number
    // Each Retry is replaced by the same Retry in v2, with a valid v2 integrity tag.
    let originalDcid = new Uint8Array(0)
    let forged = 0
    l.network.drop = (d) => {
      if (d.from.port === CLIENT.port && d.index === 0) originalDcid = longHeaders(d.data)[0]!.dcid.slice()
      const retry = d.packets[0]
      if (retry?.form !== "retry" || retry.version !== QUIC_V1) return false
      forged++
      l.network.send(SERVER, CLIENT, encodeRetry(backend, QUIC_V2, retry.dcid, retry.scid, retry.token, originalDcid, 0))
      return true
    }
    l.network.run(() => false, 1_000_000)
    expect(forged).toBeGreaterThanOrEqual(1)
    expect(connectionOf(l.client, handle)!.stats().packetsDropped).toBeGreaterThanOrEqual(forged)
    // The client never acted on one: its Initials carry no token and still go to its first DCID.
    for (const d of l.network.between(CLIENT, SERVER)) {
      for (const h of longHeaders(d.data)) {
        expect(h.token.length).toBe(0)
        expect(bytesEqual(h.dcid, originalDcid)).toBe(true)
      }
    }
  })
})

