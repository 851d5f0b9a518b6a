import { describe, expect, it } from "vitest"
import { cipherSuites } from "../../src/internal/crypto/suite.js"
import { webPkiVerifier } from "../../src/internal/tls/certificates.js"
import { AlertDescription } from "../../src/internal/tls/constants.js"
import type { CertifiedKey } from "../../src/internal/tls/session.js"
import { SignatureScheme } from "../../src/internal/tls/signatureSchemes.js"
import { isX509Error } from "../../src/internal/x509/der.js"
import { parsePrivateKeyPem } from "../../src/internal/x509/keys.js"
import { type Chain, type IssuedCertificate, type KeyType, cachedKeyPair, makeChain, TEST_NOW } from "../support/certs.js"
import { backends } from "../helpers.js"
import { clientConfig, runHandshake, serverConfig, TlsClient, TlsServer } from "./harness.js"

const certified = (leaf: IssuedCertificate, chain: ReadonlyArray<Uint8Array>): CertifiedKey => {
  const key = parsePrivateKeyPem(leaf.keyPem)
  if (isX509Error(key)) throw new Error(key.reason)
  return { chain, key }
}

const chainOf = (keyType: KeyType, leaf: Parameters<typeof makeChain>[0] = {}): Chain =>
  makeChain({
    keyType,
    root: { key: cachedKeyPair(keyType, "root") },
    intermediate: { key: cachedKeyPair(keyType, "intermediate") },
    ...leaf,
    leaf: { key: cachedKeyPair(keyType, "leaf"), ...leaf.leaf }
  })

const schemeFor: Record<Exclude<KeyType, "rsa-pss">, number> = {
  p256: SignatureScheme.ecdsa_secp256r1_sha256,
  p384: SignatureScheme.ecdsa_secp384r1_sha384,
  rsa2048: SignatureScheme.rsa_pss_rsae_sha256,
  ed25519: SignatureScheme.ed25519
}

