import { FastCheck as fc } from "effect"
import * as nodeCrypto from "node:crypto"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import type {
  CryptoBackend,
  NamedGroup,
  PrivateKey,
  PublicKeyInfo,
  SignatureAlgorithm,
  SignatureHash
} from "../../src/internal/crypto/backend.js"
import { makeNobleCryptoBackend } from "../../src/platform/nobleCrypto.js"
import { makeNodeCryptoBackend } from "../../src/platform/nodeCrypto.js"

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const fromHex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/[\s:]/g, ""), "hex"))
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")
const ascii = (text: string): Uint8Array => new TextEncoder().encode(text)
const b64u = (text: string | undefined): Uint8Array => {
  if (text === undefined) throw new Error("missing JWK member")
  return Uint8Array.from(Buffer.from(text, "base64url"))
}
const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => Uint8Array.from(Buffer.concat(parts))
const flipBit = (data: Uint8Array, bit: number): Uint8Array => {
  const copy = data.slice()
  copy[bit >>> 3]! ^= 1 << (bit & 7)
  return copy
}
const withLeadingZero = (bytes: Uint8Array): Uint8Array => concat(Uint8Array.of(0), bytes)

const node = makeNodeCryptoBackend()
const noble = makeNobleCryptoBackend()
const backends: ReadonlyArray<CryptoBackend> = [node, noble]

const HASH_LENGTH: Record<SignatureHash, number> = { sha256: 32, sha384: 48, sha512: 64 }
const HASHES: ReadonlyArray<SignatureHash> = ["sha256", "sha384", "sha512"]

const label = (algorithm: SignatureAlgorithm): string => {
  switch (algorithm.kind) {
    case "rsa-pkcs1":
    case "ecdsa":
      return `${algorithm.kind}/${algorithm.hash}`
    case "rsa-pss":
      return `rsa-pss/${algorithm.hash}/salt ${algorithm.saltLength}`
    case "ed25519":
      return "ed25519"
  }
}

interface KeyFixture {
  readonly name: string
  readonly privateKey: PrivateKey
  readonly info: PublicKeyInfo
  readonly nodePublic: nodeCrypto.KeyObject
  readonly algorithms: ReadonlyArray<SignatureAlgorithm>
}

const spkiOf = (publicKey: nodeCrypto.KeyObject): Uint8Array =>
  Uint8Array.from(publicKey.export({ format: "der", type: "spki" }))

const rsaFixture = (name: string, pair: nodeCrypto.KeyPairKeyObjectResult): KeyFixture => {
  const jwk = pair.privateKey.export({ format: "jwk" })
  return {
    name,
    privateKey: {
      type: "rsa",
      modulus: b64u(jwk.n),
      publicExponent: b64u(jwk.e),
      privateExponent: b64u(jwk.d),
      prime1: b64u(jwk.p),
      prime2: b64u(jwk.q),
      exponent1: b64u(jwk.dp),
      exponent2: b64u(jwk.dq),
      coefficient: b64u(jwk.qi)
    },
    info: { spki: spkiOf(pair.publicKey), key: { type: "rsa", modulus: b64u(jwk.n), exponent: b64u(jwk.e) } },
    nodePublic: pair.publicKey,
    algorithms: [
      ...HASHES.map((hash): SignatureAlgorithm => ({ kind: "rsa-pkcs1", hash })),
      ...HASHES.map((hash): SignatureAlgorithm => ({ kind: "rsa-pss", hash, saltLength: HASH_LENGTH[hash] })),
      { kind: "rsa-pss", hash: "sha256", saltLength: 0 },
      { kind: "rsa-pss", hash: "sha384", saltLength: 20 }
    ]
  }
}

const ecFixture = (name: string, curve: "P-256" | "P-384", pair: nodeCrypto.KeyPairKeyObjectResult): KeyFixture => {
  const jwk = pair.privateKey.export({ format: "jwk" })
  const point = concat(Uint8Array.of(4), b64u(jwk.x), b64u(jwk.y))
  return {
    name,
    privateKey: { type: "ec", curve, scalar: b64u(jwk.d) },
    info: { spki: spkiOf(pair.publicKey), key: { type: "ec", curve, point } },
    nodePublic: pair.publicKey,
    // X.509 pairs any hash with either curve.
    algorithms: HASHES.map((hash): SignatureAlgorithm => ({ kind: "ecdsa", hash }))
  }
}

const ed25519Fixture = (name: string, pair: nodeCrypto.KeyPairKeyObjectResult): KeyFixture => {
  const jwk = pair.privateKey.export({ format: "jwk" })
  return {
    name,
    privateKey: { type: "ed25519", seed: b64u(jwk.d) },
    info: { spki: spkiOf(pair.publicKey), key: { type: "ed25519", key: b64u(jwk.x) } },
    nodePublic: pair.publicKey,
    algorithms: [{ kind: "ed25519" }]
  }
}

