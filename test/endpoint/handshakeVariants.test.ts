/**
 * Handshake variants of the sans-IO endpoint (RFC 9000, RFC 9001, RFC 9369):
 * every cipher suite and key-exchange group, HelloRetryRequest, Retry,
 * Version Negotiation, QUIC v2, resumption and 0-RTT — each checked on the
 * wire (decrypted with the Initial keys and the NSS key log) and by the exact
 * events both endpoints report.
 */
import { describe, expect, it } from "vitest"
import type { CryptoBackend, NamedGroup } from "../../src/internal/crypto/backend.js"
import { initialKeys } from "../../src/internal/crypto/initial.js"
import { type CipherSuite, cipherSuites, TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256 } from "../../src/internal/crypto/suite.js"
import type { QuicEvent } from "../../src/internal/events.js"
import { isPacketDropped } from "../../src/internal/packet/dropped.js"
import { encodeVersionNegotiation, parsePacketHeader } from "../../src/internal/packet/header.js"
import { verifyRetryIntegrity } from "../../src/internal/packet/retry.js"
import { QUIC_V1, QUIC_V2, type QuicVersion } from "../../src/internal/packet/version.js"
import { ExtensionType, HandshakeType, HELLO_RETRY_REQUEST_RANDOM, NamedGroupCode } from "../../src/internal/tls/constants.js"
import { decodeKeyShareServer, decodeKeyShareHelloRetry } from "../../src/internal/tls/extensions.js"
import { bytesEqual } from "../../src/internal/codec/bytes.js"
import { decodeEncryptedExtensions, decodeServerHello, findExtension, type ServerHello } from "../../src/internal/tls/messages.js"
import { decodeTransportParameters } from "../../src/internal/tls/transportParameters.js"
import { isTlsAlert } from "../../src/internal/tls/alert.js"
import { isTransportError } from "../../src/internal/errors.js"
import { backends } from "../helpers.js"
import {
  bothConnected,
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
  makeServer,
  packetKinds,
  recordingTicketStore,
  sendText,
  SERVER,
  tlsMessages,
  WireDecoder
} from "../support/handshakeLab.js"
import { addressKey } from "../../src/internal/address.js"

const fromClient = (d: LabDatagram) => addressKey(d.from) === addressKey(CLIENT)
const fromServer = (d: LabDatagram) => addressKey(d.from) === addressKey(SERVER)

/** The events of an endpoint with StreamsAvailable taken out (checked on their own: their timing is not part of these tests). */
const withoutStreamsAvailable = (events: ReadonlyArray<QuicEvent>) => events.filter((e) => e._tag !== "StreamsAvailable")

/** StreamsAvailable was reported exactly once per direction for `connection`. */
const expectStreamsAvailableOnce = (events: ReadonlyArray<QuicEvent>, connection: number) => {
  const available = events.filter((e) => e._tag === "StreamsAvailable")
  expect(available).toHaveLength(2)
  expect(available).toEqual(
    expect.arrayContaining([
      { _tag: "StreamsAvailable", connection, bidi: true },
      { _tag: "StreamsAvailable", connection, bidi: false }
    ])
  )
}

/** The handshake every successful connection reports: exactly these events, in this order. */
const expectCleanHandshake = (network: LabNetwork, clientHandle: number, serverHandle: number) => {
  const client = network.eventsOf(CLIENT)
  const server = network.eventsOf(SERVER)
  expect(withoutStreamsAvailable(client)).toEqual([
    { _tag: "HandshakeDataReady", connection: clientHandle },
    { _tag: "Connected", connection: clientHandle }
  ])
  expect(withoutStreamsAvailable(server)).toEqual([
    { _tag: "NewConnection", connection: serverHandle, remote: CLIENT },
    { _tag: "HandshakeDataReady", connection: serverHandle },
    { _tag: "Connected", connection: serverHandle }
  ])
  expectStreamsAvailableOnce(client, clientHandle)
  expectStreamsAvailableOnce(server, serverHandle)
}

/**
 * The client's events of a 0-RTT connection with one echo exchange: exactly
 * `handshake` up to Connected, then our FIN acknowledged once
 * (StreamFinished) and the echo readable (once per packet that brought some
 * of it), nothing else.
 */
const expectClientStreamPhase = (events: ReadonlyArray<QuicEvent>, handle: number, stream: number, handshake: ReadonlyArray<QuicEvent>) => {
  const list = withoutStreamsAvailable(events)
  const connected = list.findIndex((e) => e._tag === "Connected")
  expect(list.slice(0, connected + 1)).toEqual(handshake)
  const after = list.slice(connected + 1)
  expect(after.filter((e) => e._tag === "StreamFinished")).toEqual([{ _tag: "StreamFinished", connection: handle, stream }])
  const readable = after.filter((e) => e._tag === "StreamReadable")
  expect(readable.length).toBeGreaterThanOrEqual(1)
  expect(new Set(readable.map((e) => JSON.stringify(e)))).toEqual(new Set([JSON.stringify({ _tag: "StreamReadable", connection: handle, stream })]))
  expect(after).toHaveLength(1 + readable.length)
  // The remembered limits (0-RTT) are announced at connect, both directions; a later
  // MAX_STREAMS, once our stream is done, may raise the bidirectional limit again.
  expect(events.slice(0, 2)).toEqual(
    expect.arrayContaining([
      { _tag: "StreamsAvailable", connection: handle, bidi: true },
      { _tag: "StreamsAvailable", connection: handle, bidi: false }
    ])
  )
  for (const e of events.slice(2).filter((e) => e._tag === "StreamsAvailable")) {
    expect(e).toEqual({ _tag: "StreamsAvailable", connection: handle, bidi: true })
  }
}

