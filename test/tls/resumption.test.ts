import { describe, expect, it } from "vitest"
import { TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256 } from "../../src/internal/crypto/suite.js"
import { ExtensionType, PskKeyExchangeMode } from "../../src/internal/tls/constants.js"
import { decodePskModes } from "../../src/internal/tls/extensions.js"
import { decodeClientHello, findExtension } from "../../src/internal/tls/messages.js"
import type { TlsEvent } from "../../src/internal/tls/session.js"
import { type SessionTicket, TicketSealer, UsedTickets } from "../../src/internal/tls/ticket.js"
import type { ServerTicketConfig } from "../../src/internal/tls/server.js"
import { backends, fromHex } from "../helpers.js"
import { clientConfig, runHandshake, serverConfig, tags, TlsClient, TlsServer } from "./harness.js"

const NOW = Date.UTC(2026, 0, 1)

const ticketsOf = (events: ReadonlyArray<TlsEvent>): Array<SessionTicket> =>
  events.flatMap((e) => (e._tag === "SessionTicket" ? [e.ticket] : []))

describe.each(backends)("resumption and 0-RTT on the %s backend", (_name, backend) => {
  const ticketConfig = (overrides: Partial<ServerTicketConfig> = {}): ServerTicketConfig => ({
    sealer: new TicketSealer(backend, new Uint8Array(32).fill(9)),
    lifetime: 3600,
    count: 2,
    earlyData: true,
    usedTickets: new UsedTickets(1000),
    earlyDataContext: fromHex("0102"),
    ...overrides
  })

  /** A full handshake that leaves the client with tickets. */
  const firstConnection = (tickets: ServerTicketConfig) => {
    const client = new TlsClient(clientConfig(backend))
    const server = new TlsServer(serverConfig(backend, { tickets }))
    const trace = runHandshake(client, server, NOW)
    expect(trace.clientFailure).toBeUndefined()
    expect(trace.serverFailure).toBeUndefined()
    return ticketsOf(trace.client)
  }

  it("lists psk_dhe_ke in its first ClientHello, without a ticket, so servers issue tickets it can use", () => {
    // Go's TLS server derives no resumption secret for a client that lists no mode
    // (its tickets then never resume): found against quic-go.
    const client = new TlsClient(clientConfig(backend))
    const trace = runHandshake(client, new TlsServer(serverConfig(backend, { tickets: ticketConfig() })), NOW)
    const first = trace.client.find((e) => e._tag === "HandshakeData" && e.level === "initial")
    if (first?._tag !== "HandshakeData") throw new Error("no ClientHello")
    const hello = decodeClientHello(first.data.subarray(4))
    if ("_tag" in hello) throw new Error(hello.reason)
    expect(findExtension(hello.extensions, ExtensionType.pre_shared_key)).toBeUndefined()
    const modes = decodePskModes(findExtension(hello.extensions, ExtensionType.psk_key_exchange_modes)!)
    expect(modes).toEqual([PskKeyExchangeMode.psk_dhe_ke])
  })

  it("a client that keeps no tickets lists no psk mode, and the server issues it none", () => {
    const client = new TlsClient(clientConfig(backend, { requestTickets: false }))
    const trace = runHandshake(client, new TlsServer(serverConfig(backend, { tickets: ticketConfig() })), NOW)
    expect(trace.clientFailure).toBeUndefined()
    expect(trace.serverFailure).toBeUndefined()
    const first = trace.client.find((e) => e._tag === "HandshakeData" && e.level === "initial")
    if (first?._tag !== "HandshakeData") throw new Error("no ClientHello")
    const hello = decodeClientHello(first.data.subarray(4))
    if ("_tag" in hello) throw new Error(hello.reason)
    expect(findExtension(hello.extensions, ExtensionType.psk_key_exchange_modes)).toBeUndefined()
    // Nothing at the application level: a NewSessionTicket is the only handshake message sent there.
    expect(trace.server.filter((e) => e._tag === "HandshakeData" && e.level === "application")).toEqual([])
    expect(ticketsOf(trace.client)).toEqual([])
  })

  it("issues tickets after the handshake with the QUIC max_early_data_size", () => {
    const tickets = firstConnection(ticketConfig())
    expect(tickets).toHaveLength(2)
    for (const t of tickets) {
      expect(t.maxEarlyData).toBe(0xffffffff)
      expect(t.lifetime).toBe(3600)
      expect(t.alpn).toBe("perf")
      expect(t.serverName).toBe("localhost")
      expect(t.transportParameters.length).toBeGreaterThan(0)
    }
    expect(tickets[0]!.psk).not.toEqual(tickets[1]!.psk)
  })

  it("resumes with a PSK and (EC)DHE, skipping the certificate", () => {
    const tickets = ticketConfig()
    const [ticket] = firstConnection(tickets)
    const client = new TlsClient(clientConfig(backend, { session: ticket }))
    const server = new TlsServer(serverConfig(backend, { tickets }))
    const trace = runHandshake(client, server, NOW + 1000)
    expect(trace.clientFailure).toBeUndefined()
    expect(trace.serverFailure).toBeUndefined()
    expect(client.resumed).toBe(true)
    expect(server.resumed).toBe(true)
    expect(client.peerCertificates).toHaveLength(0)
    // EncryptedExtensions and Finished only.
    expect(tags(trace.server).filter((t) => t === "data:handshake")).toHaveLength(2)
    expect(tags(trace.client)).not.toContain("EarlyData")
  })

  it("accepts 0-RTT once and reports it to the client", () => {
    const tickets = ticketConfig()
    const [ticket] = firstConnection(tickets)
    const client = new TlsClient(clientConfig(backend, { session: ticket, earlyData: true }))
    const server = new TlsServer(serverConfig(backend, { tickets }))
    const trace = runHandshake(client, server, NOW + 1000)
    expect(trace.clientFailure).toBeUndefined()
    expect(trace.serverFailure).toBeUndefined()
    expect(tags(trace.client).slice(0, 2)).toEqual(["keys:early:write", "data:initial"])
    expect(tags(trace.server)).toContain("keys:early:read")
    expect(server.earlyDataAccepted).toBe(true)
    expect(trace.client).toContainEqual({ _tag: "EarlyData", accepted: true })
    const early = (events: ReadonlyArray<TlsEvent>) => events.find((e) => e._tag === "Keys" && e.level === "early")
    expect(early(trace.client)).toMatchObject({ secret: (early(trace.server) as { secret: Uint8Array }).secret })
  })

  it("refuses a replayed 0-RTT ticket but still resumes", () => {
    const tickets = ticketConfig()
    const [ticket] = firstConnection(tickets)
    for (const attempt of [0, 1]) {
      const client = new TlsClient(clientConfig(backend, { session: ticket, earlyData: true }))
      const server = new TlsServer(serverConfig(backend, { tickets }))
      const trace = runHandshake(client, server, NOW + 1000)
      expect(trace.clientFailure).toBeUndefined()
      expect(server.resumed).toBe(true)
      expect(trace.client).toContainEqual({ _tag: "EarlyData", accepted: attempt === 0 })
    }
  })

  it("rejects 0-RTT cleanly when the server disabled it or its settings changed", () => {
    for (const changed of [ticketConfig({ earlyData: false }), ticketConfig({ earlyDataContext: fromHex("0103") })]) {
      const original = ticketConfig()
      const [ticket] = firstConnection({ ...original })
      const client = new TlsClient(clientConfig(backend, { session: ticket, earlyData: true }))
      const server = new TlsServer(serverConfig(backend, { tickets: { ...changed, sealer: original.sealer } }))
      const trace = runHandshake(client, server, NOW + 1000)
      expect(trace.clientFailure).toBeUndefined()
      expect(trace.serverFailure).toBeUndefined()
      expect(client.complete).toBe(true)
      expect(server.earlyDataAccepted).toBe(false)
      expect(trace.client).toContainEqual({ _tag: "EarlyData", accepted: false })
      expect(tags(trace.server)).not.toContain("keys:early:read")
    }
  })

  it("RFC 9369 §5: a ticket issued under one QUIC version resumes only under that version", () => {
    const V2 = 0x6b3343cf
    const tickets = ticketConfig()
    const issuer = new TlsServer(serverConfig(backend, { tickets, quicVersion: () => V2 }))
    const first = runHandshake(new TlsClient(clientConfig(backend)), issuer, NOW)
    expect(first.serverFailure).toBeUndefined()
    const issued = ticketsOf(first.client)
    expect(issued).toHaveLength(2)
    for (const [version, resumes] of [[1, false], [V2, true]] as const) {
      const resuming = new TlsClient(clientConfig(backend, { session: issued.pop()!, earlyData: true }))
      const server = new TlsServer(serverConfig(backend, { tickets, quicVersion: () => version }))
      const trace = runHandshake(resuming, server, NOW + 1000)
      expect(trace.clientFailure).toBeUndefined()
      expect(trace.serverFailure).toBeUndefined()
      expect(resuming.resumed).toBe(resumes)
      expect(server.earlyDataAccepted).toBe(resumes)
    }
  })

  it("falls back to a full handshake for a ticket the server cannot open or that expired", () => {
    const tickets = ticketConfig()
    const [ticket] = firstConnection(tickets)
    const stranger = ticketConfig({ sealer: new TicketSealer(backend, new Uint8Array(32).fill(1)) })
    for (const [server, at] of [
      [new TlsServer(serverConfig(backend, { tickets: stranger })), NOW + 1000],
      [new TlsServer(serverConfig(backend, { tickets })), NOW + 3599_000]
    ] as const) {
      const client = new TlsClient(clientConfig(backend, { session: { ...ticket!, lifetime: 7200 }, earlyData: true }))
      const trace = runHandshake(client, server, at)
      expect(trace.clientFailure).toBeUndefined()
      expect(trace.serverFailure).toBeUndefined()
      expect(client.complete).toBe(true)
      expect(client.resumed).toBe(at === NOW + 3599_000)
    }
    const expired = new TlsClient(clientConfig(backend, { session: { ...ticket!, lifetime: 7200 } }))
    const trace = runHandshake(expired, new TlsServer(serverConfig(backend, { tickets })), NOW + 3601_000)
    expect(trace.serverFailure).toBeUndefined()
    expect(expired.resumed).toBe(false)
    expect(expired.peerCertificates).toHaveLength(1)
  })

  it("does not offer a ticket whose hash no offered suite shares", () => {
    const [ticket] = firstConnection(ticketConfig())
    expect(ticket!.suite).toBe(TLS_AES_128_GCM_SHA256)
    const client = new TlsClient(clientConfig(backend, { session: ticket, cipherSuites: [TLS_AES_256_GCM_SHA384] }))
    const trace = runHandshake(client, new TlsServer(serverConfig(backend, { tickets: ticketConfig() })), NOW)
    expect(trace.serverFailure).toBeUndefined()
    expect(client.resumed).toBe(false)
  })

  it("refuses a PSK binder that does not verify", () => {
    const tickets = ticketConfig()
    const [ticket] = firstConnection(tickets)
    const psk = ticket!.psk.slice()
    psk[0]! ^= 1
    const client = new TlsClient(clientConfig(backend, { session: { ...ticket!, psk } }))
    const trace = runHandshake(client, new TlsServer(serverConfig(backend, { tickets })), NOW)
    expect(trace.serverFailure).toMatchObject({ _tag: "TlsAlert", description: 51 })
  })

  it("resumes under another suite of the same hash without 0-RTT", () => {
    const tickets = ticketConfig()
    const [ticket] = firstConnection(tickets)
    const client = new TlsClient(clientConfig(backend, { session: ticket, earlyData: true, cipherSuites: [TLS_CHACHA20_POLY1305_SHA256] }))
    const server = new TlsServer(serverConfig(backend, { tickets }))
    const trace = runHandshake(client, server, NOW + 1000)
    expect(trace.serverFailure).toBeUndefined()
    expect(server.resumed).toBe(true)
    expect(trace.client).toContainEqual({ _tag: "EarlyData", accepted: false })
  })
})