const RSA = rsaFixture("RSA-2048", nodeCrypto.generateKeyPairSync("rsa", { modulusLength: 2048 }))
const P256 = ecFixture("P-256", "P-256", nodeCrypto.generateKeyPairSync("ec", { namedCurve: "P-256" }))
const P384 = ecFixture("P-384", "P-384", nodeCrypto.generateKeyPairSync("ec", { namedCurve: "P-384" }))
const ED25519 = ed25519Fixture("Ed25519", nodeCrypto.generateKeyPairSync("ed25519"))
const FIXTURES: ReadonlyArray<KeyFixture> = [RSA, P256, P384, ED25519]

/** A second key of each type, to check a signature does not verify under a different key. */
const OTHER: Record<string, KeyFixture> = {
  "RSA-2048": rsaFixture("RSA-2048 (other)", nodeCrypto.generateKeyPairSync("rsa", { modulusLength: 2048 })),
  "P-256": ecFixture("P-256 (other)", "P-256", nodeCrypto.generateKeyPairSync("ec", { namedCurve: "P-256" })),
  "P-384": ecFixture("P-384 (other)", "P-384", nodeCrypto.generateKeyPairSync("ec", { namedCurve: "P-384" })),
  Ed25519: ed25519Fixture("Ed25519 (other)", nodeCrypto.generateKeyPairSync("ed25519"))
}

/** Verifies with node:crypto directly, independent of the backends. */
const nodeDirectVerify = (
  algorithm: SignatureAlgorithm,
  key: nodeCrypto.KeyObject,
  data: Uint8Array,
  signature: Uint8Array
): boolean => {
  switch (algorithm.kind) {
    case "rsa-pkcs1":
      return nodeCrypto.verify(algorithm.hash, data, { key, padding: nodeCrypto.constants.RSA_PKCS1_PADDING }, signature)
    case "rsa-pss":
      return nodeCrypto.verify(
        algorithm.hash,
        data,
        { key, padding: nodeCrypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: algorithm.saltLength },
        signature
      )
    case "ecdsa":
      return nodeCrypto.verify(algorithm.hash, data, { key, dsaEncoding: "der" }, signature)
    case "ed25519":
      return nodeCrypto.verify(null, data, key, signature)
  }
}

// Minimal DER for ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (short lengths only).
const derInteger = (value: bigint): Uint8Array => {
  let hex = value.toString(16)
  if (hex.length % 2 === 1) hex = "0" + hex
  let bytes = fromHex(hex)
  if (bytes[0]! & 0x80) bytes = withLeadingZero(bytes)
  return concat(Uint8Array.of(0x02, bytes.length), bytes)
}
const derEcdsaSignature = (r: bigint, s: bigint): Uint8Array => {
  const body = concat(derInteger(r), derInteger(s))
  return concat(Uint8Array.of(0x30, body.length), body)
}
const parseEcdsaSignature = (der: Uint8Array): { r: bigint; s: bigint } => {
  expect(der[0]).toBe(0x30)
  expect(der[1]).toBe(der.length - 2)
  const rLength = der[3]!
  const r = BigInt("0x" + toHex(der.subarray(4, 4 + rLength)))
  const sLength = der[5 + rLength]!
  const s = BigInt("0x" + toHex(der.subarray(6 + rLength, 6 + rLength + sLength)))
  return { r, s }
}
const CURVE_ORDER = {
  "P-256": BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"),
  "P-384": BigInt(
    "0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973"
  )
} as const

/** The order of the Ed25519 base point. */
const ED25519_L = BigInt(2) ** BigInt(252) + BigInt("27742317777372353535851937790883648493")

/** Encodings of the small-order points of edwards25519 (sign bit clear), incl. non-canonical y = p, p + 1. */
const ED25519_SMALL_ORDER = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
]

const MESSAGE = ascii("TLS 1.3, server CertificateVerify: the quick brown fox")

// ---------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------

