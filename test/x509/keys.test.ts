import { type KeyObject, createPrivateKey, generateKeyPairSync } from "node:crypto"
import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import type { PrivateKey, PublicKeyInfo } from "../../src/internal/crypto/backend.js"
import { type X509Error, isX509Error } from "../../src/internal/x509/der.js"
import {
  parsePrivateKeyDer,
  parsePrivateKeyPem,
  parsePublicKeyPem,
  parseSubjectPublicKeyInfo
} from "../../src/internal/x509/keys.js"
import { cachedKeyPair } from "../support/certs.js"
import * as der from "../../src/internal/x509/derWriter.js"

const b64url = (text: string | undefined): Uint8Array => Uint8Array.from(Buffer.from(text ?? "", "base64url"))
const stripZeros = (bytes: Uint8Array): Uint8Array => {
  let i = 0
  while (i < bytes.length - 1 && bytes[i] === 0) i++
  return bytes.subarray(i)
}

const ok = <A>(value: A | X509Error): A => {
  if (isX509Error(value)) throw new Error(`unexpected X509Error: ${value.reason}`)
  return value
}

const jwkOf = (key: KeyObject) => key.export({ format: "jwk" })

const checkPrivate = (parsed: PrivateKey, key: KeyObject) => {
  const jwk = jwkOf(key)
  switch (parsed.type) {
    case "rsa":
      expect(parsed.modulus).toEqual(b64url(jwk.n))
      expect(parsed.publicExponent).toEqual(b64url(jwk.e))
      expect(parsed.privateExponent).toEqual(stripZeros(b64url(jwk.d)))
      expect(parsed.prime1).toEqual(b64url(jwk.p))
      expect(parsed.prime2).toEqual(b64url(jwk.q))
      expect(parsed.exponent1).toEqual(stripZeros(b64url(jwk.dp)))
      expect(parsed.exponent2).toEqual(stripZeros(b64url(jwk.dq)))
      expect(parsed.coefficient).toEqual(stripZeros(b64url(jwk.qi)))
      break
    case "ec":
      expect(parsed.curve).toBe(jwk.crv)
      expect(parsed.scalar).toEqual(b64url(jwk.d))
      break
    case "ed25519":
      expect(jwk.crv).toBe("Ed25519")
      expect(parsed.seed).toEqual(b64url(jwk.d))
      break
  }
}

const checkPublic = (parsed: PublicKeyInfo, key: KeyObject) => {
  const jwk = jwkOf(key)
  const k = parsed.key
  switch (k.type) {
    case "rsa":
      expect(k.modulus).toEqual(b64url(jwk.n))
      expect(k.exponent).toEqual(b64url(jwk.e))
      break
    case "ec":
      expect(k.curve).toBe(jwk.crv)
      expect(k.point).toEqual(Uint8Array.from([4, ...b64url(jwk.x), ...b64url(jwk.y)]))
      break
    case "ed25519":
      expect(k.key).toEqual(b64url(jwk.x))
      break
  }
}

const KEYS = [
  { name: "RSA 2048", type: "rsa2048", formats: ["pkcs8", "pkcs1"], expected: "rsa" },
  { name: "P-256", type: "p256", formats: ["pkcs8", "sec1"], expected: "ec" },
  { name: "P-384", type: "p384", formats: ["pkcs8", "sec1"], expected: "ec" },
  { name: "Ed25519", type: "ed25519", formats: ["pkcs8"], expected: "ed25519" }
] as const

describe("private keys exported by node:crypto", () => {
  for (const { name, type, formats, expected } of KEYS) {
    describe(name, () => {
      const pair = cachedKeyPair(type)
      for (const format of formats) {
        it(`${format} DER, with and without the format hint`, () => {
          const bytes = new Uint8Array(pair.privateKey.export({ type: format, format: "der" }))
          const hinted = ok(parsePrivateKeyDer(bytes, format))
          expect(hinted.type).toBe(expected)
          checkPrivate(hinted, pair.privateKey)
          expect(ok(parsePrivateKeyDer(bytes))).toEqual(hinted)
        })
        it(`${format} PEM`, () => {
          const pem = pair.privateKey.export({ type: format, format: "pem" }) as string
          const parsed = ok(parsePrivateKeyPem(`# a comment\n${pem}`))
          checkPrivate(parsed, pair.privateKey)
        })
      }
      it("SubjectPublicKeyInfo DER and PEM", () => {
        const info = ok(parseSubjectPublicKeyInfo(pair.spki))
        expect(info.spki).toEqual(pair.spki)
        checkPublic(info, pair.publicKey)
        const pem = pair.publicKey.export({ type: "spki", format: "pem" }) as string
        checkPublic(ok(parsePublicKeyPem(pem)), pair.publicKey)
      })
    })
  }

  it("RSA-PSS keys (id-RSASSA-PSS) read as RSA keys", () => {
    const pair = cachedKeyPair("rsa-pss")
    const priv = ok(parsePrivateKeyDer(new Uint8Array(pair.privateKey.export({ type: "pkcs8", format: "der" }))))
    const pub = ok(parseSubjectPublicKeyInfo(pair.spki))
    expect(priv.type).toBe("rsa")
    expect(pub.key.type).toBe("rsa")
    if (priv.type === "rsa" && pub.key.type === "rsa") {
      expect(priv.modulus.length).toBe(256)
      expect(pub.key.modulus).toEqual(priv.modulus)
    }
  })

  it("EC PRIVATE KEY after an EC PARAMETERS block (openssl ecparam -genkey)", () => {
    const pair = cachedKeyPair("p256")
    const params = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    const pem = params + (pair.privateKey.export({ type: "sec1", format: "pem" }) as string)
    checkPrivate(ok(parsePrivateKeyPem(pem)), pair.privateKey)
  })

  it("pads a short SEC1 scalar to the curve size", () => {
    const scalar = new Uint8Array(31).fill(1)
    const sec1 = der.seq(der.integer(1), der.octetString(scalar), der.explicit(0, der.oid("1.2.840.10045.3.1.7")))
    const parsed = ok(parsePrivateKeyDer(sec1))
    expect(parsed).toEqual({ type: "ec", curve: "P-256", scalar: Uint8Array.from([0, ...scalar]) })
    // A round trip through node confirms the key is the same.
    const node = createPrivateKey({ key: Buffer.from(sec1), format: "der", type: "sec1" })
    expect(b64url(jwkOf(node).d)).toEqual(Uint8Array.from([0, ...scalar]))
  })
})

