import { describe, expect, it } from "vitest"
import type { SocketAddress } from "../../src/internal/address.js"
import { addressKey } from "../../src/internal/address.js"
import type { QuicEndpoint } from "../../src/internal/endpoint.js"
import { initialWindow } from "../../src/internal/recovery/congestion/controller.js"
import { kInitialRtt } from "../../src/internal/recovery/rtt.js"
import { backends } from "../helpers.js"
import { CLIENT, makePair, perfectLink, SERVER } from "../support/link.js"
import { dispatch, eventsTagged, firstConnection, Transfer } from "../support/scenario.js"

/**
 * RFC 9000 §9: the client's NAT rebinds in the middle of a transfer. The
 * server must follow the new address, validate it with PATH_CHALLENGE /
 * PATH_RESPONSE (§8.2, §9.3), report PeerAddressChanged, and the transfer
 * must finish byte-exact.
 */

const [, backend] = backends[0]!
const MB = 1 << 20
const NEW_IP: SocketAddress = { address: "10.0.0.3", port: 50001 }
const NEW_PORT: SocketAddress = { address: CLIENT.address, port: 50001 }

const setup = (direction: "upload" | "download", size: number) => {
  const pair = makePair(backend, perfectLink)
  const transfer = direction === "upload"
    ? new Transfer(pair.network, pair.client, pair.server, size)
    : new Transfer(pair.network, pair.server, pair.client, size)
  dispatch(pair.network, transfer.handle)
  pair.network.recordWire = true
  pair.client.connect(pair.network.now, SERVER, "localhost")
  return { ...pair, transfer }
}

/** Datagrams `from` sent to `to` at or after `since`. */
const sentTo = (network: ReturnType<typeof makePair>["network"], from: SocketAddress, to: SocketAddress, since = 0) =>
  network.wire.filter((o) => o.at >= since && addressKey(o.from) === addressKey(from) && addressKey(o.to) === addressKey(to))

const frames = (endpoint: QuicEndpoint, conn: number) => endpoint.connectionStats(conn)!.frames