describe.each(backends)("$name signer", (signerBackend) => {
  describe.each(FIXTURES)("$name key", (fixture) => {
    const signer = signerBackend.createSigner(fixture.privateKey)
    const cases = fixture.algorithms.map((algorithm) => ({ name: label(algorithm), algorithm }))

    it("keeps the key it was made from", () => {
      expect(signer.key).toBe(fixture.privateKey)
    })

    it.each(cases)("$name: verifies on both backends and node:crypto; tampering fails", ({ algorithm }) => {
      const signature = signer.sign(algorithm, MESSAGE)
      expect(signature).toBeInstanceOf(Uint8Array)
      expect(nodeDirectVerify(algorithm, fixture.nodePublic, MESSAGE, signature)).toBe(true)
      for (const verifier of backends) {
        expect(verifier.verify(algorithm, fixture.info, MESSAGE, signature), verifier.name).toBe(true)
        expect(verifier.verify(algorithm, fixture.info, flipBit(MESSAGE, 3), signature)).toBe(false)
        expect(verifier.verify(algorithm, fixture.info, MESSAGE.subarray(1), signature)).toBe(false)
        expect(verifier.verify(algorithm, fixture.info, MESSAGE, flipBit(signature, signature.length * 8 - 1))).toBe(
          false
        )
        expect(verifier.verify(algorithm, fixture.info, MESSAGE, flipBit(signature, 77))).toBe(false)
        expect(verifier.verify(algorithm, fixture.info, MESSAGE, signature.subarray(0, signature.length - 1))).toBe(
          false
        )
        expect(verifier.verify(algorithm, OTHER[fixture.name]!.info, MESSAGE, signature)).toBe(false)
      }
    })

    it.each(cases)("$name: signs the empty message and a 64 KiB one", ({ algorithm }) => {
      for (const data of [new Uint8Array(0), new Uint8Array(65536).fill(0x5a)]) {
        const signature = signer.sign(algorithm, data)
        expect(nodeDirectVerify(algorithm, fixture.nodePublic, data, signature)).toBe(true)
        for (const verifier of backends) expect(verifier.verify(algorithm, fixture.info, data, signature)).toBe(true)
      }
    })

    it("refuses algorithms that do not fit the key", () => {
      const wrong: ReadonlyArray<SignatureAlgorithm> = [
        ...(fixture.privateKey.type === "rsa" ? [] : [{ kind: "rsa-pkcs1", hash: "sha256" } as const]),
        ...(fixture.privateKey.type === "rsa" ? [] : [{ kind: "rsa-pss", hash: "sha256", saltLength: 32 } as const]),
        ...(fixture.privateKey.type === "ec" ? [] : [{ kind: "ecdsa", hash: "sha256" } as const]),
        ...(fixture.privateKey.type === "ed25519" ? [] : [{ kind: "ed25519" } as const]),
        // Values the type system would not let through.
        { kind: "rsa-pkcs1", hash: "sha1" } as unknown as SignatureAlgorithm,
        { kind: "ecdsa", hash: "md5" } as unknown as SignatureAlgorithm,
        { kind: "rsa-pss", hash: "sha256", saltLength: -2 },
        { kind: "rsa-pss", hash: "sha256", saltLength: 1.5 },
        { kind: "dsa", hash: "sha256" } as unknown as SignatureAlgorithm
      ]
      for (const algorithm of wrong) expect(() => signer.sign(algorithm, MESSAGE), label(algorithm)).toThrow()
    })

    it("tolerates a leading 0x00 on every integer", () => {
      const key = fixture.privateKey
      const padded: PrivateKey = key.type === "rsa"
        ? {
          type: "rsa",
          modulus: withLeadingZero(key.modulus),
          publicExponent: withLeadingZero(key.publicExponent),
          privateExponent: withLeadingZero(key.privateExponent),
          prime1: withLeadingZero(key.prime1),
          prime2: withLeadingZero(key.prime2),
          exponent1: withLeadingZero(key.exponent1),
          exponent2: withLeadingZero(key.exponent2),
          coefficient: withLeadingZero(key.coefficient)
        }
        : key.type === "ec"
        ? { type: "ec", curve: key.curve, scalar: withLeadingZero(key.scalar) }
        : key
      const paddedInfo: PublicKeyInfo = fixture.info.key.type === "rsa"
        ? {
          spki: fixture.info.spki,
          key: {
            type: "rsa",
            modulus: withLeadingZero(fixture.info.key.modulus),
            exponent: withLeadingZero(fixture.info.key.exponent)
          }
        }
        : fixture.info
      const algorithm = fixture.algorithms[0]!
      const signature = signerBackend.createSigner(padded).sign(algorithm, MESSAGE)
      for (const verifier of backends) expect(verifier.verify(algorithm, paddedInfo, MESSAGE, signature)).toBe(true)
    })
  })

  it("PKCS#1 v1.5 and Ed25519 signatures are deterministic and identical on both backends", () => {
    for (const algorithm of RSA.algorithms.filter((a) => a.kind === "rsa-pkcs1")) {
      expect(toHex(signerBackend.createSigner(RSA.privateKey).sign(algorithm, MESSAGE))).toBe(
        toHex(node.createSigner(RSA.privateKey).sign(algorithm, MESSAGE))
      )
    }
    expect(toHex(signerBackend.createSigner(ED25519.privateKey).sign({ kind: "ed25519" }, MESSAGE))).toBe(
      toHex(node.createSigner(ED25519.privateKey).sign({ kind: "ed25519" }, MESSAGE))
    )
  })

  it("RSA-PSS salts are random: two signatures differ, both verify", () => {
    const algorithm: SignatureAlgorithm = { kind: "rsa-pss", hash: "sha256", saltLength: 32 }
    const signer = signerBackend.createSigner(RSA.privateKey)
    const a = signer.sign(algorithm, MESSAGE)
    const b = signer.sign(algorithm, MESSAGE)
    expect(toHex(a)).not.toBe(toHex(b))
  })

  describe("refuses unusable private keys", () => {
    const rsa = RSA.privateKey as Extract<PrivateKey, { type: "rsa" }>
    const bad: ReadonlyArray<{ name: string; key: PrivateKey }> = [
      { name: "RSA with a wrong prime", key: { ...rsa, prime1: flipBit(rsa.prime1, 1000) } },
      { name: "RSA with a wrong CRT exponent", key: { ...rsa, exponent1: flipBit(rsa.exponent1, 1000) } },
      { name: "RSA with a wrong coefficient", key: { ...rsa, coefficient: flipBit(rsa.coefficient, 1000) } },
      { name: "RSA with an even modulus", key: { ...rsa, modulus: flipBit(rsa.modulus, rsa.modulus.length * 8 - 1) } },
      { name: "RSA with exponent 1", key: { ...rsa, publicExponent: Uint8Array.of(1) } },
      { name: "P-256 scalar 0", key: { type: "ec", curve: "P-256", scalar: new Uint8Array(32) } },
      {
        name: "P-256 scalar n",
        key: { type: "ec", curve: "P-256", scalar: fromHex(CURVE_ORDER["P-256"].toString(16)) }
      },
      { name: "P-256 scalar of 33 bytes", key: { type: "ec", curve: "P-256", scalar: new Uint8Array(33).fill(1) } },
      { name: "P-384 scalar all ones", key: { type: "ec", curve: "P-384", scalar: new Uint8Array(48).fill(0xff) } },
      { name: "P-521 (unsupported)", key: { type: "ec", curve: "P-521", scalar: new Uint8Array(66).fill(1) } as never },
      { name: "Ed25519 seed of 31 bytes", key: { type: "ed25519", seed: new Uint8Array(31) } },
      { name: "Ed25519 seed of 33 bytes", key: { type: "ed25519", seed: new Uint8Array(33) } },
      { name: "unknown key type", key: { type: "dsa" } as never }
    ]
    it.each(bad)("$name", ({ key }) => {
      expect(() => signerBackend.createSigner(key)).toThrow()
    })
  })
})