/** Connects and runs until both sides are connected (bounded), then lets post-handshake traffic settle. */
const connect = (lab: ReturnType<typeof makeLab>, settle = 300_000, limit = 1_000_000) => {
  const start = lab.network.now
  const handle = lab.client.connect(lab.network.now, SERVER, "localhost")
  if (typeof handle !== "number") throw new Error(`connect failed: ${JSON.stringify(handle)}`)
  const ok = lab.network.run(bothConnected(lab.network), limit)
  const connectedAt = lab.network.now
  if (ok) lab.network.runFor(settle)
  return { handle, ok, start, connectedAt }
}

const serverHandleOf = (network: LabNetwork, nth = 0): number => {
  const event = network.eventsOf(SERVER).filter((e) => e._tag === "NewConnection")[nth]
  if (event === undefined) throw new Error("no NewConnection")
  return event.connection
}

/** Sends `text` on a new stream and runs until the echo is back. */
const echo = (lab: ReturnType<typeof makeLab>, handle: number, text: string) => {
  const state = installEcho(lab.network, lab.client)
  const stream = sendText(lab.network, lab.client, handle, text)
  const ok = lab.network.run(() => state.replies.get(stream)?.finished === true, 2_000_000)
  return { ok, stream, state }
}

/** The ServerHello of the server's first Initial packets (after any Retry). */
const serverHelloOf = (decryptor: LabDecryptor, wire: ReadonlyArray<LabDatagram>): ServerHello => {
  const messages = tlsMessages(decryptor, wire, "initial", "server").filter((m) => m.type === HandshakeType.server_hello)
  const hello = decodeServerHello(messages[messages.length - 1]!.body)
  if (isTlsAlert(hello)) throw new Error(hello.reason)
  return hello
}

const groupOf = (hello: ServerHello): number => {
  const share = decodeKeyShareServer(findExtension(hello.extensions, ExtensionType.key_share)!)
  if (isTlsAlert(share)) throw new Error(share.reason)
  return share.group
}

const groups: ReadonlyArray<NamedGroup> = ["x25519", "secp256r1"]

