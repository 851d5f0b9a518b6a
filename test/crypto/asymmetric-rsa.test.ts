/**
 * The portable RSA (src/platform/rsa.ts): its arithmetic, its key checks, and
 * RSA keys whose sizes exercise the edges of EMSA-PSS (modBits − 1 a multiple
 * of 8, so the encoded message is one byte shorter than the modulus) and the
 * "key too short" boundary, cross-checked against node:crypto.
 */
import { FastCheck as fc } from "effect"
import * as nodeCrypto from "node:crypto"
import { describe, expect, it } from "vitest"
import type { CryptoBackend, PrivateKey, PublicKeyInfo, SignatureAlgorithm } from "../../src/internal/crypto/backend.js"
import { makeNobleCryptoBackend } from "../../src/platform/nobleCrypto.js"
import { makeNodeCryptoBackend } from "../../src/platform/nodeCrypto.js"
import {
  bigIntToBytes,
  bitLength,
  bytesToBigInt,
  modInverse,
  modPow,
  rsaPrivateKey,
  rsaPublicKey
} from "../../src/platform/rsa.js"

const b64u = (text: string | undefined): Uint8Array => {
  if (text === undefined) throw new Error("missing JWK member")
  return Uint8Array.from(Buffer.from(text, "base64url"))
}
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")

const backends: ReadonlyArray<CryptoBackend> = [makeNodeCryptoBackend(), makeNobleCryptoBackend()]

/** Textbook square-and-multiply, the reference for the windowed `modPow`. */
const referenceModPow = (base: bigint, exponent: bigint, modulus: bigint): bigint => {
  let result = BigInt(1) % modulus
  let b = ((base % modulus) + modulus) % modulus
  for (let e = exponent; e > BigInt(0); e >>= BigInt(1)) {
    if (e & BigInt(1)) result = (result * b) % modulus
    b = (b * b) % modulus
  }
  return result
}

describe("rsa.ts arithmetic", () => {
  it("modPow agrees with square-and-multiply", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: BigInt(0), max: BigInt(2) ** BigInt(600) }),
        fc.bigInt({ min: BigInt(0), max: BigInt(2) ** BigInt(300) }),
        fc.bigInt({ min: BigInt(1), max: BigInt(2) ** BigInt(400) }),
        (base, exponent, modulus) => {
          expect(modPow(base, exponent, modulus)).toBe(referenceModPow(base, exponent, modulus))
        }
      ),
      { numRuns: 300 }
    )
    expect(modPow(BigInt(5), BigInt(0), BigInt(7))).toBe(BigInt(1))
    expect(modPow(BigInt(5), BigInt(3), BigInt(1))).toBe(BigInt(0))
  })

  it("OS2IP / I2OSP round-trip, with leading zeros and overflow", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat({ max: 4 }), (bytes, extra) => {
        const value = bytesToBigInt(bytes)
        const out = bigIntToBytes(value, bytes.length + extra)!
        expect(out.length).toBe(bytes.length + extra)
        expect(toHex(out)).toBe("00".repeat(extra) + toHex(bytes))
        expect(bitLength(value)).toBe(value === BigInt(0) ? 0 : value.toString(2).length)
      })
    )
    expect(bigIntToBytes(BigInt(256), 1)).toBeUndefined()
    expect(bigIntToBytes(BigInt(255), 1)).toEqual(Uint8Array.of(255))
    expect(bigIntToBytes(BigInt(0), 0)).toEqual(new Uint8Array(0))
    expect(bigIntToBytes(BigInt(-1), 4)).toBeUndefined()
  })

  it("modInverse", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: BigInt(1), max: BigInt(2) ** BigInt(200) }), (a) => {
        const m = BigInt("0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff") // a prime
        const inverse = modInverse(a, m)
        if (a % m === BigInt(0)) expect(inverse).toBeUndefined()
        else expect((a * inverse!) % m).toBe(BigInt(1))
      })
    )
    expect(modInverse(BigInt(6), BigInt(9))).toBeUndefined()
  })

  it("rsaPublicKey refuses what cannot be an RSA key and tolerates leading zeros", () => {
    const n = Uint8Array.from(Buffer.from("c".repeat(255) + "d", "hex")) // odd, 1024 bits
    const e = Uint8Array.of(1, 0, 1)
    expect(rsaPublicKey(n, e)?.modulusBits).toBe(1024)
    expect(rsaPublicKey(Uint8Array.from([0, ...n]), Uint8Array.from([0, ...e]))?.modulusBytes).toBe(128)
    const even = n.slice()
    even[127] = 0xcc
    expect(rsaPublicKey(even, e)).toBeUndefined()
    expect(rsaPublicKey(n, Uint8Array.of(1))).toBeUndefined()
    expect(rsaPublicKey(n, Uint8Array.of(4))).toBeUndefined()
    expect(rsaPublicKey(n, new Uint8Array(0))).toBeUndefined()
    expect(rsaPublicKey(n, n)).toBeUndefined()
    expect(rsaPublicKey(new Uint8Array(0), e)).toBeUndefined()
    expect(rsaPublicKey(new Uint8Array(2049).fill(0xff), e)).toBeUndefined() // > 16384 bits
    // Over 3072 bits the exponent is limited to 64 bits, as OpenSSL does.
    expect(rsaPublicKey(new Uint8Array(512).fill(0xff), new Uint8Array(9).fill(0xff))).toBeUndefined()
    expect(rsaPublicKey(new Uint8Array(512).fill(0xff), new Uint8Array(8).fill(0xff))).toBeDefined()
  })
})

