/**
 * The interop runner's checks (interop/checks.ts) over small hand-built
 * traces: for every check one trace that passes and at least one that fails
 * with the reason the runner would report.
 */
import { describe, expect, it } from "vitest"
import { handshakeCount, relayAgrees, type RelayRecord, runCheck, type Trace, withDecryptedTwins } from "../../interop/checks.js"
import { FrameType, type QuicPacket, type UdpDatagram } from "../../interop/tshark.js"

// ---- synthetic traces ----------------------------------------------------------

const SERVER_PORT = 4433
const PREFERRED_PORT = 4434
const RELAY_PORT = 5000
/** The relay's socket towards the server: the client's address as the server sees it. */
const RELAY_OUT = 50001
const CLIENT_PORT = 40000
const HOST = "127.0.0.1"
const QUIC_V1 = 0x00000001
const QUIC_V2 = 0x6b3343cf
const CLIENT_HELLO = 1
const SERVER_HELLO = 2
const CERTIFICATE = 11

const [PATH_CHALLENGE] = FrameType.PATH_CHALLENGE
const [CRYPTO] = FrameType.CRYPTO
const [ACK] = FrameType.ACK
const [STREAM] = FrameType.STREAM
const [CONNECTION_CLOSE] = FrameType.CONNECTION_CLOSE
const [MAX_STREAMS_BIDI] = FrameType.MAX_STREAMS
const MAX_DATA = 0x10
const MAX_STREAM_DATA = 0x11

let nextFrame = 1

type Fields = Partial<QuicPacket>

/** One decoded packet; a new datagram (frame) unless `frame` is given, as coalesced packets share one. */
const packet = (fields: Fields): QuicPacket => {
  const frame = fields.frame ?? nextFrame++
  return {
    time: frame / 1000,
    srcAddress: HOST,
    dstAddress: HOST,
    srcPort: 0,
    dstPort: 0,
    datagramBytes: 1200,
    payloadDigest: `datagram ${frame}`,
    header: fields.type === "1rtt" ? "short" : "long",
    type: "initial",
    decrypted: true,
    frameTypes: [],
    tlsMessages: [],
    closeCodes: [],
    cryptoOffsets: [],
    ...(fields.type === "1rtt" ? {} : { version: QUIC_V1 }),
    ...fields,
    frame
  }
}

/** Server leg: what the relay (the client's stand-in) sent the server. */
const toServer = (fields: Fields = {}) => packet({ srcPort: RELAY_OUT, dstPort: SERVER_PORT, ...fields })
/** Server leg: what the server sent towards the relay. */
const fromServer = (fields: Fields = {}) => packet({ srcPort: SERVER_PORT, dstPort: RELAY_OUT, ...fields })
/** Client leg: what the client sent the relay. */
const toRelay = (fields: Fields = {}) => packet({ srcPort: CLIENT_PORT, dstPort: RELAY_PORT, ...fields })
/** Client leg: what the relay sent the client. */
const fromRelay = (fields: Fields = {}) => packet({ srcPort: RELAY_PORT, dstPort: CLIENT_PORT, ...fields })
/** Preferred leg: the client straight to the server's preferred address, and back. */
const toPreferred = (fields: Fields = {}) => packet({ srcPort: CLIENT_PORT, dstPort: PREFERRED_PORT, ...fields })
const fromPreferred = (fields: Fields = {}) => packet({ srcPort: PREFERRED_PORT, dstPort: CLIENT_PORT, ...fields })

const trace = (parts: Partial<Trace> = {}): Trace => ({
  serverLeg: [],
  clientLeg: [],
  preferredLeg: [],
  preferredPort: PREFERRED_PORT,
  serverLegDatagrams: [],
  clientLegDatagrams: [],
  serverPort: SERVER_PORT,
  relayPort: RELAY_PORT,
  relayLog: [],
  ...parts
})

const oneRtt = (fields: Fields = {}): Fields => ({ type: "1rtt", frameTypes: [STREAM!, ACK!], ...fields })

// ---- handshakeCount --------------------------------------------------------------