describe.each(backends)("$name verify", (verifier) => {
  it("returns false for an algorithm that does not fit the key type", () => {
    for (const signed of FIXTURES) {
      const signer = node.createSigner(signed.privateKey)
      for (const algorithm of signed.algorithms) {
        const signature = signer.sign(algorithm, MESSAGE)
        for (const other of FIXTURES) {
          if (other.info.key.type === signed.info.key.type) continue
          // The signature's own algorithm with a key of another type ...
          expect(verifier.verify(algorithm, other.info, MESSAGE, signature)).toBe(false)
          // ... and the other key's algorithms with this key.
          for (const otherAlgorithm of other.algorithms) {
            expect(verifier.verify(otherAlgorithm, signed.info, MESSAGE, signature)).toBe(false)
          }
        }
      }
    }
  })

  it("ECDSA: a P-256 key claimed to be P-384 (and vice versa) does not verify", () => {
    const algorithm: SignatureAlgorithm = { kind: "ecdsa", hash: "sha256" }
    for (const [fixture, curve] of [[P256, "P-384"], [P384, "P-256"]] as const) {
      const signature = node.createSigner(fixture.privateKey).sign(algorithm, MESSAGE)
      const point = (fixture.info.key as { point: Uint8Array }).point
      const wrong: PublicKeyInfo = { spki: fixture.info.spki, key: { type: "ec", curve, point } }
      expect(verifier.verify(algorithm, wrong, MESSAGE, signature)).toBe(false)
    }
  })

  it("ECDSA: accepts high-S signatures (OpenSSL makes them) as well as low-S", () => {
    for (const fixture of [P256, P384]) {
      const curve = (fixture.info.key as { curve: "P-256" | "P-384" }).curve
      const n = CURVE_ORDER[curve]
      for (const hash of HASHES) {
        const algorithm: SignatureAlgorithm = { kind: "ecdsa", hash }
        const { r, s } = parseEcdsaSignature(node.createSigner(fixture.privateKey).sign(algorithm, MESSAGE))
        for (const variant of [derEcdsaSignature(r, s), derEcdsaSignature(r, n - s)]) {
          expect(nodeDirectVerify(algorithm, fixture.nodePublic, MESSAGE, variant)).toBe(true)
          expect(verifier.verify(algorithm, fixture.info, MESSAGE, variant)).toBe(true)
        }
        // Non-DER encodings of the same values: compact r || s, and a redundant leading zero on r.
        const size = curve === "P-256" ? 32 : 48
        const compact = concat(
          fromHex(r.toString(16).padStart(2 * size, "0")),
          fromHex(s.toString(16).padStart(2 * size, "0"))
        )
        expect(verifier.verify(algorithm, fixture.info, MESSAGE, compact)).toBe(false)
        const rBytes = derInteger(r).subarray(2)
        const sInteger = derInteger(s)
        const paddedR = concat(Uint8Array.of(0x02, rBytes.length + 1, 0), rBytes)
        const body = concat(paddedR, sInteger)
        expect(verifier.verify(algorithm, fixture.info, MESSAGE, concat(Uint8Array.of(0x30, body.length), body))).toBe(
          false
        )
        // r = 0 and s = 0 are never valid.
        expect(verifier.verify(algorithm, fixture.info, MESSAGE, derEcdsaSignature(BigInt(0), s))).toBe(false)
        expect(verifier.verify(algorithm, fixture.info, MESSAGE, derEcdsaSignature(r, BigInt(0)))).toBe(false)
        expect(verifier.verify(algorithm, fixture.info, MESSAGE, derEcdsaSignature(r, s + n))).toBe(false)
      }
    }
  })

  it("Ed25519: small-order keys, non-canonical R and S >= L are refused", () => {
    const identity = fromHex("01" + "00".repeat(31))
    const zero = new Uint8Array(32)
    for (const hex of ED25519_SMALL_ORDER) {
      for (const top of [0, 0x80]) {
        const key = fromHex(hex)
        key[31]! |= top
        const spki = concat(fromHex("302a300506032b6570032100"), key)
        const info: PublicKeyInfo = { spki, key: { type: "ed25519", key } }
        // With the identity as key, R = identity and S = 0 satisfies [S]B = R + [k]A for every message.
        for (const r of [identity, fromHex("ee" + "ff".repeat(30) + "7f"), key]) {
          expect(verifier.verify({ kind: "ed25519" }, info, MESSAGE, concat(r, zero)), hex).toBe(false)
        }
      }
    }
    const signature = node.createSigner(ED25519.privateKey).sign({ kind: "ed25519" }, MESSAGE)
    const s = BigInt("0x" + toHex(signature.slice(32).reverse()))
    const sPlusL = fromHex((s + ED25519_L).toString(16).padStart(64, "0")).reverse()
    expect(verifier.verify({ kind: "ed25519" }, ED25519.info, MESSAGE, concat(signature.subarray(0, 32), sPlusL))).toBe(
      false
    )
  })

  it("RSA-PSS: the salt length must match exactly; node's special negative values are refused", () => {
    const signature = node.createSigner(RSA.privateKey).sign({ kind: "rsa-pss", hash: "sha256", saltLength: 32 }, MESSAGE)
    expect(verifier.verify({ kind: "rsa-pss", hash: "sha256", saltLength: 32 }, RSA.info, MESSAGE, signature)).toBe(true)
    for (const saltLength of [0, 20, 31, 33, 48, -1, -2, -3, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(
        verifier.verify({ kind: "rsa-pss", hash: "sha256", saltLength }, RSA.info, MESSAGE, signature),
        String(saltLength)
      ).toBe(false)
    }
    // The same signature read as another hash or as PKCS#1 v1.5.
    expect(verifier.verify({ kind: "rsa-pss", hash: "sha384", saltLength: 32 }, RSA.info, MESSAGE, signature)).toBe(false)
    expect(verifier.verify({ kind: "rsa-pkcs1", hash: "sha256" }, RSA.info, MESSAGE, signature)).toBe(false)
  })

  it("RSA: an id-RSASSA-PSS SubjectPublicKeyInfo verifies like the plain key on both backends", () => {
    // rsaEncryption SPKI: 30 82 01 22 | 30 0d (06 09 <1.2.840.113549.1.1.1> 05 00) | BIT STRING ...
    // RFC 4055 §1.2 id-RSASSA-PSS without parameters: 30 0b (06 09 <1.2.840.113549.1.1.10>).
    // The restrictions such a key carries are the core's policy, not the backend's.
    expect(toHex(RSA.info.spki.subarray(0, 19))).toBe("30820122300d06092a864886f70d0101010500")
    const inner = concat(fromHex("300b06092a864886f70d01010a"), RSA.info.spki.subarray(19))
    const spki = concat(Uint8Array.of(0x30, 0x82, inner.length >> 8, inner.length & 0xff), inner)
    expect(nodeCrypto.createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }).asymmetricKeyType).toBe(
      "rsa-pss"
    )
    const info: PublicKeyInfo = { spki, key: RSA.info.key }
    const signer = node.createSigner(RSA.privateKey)
    for (const algorithm of RSA.algorithms) {
      const signature = signer.sign(algorithm, MESSAGE)
      expect(verifier.verify(algorithm, info, MESSAGE, signature), label(algorithm)).toBe(true)
      expect(verifier.verify(algorithm, info, flipBit(MESSAGE, 0), signature)).toBe(false)
    }
  })

  it("RSA: a signature of the wrong length, or not below the modulus, is refused", () => {
    const algorithm: SignatureAlgorithm = { kind: "rsa-pkcs1", hash: "sha256" }
    const signature = node.createSigner(RSA.privateKey).sign(algorithm, MESSAGE)
    expect(verifier.verify(algorithm, RSA.info, MESSAGE, withLeadingZero(signature))).toBe(false)
    const modulus = (RSA.info.key as { modulus: Uint8Array }).modulus
    expect(verifier.verify(algorithm, RSA.info, MESSAGE, modulus)).toBe(false)
    expect(verifier.verify(algorithm, RSA.info, MESSAGE, new Uint8Array(256).fill(0xff))).toBe(false)
    expect(verifier.verify(algorithm, RSA.info, MESSAGE, new Uint8Array(256))).toBe(false)
  })

  it("malformed public keys give false", () => {
    const signature = node.createSigner(RSA.privateKey).sign({ kind: "rsa-pkcs1", hash: "sha256" }, MESSAGE)
    const ecSignature = node.createSigner(P256.privateKey).sign({ kind: "ecdsa", hash: "sha256" }, MESSAGE)
    const edSignature = node.createSigner(ED25519.privateKey).sign({ kind: "ed25519" }, MESSAGE)
    const cases: ReadonlyArray<[SignatureAlgorithm, PublicKeyInfo, Uint8Array]> = [
      [{ kind: "rsa-pkcs1", hash: "sha256" }, { spki: new Uint8Array(0), key: { type: "rsa", modulus: new Uint8Array(0), exponent: new Uint8Array(0) } }, signature],
      [{ kind: "rsa-pkcs1", hash: "sha256" }, { spki: RSA.info.spki.subarray(0, 100), key: { type: "rsa", modulus: Uint8Array.of(0), exponent: Uint8Array.of(3) } }, signature],
      [{ kind: "ecdsa", hash: "sha256" }, { spki: P256.info.spki.subarray(1), key: { type: "ec", curve: "P-256", point: Uint8Array.of(4) } }, ecSignature],
      [{ kind: "ecdsa", hash: "sha256" }, { spki: new Uint8Array(91), key: { type: "ec", curve: "P-256", point: new Uint8Array(65) } }, ecSignature],
      [{ kind: "ed25519" }, { spki: new Uint8Array(44), key: { type: "ed25519", key: new Uint8Array(31) } }, edSignature],
      [{ kind: "ed25519" }, { spki: ED25519.info.spki.subarray(0, 43), key: { type: "ed25519", key: new Uint8Array(33) } }, edSignature]
    ]
    for (const [algorithm, info, sig] of cases) expect(verifier.verify(algorithm, info, MESSAGE, sig)).toBe(false)
  })

  describe.each(FIXTURES)("$name key: garbage never verifies and never throws", (fixture) => {
    it("random signature bytes", () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...fixture.algorithms),
          fc.uint8Array({ minLength: 0, maxLength: 600 }),
          fc.uint8Array({ minLength: 0, maxLength: 64 }),
          (algorithm, signature, data) => {
            expect(verifier.verify(algorithm, fixture.info, data, signature)).toBe(false)
          }
        ),
        { numRuns: 200 }
      )
    })

    it("random bytes of exactly the signature's length", () => {
      const length = node.createSigner(fixture.privateKey).sign(fixture.algorithms[0]!, MESSAGE).length
      fc.assert(
        fc.property(
          fc.constantFrom(...fixture.algorithms),
          fc.uint8Array({ minLength: length, maxLength: length }),
          (algorithm, signature) => {
            expect(verifier.verify(algorithm, fixture.info, MESSAGE, signature)).toBe(false)
          }
        ),
        { numRuns: 100 }
      )
    })

    if (fixture.info.key.type === "ec") {
      it("well-formed DER with random r and s", () => {
        fc.assert(
          fc.property(
            fc.constantFrom(...fixture.algorithms),
            fc.bigInt({ min: BigInt(0), max: BigInt(2) ** BigInt(392) }),
            fc.bigInt({ min: BigInt(0), max: BigInt(2) ** BigInt(392) }),
            (algorithm, r, s) => {
              expect(verifier.verify(algorithm, fixture.info, MESSAGE, derEcdsaSignature(r, s))).toBe(false)
            }
          ),
          { numRuns: 100 }
        )
      })
    }

    it("random public keys", () => {
      const signature = node.createSigner(fixture.privateKey).sign(fixture.algorithms[0]!, MESSAGE)
      const randomKey = fc.oneof(
        fc.record({ type: fc.constant("rsa" as const), modulus: fc.uint8Array({ maxLength: 300 }), exponent: fc.uint8Array({ maxLength: 4 }) }),
        fc.record({ type: fc.constant("ec" as const), curve: fc.constantFrom("P-256" as const, "P-384" as const), point: fc.uint8Array({ maxLength: 100 }) }),
        fc.record({ type: fc.constant("ed25519" as const), key: fc.uint8Array({ minLength: 30, maxLength: 34 }) })
      )
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 400 }), randomKey, (spki, key) => {
          expect(verifier.verify(fixture.algorithms[0]!, { spki, key }, MESSAGE, signature)).toBe(false)
        }),
        { numRuns: 100 }
      )
    })
  })
})

