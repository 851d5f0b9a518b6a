/**
 * What an application-space PTO probe carries (RFC 9002 §6.2.4): new data
 * when there is some ("SHOULD include new data"), else data sent before and
 * not yet acknowledged ("Previously sent data MAY be sent if no new data can
 * be sent"), else a PING. A probe that re-sends the data is what recovers a
 * loss whose every ACK goes missing too (the interop runner's handshakeloss
 * case: a server's response lost, then every ACK-only packet of the client,
 * and the server PINGed with backoff until the idle timeout).
 *
 * Sans-IO endpoints on the lab network of handshakeLab.ts (10 ms each way,
 * virtual clock); targeted drops; every datagram decrypted to check its frames.
 */
import { describe, expect, it } from "vitest"
import { addressKey, type SocketAddress } from "../../src/internal/address.js"
import type { CryptoBackend } from "../../src/internal/crypto/backend.js"
import { TLS_AES_128_GCM_SHA256 } from "../../src/internal/crypto/suite.js"
import type { QuicEndpoint } from "../../src/internal/endpoint.js"
import type { Frame } from "../../src/internal/frame/types.js"
import { QUIC_V1 } from "../../src/internal/packet/version.js"
import { backends } from "../helpers.js"
import {
  bothConnected,
  CLIENT,
  type DropContext,
  isAckOnly,
  keyLogger,
  LabDecryptor,
  type LabDatagram,
  type LabOptions,
  makeLab,
  SERVER,
  type SeenPacket
} from "../support/handshakeLab.js"
import { pattern } from "../support/scenario.js"

const fromClient = (d: { from: SocketAddress }) => addressKey(d.from) === addressKey(CLIENT)
const fromServer = (d: { from: SocketAddress }) => addressKey(d.from) === addressKey(SERVER)

/** One-way delay of the lab link. */
const ONE_WAY = 10_000

type StreamFrame = Extract<Frame, { _tag: "Stream" }>

/** A datagram as sent, with the frames of its packets. */
interface Seen {
  readonly d: LabDatagram
  readonly packets: ReadonlyArray<SeenPacket>
}

const framesOf = (s: Seen): Array<Frame> => s.packets.flatMap((p) => p.frames ?? [])
const streamFrames = (s: Seen, id?: number): Array<StreamFrame> =>
  framesOf(s).filter((f): f is StreamFrame => f._tag === "Stream" && (id === undefined || f.id === id))
const tagsOf = (s: Seen): Array<string> => framesOf(s).map((f) => f._tag).filter((t) => t !== "Padding")
const isAckEliciting = (s: Seen): boolean => framesOf(s).some((f) => f._tag !== "Ack" && f._tag !== "Padding")

/**
 * A lab whose every datagram is decrypted (in the order sent) and offered to
 * `lab.state.drop`; connected, with the handshake settled (HANDSHAKE_DONE and its
 * ACKs delivered), before the test sets its losses.
 */
const probeLab = (backend: CryptoBackend, options: LabOptions = {}) => {
  const log = keyLogger()
  const lab = makeLab(backend, { ...options, client: { cipherSuites: [TLS_AES_128_GCM_SHA256], keyLog: log.keyLog, ...options.client } })
  const { network, client, server } = lab
  const decryptor = new LabDecryptor(backend, QUIC_V1, TLS_AES_128_GCM_SHA256, log)
  const seen: Array<Seen> = []
  const state = { drop: (_d: DropContext, _packets: ReadonlyArray<SeenPacket>): boolean => false }
  let pending: ReadonlyArray<SeenPacket> = []
  network.drop = (d) => {
    pending = decryptor.packets(d.from, d.data)
    return state.drop(d, pending)
  }
  // Pair each datagram with its frames as it is sent (dropped or not).
  const send = network.send.bind(network)
  network.send = (from, to, data) => {
    const datagram = send(from, to, data)
    seen.push({ d: datagram, packets: pending })
    return datagram
  }

  const handlers: Array<(endpoint: QuicEndpoint, event: Parameters<typeof network.onEvent>[1]) => void> = []
  network.onEvent = (endpoint, event) => {
    for (const h of handlers) h(endpoint, event)
  }

  const clientConn = client.connect(network.now, SERVER, "localhost") as number
  expect(network.run(bothConnected(network), 2_000_000)).toBe(true)
  network.runFor(60_000)
  const serverConn = network.eventsOf(SERVER).find((e) => e._tag === "NewConnection")!.connection
  return { network, client, server, clientConn, serverConn, seen, state, handlers }
}