describe("handshakeCount", () => {
  const hello = (random: string, fields: Fields = {}) =>
    toRelay({ frameTypes: [CRYPTO!], tlsMessages: [CLIENT_HELLO], clientRandom: random, ...fields })

  it("counts distinct ClientHello randoms the client sent", () => {
    expect(handshakeCount(trace({ clientLeg: [hello("aa"), fromRelay({ type: "handshake" }), hello("bb")] }))).toBe(2)
  })

  it("counts a retransmitted ClientHello (same random) once", () => {
    expect(handshakeCount(trace({ clientLeg: [hello("aa"), hello("aa"), hello("aa", { tokenLength: 16 })] }))).toBe(1)
  })

  it("counts only what the client sent towards the relay", () => {
    // A random seen only on the server leg (a corrupted copy, say) or coming back from the relay is not a handshake.
    const t = trace({
      clientLeg: [hello("aa"), fromRelay({ clientRandom: "cc", tlsMessages: [CLIENT_HELLO] })],
      serverLeg: [toServer({ clientRandom: "dd", tlsMessages: [CLIENT_HELLO] })]
    })
    expect(handshakeCount(t)).toBe(1)
  })

  it("is 0 without any ClientHello", () => {
    expect(handshakeCount(trace({ clientLeg: [toRelay({ frameTypes: [CRYPTO!] })] }))).toBe(0)
  })
})

// ---- retry -----------------------------------------------------------------------

describe("retry", () => {
  const initial = (pn: bigint, tokenLength?: number) =>
    toServer({ type: "initial", packetNumber: pn, frameTypes: [CRYPTO!], ...(tokenLength !== undefined ? { tokenLength } : {}) })
  const retry = () => fromServer({ type: "retry", datagramBytes: 60 })

  it("passes with a Retry, a token and a packet number that keeps increasing", () => {
    const t = trace({ serverLeg: [initial(0n, 0), retry(), initial(1n, 41), fromServer({ type: "initial", packetNumber: 0n })] })
    expect(runCheck("retry", t)).toEqual([])
  })

  it("fails without a Retry", () => {
    const t = trace({ serverLeg: [initial(0n, 0), fromServer({ type: "initial", packetNumber: 0n })] })
    expect(runCheck("retry", t)).toEqual(["the server sent no Retry"])
  })

  it("fails when the Initial after the Retry carries an empty token", () => {
    expect(runCheck("retry", trace({ serverLeg: [initial(0n, 0), retry(), initial(1n, 0)] })))
      .toEqual(["the client's Initial after the Retry carries no token"])
  })

  it("fails when the Initial after the Retry has no token field at all", () => {
    expect(runCheck("retry", trace({ serverLeg: [initial(0n, 0), retry(), initial(1n)] })))
      .toEqual(["the client's Initial after the Retry carries no token"])
  })

  it("fails when the client's packet number went back to 0 after the Retry", () => {
    expect(runCheck("retry", trace({ serverLeg: [initial(0n, 0), retry(), initial(0n, 41)] })))
      .toEqual(["the client's packet number went from 0 to 0 across the Retry"])
  })

  it("compares with the highest packet number before the Retry", () => {
    expect(runCheck("retry", trace({ serverLeg: [initial(0n, 0), initial(1n, 0), retry(), initial(1n, 41)] })))
      .toEqual(["the client's packet number went from 1 to 1 across the Retry"])
  })

  it("fails when no client Initial followed the Retry", () => {
    expect(runCheck("retry", trace({ serverLeg: [initial(0n, 0), retry()] })))
      .toEqual(["no client Initial followed the Retry"])
  })

  it("ignores a Retry-typed packet that did not come from the server", () => {
    const t = trace({ serverLeg: [initial(0n, 0), toServer({ type: "retry" }), initial(1n, 41)] })
    expect(runCheck("retry", t)).toEqual(["the server sent no Retry"])
  })
})

// ---- amplification ---------------------------------------------------------------