interface RsaFixture {
  readonly bits: number
  readonly privateKey: Extract<PrivateKey, { type: "rsa" }>
  readonly info: PublicKeyInfo
  readonly nodePublic: nodeCrypto.KeyObject
}

const rsaFixture = (bits: number): RsaFixture => {
  const pair = nodeCrypto.generateKeyPairSync("rsa", { modulusLength: bits })
  const jwk = pair.privateKey.export({ format: "jwk" })
  return {
    bits,
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
    info: {
      spki: Uint8Array.from(pair.publicKey.export({ format: "der", type: "spki" })),
      key: { type: "rsa", modulus: b64u(jwk.n), exponent: b64u(jwk.e) }
    },
    nodePublic: pair.publicKey
  }
}

const nodeVerifyPss = (fixture: RsaFixture, hash: string, saltLength: number, data: Uint8Array, signature: Uint8Array) =>
  nodeCrypto.verify(
    hash,
    data,
    { key: fixture.nodePublic, padding: nodeCrypto.constants.RSA_PKCS1_PSS_PADDING, saltLength },
    signature
  )

// 1025 and 1033 bits: modBits − 1 is a multiple of 8, so EM is k − 1 bytes.
const ODD_SIZES = [1025, 1031, 1032, 1033, 1536].map(rsaFixture)

describe.each(backends)("$name: RSA keys of unusual sizes", (backend) => {
  const data = new TextEncoder().encode("odd-sized moduli")

  it.each(ODD_SIZES)("$bits bits: PSS and PKCS#1 v1.5 cross-verify", (fixture) => {
    expect(rsaPrivateKey(fixture.privateKey).publicKey.modulusBits).toBe(fixture.bits)
    const signer = backend.createSigner(fixture.privateKey)
    const algorithms: ReadonlyArray<SignatureAlgorithm> = [
      { kind: "rsa-pss", hash: "sha256", saltLength: 32 },
      { kind: "rsa-pss", hash: "sha512", saltLength: 0 },
      { kind: "rsa-pkcs1", hash: "sha384" }
    ]
    for (const algorithm of algorithms) {
      for (let i = 0; i < 4; i++) {
        const signature = signer.sign(algorithm, data)
        expect(signature.length).toBe(Math.ceil(fixture.bits / 8))
        if (algorithm.kind === "rsa-pss") {
          expect(nodeVerifyPss(fixture, algorithm.hash, algorithm.saltLength, data, signature)).toBe(true)
        }
        for (const verifier of backends) expect(verifier.verify(algorithm, fixture.info, data, signature)).toBe(true)
      }
    }
  })

  it("PSS at the size limit: emLen = hLen + sLen + 2 works, one more salt byte does not", () => {
    const fixture = ODD_SIZES.find((f) => f.bits === 1032)! // emBits 1031 → emLen 129
    const signer = backend.createSigner(fixture.privateKey)
    const fits: SignatureAlgorithm = { kind: "rsa-pss", hash: "sha512", saltLength: 129 - 64 - 2 }
    const signature = signer.sign(fits, data)
    expect(nodeVerifyPss(fixture, "sha512", 63, data, signature)).toBe(true)
    for (const verifier of backends) expect(verifier.verify(fits, fixture.info, data, signature)).toBe(true)
    expect(() => signer.sign({ kind: "rsa-pss", hash: "sha512", saltLength: 64 }, data)).toThrow()
    for (const verifier of backends) {
      expect(verifier.verify({ kind: "rsa-pss", hash: "sha512", saltLength: 64 }, fixture.info, data, signature)).toBe(
        false
      )
    }
  })

  it("a node-made PSS signature with node's maximum salt verifies with that salt length", () => {
    const fixture = ODD_SIZES.find((f) => f.bits === 1025)!
    const signature = nodeCrypto.sign("sha256", data, {
      key: nodeCrypto.createPrivateKey({
        key: {
          kty: "RSA",
          n: Buffer.from(fixture.privateKey.modulus).toString("base64url"),
          e: Buffer.from(fixture.privateKey.publicExponent).toString("base64url"),
          d: Buffer.from(fixture.privateKey.privateExponent).toString("base64url"),
          p: Buffer.from(fixture.privateKey.prime1).toString("base64url"),
          q: Buffer.from(fixture.privateKey.prime2).toString("base64url"),
          dp: Buffer.from(fixture.privateKey.exponent1).toString("base64url"),
          dq: Buffer.from(fixture.privateKey.exponent2).toString("base64url"),
          qi: Buffer.from(fixture.privateKey.coefficient).toString("base64url")
        },
        format: "jwk"
      }),
      padding: nodeCrypto.constants.RSA_PKCS1_PSS_PADDING,
      saltLength: nodeCrypto.constants.RSA_PSS_SALTLEN_MAX_SIGN
    })
    // emBits 1024 → emLen 128; max salt = 128 − 32 − 2 = 94.
    expect(backend.verify({ kind: "rsa-pss", hash: "sha256", saltLength: 94 }, fixture.info, data, signature)).toBe(true)
    expect(backend.verify({ kind: "rsa-pss", hash: "sha256", saltLength: 32 }, fixture.info, data, signature)).toBe(
      false
    )
  })
})