describe.each(backends)("handshake variants on the %s backend", (_name, backend: CryptoBackend) => {
  // ---- 1. cipher suites × groups ------------------------------------------------

  describe.each(cipherSuites.map((s) => [s.name, s] as const))("with %s", (_suiteName, suite: CipherSuite) => {
    it.each(groups)("negotiates it over %s, on the wire and in both endpoints, and carries 1-RTT data", (group) => {
      const log = keyLogger()
      const lab = makeLab(backend, { client: { cipherSuites: [suite], groups: [group], keyLog: log.keyLog } })
      const { handle, ok, start, connectedAt } = connect(lab)
      expect(ok).toBe(true)
      // One round trip of 20 ms for the Initial exchange, one for the client's Finished.
      expect(connectedAt - start).toBe(30_000)
      const serverHandle = serverHandleOf(lab.network)
      expectCleanHandshake(lab.network, handle, serverHandle)

      // The wire: the ServerHello picks the only suite and group offered, with no HelloRetryRequest.
      const decryptor = new LabDecryptor(backend, QUIC_V1, suite, log)
      const hello = serverHelloOf(decryptor, lab.network.wire)
      expect(bytesEqual(hello.random, HELLO_RETRY_REQUEST_RANDOM)).toBe(false)
      expect(hello.cipherSuite).toBe(suite.code)
      expect(groupOf(hello)).toBe(NamedGroupCode[group as keyof typeof NamedGroupCode])
      expect(tlsMessages(decryptor, lab.network.wire, "initial", "server").map((m) => m.type)).toEqual([HandshakeType.server_hello])
      // EncryptedExtensions, Certificate, CertificateVerify, Finished under the suite's Handshake keys.
      expect(tlsMessages(decryptor, lab.network.wire, "handshake", "server").map((m) => m.type)).toEqual([
        HandshakeType.encrypted_extensions,
        HandshakeType.certificate,
        HandshakeType.certificate_verify,
        HandshakeType.finished
      ])
      expect(tlsMessages(decryptor, lab.network.wire, "handshake", "client").map((m) => m.type)).toEqual([HandshakeType.finished])
      // The secrets have the suite's hash length (48 bytes for SHA-384).
      expect(log.secret("CLIENT_TRAFFIC_SECRET_0")!.length).toBe(suite.hash === "sha384" ? 48 : 32)

      expect(connectionOf(lab.client, handle)!.cipherSuite).toBe(suite)
      expect(connectionOf(lab.server, serverHandle)!.cipherSuite).toBe(suite)
      expect(lab.client.alpn(handle)).toBe("test")
      expect(lab.server.alpn(serverHandle)).toBe("test")

      // 1-RTT packets protected with the suite's AEAD and header protection carry data both ways.
      const { ok: echoed, stream, state } = echo(lab, handle, `over ${suite.name}/${group}`)
      expect(echoed).toBe(true)
      expect(state.replies.get(stream)).toEqual({ text: `over ${suite.name}/${group}`, finished: true })
      expect(state.serverReads.get(`${serverHandle}/${stream}`)).toEqual({
        text: `over ${suite.name}/${group}`,
        finished: true,
        connectedBeforeFin: true
      })
      // Every 1-RTT packet from the client opens with the suite's keys.
      const oneRtt = lab.network.wire.filter(fromClient).flatMap((d) => decryptor.packets(d.from, d.data)).filter((p) => p.type === "1rtt")
      expect(oneRtt.length).toBeGreaterThan(0)
      expect(oneRtt.every((p) => p.frames !== undefined)).toBe(true)
      expect(lab.network.eventsOf(CLIENT).some((e) => e._tag === "ConnectionClosed")).toBe(false)
      expect(lab.network.eventsOf(SERVER).some((e) => e._tag === "ConnectionClosed")).toBe(false)
    })
  })

  it("answers a key share for a group the server does not take with a HelloRetryRequest, then completes over the other group", () => {
    const log = keyLogger()
    const lab = makeLab(backend, {
      client: { groups: ["x25519", "secp256r1"], cipherSuites: [TLS_AES_128_GCM_SHA256], keyLog: log.keyLog },
      server: { groups: ["secp256r1"] }
    })
    const { handle, ok, start, connectedAt } = connect(lab)
    expect(ok).toBe(true)
    // One extra round trip for the second ClientHello.
    expect(connectedAt - start).toBe(50_000)
    expectCleanHandshake(lab.network, handle, serverHandleOf(lab.network))
    const decryptor = new LabDecryptor(backend, QUIC_V1, TLS_AES_128_GCM_SHA256, log)
    const serverInitial = tlsMessages(decryptor, lab.network.wire, "initial", "server")
    expect(serverInitial.map((m) => m.type)).toEqual([HandshakeType.server_hello, HandshakeType.server_hello])
    const retryRequest = decodeServerHello(serverInitial[0]!.body)
    if (isTlsAlert(retryRequest)) throw new Error(retryRequest.reason)
    expect(bytesEqual(retryRequest.random, HELLO_RETRY_REQUEST_RANDOM)).toBe(true)
    expect(decodeKeyShareHelloRetry(findExtension(retryRequest.extensions, ExtensionType.key_share)!)).toBe(NamedGroupCode.secp256r1)
    const hello = decodeServerHello(serverInitial[1]!.body)
    if (isTlsAlert(hello)) throw new Error(hello.reason)
    expect(groupOf(hello)).toBe(NamedGroupCode.secp256r1)
    expect(tlsMessages(decryptor, lab.network.wire, "initial", "client").map((m) => m.type)).toEqual([
      HandshakeType.client_hello,
      HandshakeType.client_hello
    ])
  })

  it("closes both sides with CRYPTO_ERROR handshake_failure (0x128) when no cipher suite is shared", () => {
    const lab = makeLab(backend, {
      client: { cipherSuites: [TLS_AES_128_GCM_SHA256] },
      server: { cipherSuites: [TLS_CHACHA20_POLY1305_SHA256] }
    })
    const handle = lab.client.connect(lab.network.now, SERVER, "localhost") as number
    // Long enough for both sides to leave the closing and draining states (3 PTOs).
    lab.network.run(() => false, 10_000_000)
    const serverHandle = serverHandleOf(lab.network)
    expect(lab.network.eventsOf(CLIENT)).toEqual([
      { _tag: "ConnectionClosed", connection: handle, reason: expect.objectContaining({ _tag: "TransportError", code: 0x128, remote: true }) }
    ])
    expect(lab.network.eventsOf(SERVER)).toEqual([
      { _tag: "NewConnection", connection: serverHandle, remote: CLIENT },
      { _tag: "ConnectionClosed", connection: serverHandle, reason: expect.objectContaining({ _tag: "TransportError", code: 0x128, remote: false }) }
    ])
    expect(lab.client.connectionCount).toBe(0)
    expect(lab.server.connectionCount).toBe(0)
  })

  // ---- 2. Retry --------------------------------------------------------------------

  describe.each([
    ["v1", QUIC_V1],
    ["v2", QUIC_V2]
  ] as const)("Retry under QUIC %s", (_v, version: QuicVersion) => {
    it("validates the client with exactly one Retry; the server's transport parameters carry retry_source_connection_id", () => {
      const log = keyLogger()
      const lab = makeLab(backend, {
        server: { retry: true },
        client: { version: version.number, cipherSuites: [TLS_AES_128_GCM_SHA256], keyLog: log.keyLog }
      })
      const { handle, ok, start, connectedAt } = connect(lab)
      expect(ok).toBe(true)
      // The Retry costs one round trip.
      expect(connectedAt - start).toBe(50_000)
      const serverHandle = serverHandleOf(lab.network)
      expectCleanHandshake(lab.network, handle, serverHandle)
      expect(lab.server.connectionCount).toBe(1)

      const wire = lab.network.wire
      const retries = wire.flatMap((d) => headersOf(d.data).filter((h) => h.form === "retry").map((h) => ({ d, h })))
      expect(retries).toHaveLength(1)
      const { d: retryDatagram, h: retry } = retries[0]!
      if (retry.form !== "retry") throw new Error("unreachable")
      expect(fromServer(retryDatagram)).toBe(true)
      // It answers the first client Initial, and nothing else came from the server before it.
      expect(wire[0]!.data.length).toBe(1200)
      expect(wire[1]).toBe(retryDatagram)
      expect(retry.version).toBe(version)
      const first = parsePacketHeader(wire[0]!.data, 0, 8)
      if (isPacketDropped(first) || first.form !== "long") throw new Error("first datagram is not an Initial")
      expect(first.token.length).toBe(0)
      // RFC 9000 §17.2.5.1: the Retry echoes the client's SCID and chooses a new SCID;
      // its integrity tag is computed over the original DCID (RFC 9001 §5.8, RFC 9369 §3.3.3).
      expect(bytesEqual(retry.dcid, first.scid)).toBe(true)
      expect(bytesEqual(retry.scid, first.dcid)).toBe(false)
      expect(verifyRetryIntegrity(backend, first.dcid, retryDatagram.data, retry)).toBe(true)
      // The client's next Initial goes to the Retry's SCID with the token.
      const second = parsePacketHeader(wire[2]!.data, 0, 8)
      if (isPacketDropped(second) || second.form !== "long") throw new Error("second client datagram is not an Initial")
      expect(fromClient(wire[2]!)).toBe(true)
      expect(second.type).toBe("initial")
      expect(bytesEqual(second.dcid, retry.scid)).toBe(true)
      expect(bytesEqual(second.token, retry.token)).toBe(true)
      expect(wire[2]!.data.length).toBe(1200)

      // The server's transport parameters (in EncryptedExtensions, opened with the key log).
      const decryptor = new LabDecryptor(backend, version, TLS_AES_128_GCM_SHA256, log)
      const handshake = tlsMessages(decryptor, wire, "handshake", "server")
      const ee = decodeEncryptedExtensions(handshake[0]!.body)
      if (isTlsAlert(ee)) throw new Error(ee.reason)
      const params = decodeTransportParameters(findExtension(ee.extensions, ExtensionType.quic_transport_parameters)!, "server")
      if (isTransportError(params)) throw new Error(params.reason)
      expect(params.retrySourceConnectionId).toEqual(retry.scid.slice())
      expect(params.originalDestinationConnectionId).toEqual(first.dcid.slice())
      // The Retry validated the address: the server sends its whole flight at once.
      expect(lab.network.between(SERVER, CLIENT).every((d) => d.fate === "delivered")).toBe(true)

      const { ok: echoed, stream, state } = echo(lab, handle, "after a Retry")
      expect(echoed).toBe(true)
      expect(state.replies.get(stream)).toEqual({ text: "after a Retry", finished: true })
    })
  })

  it("refuses a client Initial whose Retry token was sealed by another server key: no connection", () => {
    const lab = makeLab(backend, { server: { retry: true, secretKey: new Uint8Array(32).fill(7) } })
    const restarted = makeServer(backend, { server: { retry: true, secretKey: new Uint8Array(32).fill(9) } })
    // The server restarts with another key between its Retry and the client's answer.
    lab.network.drop = (d) => {
      if (addressKey(d.from) === addressKey(CLIENT) && d.index === 1) lab.network.replace(SERVER, restarted)
      return false
    }
    lab.client.connect(lab.network.now, SERVER, "localhost")
    // 20 s: the client keeps trying (PTOs at 1, 3, 7 and 15 s) and has not reached its idle timeout.
    lab.network.runFor(20_000_000)

    expect(lab.network.eventsOf(CLIENT)).toEqual([])
    expect(lab.network.eventsOf(SERVER)).toEqual([])
    expect(restarted.connectionCount).toBe(0)
    expect(lab.server.connectionCount).toBe(0)
    // Every client Initial after the first carries the first server's token, and the
    // restarted server answers each with a new Retry (it cannot open the token, so the
    // address is not validated: RFC 9000 §8.1.3); the client ignores them (§17.2.5.2: one Retry).
    const clientDatagrams = lab.network.between(CLIENT, SERVER)
    const serverDatagrams = lab.network.between(SERVER, CLIENT)
    expect(clientDatagrams.length).toBeGreaterThan(2)
    const tokens = clientDatagrams.slice(1).map((d) => {
      const h = parsePacketHeader(d.data, 0, 8)
      if (isPacketDropped(h) || h.form !== "long") throw new Error("not a long header")
      return h.token.slice()
    })
    const retryToken = (headersOf(serverDatagrams[0]!.data)[0] as { token: Uint8Array }).token.slice()
    for (const token of tokens) expect(token).toEqual(retryToken)
    expect(serverDatagrams.flatMap((d) => packetKinds(d.data))).toEqual(serverDatagrams.map(() => "retry"))
    expect(serverDatagrams).toHaveLength(clientDatagrams.length)
    // The first Initial and the retried one, then two probes per PTO.
    expect(clientDatagrams.map((d) => d.at - clientDatagrams[0]!.at)).toEqual([
      0,
      20_000,
      ...[1_019_000, 3_017_000, 7_013_000, 15_005_000].flatMap((t) => [t, t])
    ])
  })

  // ---- 3. Version Negotiation ----------------------------------------------------------

  it("a client on an unknown version gets Version Negotiation and ends with VersionMismatch listing the server's versions", () => {
    const lab = makeLab(backend, { client: { version: 0x1a2a3a4a } })
    const handle = lab.client.connect(lab.network.now, SERVER, "localhost") as number
    lab.network.run(() => false, 5_000_000)

    expect(lab.network.eventsOf(CLIENT)).toEqual([
      { _tag: "ConnectionClosed", connection: handle, reason: { _tag: "VersionMismatch", serverVersions: [QUIC_V1.number, QUIC_V2.number] } }
    ])
    expect(lab.network.eventsOf(SERVER)).toEqual([])
    expect(lab.client.connectionCount).toBe(0)
    expect(lab.server.connectionCount).toBe(0)
    const wire = lab.network.wire
    expect(wire).toHaveLength(2)
    expect(fromClient(wire[0]!)).toBe(true)
    expect(wire[0]!.data.length).toBeGreaterThanOrEqual(1200)
    expect(longHeaderVersions(wire[0]!.data)).toEqual([0x1a2a3a4a])
    const first = parsePacketHeader(wire[0]!.data, 0, 8)
    const vn = parsePacketHeader(wire[1]!.data, 0, 8)
    if (isPacketDropped(first) || first.form !== "unsupported-version") throw new Error("expected an unsupported-version Initial")
    if (isPacketDropped(vn) || vn.form !== "version-negotiation") throw new Error("expected Version Negotiation")
    expect(fromServer(wire[1]!)).toBe(true)
    expect(vn.versions).toEqual([QUIC_V1.number, QUIC_V2.number])
    // RFC 9000 §17.2.1: the CIDs are the client's, swapped.
    expect(bytesEqual(vn.dcid, first.scid)).toBe(true)
    expect(bytesEqual(vn.scid, first.dcid)).toBe(true)
  })

  describe("a server's answer to an unknown version", () => {
    const unknownVersionDatagram = (size: number): Uint8Array => {
      const d = new Uint8Array(size)
      d[0] = 0xc0
      d.set([0x1a, 0x2a, 0x3a, 0x4a], 1)
      d[5] = 8
      d.set([1, 2, 3, 4, 5, 6, 7, 8], 6)
      d[14] = 5
      d.set([9, 10, 11, 12, 13], 15)
      return d
    }

    it("is nothing for a datagram under 1200 bytes", () => {
      const server = makeServer(backend)
      server.handleDatagram(1_000_000, unknownVersionDatagram(1199), CLIENT)
      server.flush(1_000_000)
      expect(server.pollSend()).toBeUndefined()
      expect(server.pollEvent()).toBeUndefined()
      expect(server.droppedDatagrams).toBe(1)
      expect(server.connectionCount).toBe(0)
    })

    it("is one Version Negotiation packet for a datagram of 1200 bytes", () => {
      const server = makeServer(backend)
      server.handleDatagram(1_000_000, unknownVersionDatagram(1200), CLIENT)
      server.flush(1_000_000)
      const packet = server.pollSend()!
      expect(packet.destination).toEqual(CLIENT)
      expect(server.pollSend()).toBeUndefined()
      expect(server.pollEvent()).toBeUndefined()
      const vn = parsePacketHeader(packet.data, 0, 8)
      if (isPacketDropped(vn) || vn.form !== "version-negotiation") throw new Error("expected Version Negotiation")
      expect(packet.data[0]! & 0x80).toBe(0x80)
      expect(packet.data.subarray(1, 5)).toEqual(new Uint8Array(4))
      expect(vn.dcid).toEqual(new Uint8Array([9, 10, 11, 12, 13]))
      expect(vn.scid).toEqual(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))
      expect(vn.versions).toEqual([QUIC_V1.number, QUIC_V2.number])
      expect(server.connectionCount).toBe(0)
    })
  })

  it("ignores a Version Negotiation packet that lists the version it uses (RFC 9000 §6.2)", () => {
    const lab = makeLab(backend)
    const handle = lab.client.connect(lab.network.now, SERVER, "localhost") as number
    lab.network.pump(lab.client)
    const first = parsePacketHeader(lab.network.wire[0]!.data, 0, 8)
    if (isPacketDropped(first) || first.form !== "long") throw new Error("no Initial")
    // A forged VN arrives before the server's answer.
    lab.network.send(SERVER, CLIENT, encodeVersionNegotiation(first.scid, first.dcid, [QUIC_V2.number, QUIC_V1.number], 0))
    expect(lab.network.run(bothConnected(lab.network), 1_000_000)).toBe(true)
    lab.network.runFor(300_000)
    expectCleanHandshake(lab.network, handle, serverHandleOf(lab.network))
    expect(connectionOf(lab.client, handle)!.stats().packetsDropped).toBe(0)
  })

  it("ignores a Version Negotiation packet once the handshake is under way", () => {
    const lab = makeLab(backend)
    const { handle, ok } = connect(lab)
    expect(ok).toBe(true)
    const first = parsePacketHeader(lab.network.wire[0]!.data, 0, 8)
    if (isPacketDropped(first) || first.form !== "long") throw new Error("no Initial")
    lab.network.send(SERVER, CLIENT, encodeVersionNegotiation(first.scid, first.dcid, [0x0a0a0a0a], 0))
    lab.network.runFor(200_000)
    expectCleanHandshake(lab.network, handle, serverHandleOf(lab.network))
    expect(lab.client.connectionCount).toBe(1)
  })

  // ---- 4. QUIC v2 ------------------------------------------------------------------------

  it("runs QUIC v2 end to end: v2 long headers and keys on the wire, and a stream echo", () => {
    const log = keyLogger()
    const lab = makeLab(backend, { client: { version: QUIC_V2.number, cipherSuites: [TLS_AES_128_GCM_SHA256], keyLog: log.keyLog } })
    const { handle, ok, start, connectedAt } = connect(lab)
    expect(ok).toBe(true)
    expect(connectedAt - start).toBe(30_000)
    const serverHandle = serverHandleOf(lab.network)
    expectCleanHandshake(lab.network, handle, serverHandle)
    expect(connectionOf(lab.client, handle)!.version).toBe(QUIC_V2)
    expect(connectionOf(lab.server, serverHandle)!.version).toBe(QUIC_V2)

    const { ok: echoed, stream, state } = echo(lab, handle, "hello over v2")
    expect(echoed).toBe(true)
    expect(state.replies.get(stream)).toEqual({ text: "hello over v2", finished: true })

    const wire = lab.network.wire
    const versions = wire.flatMap((d) => longHeaderVersions(d.data))
    expect(versions.length).toBeGreaterThanOrEqual(4)
    expect(new Set(versions)).toEqual(new Set([QUIC_V2.number]))
    // RFC 9369 §3.2: a v2 Initial has type bits 0b01 (a v1 0-RTT), a v2 Handshake 0b11 (a v1 Retry).
    expect((wire[0]!.data[0]! & 0x30) >> 4).toBe(0b01)
    const serverFirst = wire.find(fromServer)!
    const headers = headersOf(serverFirst.data)
    expect(headers.map((h) => (h.form === "long" ? h.type : h.form))).toEqual(["initial", "handshake"])
    expect((serverFirst.data[headers[1]!.start]! & 0x30) >> 4).toBe(0b11)
    // RFC 9369 §3.3.1: Initial packets open only with the v2 salt.
    const first = headers[0]!
    const clientFirst = parsePacketHeader(wire[0]!.data, 0, 8)
    if (isPacketDropped(clientFirst) || clientFirst.form !== "long" || first.form !== "long") throw new Error("no Initial")
    const decoder = new WireDecoder(backend)
    expect(decoder.open(initialKeys(backend, QUIC_V1, clientFirst.dcid).client, wire[0]!.data, clientFirst, "v1")).toBeUndefined()
    const frames = decoder.open(initialKeys(backend, QUIC_V2, clientFirst.dcid).client, wire[0]!.data, clientFirst, "v2")
    expect(frames?.some((f) => f._tag === "Crypto")).toBe(true)
    // Handshake and 1-RTT packets use the v2 labels ("quicv2 key", …).
    const decryptor = new LabDecryptor(backend, QUIC_V2, TLS_AES_128_GCM_SHA256, log)
    expect(tlsMessages(decryptor, wire, "handshake", "server").map((m) => m.type)).toEqual([
      HandshakeType.encrypted_extensions,
      HandshakeType.certificate,
      HandshakeType.certificate_verify,
      HandshakeType.finished
    ])
    const oneRtt = wire.filter(fromClient).flatMap((d) => decryptor.packets(d.from, d.data)).filter((p) => p.type === "1rtt")
    expect(oneRtt.length).toBeGreaterThan(0)
    expect(oneRtt.every((p) => p.frames !== undefined)).toBe(true)
  })

  // ---- 5. Resumption and 0-RTT -------------------------------------------------------------

  /** A first connection that collects tickets, closed and drained; then the wire position for the second. */
  const firstConnection = (options: LabOptions) => {
    const tickets = recordingTicketStore()
    const log = keyLogger()
    const lab = makeLab(backend, { ...options, client: { ticketStore: tickets, keyLog: log.keyLog, cipherSuites: [TLS_AES_128_GCM_SHA256], ...options.client } })
    const { handle, ok } = connect(lab)
    expect(ok).toBe(true)
    lab.client.closeConnection(lab.network.now, handle, 0n, "done")
    lab.network.runFor(2_000_000)
    expect(lab.client.connectionCount).toBe(0)
    expect(lab.server.connectionCount).toBe(0)
    return { lab, tickets, log, firstHandle: handle, wireMark: lab.network.wire.length, eventMark: lab.network.eventsOf(CLIENT).length }
  }

  it("first connection receives the configured session tickets", () => {
    const { tickets } = firstConnection({ client: { earlyData: true } })
    expect(tickets.puts).toHaveLength(2)
    for (const ticket of tickets.puts) {
      expect(ticket.serverName).toBe("localhost")
      expect(ticket.alpn).toBe("test")
      expect(ticket.maxEarlyData).toBe(0xffffffff)
      expect(ticket.lifetime).toBe(3600)
      expect(ticket.suite).toBe(TLS_AES_128_GCM_SHA256)
      const params = decodeTransportParameters(ticket.transportParameters, "server")
      if (isTransportError(params)) throw new Error(params.reason)
      expect(params.initialMaxStreamsBidi).toBe(100)
    }
  })

  it("resumes with 0-RTT: stream data written right after connect arrives before the handshake completes", () => {
    const { lab, tickets, log, wireMark, eventMark } = firstConnection({ client: { earlyData: true } })
    const { network, client } = lab
    const state = installEcho(network, client)
    const handle = client.connect(network.now, SERVER, "localhost") as number
    expect(tickets.takes).toBe(2)
    expect(client.has0rtt(handle)).toBe(true)
    // The remembered limits allow a stream at once (RFC 9000 §7.4.1).
    const stream = sendText(network, client, handle, "hello 0-rtt")
    expect(stream).toBe(0)
    expect(network.run(() => state.replies.get(stream)?.finished === true, 1_000_000)).toBe(true)
    network.runFor(300_000)

    expect(client.accepted0rtt(handle)).toBe(true)
    const serverHandle = serverHandleOf(network, 1)
    expect(lab.server.accepted0rtt(serverHandle)).toBe(true)
    expect(state.replies.get(stream)).toEqual({ text: "hello 0-rtt", finished: true })
    // The server read everything, FIN included, before its handshake completed: it came in 0-RTT.
    expect(state.serverReads.get(`${serverHandle}/${stream}`)).toEqual({ text: "hello 0-rtt", finished: true, connectedBeforeFin: false })

    // The wire: the client's first flight is an Initial and 0-RTT packets, all before any server answer.
    const wire = network.wire.slice(wireMark)
    const firstAnswer = wire.findIndex(fromServer)
    const flight = wire.slice(0, firstAnswer)
    expect(flight.every(fromClient)).toBe(true)
    expect(flight[0]!.data.length).toBeGreaterThanOrEqual(1200)
    expect(packetKinds(flight[0]!.data)[0]).toBe("initial")
    const decryptor = new LabDecryptor(backend, QUIC_V1, TLS_AES_128_GCM_SHA256, log)
    const early = flight.flatMap((d) => decryptor.packets(d.from, d.data)).filter((p) => p.type === "0rtt")
    expect(early.length).toBeGreaterThan(0)
    const streamFrames = early.flatMap((p) => p.frames ?? []).filter((f) => f._tag === "Stream")
    expect(streamFrames.some((f) => f._tag === "Stream" && f.fin)).toBe(true)
    // Resumed: the ServerHello selects the PSK and the server sends no certificate.
    const hello = serverHelloOf(decryptor, wire)
    expect(findExtension(hello.extensions, ExtensionType.pre_shared_key)).toBeDefined()
    expect(tlsMessages(decryptor, wire, "handshake", "server").map((m) => m.type)).toEqual([
      HandshakeType.encrypted_extensions,
      HandshakeType.finished
    ])

    const clientEvents = network.eventsOf(CLIENT).slice(eventMark)
    expectClientStreamPhase(clientEvents, handle, stream, [
      { _tag: "HandshakeDataReady", connection: handle },
      { _tag: "Connected", connection: handle }
    ])

    // The server: the stream opens and is read to its FIN from 0-RTT before Connected;
    // one StreamReadable per 0-RTT packet that brought some of it.
    const serverEvents = withoutStreamsAvailable(network.eventsOf(SERVER).filter((e) => "connection" in e && e.connection === serverHandle))
    const readableEarly = serverEvents.filter((e, i) => e._tag === "StreamReadable" && i < serverEvents.findIndex((c) => c._tag === "Connected"))
    expect(readableEarly.length).toBeGreaterThanOrEqual(1)
    expect(serverEvents).toEqual([
      { _tag: "NewConnection", connection: serverHandle, remote: CLIENT },
      { _tag: "HandshakeDataReady", connection: serverHandle },
      { _tag: "StreamOpened", connection: serverHandle, stream, bidi: true },
      ...readableEarly.map(() => ({ _tag: "StreamReadable", connection: serverHandle, stream })),
      { _tag: "Connected", connection: serverHandle },
      { _tag: "StreamFinished", connection: serverHandle, stream }
    ])
  })

  it("0-RTT rejected by a restarted server (new ticket key): ZeroRttRejected, and the data still arrives in 1-RTT", () => {
    const { lab, log, wireMark, eventMark } = firstConnection({ client: { earlyData: true } })
    const { network, client } = lab
    const restarted = network.replace(SERVER, makeServer(backend, { server: { secretKey: new Uint8Array(32).fill(9) } }))
    const state = installEcho(network, client)
    const handle = client.connect(network.now, SERVER, "localhost") as number
    expect(client.has0rtt(handle)).toBe(true)
    const stream = sendText(network, client, handle, "hello 0-rtt")
    expect(network.run(() => state.replies.get(stream)?.finished === true, 2_000_000)).toBe(true)
    network.runFor(300_000)

    const serverHandle = serverHandleOf(network)
    expect(client.accepted0rtt(handle)).toBe(false)
    expect(restarted.accepted0rtt(serverHandle)).toBe(false)
    expect(state.replies.get(stream)).toEqual({ text: "hello 0-rtt", finished: true })
    // Nothing was taken from 0-RTT: the data was read after the handshake, from 1-RTT.
    expect(state.serverReads.get(`${serverHandle}/${stream}`)).toEqual({ text: "hello 0-rtt", finished: true, connectedBeforeFin: true })

    const clientEvents = network.eventsOf(CLIENT).slice(eventMark)
    expectClientStreamPhase(clientEvents, handle, stream, [
      { _tag: "HandshakeDataReady", connection: handle },
      { _tag: "ZeroRttRejected", connection: handle },
      { _tag: "Connected", connection: handle }
    ])
    const serverEvents = network.eventsOf(SERVER)
    expect(withoutStreamsAvailable(serverEvents).map((e) => e._tag)).toEqual([
      "NewConnection",
      "HandshakeDataReady",
      "Connected",
      "StreamOpened",
      "StreamReadable",
      "StreamFinished"
    ])

    // The client did send 0-RTT; the fresh server could not resume and made a full handshake.
    const wire = network.wire.slice(wireMark)
    expect(wire.filter(fromClient).some((d) => packetKinds(d.data).includes("0rtt"))).toBe(true)
    const decryptor = new LabDecryptor(backend, QUIC_V1, TLS_AES_128_GCM_SHA256, log)
    const hello = serverHelloOf(decryptor, wire)
    expect(findExtension(hello.extensions, ExtensionType.pre_shared_key)).toBeUndefined()
    expect(tlsMessages(decryptor, wire, "handshake", "server").map((m) => m.type)).toContain(HandshakeType.certificate)
    // The stream's bytes went again in 1-RTT packets.
    const oneRttStreams = wire
      .filter(fromClient)
      .flatMap((d) => decryptor.packets(d.from, d.data))
      .filter((p) => p.type === "1rtt")
      .flatMap((p) => p.frames ?? [])
      .filter((f) => f._tag === "Stream" && f.id === stream)
    expect(oneRttStreams.length).toBeGreaterThan(0)
  })

  it("resumes without 0-RTT when early data is off: no 0-RTT packets, streams wait for the handshake", () => {
    const { lab, log, wireMark, eventMark } = firstConnection({ client: { earlyData: false } })
    const { network, client } = lab
    const handle = client.connect(network.now, SERVER, "localhost") as number
    expect(client.has0rtt(handle)).toBe(false)
    // No remembered limits: no stream may be opened before the server's transport parameters.
    expect(client.openBi(network.now, handle)).toBeUndefined()
    const connected = () =>
      network.eventsOf(CLIENT).some((e) => e._tag === "Connected" && e.connection === handle) &&
      network.eventsOf(SERVER).filter((e) => e._tag === "Connected").length === 2
    expect(network.run(connected, 1_000_000)).toBe(true)
    network.runFor(300_000)
    expect(client.accepted0rtt(handle)).toBe(false)
    expect(withoutStreamsAvailable(network.eventsOf(CLIENT).slice(eventMark))).toEqual([
      { _tag: "HandshakeDataReady", connection: handle },
      { _tag: "Connected", connection: handle }
    ])
    expectStreamsAvailableOnce(network.eventsOf(CLIENT).slice(eventMark), handle)
    const wire = network.wire.slice(wireMark)
    expect(wire.some((d) => packetKinds(d.data).includes("0rtt"))).toBe(false)
    const decryptor = new LabDecryptor(backend, QUIC_V1, TLS_AES_128_GCM_SHA256, log)
    const hello = serverHelloOf(decryptor, wire)
    expect(findExtension(hello.extensions, ExtensionType.pre_shared_key)).toBeDefined()
    expect(tlsMessages(decryptor, wire, "handshake", "server").map((m) => m.type)).toEqual([
      HandshakeType.encrypted_extensions,
      HandshakeType.finished
    ])
  })
})