describe("amplification", () => {
  const clientInitial = (bytes = 1200) => toServer({ type: "initial", datagramBytes: bytes, frameTypes: [CRYPTO!] })
  const serverDatagram = (bytes: number) => fromServer({ type: "initial", datagramBytes: bytes, frameTypes: [CRYPTO!] })
  const clientHandshake = () => toServer({ type: "handshake", datagramBytes: 100, frameTypes: [ACK!] })

  it("passes when the server sent at most 3x what it received before validation", () => {
    const t = trace({ serverLeg: [clientInitial(), serverDatagram(1200), serverDatagram(1200), serverDatagram(1200)] })
    expect(runCheck("amplification", t)).toEqual([])
  })

  it("fails when the server sent 3756 bytes for 1200 received, naming both", () => {
    const t = trace({ serverLeg: [clientInitial(), serverDatagram(1252), serverDatagram(1252), serverDatagram(1252)] })
    const reasons = runCheck("amplification", t)
    expect(reasons).toEqual(["before address validation the server sent 3756 bytes for 1200 received"])
    expect(reasons[0]).toContain("3756")
    expect(reasons[0]).toContain("1200")
  })

  it("does not count what the server sent after the client's first Handshake packet", () => {
    const t = trace({
      serverLeg: [
        clientInitial(),
        serverDatagram(1200),
        serverDatagram(1200),
        serverDatagram(1200),
        clientHandshake(),
        ...Array.from({ length: 20 }, () => fromServer(oneRtt({ datagramBytes: 1400 })))
      ]
    })
    expect(runCheck("amplification", t)).toEqual([])
  })

  it("still fails when the excess came before the client's Handshake packet", () => {
    const t = trace({
      serverLeg: [clientInitial(), serverDatagram(1252), serverDatagram(1252), serverDatagram(1252), clientHandshake()]
    })
    expect(runCheck("amplification", t)).toEqual(["before address validation the server sent 3756 bytes for 1200 received"])
  })

  it("counts a datagram of coalesced packets once", () => {
    const coalesced = (bytes: number) => {
      const first = serverDatagram(bytes)
      return [first, fromServer({ type: "handshake", frame: first.frame, datagramBytes: bytes, frameTypes: [CRYPTO!] })]
    }
    const t = trace({ serverLeg: [clientInitial(), ...coalesced(1200), ...coalesced(1200), ...coalesced(1200)] })
    expect(runCheck("amplification", t)).toEqual([])
  })

  it("treats a client Handshake packet coalesced behind an Initial as validation", () => {
    const initial = clientInitial(1200)
    const t = trace({
      serverLeg: [
        clientInitial(400),
        serverDatagram(1200),
        initial,
        toServer({ type: "handshake", frame: initial.frame, datagramBytes: 1200, frameTypes: [ACK!] }),
        serverDatagram(1400)
      ]
    })
    expect(runCheck("amplification", t)).toEqual([])
  })

  it("fails when the server sent nothing before validation", () => {
    expect(runCheck("amplification", trace({ serverLeg: [clientInitial()] })))
      .toEqual(["the server sent nothing before address validation"])
  })
})

// ---- pathValidated ---------------------------------------------------------------

describe("pathValidated", () => {
  const NEW_PORT = 50002
  const onOldPath = (fields: Fields = {}) => toServer(oneRtt(fields))
  const onNewPath = (fields: Fields = {}) => toServer(oneRtt({ srcPort: NEW_PORT, ...fields }))
  const challengeTo = (port: number, address = HOST) =>
    fromServer({ type: "1rtt", dstAddress: address, dstPort: port, frameTypes: [PATH_CHALLENGE!] })

  it("passes when the server challenged the client's new address:port", () => {
    const t = trace({ serverLeg: [onOldPath(), fromServer(oneRtt()), onNewPath(), challengeTo(NEW_PORT), onNewPath()] })
    expect(runCheck("pathValidated", t)).toEqual([])
  })

  it("fails when the new path got no PATH_CHALLENGE", () => {
    const t = trace({ serverLeg: [onOldPath(), fromServer(oneRtt()), onNewPath(), fromServer(oneRtt({ dstPort: NEW_PORT }))] })
    expect(runCheck("pathValidated", t)).toEqual([`the server sent no PATH_CHALLENGE to the new path(s) ${HOST}:${NEW_PORT}`])
  })

  it("fails when the only PATH_CHALLENGE went to the old path", () => {
    const t = trace({ serverLeg: [onOldPath(), challengeTo(RELAY_OUT), onNewPath()] })
    expect(runCheck("pathValidated", t)).toEqual([`the server sent no PATH_CHALLENGE to the new path(s) ${HOST}:${NEW_PORT}`])
  })

  it("tells paths apart by address as well as port", () => {
    const t = trace({ serverLeg: [onOldPath(), onOldPath({ srcAddress: "127.0.0.2" }), challengeTo(RELAY_OUT)] })
    expect(runCheck("pathValidated", t)).toEqual([`the server sent no PATH_CHALLENGE to the new path(s) 127.0.0.2:${RELAY_OUT}`])
    const challenged = trace({ serverLeg: [onOldPath(), onOldPath({ srcAddress: "127.0.0.2" }), challengeTo(RELAY_OUT, "127.0.0.2")] })
    expect(runCheck("pathValidated", challenged)).toEqual([])
  })

  it("ignores a new path that only carried a CONNECTION_CLOSE", () => {
    const t = trace({
      serverLeg: [
        onOldPath(),
        onNewPath(),
        challengeTo(NEW_PORT),
        toServer({ type: "1rtt", srcPort: 50003, frameTypes: [CONNECTION_CLOSE!], closeCodes: [0] })
      ]
    })
    expect(runCheck("pathValidated", t)).toEqual([])
  })

  it("fails when the only new path carried nothing the server could read", () => {
    const t = trace({ serverLeg: [onOldPath(), challengeTo(RELAY_OUT), onNewPath({ decrypted: false, frameTypes: [] })] })
    expect(runCheck("pathValidated", t)).toEqual(["no new client address carried data the server could read"])
  })

  it("fails when the client's address never changed", () => {
    const t = trace({ serverLeg: [onOldPath(), challengeTo(RELAY_OUT), onOldPath()] })
    expect(runCheck("pathValidated", t)).toEqual(["the client's address never changed"])
  })
})

