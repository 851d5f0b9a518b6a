import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { type Certificate, parseCertificate, parseCertificatePem } from "../../src/internal/x509/certificate.js"
import { isX509Error } from "../../src/internal/x509/der.js"
import { isCertificateVerifyError, verifyCertificateChain } from "../../src/internal/x509/verify.js"
import { makeNobleCryptoBackend } from "../../src/platform/nobleCrypto.js"
import { makeNodeCryptoBackend } from "../../src/platform/nodeCrypto.js"
import { TEST_NOW, makeChain } from "../support/certs.js"

const node = makeNodeCryptoBackend()
const noble = makeNobleCryptoBackend()

const p256 = makeChain({
  keyType: "p256",
  intermediate: { nameConstraints: { permittedDns: ["localhost"], excludedIp: ["10.0.0.0/8"] }, pathLen: 1 }
})
const ed25519 = makeChain({ keyType: "ed25519", leaf: { dnsNames: ["*.example.com", "localhost"] } })
const chains = [p256, ed25519]

type Mutation =
  | { readonly kind: "set"; readonly at: number; readonly value: number }
  | { readonly kind: "flip"; readonly at: number; readonly bit: number }
  | { readonly kind: "insert"; readonly at: number; readonly value: number }
  | { readonly kind: "delete"; readonly at: number }
  | { readonly kind: "truncate"; readonly at: number }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() })
)

const mutate = (input: Uint8Array, mutations: ReadonlyArray<Mutation>): Uint8Array => {
  let bytes = Array.from(input)
  for (const m of mutations) {
    if (bytes.length === 0) break
    const at = m.at % bytes.length
    switch (m.kind) {
      case "set":
        bytes[at] = m.value
        break
      case "flip":
        bytes[at]! ^= 1 << m.bit
        break
      case "insert":
        bytes.splice(at, 0, m.value)
        break
      case "delete":
        bytes.splice(at, 1)
        break
      case "truncate":
        bytes = bytes.slice(0, at)
        break
    }
  }
  return Uint8Array.from(bytes)
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i])

describe("fuzzing the parser", () => {
  it("random bytes never throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const result = parseCertificate(bytes)
        expect(isX509Error(result) || result.der.length === bytes.length).toBe(true)
      }),
      { numRuns: 3000 }
    )
  })

  it("random bytes inside a SEQUENCE never throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (body) => {
        const header = body.length < 128 ? [0x30, body.length] : [0x30, 0x82, body.length >> 8, body.length & 0xff]
        parseCertificate(Uint8Array.from([...header, ...body]))
      }),
      { numRuns: 3000 }
    )
  })

  it("mutated certificates never throw", () => {
    const all = chains.flatMap((c) => [c.root.der, c.intermediate.der, c.leaf.der])
    fc.assert(
      fc.property(fc.constantFrom(...all), fc.array(mutation, { minLength: 1, maxLength: 4 }), (base, mutations) => {
        const result = parseCertificate(mutate(base, mutations))
        if (!isX509Error(result)) expect(result.tbs.length).toBeGreaterThan(0)
      }),
      { numRuns: 5000 }
    )
  })

  it("mutated PEM never throws", () => {
    fc.assert(
      fc.property(fc.constantFrom(p256.leaf.pem, ed25519.root.pem), fc.nat(), fc.string({ maxLength: 3 }), (pem, at, insert) => {
        const i = at % pem.length
        const result = parseCertificatePem(pem.slice(0, i) + insert + pem.slice(i + 1))
        expect(Array.isArray(result) || isX509Error(result)).toBe(true)
      }),
      { numRuns: 2000 }
    )
  })
})

describe("fuzzing the verifier", () => {
  const backends = [node, noble]

  it("mutated chains never throw, and a changed leaf never verifies", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...chains),
        fc.constantFrom(0, 1),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        fc.constantFrom(...backends),
        fc.constantFrom("localhost", "a.example.com", "127.0.0.1", "::1", undefined),
        (chain, which, mutations, backend, serverName) => {
          const sent = chain.chain.slice()
          sent[which] = mutate(sent[which]!, mutations)
          const result = verifyCertificateChain(backend, {
            chain: sent,
            trustAnchors: chain.trustAnchors,
            unixMillis: TEST_NOW,
            serverName,
            purpose: "server"
          })
          if (which === 0 && !sameBytes(sent[0]!, chain.chain[0]!)) expect(isCertificateVerifyError(result)).toBe(true)
        }
      ),
      { numRuns: 1500 }
    )
  })

  it("mutated trust anchors and random extra certificates never throw", () => {
    fc.assert(
      fc.property(
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 3 }),
        fc.integer({ min: 0, max: 2 ** 42 }),
        (mutations, extras, unixMillis) => {
          const anchor = parseCertificate(mutate(p256.root.der, mutations))
          const anchors: Array<Certificate> = isX509Error(anchor) ? [] : [anchor]
          for (const backend of backends) {
            verifyCertificateChain(backend, { chain: [...p256.chain, ...extras], trustAnchors: anchors, unixMillis, serverName: "localhost", purpose: "client" })
          }
        }
      ),
      { numRuns: 500 }
    )
  })
})