// ---------------------------------------------------------------------------
// RFC 8448 §3: the server's CertificateVerify (rsa_pss_rsae_sha256, 1024-bit key)
// ---------------------------------------------------------------------------

interface Rfc8448 {
  readonly server_rsa_key: Record<
    "modulus" | "public_exponent" | "private_exponent" | "prime1" | "prime2" | "exponent1" | "exponent2" | "coefficient",
    string
  >
  readonly messages: Record<"client_hello" | "server_hello" | "encrypted_extensions" | "certificate" | "certificate_verify", string>
}

const rfc8448 = JSON.parse(
  readFileSync(new URL("../fixtures/vectors/rfc8448-simple-1rtt.json", import.meta.url), "utf8")
) as Rfc8448

describe.each(backends)("$name backend: RFC 8448 server CertificateVerify", (backend) => {
  const k = rfc8448.server_rsa_key
  const m = rfc8448.messages
  const modulus = fromHex(k.modulus)
  const exponent = fromHex(k.public_exponent)
  const spki = Uint8Array.from(
    nodeCrypto
      .createPublicKey({
        key: { kty: "RSA", n: Buffer.from(modulus).toString("base64url"), e: Buffer.from(exponent).toString("base64url") },
        format: "jwk"
      })
      .export({ type: "spki", format: "der" })
  )
  const info: PublicKeyInfo = { spki, key: { type: "rsa", modulus, exponent } }
  const privateKey: PrivateKey = {
    type: "rsa",
    modulus,
    publicExponent: exponent,
    privateExponent: fromHex(k.private_exponent),
    prime1: fromHex(k.prime1),
    prime2: fromHex(k.prime2),
    exponent1: fromHex(k.exponent1),
    exponent2: fromHex(k.exponent2),
    coefficient: fromHex(k.coefficient)
  }
  // RFC 8446 §4.4.3: 64 spaces || context string || 0x00 || Transcript-Hash(ClientHello..Certificate).
  const transcriptHash = backend.hash(
    "sha256",
    fromHex(m.client_hello + m.server_hello + m.encrypted_extensions + m.certificate)
  )
  const content = concat(new Uint8Array(64).fill(0x20), ascii("TLS 1.3, server CertificateVerify"), Uint8Array.of(0), transcriptHash)
  const certificateVerify = fromHex(m.certificate_verify)
  const scheme = certificateVerify.subarray(4, 6)
  const signatureLength = (certificateVerify[6]! << 8) | certificateVerify[7]!
  const signature = certificateVerify.subarray(8)
  const pss: SignatureAlgorithm = { kind: "rsa-pss", hash: "sha256", saltLength: 32 }

  it("the message is what the test expects", () => {
    expect(modulus.length * 8).toBe(1024)
    expect(certificateVerify[0]).toBe(0x0f)
    expect(toHex(scheme)).toBe("0804")
    expect(signatureLength).toBe(signature.length)
    expect(signature.length).toBe(128)
  })

  it("verifies the published signature", () => {
    expect(backend.verify(pss, info, content, signature)).toBe(true)
  })

  it("rejects it for a different transcript, salt length, hash or padding", () => {
    expect(backend.verify(pss, info, flipBit(content, content.length * 8 - 1), signature)).toBe(false)
    expect(backend.verify({ ...pss, saltLength: 20 }, info, content, signature)).toBe(false)
    expect(backend.verify({ ...pss, hash: "sha384" }, info, content, signature)).toBe(false)
    expect(backend.verify({ kind: "rsa-pkcs1", hash: "sha256" }, info, content, signature)).toBe(false)
    expect(backend.verify(pss, info, content, flipBit(signature, 500))).toBe(false)
  })

  it("signs with the RFC's private key (CRT components), verified everywhere", () => {
    const signer = backend.createSigner(privateKey)
    const nodeKey = nodeCrypto.createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" })
    for (const algorithm of [pss, { kind: "rsa-pkcs1", hash: "sha512" } as const, { kind: "rsa-pss", hash: "sha384", saltLength: 48 } as const]) {
      const ours = signer.sign(algorithm, content)
      expect(ours.length).toBe(128)
      expect(nodeDirectVerify(algorithm, nodeKey, content, ours)).toBe(true)
      for (const verifier of backends) expect(verifier.verify(algorithm, info, content, ours)).toBe(true)
    }
  })

  it("a 1024-bit key is too short for PSS with SHA-512 and a 64-byte salt: sign throws, verify is false", () => {
    const algorithm: SignatureAlgorithm = { kind: "rsa-pss", hash: "sha512", saltLength: 64 }
    expect(() => backend.createSigner(privateKey).sign(algorithm, content)).toThrow()
    expect(backend.verify(algorithm, info, content, signature)).toBe(false)
  })
})

