import { describe, expect, it } from "vitest"
import { cipherSuites } from "../../src/internal/crypto/suite.js"
import { backends, toHex } from "../helpers.js"
import { clientConfig, runHandshake, serverConfig, tags, TlsClient, TlsServer } from "./harness.js"

const NOW = Date.UTC(2026, 0, 1)

describe.each(backends)("TLS handshake on the %s backend", (_name, backend) => {
  it("completes a full handshake and agrees on every secret", () => {
    const client = new TlsClient(clientConfig(backend))
    const server = new TlsServer(serverConfig(backend))
    const trace = runHandshake(client, server, NOW)
    expect(trace.clientFailure).toBeUndefined()
    expect(trace.serverFailure).toBeUndefined()
    expect(client.complete).toBe(true)
    expect(server.complete).toBe(true)
    expect(tags(trace.client)).toEqual([
      "data:initial",
      "keys:handshake:read",
      "keys:handshake:write",
      "PeerTransportParameters",
      "keys:application:read",
      "data:handshake",
      "keys:application:write",
      "HandshakeComplete"
    ])
    expect(tags(trace.server)).toEqual([
      "PeerTransportParameters",
      "data:initial",
      "keys:handshake:write",
      "keys:handshake:read",
      "data:handshake",
      "data:handshake",
      "data:handshake",
      "data:handshake",
      "keys:application:write",
      "keys:application:read",
      "HandshakeComplete"
    ])
    const secret = (events: typeof trace.client, level: string, direction: string) =>
      events.flatMap((e) => (e._tag === "Keys" && e.level === level && e.direction === direction ? [toHex(e.secret)] : []))
    expect(secret(trace.client, "handshake", "write")).toEqual(secret(trace.server, "handshake", "read"))
    expect(secret(trace.server, "handshake", "write")).toEqual(secret(trace.client, "handshake", "read"))
    expect(secret(trace.client, "application", "write")).toEqual(secret(trace.server, "application", "read"))
    expect(secret(trace.server, "application", "write")).toEqual(secret(trace.client, "application", "read"))
    expect(client.alpn).toBe("perf")
    expect(server.alpn).toBe("perf")
    expect(server.serverName).toBe("localhost")
    expect(client.peerCertificates.length).toBe(1)
  })

  it.each(cipherSuites.map((s) => [s.name, s] as const))("negotiates %s", (_n, suite) => {
    const client = new TlsClient(clientConfig(backend, { cipherSuites: [suite] }))
    const server = new TlsServer(serverConfig(backend))
    const trace = runHandshake(client, server, NOW)
    expect(trace.clientFailure).toBeUndefined()
    expect(trace.serverFailure).toBeUndefined()
    expect(client.suite).toBe(suite)
    expect(server.suite).toBe(suite)
  })
})