// ---- keyUpdate -------------------------------------------------------------------

describe("keyUpdate", () => {
  it("passes when both sides sent a decrypted packet in key phase 1", () => {
    const t = trace({ serverLeg: [toServer(oneRtt({ keyPhase: 0 })), toServer(oneRtt({ keyPhase: 1 })), fromServer(oneRtt({ keyPhase: 1 }))] })
    expect(runCheck("keyUpdate", t)).toEqual([])
  })

  it("fails when only the client updated its keys", () => {
    const t = trace({ serverLeg: [toServer(oneRtt({ keyPhase: 1 })), fromServer(oneRtt({ keyPhase: 0 }))] })
    expect(runCheck("keyUpdate", t)).toEqual(["the server sent no packet in key phase 1"])
  })

  it("does not count key phase 1 packets tshark could not decrypt", () => {
    const t = trace({
      serverLeg: [toServer(oneRtt({ keyPhase: 1, decrypted: false, frameTypes: [] })), fromServer(oneRtt({ keyPhase: 1 }))]
    })
    expect(runCheck("keyUpdate", t)).toEqual(["the client sent no packet in key phase 1"])
  })

  it("fails on both sides without any key update", () => {
    const t = trace({ serverLeg: [toServer(oneRtt({ keyPhase: 0 })), fromServer(oneRtt({ keyPhase: 0 }))] })
    expect(runCheck("keyUpdate", t)).toEqual(["the client sent no packet in key phase 1", "the server sent no packet in key phase 1"])
  })
})

// ---- v2 --------------------------------------------------------------------------

describe("v2", () => {
  it("passes when every Handshake packet is QUIC v2", () => {
    const t = trace({
      serverLeg: [
        toServer({ type: "initial", version: QUIC_V1 }), // compatible version negotiation may start in v1
        fromServer({ type: "handshake", version: QUIC_V2 }),
        toServer({ type: "handshake", version: QUIC_V2 })
      ]
    })
    expect(runCheck("v2", t)).toEqual([])
  })

  it("fails when a Handshake packet is QUIC v1", () => {
    const t = trace({ serverLeg: [fromServer({ type: "handshake", version: QUIC_V2 }), toServer({ type: "handshake", version: QUIC_V1 })] })
    expect(runCheck("v2", t)).toEqual(["1 of 2 Handshake packets are not QUIC v2"])
  })

  it("fails without any Handshake packet", () => {
    expect(runCheck("v2", trace({ serverLeg: [toServer({ version: QUIC_V2 })] }))).toEqual(["no Handshake packet was seen"])
  })
})

// ---- chacha20 --------------------------------------------------------------------

describe("chacha20", () => {
  const serverHello = (suite: number) => fromServer({ type: "initial", tlsMessages: [SERVER_HELLO], cipherSuite: suite, frameTypes: [CRYPTO!] })

  it("passes when the ServerHello chose TLS_CHACHA20_POLY1305_SHA256", () => {
    expect(runCheck("chacha20", trace({ serverLeg: [toServer(), serverHello(0x1303)] }))).toEqual([])
  })

  it("fails when the ServerHello chose another suite", () => {
    expect(runCheck("chacha20", trace({ serverLeg: [toServer(), serverHello(0x1301)] }))).toEqual(["ServerHello chose 0x1301"])
  })

  it("fails when no ServerHello was decoded", () => {
    expect(runCheck("chacha20", trace({ serverLeg: [toServer(), fromServer()] }))).toEqual(["no ServerHello was decoded"])
  })
})

