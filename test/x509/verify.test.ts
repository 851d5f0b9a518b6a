import { generateKeyPairSync, sign as nodeSign } from "node:crypto"
import { describe, expect, it } from "vitest"
import type { CryptoBackend } from "../../src/internal/crypto/backend.js"
import type { Certificate } from "../../src/internal/x509/certificate.js"
import {
  type CertificateFailureReason,
  type CertificateVerifyError,
  type VerifiedPath,
  type VerifyChainOptions,
  MAX_PATH_LENGTH,
  MAX_SIGNATURE_CHECKS,
  isCertificateVerifyError,
  verifyCertificateChain
} from "../../src/internal/x509/verify.js"
import { makeNobleCryptoBackend } from "../../src/platform/nobleCrypto.js"
import { makeNodeCryptoBackend } from "../../src/platform/nodeCrypto.js"
import {
  type CertificateOptions,
  type IssuedCertificate,
  type KeyType,
  TEST_NOW,
  assembleCertificate,
  cachedKeyPair,
  makeCertificate,
  makeChain,
  makeSelfSigned,
  parseOrThrow
} from "../support/certs.js"
import * as der from "../../src/internal/x509/derWriter.js"

const node = makeNodeCryptoBackend()
const noble = makeNobleCryptoBackend()

const DAY = 86_400_000

/** Options for the common case: a server named "localhost" verified now. */
const options = (chain: ReadonlyArray<Uint8Array>, trustAnchors: ReadonlyArray<Certificate>, extra: Partial<VerifyChainOptions> = {}): VerifyChainOptions => ({
  chain,
  trustAnchors,
  unixMillis: TEST_NOW,
  serverName: "localhost",
  purpose: "server",
  ...extra
})

const verified = (result: VerifiedPath | CertificateVerifyError): VerifiedPath => {
  if (isCertificateVerifyError(result)) throw new Error(`expected success, got ${result.reason}: ${result.message}`)
  return result
}

const failsWith = (result: VerifiedPath | CertificateVerifyError, reason: CertificateFailureReason): CertificateVerifyError => {
  if (!isCertificateVerifyError(result)) throw new Error(`expected ${reason}, but the chain verified`)
  expect(result.reason, result.message).toBe(reason)
  return result
}

/** A key for each level, cached so RSA keys are generated once per file. */
const keysFor = (keyType: KeyType) => ({
  root: { key: cachedKeyPair(keyType, "root") },
  intermediate: { key: cachedKeyPair(keyType, "intermediate") },
  leaf: { key: cachedKeyPair(keyType, "leaf") }
})

const chainOf = (keyType: KeyType, overrides: { root?: Partial<CertificateOptions>; intermediate?: Partial<CertificateOptions>; leaf?: Partial<CertificateOptions> } = {}) => {
  const keys = keysFor(keyType)
  return makeChain({
    keyType,
    root: { ...keys.root, ...overrides.root },
    intermediate: { ...keys.intermediate, ...overrides.intermediate },
    leaf: { ...keys.leaf, ...overrides.leaf }
  })
}

const issuerOf = (issued: IssuedCertificate) => ({ certificate: issued.certificate, key: issued.key })

describe.each([
  ["node", node],
  ["noble", noble]
] as ReadonlyArray<readonly [string, CryptoBackend]>)("valid chains (%s backend)", (_, backend) => {
  for (const keyType of ["p256", "p384", "rsa2048", "rsa-pss", "ed25519"] as const) {
    it(`root → intermediate → leaf with ${keyType} issuers`, () => {
      const c = chainOf(keyType)
      const path = verified(verifyCertificateChain(backend, options(c.chain, c.trustAnchors)))
      expect(path.certificates.map((x) => x.subject.text)).toEqual([
        "CN=localhost",
        "CN=Test Intermediate CA, O=effect-quic tests",
        "CN=Test Root CA, O=effect-quic tests"
      ])
      expect(path.leaf).toBe(path.certificates[0])
      expect(path.anchor).toBe(c.trustAnchors[0])
      expect(path.leafKey.spki).toEqual(c.leaf.key.spki)
    })
  }

  it("mixed key types, the root also sent by the server", () => {
    const root = makeCertificate({ subject: { CN: "RSA Root" }, isCA: true, key: cachedKeyPair("rsa2048", "root") })
    const intermediate = makeCertificate({ subject: { CN: "P-384 Intermediate" }, isCA: true, keyType: "p384", issuer: issuerOf(root) })
    const leaf = makeCertificate({ subject: { CN: "leaf" }, keyType: "ed25519", dnsNames: ["localhost"], issuer: issuerOf(intermediate) })
    const path = verified(verifyCertificateChain(backend, options([leaf.der, intermediate.der, root.der], [root.certificate])))
    expect(path.certificates).toHaveLength(3)
  })

  it("refuses a flipped signature byte", () => {
    const c = chainOf("p256", { leaf: { corruptSignature: true } })
    failsWith(verifyCertificateChain(backend, options(c.chain, c.trustAnchors)), "bad-signature")
  })
})

