/**
 * What the interop runner checks, read from the packets (tshark's decode of
 * a loopback capture with the endpoints' key logs) and from the relay's
 * datagram log, never from the endpoints' own reports. Each check returns
 * the reasons it failed; none means it passed.
 */
import { type DatagramInfo, FrameType, type QuicPacket, type UdpDatagram } from "./tshark.js"

/** One line of quic-netem's datagram log. */
export interface RelayRecord {
  readonly dir: "to_server" | "to_client"
  readonly size: number
  readonly fate: "forwarded" | "dropped" | "corrupted"
}

export interface Trace {
  /** Packets between the relay and the server (what the server sent and received). */
  readonly serverLeg: ReadonlyArray<QuicPacket>
  /** Packets between the client and the relay (what the client sent and received). */
  readonly clientLeg: ReadonlyArray<QuicPacket>
  /** Packets to or from the server's preferred address (the client reaches it directly, not through the relay). */
  readonly preferredLeg: ReadonlyArray<QuicPacket>
  readonly preferredPort: number
  /** Every UDP datagram of each leg, QUIC or not. */
  readonly serverLegDatagrams: ReadonlyArray<UdpDatagram>
  readonly clientLegDatagrams: ReadonlyArray<UdpDatagram>
  readonly serverPort: number
  readonly relayPort: number
  readonly relayLog: ReadonlyArray<RelayRecord>
}

const QUIC_V2 = 0x6b3343cf
const CERTIFICATE = 11
const CHACHA20_POLY1305_SHA256 = 0x1303
/** RFC 9000 §19.11: MAX_STREAMS for bidirectional streams (0x13 is the unidirectional one). */
const MAX_STREAMS_BIDI = 0x12

const has = (packet: QuicPacket, group: ReadonlyArray<number>) => packet.frameTypes.some((t) => group.includes(t))

/** Datagrams (not packets: coalesced packets share one) in capture order. */
const datagrams = (packets: ReadonlyArray<QuicPacket>): ReadonlyArray<QuicPacket> =>
  packets.filter((p, i) => i === 0 || packets[i - 1]!.frame !== p.frame)

const fromServer = (trace: Trace) => trace.serverLeg.filter((p) => p.srcPort === trace.serverPort)
const toServer = (trace: Trace) => trace.serverLeg.filter((p) => p.dstPort === trace.serverPort)

/** Each packet keyed by its datagram's bytes and its place in the datagram. */
const byDatagramBytes = (packets: ReadonlyArray<QuicPacket>): Map<string, QuicPacket> => {
  const out = new Map<string, QuicPacket>()
  let place = 0
  packets.forEach((p, i) => {
    place = i > 0 && packets[i - 1]!.frame === p.frame ? place + 1 : 0
    out.set(`${p.payloadDigest}#${place}`, p)
  })
  return out
}

const datagramOf = (p: QuicPacket): DatagramInfo => ({
  frame: p.frame,
  time: p.time,
  srcAddress: p.srcAddress,
  dstAddress: p.dstAddress,
  srcPort: p.srcPort,
  dstPort: p.dstPort,
  datagramBytes: p.datagramBytes,
  payloadDigest: p.payloadDigest
})

/**
 * `leg` with each packet tshark could not decrypt replaced by its twin on
 * the `other` leg when tshark decrypted that one. The relay forwards a
 * datagram's bytes unchanged (unless it corrupts them), so the twin is the
 * same packet. This matters for zero-length connection IDs: after a NAT
 * rebinding tshark cannot tie the server's packets on the new path to their
 * connection, but on the client's leg, whose addresses never change, it can.
 */
export const withDecryptedTwins = (leg: ReadonlyArray<QuicPacket>, other: ReadonlyArray<QuicPacket>): ReadonlyArray<QuicPacket> => {
  const twins = byDatagramBytes(other)
  const keys = [...byDatagramBytes(leg).keys()]
  return leg.map((p, i) => {
    if (p.decrypted) return p
    const twin = twins.get(keys[i]!)
    return twin !== undefined && twin.decrypted ? { ...twin, ...datagramOf(p) } : p
  })
}

/**
 * Distinct ClientHellos the client sent: one per handshake (a retransmission
 * or a Retry repeats the same random). Counted where the client sent them,
 * before the relay: a copy corrupted on the way can mislead tshark about the
 * rest of that connection on the server's side (a version field hit, say).
 */
export const handshakeCount = (trace: Trace): number =>
  new Set(trace.clientLeg.filter((p) => p.dstPort === trace.relayPort).flatMap((p) => p.clientRandom === undefined ? [] : [p.clientRandom])).size