type Lab = ReturnType<typeof probeLab>

/** What one side read of a stream, and when it saw the FIN. */
class Reader {
  readonly chunks: Array<Uint8Array> = []
  finishedAt: number | undefined
  readonly errors: Array<string> = []
  constructor(readonly lab: Lab, readonly endpoint: QuicEndpoint, readonly conn: () => number, readonly stream: () => number) {
    lab.handlers.push((endpoint, event) => {
      if (endpoint !== this.endpoint || event._tag !== "StreamReadable" || event.stream !== this.stream()) return
      this.read()
    })
  }
  read(): void {
    for (;;) {
      const chunk = this.endpoint.streamRecv(this.lab.network.now, this.conn(), this.stream(), 1 << 16)
      if ("_tag" in chunk) {
        if (chunk._tag !== "ReadBlocked") this.errors.push(chunk._tag)
        return
      }
      if (chunk.data.length > 0) this.chunks.push(chunk.data.slice())
      if (chunk.finished) {
        this.finishedAt ??= this.lab.network.now
        return
      }
      if (chunk.data.length === 0) return
    }
  }
  get bytes(): Uint8Array {
    return Buffer.concat(this.chunks)
  }
}

/** The server datagrams sent from index `from` of `lab.seen` on. */
const serverSends = (lab: Lab, from = 0): Array<Seen> => lab.seen.slice(from).filter((s) => fromServer(s.d))
const clientSends = (lab: Lab, from = 0): Array<Seen> => lab.seen.slice(from).filter((s) => fromClient(s.d))

/** Ack-eliciting datagrams grouped by the instant they left (a PTO's probes leave together). */
const byInstant = (sends: ReadonlyArray<Seen>): Array<Array<Seen>> => {
  const groups: Array<Array<Seen>> = []
  for (const s of sends) {
    const last = groups[groups.length - 1]
    if (last !== undefined && last[0]!.d.at === s.d.at) last.push(s)
    else groups.push([s])
  }
  return groups
}

const noTransportErrors = (lab: Lab) => {
  expect(lab.network.eventsOf(CLIENT).filter((e) => e._tag === "ConnectionClosed")).toEqual([])
  expect(lab.network.eventsOf(SERVER).filter((e) => e._tag === "ConnectionClosed")).toEqual([])
}

const REQUEST = new TextEncoder().encode("GET /1KiB\r\n")

/**
 * The client sends a request (a bidirectional stream with FIN) and the server
 * reads it; returns once the server's ACK of it has arrived, so that nothing
 * is in flight on either side. The caller writes the response.
 */
const exchange = (lab: Lab) => {
  const { network, client, server, clientConn, serverConn } = lab
  const stream = client.openBi(network.now, clientConn) as number
  expect(client.streamSend(network.now, clientConn, stream, REQUEST)).toBe(REQUEST.length)
  client.streamFinish(network.now, clientConn, stream)
  const request = new Reader(lab, server, () => serverConn, () => stream)
  const response = new Reader(lab, client, () => clientConn, () => stream)
  network.pump(client)
  expect(network.run(() => request.finishedAt !== undefined, 1_000_000)).toBe(true)
  network.runFor(60_000)
  expect(Buffer.compare(request.bytes, REQUEST)).toBe(0)
  return { stream, request, response }
}