// ---------------------------------------------------------------------------
// Key exchange
// ---------------------------------------------------------------------------

const GROUPS: ReadonlyArray<{ group: NamedGroup; publicLength: number }> = [
  { group: "x25519", publicLength: 32 },
  { group: "secp256r1", publicLength: 65 }
]

const PAIRS = backends.flatMap((a) => backends.map((b) => ({ name: `${a.name} ↔ ${b.name}`, a, b })))

describe.each(GROUPS)("$group key shares", ({ group, publicLength }) => {
  it.each(PAIRS)("$name agree on the secret", ({ a, b }) => {
    for (let i = 0; i < 5; i++) {
      const shareA = a.generateKeyShare(group)
      const shareB = b.generateKeyShare(group)
      expect(shareA.group).toBe(group)
      expect(shareA.publicKey.length).toBe(publicLength)
      if (group === "secp256r1") expect(shareA.publicKey[0]).toBe(4)
      const secretA = shareA.computeSecret(shareB.publicKey)
      const secretB = shareB.computeSecret(shareA.publicKey)
      expect(secretA).toBeInstanceOf(Uint8Array)
      expect(secretA!.length).toBe(32)
      expect(toHex(secretA!)).toBe(toHex(secretB!))
      // Computing again gives the same value.
      expect(toHex(shareA.computeSecret(shareB.publicKey)!)).toBe(toHex(secretA!))
    }
  })

  it.each(backends)("$name: fresh key pairs each time", (backend) => {
    const keys = new Set(Array.from({ length: 8 }, () => toHex(backend.generateKeyShare(group).publicKey)))
    expect(keys.size).toBe(8)
  })

  it.each(backends)("$name: random peer values never throw", (backend) => {
    const share = backend.generateKeyShare(group)
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), (peer) => {
        const secret = share.computeSecret(peer)
        if (secret !== undefined) {
          expect(peer.length).toBe(publicLength)
          expect(secret.length).toBe(32)
        }
      }),
      { numRuns: 300 }
    )
  })
})

