import { describe, expect, it } from "vitest"
import { TransportErrorCode } from "../../src/internal/errors.js"
import { CompletedClientHandshake, CompletedServerHandshake } from "../../src/internal/tls/completed.js"
import { AlertDescription } from "../../src/internal/tls/constants.js"
import { backends } from "../helpers.js"
import { CLIENT, closedEvents, connect, connectionOf, decodeWire, KeyLog, makeRogueClient, makeTestPair, SERVER } from "../support/kit.js"
import { perfectLink } from "../support/link.js"

/**
 * A confirmed server keeps only the outcome of its TLS handshake (its ALPN,
 * suite, peer chain, resumption): the negotiated facts stay readable, and
 * handshake bytes the client sends afterwards are refused (RFC 9001 §6: no
 * KeyUpdate in QUIC; no post-handshake authentication is asked for). A
 * confirmed client keeps the outcome and what it takes to receive tickets.
 */
describe.each(backends)("after the handshake, on the %s backend", (_name, backend) => {
  it("the server still reports what was negotiated", () => {
    const pair = makeRogueClient(backend, {})
    expect(pair.server.alpn(pair.serverConn)).toBe(pair.client.alpn(pair.clientConn))
    expect(pair.server.alpn(pair.serverConn)).toBeDefined()
    expect(pair.server.cipherSuite(pair.serverConn)).toBe("TLS_AES_128_GCM_SHA256")
    expect(pair.server.resumed(pair.serverConn)).toBe(false)
    expect(pair.server.peerCertificates(pair.serverConn)).toEqual([])
  })

  it("the client too keeps only the outcome once confirmed, and resumes with the tickets it took", () => {
    const pair = makeTestPair(backend)
    const { clientConn, serverConn } = connect(pair)
    pair.network.run(() => false, 200_000)
    const tlsOf = (endpoint: typeof pair.client, handle: number) => (connectionOf(endpoint, handle) as unknown as { tls: unknown }).tls
    expect(tlsOf(pair.client, clientConn)).toBeInstanceOf(CompletedClientHandshake)
    expect(tlsOf(pair.server, serverConn)).toBeInstanceOf(CompletedServerHandshake)
    expect(pair.client.alpn(clientConn)).toBe("test")
    expect(pair.client.cipherSuite(clientConn)).toBe(pair.server.cipherSuite(serverConn))
    expect(pair.client.peerCertificates(clientConn)).toHaveLength(1)
    expect(pair.client.resumed(clientConn)).toBe(false)
    const again = pair.client.connect(pair.network.now, SERVER, "localhost")
    if (typeof again !== "number") throw new Error(again._tag)
    expect(pair.network.run(() => pair.client.resumed(again), 2_000_000)).toBe(true)
    expect(closedEvents(pair.network, CLIENT)).toEqual([])
  })

  it.each([true, false])("with resumption %s, the client asks for tickets only if it keeps them, and the server sends them only then", (resumption) => {
    const keyLog = new KeyLog()
    const pair = makeTestPair(backend, perfectLink, { recordWire: true, client: { keyLog: keyLog.log, resumption } })
    connect(pair)
    pair.network.run(() => false, 200_000)
    const { decoded, undecryptable } = decodeWire(backend, pair.network.wire, keyLog)
    expect(undecryptable).toBe(0)
    const serverCrypto = decoded.filter((d) => !d.fromClient).flatMap((d) => d.frames.filter((f) => f._tag === "Crypto"))
    // Two NewSessionTickets (the endpoint's default count) or none.
    expect(serverCrypto.length > 0).toBe(resumption)
    const again = pair.client.connect(pair.network.now, SERVER, "localhost")
    if (typeof again !== "number") throw new Error(again._tag)
    pair.network.run(() => pair.network.eventsOf(CLIENT).filter((e) => e._tag === "Connected").length === 2, 2_000_000)
    expect(pair.client.resumed(again)).toBe(resumption)
    expect(closedEvents(pair.network, CLIENT)).toEqual([])
  })

  it("closes with CRYPTO_ERROR (unexpected_message) on handshake data at 1-RTT", () => {
    const pair = makeRogueClient(backend, {})
    // A NewSessionTicket header, which only a server may send.
    pair.inject([{ _tag: "Crypto", offset: 0, data: Uint8Array.of(4, 0, 0, 0) }])
    expect(pair.network.run(() => closedEvents(pair.network, CLIENT).length > 0, 2_000_000)).toBe(true)
    expect(closedEvents(pair.network, SERVER)).toMatchObject([
      { _tag: "TransportError", code: TransportErrorCode.CRYPTO_ERROR + AlertDescription.unexpected_message, remote: false }
    ])
  })
})
