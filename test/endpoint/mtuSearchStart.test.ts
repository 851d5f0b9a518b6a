import { describe, expect, it } from "vitest"
import { backends } from "../helpers.js"
import type { QuicEndpoint } from "../../src/internal/endpoint.js"
import { CLIENT, connect, connectionOf, makeTestPair, SERVER } from "../support/kit.js"
import { perfectLink } from "../support/link.js"

const [, backend] = backends[0]!

/** perfectLink's round trip: 10 ms each way. */
const RTT = 20_000

/** Datagrams above the QUIC minimum: only PMTU probes (and what they enable) are that large. */
const largeFrom = (pair: ReturnType<typeof makeTestPair>, from: typeof CLIENT) =>
  pair.network.wire.filter((d) => d.from.port === from.port && d.data.length > 1200)

const isConfirmed = (endpoint: QuicEndpoint, handle: number): boolean =>
  (connectionOf(endpoint, handle) as unknown as { readonly handshakeConfirmed: boolean }).handshakeConfirmed

/** Runs until both sides' handshakes are confirmed; returns when each was. */
const runToConfirmation = (pair: ReturnType<typeof makeTestPair>) => {
  const { network, client, server } = pair
  const { clientConn, serverConn } = connect(pair)
  expect(network.run(() => isConfirmed(server, serverConn), 1_000_000)).toBe(true)
  const server_ = network.now
  expect(network.run(() => isConfirmed(client, clientConn), 1_000_000)).toBe(true)
  return { clientConn, server: server_, client: network.now }
}

describe("when the PMTU search starts (RFC 8899 §5.2: the first probe follows the handshake)", () => {
  it("sends no probe during the first five round trips after confirmation, then probes an idle connection unprompted", () => {
    const pair = makeTestPair(backend, perfectLink, { recordWire: true })
    const { network } = pair
    const confirmed = runToConfirmation(pair)
    expect(network.run(() => largeFrom(pair, CLIENT).length > 0 && largeFrom(pair, SERVER).length > 0, 10 * RTT)).toBe(true)
    // Five smoothed RTTs of the 20 ms path after each side's own confirmation, and no later.
    const firstClientProbe = largeFrom(pair, CLIENT)[0]!.at
    const firstServerProbe = largeFrom(pair, SERVER)[0]!.at
    expect(firstClientProbe - confirmed.client).toBe(5 * RTT)
    expect(firstServerProbe - confirmed.server).toBe(5 * RTT)
  })

  it("a connection closed right after its handshake never sends a probe", () => {
    const pair = makeTestPair(backend, perfectLink, { recordWire: true })
    const { network, client } = pair
    const { clientConn } = runToConfirmation(pair)
    client.closeConnection(network.now, clientConn, 0n, "")
    network.run(() => false, 2_000_000)
    expect(network.eventsOf(SERVER).some((e) => e._tag === "ConnectionClosed")).toBe(true)
    expect(largeFrom(pair, CLIENT)).toEqual([])
    expect(largeFrom(pair, SERVER)).toEqual([])
  })
})
