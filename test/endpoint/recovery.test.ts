/**
 * Loss during the handshake (RFC 9002 §6.2: PTO, §6.2.2.1: the client's
 * anti-deadlock probes; RFC 9000 §13.2.1: Initial and Handshake packets are
 * acknowledged at once; §10.1: the idle timeout). Targeted drops on a
 * perfect 10 ms link with a virtual clock; every outcome is checked against
 * the times the RFCs give: a first PTO of 999 ms (initial RTT 333 ms,
 * RFC 9002 §6.2.2), doubling on each expiry.
 */
import { describe, expect, it } from "vitest"
import { addressKey } from "../../src/internal/address.js"
import type { CryptoBackend } from "../../src/internal/crypto/backend.js"
import { TLS_AES_128_GCM_SHA256 } from "../../src/internal/crypto/suite.js"
import type { QuicEvent } from "../../src/internal/events.js"
import { splitDatagram } from "../../src/internal/packet/coalesce.js"
import { QUIC_V1 } from "../../src/internal/packet/version.js"
import { backends } from "../helpers.js"
import {
  bothConnected,
  CLIENT,
  describePackets,
  type DropContext,
  isAckOnly,
  keyLogger,
  LabDecryptor,
  type LabDatagram,
  type LabNetwork,
  makeLab,
  packetKinds,
  SERVER,
  testIdentityChain
} from "../support/handshakeLab.js"

const fromClient = (d: { from: { address: string; port: number } }) => addressKey(d.from) === addressKey(CLIENT)
const fromServer = (d: { from: { address: string; port: number } }) => addressKey(d.from) === addressKey(SERVER)

/** RFC 9002 §6.2.2: PTO = 333 ms + 4 × 333/2 ms before any RTT sample (max_ack_delay is 0 for Initial and Handshake). */
const FIRST_PTO = 999_000
const RTT = 20_000

/** A lab that records when each side first reports Connected and decrypts what it drops. */
const lossLab = (backend: CryptoBackend, options: Parameters<typeof makeLab>[1] = {}) => {
  const log = keyLogger()
  const lab = makeLab(backend, { ...options, client: { cipherSuites: [TLS_AES_128_GCM_SHA256], keyLog: log.keyLog, ...options.client } })
  const decryptor = new LabDecryptor(backend, QUIC_V1, TLS_AES_128_GCM_SHA256, log)
  const connected = new Map<string, number>()
  lab.network.onEvent = (endpoint, event) => {
    if (event._tag === "Connected") {
      const key = addressKey(endpoint.localAddress)
      if (!connected.has(key)) connected.set(key, lab.network.now)
    }
  }
  /** When `address` first reported Connected. */
  const connectedAt = (address: typeof CLIENT): number => {
    const at = connected.get(addressKey(address))
    if (at === undefined) throw new Error(`${addressKey(address)} never connected`)
    return at
  }
  return { ...lab, log, decryptor, connectedAt }
}

/** Every packet a connection counted as sent left in a datagram (none was sealed and then thrown away). */
const packetsOnWire = (datagrams: ReadonlyArray<LabDatagram>): number =>
  datagrams.reduce((n, d) => n + splitDatagram(d.data, 8).packets.length, 0)

const withoutStreamsAvailable = (events: ReadonlyArray<QuicEvent>) => events.filter((e) => e._tag !== "StreamsAvailable")

/** The handshake's events, exactly (StreamsAvailable aside), whatever was lost on the way. */
const expectCleanHandshake = (network: LabNetwork) => {
  const client = network.eventsOf(CLIENT)
  const server = network.eventsOf(SERVER)
  expect(withoutStreamsAvailable(client).map((e) => e._tag)).toEqual(["HandshakeDataReady", "Connected"])
  expect(withoutStreamsAvailable(server).map((e) => e._tag)).toEqual(["NewConnection", "HandshakeDataReady", "Connected"])
  expect(client.filter((e) => e._tag === "StreamsAvailable")).toHaveLength(2)
  expect(server.filter((e) => e._tag === "StreamsAvailable")).toHaveLength(2)
}

