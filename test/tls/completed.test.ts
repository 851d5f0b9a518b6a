import { describe, expect, it } from "vitest"
import { AlertDescription, HandshakeType } from "../../src/internal/tls/constants.js"
import { CompletedClientHandshake } from "../../src/internal/tls/completed.js"
import type { TlsEvent } from "../../src/internal/tls/session.js"
import { type SessionTicket, TicketSealer, UsedTickets } from "../../src/internal/tls/ticket.js"
import { backends, fromHex } from "../helpers.js"
import { clientConfig, runHandshake, serverConfig, TlsClient, TlsServer } from "./harness.js"

const NOW = Date.UTC(2026, 0, 1)

const drainTickets = (tls: { pollEvent(): TlsEvent | undefined }): Array<SessionTicket> => {
  const tickets: Array<SessionTicket> = []
  for (let event = tls.pollEvent(); event !== undefined; event = tls.pollEvent()) {
    if (event._tag === "SessionTicket") tickets.push(event.ticket)
  }
  return tickets
}

/**
 * What a confirmed client keeps of its TLS session (the connection lets the
 * rest go): the negotiated facts, and the means to take the tickets a server
 * may send at any time after the handshake (RFC 8446 §4.6.1).
 */
describe.each(backends)("a completed client handshake on the %s backend", (_name, backend) => {
  const tickets = {
    sealer: new TicketSealer(backend, new Uint8Array(32).fill(9)),
    lifetime: 3600,
    count: 2,
    earlyData: true,
    usedTickets: new UsedTickets(1000),
    earlyDataContext: fromHex("0102")
  }

  /** A handshake whose NewSessionTickets are held back from the client, which then lets its session go. */
  const connected = () => {
    const held: Array<Uint8Array> = []
    const client = new TlsClient(clientConfig(backend))
    const trace = runHandshake(client, new TlsServer(serverConfig(backend, { tickets })), NOW, (_index, from, data) => {
      if (from !== "server" || data[0] !== HandshakeType.new_session_ticket) return data
      held.push(data)
      return new Uint8Array(0)
    })
    expect(trace.clientFailure).toBeUndefined()
    expect(drainTickets(client)).toEqual([])
    expect(held).toHaveLength(2)
    return { completed: new CompletedClientHandshake(client), client, held }
  }

  it("reports what was negotiated", () => {
    const { completed, client } = connected()
    expect(completed.complete).toBe(true)
    expect(completed.alpn).toBe("perf")
    expect(completed.suite).toBe(client.suite)
    expect(completed.resumed).toBe(false)
    expect(completed.peerCertificates).toHaveLength(1)
    expect(completed.clientRandomBytes).toBe(client.clientRandomBytes)
  })

  it("turns later NewSessionTickets, one split across deliveries, into tickets that resume", () => {
    const { completed, held } = connected()
    const [first, second] = held as [Uint8Array, Uint8Array]
    expect(completed.receive("application", first.subarray(0, 10), NOW)).toBeUndefined()
    expect(drainTickets(completed)).toEqual([])
    const rest = new Uint8Array(first.length - 10 + second.length)
    rest.set(first.subarray(10))
    rest.set(second, first.length - 10)
    expect(completed.receive("application", rest, NOW)).toBeUndefined()
    const received = drainTickets(completed)
    expect(received).toHaveLength(2)
    expect(received.map((t) => [t.alpn, t.serverName, t.lifetime, t.maxEarlyData])).toEqual([
      ["perf", "localhost", 3600, 0xffffffff],
      ["perf", "localhost", 3600, 0xffffffff]
    ])
    const client = new TlsClient(clientConfig(backend, { session: received[1]! }))
    const server = new TlsServer(serverConfig(backend, { tickets }))
    const trace = runHandshake(client, server, NOW + 1000)
    expect(trace.clientFailure).toBeUndefined()
    expect(trace.serverFailure).toBeUndefined()
    expect(client.resumed).toBe(true)
    expect(server.resumed).toBe(true)
  })

  it("ends on any other handshake message, or data at another level, with unexpected_message", () => {
    const finished = Uint8Array.of(HandshakeType.finished, 0, 0, 1, 0)
    const atApplication = connected().completed
    expect(atApplication.receive("application", finished, NOW)).toMatchObject({ description: AlertDescription.unexpected_message })
    // Failed for good: even a valid ticket is refused now.
    const { completed, held } = connected()
    expect(completed.receive("handshake", held[0]!, NOW)).toMatchObject({ description: AlertDescription.unexpected_message })
    expect(completed.receive("application", held[0]!, NOW)).toMatchObject({ description: AlertDescription.unexpected_message })
    expect(drainTickets(completed)).toEqual([])
    expect(drainTickets(atApplication)).toEqual([])
  })
})