describe("key errors", () => {
  const unsupported = (result: unknown, oid: string) => {
    expect(isX509Error(result)).toBe(true)
    if (isX509Error(result)) {
      expect(result.kind).toBe("unsupported")
      expect(result.reason).toContain(oid)
    }
  }

  it("name the OID of unsupported key algorithms and curves", () => {
    const x25519 = generateKeyPairSync("x25519")
    unsupported(parsePrivateKeyDer(new Uint8Array(x25519.privateKey.export({ type: "pkcs8", format: "der" }))), "1.3.101.110")
    unsupported(parseSubjectPublicKeyInfo(new Uint8Array(x25519.publicKey.export({ type: "spki", format: "der" }))), "1.3.101.110")
    const p521 = generateKeyPairSync("ec", { namedCurve: "secp521r1" })
    unsupported(parsePrivateKeyDer(new Uint8Array(p521.privateKey.export({ type: "pkcs8", format: "der" }))), "1.3.132.0.35")
    unsupported(parsePrivateKeyDer(new Uint8Array(p521.privateKey.export({ type: "sec1", format: "der" }))), "1.3.132.0.35")
    unsupported(parseSubjectPublicKeyInfo(new Uint8Array(p521.publicKey.export({ type: "spki", format: "der" }))), "1.3.132.0.35")
    const dsaSpki = der.seq(der.seq(der.oid("1.2.840.10040.4.1")), der.bitString(der.integer(5)))
    unsupported(parseSubjectPublicKeyInfo(dsaSpki), "1.2.840.10040.4.1")
  })

  it("refuse malformed keys", () => {
    const bad = [
      // SEC1 with no curve anywhere
      der.seq(der.integer(1), der.octetString(new Uint8Array(32).fill(1))),
      // Ed25519 seed of the wrong length
      der.seq(der.integer(0), der.seq(der.oid("1.3.101.112")), der.octetString(der.octetString(new Uint8Array(31)))),
      // Ed25519 with parameters
      der.seq(der.integer(0), der.seq(der.oid("1.3.101.112"), der.nullValue()), der.octetString(der.octetString(new Uint8Array(32)))),
      // PKCS#1 missing fields
      der.seq(der.integer(0), der.integer(77), der.integer(3)),
      // trailing garbage
      der.concat(der.seq(der.integer(1), der.octetString(new Uint8Array(32).fill(1)), der.explicit(0, der.oid("1.2.840.10045.3.1.7"))), Uint8Array.of(0))
    ]
    for (const bytes of bad) expect(isX509Error(parsePrivateKeyDer(bytes))).toBe(true)
    // An EC point of the wrong length
    const point = der.seq(der.seq(der.oid("1.2.840.10045.2.1"), der.oid("1.2.840.10045.3.1.7")), der.bitString(new Uint8Array(64).fill(4)))
    expect(isX509Error(parseSubjectPublicKeyInfo(point))).toBe(true)
    expect(isX509Error(parsePrivateKeyPem("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAQID\n-----END ENCRYPTED PRIVATE KEY-----\n"))).toBe(true)
    expect(isX509Error(parsePrivateKeyPem("no key here"))).toBe(true)
  })

  it("never throw on random or mutated input", () => {
    const valid = [
      new Uint8Array(cachedKeyPair("p256").privateKey.export({ type: "pkcs8", format: "der" })),
      new Uint8Array(cachedKeyPair("p256").privateKey.export({ type: "sec1", format: "der" })),
      new Uint8Array(cachedKeyPair("ed25519").privateKey.export({ type: "pkcs8", format: "der" })),
      cachedKeyPair("p384").spki
    ]
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.uint8Array({ maxLength: 64 }),
        (base, edits, random) => {
          const bytes = base.slice()
          for (const [at, value] of edits) bytes[at % bytes.length] = value
          for (const input of [bytes, random, bytes.subarray(0, random.length)]) {
            for (const result of [parsePrivateKeyDer(input), parseSubjectPublicKeyInfo(input)]) {
              expect(isX509Error(result) || typeof result === "object").toBe(true)
            }
          }
        }
      ),
      { numRuns: 1000 }
    )
  })
})