/** Regression test for the StreamsAvailable timing (see the report). */
describe("StreamsAvailable timing", () => {
  const [, backend] = backends[0]!
  it("is reported while the peer's transport parameters are processed, not at a later, unrelated ACK", () => {
    // ARCHITECTURE.md §1: StreamsAvailable fires when the peer's stream limit rises; the
    // limits rise from 0 when its transport parameters arrive (HandshakeDataReady).
    const lab = makeLab(backend)
    // Which delivery (or timer) each event came out of: the timeline length when it was polled.
    const batches: Array<{ address: string; event: QuicEvent; batch: number }> = []
    lab.network.onEvent = (endpoint, event) => {
      batches.push({ address: addressKey(endpoint.localAddress), event, batch: lab.network.timeline.length })
    }
    const { handle, ok } = connect(lab, 300_000)
    expect(ok).toBe(true)
    const serverHandle = serverHandleOf(lab.network)
    const batchOf = (address: typeof CLIENT, match: (e: QuicEvent) => boolean) =>
      batches.filter((b) => b.address === addressKey(address) && match(b.event)).map((b) => b.batch)
    for (const [address, connection] of [[CLIENT, handle], [SERVER, serverHandle]] as const) {
      const ready = batchOf(address, (e) => e._tag === "HandshakeDataReady")
      expect(ready).toHaveLength(1)
      expect(batchOf(address, (e) => e._tag === "StreamsAvailable" && e.connection === connection && e.bidi)).toEqual(ready)
      expect(batchOf(address, (e) => e._tag === "StreamsAvailable" && e.connection === connection && !e.bidi)).toEqual(ready)
    }
  })
})
