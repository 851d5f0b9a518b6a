import { FastCheck as fc } from "effect"
import { type CipherGCMTypes, createCipheriv, createDecipheriv, randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { makeWasmChaCha20HeaderProtection, makeWasmChaCha20Poly1305 } from "../../src/platform/wasmChaCha20Poly1305.js"
import { assemble, wasmSources } from "../../scripts/wasm.js"

/** OpenSSL's AEAD_CHACHA20_POLY1305 (through node:crypto): an independent implementation to compare with. */
// node's typings list chacha20-poly1305 with CCM (whose setAAD needs a length); its API is GCM's.
const CHACHA = "chacha20-poly1305" as CipherGCMTypes

const opensslSeal = (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array => {
  const cipher = createCipheriv(CHACHA, key, nonce, { authTagLength: 16 })
  cipher.setAAD(aad)
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
}

const opensslOpen = (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array => {
  const decipher = createDecipheriv(CHACHA, key, nonce, { authTagLength: 16 })
  decipher.setAAD(aad)
  decipher.setAuthTag(sealed.subarray(sealed.length - 16))
  return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()])
}

const seal = (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array => {
  const out = new Uint8Array(plaintext.length + 16)
  makeWasmChaCha20Poly1305(key).seal(nonce, aad, plaintext, out, 0)
  return out
}

const open = (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined => {
  const out = new Uint8Array(sealed.length - 16)
  return makeWasmChaCha20Poly1305(key).open(nonce, aad, sealed, out, 0) ? out : undefined
}

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"))

/**
 * Lengths around every boundary of the implementation: Poly1305 blocks (16),
 * the first four-block batch (block 0 keys Poly1305, so 192 bytes of text
 * fit), later batches (256), and QUIC-sized packets.
 */
const EDGE_LENGTHS = [0, 1, 15, 16, 17, 31, 32, 33, 191, 192, 193, 207, 208, 255, 256, 257, 447, 448, 449, 1162, 1200, 1452]

describe("ChaCha20-Poly1305 in WebAssembly", () => {
  it("the embedded module is the assembled .wat source", async () => {
    for (const source of wasmSources) {
      expect(readFileSync(source.module, "utf8")).toBe(await assemble(source))
    }
  })

  it("RFC 8439 §2.8.2: the AEAD test vector, sealed and opened", () => {
    const plaintext = new TextEncoder().encode(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it."
    )
    const key = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
    const nonce = hex("070000004041424344454647")
    const aad = hex("50515253c0c1c2c3c4c5c6c7")
    const expected = hex(`
      d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
      3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
      92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
      3ff4def08e4b7a9de576d26586cec64b6116
      1ae10b594f09e26a7e902ecbd0600691`)
    const sealed = seal(key, nonce, aad, plaintext)
    expect(Buffer.from(sealed).toString("hex")).toBe(Buffer.from(expected).toString("hex"))
    expect(open(key, nonce, aad, sealed)).toEqual(plaintext)
  })

  it.each(EDGE_LENGTHS)("%i bytes of text: the same bytes as OpenSSL, and each opens the other's", (length) => {
    for (const aadLength of [0, 1, 13, 16, 21, 47]) {
      const key = randomBytes(32)
      const nonce = randomBytes(12)
      const aad = randomBytes(aadLength)
      const plaintext = randomBytes(length)
      const ours = seal(key, nonce, aad, plaintext)
      expect(Buffer.from(ours).equals(opensslSeal(key, nonce, aad, plaintext))).toBe(true)
      expect(Buffer.from(opensslOpen(key, nonce, aad, ours)).equals(plaintext)).toBe(true)
      expect(open(key, nonce, aad, ours)).toEqual(Uint8Array.from(plaintext))
    }
  })

  it("agrees with OpenSSL on arbitrary keys, nonces, AAD and text", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 1500 }),
        (key, nonce, aad, plaintext) => {
          const ours = seal(key, nonce, aad, plaintext)
          expect(Buffer.from(ours).equals(opensslSeal(key, nonce, aad, plaintext))).toBe(true)
          expect(open(key, nonce, aad, ours)).toEqual(plaintext)
        }
      ),
      { numRuns: 500 }
    )
  })

  it("seals and opens the largest UDP payload, 65,507 bytes", () => {
    const key = randomBytes(32)
    const nonce = randomBytes(12)
    const aad = randomBytes(30)
    const plaintext = randomBytes(65_507)
    const ours = seal(key, nonce, aad, plaintext)
    expect(Buffer.from(ours).equals(opensslSeal(key, nonce, aad, plaintext))).toBe(true)
    expect(open(key, nonce, aad, ours)).toEqual(Uint8Array.from(plaintext))
  })

  it("refuses input beyond its memory: seal throws, open returns false", () => {
    const aead = makeWasmChaCha20Poly1305(randomBytes(32))
    const huge = new Uint8Array(200_000)
    expect(() => aead.seal(randomBytes(12), new Uint8Array(0), huge, new Uint8Array(200_016), 0)).toThrow(RangeError)
    expect(aead.open(randomBytes(12), new Uint8Array(0), huge, new Uint8Array(200_000), 0)).toBe(false)
  })

  it("rejects every flipped bit of the tag, and a wrong nonce, and writes nothing", () => {
    const key = randomBytes(32)
    const nonce = randomBytes(12)
    const aad = randomBytes(20)
    const sealed = seal(key, nonce, aad, randomBytes(100))
    const aead = makeWasmChaCha20Poly1305(key)
    for (let bit = 0; bit < 128; bit++) {
      const forged = Uint8Array.from(sealed)
      forged[100 + (bit >> 3)]! ^= 1 << (bit & 7)
      const out = new Uint8Array(100)
      expect(aead.open(nonce, aad, forged, out, 0)).toBe(false)
      expect(out).toEqual(new Uint8Array(100))
    }
    const otherNonce = Uint8Array.from(nonce)
    otherNonce[11]! ^= 0x80
    expect(aead.open(otherNonce, aad, sealed, new Uint8Array(100), 0)).toBe(false)
  })

  it("AEADs of different keys interleaved give what each gives alone (one shared instance)", () => {
    const keys = [randomBytes(32), randomBytes(32), randomBytes(32)]
    const aeads = keys.map(makeWasmChaCha20Poly1305)
    for (let round = 0; round < 20; round++) {
      const which = round % 3
      const nonce = randomBytes(12)
      const plaintext = randomBytes(300 + round)
      const out = new Uint8Array(plaintext.length + 16)
      aeads[which]!.seal(nonce, new Uint8Array(0), plaintext, out, 0)
      expect(Buffer.from(out).equals(opensslSeal(keys[which]!, nonce, new Uint8Array(0), plaintext))).toBe(true)
    }
  })
})

