import { describe, expect, it } from "vitest"
import { AlertDescription, ExtensionType } from "../../src/internal/tls/constants.js"
import { decodeClientHello, encodeClientHello, findExtension } from "../../src/internal/tls/messages.js"
import { backends } from "../helpers.js"
import { clientConfig, runHandshake, serverConfig, tags, TlsClient, TlsServer } from "./harness.js"

const NOW = Date.UTC(2026, 0, 1)

describe.each(backends)("negotiation on the %s backend", (_name, backend) => {
  it.each([["x25519"], ["secp256r1"]] as const)("completes with a %s key share", (group) => {
    const client = new TlsClient(clientConfig(backend, { groups: [group] }))
    const server = new TlsServer(serverConfig(backend))
    const trace = runHandshake(client, server, NOW)
    expect(trace.clientFailure).toBeUndefined()
    expect(trace.serverFailure).toBeUndefined()
    expect(client.complete && server.complete).toBe(true)
    expect(tags(trace.server).filter((t) => t === "data:initial")).toHaveLength(1)
  })

  it("sends a HelloRetryRequest with a cookie when the client's share is for a group the server does not take", () => {
    const client = new TlsClient(clientConfig(backend, { groups: ["secp256r1", "x25519"] }))
    const server = new TlsServer(serverConfig(backend, { groups: ["x25519"] }))
    const trace = runHandshake(client, server, NOW)
    expect(trace.clientFailure).toBeUndefined()
    expect(trace.serverFailure).toBeUndefined()
    expect(client.complete && server.complete).toBe(true)
    // HelloRetryRequest then ServerHello from the server; two ClientHellos from the client.
    expect(tags(trace.server).filter((t) => t === "data:initial")).toHaveLength(2)
    const hellos = trace.client.flatMap((e) => (e._tag === "HandshakeData" && e.level === "initial" ? [e.data] : []))
    expect(hellos).toHaveLength(2)
    const second = decodeClientHello(hellos[1]!.subarray(4))
    if ("_tag" in second) throw new Error(second.reason)
    expect(findExtension(second.extensions, ExtensionType.cookie)).toBeDefined()
  })

  it("fails the second ClientHello when the cookie is not echoed", () => {
    const client = new TlsClient(clientConfig(backend, { groups: ["secp256r1", "x25519"] }))
    const server = new TlsServer(serverConfig(backend, { groups: ["x25519"] }))
    client.start(NOW)
    const first = client.pollEvent()
    if (first?._tag !== "HandshakeData") throw new Error("expected ClientHello")
    expect(server.receive("initial", first.data, NOW)).toBeUndefined()
    const retry = server.pollEvent()
    if (retry?._tag !== "HandshakeData") throw new Error("expected HelloRetryRequest")
    expect(client.receive("initial", retry.data, NOW)).toBeUndefined()
    const second = client.pollEvent()
    if (second?._tag !== "HandshakeData") throw new Error("expected ClientHello2")
    const hello = decodeClientHello(second.data.subarray(4))
    if ("_tag" in hello) throw new Error(hello.reason)
    const stripped = encodeClientHello({ ...hello, extensions: hello.extensions.filter((e) => e.type !== ExtensionType.cookie) })
    expect(server.receive("initial", stripped, NOW)).toMatchObject({ description: AlertDescription.illegal_parameter })
  })

  it("fails with handshake_failure when no group is shared", () => {
    const client = new TlsClient(clientConfig(backend, { groups: ["secp256r1"] }))
    const server = new TlsServer(serverConfig(backend, { groups: ["x25519"] }))
    const trace = runHandshake(client, server, NOW)
    expect(trace.serverFailure).toMatchObject({ _tag: "TlsAlert", description: AlertDescription.handshake_failure })
  })

  it("fails with no_application_protocol when no ALPN protocol is shared", () => {
    const client = new TlsClient(clientConfig(backend, { alpn: ["h3"] }))
    const server = new TlsServer(serverConfig(backend, { alpn: ["perf", "hq-interop"] }))
    const trace = runHandshake(client, server, NOW)
    expect(trace.serverFailure).toMatchObject({ _tag: "TlsAlert", description: AlertDescription.no_application_protocol })
  })

  it("picks the server's preferred ALPN protocol among the client's", () => {
    const client = new TlsClient(clientConfig(backend, { alpn: ["hq-interop", "perf"] }))
    const server = new TlsServer(serverConfig(backend, { alpn: ["perf", "hq-interop"] }))
    runHandshake(client, server, NOW)
    expect(client.alpn).toBe("perf")
  })

  it("fails with handshake_failure when no cipher suite is shared", () => {
    const [a, b] = clientConfig(backend).cipherSuites
    const client = new TlsClient(clientConfig(backend, { cipherSuites: [a!] }))
    const server = new TlsServer(serverConfig(backend, { cipherSuites: [b!] }))
    const trace = runHandshake(client, server, NOW)
    expect(trace.serverFailure).toMatchObject({ _tag: "TlsAlert", description: AlertDescription.handshake_failure })
  })

  it("follows the server's cipher suite preference", () => {
    const [a, b, c] = clientConfig(backend).cipherSuites
    const client = new TlsClient(clientConfig(backend, { cipherSuites: [a!, b!, c!] }))
    const server = new TlsServer(serverConfig(backend, { cipherSuites: [c!, a!] }))
    runHandshake(client, server, NOW)
    expect(client.suite).toBe(c)
  })

  it("writes every traffic secret to the key log in NSS format", () => {
    const clientLines: Array<string> = []
    const serverLines: Array<string> = []
    const client = new TlsClient(clientConfig(backend, { keyLog: (l) => clientLines.push(l) }))
    const server = new TlsServer(serverConfig(backend, { keyLog: (l) => serverLines.push(l) }))
    runHandshake(client, server, NOW)
    const labels = (lines: ReadonlyArray<string>) => lines.map((l) => l.split(" ")[0]).sort()
    expect(labels(clientLines)).toEqual([
      "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
      "CLIENT_TRAFFIC_SECRET_0",
      "SERVER_HANDSHAKE_TRAFFIC_SECRET",
      "SERVER_TRAFFIC_SECRET_0"
    ])
    expect(clientLines.slice().sort()).toEqual(serverLines.slice().sort())
    for (const line of clientLines) expect(line).toMatch(/^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]{64}$/)
  })
})