// ---- zeroRtt ---------------------------------------------------------------------

describe("zeroRtt", () => {
  it("passes when a decrypted 0-RTT packet carries a STREAM frame", () => {
    const t = trace({ serverLeg: [toServer({ type: "initial" }), toServer({ type: "0rtt", frameTypes: [0x0b] })] })
    expect(runCheck("zeroRtt", t)).toEqual([])
  })

  it("fails without 0-RTT packets", () => {
    expect(runCheck("zeroRtt", trace({ serverLeg: [toServer({ type: "initial" }), toServer(oneRtt())] })))
      .toEqual(["the client sent no 0-RTT packet"])
  })

  it("fails when no 0-RTT packet could be decrypted", () => {
    const t = trace({ serverLeg: [toServer({ type: "0rtt", decrypted: false, frameTypes: [] })] })
    expect(runCheck("zeroRtt", t)).toEqual(["no decrypted 0-RTT packet carries a request (STREAM)"])
  })
})

// ---- resumed ---------------------------------------------------------------------

describe("resumed", () => {
  const clientHello = (random: string) =>
    toRelay({ type: "initial", tlsMessages: [CLIENT_HELLO], clientRandom: random, frameTypes: [CRYPTO!] })
  /** A server Handshake packet to the connection whose client connection ID is `dcid`. */
  const flight = (dcid: string, withCertificate: boolean) =>
    fromServer({ type: "handshake", dcid, tlsMessages: withCertificate ? [CERTIFICATE] : [], frameTypes: [CRYPTO!] })

  it("passes with two handshakes and a Certificate in the first only", () => {
    const t = trace({ clientLeg: [clientHello("aa"), clientHello("bb")], serverLeg: [flight("c1", true), flight("c2", false)] })
    expect(runCheck("resumed", t)).toEqual([])
  })

  it("fails when the second handshake sent a Certificate too", () => {
    const t = trace({ clientLeg: [clientHello("aa"), clientHello("bb")], serverLeg: [flight("c1", true), flight("c2", true)] })
    expect(runCheck("resumed", t)).toEqual(["2 of 2 handshakes carried a Certificate: the second did not resume"])
  })

  it("fails with a single handshake, even when its ClientHello was sent twice", () => {
    const t = trace({ clientLeg: [clientHello("aa"), clientHello("aa")], serverLeg: [flight("c1", true)] })
    expect(runCheck("resumed", t)).toEqual(["1 of 1 handshakes carried a Certificate: the second did not resume"])
  })

  it("counts a Certificate sent again in the same connection once", () => {
    const t = trace({ clientLeg: [clientHello("aa"), clientHello("bb")], serverLeg: [flight("c1", true), flight("c1", true), flight("c2", false)] })
    expect(runCheck("resumed", t)).toEqual([])
  })
})

// ---- streamLimit -----------------------------------------------------------------

describe("streamLimit", () => {
  const parameters = (limit: number) => fromServer({ type: "handshake", maxStreamsBidi: limit, frameTypes: [CRYPTO!] })
  const maxStreams = () => fromServer(oneRtt({ frameTypes: [MAX_STREAMS_BIDI!] }))

  it("passes with a limit of at most 1000 and a MAX_STREAMS frame", () => {
    expect(runCheck("streamLimit", trace({ serverLeg: [toServer(), parameters(1000), maxStreams()] }))).toEqual([])
  })

  it("fails when the server's initial_max_streams_bidi is above 1000", () => {
    expect(runCheck("streamLimit", trace({ serverLeg: [parameters(1001), maxStreams()] })))
      .toEqual(["the server's initial_max_streams_bidi is 1001 (> 1000)"])
  })

  it("does not take MAX_STREAMS for unidirectional streams (0x13) for the bidirectional limit", () => {
    expect(runCheck("streamLimit", trace({ serverLeg: [parameters(100), fromServer(oneRtt({ frameTypes: [0x13] }))] })))
      .toEqual(["the server never sent MAX_STREAMS for bidirectional streams"])
  })

  it("fails when the server never sent MAX_STREAMS", () => {
    expect(runCheck("streamLimit", trace({ serverLeg: [parameters(100), fromServer(oneRtt())] })))
      .toEqual(["the server never sent MAX_STREAMS for bidirectional streams"])
  })

  it("does not count a MAX_STREAMS frame the client sent", () => {
    expect(runCheck("streamLimit", trace({ serverLeg: [parameters(100), toServer(oneRtt({ frameTypes: [MAX_STREAMS_BIDI!] }))] })))
      .toEqual(["the server never sent MAX_STREAMS for bidirectional streams"])
  })

  it("fails when the transport parameters were not decoded", () => {
    expect(runCheck("streamLimit", trace({ serverLeg: [maxStreams()] })))
      .toEqual(["the server's initial_max_streams_bidi was not decoded"])
  })
})