describe.each(backends)("certificates on the %s backend", (_name, backend) => {
  const handshake = (chain: Chain, client: Partial<Parameters<typeof clientConfig>[1]> = {}, at = TEST_NOW) => {
    const c = new TlsClient(clientConfig(backend, { verifier: webPkiVerifier(backend, chain.trustAnchors), ...client }))
    const s = new TlsServer(serverConfig(backend, { certificate: certified(chain.leaf, chain.chain) }))
    return { client: c, server: s, trace: runHandshake(c, s, at) }
  }

  describe.each(Object.keys(schemeFor) as Array<keyof typeof schemeFor>)("with a %s chain", (keyType) => {
    const chain = chainOf(keyType)
    it.each(cipherSuites.flatMap((suite) => (["x25519", "secp256r1"] as const).map((group) => [suite.name, group, suite] as const)))(
      "%s with %s verifies the chain and the CertificateVerify",
      (_s, group, suite) => {
        const { client, server, trace } = handshake(chain, { cipherSuites: [suite], groups: [group] })
        expect(trace.clientFailure).toBeUndefined()
        expect(trace.serverFailure).toBeUndefined()
        expect(client.complete && server.complete).toBe(true)
        expect(client.peerCertificates).toHaveLength(2)
      }
    )
  })

  it.each([
    ["rsa_pss_rsae_sha384", SignatureScheme.rsa_pss_rsae_sha384, "rsa2048"],
    ["rsa_pss_rsae_sha512", SignatureScheme.rsa_pss_rsae_sha512, "rsa2048"],
    ["ecdsa_secp384r1_sha384", SignatureScheme.ecdsa_secp384r1_sha384, "p384"]
  ] as const)("signs CertificateVerify with %s when the client asks for it", (_n, scheme, keyType) => {
    const { trace } = handshake(chainOf(keyType), { signatureSchemes: [scheme] })
    expect(trace.clientFailure).toBeUndefined()
    expect(trace.serverFailure).toBeUndefined()
  })

  it("verifies chains signed with RSA PKCS#1 v1.5 and with ECDSA under another curve", () => {
    const rsaRoot = makeChain({ keyType: "rsa2048", root: { key: cachedKeyPair("rsa2048", "root") }, intermediate: { key: cachedKeyPair("rsa2048", "intermediate") }, leaf: { keyType: "p256", key: cachedKeyPair("p256", "leaf") } })
    expect(handshake(rsaRoot).trace.clientFailure).toBeUndefined()
    const mixed = makeChain({ keyType: "p384", root: { key: cachedKeyPair("p384", "root") }, intermediate: { key: cachedKeyPair("p384", "intermediate") }, leaf: { keyType: "p256", key: cachedKeyPair("p256", "leaf") } })
    expect(handshake(mixed).trace.clientFailure).toBeUndefined()
  })

  it.each([
    ["an expired certificate", { leaf: { notAfter: TEST_NOW - 1000 } }, AlertDescription.certificate_expired],
    ["a not-yet-valid certificate", { leaf: { notBefore: TEST_NOW + 86_400_000 } }, AlertDescription.certificate_expired],
    ["a certificate for another host", { leaf: { dnsNames: ["example.com"], ipAddresses: [] } }, AlertDescription.bad_certificate]
  ] as const)("refuses %s", (_n, options, alert) => {
    const { trace, client } = handshake(chainOf("p256", options))
    expect(trace.clientFailure).toMatchObject({ _tag: "TlsAlert", description: alert })
    expect(client.complete).toBe(false)
  })

  it("refuses a chain from an unknown issuer", () => {
    const chain = chainOf("p256")
    const other = makeChain({ keyType: "p256" })
    const { trace } = handshake({ ...chain, trustAnchors: other.trustAnchors })
    expect(trace.clientFailure).toMatchObject({ _tag: "TlsAlert", description: AlertDescription.unknown_ca })
  })

  it("refuses a CertificateVerify made with a key that is not the certificate's", () => {
    const chain = chainOf("p256")
    const impostor = chainOf("p256", { leaf: { key: cachedKeyPair("p256", "impostor") } })
    const c = new TlsClient(clientConfig(backend, { verifier: webPkiVerifier(backend, chain.trustAnchors) }))
    const s = new TlsServer(serverConfig(backend, { certificate: { chain: chain.chain, key: certified(impostor.leaf, []).key } }))
    const trace = runHandshake(c, s, TEST_NOW)
    expect(trace.clientFailure).toMatchObject({ _tag: "TlsAlert", description: AlertDescription.decrypt_error })
  })

  it("verifies the server by IP address when connecting to an IP literal (no SNI)", () => {
    const chain = chainOf("p256")
    const { trace, server } = handshake(chain, { serverName: "127.0.0.1" })
    expect(trace.clientFailure).toBeUndefined()
    expect(server.serverName).toBeUndefined()
    expect(handshake(chain, { serverName: "10.1.2.3" }).trace.clientFailure).toMatchObject({ description: AlertDescription.bad_certificate })
  })

  describe("mutual TLS", () => {
    const serverChain = chainOf("p256")
    const clientChain = chainOf("ed25519", { leaf: { subject: { CN: "client" }, dnsNames: [], ipAddresses: [], extKeyUsage: ["clientAuth"] } })
    const mtls = (clientCertificate: CertifiedKey | undefined, clientAuth: "optional" | "required", anchors = clientChain.trustAnchors) => {
      const c = new TlsClient(clientConfig(backend, { verifier: webPkiVerifier(backend, serverChain.trustAnchors), clientCertificate }))
      const s = new TlsServer(
        serverConfig(backend, {
          certificate: certified(serverChain.leaf, serverChain.chain),
          clientAuth,
          clientVerifier: webPkiVerifier(backend, anchors)
        })
      )
      return { client: c, server: s, trace: runHandshake(c, s, TEST_NOW) }
    }

    it("authenticates a client certificate the server requires", () => {
      const { trace, server, client } = mtls(certified(clientChain.leaf, clientChain.chain), "required")
      expect(trace.clientFailure ?? trace.serverFailure).toBeUndefined()
      expect(client.complete && server.complete).toBe(true)
      expect(server.peerCertificates).toHaveLength(2)
    })

    it("fails with certificate_required when the client has none", () => {
      const { trace } = mtls(undefined, "required")
      expect(trace.serverFailure).toMatchObject({ _tag: "TlsAlert", description: AlertDescription.certificate_required })
    })

    it("completes without a client certificate when it is optional", () => {
      const { trace, server } = mtls(undefined, "optional")
      expect(trace.clientFailure ?? trace.serverFailure).toBeUndefined()
      expect(server.complete).toBe(true)
      expect(server.peerCertificates).toHaveLength(0)
    })

    it("refuses a client certificate from an unknown issuer", () => {
      const { trace } = mtls(certified(clientChain.leaf, clientChain.chain), "required", serverChain.trustAnchors)
      expect(trace.serverFailure).toMatchObject({ _tag: "TlsAlert", description: AlertDescription.unknown_ca })
    })

    it("refuses a client certificate whose key usage is server-only", () => {
      const serverOnly = chainOf("p256", { leaf: { subject: { CN: "client" }, extKeyUsage: ["serverAuth"] } })
      const { trace } = mtls(certified(serverOnly.leaf, serverOnly.chain), "required", serverOnly.trustAnchors)
      expect(trace.serverFailure).toMatchObject({ _tag: "TlsAlert", description: AlertDescription.bad_certificate })
    })
  })
})