describe("successful verification", () => {
  it("server names: DNS, IPv4, IPv6, none for client certificates", () => {
    const c = chainOf("p256", { leaf: { dnsNames: ["localhost", "Example.COM"], ipAddresses: ["127.0.0.1", "::1"] } })
    for (const serverName of ["localhost", "LOCALHOST.", "example.com", "127.0.0.1", "::1", "0:0:0:0:0:0:0:1", "[::1]"]) {
      verified(verifyCertificateChain(node, options(c.chain, c.trustAnchors, { serverName })))
    }
    verified(verifyCertificateChain(node, options(c.chain, c.trustAnchors, { serverName: undefined, purpose: "client" })))
  })

  it("intermediates in any order, with extras and duplicates", () => {
    const root = makeCertificate({ subject: { CN: "Root" }, isCA: true })
    const i1 = makeCertificate({ subject: { CN: "I1" }, isCA: true, issuer: issuerOf(root) })
    const i2 = makeCertificate({ subject: { CN: "I2" }, isCA: true, issuer: issuerOf(i1) })
    const leaf = makeCertificate({ subject: { CN: "leaf" }, dnsNames: ["localhost"], issuer: issuerOf(i2) })
    const unrelated = makeChain()
    const chain = [leaf.der, unrelated.intermediate.der, i1.der, leaf.der, unrelated.root.der, i2.der, i1.der]
    const path = verified(verifyCertificateChain(node, options(chain, [unrelated.root.certificate, root.certificate])))
    expect(path.certificates.map((x) => x.subject.text)).toEqual(["CN=leaf", "CN=I2", "CN=I1", "CN=Root"])
  })

  it("backtracks past a candidate that leads nowhere (cross-signing)", () => {
    const trusted = makeCertificate({ subject: { CN: "Trusted Root" }, isCA: true })
    const untrusted = makeCertificate({ subject: { CN: "Other Root" }, isCA: true })
    const intermediateKey = cachedKeyPair("p256", "cross")
    const viaOther = makeCertificate({ subject: { CN: "Cross" }, isCA: true, key: intermediateKey, issuer: issuerOf(untrusted) })
    const viaTrusted = makeCertificate({ subject: { CN: "Cross" }, isCA: true, key: intermediateKey, issuer: issuerOf(trusted) })
    const leaf = makeCertificate({ subject: { CN: "leaf" }, dnsNames: ["localhost"], issuer: issuerOf(viaTrusted) })
    const path = verified(verifyCertificateChain(node, options([leaf.der, viaOther.der, viaTrusted.der], [trusted.certificate])))
    expect(path.certificates[1]!.der).toEqual(viaTrusted.der)
    // An expired candidate is skipped in favour of a valid one.
    const expired = makeCertificate({ subject: { CN: "Cross" }, isCA: true, key: intermediateKey, issuer: issuerOf(trusted), notAfter: TEST_NOW - DAY })
    verified(verifyCertificateChain(node, options([leaf.der, expired.der, viaTrusted.der], [trusted.certificate])))
  })

  it("a leaf issued directly by the anchor, and a v1 root without extensions", () => {
    const v1 = makeCertificate({ subject: { CN: "Old Root" }, version: 1 })
    expect(v1.certificate.version).toBe(1)
    const leaf = makeCertificate({ subject: { CN: "leaf" }, dnsNames: ["localhost"], issuer: issuerOf(v1) })
    verified(verifyCertificateChain(node, options([leaf.der], [v1.certificate])))
  })

  it("extended key usage: anyExtendedKeyUsage, absent EKU, clientAuth for clients", () => {
    for (const extKeyUsage of [["any"], "omit", ["serverAuth"]] as const) {
      const c = chainOf("p256", { leaf: { extKeyUsage } })
      verified(verifyCertificateChain(node, options(c.chain, c.trustAnchors)))
    }
    const client = chainOf("p256", { leaf: { extKeyUsage: ["clientAuth"] } })
    verified(verifyCertificateChain(node, options(client.chain, client.trustAnchors, { purpose: "client", serverName: undefined })))
  })

  it("validity bounds are inclusive; anchors without key usage, leaves without basic constraints", () => {
    const c = chainOf("p256", { leaf: { notBefore: TEST_NOW, notAfter: TEST_NOW, keyUsage: "omit", basicConstraints: "omit" }, root: { keyUsage: "omit" } })
    verified(verifyCertificateChain(node, options(c.chain, c.trustAnchors)))
  })

  it("path length: pathLen 0 may issue leaves, pathLen 1 allows one intermediate", () => {
    const zero = chainOf("p256", { intermediate: { pathLen: 0 }, root: { pathLen: 1 } })
    verified(verifyCertificateChain(node, options(zero.chain, zero.trustAnchors)))
  })

  it("accepts paths of up to MAX_PATH_LENGTH certificates", () => {
    const { chain, anchor } = longChain(MAX_PATH_LENGTH - 2)
    verified(verifyCertificateChain(node, options(chain, [anchor])))
  })
})