describe.each(backends)("PTO probes in the application space on the %s backend", (_name, backend) => {
  it("a lost response whose every ACK is lost too: the server's first probe re-sends it, the client gets it whole within one PTO", () => {
    // No PMTU search: only the exchange below is on the wire.
    const lab = probeLab(backend, { transport: { mtuDiscovery: false } })
    const { network, server, serverConn } = lab
    const RESPONSE = pattern(1024)
    const { stream, response } = exchange(lab)

    // From now on: the response's two packets (the data, then the FIN alone, as an
    // application that finishes after writing produces), and every ACK-only datagram of
    // the client, are lost.
    const mark = lab.seen.length
    let responsePackets = 0
    lab.state.drop = (d, packets) => {
      if (fromClient(d)) return isAckOnly(packets)
      const carriesResponse = packets.some((p) => p.frames?.some((f) => f._tag === "Stream" && f.id === stream))
      return carriesResponse && responsePackets++ < 2
    }
    const respondedAt = network.now
    expect(server.streamSend(network.now, serverConn, stream, RESPONSE)).toBe(RESPONSE.length)
    network.pump(server)
    server.streamFinish(network.now, serverConn, stream)
    network.pump(server)
    network.runFor(2_000_000)

    const sent = serverSends(lab, mark)
    // The two originals, as described, both lost.
    const originals = sent.filter((s) => streamFrames(s, stream).length > 0).slice(0, 2)
    expect(originals.map((s) => s.d.fate)).toEqual(["dropped", "dropped"])
    expect(originals.map((s) => s.d.at)).toEqual([respondedAt, respondedAt])
    expect(streamFrames(originals[0]!, stream).map((f) => [f.offset, f.data.length, f.fin])).toEqual([[0, 1024, false]])
    expect(streamFrames(originals[1]!, stream).map((f) => [f.offset, f.data.length, f.fin])).toEqual([[1024, 0, true]])

    // The first PTO: two probes (RFC 9002 §6.2.4), the first with the data of both lost
    // packets (the response at its offsets, FIN included), the second a PING.
    const after = sent.filter((s) => s.d.at > respondedAt && isAckEliciting(s))
    const firstProbe = byInstant(after)[0]!
    expect(firstProbe.map(tagsOf)).toEqual([["Stream"], ["Ping"]])
    expect(streamFrames(firstProbe[0]!, stream).map((f) => [f.offset, f.data.length, f.fin])).toEqual([[0, 1024, true]])
    for (const s of firstProbe) expect(s.d.fate).toBe("delivered")

    // The client has the response, byte for byte, with its FIN, one way after the probe
    // left: no ACK of the server's ever arrived.
    expect(Buffer.compare(response.bytes, RESPONSE)).toBe(0)
    expect(response.finishedAt).toBe(firstProbe[0]!.d.at + ONE_WAY)
    expect(response.errors).toEqual([])
    // Within a few PTOs (the PTO here is under 100 ms), far from the 30 s idle timeout.
    expect(firstProbe[0]!.d.at - respondedAt).toBeLessThan(100_000)
    // Every datagram the client sent since was ACK-only, and lost: the server alone recovered.
    const fromTheClient = clientSends(lab, mark)
    expect(fromTheClient.length).toBeGreaterThan(0)
    for (const s of fromTheClient) expect(s.d.fate).toBe("dropped")

    // The old failure cannot come back: while the response goes unacknowledged (all ACKs
    // lost, for 2 s), every PTO re-sends stream data; never a run of PING-only probes.
    const ptos = byInstant(after)
    expect(ptos.length).toBeGreaterThanOrEqual(4)
    for (const probes of ptos) expect(probes.some((s) => streamFrames(s, stream).length > 0)).toBe(true)
    noTransportErrors(lab)
  })

  it("a probe with new data pending carries new data, not a retransmission (RFC 9002 §6.2.4: SHOULD include new data)", () => {
    const lab = probeLab(backend, { transport: { mtuDiscovery: false } })
    const { network, client, server, clientConn, serverConn } = lab
    const UPLOAD = pattern(200_000)
    const stream = client.openBi(network.now, clientConn) as number
    const upload = new Reader(lab, server, () => serverConn, () => stream)
    let written = 0
    const write = () => {
      while (written < UPLOAD.length) {
        const n = client.streamSend(network.now, clientConn, stream, UPLOAD.subarray(written, written + 65_536))
        if (typeof n !== "number" || n === 0) return
        written += n
      }
      client.streamFinish(network.now, clientConn, stream)
    }
    lab.handlers.push((endpoint, event) => {
      if (endpoint === client && event._tag === "StreamWritable" && event.stream === stream && written < UPLOAD.length) write()
    })
    // Every ACK of the server is lost until the client's first PTO: the client fills its
    // congestion window and then has new data it may not send, but for probes.
    let acksLost = true
    lab.state.drop = (d, packets) => acksLost && fromServer(d) && isAckOnly(packets)
    const mark = lab.seen.length
    const start = network.now
    write()
    network.pump(client)
    const ackEliciting = () => clientSends(lab, mark).filter(isAckEliciting)
    expect(network.run(() => byInstant(ackEliciting()).some((g) => g[0]!.d.at > start + 20_000), 2_000_000)).toBe(true)
    acksLost = false

    const groups = byInstant(ackEliciting())
    const probes = groups.find((g) => g[0]!.d.at > start + 20_000)!
    const before = groups.filter((g) => g[0]!.d.at < probes[0]!.d.at).flat()
    const sentBefore = before.flatMap((s) => streamFrames(s, stream))
    // Before the PTO: a whole window of data from offset 0, contiguous, nothing sent twice.
    let end = 0
    for (const f of sentBefore) {
      expect(f.offset).toBe(end)
      end += f.data.length
    }
    expect(end).toBeGreaterThan(10_000)
    expect(end).toBeLessThan(UPLOAD.length)
    // The PTO: two probes, each a full STREAM frame of new data, continuing where the
    // window stopped; none of it re-sends the (unacknowledged) offset 0.
    expect(probes).toHaveLength(2)
    const probed = probes.map((s) => streamFrames(s, stream))
    for (const frames of probed) expect(frames).toHaveLength(1)
    expect(probed[0]![0]!.offset).toBe(end)
    expect(probed[1]![0]!.offset).toBe(end + probed[0]![0]!.data.length)
    for (const frames of probed) expect(frames[0]!.data.length).toBeGreaterThan(1000)

    // With ACKs flowing again the upload completes, byte for byte.
    expect(network.run(() => upload.finishedAt !== undefined, 10_000_000)).toBe(true)
    expect(Buffer.compare(upload.bytes, UPLOAD)).toBe(0)
    expect(upload.errors).toEqual([])
    noTransportErrors(lab)
  })

  it("with only a PMTU probe in flight, the PTO probe is a PING: the probe's padding is not sent again", () => {
    const lab = probeLab(backend)
    const { network, server, serverConn } = lab
    // An exchange first, all acknowledged: stream data that must not come back either.
    const RESPONSE = pattern(1024)
    const { stream, response } = exchange(lab)
    server.streamSend(network.now, serverConn, stream, RESPONSE)
    server.streamFinish(network.now, serverConn, stream)
    network.pump(server)
    network.runFor(60_000)
    expect(Buffer.compare(response.bytes, RESPONSE)).toBe(0)
    expect(response.finishedAt).toBeDefined()

    // The server's next PMTU probe (RFC 8899: PING and PADDING above 1200 bytes) is lost.
    const mark = lab.seen.length
    let lostProbe: Seen | undefined
    lab.state.drop = (d, packets) => {
      if (lostProbe !== undefined || !fromServer(d) || d.data.length <= 1200) return false
      lostProbe = { d: { ...d, id: -1, fate: "dropped" }, packets }
      return true
    }
    expect(network.run(() => lostProbe !== undefined, 2_000_000)).toBe(true)
    lab.state.drop = () => false
    expect(tagsOf(lostProbe!)).toEqual(["Ping"])
    const lostAt = network.now
    // Nothing else of the server's is unacknowledged: the PTO armed by the probe fires…
    expect(network.run(() => serverSends(lab, mark).some((s) => s.d.at > lostAt && isAckEliciting(s)), 2_000_000)).toBe(true)
    network.runFor(1_000)
    const probes = byInstant(serverSends(lab, mark).filter((s) => s.d.at > lostAt && isAckEliciting(s)))[0]!
    // …and its probes are PINGs (two: the probe counts as ack-eliciting in flight; the
    // first with the ACK it owes), small, with no STREAM frame and no padding up to the
    // PMTU probe's size.
    expect(probes.map((s) => tagsOf(s).filter((t) => t !== "Ack"))).toEqual([["Ping"], ["Ping"]])
    for (const s of probes) {
      expect(s.d.data.length).toBeLessThan(100)
      expect(framesOf(s).some((f) => f._tag === "Padding" && f.length > 40)).toBe(false)
    }
    network.runFor(1_000_000)
    expect(serverSends(lab, mark).flatMap((s) => streamFrames(s))).toEqual([])
    noTransportErrors(lab)
  })

  it("data re-sent by a probe and then acknowledged in its first packet is not sent a third time", () => {
    const lab = probeLab(backend, { transport: { mtuDiscovery: false } })
    const { network, server, serverConn } = lab
    const RESPONSE = pattern(1024)
    const { stream, response } = exchange(lab)
    // The client's ACK of the response is held back (delivered later, below), and every
    // other ACK-only datagram of the client is lost meanwhile.
    let heldAck: Uint8Array | undefined
    let releasing = false
    lab.state.drop = (d, packets) => {
      if (releasing || !fromClient(d) || !isAckOnly(packets)) return false
      heldAck ??= d.data.slice()
      return true
    }
    const mark = lab.seen.length
    const respondedAt = network.now
    server.streamSend(network.now, serverConn, stream, RESPONSE)
    server.streamFinish(network.now, serverConn, stream)
    network.pump(server)
    // The server's first PTO re-sends the response: the client gets it twice.
    const withResponse = () => serverSends(lab, mark).filter((s) => streamFrames(s, stream).length > 0)
    expect(network.run(() => withResponse().some((s) => s.d.at > respondedAt), 1_000_000)).toBe(true)
    network.runFor(ONE_WAY + 5_000)
    const [original, again] = [withResponse().filter((s) => s.d.at === respondedAt), withResponse().filter((s) => s.d.at > respondedAt)]
    expect(original.flatMap((s) => streamFrames(s, stream)).map((f) => [f.offset, f.data.length, f.fin])).toEqual([[0, 1024, false], [1024, 0, true]])
    expect(again.flatMap((s) => streamFrames(s, stream)).map((f) => [f.offset, f.data.length, f.fin])).toEqual([[0, 1024, true]])
    for (const s of [...original, ...again]) expect(s.d.fate).toBe("delivered")
    expect(Buffer.compare(response.bytes, RESPONSE)).toBe(0)
    const finishedAt = response.finishedAt
    expect(finishedAt).toBe(respondedAt + ONE_WAY)

    // Now the client's first ACK arrives: it acknowledges the original packets only; the
    // probe's copy is still in flight (its ACK lost).
    expect(heldAck).toBeDefined()
    releasing = true
    network.send(CLIENT, SERVER, heldAck!)
    releasing = false
    expect(network.run(() => network.eventsOf(SERVER).some((e) => e._tag === "StreamFinished" && e.stream === stream), 100_000)).toBe(true)
    // Further PTOs (the copy unacknowledged, its ACKs lost for 1 s) and then ACKs again:
    // the acknowledged range is never sent a third time, whether the copy is probed
    // again or declared lost.
    network.runFor(1_000_000)
    lab.state.drop = () => false
    network.runFor(1_000_000)
    const probesSince = serverSends(lab, mark).filter((s) => s.d.at > again[0]!.d.at && isAckEliciting(s))
    expect(probesSince.length).toBeGreaterThan(0)
    for (const s of probesSince) expect(tagsOf(s)).not.toContain("Stream")
    expect(withResponse()).toHaveLength(original.length + again.length)
    // The client took the duplicate in its stride: the response once, finished once.
    expect(Buffer.compare(response.bytes, RESPONSE)).toBe(0)
    expect(response.finishedAt).toBe(finishedAt)
    expect(response.errors).toEqual([])
    noTransportErrors(lab)
  })
})
