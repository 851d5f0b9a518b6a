import { describe, expect, it } from "vitest"
import type { SocketAddress } from "../../src/internal/address.js"
import { addressKey, formatIpv6, ipv4Bytes, ipv6Bytes } from "../../src/internal/address.js"
import type { Connection } from "../../src/internal/connection/connection.js"
import type { QuicEndpoint } from "../../src/internal/endpoint.js"
import { initialWindow } from "../../src/internal/recovery/congestion/controller.js"
import type { PreferredAddress, TransportParameters } from "../../src/internal/tls/transportParameters.js"
import { backends } from "../helpers.js"
import { CLIENT, type Observed, perfectLink, SERVER } from "../support/link.js"
import { dispatch, EventClock, eventsTagged, firstConnection, makeAsymmetricPair, Transfer } from "../support/scenario.js"

/**
 * RFC 9000 §9.6: the server offers a preferred address in its transport
 * parameters (with the connection ID of sequence number 1 and its stateless
 * reset token); once the handshake is confirmed the client validates the
 * path to it with the new CID and moves all traffic there, and the server,
 * after validating the path from its side, sends only from that address. A
 * path that does not validate leaves the client where it was.
 */

const [, backend] = backends[0]!
const MB = 1 << 20
const PREFERRED: SocketAddress = { address: "10.0.0.9", port: 4434 }
const PREFERRED_V6: SocketAddress = { address: "fd00::9", port: 4435 }
const CID_LENGTH = 8

type Options = {
  preferred?: { ipv4?: SocketAddress; ipv6?: SocketAddress }
  /** Whether the network delivers to the preferred address (false: unreachable). */
  reachable?: boolean
  client?: { migrateToPreferredAddress?: boolean }
  clientTransport?: { disableActiveMigration?: boolean }
  serverTransport?: { disableActiveMigration?: boolean }
}

const setup = (direction: "upload" | "download", size: number, options: Options = {}) => {
  const preferredAddress = options.preferred ?? { ipv4: PREFERRED }
  const pair = makeAsymmetricPair(backend, perfectLink, {
    server: { preferredAddress },
    client: options.client ?? {},
    clientTransport: options.clientTransport ?? {},
    serverTransport: options.serverTransport ?? {}
  })
  if (options.reachable !== false) {
    for (const address of [preferredAddress.ipv4, preferredAddress.ipv6]) if (address !== undefined) pair.network.addAddress(address, pair.server)
  }
  const transfer = direction === "upload"
    ? new Transfer(pair.network, pair.client, pair.server, size)
    : new Transfer(pair.network, pair.server, pair.client, size)
  dispatch(pair.network, transfer.handle)
  pair.network.recordWire = true
  const conn = pair.client.connect(pair.network.now, SERVER, "localhost") as number
  return { ...pair, transfer, conn }
}

const sent = (wire: ReadonlyArray<Observed>, from: SocketAddress, to: SocketAddress) =>
  wire.filter((o) => addressKey(o.from) === addressKey(from) && addressKey(o.to) === addressKey(to))

/** The Destination CID of a short-header datagram (our CIDs are CID_LENGTH bytes). */
const shortDcid = (data: Uint8Array) => data.subarray(1, 1 + CID_LENGTH)

const connectionOf = (endpoint: QuicEndpoint, handle: number): Connection =>
  (endpoint as unknown as { connections: Map<number, Connection> }).connections.get(handle)!

const peerParameters = (endpoint: QuicEndpoint, handle: number): TransportParameters =>
  (connectionOf(endpoint, handle) as unknown as { peerParams: TransportParameters }).peerParams

const frames = (endpoint: QuicEndpoint, conn: number) => endpoint.connectionStats(conn)!.frames

