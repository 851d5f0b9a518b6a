import { describe, expect, it } from "vitest"
import type { SocketAddress } from "../../src/internal/address.js"
import { addressKey } from "../../src/internal/address.js"
import type { QuicEndpoint } from "../../src/internal/endpoint.js"
import { TransportErrorCode } from "../../src/internal/errors.js"
import { backends } from "../helpers.js"
import { CLIENT, type LinkModel, makePair, type Network, perfectLink, SERVER } from "../support/link.js"
import { addEndpoint, dispatch, EventClock, eventsTagged, firstConnection, handshake, makeAsymmetricPair } from "../support/scenario.js"

/**
 * Connection lifecycle (RFC 9000 §10): idle timeout, keep-alive, immediate
 * close and the closing/draining periods, stateless reset.
 */

const [, backend] = backends[0]!
const INVALID = { _tag: "InvalidConnection" }
/** The peer's max_ack_delay (default 25 ms), part of every PTO after the handshake. */
const MAX_ACK_DELAY = 25_000

/** RFC 9002 §6.2.1 with rttvar unknown: a lower bound of the PTO. */
const ptoLowerBound = (endpoint: QuicEndpoint, conn: number) => endpoint.connectionStats(conn)!.smoothedRtt + MAX_ACK_DELAY

/** Arrival time of the last datagram delivered to `to` (perfect link: sent + delay), and of the last one `from` sent. */
const lastArrival = (network: Network, to: SocketAddress, before = Infinity) =>
  Math.max(...network.wire.filter((o) => addressKey(o.to) === addressKey(to) && o.fate === "delivered" && o.at + network.model.delay <= before).map((o) => o.at + network.model.delay))
const lastSent = (network: Network, from: SocketAddress, before = Infinity) =>
  Math.max(...network.wire.filter((o) => addressKey(o.from) === addressKey(from) && o.at <= before).map((o) => o.at))

