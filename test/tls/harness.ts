import type { CryptoBackend, PrivateKey } from "../../src/internal/crypto/backend.js"
import { cipherSuites } from "../../src/internal/crypto/suite.js"
import { TlsClient, type TlsClientConfig } from "../../src/internal/tls/client.js"
import { insecureVerifier } from "../../src/internal/tls/certificates.js"
import { TlsServer, type TlsServerConfig } from "../../src/internal/tls/server.js"
import type { TlsEvent, TlsFailure, TlsSession } from "../../src/internal/tls/session.js"
import { fixture, fromHex } from "../helpers.js"

/** Every event a side emitted, in order. */
export interface Trace {
  readonly client: Array<TlsEvent>
  readonly server: Array<TlsEvent>
  clientFailure: TlsFailure | undefined
  serverFailure: TlsFailure | undefined
}

/** Rewrites the `index`-th handshake message (counted across both sides) sent by `from`. */
export type Intercept = (index: number, from: "client" | "server", data: Uint8Array) => Uint8Array

/**
 * Runs a handshake in memory: hands every HandshakeData event of one side to
 * the other at its level, until neither has anything more to say.
 */
export const runHandshake = (
  client: TlsClient,
  server: TlsServer,
  unixMillis: number,
  intercept?: Intercept
): Trace => {
  const trace: Trace = { client: [], server: [], clientFailure: undefined, serverFailure: undefined }
  client.start(unixMillis)
  let index = 0
  const drain = (from: TlsSession, to: TlsSession, log: Array<TlsEvent>, side: "client" | "server"): boolean => {
    let moved = false
    for (let event = from.pollEvent(); event !== undefined; event = from.pollEvent()) {
      log.push(event)
      moved = true
      if (event._tag !== "HandshakeData") continue
      const data = intercept === undefined ? event.data : intercept(index, side, event.data)
      index++
      const failure = to.receive(event.level, data, unixMillis)
      if (failure !== undefined) {
        if (side === "client") trace.serverFailure ??= failure
        else trace.clientFailure ??= failure
      }
    }
    return moved
  }
  for (let rounds = 0; rounds < 20; rounds++) {
    const a = drain(client, server, trace.client, "client")
    const b = drain(server, client, trace.server, "server")
    if (!a && !b) break
  }
  return trace
}

const v = fixture("vectors/rfc8448-simple-1rtt.json")

/** The RFC 8448 server certificate and its 1024-bit RSA key (test material only). */
export const rfc8448Certificate = (): { chain: ReadonlyArray<Uint8Array>; key: PrivateKey } => {
  const k = v.server_rsa_key
  return {
    chain: [fromHex(v.server_certificate.der)],
    key: {
      type: "rsa",
      modulus: fromHex(k.modulus),
      publicExponent: fromHex(k.public_exponent),
      privateExponent: fromHex(k.private_exponent),
      prime1: fromHex(k.prime1),
      prime2: fromHex(k.prime2),
      exponent1: fromHex(k.exponent1),
      exponent2: fromHex(k.exponent2),
      coefficient: fromHex(k.coefficient)
    }
  }
}

export const clientConfig = (backend: CryptoBackend, overrides: Partial<TlsClientConfig> = {}): TlsClientConfig => ({
  backend,
  cipherSuites,
  groups: ["x25519", "secp256r1"],
  alpn: ["perf"],
  transportParameters: fromHex("0104800075300f08aabbccddeeff0011"),
  serverName: "localhost",
  verifier: insecureVerifier,
  ...overrides
})

export const serverConfig = (backend: CryptoBackend, overrides: Partial<TlsServerConfig> = {}): TlsServerConfig => ({
  backend,
  cipherSuites,
  groups: ["x25519", "secp256r1"],
  alpn: ["perf"],
  transportParameters: fromHex("0104800075300f0411223344"),
  certificate: rfc8448Certificate(),
  ...overrides
})

export const tags = (events: ReadonlyArray<TlsEvent>): Array<string> =>
  events.map((e) =>
    e._tag === "HandshakeData" ? `data:${e.level}` : e._tag === "Keys" ? `keys:${e.level}:${e.direction}` : e._tag
  )

export { TlsClient, TlsServer }
