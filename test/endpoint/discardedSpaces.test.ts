import { describe, expect, it } from "vitest"
import { addressKey, type SocketAddress } from "../../src/internal/address.js"
import type { QuicEndpoint } from "../../src/internal/endpoint.js"
import { splitDatagram } from "../../src/internal/packet/coalesce.js"
import { backends } from "../helpers.js"
import { CLIENT, closedEvents, connect, connectionOf, makeTestPair, SERVER } from "../support/kit.js"

/**
 * RFC 9001 §4.9: once the handshake is confirmed, the Initial and Handshake
 * spaces are gone on both sides — keys, ACK state, CRYPTO buffers, sent
 * packets — and packets the peer sent in them that arrive late (a
 * retransmission, a replay) are dropped without effect on the connection.
 */

interface SpacesView {
  readonly spaces: { readonly initial: unknown; readonly handshake: unknown; readonly application: unknown }
  readonly recovery: { readonly spaces: { readonly initial: unknown; readonly handshake: unknown; readonly application: unknown } }
}

const spacesOf = (endpoint: QuicEndpoint, handle: number): SpacesView =>
  connectionOf(endpoint, handle) as unknown as SpacesView

describe.each(backends)("discarded packet number spaces, on the %s backend", (_name, backend) => {
  it("leave no state behind, and their late packets are dropped harmlessly", () => {
    const pair = makeTestPair(backend, undefined, { recordWire: true })
    const { network, client, server } = pair
    const { clientConn, serverConn } = connect(pair)
    // HANDSHAKE_DONE reaches the client: both sides are confirmed.
    network.run(() => false, 200_000)

    for (const [endpoint, handle] of [[client, clientConn], [server, serverConn]] as const) {
      const view = spacesOf(endpoint, handle)
      expect(view.spaces.initial).toBeUndefined()
      expect(view.spaces.handshake).toBeUndefined()
      expect(view.spaces.application).toBeDefined()
      expect(view.recovery.spaces.initial).toBeUndefined()
      expect(view.recovery.spaces.handshake).toBeUndefined()
    }

    // Every handshake datagram each side sent, delivered to its peer once more.
    const replay = (from: SocketAddress, to: QuicEndpoint, handle: number) => {
      const datagrams = network.wire.filter((o) => addressKey(o.from) === addressKey(from) && (o.data[0]! & 0x80) !== 0)
      const longPackets = datagrams.reduce((n, o) => n + splitDatagram(o.data, 8).packets.filter((p) => p.form === "long").length, 0)
      expect(longPackets).toBeGreaterThan(0)
      const before = to.connectionStats(handle)!.packetsDropped
      for (const o of datagrams) {
        to.handleDatagram(network.now, o.data.slice(), from)
        network.pump(to)
      }
      expect(to.connectionStats(handle)!.packetsDropped - before).toBeGreaterThanOrEqual(longPackets)
    }
    replay(CLIENT, server, serverConn)
    replay(SERVER, client, clientConn)

    // The replayed Initial (to the client's original DCID) made no second connection,
    // nothing closed, and the connection still carries data both ways.
    expect(server.connectionCount).toBe(1)
    expect(client.connectionCount).toBe(1)
    expect(client.sendDatagram(network.now, clientConn, Uint8Array.of(1, 2, 3), false)).toBeUndefined()
    expect(server.sendDatagram(network.now, serverConn, Uint8Array.of(4, 5), false)).toBeUndefined()
    network.pump(client)
    network.pump(server)
    network.run(() => false, 200_000)
    const received = (address: SocketAddress) =>
      network.eventsOf(address).flatMap((e) => (e._tag === "DatagramReceived" ? [[...e.data]] : []))
    expect(received(SERVER)).toEqual([[1, 2, 3]])
    expect(received(CLIENT)).toEqual([[4, 5]])
    expect(closedEvents(network, CLIENT)).toEqual([])
    expect(closedEvents(network, SERVER)).toEqual([])
  })

  it("a 1-RTT space holds CRYPTO buffers only in the directions that carried session tickets, and no data once read", () => {
    const cryptoOf = (endpoint: QuicEndpoint, handle: number) =>
      (connectionOf(endpoint, handle) as unknown as { spaces: { application: { cryptoSend: unknown; cryptoRecv: unknown } } }).spaces.application
    for (const tickets of [true, false]) {
      const pair = makeTestPair(backend, undefined, tickets ? {} : { server: { tickets: undefined } })
      const { clientConn, serverConn } = connect(pair)
      pair.network.run(() => false, 200_000)
      const server = cryptoOf(pair.server, serverConn)
      const client = cryptoOf(pair.client, clientConn)
      expect([server.cryptoSend !== undefined, client.cryptoRecv !== undefined]).toEqual([tickets, tickets])
      expect([server.cryptoRecv, client.cryptoSend]).toEqual([undefined, undefined])
      if (tickets) {
        // The tickets were read: the client keeps no block of them for the connection's life.
        const recv = client.cryptoRecv as { readonly readOffset: number; readonly blocks: ReadonlyArray<unknown> }
        expect(recv.readOffset).toBeGreaterThan(0)
        expect(recv.blocks).toEqual([])
      }
    }
  })
})