describe("NAT rebinding mid-transfer (RFC 9000 §9)", () => {
  it("upload: server reports PeerAddressChanged, validates the new path, transfer finishes byte-exact", () => {
    const { network, client, server, transfer } = setup("upload", 4 * MB)
    expect(network.run(() => transfer.receivedBytes >= 1 * MB, 60_000_000)).toBe(true)
    const serverConn = firstConnection(network, SERVER)
    expect(server.remoteAddress(serverConn)).toEqual(CLIENT)
    const challengesBefore = frames(client, transfer.conn)["PathChallenge"] ?? 0
    expect(challengesBefore).toBe(0)
    const retiredBefore = frames(client, transfer.conn)["RetireConnectionId"] ?? 0

    network.rebind(CLIENT, NEW_IP)
    const rebindAt = network.now
    expect(network.run(() => transfer.finished, 600_000_000)).toBe(true)
    expect(transfer.exact).toBe(true)

    const changes = eventsTagged(network, SERVER, "PeerAddressChanged")
    expect(changes).toEqual([{ _tag: "PeerAddressChanged", connection: serverConn, previous: CLIENT, current: NEW_IP }])
    expect(server.remoteAddress(serverConn)).toEqual(NEW_IP)
    // The server challenged the new path and the client answered (§8.2).
    expect(frames(client, transfer.conn)["PathChallenge"]).toBeGreaterThanOrEqual(1)
    expect(frames(server, serverConn)["PathResponse"]).toBeGreaterThanOrEqual(1)
    // The client's side never saw an address change of its peer.
    expect(eventsTagged(network, NEW_IP, "PeerAddressChanged")).toEqual([])
    expect(eventsTagged(network, NEW_IP, "ConnectionClosed")).toEqual([])
    expect(eventsTagged(network, SERVER, "ConnectionClosed")).toEqual([])
    // Once the server saw the new address, it sent nothing more to the old one.
    const changeAt = network.wire.find((o) => o.at >= rebindAt && addressKey(o.from) === addressKey(NEW_IP) && o.fate === "delivered")!.at + perfectLink.delay
    expect(sentTo(network, SERVER, CLIENT, changeAt)).toEqual([])
    expect(sentTo(network, SERVER, NEW_IP).length).toBeGreaterThan(0)
    // §9.5: the server moved to a fresh connection ID of the client's for the new
    // path and retired the one used on the old path (sequence 0).
    expect(retiredBefore).toBe(0)
    expect(frames(client, transfer.conn)["RetireConnectionId"]).toBe(1)
  })

  it("download: the server (sending under the 3× limit until validation) follows the client, transfer byte-exact", () => {
    const { network, client, server, transfer } = setup("download", 4 * MB)
    expect(network.run(() => transfer.receivedBytes >= 1 * MB, 60_000_000)).toBe(true)
    network.rebind(CLIENT, NEW_IP)
    expect(network.run(() => transfer.finished, 600_000_000)).toBe(true)
    expect(transfer.exact).toBe(true)
    const serverConn = transfer.conn
    const clientConn = transfer.peerConn
    expect(eventsTagged(network, SERVER, "PeerAddressChanged")).toEqual([
      { _tag: "PeerAddressChanged", connection: serverConn, previous: CLIENT, current: NEW_IP }
    ])
    expect(frames(client, clientConn)["PathChallenge"]).toBeGreaterThanOrEqual(1)
    expect(frames(server, serverConn)["PathResponse"]).toBeGreaterThanOrEqual(1)
    expect(eventsTagged(network, SERVER, "ConnectionClosed")).toEqual([])
  })

  it("a second rebinding is followed too (two PeerAddressChanged events, in order)", () => {
    const { network, server, transfer } = setup("upload", 4 * MB)
    const third: SocketAddress = { address: "10.0.0.4", port: 50002 }
    expect(network.run(() => transfer.receivedBytes >= 1 * MB, 60_000_000)).toBe(true)
    network.rebind(CLIENT, NEW_IP)
    expect(network.run(() => transfer.receivedBytes >= 2 * MB, 60_000_000)).toBe(true)
    network.rebind(NEW_IP, third)
    expect(network.run(() => transfer.finished, 600_000_000)).toBe(true)
    expect(transfer.exact).toBe(true)
    const serverConn = firstConnection(network, SERVER)
    expect(eventsTagged(network, SERVER, "PeerAddressChanged")).toEqual([
      { _tag: "PeerAddressChanged", connection: serverConn, previous: CLIENT, current: NEW_IP },
      { _tag: "PeerAddressChanged", connection: serverConn, previous: NEW_IP, current: third }
    ])
    expect(server.remoteAddress(serverConn)).toEqual(third)
    expect(frames(server, serverConn)["PathResponse"]).toBeGreaterThanOrEqual(2)
  })

  it("a port-only rebinding keeps the congestion state (§9.4)", () => {
    const { network, server, transfer } = setup("download", 6 * MB)
    expect(network.run(() => transfer.receivedBytes >= 2 * MB, 60_000_000)).toBe(true)
    const before = server.connectionStats(transfer.conn)!
    expect(before.congestionWindow).toBeGreaterThan(initialWindow(before.pathMtu))
    let atChange: ReturnType<QuicEndpoint["connectionStats"]>
    dispatch(network, transfer.handle, (endpoint, event) => {
      if (endpoint === server && event._tag === "PeerAddressChanged") atChange = server.connectionStats(event.connection)
    })
    network.rebind(CLIENT, NEW_PORT)
    expect(network.run(() => transfer.finished, 600_000_000)).toBe(true)
    expect(transfer.exact).toBe(true)
    expect(atChange!).toBeDefined()
    expect(atChange!.congestionWindow).toBeGreaterThan(initialWindow(atChange!.pathMtu))
  })

  // REGRESSION (fails): onPeerAddressChange never resets the congestion controller / RTT estimator.
  it("an IP-address change resets the congestion controller and RTT estimator for the new path (§9.4 MUST)", () => {
    const { network, server, transfer } = setup("download", 6 * MB)
    expect(network.run(() => transfer.receivedBytes >= 2 * MB, 60_000_000)).toBe(true)
    const before = server.connectionStats(transfer.conn)!
    expect(before.congestionWindow).toBeGreaterThan(initialWindow(before.pathMtu))
    expect(before.smoothedRtt).toBeLessThan(kInitialRtt)
    let atChange: ReturnType<QuicEndpoint["connectionStats"]>
    dispatch(network, transfer.handle, (endpoint, event) => {
      if (endpoint === server && event._tag === "PeerAddressChanged") atChange = server.connectionStats(event.connection)
    })
    network.rebind(CLIENT, NEW_IP)
    expect(network.run(() => transfer.finished, 600_000_000)).toBe(true)
    expect(transfer.exact).toBe(true)
    expect(atChange!).toBeDefined()
    expect(atChange!.congestionWindow).toBeLessThanOrEqual(initialWindow(atChange!.pathMtu))
    expect(atChange!.smoothedRtt).toBe(kInitialRtt)
  })

  // REGRESSION (fails): a lost PATH_CHALLENGE is never sent again; at the validation deadline
  // the server falls back to the client's old (dead) address.
  it("a PATH_CHALLENGE that is lost is sent again: the new path still validates (§8.2.4)", () => {
    const { network, client, server, transfer } = setup("upload", 4 * MB)
    expect(network.run(() => transfer.receivedBytes >= 1 * MB, 60_000_000)).toBe(true)
    network.rebind(CLIENT, NEW_IP)
    // Drop the first datagram the server sends to the new address: it carries the PATH_CHALLENGE.
    const original = client.handleDatagram.bind(client)
    let dropped = 0
    client.handleDatagram = (now, bytes, peer) => {
      if (dropped === 0) {
        dropped++
        return
      }
      original(now, bytes, peer)
    }
    const serverConn = firstConnection(network, SERVER)
    expect(network.run(() => transfer.finished, 600_000_000)).toBe(true)
    expect(transfer.exact).toBe(true)
    expect(dropped).toBe(1)
    // Well past the path-validation timeout (max(3 PTO, 6 × kInitialRtt) ≈ 2 s).
    network.run(() => false, 5_000_000)
    expect(frames(client, transfer.conn)["PathChallenge"] ?? 0).toBeGreaterThanOrEqual(1)
    expect(frames(server, serverConn)["PathResponse"] ?? 0).toBeGreaterThanOrEqual(1)
    expect(server.remoteAddress(serverConn)).toEqual(NEW_IP)
    expect(eventsTagged(network, SERVER, "PeerAddressChanged")).toHaveLength(1)
  })
})

