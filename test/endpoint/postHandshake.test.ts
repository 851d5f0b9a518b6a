import { describe, expect, it } from "vitest"
import { TransportErrorCode } from "../../src/internal/errors.js"
import { AlertDescription } from "../../src/internal/tls/constants.js"
import { backends } from "../helpers.js"
import { CLIENT, closedEvents, makeRogueClient, SERVER } from "../support/kit.js"

/**
 * A confirmed server keeps only the outcome of its TLS handshake (its ALPN,
 * suite, peer chain, resumption): the negotiated facts stay readable, and
 * handshake bytes the client sends afterwards are refused (RFC 9001 §6: no
 * KeyUpdate in QUIC; no post-handshake authentication is asked for).
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