// ---- closedWithZero --------------------------------------------------------------

describe("closedWithZero", () => {
  const close = (code: number) => fromServer(oneRtt({ frameTypes: [0x1d], closeCodes: [code] }))

  it("passes when every CONNECTION_CLOSE carries code 0", () => {
    expect(runCheck("closedWithZero", trace({ serverLeg: [toServer(oneRtt()), close(0), close(0)] }))).toEqual([])
  })

  it("fails with a non-zero code", () => {
    expect(runCheck("closedWithZero", trace({ serverLeg: [close(0), close(0x100)] }))).toEqual(["CONNECTION_CLOSE with code 256"])
  })

  it("fails when no CONNECTION_CLOSE was seen", () => {
    expect(runCheck("closedWithZero", trace({ serverLeg: [toServer(oneRtt()), fromServer(oneRtt())] })))
      .toEqual(["no CONNECTION_CLOSE was seen"])
  })
})

// ---- noRetry ---------------------------------------------------------------------

describe("noRetry", () => {
  it("passes without a Retry", () => {
    expect(runCheck("noRetry", trace({ serverLeg: [toServer(), fromServer(), toServer({ type: "handshake" })] }))).toEqual([])
  })

  it("fails when the server sent a Retry", () => {
    expect(runCheck("noRetry", trace({ serverLeg: [toServer(), fromServer({ type: "retry" }), toServer({ tokenLength: 40 })] })))
      .toEqual(["the server sent a Retry"])
  })
})

// ---- initialRetransmitted --------------------------------------------------------

describe("initialRetransmitted", () => {
  const initial = (pn: bigint, cryptoOffsets: ReadonlyArray<number> = [0]) =>
    toRelay({ type: "initial", packetNumber: pn, frameTypes: cryptoOffsets.map(() => CRYPTO!), cryptoOffsets })

  it("passes when the client resent its Initial before the server's first answer", () => {
    expect(runCheck("initialRetransmitted", trace({ clientLeg: [initial(0n), initial(1n), fromRelay({ type: "initial" })] }))).toEqual([])
  })

  it("fails when the server answered after the first Initial", () => {
    const t = trace({ clientLeg: [initial(0n), fromRelay({ type: "initial" }), initial(1n)] })
    expect(runCheck("initialRetransmitted", t)).toEqual(["the client sent no CRYPTO data twice before the server's first answer (offsets 0)"])
  })

  it("does not count Initials without CRYPTO (an ACK-only Initial, say)", () => {
    const t = trace({ clientLeg: [initial(0n), toRelay({ type: "initial", frameTypes: [ACK!] })] })
    expect(runCheck("initialRetransmitted", t)).toEqual(["the client sent no CRYPTO data twice before the server's first answer (offsets 0)"])
  })

  it("a ClientHello in two packets is one flight; its first part sent again is the retransmission", () => {
    const firstFlight = [initial(0n, [0]), initial(1n, [1162])]
    expect(runCheck("initialRetransmitted", trace({ clientLeg: firstFlight }))).toEqual([
      "the client sent no CRYPTO data twice before the server's first answer (offsets 0, 1162)"
    ])
    expect(runCheck("initialRetransmitted", trace({ clientLeg: [...firstFlight, initial(2n, [0])] }))).toEqual([])
  })
})

// ---- flowControlGrows ------------------------------------------------------------