describe.each(backends)("handshake under loss on the %s backend", (_name, backend) => {
  it("first client flight lost: the client's PTO fires after 999 ms and the handshake completes one PTO late", () => {
    const lab = lossLab(backend)
    const { network, client } = lab
    network.drop = (d) => fromClient(d) && d.index === 0
    const start = network.now
    client.connect(network.now, SERVER, "localhost")
    expect(network.run(bothConnected(network), 5_000_000)).toBe(true)
    network.runFor(300_000)
    expectCleanHandshake(network)

    const sent = network.between(CLIENT, SERVER)
    expect(sent[0]!.fate).toBe("dropped")
    // RFC 9002 §6.2.4: the PTO sends (up to) two ack-eliciting datagrams; a client's
    // Initials are padded to 1200 bytes (RFC 9000 §14.1).
    expect(sent[1]!.at - start).toBe(FIRST_PTO)
    expect(sent[2]!.at - start).toBe(FIRST_PTO)
    for (const d of sent.slice(1, 3)) {
      expect(d.data.length).toBe(1200)
      expect(packetKinds(d.data)).toEqual(["initial"])
    }
    // One PTO, then at most three round trips: probe acknowledged (or answered), ServerHello, Finished.
    expect(lab.connectedAt(SERVER) - start).toBeLessThanOrEqual(FIRST_PTO + 3 * RTT)
    expect(network.eventsOf(SERVER).filter((e) => e._tag === "NewConnection")).toHaveLength(1)
    expect(lab.server.connectionCount).toBe(1)
  })

  it("a configured initial RTT of 100 ms: the first flight goes again after 300 ms, then after 600 ms more", () => {
    // RFC 9002 §6.2.2: before any sample the PTO is initial RTT + 4 × initial RTT / 2.
    const lab = lossLab(backend, { transport: { initialRtt: 100_000 } })
    const { network, client } = lab
    network.drop = (d) => fromClient(d) && d.index < 3
    const start = network.now
    client.connect(network.now, SERVER, "localhost")
    expect(network.run(bothConnected(network), 5_000_000)).toBe(true)
    expectCleanHandshake(network)
    const sent = network.between(CLIENT, SERVER)
    expect(sent.slice(0, 5).map((d) => d.at - start)).toEqual([0, 300_000, 300_000, 900_000, 900_000])
    expect(lab.connectedAt(SERVER) - start).toBeLessThanOrEqual(900_000 + 3 * RTT)
  })

  it("first flight and the first probe lost: the second probe carries the ClientHello too, so the handshake still completes one PTO late", () => {
    // RFC 9002 §6.2.4: both probes of the PTO carry the unacknowledged CRYPTO data; a
    // bare PING in the second would leave a server that lost the first with nothing to start from.
    const lab = lossLab(backend)
    const { network, client } = lab
    // The server's short answers (an ACK of a bare PING) are lost too: only a ClientHello in the surviving probe moves things on.
    network.drop = (d) => (fromClient(d) && (d.index === 0 || d.index === 1)) || (fromServer(d) && d.data.length < 100)
    const start = network.now
    client.connect(network.now, SERVER, "localhost")
    expect(network.run(bothConnected(network), 5_000_000)).toBe(true)
    network.runFor(300_000)
    expectCleanHandshake(network)
    const sent = network.between(CLIENT, SERVER)
    expect(sent.slice(0, 2).map((d) => d.fate)).toEqual(["dropped", "dropped"])
    expect(sent[2]!.at - start).toBe(FIRST_PTO)
    expect(lab.connectedAt(SERVER) - start).toBeLessThanOrEqual(FIRST_PTO + 3 * RTT)
  })

  it("HANDSHAKE_DONE and the request lost: the client's Handshake PTO re-sends the request in a coalesced 1-RTT packet", () => {
    // RFC 9002 §6.2.4: a PTO also sends ack-eliciting packets in the other spaces with data in
    // flight. The confirmed server has discarded its Handshake keys, so the client's Handshake
    // probes alone would never carry its lost request to it before confirmation.
    const lab = lossLab(backend)
    const { network, client, decryptor } = lab
    const start = network.now
    const request = new TextEncoder().encode("GET /index.html")
    const carries = (d: DropContext, type: string, tag: string) =>
      decryptor.packets(d.from, d.data).some((p) => p.type === type && (p.frames ?? []).some((f) => f._tag === tag))
    // Every 1-RTT datagram of the server's (HANDSHAKE_DONE, ACKs) for 1.5 s, and the client's request as first sent.
    let requestDropped = 0
    network.drop = (d) => {
      if (fromServer(d) && decryptor.packets(d.from, d.data).some((p) => p.type === "1rtt") && d.at - start < 1_500_000) return true
      if (fromClient(d) && requestDropped < 2 && d.at - start < 100_000 && carries(d, "1rtt", "Stream")) return ++requestDropped > 0
      return false
    }
    const conn = client.connect(network.now, SERVER, "localhost") as number
    let stream: number | undefined
    const serverRead: Array<number> = []
    const previous = network.onEvent
    network.onEvent = (endpoint, event) => {
      previous(endpoint, event)
      if (endpoint === client && event._tag === "Connected" && stream === undefined) {
        stream = client.openBi(network.now, conn) as number
        expect(client.streamSend(network.now, conn, stream, request)).toBe(request.length)
        client.streamFinish(network.now, conn, stream)
      }
      if (endpoint === lab.server && event._tag === "StreamReadable") serverRead.push(network.now)
    }
    expect(network.run(() => serverRead.length > 0, 3_000_000)).toBe(true)
    expect(requestDropped).toBeGreaterThan(0)
    // Before the first of the client's PTOs (999 ms after the handshake at most) had to give up on HANDSHAKE_DONE.
    expect(serverRead[0]! - start).toBeLessThan(1_500_000)
    const probe = network.between(CLIENT, SERVER).find((d) =>
      d.fate === "delivered" && decryptor.packets(d.from, d.data).some((p) => p.type === "handshake") &&
      decryptor.packets(d.from, d.data).some((p) => p.type === "1rtt" && (p.frames ?? []).some((f) => f._tag === "Stream"))
    )
    expect(probe, "a datagram with a Handshake probe and the request again in 1-RTT").toBeDefined()
  })

  it("whole first server flight lost: both PTOs fire and the handshake completes within one PTO and a few round trips", () => {
    const lab = lossLab(backend)
    const { network, client } = lab
    const start = network.now
    network.drop = (d) => fromServer(d) && d.at === start + RTT / 2
    client.connect(network.now, SERVER, "localhost")
    expect(network.run(bothConnected(network), 10_000_000)).toBe(true)
    network.runFor(300_000)
    expectCleanHandshake(network)
    expect(network.between(SERVER, CLIENT).filter((d) => d.fate === "dropped")).toHaveLength(1)
    // The client's probes leave at 999 ms; the server's own PTO is armed from its flight (at
    // 10 ms) and fires at 1009 ms: two ack-eliciting Initials, padded to 1200 bytes (§14.1),
    // sent with its immediate ACKs of the client's probes, which arrive at that moment.
    expect(network.between(CLIENT, SERVER)[1]!.at - start).toBe(FIRST_PTO)
    const serverProbes = network.between(SERVER, CLIENT).filter((d) => d.at - start === RTT / 2 + FIRST_PTO && d.data.length === 1200)
    expect(serverProbes).toHaveLength(2)
    for (const d of serverProbes) expect(packetKinds(d.data)[0]).toBe("initial")
    expect(lab.connectedAt(CLIENT) - start).toBeLessThanOrEqual(RTT / 2 + FIRST_PTO + 3 * RTT)
    expect(lab.connectedAt(SERVER) - start).toBeLessThanOrEqual(RTT / 2 + FIRST_PTO + 4 * RTT)
  })

  it("the server acknowledges the client's ack-eliciting Initials at once, even with Handshake keys and nothing else to send", () => {
    // RFC 9000 §13.2.1: Initial and Handshake packets are never delayed for acknowledgement.
    const lab = lossLab(backend)
    const { network, client, server } = lab
    const start = network.now
    network.drop = (d) => fromServer(d) && d.at === start + RTT / 2
    const handle = client.connect(network.now, SERVER, "localhost") as number
    expect(network.run(bothConnected(network), 10_000_000)).toBe(true)
    const probes = network.between(CLIENT, SERVER).filter((d) => d.at - start === FIRST_PTO)
    expect(probes).toHaveLength(2)
    const arrival = probes[0]!.deliveredAt!
    const answers = network.between(SERVER, CLIENT).filter((d) => d.at === arrival)
    const seen = network.wire.map((d) => ({ d, packets: lab.decryptor.packets(d.from, d.data) }))
    const answerPackets = seen.filter((s) => answers.includes(s.d)).flatMap((s) => s.packets)
    expect(answerPackets.some((p) => p.type === "initial" && p.frames?.some((f) => f._tag === "Ack"))).toBe(true)
    // Every packet the server counted as sent is on the wire.
    const serverHandle = network.eventsOf(SERVER).find((e) => e._tag === "NewConnection")!.connection
    expect(server.connectionStats(serverHandle)!.packetsSent).toBe(packetsOnWire(network.between(SERVER, CLIENT)))
    expect(client.connectionStats(handle)!.packetsSent).toBe(packetsOnWire(network.between(CLIENT, SERVER)))
  })

  it("client's Finished lost: the client is connected at once, the server only after the client's PTO", () => {
    const lab = lossLab(backend)
    const { network, client } = lab
    const start = network.now
    // Everything the client sends in answer to the server's flight (its Initial ACK and Handshake Finished).
    network.drop = (d) => fromClient(d) && d.index === 1
    client.connect(network.now, SERVER, "localhost")
    expect(network.run(bothConnected(network), 10_000_000)).toBe(true)
    network.runFor(300_000)
    expectCleanHandshake(network)
    expect(lab.connectedAt(CLIENT) - start).toBe(RTT)
    // The client has an RTT sample (20 ms): its Handshake PTO is 20 + max(4 × 10, 1) ms = 60 ms.
    expect(lab.connectedAt(SERVER) - start).toBeGreaterThan(RTT + 60_000)
    expect(lab.connectedAt(SERVER) - start).toBeLessThanOrEqual(RTT + 2 * 60_000 + 2 * RTT)
  })

  it("every ACK-only datagram lost for 1.5 s, with a server flight beyond the amplification limit: completes after the loss ends", () => {
    const lab = lossLab(backend, { server: { certificateChain: testIdentityChain(10) } })
    const { network, client, decryptor } = lab
    const start = network.now
    const dropped: Array<string> = []
    network.drop = (d: DropContext) => {
      const packets = decryptor.packets(d.from, d.data)
      const lose = d.at - start < 1_500_000 && isAckOnly(packets)
      if (lose) dropped.push(`${fromClient(d) ? "C" : "S"} ${describePackets(packets)}`)
      return lose
    }
    client.connect(network.now, SERVER, "localhost")
    expect(network.run(bothConnected(network), 30_000_000)).toBe(true)
    network.runFor(300_000)
    expectCleanHandshake(network)
    expect(dropped.length).toBeGreaterThan(0)
    // The client's ACKs of the server's first flight were among the losses.
    expect(dropped[0]).toMatch(/^C initial\[Ack.*handshake\[Ack/)
    // Nothing but the lost ACKs held it up: a Handshake probe from the client validates its
    // address (RFC 9000 §8.1), so the handshake completes within a few client PTOs.
    expect(lab.connectedAt(SERVER) - start).toBeLessThan(1_500_000)
  })

  it("client to server blacked out for 2 s after its first flight: completes after the black-out, within one backed-off PTO", () => {
    const lab = lossLab(backend)
    const { network, client } = lab
    const start = network.now
    network.drop = (d) => fromClient(d) && d.index > 0 && d.at - start < 2_000_000
    client.connect(network.now, SERVER, "localhost")
    expect(network.run(bothConnected(network), 30_000_000)).toBe(true)
    network.runFor(300_000)
    expectCleanHandshake(network)
    const clientSends = network.between(CLIENT, SERVER)
    const firstAfter = clientSends.find((d) => d.at - start >= 2_000_000)!
    // The client keeps probing (it has not seen its Handshake packets acknowledged: RFC 9002 §6.2.2.1)…
    const probesDuring = clientSends.filter((d) => d.index > 0 && d.at - start < 2_000_000)
    expect(probesDuring.length).toBeGreaterThanOrEqual(4)
    // …with exponential backoff: the gap before the first probe after the black-out is at most
    // twice the one before it.
    const last = probesDuring[probesDuring.length - 1]!
    const beforeLast = probesDuring.filter((d) => d.at < last.at).pop()!
    expect(firstAfter.at - last.at).toBeLessThanOrEqual(2 * (last.at - beforeLast.at))
    expect(lab.connectedAt(SERVER) - firstAfter.at).toBeLessThanOrEqual(2 * RTT)
  })
})

describe("idle timeout while every packet is lost", () => {
  const [, backend] = backends[0]!
  it("a client whose packets all vanish closes with TimedOut after max_idle_timeout (30 s), not later", () => {
    // RFC 9000 §10.1: the idle timer restarts on receiving a packet, and on sending an
    // ack-eliciting packet only if none was sent since the last one was received.
    const lab = lossLab(backend)
    const { network, client } = lab
    network.drop = () => true
    const start = network.now
    const handle = client.connect(network.now, SERVER, "localhost") as number
    network.run(() => network.eventsOf(CLIENT).length > 0, 120_000_000)
    expect(network.eventsOf(CLIENT)).toEqual([{ _tag: "ConnectionClosed", connection: handle, reason: { _tag: "TimedOut" } }])
    expect(network.now - start).toBe(30_000_000)
    // The probes before that: two per PTO, at 1, 3, 7 and 15 s (backoff 999 ms × 2^n).
    expect(network.between(CLIENT, SERVER).map((d) => d.at - start)).toEqual([
      0,
      ...[999_000, 2_997_000, 6_993_000, 14_985_000].flatMap((t) => [t, t])
    ])
    expect(client.connectionCount).toBe(0)
    expect(network.eventsOf(SERVER)).toEqual([])
  })
})