/** root → n intermediates → leaf, sent in order. */
const longChain = (n: number) => {
  const root = makeCertificate({ subject: { CN: "Root" }, isCA: true, key: cachedKeyPair("p256", "long0") })
  let issuer = root
  const intermediates: Array<Uint8Array> = []
  for (let i = 1; i <= n; i++) {
    issuer = makeCertificate({ subject: { CN: `I${i}` }, isCA: true, key: cachedKeyPair("p256", `long${i}`), issuer: issuerOf(issuer) })
    intermediates.unshift(issuer.der)
  }
  const leaf = makeCertificate({ subject: { CN: "leaf" }, dnsNames: ["localhost"], issuer: issuerOf(issuer) })
  return { chain: [leaf.der, ...intermediates], anchor: root.certificate }
}

describe("pinned self-signed certificates (openssl req -x509)", () => {
  const pinned = makeSelfSigned({ dnsNames: ["localhost"], key: cachedKeyPair("p256", "pinned") })

  it("a leaf equal to a trust anchor is accepted although it says CA:TRUE", () => {
    expect(pinned.certificate.extensions.basicConstraints?.cA).toBe(true)
    const path = verified(verifyCertificateChain(node, options([pinned.der], [pinned.certificate])))
    expect(path.certificates).toHaveLength(1)
    expect(path.anchor).toBe(pinned.certificate)
  })

  it("is still checked for time and name, and unknown when not pinned", () => {
    failsWith(verifyCertificateChain(node, options([pinned.der], [pinned.certificate], { serverName: "example.com" })), "name-mismatch")
    failsWith(verifyCertificateChain(node, options([pinned.der], [pinned.certificate], { unixMillis: Date.UTC(2041, 0, 1) })), "expired")
    failsWith(verifyCertificateChain(node, options([pinned.der], [])), "unknown-issuer")
    const other = makeSelfSigned({ dnsNames: ["localhost"] })
    failsWith(verifyCertificateChain(node, options([pinned.der], [other.certificate])), "unknown-issuer")
  })
})