describe("idle timeout (RFC 9000 §10.1)", () => {
  it("times out each of 60 connections on its own deadline (the endpoint's timer heap)", () => {
    const { network, client, server } = makeAsymmetricPair(backend, perfectLink, { clientTransport: { maxIdleTimeout: 2000 } })
    const clock = new EventClock(network)
    dispatch(network, clock.handle)
    const opened: Array<{ readonly handle: number; readonly at: number }> = []
    for (let i = 0; i < 60; i++) {
      opened.push({ handle: handshake(network, client), at: network.now })
      // Staggered: every connection's last activity, hence its deadline, differs.
      network.run(() => false, 5_000)
    }
    expect(client.connectionCount).toBe(60)
    expect(network.run(() => client.connectionCount === 0 && server.connectionCount === 0, 60_000_000)).toBe(true)
    const closed = network.eventsOf(CLIENT).filter((e) => e._tag === "ConnectionClosed")
    expect(closed).toHaveLength(60)
    expect(closed.every((e) => e._tag === "ConnectionClosed" && e.reason._tag === "TimedOut")).toBe(true)
    expect(network.eventsOf(SERVER).filter((e) => e._tag === "ConnectionClosed" && e.reason._tag === "TimedOut")).toHaveLength(60)
    // In the order they were opened, none before its 2 s of silence.
    const closedOrder = closed.map((e) => (e._tag === "ConnectionClosed" ? e.connection : -1))
    expect(closedOrder).toEqual(opened.map((o) => o.handle))
    for (const { handle, at } of opened) {
      const closedAt = clock.log.find((e) => e.endpoint === client && e.event._tag === "ConnectionClosed" && e.event.connection === handle)!.at
      expect(closedAt - at).toBeGreaterThanOrEqual(2_000_000)
      expect(closedAt - at).toBeLessThan(2_500_000)
    }
  })

  it("both sides close with TimedOut after the negotiated 2 s of silence, and the connections are reaped", () => {
    // Only the client asks for 2 s; the server's 30 s default loses the negotiation (min of the two).
    const { network, client, server } = makeAsymmetricPair(backend, perfectLink, { clientTransport: { maxIdleTimeout: 2000 } })
    const clock = new EventClock(network)
    dispatch(network, clock.handle)
    network.recordWire = true
    const conn = handshake(network, client)
    const serverConn = firstConnection(network, SERVER)
    expect(client.connectionCount).toBe(1)
    expect(server.connectionCount).toBe(1)
    const ptoClient = ptoLowerBound(client, conn)
    const ptoServer = ptoLowerBound(server, serverConn)

    expect(network.run(() => client.connectionCount === 0 && server.connectionCount === 0, 60_000_000)).toBe(true)
    expect(eventsTagged(network, CLIENT, "ConnectionClosed")).toEqual([{ _tag: "ConnectionClosed", connection: conn, reason: { _tag: "TimedOut" } }])
    expect(eventsTagged(network, SERVER, "ConnectionClosed")).toEqual([{ _tag: "ConnectionClosed", connection: serverConn, reason: { _tag: "TimedOut" } }])
    for (const [endpoint, address, pto] of [[client, CLIENT, ptoClient], [server, SERVER, ptoServer]] as const) {
      const closedAt = clock.timeOf(endpoint, "ConnectionClosed")!
      const heard = lastArrival(network, address, closedAt)
      const spoke = lastSent(network, address, closedAt)
      expect(closedAt - heard).toBeGreaterThanOrEqual(2_000_000)
      expect(closedAt - heard).toBeGreaterThanOrEqual(3 * pto)
      // No later than 2 s after the last thing this side did (its timer may restart on sending, §10.1).
      expect(closedAt).toBeLessThanOrEqual(Math.max(heard, spoke) + 2_000_000)
    }
    // §10.1: an idle timeout is silent: nothing is sent when it fires.
    const firstClose = Math.min(clock.timeOf(client, "ConnectionClosed")!, clock.timeOf(server, "ConnectionClosed")!)
    expect(network.wire.filter((o) => o.at >= firstClose)).toEqual([])
    // The slots are gone: application calls are refused.
    expect(client.openBi(network.now, conn)).toEqual(INVALID)
    expect(server.openBi(network.now, serverConn)).toEqual(INVALID)
    expect(client.connectionStats(conn)).toBeUndefined()
    expect(client.nextTimerDeadline()).toBeUndefined()
    expect(server.nextTimerDeadline()).toBeUndefined()
    // Nothing routes to them any more: every CID they issued, and the client's first DCID, is gone.
    for (const endpoint of [client, server]) {
      const routes = endpoint as unknown as { byCid: Map<string, number>; clientDcidOf: Map<number, string> }
      expect(routes.byCid.size).toBe(0)
      expect(routes.clientDcidOf.size).toBe(0)
    }
  })

  it("on a 1 s RTT path the timeout stretches to at least 3 PTO (§10.1) instead of 2 s", () => {
    const { network, client, server } = makePair(backend, { ...perfectLink, delay: 500_000 }, { transport: { maxIdleTimeout: 2000 } })
    const clock = new EventClock(network)
    dispatch(network, clock.handle)
    network.recordWire = true
    const conn = handshake(network, client, 20_000_000)
    const serverConn = firstConnection(network, SERVER)
    const ptoClient = ptoLowerBound(client, conn)
    const ptoServer = ptoLowerBound(server, serverConn)
    expect(3 * ptoClient).toBeGreaterThan(2_000_000)
    expect(network.run(() => client.connectionCount === 0 && server.connectionCount === 0, 120_000_000)).toBe(true)
    const closedAt = clock.timeOf(client, "ConnectionClosed")!
    expect(closedAt - lastArrival(network, CLIENT, closedAt)).toBeGreaterThanOrEqual(3 * ptoClient)
    const serverClosedAt = clock.timeOf(server, "ConnectionClosed")!
    expect(serverClosedAt - lastArrival(network, SERVER, serverClosedAt)).toBeGreaterThanOrEqual(3 * ptoServer)
    expect(eventsTagged(network, SERVER, "ConnectionClosed")).toEqual([{ _tag: "ConnectionClosed", connection: serverConn, reason: { _tag: "TimedOut" } }])
  })

  it("keep-alive PINGs every 500 ms hold an otherwise idle connection open for 20 s", () => {
    const { network, client, server } = makeAsymmetricPair(backend, perfectLink, {
      clientTransport: { maxIdleTimeout: 2000, keepAliveInterval: 500_000 },
      serverTransport: { maxIdleTimeout: 2000 }
    })
    const conn = handshake(network, client)
    const serverConn = firstConnection(network, SERVER)
    const pingsBefore = server.connectionStats(serverConn)!.frames["Ping"] ?? 0
    const start = network.now
    network.run(() => false, 20_000_000)
    expect(network.now - start).toBeGreaterThanOrEqual(19_500_000)
    expect(eventsTagged(network, CLIENT, "ConnectionClosed")).toEqual([])
    expect(eventsTagged(network, SERVER, "ConnectionClosed")).toEqual([])
    expect(client.connectionCount).toBe(1)
    expect(server.connectionCount).toBe(1)
    const pings = (server.connectionStats(serverConn)!.frames["Ping"] ?? 0) - pingsBefore
    // One every 500 ms: no gap long enough to time out, and no flood (a few
    // more PINGs are the PMTU probes sent after the handshake).
    expect(pings).toBeGreaterThanOrEqual(38)
    expect(pings).toBeLessThanOrEqual(46)
    expect(typeof client.openBi(network.now, conn)).toBe("number")
  })

  // REGRESSION (fails): every ack-eliciting send (each PTO probe) pushes the idle deadline out again.
  it("a peer that vanished: the sender times out 2 s after its first unanswered packet, PTO probes do not extend it (§10.1)", () => {
    const { network, client } = makePair(backend, perfectLink, { transport: { maxIdleTimeout: 2000 } })
    const clock = new EventClock(network)
    dispatch(network, clock.handle)
    network.recordWire = true
    const conn = handshake(network, client)
    network.run(() => false, 200_000)
    // The server disappears (its datagrams and everything sent to it are lost).
    network.rebind(SERVER, { address: "10.9.9.9", port: 1 })
    const stream = client.openBi(network.now, conn) as number
    expect(client.streamSend(network.now, conn, stream, new Uint8Array(1000).fill(1))).toBe(1000)
    const firstUnanswered = network.now
    network.pump(client)
    const heard = lastArrival(network, CLIENT)
    expect(network.run(() => client.connectionCount === 0, 60_000_000)).toBe(true)
    const closedAt = clock.timeOf(client, "ConnectionClosed")!
    expect(eventsTagged(network, CLIENT, "ConnectionClosed")).toEqual([{ _tag: "ConnectionClosed", connection: conn, reason: { _tag: "TimedOut" } }])
    // Several probes went out into the void…
    expect(network.wire.filter((o) => o.at > firstUnanswered && addressKey(o.from) === addressKey(CLIENT)).length).toBeGreaterThanOrEqual(3)
    // …but the timer restarted only at the first ack-eliciting packet after the last receipt.
    expect(closedAt).toBeGreaterThanOrEqual(heard + 2_000_000)
    expect(closedAt).toBeLessThanOrEqual(firstUnanswered + 2_000_000)
  })
})