const checks = {
  noRetry: (trace: Trace) => trace.serverLeg.some((p) => p.type === "retry") ? ["the server sent a Retry"] : [],

  retry: (trace: Trace) => {
    const packets = trace.serverLeg
    const retryAt = packets.findIndex((p) => p.type === "retry" && p.srcPort === trace.serverPort)
    if (retryAt < 0) return ["the server sent no Retry"]
    const clientInitials = (from: number, to: number) =>
      packets.slice(from, to).filter((p) => p.dstPort === trace.serverPort && p.type === "initial")
    const before = clientInitials(0, retryAt)
    const after = clientInitials(retryAt + 1, packets.length)[0]
    if (after === undefined) return ["no client Initial followed the Retry"]
    const reasons: Array<string> = []
    if ((after.tokenLength ?? 0) === 0) reasons.push("the client's Initial after the Retry carries no token")
    // RFC 9000 §17.2.5.3: the client keeps its packet numbers across a Retry.
    const previous = before.reduce((max, p) => p.packetNumber !== undefined && p.packetNumber > max ? p.packetNumber : max, -1n)
    if (after.packetNumber === undefined || after.packetNumber <= previous) {
      reasons.push(`the client's packet number went from ${previous} to ${after.packetNumber ?? "?"} across the Retry`)
    }
    return reasons
  },

  flowControlGrows: (trace: Trace) =>
    toServer(trace).some((p) => has(p, [0x10, 0x11])) ? [] : ["the client never raised a flow-control limit (MAX_DATA, MAX_STREAM_DATA)"],

  closedWithZero: (trace: Trace) => {
    const codes = trace.serverLeg.flatMap((p) => p.closeCodes)
    if (codes.length === 0) return ["no CONNECTION_CLOSE was seen"]
    const other = codes.filter((c) => c !== 0)
    return other.length > 0 ? [`CONNECTION_CLOSE with code ${other.join(", ")}`] : []
  },

  initialRetransmitted: (trace: Trace) => {
    // Before the client hears anything from the server, its ClientHello must have gone out
    // again on PTO: CRYPTO data at an offset an earlier Initial carried (a ClientHello may
    // span several packets, so two Initials with CRYPTO are not yet a retransmission).
    const firstAnswer = trace.clientLeg.findIndex((p) => p.srcPort === trace.relayPort)
    const early = firstAnswer < 0 ? trace.clientLeg : trace.clientLeg.slice(0, firstAnswer)
    const seen = new Set<number>()
    for (const p of early) {
      if (p.dstPort !== trace.relayPort || p.type !== "initial") continue
      if (p.cryptoOffsets.some((offset) => seen.has(offset))) return []
      for (const offset of p.cryptoOffsets) seen.add(offset)
    }
    return [`the client sent no CRYPTO data twice before the server's first answer (offsets ${[...seen].join(", ") || "none"})`]
  },

  chacha20: (trace: Trace) => {
    const suites = fromServer(trace).flatMap((p) => p.cipherSuite === undefined ? [] : [p.cipherSuite])
    if (suites.length === 0) return ["no ServerHello was decoded"]
    const other = suites.filter((s) => s !== CHACHA20_POLY1305_SHA256)
    return other.length > 0 ? [`ServerHello chose ${other.map((s) => `0x${s.toString(16)}`).join(", ")}`] : []
  },

  streamLimit: (trace: Trace) => {
    const reasons: Array<string> = []
    const limit = fromServer(trace).find((p) => p.maxStreamsBidi !== undefined)?.maxStreamsBidi
    if (limit === undefined) reasons.push("the server's initial_max_streams_bidi was not decoded")
    else if (limit > 1000) reasons.push(`the server's initial_max_streams_bidi is ${limit} (> 1000)`)
    if (!fromServer(trace).some((p) => has(p, [MAX_STREAMS_BIDI]))) reasons.push("the server never sent MAX_STREAMS for bidirectional streams")
    return reasons
  },

  resumed: (trace: Trace) => {
    // Connections (by the client's connection ID the server answered) whose server flight carried a Certificate.
    const certified = new Set(fromServer(trace).filter((p) => p.tlsMessages.includes(CERTIFICATE)).map((p) => p.dcid)).size
    const handshakes = handshakeCount(trace)
    return certified === 1 && handshakes >= 2 ? [] : [`${certified} of ${handshakes} handshakes carried a Certificate: the second did not resume`]
  },

  zeroRtt: (trace: Trace) => {
    const early = toServer(trace).filter((p) => p.type === "0rtt")
    if (early.length === 0) return ["the client sent no 0-RTT packet"]
    if (!early.some((p) => p.decrypted && has(p, FrameType.STREAM))) return ["no decrypted 0-RTT packet carries a request (STREAM)"]
    return []
  },

  keyUpdate: (trace: Trace) => {
    const phase1 = (packets: ReadonlyArray<QuicPacket>) => packets.some((p) => p.type === "1rtt" && p.decrypted && p.keyPhase === 1)
    return [
      ...(phase1(toServer(trace)) ? [] : ["the client sent no packet in key phase 1"]),
      ...(phase1(fromServer(trace)) ? [] : ["the server sent no packet in key phase 1"])
    ]
  },

  v2: (trace: Trace) => {
    const handshake = trace.serverLeg.filter((p) => p.type === "handshake")
    if (handshake.length === 0) return ["no Handshake packet was seen"]
    const v1 = handshake.filter((p) => p.version !== QUIC_V2)
    return v1.length > 0 ? [`${v1.length} of ${handshake.length} Handshake packets are not QUIC v2`] : []
  },

  amplification: (trace: Trace) => {
    // RFC 9000 §8.1: until a Handshake packet from the client validates its address,
    // the server sends at most three times what it received.
    let received = 0
    let sent = 0
    for (const datagram of datagrams(trace.serverLeg)) {
      if (datagram.dstPort === trace.serverPort) {
        const packets = trace.serverLeg.filter((p) => p.frame === datagram.frame)
        if (packets.some((p) => p.type === "handshake")) break
        received += datagram.datagramBytes
      } else {
        sent += datagram.datagramBytes
        if (sent > 3 * received) return [`before address validation the server sent ${sent} bytes for ${received} received`]
      }
    }
    return sent === 0 ? ["the server sent nothing before address validation"] : []
  },

  pathValidated: (trace: Trace) => {
    const pathOf = (address: string, port: number) => `${address}:${port}`
    const paths: Array<string> = []
    for (const p of toServer(trace)) {
      const path = pathOf(p.srcAddress, p.srcPort)
      if (!paths.includes(path)) paths.push(path)
    }
    if (paths.length < 2) return ["the client's address never changed"]
    const challenged = new Set(
      fromServer(trace).filter((p) => has(p, FrameType.PATH_CHALLENGE)).map((p) => pathOf(p.dstAddress, p.dstPort))
    )
    // A path that only carried the client's closing packets is not one the server needs to validate.
    const used = paths.slice(1).filter((path) =>
      toServer(trace).some((p) => pathOf(p.srcAddress, p.srcPort) === path && p.closeCodes.length === 0 && p.decrypted)
    )
    if (used.length === 0) return ["no new client address carried data the server could read"]
    const unchallenged = used.filter((path) => !challenged.has(path))
    return unchallenged.length > 0 ? [`the server sent no PATH_CHALLENGE to the new path(s) ${unchallenged.join(", ")}`] : []
  },

  migrated: (trace: Trace) => {
    // RFC 9000 §9.6.1: the client moves to the preferred address with a connection ID it has not used before.
    const toPreferred = trace.preferredLeg.filter((p) => p.dstPort === trace.preferredPort && p.type === "1rtt" && p.decrypted)
    if (toPreferred.length === 0) return ["the client sent no 1-RTT packet to the preferred address"]
    const usedBefore = new Set(trace.clientLeg.filter((p) => p.dstPort === trace.relayPort).flatMap((p) => p.dcid === undefined ? [] : [p.dcid]))
    const reasons: Array<string> = []
    const reused = toPreferred.filter((p) => p.dcid !== undefined && usedBefore.has(p.dcid))
    if (reused.length > 0) reasons.push(`the client reused connection ID ${reused[0]!.dcid} on the preferred address`)
    if (!toPreferred.some((p) => has(p, FrameType.STREAM) || has(p, FrameType.ACK))) reasons.push("no data or ACK reached the preferred address")
    if (!trace.preferredLeg.some((p) => p.srcPort === trace.preferredPort && p.decrypted)) reasons.push("the server never answered from its preferred address")
    return reasons
  },

  ipv6: (trace: Trace) =>
    trace.serverLeg.length === 0
      ? ["no packets were seen"]
      : trace.serverLeg.some((p) => !p.srcAddress.includes(":")) ? ["some packets were not IPv6"] : []
} satisfies Record<string, (trace: Trace) => ReadonlyArray<string>>

export type CheckName = keyof typeof checks

export const runCheck = (name: CheckName, trace: Trace): ReadonlyArray<string> => checks[name](trace)

/** The relay's log and the capture must count the same bytes each way: two witnesses of one exchange. */
export const relayAgrees = (trace: Trace): ReadonlyArray<string> => {
  const logged = (dir: RelayRecord["dir"]) =>
    trace.relayLog.filter((r) => r.dir === dir && r.fate !== "dropped").reduce((n, r) => n + r.size, 0)
  const captured = (leg: ReadonlyArray<UdpDatagram>, sent: (d: UdpDatagram) => boolean) =>
    leg.filter(sent).reduce((n, d) => n + d.bytes, 0)
  const compare = (dir: RelayRecord["dir"], capturedBytes: number) => {
    const loggedBytes = logged(dir)
    return loggedBytes === capturedBytes ? [] : [`the relay logged ${loggedBytes} bytes ${dir}, the capture shows ${capturedBytes}`]
  }
  return [
    ...compare("to_server", captured(trace.serverLegDatagrams, (d) => d.dstPort === trace.serverPort)),
    ...compare("to_client", captured(trace.clientLegDatagrams, (d) => d.srcPort === trace.relayPort))
  ]
}