describe("failures", () => {
  const c = chainOf("p256")

  it("expired and not-yet-valid leaf, intermediate and root", () => {
    const past = { notBefore: TEST_NOW - 30 * DAY, notAfter: TEST_NOW - DAY }
    const future = { notBefore: TEST_NOW + DAY, notAfter: TEST_NOW + 30 * DAY }
    for (const level of ["leaf", "intermediate", "root"] as const) {
      const expired = chainOf("p256", { [level]: past })
      failsWith(verifyCertificateChain(node, options(expired.chain, expired.trustAnchors)), "expired")
      const early = chainOf("p256", { [level]: future })
      failsWith(verifyCertificateChain(node, options(early.chain, early.trustAnchors)), "not-yet-valid")
    }
    // The message says which certificate.
    const expiredIntermediate = chainOf("p256", { intermediate: past })
    const error = failsWith(verifyCertificateChain(node, options(expiredIntermediate.chain, expiredIntermediate.trustAnchors)), "expired")
    expect(error.certificate?.subject.text).toContain("Intermediate")
  })

  it("name mismatches: wrong host, IP not in SAN, CN without SAN, wildcards", () => {
    failsWith(verifyCertificateChain(node, options(c.chain, c.trustAnchors, { serverName: "example.com" })), "name-mismatch")
    failsWith(verifyCertificateChain(node, options(c.chain, c.trustAnchors, { serverName: "127.0.0.2" })), "name-mismatch")
    failsWith(verifyCertificateChain(node, options(c.chain, c.trustAnchors, { serverName: "::2" })), "name-mismatch")
    failsWith(verifyCertificateChain(node, options(c.chain, c.trustAnchors, { serverName: "not a name" })), "name-mismatch")
    const cnOnly = chainOf("p256", { leaf: { dnsNames: [], ipAddresses: [] } })
    failsWith(verifyCertificateChain(node, options(cnOnly.chain, cnOnly.trustAnchors)), "name-mismatch")
    // An IP literal is not matched against dNSName entries.
    const ipAsDns = chainOf("p256", { leaf: { dnsNames: ["127.0.0.1"], ipAddresses: [] } })
    failsWith(verifyCertificateChain(node, options(ipAsDns.chain, ipAsDns.trustAnchors, { serverName: "127.0.0.1" })), "name-mismatch")

    const wildcard = chainOf("p256", { leaf: { dnsNames: ["*.example.com"], ipAddresses: [] } })
    const check = (serverName: string) => verifyCertificateChain(node, options(wildcard.chain, wildcard.trustAnchors, { serverName }))
    verified(check("a.example.com"))
    verified(check("WWW.Example.com."))
    failsWith(check("example.com"), "name-mismatch")
    failsWith(check("a.b.example.com"), "name-mismatch")
    const tld = chainOf("p256", { leaf: { dnsNames: ["*.com"], ipAddresses: [] } })
    failsWith(verifyCertificateChain(node, options(tld.chain, tld.trustAnchors, { serverName: "example.com" })), "name-mismatch")
  })

  it("unknown issuer: another CA, the same CA name with another key, no anchors", () => {
    const other = chainOf("p256", { root: { key: cachedKeyPair("p256", "other-root"), subject: { CN: "Other Root" } } })
    failsWith(verifyCertificateChain(node, options(other.chain, c.trustAnchors)), "unknown-issuer")
    const sameName = chainOf("p256", { root: { key: cachedKeyPair("p256", "impostor") } })
    failsWith(verifyCertificateChain(node, options(sameName.chain, c.trustAnchors)), "unknown-issuer")
    failsWith(verifyCertificateChain(node, options(c.chain, [])), "unknown-issuer")
    failsWith(verifyCertificateChain(node, options([c.leaf.der], c.trustAnchors)), "unknown-issuer")
  })

  it("bad signature on the intermediate, and on a same-name issuer without key identifiers", () => {
    const corrupt = chainOf("p256", { intermediate: { corruptSignature: true } })
    failsWith(verifyCertificateChain(node, options(corrupt.chain, corrupt.trustAnchors)), "bad-signature")
    const noIds = chainOf("p256", { root: { key: cachedKeyPair("p256", "impostor"), keyIdentifiers: false }, intermediate: { keyIdentifiers: false } })
    const noIdsReal = chainOf("p256", { root: { keyIdentifiers: false } })
    failsWith(verifyCertificateChain(node, options(noIds.chain, noIdsReal.trustAnchors)), "bad-signature")
  })

  it("not a CA: CA:FALSE, no basic constraints, a leaf used as an issuer", () => {
    for (const intermediate of [{ isCA: false }, { basicConstraints: "omit" as const }]) {
      const x = chainOf("p256", { intermediate })
      failsWith(verifyCertificateChain(node, options(x.chain, x.trustAnchors)), "not-a-ca")
    }
    const leafAsIssuer = makeCertificate({ subject: { CN: "sub" }, dnsNames: ["localhost"], issuer: issuerOf(c.leaf) })
    failsWith(verifyCertificateChain(node, options([leafAsIssuer.der, c.leaf.der, c.intermediate.der], c.trustAnchors)), "not-a-ca")
    // A v3 root that is not a CA is not accepted either.
    const v3NotCa = chainOf("p256", { root: { basicConstraints: "omit" } })
    failsWith(verifyCertificateChain(node, options(v3NotCa.chain, v3NotCa.trustAnchors)), "not-a-ca")
  })

  it("path length constraints and the path depth limit", () => {
    const rootZero = chainOf("p256", { root: { pathLen: 0 } })
    failsWith(verifyCertificateChain(node, options(rootZero.chain, rootZero.trustAnchors)), "path-length-exceeded")
    const root = makeCertificate({ subject: { CN: "Root" }, isCA: true })
    const i1 = makeCertificate({ subject: { CN: "I1" }, isCA: true, pathLen: 0, issuer: issuerOf(root) })
    const i2 = makeCertificate({ subject: { CN: "I2" }, isCA: true, issuer: issuerOf(i1) })
    const leaf = makeCertificate({ subject: { CN: "leaf" }, dnsNames: ["localhost"], issuer: issuerOf(i2) })
    failsWith(verifyCertificateChain(node, options([leaf.der, i2.der, i1.der], [root.certificate])), "path-length-exceeded")
    const { chain, anchor } = longChain(MAX_PATH_LENGTH - 1)
    failsWith(verifyCertificateChain(node, options(chain, [anchor])), "path-length-exceeded")
  })

  it("key usage: issuer without keyCertSign, leaf without digitalSignature", () => {
    const issuer = chainOf("p256", { intermediate: { keyUsage: ["digitalSignature", "cRLSign"] } })
    failsWith(verifyCertificateChain(node, options(issuer.chain, issuer.trustAnchors)), "key-usage")
    const leaf = chainOf("p256", { leaf: { keyUsage: ["keyEncipherment"] } })
    failsWith(verifyCertificateChain(node, options(leaf.chain, leaf.trustAnchors)), "key-usage")
  })

  it("extended key usage: clientAuth-only leaf used as a server, and the reverse", () => {
    const clientOnly = chainOf("p256", { leaf: { extKeyUsage: ["clientAuth"] } })
    failsWith(verifyCertificateChain(node, options(clientOnly.chain, clientOnly.trustAnchors)), "extended-key-usage")
    const serverOnly = chainOf("p256", { leaf: { extKeyUsage: ["serverAuth", "1.3.6.1.5.5.7.3.3"] } })
    failsWith(verifyCertificateChain(node, options(serverOnly.chain, serverOnly.trustAnchors, { purpose: "client", serverName: undefined })), "extended-key-usage")
  })

  it("unsupported critical extensions on the leaf or an issuer; non-critical ones are ignored", () => {
    const ext = { oid: "1.3.6.1.4.1.99999.1", critical: true, valueDer: der.nullValue() }
    for (const level of ["leaf", "intermediate", "root"] as const) {
      const x = chainOf("p256", { [level]: { extraExtensions: [ext] } })
      failsWith(verifyCertificateChain(node, options(x.chain, x.trustAnchors)), "unsupported-critical-extension")
    }
    const nonCritical = chainOf("p256", { leaf: { extraExtensions: [{ ...ext, critical: false }] } })
    verified(verifyCertificateChain(node, options(nonCritical.chain, nonCritical.trustAnchors)))
  })

  it("name constraints of intermediates and anchors apply to the leaf's SAN", () => {
    const cases: ReadonlyArray<[Partial<CertificateOptions>, Partial<CertificateOptions>, CertificateFailureReason | "ok"]> = [
      [{ nameConstraints: { permittedDns: ["example.com"] } }, { dnsNames: ["www.example.com"], ipAddresses: [] }, "ok"],
      [{ nameConstraints: { permittedDns: ["example.com"] } }, { dnsNames: ["www.example.com", "www.example.org"], ipAddresses: [] }, "name-constraints"],
      [{ nameConstraints: { excludedDns: ["localhost"] } }, {}, "name-constraints"],
      [{ nameConstraints: { excludedDns: ["secret.example.com"] } }, { dnsNames: ["*.example.com"], ipAddresses: [] }, "name-constraints"],
      [{ nameConstraints: { permittedIp: ["127.0.0.0/8", "::1/128"] } }, {}, "ok"],
      [{ nameConstraints: { permittedIp: ["10.0.0.0/8"] } }, {}, "name-constraints"],
      [{ nameConstraints: { excludedIp: ["::/0"] } }, {}, "name-constraints"],
      // DNS-only constraints leave IP addresses alone.
      [{ nameConstraints: { permittedDns: ["localhost"] } }, {}, "ok"]
    ]
    for (const [constraints, leaf, expected] of cases) {
      for (const level of ["intermediate", "root"] as const) {
        const x = chainOf("p256", { [level]: constraints, leaf })
        const result = verifyCertificateChain(node, options(x.chain, x.trustAnchors, { serverName: leaf.dnsNames?.[0]?.replace("*", "www") ?? "localhost" }))
        if (expected === "ok") verified(result)
        else failsWith(result, expected)
      }
    }
    // With a wildcard SAN, the name actually connected to is checked too.
    const wildcard = chainOf("p256", { intermediate: { nameConstraints: { excludedDns: ["secret.example.com"] } }, leaf: { dnsNames: ["*.example.com"], ipAddresses: [] } })
    failsWith(verifyCertificateChain(node, options(wildcard.chain, wildcard.trustAnchors, { serverName: "secret.example.com" })), "name-constraints")
  })

  it("unsupported algorithms: SHA-1 signature, unsupported leaf key", () => {
    // Re-sign the leaf with sha1WithRSAEncryption under an RSA intermediate.
    const rsa = chainOf("rsa2048")
    const sha1 = der.seq(der.oid("1.2.840.113549.1.1.5"), der.nullValue())
    const tbs = rsa.leaf.certificate.tbs
    const contents = tbs.subarray(tbs[1]! < 0x80 ? 2 : 2 + (tbs[1]! & 0x7f))
    // Swap the signature AlgorithmIdentifier after [0] version and the serial.
    const serialEnd = 5 + 2 + contents[6]!
    const algEnd = serialEnd + 2 + contents[serialEnd + 1]!
    const newTbs = der.seq(contents.subarray(0, serialEnd), sha1, contents.subarray(algEnd))
    const signed = assembleCertificate(newTbs, sha1, new Uint8Array(nodeSign("sha1", newTbs, rsa.intermediate.key.privateKey)))
    expect(parseOrThrow(signed).signatureAlgorithm.kind).toBe("unsupported")
    failsWith(verifyCertificateChain(node, options([signed, rsa.intermediate.der], rsa.trustAnchors)), "unsupported-algorithm")

    const x25519 = generateKeyPairSync("x25519")
    const key = { ...cachedKeyPair("p256"), spki: new Uint8Array(x25519.publicKey.export({ type: "spki", format: "der" })) }
    const leaf = makeCertificate({ subject: { CN: "x" }, key, dnsNames: ["localhost"], issuer: issuerOf(c.intermediate) })
    failsWith(verifyCertificateChain(node, options([leaf.der, c.intermediate.der], c.trustAnchors)), "unsupported-algorithm")
  })

  it("malformed input", () => {
    failsWith(verifyCertificateChain(node, options([], c.trustAnchors)), "malformed")
    failsWith(verifyCertificateChain(node, options([Uint8Array.of(0x30, 0x00)], c.trustAnchors)), "malformed")
    failsWith(verifyCertificateChain(node, options([c.leaf.der, Uint8Array.of(1, 2, 3)], c.trustAnchors)), "malformed")
  })

  it("bounds the work on adversarial chains (MAX_SIGNATURE_CHECKS)", () => {
    const key = cachedKeyPair("p256", "loop")
    const seed = makeCertificate({ subject: { CN: "Loop" }, isCA: true, key })
    const loops = Array.from({ length: 30 }, () => makeCertificate({ subject: { CN: "Loop" }, isCA: true, key, issuer: issuerOf(seed) }))
    const leaf = makeCertificate({ subject: { CN: "leaf" }, dnsNames: ["localhost"], issuer: issuerOf(seed) })
    let calls = 0
    const counting = { verify: (...args: Parameters<CryptoBackend["verify"]>) => (calls++, node.verify(...args)) }
    const result = verifyCertificateChain(counting, options([leaf.der, ...loops.map((l) => l.der)], c.trustAnchors))
    expect(isCertificateVerifyError(result)).toBe(true)
    expect(calls).toBeLessThanOrEqual(MAX_SIGNATURE_CHECKS)
  })

  it("fails closed for a NaN time", () => {
    failsWith(verifyCertificateChain(node, options(c.chain, c.trustAnchors, { unixMillis: Number.NaN })), "not-yet-valid")
  })

  it("reports the most specific failure rather than unknown-issuer", () => {
    // The only path fails on time at the root; a dead-end candidate adds an unknown issuer.
    const root = makeCertificate({ subject: { CN: "Root" }, isCA: true, notAfter: TEST_NOW - DAY })
    const stray = makeCertificate({ subject: { CN: "Root" }, isCA: true, issuer: issuerOf(makeCertificate({ subject: { CN: "Elsewhere" }, isCA: true })), key: root.key })
    const intermediate = makeCertificate({ subject: { CN: "I" }, isCA: true, issuer: issuerOf(root) })
    const leaf = makeCertificate({ subject: { CN: "leaf" }, dnsNames: ["localhost"], issuer: issuerOf(intermediate) })
    failsWith(verifyCertificateChain(node, options([leaf.der, stray.der, intermediate.der], [root.certificate])), "expired")
  })
})