describe("immediate close (RFC 9000 §10.2)", () => {
  it("closeConnection: LocallyClosed here once, ApplicationClosed{42, \"bye\"} there, calls refused, both reaped after 3 PTO", () => {
    const { network, client, server } = makePair(backend)
    const clock = new EventClock(network)
    // How much was on the wire when the server learnt of the close (events are polled before it sends).
    let wireAtServerClose = -1
    dispatch(network, clock.handle, (endpoint, event) => {
      if (endpoint === server && event._tag === "ConnectionClosed") wireAtServerClose = network.wire.length
    })
    network.recordWire = true
    const conn = handshake(network, client)
    const serverConn = firstConnection(network, SERVER)
    const stream = client.openBi(network.now, conn) as number
    expect(typeof stream).toBe("number")
    network.run(() => false, 100_000)
    const pto = ptoLowerBound(client, conn)

    const closeAt = network.now
    const wireAtClose = network.wire.length
    client.closeConnection(network.now, conn, 42n, "bye")
    client.closeConnection(network.now, conn, 43n, "again")
    network.pump(client)
    client.closeConnection(network.now, conn, 44n, "and again")
    network.pump(client)
    expect(eventsTagged(network, CLIENT, "ConnectionClosed")).toEqual([
      { _tag: "ConnectionClosed", connection: conn, reason: { _tag: "LocallyClosed", code: 42n, reason: "bye" } }
    ])
    // ARCHITECTURE.md §1: a closed connection refuses application calls but keeps its slot until drained.
    expect(client.connectionCount).toBe(1)
    expect(client.openBi(network.now, conn)).toEqual(INVALID)
    expect(client.openUni(network.now, conn)).toEqual(INVALID)
    expect(client.streamSend(network.now, conn, stream, new Uint8Array(10))).toEqual(INVALID)
    expect(client.streamRecv(network.now, conn, stream, 100)).toEqual(INVALID)
    expect(client.streamFinish(network.now, conn, stream)).toEqual(INVALID)
    expect(client.sendDatagram(network.now, conn, new Uint8Array(10), false)).toEqual(INVALID)
    expect(client.maxDatagramSize(conn)).toEqual(INVALID)
    expect(client.initiateKeyUpdate(network.now, conn)).toEqual(INVALID)

    expect(network.run(() => eventsTagged(network, SERVER, "ConnectionClosed").length > 0, 1_000_000)).toBe(true)
    expect(eventsTagged(network, SERVER, "ConnectionClosed")).toEqual([
      { _tag: "ConnectionClosed", connection: serverConn, reason: { _tag: "ApplicationClosed", code: 42n, reason: "bye" } }
    ])
    expect(server.openBi(network.now, serverConn)).toEqual(INVALID)
    expect(server.connectionCount).toBe(1)

    expect(network.run(() => client.connectionCount === 0 && server.connectionCount === 0, 10_000_000)).toBe(true)
    // Reaped only after the closing / draining period: three PTOs (§10.2).
    expect(network.now - closeAt).toBeGreaterThanOrEqual(3 * pto)
    expect(network.now - closeAt).toBeLessThan(2_000_000)
    // §10.2.2: the draining server sent nothing after it received CONNECTION_CLOSE.
    expect(wireAtServerClose).toBeGreaterThan(0)
    expect(network.wire.slice(wireAtServerClose).filter((o) => addressKey(o.from) === addressKey(SERVER))).toEqual([])
    // §10.2.1: the client sent CONNECTION_CLOSE once, then at most once per packet that reached it.
    const arrivedAfterClose = network.wire.filter((o) => addressKey(o.from) === addressKey(SERVER) && o.at + perfectLink.delay > closeAt).length
    const closes = network.wire.slice(wireAtClose).filter((o) => addressKey(o.from) === addressKey(CLIENT)).length
    expect(closes).toBeGreaterThanOrEqual(1)
    expect(closes).toBeLessThanOrEqual(1 + arrivedAfterClose)
    expect(eventsTagged(network, CLIENT, "ConnectionClosed")).toHaveLength(1)
    expect(eventsTagged(network, SERVER, "ConnectionClosed")).toHaveLength(1)
    expect(client.nextTimerDeadline()).toBeUndefined()
  })

  it("closing endpoint answers later packets with CONNECTION_CLOSE again (§10.2.1), not those the peer sent before its close could arrive", () => {
    const model: { -readonly [K in keyof LinkModel]: LinkModel[K] } = { ...perfectLink }
    const { network, client, server } = makePair(backend, model)
    network.recordWire = true
    const conn = handshake(network, client)
    const serverConn = firstConnection(network, SERVER)
    network.run(() => false, 100_000)
    const minRtt = client.connectionStats(conn)!.minRtt
    expect(minRtt).toBeGreaterThan(0)
    // The server has data in flight towards the client when the client closes.
    const stream = server.openBi(network.now, serverConn) as number
    expect(server.streamSend(network.now, serverConn, stream, new Uint8Array(5000).fill(3))).toBe(5000)
    network.pump(server)
    const closeAt = network.now
    const wireAtClose = network.wire.length
    client.closeConnection(network.now, conn, 7n, "")
    // The first CONNECTION_CLOSE is lost: the server goes on, and sends again at its PTO.
    model.loss = 1
    network.pump(client)
    model.loss = 0
    expect(network.run(() => client.connectionCount === 0 && server.connectionCount === 0, 10_000_000)).toBe(true)

    const arrival = (o: { readonly at: number }) => o.at + model.delay
    const arrivedAfterClose = network.wire.filter((o) => addressKey(o.from) === addressKey(SERVER) && arrival(o) > closeAt)
    const closes = network.wire.slice(wireAtClose).filter((o) => addressKey(o.from) === addressKey(CLIENT))
    // Sent before the close could reach the server: not answered.
    const inFlight = arrivedAfterClose.filter((o) => arrival(o) < closeAt + minRtt)
    expect(inFlight.length).toBeGreaterThan(0)
    expect(closes[0]!.fate).toBe("lost")
    expect(closes.length).toBeGreaterThanOrEqual(2)
    expect(closes[1]!.at).toBeGreaterThanOrEqual(closeAt + minRtt)
    // Every later CONNECTION_CLOSE answers a server packet arriving then, one at most for each.
    for (const close of closes.slice(1)) expect(arrivedAfterClose.some((o) => arrival(o) === close.at)).toBe(true)
    expect(closes.length).toBeLessThanOrEqual(1 + arrivedAfterClose.length - inFlight.length)
    expect(eventsTagged(network, SERVER, "ConnectionClosed")[0]!.reason).toEqual({ _tag: "ApplicationClosed", code: 7n, reason: "" })
  })

  it("closing during the handshake sends APPLICATION_ERROR in Initial packets (§10.2.3)", () => {
    const { network, client, server } = makePair(backend)
    const conn = client.connect(network.now, SERVER, "localhost") as number
    client.closeConnection(network.now, conn, 42n, "secret reason")
    network.pump(client)
    expect(eventsTagged(network, CLIENT, "ConnectionClosed")).toEqual([
      { _tag: "ConnectionClosed", connection: conn, reason: { _tag: "LocallyClosed", code: 42n, reason: "secret reason" } }
    ])
    expect(network.run(() => client.connectionCount === 0 && server.connectionCount === 0, 10_000_000)).toBe(true)
    const closed = eventsTagged(network, SERVER, "ConnectionClosed")
    expect(closed).toHaveLength(1)
    expect(closed[0]!.reason).toEqual({
      _tag: "TransportError",
      code: TransportErrorCode.APPLICATION_ERROR,
      frameType: 0,
      reason: "",
      remote: true
    })
  })

  it("closeConnection on an unknown handle does nothing", () => {
    const { network, client } = makePair(backend)
    client.closeConnection(network.now, 77, 1n, "x")
    network.pump(client)
    expect(network.eventsOf(CLIENT)).toEqual([])
  })
})