describe("server preferred_address (RFC 9000 §9.6)", () => {
  it("the parameter carries the preferred address, a CID of sequence 1 that routes to the connection, and its reset token", () => {
    const { network, client, server, conn } = setup("upload", 1000, { reachable: false })
    expect(network.run(() => eventsTagged(network, CLIENT, "Connected").length === 1)).toBe(true)
    const preferred: PreferredAddress = peerParameters(client, conn).preferredAddress!
    expect(Array.from(preferred.ipv4Address)).toEqual([10, 0, 0, 9])
    expect(preferred.ipv4Port).toBe(4434)
    // The family not offered goes as zeros.
    expect(preferred.ipv6Address.every((b) => b === 0)).toBe(true)
    expect(preferred.ipv6Port).toBe(0)
    expect(preferred.connectionId.length).toBe(CID_LENGTH)
    expect(preferred.statelessResetToken.length).toBe(16)
    const serverConn = firstConnection(network, SERVER, "NewConnection")
    const issued = connectionOf(server, serverConn).localCids.get(1)!
    // §5.1.1: sequence number 1, issued like any other CID: same CID, the endpoint's token for it.
    expect(issued.cid).toEqual(preferred.connectionId)
    expect(connectionOf(server, serverConn).localCids.resetTokenOf(issued)).toEqual(preferred.statelessResetToken)
    expect((server as unknown as { byCid: Map<string, number> }).byCid.size).toBeGreaterThanOrEqual(2)
    network.run(() => false, 200_000)
    // It counts toward the client's active_connection_id_limit (4): NEW_CONNECTION_ID brings only 2 and 3.
    expect(frames(client, conn)["NewConnectionId"]).toBe(2)
  })

  it("upload: the client probes the preferred address after confirmation with the new CID, moves there, and the transfer is byte-exact", () => {
    const { network, client, server, transfer, conn } = setup("upload", 4 * MB)
    const clock = new EventClock(network)
    dispatch(network, transfer.handle, clock.handle)
    expect(network.run(() => client.remoteAddress(conn) !== SERVER && addressKey(client.remoteAddress(conn)!) === addressKey(PREFERRED), 10_000_000)).toBe(true)
    const movedAt = network.now
    const receivedAtMove = transfer.receivedBytes
    expect(network.run(() => transfer.finished, 600_000_000)).toBe(true)
    expect(transfer.exact).toBe(true)
    // The move happened mid-transfer.
    expect(receivedAtMove).toBeLessThan(4 * MB)

    const preferredCid = peerParameters(client, conn).preferredAddress!.connectionId
    const toPreferred = sent(network.wire, CLIENT, PREFERRED)
    // §9.6.1: the first datagram to the preferred address is the probe: 1200 bytes (§8.2.1), the new CID,
    // sent after the handshake was confirmed (HANDSHAKE_DONE arrived).
    const probe = toPreferred[0]!
    expect(probe.data.length).toBe(1200)
    expect(shortDcid(probe.data)).toEqual(preferredCid)
    const connectedAt = clock.timeOf(client, "Connected")!
    expect(probe.at).toBeGreaterThanOrEqual(connectedAt)
    expect(frames(server, transfer.peerConn)["PathChallenge"]).toBeGreaterThanOrEqual(1)
    expect(frames(client, conn)["PathResponse"]).toBeGreaterThanOrEqual(1)
    // Every datagram to the preferred address uses the new CID; nothing goes to the original address after the move.
    for (const o of toPreferred) expect(shortDcid(o.data)).toEqual(preferredCid)
    expect(sent(network.wire, CLIENT, SERVER).filter((o) => o.at > movedAt)).toEqual([])
    expect(toPreferred.filter((o) => o.at > movedAt).length).toBeGreaterThan(100)
    // §5.1.2: the CID of the old path (sequence 0) is retired.
    expect(frames(server, transfer.peerConn)["RetireConnectionId"]).toBe(1)
    expect(eventsTagged(network, CLIENT, "PeerAddressChanged")).toEqual([
      { _tag: "PeerAddressChanged", connection: conn, previous: SERVER, current: PREFERRED }
    ])
    expect(eventsTagged(network, CLIENT, "ConnectionClosed")).toEqual([])
    expect(eventsTagged(network, SERVER, "ConnectionClosed")).toEqual([])
  })

  it("download: the server validates the path from its preferred address, then sends only from there, with a fresh CID", () => {
    const { network, client, server, transfer, conn } = setup("download", 4 * MB)
    let clientStatsAtMove: ReturnType<QuicEndpoint["connectionStats"]>
    dispatch(network, transfer.handle, (endpoint, event) => {
      if (endpoint === client && event._tag === "PeerAddressChanged") clientStatsAtMove = client.connectionStats(conn)
    })
    expect(network.run(() => transfer.finished, 600_000_000)).toBe(true)
    expect(transfer.exact).toBe(true)
    expect(client.remoteAddress(conn)).toEqual(PREFERRED)
    // §9.4: the new path starts with a fresh congestion controller.
    expect(clientStatsAtMove!).toBeDefined()
    expect(clientStatsAtMove!.congestionWindow).toBeLessThanOrEqual(initialWindow(clientStatsAtMove!.pathMtu))

    const fromPreferred = sent(network.wire, PREFERRED, CLIENT)
    const fromOriginal = sent(network.wire, SERVER, CLIENT)
    expect(fromPreferred.length).toBeGreaterThan(100)
    const firstPreferred = fromPreferred[0]!.at
    // §9.6.2: the server probed the path from its preferred address (its own PATH_CHALLENGE, answered).
    expect(frames(client, conn)["PathChallenge"]).toBeGreaterThanOrEqual(1)
    expect(frames(server, transfer.conn)["PathResponse"]).toBeGreaterThanOrEqual(1)
    // §9.6.2: it kept sending from the original address while validating, then switched for good
    // within a few round trips (20 ms each) of the client's first probe.
    const lastOriginal = fromOriginal[fromOriginal.length - 1]!.at
    expect(fromOriginal.some((o) => o.at > firstPreferred)).toBe(true)
    expect(lastOriginal - firstPreferred).toBeLessThan(100_000)
    expect(fromPreferred.filter((o) => o.at > lastOriginal).length).toBeGreaterThan(100)
    // §9.5: a new local address, a new CID of the client's (from the first PATH_RESPONSE on), kept
    // for the move; the one of the old path is retired.
    const oldCid = shortDcid(fromOriginal[fromOriginal.length - 1]!.data)
    const newCids = new Set(fromPreferred.map((o) => addressKey({ address: Buffer.from(shortDcid(o.data)).toString("hex"), port: 0 })))
    expect(newCids.size).toBe(1)
    expect(shortDcid(fromPreferred[0]!.data)).not.toEqual(oldCid)
    expect(shortDcid(fromPreferred[0]!.data)).not.toEqual(shortDcid(fromOriginal.find((o) => o.at >= firstPreferred)!.data))
    expect(frames(client, conn)["RetireConnectionId"]).toBeGreaterThanOrEqual(1)
    expect(server.remoteAddress(transfer.conn)).toEqual(CLIENT)
    expect(eventsTagged(network, SERVER, "PeerAddressChanged")).toEqual([])
  })

  it("a lost PATH_CHALLENGE is sent again (fresh data) and the move still happens", () => {
    const { network, client, transfer, conn } = setup("upload", 2 * MB)
    // Drop the first datagram to the preferred address: the client's first probe.
    const server = transfer.to
    const handle = server.handleDatagram.bind(server)
    let dropped = 0
    server.handleDatagram = (now, bytes, peer, local) => {
      if (local !== undefined && addressKey(local) === addressKey(PREFERRED) && dropped === 0) {
        dropped++
        return
      }
      handle(now, bytes, peer, local)
    }
    expect(network.run(() => transfer.finished, 600_000_000)).toBe(true)
    expect(transfer.exact).toBe(true)
    expect(dropped).toBe(1)
    expect(client.remoteAddress(conn)).toEqual(PREFERRED)
    const probes = sent(network.wire, CLIENT, PREFERRED).filter((o) => o.data.length === 1200)
    expect(probes.length).toBeGreaterThanOrEqual(2)
  })

  it("an unreachable preferred address: the client stays on the original path, the transfer is intact", () => {
    const { network, client, server, transfer, conn } = setup("download", 4 * MB, { reachable: false })
    expect(network.run(() => transfer.finished, 600_000_000)).toBe(true)
    expect(transfer.exact).toBe(true)
    // Well past the validation deadline (max(3 PTO, 6 × kInitialRtt) ≈ 2 s).
    network.run(() => false, 5_000_000)
    expect(client.remoteAddress(conn)).toEqual(SERVER)
    expect(sent(network.wire, CLIENT, PREFERRED).length).toBeGreaterThanOrEqual(1)
    expect(eventsTagged(network, CLIENT, "PeerAddressChanged")).toEqual([])
    expect(eventsTagged(network, CLIENT, "ConnectionClosed")).toEqual([])
    // §9.5: the CID used toward the preferred address is retired, not reused on the original path.
    expect(frames(server, transfer.conn)["RetireConnectionId"]).toBe(1)
    const preferredCid = peerParameters(client, conn).preferredAddress!.connectionId
    for (const o of sent(network.wire, CLIENT, SERVER).filter((o) => o.data.length > 0 && (o.data[0]! & 0x80) === 0)) {
      expect(shortDcid(o.data)).not.toEqual(preferredCid)
    }
  })

  it("the client switch (migrateToPreferredAddress: false) and the client's own disable_active_migration keep it on the original path", () => {
    for (const options of [{ client: { migrateToPreferredAddress: false } }, { clientTransport: { disableActiveMigration: true } }] as const) {
      const { network, client, transfer, conn } = setup("upload", 1 * MB, options)
      expect(network.run(() => transfer.finished, 600_000_000)).toBe(true)
      expect(transfer.exact).toBe(true)
      network.run(() => false, 3_000_000)
      expect(sent(network.wire, CLIENT, PREFERRED)).toEqual([])
      expect(client.remoteAddress(conn)).toEqual(SERVER)
    }
  })

  it("the server's disable_active_migration does not prevent the move (RFC 9000 §18.2)", () => {
    const { network, client, transfer, conn } = setup("upload", 1 * MB, { serverTransport: { disableActiveMigration: true } })
    expect(network.run(() => transfer.finished, 600_000_000)).toBe(true)
    expect(transfer.exact).toBe(true)
    expect(client.remoteAddress(conn)).toEqual(PREFERRED)
  })

  it("the client uses the family it reaches the server in: IPv4 of two, and none when only IPv6 is offered", () => {
    const both = setup("upload", 1 * MB, { preferred: { ipv4: PREFERRED, ipv6: PREFERRED_V6 } })
    expect(both.network.run(() => both.transfer.finished, 600_000_000)).toBe(true)
    expect(both.client.remoteAddress(both.conn)).toEqual(PREFERRED)
    expect(sent(both.network.wire, CLIENT, PREFERRED_V6)).toEqual([])

    const v6only = setup("upload", 1 * MB, { preferred: { ipv6: PREFERRED_V6 } })
    expect(v6only.network.run(() => v6only.transfer.finished, 600_000_000)).toBe(true)
    v6only.network.run(() => false, 3_000_000)
    expect(v6only.client.remoteAddress(v6only.conn)).toEqual(SERVER)
    expect(sent(v6only.network.wire, CLIENT, PREFERRED_V6)).toEqual([])
  })
})

describe("preferred_address address text (RFC 9000 §18.2, RFC 5952)", () => {
  it("IPv4 and IPv6 literals go to wire bytes and IPv6 comes back in the form sockets report", () => {
    expect(Array.from(ipv4Bytes("192.0.2.7")!)).toEqual([192, 0, 2, 7])
    expect(ipv4Bytes("256.0.0.1")).toBeUndefined()
    expect(ipv4Bytes("::1")).toBeUndefined()
    for (const [text, canonical] of [
      ["::1", "::1"],
      ["::", "::"],
      ["fd00::9", "fd00::9"],
      ["2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
      ["::ffff:192.0.2.1", "::ffff:c000:201"]
    ] as const) {
      const bytes = ipv6Bytes(text)!
      expect(bytes.length).toBe(16)
      expect(formatIpv6(bytes)).toBe(canonical)
      expect(ipv6Bytes(canonical)).toEqual(bytes)
    }
    expect(ipv6Bytes("1::2::3")).toBeUndefined()
    expect(ipv6Bytes("1:2:3:4:5:6:7:8:9")).toBeUndefined()
    expect(ipv6Bytes("192.0.2.1")).toBeUndefined()
  })
})