describe("node: X25519 key pairs made ahead of need", () => {
  it("each pair serves one share only, before and after the refills between turns, and agrees with its peer", async () => {
    const node = makeNodeCryptoBackend()
    const noble = makeNobleCryptoBackend()
    const seen = new Set<string>()
    for (let i = 0; i < 12; i++) {
      const share = node.generateKeyShare("x25519")
      const peer = noble.generateKeyShare("x25519")
      seen.add(toHex(share.publicKey))
      // The private key behind the public one is the one that computes the secret.
      expect(toHex(share.computeSecret(peer.publicKey)!)).toBe(toHex(peer.computeSecret(share.publicKey)!))
      // Some shares are taken in a row, some after the ready pairs were made again.
      if (i % 3 === 2) await new Promise((resolve) => setImmediate(resolve))
    }
    expect(seen.size).toBe(12)
  })

  it("never calls KeyObject.export: Node 20 can deadlock in it when a collection runs mid-export", async () => {
    const node = makeNodeCryptoBackend()
    const prototype = Object.getPrototypeOf(nodeCrypto.generateKeyPairSync("x25519").publicKey) as { export: (...args: Array<unknown>) => unknown }
    const original = prototype.export
    let exports = 0
    prototype.export = function(this: unknown, ...args: Array<unknown>) {
      exports++
      return original.apply(this, args)
    }
    try {
      for (let i = 0; i < 6; i++) {
        node.generateKeyShare("x25519")
        // Past the refills too.
        await new Promise((resolve) => setImmediate(resolve))
      }
    } finally {
      prototype.export = original
    }
    expect(exports).toBe(0)
  })
})