describe("servers do not migrate (RFC 9000 §9)", () => {
  it("a client discards packets from an unknown server address: nothing is delivered, the idle timer is not restarted", () => {
    const pair = makePair(backend, perfectLink, { transport: { maxIdleTimeout: 2000 } })
    const { network, client, server } = pair
    const conn = client.connect(network.now, SERVER, "localhost") as number
    expect(network.run(() => eventsTagged(network, CLIENT, "Connected").length === 1 && eventsTagged(network, SERVER, "Connected").length === 1)).toBe(true)
    const serverConn = firstConnection(network, SERVER)
    network.run(() => false, 500_000)
    const heard = network.now
    const droppedBefore = client.connectionStats(conn)!.packetsDropped
    // The server's endpoint now sends from elsewhere, on a stream of its own.
    network.rebind(SERVER, { address: "10.9.9.9", port: 1 })
    const stream = server.openBi(network.now, serverConn) as number
    expect(server.streamSend(network.now, serverConn, stream, new Uint8Array(100).fill(7))).toBe(100)
    network.pump(server)
    expect(network.run(() => client.connectionStats(conn)!.packetsDropped > droppedBefore, 1_000_000)).toBe(true)
    expect(network.run(() => client.connectionCount === 0, 10_000_000)).toBe(true)
    expect(eventsTagged(network, CLIENT, "StreamOpened")).toEqual([])
    // Timed out on the packets it last accepted, not on the stranger's.
    expect(eventsTagged(network, CLIENT, "ConnectionClosed")).toEqual([{ _tag: "ConnectionClosed", connection: conn, reason: { _tag: "TimedOut" } }])
    expect(network.now).toBeLessThanOrEqual(heard + 2_500_000)
  })
})