describe("stateless reset (RFC 9000 §10.3)", () => {
  const restartServer = (network: Network, secretKey: Uint8Array) =>
    addEndpoint(network, backend, SERVER, { role: "server", server: { secretKey }, transport: { maxIdleTimeout: 5000 }, seed: 99 })

  it("a restarted server with the same secret resets the connection; the client closes with Reset", () => {
    const { network, client } = makePair(backend, perfectLink, { transport: { maxIdleTimeout: 5000 } })
    const clock = new EventClock(network)
    dispatch(network, clock.handle)
    network.recordWire = true
    const conn = handshake(network, client)
    network.run(() => false, 100_000)
    const fresh = restartServer(network, new Uint8Array(32).fill(7))
    expect(fresh.connectionCount).toBe(0)
    const stream = client.openBi(network.now, conn) as number
    const sendAt = network.now
    expect(client.streamSend(network.now, conn, stream, new Uint8Array(100).fill(1))).toBe(100)
    network.pump(client)
    expect(network.run(() => client.connectionCount === 0, 10_000_000)).toBe(true)
    expect(eventsTagged(network, CLIENT, "ConnectionClosed")).toEqual([{ _tag: "ConnectionClosed", connection: conn, reason: { _tag: "Reset" } }])
    // One round trip: the first packet to the fresh server drew the reset.
    expect(clock.timeOf(client, "ConnectionClosed")! - sendAt).toBe(2 * perfectLink.delay)
    // Every datagram the client sent at that moment drew one reset (nothing is rate-limited at this scale).
    const triggers = network.wire.filter((o) => o.at === sendAt && addressKey(o.from) === addressKey(CLIENT))
    const resets = network.wire.filter((o) => o.at === sendAt + perfectLink.delay && addressKey(o.from) === addressKey(SERVER))
    expect(triggers.length).toBeGreaterThanOrEqual(1)
    expect(resets).toHaveLength(triggers.length)
    resets.forEach((reset, i) => {
      // §10.3: looks like a short-header packet, is smaller than what triggered it, at least 21 bytes.
      expect(reset.data[0]! & 0xc0).toBe(0x40)
      expect(reset.data.length).toBeLessThan(triggers[i]!.data.length)
      expect(reset.data.length).toBeGreaterThanOrEqual(21)
    })
    expect(fresh.connectionCount).toBe(0)
    expect(eventsTagged(network, SERVER, "NewConnection")).toEqual([])
  })

  it("a reset carrying the wrong token (different secret) is ignored: the client times out instead", () => {
    const { network, client } = makePair(backend, perfectLink, { transport: { maxIdleTimeout: 5000 } })
    network.recordWire = true
    const conn = handshake(network, client)
    network.run(() => false, 100_000)
    const fresh = restartServer(network, new Uint8Array(32).fill(9))
    const stream = client.openBi(network.now, conn) as number
    const sendAt = network.now
    expect(client.streamSend(network.now, conn, stream, new Uint8Array(100).fill(1))).toBe(100)
    network.pump(client)
    expect(network.run(() => client.connectionCount === 0, 60_000_000)).toBe(true)
    expect(eventsTagged(network, CLIENT, "ConnectionClosed")).toEqual([{ _tag: "ConnectionClosed", connection: conn, reason: { _tag: "TimedOut" } }])
    // Resets did arrive (and were not taken)…
    expect(network.wire.filter((o) => o.at >= sendAt && addressKey(o.from) === addressKey(SERVER)).length).toBeGreaterThan(0)
    expect(fresh.connectionCount).toBe(0)
    // …and no reset ping-pong (RFC 9000 §10.3.3): every reset the server sends is
    // smaller than a datagram of the client's that it answers, so any exchange of
    // resets shrinks to nothing, and the wire falls silent once the client gave up.
    const after = network.wire.filter((o) => o.at >= sendAt)
    // (The old server may have sent a last datagram at the very moment it was replaced.)
    const fromServer = after.filter((o) => addressKey(o.from) === addressKey(SERVER) && o.at > sendAt)
    for (const reset of fromServer) {
      expect(reset.data.length).toBeLessThanOrEqual(43)
      const answered = after.filter((o) => addressKey(o.from) === addressKey(CLIENT) && o.at === reset.at - perfectLink.delay)
      expect(answered.some((o) => o.data.length > reset.data.length)).toBe(true)
    }
    const last = Math.max(...after.map((o) => o.at))
    expect(network.run(() => network.wire.some((o) => o.at > last), 10_000_000)).toBe(false)
  })

  it("stateless resets are limited to 100 a second, from the very first (§10.3: an endpoint MAY rate-limit them)", () => {
    const { network, server } = makePair(backend)
    network.recordWire = true
    const unroutable = new Uint8Array(60).fill(5)
    unroutable[0] = 0x45
    const burst = () => {
      const before = network.wire.length
      for (let i = 0; i < 150; i++) {
        server.handleDatagram(network.now, unroutable, CLIENT)
        network.pump(server)
      }
      return network.wire.length - before
    }
    expect(burst()).toBe(100)
    network.now += 999_999
    expect(burst()).toBe(0)
    network.now += 1
    expect(burst()).toBe(100)
  })

  it("a stateless reset is never sent in answer to a datagram of 21 bytes or less (§10.3.3)", () => {
    const { network, server } = makePair(backend)
    network.recordWire = true
    const tiny = new Uint8Array(21)
    tiny[0] = 0x41
    for (let i = 1; i < 21; i++) tiny[i] = i
    server.handleDatagram(network.now, tiny, CLIENT)
    network.pump(server)
    expect(server.sendQueueLength).toBe(0)
    expect(network.wire).toEqual([])
    const bigger = new Uint8Array(60).fill(5)
    bigger[0] = 0x45
    server.handleDatagram(network.now, bigger, CLIENT)
    network.pump(server)
    expect(network.wire).toHaveLength(1)
    expect(network.wire[0]!.data.length).toBeLessThan(60)
  })
})