// RFC 7748 §6.1 / RFC 8446 §7.4.2: low-order points give an all-zero secret, which must be refused.
// The list is the usual blocklist (0, 1, the two order-8 points, and p-1, p, p+1 and their
// counterparts with the top bit set, which X25519 masks off).
const X25519_LOW_ORDER = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "0000000000000000000000000000000000000000000000000000000000000080",
  "0100000000000000000000000000000000000000000000000000000000000080",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
]

/** The P-256 field prime: coordinates must be below it. */
const P256_P = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"

describe.each(backends)("$name: malformed peer key shares give undefined", (backend) => {
  it("x25519: wrong lengths and low-order points", () => {
    const share = backend.generateKeyShare("x25519")
    const valid = backend.generateKeyShare("x25519").publicKey
    expect(share.computeSecret(valid)).toBeDefined()
    for (const peer of [new Uint8Array(0), valid.subarray(0, 31), concat(valid, Uint8Array.of(0)), new Uint8Array(64)]) {
      expect(share.computeSecret(peer)).toBeUndefined()
    }
    for (const hex of X25519_LOW_ORDER) expect(share.computeSecret(fromHex(hex)), hex).toBeUndefined()
  })

  it("secp256r1: compressed, hybrid, wrong length, off the curve, identity, coordinates >= p", () => {
    const share = backend.generateKeyShare("secp256r1")
    const valid = backend.generateKeyShare("secp256r1").publicKey
    expect(share.computeSecret(valid)).toBeDefined()
    const x = valid.subarray(1, 33)
    const y = valid.subarray(33)
    const odd = (y[31]! & 1) === 1
    const peers: ReadonlyArray<[string, Uint8Array]> = [
      ["empty", new Uint8Array(0)],
      ["identity (0x00)", Uint8Array.of(0)],
      ["compressed", concat(Uint8Array.of(odd ? 3 : 2), x)],
      ["hybrid", concat(Uint8Array.of(odd ? 7 : 6), x, y)],
      ["prefix 0x05", concat(Uint8Array.of(5), x, y)],
      ["64 bytes (no prefix)", concat(x, y)],
      ["66 bytes", concat(valid, Uint8Array.of(0))],
      ["64 bytes (truncated)", valid.subarray(0, 64)],
      ["y flipped", flipBit(valid, 64 * 8 + 7)],
      ["x flipped", flipBit(valid, 8 + 3)],
      ["all zero coordinates", concat(Uint8Array.of(4), new Uint8Array(64))],
      ["x = p", concat(Uint8Array.of(4), fromHex(P256_P), y)],
      ["y + p does not fit, y = p", concat(Uint8Array.of(4), x, fromHex(P256_P))],
      ["all ones", concat(Uint8Array.of(4), new Uint8Array(64).fill(0xff))]
    ]
    for (const [name, peer] of peers) expect(share.computeSecret(peer), name).toBeUndefined()
  })

  it("secp256r1: random 0x04-prefixed 65-byte values (off the curve) give undefined", () => {
    const share = backend.generateKeyShare("secp256r1")
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (body) => {
        expect(share.computeSecret(concat(Uint8Array.of(4), body))).toBeUndefined()
      }),
      { numRuns: 200 }
    )
  })
})