describe("ChaCha20 header protection in WebAssembly (RFC 9001 §5.4.4)", () => {
  /** OpenSSL's `chacha20` takes counter || nonce as one 16-byte IV, which is exactly the sample. */
  const opensslMask = (key: Uint8Array, sample: Uint8Array): Uint8Array =>
    createCipheriv("chacha20", key, sample).update(new Uint8Array(5))

  it("RFC 9001 A.5: the mask of the published sample", () => {
    const hp = makeWasmChaCha20HeaderProtection(hex("25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4"))
    const mask = new Uint8Array(5)
    hp.mask(hex("5e5cd55c41f69080575d7999c25a5bfb"), mask)
    expect(Buffer.from(mask).toString("hex")).toBe("aefefe7d03")
  })

  it("matches OpenSSL for random samples, including block counters at 0 and 2^32 − 1", () => {
    const key = randomBytes(32)
    const hp = makeWasmChaCha20HeaderProtection(key)
    const samples = [new Uint8Array(16), Uint8Array.from({ length: 16 }, () => 0xff)]
    for (let i = 0; i < 200; i++) samples.push(randomBytes(16))
    for (const sample of samples) {
      const mask = new Uint8Array(5)
      hp.mask(sample, mask)
      expect(Buffer.from(mask).equals(opensslMask(key, sample))).toBe(true)
    }
  })

  it("reads only the first 16 bytes of a longer sample and writes only five mask bytes", () => {
    const key = randomBytes(32)
    const sample = randomBytes(40)
    const mask = new Uint8Array(8).fill(0xaa)
    makeWasmChaCha20HeaderProtection(key).mask(sample, mask)
    expect(Buffer.from(mask.subarray(0, 5)).equals(opensslMask(key, sample.subarray(0, 16)))).toBe(true)
    expect(Array.from(mask.subarray(5))).toEqual([0xaa, 0xaa, 0xaa])
  })

  it("rejects keys, samples and masks of the wrong size", () => {
    expect(() => makeWasmChaCha20HeaderProtection(new Uint8Array(16))).toThrow(RangeError)
    expect(() => makeWasmChaCha20Poly1305(new Uint8Array(31))).toThrow(RangeError)
    const hp = makeWasmChaCha20HeaderProtection(new Uint8Array(32))
    expect(() => hp.mask(new Uint8Array(15), new Uint8Array(5))).toThrow(RangeError)
    expect(() => hp.mask(new Uint8Array(16), new Uint8Array(4))).toThrow(RangeError)
  })
})