describe("flowControlGrows", () => {
  it("passes when the client sent MAX_DATA", () => {
    expect(runCheck("flowControlGrows", trace({ serverLeg: [toServer(oneRtt({ frameTypes: [ACK!, MAX_DATA] }))] }))).toEqual([])
  })

  it("passes when the client sent MAX_STREAM_DATA", () => {
    expect(runCheck("flowControlGrows", trace({ serverLeg: [toServer(oneRtt({ frameTypes: [MAX_STREAM_DATA] }))] }))).toEqual([])
  })

  it("fails when only the server raised a limit", () => {
    const t = trace({ serverLeg: [toServer(oneRtt({ frameTypes: [ACK!] })), fromServer(oneRtt({ frameTypes: [MAX_DATA, MAX_STREAM_DATA] }))] })
    expect(runCheck("flowControlGrows", t)).toEqual(["the client never raised a flow-control limit (MAX_DATA, MAX_STREAM_DATA)"])
  })
})

// ---- migrated --------------------------------------------------------------------

describe("migrated", () => {
  const clientLeg = [toRelay({ type: "initial", dcid: "0102" }), fromRelay({ type: "initial", scid: "aaaa" }), toRelay(oneRtt({ dcid: "aaaa" }))]

  it("passes when the client moved to the preferred address with a fresh connection ID and the server answered", () => {
    const t = trace({ clientLeg, preferredLeg: [toPreferred(oneRtt({ dcid: "bbbb" })), fromPreferred(oneRtt({ dcid: "cccc" }))] })
    expect(runCheck("migrated", t)).toEqual([])
  })

  it("fails when the client sent nothing to the preferred address", () => {
    expect(runCheck("migrated", trace({ clientLeg }))).toEqual(["the client sent no 1-RTT packet to the preferred address"])
  })

  it("fails when the client reused a connection ID on the preferred address", () => {
    const t = trace({ clientLeg, preferredLeg: [toPreferred(oneRtt({ dcid: "aaaa" })), fromPreferred(oneRtt({ dcid: "cccc" }))] })
    expect(runCheck("migrated", t)).toEqual(["the client reused connection ID aaaa on the preferred address"])
  })

  it("fails when the server never answered from the preferred address", () => {
    const t = trace({ clientLeg, preferredLeg: [toPreferred(oneRtt({ dcid: "bbbb" }))] })
    expect(runCheck("migrated", t)).toEqual(["the server never answered from its preferred address"])
  })

  it("fails when no data or ACK reached the preferred address", () => {
    const t = trace({
      clientLeg,
      preferredLeg: [toPreferred(oneRtt({ dcid: "bbbb", frameTypes: [PATH_CHALLENGE!] })), fromPreferred(oneRtt({ dcid: "cccc" }))]
    })
    expect(runCheck("migrated", t)).toEqual(["no data or ACK reached the preferred address"])
  })
})

// ---- ipv6 ------------------------------------------------------------------------

describe("ipv6", () => {
  const v6 = { srcAddress: "::1", dstAddress: "::1" }

  it("passes when every packet on the server leg is IPv6", () => {
    expect(runCheck("ipv6", trace({ serverLeg: [toServer(v6), fromServer(v6)] }))).toEqual([])
  })

  it("fails when a packet is IPv4", () => {
    expect(runCheck("ipv6", trace({ serverLeg: [toServer(v6), fromServer()] }))).toEqual(["some packets were not IPv6"])
  })

  it("fails when no packet was seen at all", () => {
    expect(runCheck("ipv6", trace())).toEqual(["no packets were seen"])
  })
})

// ---- withDecryptedTwins ----------------------------------------------------------

describe("withDecryptedTwins", () => {
  it("takes an undecrypted packet's frames from the same datagram decrypted on the other leg, keeping its own addresses", () => {
    const opaque = fromServer({ type: "1rtt", decrypted: false, frameTypes: [], dstPort: 50002, payloadDigest: "same" })
    const twin = fromRelay({ type: "1rtt", decrypted: true, frameTypes: [PATH_CHALLENGE!], payloadDigest: "same" })
    const [merged] = withDecryptedTwins([opaque], [twin])
    expect(merged!.decrypted).toBe(true)
    expect(merged!.frameTypes).toEqual([PATH_CHALLENGE])
    expect([merged!.srcPort, merged!.dstPort, merged!.frame]).toEqual([SERVER_PORT, 50002, opaque.frame])
  })

  it("leaves a packet alone when the other leg has no decrypted copy of its datagram", () => {
    const opaque = fromServer({ type: "1rtt", decrypted: false, frameTypes: [], payloadDigest: "mine" })
    const other = fromRelay({ type: "1rtt", decrypted: true, frameTypes: [STREAM!], payloadDigest: "other" })
    expect(withDecryptedTwins([opaque], [other])).toEqual([opaque])
  })

  it("matches coalesced packets by their place in the datagram", () => {
    const a = fromServer({ type: "initial", decrypted: false, payloadDigest: "d", frame: 500 })
    const b = fromServer({ type: "handshake", decrypted: false, payloadDigest: "d", frame: 500 })
    const a2 = fromRelay({ type: "initial", decrypted: true, frameTypes: [ACK!], payloadDigest: "d", frame: 900 })
    const b2 = fromRelay({ type: "handshake", decrypted: true, frameTypes: [CRYPTO!], payloadDigest: "d", frame: 900 })
    expect(withDecryptedTwins([a, b], [a2, b2]).map((p) => [p.type, p.frameTypes])).toEqual([["initial", [ACK]], ["handshake", [CRYPTO]]])
  })
})

// ---- relayAgrees -----------------------------------------------------------------

describe("relayAgrees", () => {
  const record = (dir: RelayRecord["dir"], size: number, fate: RelayRecord["fate"] = "forwarded"): RelayRecord => ({ dir, size, fate })
  const udp = (srcPort: number, dstPort: number, bytes: number): UdpDatagram => ({ srcPort, dstPort, bytes })

  const relayLog = [record("to_server", 1200), record("to_server", 80, "corrupted"), record("to_client", 1200), record("to_client", 900)]
  /** What the capture saw: each leg also carries the other direction, which must not be counted. */
  const serverLegDatagrams = [udp(RELAY_OUT, SERVER_PORT, 1200), udp(SERVER_PORT, RELAY_OUT, 1200), udp(RELAY_OUT, SERVER_PORT, 80), udp(SERVER_PORT, RELAY_OUT, 900)]
  const clientLegDatagrams = [udp(CLIENT_PORT, RELAY_PORT, 1200), udp(RELAY_PORT, CLIENT_PORT, 1200), udp(CLIENT_PORT, RELAY_PORT, 80), udp(RELAY_PORT, CLIENT_PORT, 900)]

  it("passes when the log and the capture count the same bytes each way", () => {
    expect(relayAgrees(trace({ relayLog, serverLegDatagrams, clientLegDatagrams }))).toEqual([])
  })

  it("does not count datagrams the relay dropped", () => {
    const withDrops = [...relayLog, record("to_server", 1200, "dropped"), record("to_client", 1200, "dropped")]
    expect(relayAgrees(trace({ relayLog: withDrops, serverLegDatagrams, clientLegDatagrams }))).toEqual([])
  })

  it("fails when the capture shows more bytes to the server than the log", () => {
    const t = trace({ relayLog, serverLegDatagrams: [...serverLegDatagrams, udp(RELAY_OUT, SERVER_PORT, 50)], clientLegDatagrams })
    expect(relayAgrees(t)).toEqual(["the relay logged 1280 bytes to_server, the capture shows 1330"])
  })

  it("fails when the log shows more bytes to the server than the capture", () => {
    const t = trace({ relayLog: [...relayLog, record("to_server", 50)], serverLegDatagrams, clientLegDatagrams })
    expect(relayAgrees(t)).toEqual(["the relay logged 1330 bytes to_server, the capture shows 1280"])
  })

  it("fails when the bytes to the client disagree", () => {
    const t = trace({ relayLog: [...relayLog, record("to_client", 50)], serverLegDatagrams, clientLegDatagrams })
    expect(relayAgrees(t)).toEqual(["the relay logged 2150 bytes to_client, the capture shows 2100"])
    const captured = trace({ relayLog, serverLegDatagrams, clientLegDatagrams: [...clientLegDatagrams, udp(RELAY_PORT, CLIENT_PORT, 50)] })
    expect(relayAgrees(captured)).toEqual(["the relay logged 2100 bytes to_client, the capture shows 2150"])
  })

  it("fails when a dropped datagram shows up in the capture anyway", () => {
    const t = trace({ relayLog: [...relayLog, record("to_server", 50, "dropped")], serverLegDatagrams: [...serverLegDatagrams, udp(RELAY_OUT, SERVER_PORT, 50)], clientLegDatagrams })
    expect(relayAgrees(t)).toEqual(["the relay logged 1280 bytes to_server, the capture shows 1330"])
  })
})
