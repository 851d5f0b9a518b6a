import { Effect, FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import type {
  AeadAlgorithm,
  CryptoBackend,
  HashAlgorithm,
  HeaderProtectionAlgorithm
} from "../../src/internal/crypto/backend.js"
import * as NobleCrypto from "../../src/NobleCrypto.js"
import * as NodeCrypto from "../../src/NodeCrypto.js"
import { makeNobleCryptoBackend } from "../../src/platform/nobleCrypto.js"
import { makeNodeCryptoBackend } from "../../src/platform/nodeCrypto.js"
import { QuicCrypto } from "../../src/QuicCrypto.js"

const fromHex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/[\s:]/g, ""), "hex"))
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")
const ascii = (text: string): Uint8Array => new TextEncoder().encode(text)

const node = makeNodeCryptoBackend()
const noble = makeNobleCryptoBackend()
const backends: ReadonlyArray<CryptoBackend> = [node, noble]

const AEADS: ReadonlyArray<{ algorithm: AeadAlgorithm; keyLength: number }> = [
  { algorithm: "aes-128-gcm", keyLength: 16 },
  { algorithm: "aes-256-gcm", keyLength: 32 },
  { algorithm: "chacha20-poly1305", keyLength: 32 }
]
const HPS: ReadonlyArray<{ algorithm: HeaderProtectionAlgorithm; keyLength: number }> = [
  { algorithm: "aes-128", keyLength: 16 },
  { algorithm: "aes-256", keyLength: 32 },
  { algorithm: "chacha20", keyLength: 32 }
]
const HASHES: ReadonlyArray<HashAlgorithm> = ["sha256", "sha384"]

const bytes = (minLength: number, maxLength: number) => fc.uint8Array({ minLength, maxLength })

/** Seals into a fresh buffer and returns ciphertext || tag. */
const seal = (
  backend: CryptoBackend,
  algorithm: AeadAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array
): Uint8Array => {
  const out = new Uint8Array(plaintext.length + 16)
  backend.createAead(algorithm, key).seal(nonce, aad, plaintext, out, 0)
  return out
}

/** Opens into a fresh buffer; undefined when authentication fails. */
const open = (
  backend: CryptoBackend,
  algorithm: AeadAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  ciphertext: Uint8Array
): Uint8Array | undefined => {
  const out = new Uint8Array(Math.max(0, ciphertext.length - 16))
  return backend.createAead(algorithm, key).open(nonce, aad, ciphertext, out, 0) ? out : undefined
}

const flipBit = (data: Uint8Array, bit: number): Uint8Array => {
  const copy = data.slice()
  copy[bit >>> 3]! ^= 1 << (bit & 7)
  return copy
}

describe.each(backends)("$name backend: published known-answer vectors", (backend) => {
  // RFC 5869 Appendix A.1 (Test Case 1).
  it("HKDF-SHA256 extract and expand (RFC 5869 A.1)", () => {
    const ikm = fromHex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b")
    const salt = fromHex("000102030405060708090a0b0c")
    const info = fromHex("f0f1f2f3f4f5f6f7f8f9")
    const prk = backend.hkdfExtract("sha256", salt, ikm)
    expect(toHex(prk)).toBe("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
    expect(toHex(backend.hkdfExpand("sha256", prk, info, 42))).toBe(
      "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )
  })

  // RFC 8439 §2.8.2.
  it("ChaCha20-Poly1305 AEAD (RFC 8439 §2.8.2)", () => {
    const plaintext = ascii(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it."
    )
    const aad = fromHex("50 51 52 53 c0 c1 c2 c3 c4 c5 c6 c7")
    const key = fromHex(`
      80 81 82 83 84 85 86 87 88 89 8a 8b 8c 8d 8e 8f
      90 91 92 93 94 95 96 97 98 99 9a 9b 9c 9d 9e 9f`)
    // constant 07 00 00 00 || IV 40 41 42 43 44 45 46 47
    const nonce = fromHex("07 00 00 00 40 41 42 43 44 45 46 47")
    const ciphertext = fromHex(`
      d3 1a 8d 34 64 8e 60 db 7b 86 af bc 53 ef 7e c2
      a4 ad ed 51 29 6e 08 fe a9 e2 b5 a7 36 ee 62 d6
      3d be a4 5e 8c a9 67 12 82 fa fb 69 da 92 72 8b
      1a 71 de 0a 9e 06 0b 29 05 d6 a5 b6 7e cd 3b 36
      92 dd bd 7f 2d 77 8b 8c 98 03 ae e3 28 09 1b 58
      fa b3 24 e4 fa d6 75 94 55 85 80 8b 48 31 d7 bc
      3f f4 de f0 8e 4b 7a 9d e5 76 d2 65 86 ce c6 4b
      61 16`)
    const tag = fromHex("1a:e1:0b:59:4f:09:e2:6a:7e:90:2e:cb:d0:60:06:91")
    const sealed = seal(backend, "chacha20-poly1305", key, nonce, aad, plaintext)
    expect(toHex(sealed)).toBe(toHex(ciphertext) + toHex(tag))
    const opened = open(backend, "chacha20-poly1305", key, nonce, aad, sealed)
    expect(opened && toHex(opened)).toBe(toHex(plaintext))
  })

  // RFC 4231 §4.3 (Test Case 2).
  it("HMAC-SHA-256 and HMAC-SHA-384 (RFC 4231 test case 2)", () => {
    const key = ascii("Jefe")
    const data = ascii("what do ya want for nothing?")
    expect(toHex(data)).toBe("7768617420646f2079612077616e7420666f72206e6f7468696e673f")
    expect(toHex(backend.hmac("sha256", key, data))).toBe(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
    expect(toHex(backend.hmac("sha384", key, data))).toBe(
      "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"
    )
  })

  // FIPS 180-2 Appendix B.1 and D.1 (one-block message "abc").
  it("SHA-256 and SHA-384 of \"abc\" (FIPS 180-2)", () => {
    expect(toHex(backend.hash("sha256", ascii("abc")))).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    expect(toHex(backend.hash("sha384", ascii("abc")))).toBe(
      "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"
    )
  })
})

describe("node and noble backends agree", () => {
  describe.each(AEADS)("$algorithm", ({ algorithm, keyLength }) => {
    it("seal outputs are identical and each opens the other's", () => {
      fc.assert(
        fc.property(bytes(keyLength, keyLength), bytes(12, 12), bytes(0, 64), bytes(0, 300), (key, nonce, aad, pt) => {
          const byNode = seal(node, algorithm, key, nonce, aad, pt)
          const byNoble = seal(noble, algorithm, key, nonce, aad, pt)
          expect(toHex(byNoble)).toBe(toHex(byNode))
          const openedByNoble = open(noble, algorithm, key, nonce, aad, byNode)
          const openedByNode = open(node, algorithm, key, nonce, aad, byNoble)
          expect(openedByNoble && toHex(openedByNoble)).toBe(toHex(pt))
          expect(openedByNode && toHex(openedByNode)).toBe(toHex(pt))
        })
      )
    })
  })

  describe.each(HPS)("$algorithm header protection", ({ algorithm, keyLength }) => {
    it("masks are identical", () => {
      fc.assert(
        fc.property(bytes(keyLength, keyLength), bytes(16, 16), (key, sample) => {
          const a = new Uint8Array(5)
          const b = new Uint8Array(5)
          node.createHeaderProtection(algorithm, key).mask(sample, a)
          noble.createHeaderProtection(algorithm, key).mask(sample, b)
          expect(toHex(b)).toBe(toHex(a))
        })
      )
    })

    it("one instance gives the same masks as fresh ones, for unaligned samples too", () => {
      fc.assert(
        fc.property(bytes(keyLength, keyLength), fc.array(bytes(17, 17), { minLength: 1, maxLength: 8 }), (key, raw) => {
          const nodeHp = node.createHeaderProtection(algorithm, key)
          const nobleHp = noble.createHeaderProtection(algorithm, key)
          for (const buffer of raw) {
            const sample = buffer.subarray(1) // byteOffset 1: not 4-byte aligned
            const expected = new Uint8Array(5)
            node.createHeaderProtection(algorithm, key).mask(sample, expected)
            const a = new Uint8Array(5)
            const b = new Uint8Array(5)
            nodeHp.mask(sample, a)
            nobleHp.mask(sample, b)
            expect(toHex(a)).toBe(toHex(expected))
            expect(toHex(b)).toBe(toHex(expected))
          }
        })
      )
    })
  })

  it("chacha20 header protection agrees at the extreme block counters", () => {
    // The counter is sample[0..4] little-endian and can be anything, including
    // 0xffffffff (which noble's stream API refuses as an initial counter).
    const counters = [
      fromHex("ffffffff"),
      fromHex("feffffff"),
      fromHex("00000000"),
      fromHex("00000080"),
      fromHex("ffffff7f")
    ]
    fc.assert(
      fc.property(bytes(32, 32), bytes(12, 12), fc.constantFrom(...counters), (key, nonce, counter) => {
        const sample = new Uint8Array(16)
        sample.set(counter)
        sample.set(nonce, 4)
        const a = new Uint8Array(5)
        const b = new Uint8Array(5)
        node.createHeaderProtection("chacha20", key).mask(sample, a)
        noble.createHeaderProtection("chacha20", key).mask(sample, b)
        expect(toHex(b)).toBe(toHex(a))
      })
    )
  })

  describe.each(HASHES)("%s", (algorithm) => {
    const hashLength = algorithm === "sha256" ? 32 : 48

    it("hash outputs are identical", () => {
      fc.assert(
        fc.property(bytes(0, 600), (data) => {
          const a = node.hash(algorithm, data)
          expect(a.length).toBe(hashLength)
          expect(toHex(noble.hash(algorithm, data))).toBe(toHex(a))
        })
      )
    })

    it("running hashes give the one-shot hash of what they have seen, at every snapshot, and copies fork", () => {
      fc.assert(
        fc.property(fc.array(bytes(0, 300), { maxLength: 8 }), bytes(0, 100), (messages, extra) => {
          const running = backends.map((backend) => backend.createHash(algorithm))
          let seen = new Uint8Array(0)
          for (const message of messages) {
            seen = Uint8Array.from([...seen, ...message])
            for (const hash of running) {
              hash.update(message)
              expect(toHex(hash.digest())).toBe(toHex(node.hash(algorithm, seen)))
            }
          }
          for (const hash of running) {
            const fork = hash.copy()
            fork.update(extra)
            expect(toHex(fork.digest())).toBe(toHex(node.hash(algorithm, Uint8Array.from([...seen, ...extra]))))
            expect(toHex(hash.digest())).toBe(toHex(node.hash(algorithm, seen)))
          }
        })
      )
    })

    it("hmac outputs are identical", () => {
      fc.assert(
        fc.property(bytes(0, 200), bytes(0, 300), (key, data) => {
          const a = node.hmac(algorithm, key, data)
          expect(a.length).toBe(hashLength)
          expect(toHex(noble.hmac(algorithm, key, data))).toBe(toHex(a))
        })
      )
    })

    it("HKDF extract and expand outputs are identical", () => {
      fc.assert(
        fc.property(
          bytes(0, 80),
          bytes(0, 80),
          bytes(0, 40),
          fc.integer({ min: 0, max: 255 * hashLength }),
          (salt, ikm, info, length) => {
            const prk = node.hkdfExtract(algorithm, salt, ikm)
            expect(prk.length).toBe(hashLength)
            expect(toHex(noble.hkdfExtract(algorithm, salt, ikm))).toBe(toHex(prk))
            const okm = node.hkdfExpand(algorithm, prk, info, length)
            expect(okm.length).toBe(length)
            expect(toHex(noble.hkdfExpand(algorithm, prk, info, length))).toBe(toHex(okm))
          }
        )
      )
    })

    it("HKDF-Expand outputs are identical for a PRK of any length from HashLen up (RFC 5869 §2.3)", () => {
      fc.assert(
        fc.property(bytes(hashLength, 150), bytes(0, 300), fc.integer({ min: 0, max: 4 * hashLength }), (prk, info, length) => {
          expect(toHex(node.hkdfExpand(algorithm, prk, info, length))).toBe(toHex(noble.hkdfExpand(algorithm, prk, info, length)))
        })
      )
    })

    it("HKDF-Expand with one PRK several times in a row, and with the same buffer changed in place", () => {
      const prk = new Uint8Array(hashLength).fill(7)
      const expand = (backend: typeof node, label: string, length: number) => toHex(backend.hkdfExpand(algorithm, prk, ascii(label), length))
      const first = expand(node, "key", 16)
      expect([first, expand(node, "key", 16), expand(node, "iv", 12), expand(node, "hp", 3 * hashLength)]).toEqual(
        [expand(noble, "key", 16), expand(noble, "key", 16), expand(noble, "iv", 12), expand(noble, "hp", 3 * hashLength)]
      )
      prk[0]! ^= 1
      expect(expand(node, "key", 16)).toBe(expand(noble, "key", 16))
      expect(expand(node, "key", 16)).not.toBe(first)
    })

    it("an empty salt is the same as HashLen zero bytes (RFC 5869 §2.2)", () => {
      for (const backend of backends) {
        const ikm = ascii("input keying material")
        expect(toHex(backend.hkdfExtract(algorithm, new Uint8Array(0), ikm))).toBe(
          toHex(backend.hmac(algorithm, new Uint8Array(hashLength), ikm))
        )
      }
    })

    it("HKDF-Expand rejects lengths above 255 * HashLen", () => {
      for (const backend of backends) {
        const prk = new Uint8Array(hashLength)
        expect(() => backend.hkdfExpand(algorithm, prk, new Uint8Array(0), 255 * hashLength + 1)).toThrow()
      }
    })
  })
})

describe.each(backends)("$name backend", (backend) => {
  describe.each(AEADS)("$algorithm", ({ algorithm, keyLength }) => {
    it("seals and opens in place", () => {
      fc.assert(
        fc.property(
          bytes(keyLength, keyLength),
          bytes(12, 12),
          bytes(0, 32),
          bytes(0, 300),
          bytes(0, 13),
          (key, nonce, aad, pt, prefix) => {
            const offset = prefix.length
            const expected = seal(backend, algorithm, key, nonce, aad, pt)
            const buffer = new Uint8Array(offset + pt.length + 16 + 3)
            buffer.set(prefix)
            buffer.set(pt, offset)
            buffer.fill(0xa5, offset + pt.length)
            const aead = backend.createAead(algorithm, key)
            aead.seal(nonce, aad, buffer.subarray(offset, offset + pt.length), buffer, offset)
            expect(toHex(buffer.subarray(offset, offset + pt.length + 16))).toBe(toHex(expected))
            expect(toHex(buffer.subarray(0, offset))).toBe(toHex(prefix))
            expect(toHex(buffer.subarray(offset + pt.length + 16))).toBe("a5a5a5")
            const ok = aead.open(nonce, aad, buffer.subarray(offset, offset + pt.length + 16), buffer, offset)
            expect(ok).toBe(true)
            expect(toHex(buffer.subarray(offset, offset + pt.length))).toBe(toHex(pt))
            expect(toHex(buffer.subarray(0, offset))).toBe(toHex(prefix))
          }
        )
      )
    })

    it("one AEAD instance serves many packets", () => {
      fc.assert(
        fc.property(bytes(keyLength, keyLength), fc.array(bytes(0, 100), { maxLength: 6 }), (key, packets) => {
          const aead = backend.createAead(algorithm, key)
          packets.forEach((pt, i) => {
            const nonce = new Uint8Array(12)
            nonce[11] = i
            const out = new Uint8Array(pt.length + 16)
            aead.seal(nonce, new Uint8Array([i]), pt, out, 0)
            expect(toHex(out)).toBe(toHex(seal(backend, algorithm, key, nonce, new Uint8Array([i]), pt)))
            const back = new Uint8Array(pt.length)
            expect(aead.open(nonce, new Uint8Array([i]), out, back, 0)).toBe(true)
            expect(toHex(back)).toBe(toHex(pt))
          })
        })
      )
    })

    it("keeps its own copy of the key", () => {
      const key = new Uint8Array(keyLength).fill(7)
      const nonce = new Uint8Array(12)
      const pt = ascii("payload")
      const expected = seal(backend, algorithm, key, nonce, new Uint8Array(0), pt)
      const aead = backend.createAead(algorithm, key)
      key.fill(0)
      const out = new Uint8Array(pt.length + 16)
      aead.seal(nonce, new Uint8Array(0), pt, out, 0)
      expect(toHex(out)).toBe(toHex(expected))
    })

    it("rejects any single flipped bit of ciphertext, tag, aad or nonce", () => {
      const key = Uint8Array.from({ length: keyLength }, (_, i) => i * 7 + 1)
      const nonce = fromHex("000102030405060708090a0b")
      const aad = ascii("header!!")
      const pt = ascii("twenty bytes of text")
      const sealed = seal(backend, algorithm, key, nonce, aad, pt)
      const aead = backend.createAead(algorithm, key)
      const out = new Uint8Array(pt.length).fill(0x5a)
      const untouched = toHex(out)
      const opens = (n: Uint8Array, a: Uint8Array, c: Uint8Array) => {
        const result = aead.open(n, a, c, out, 0)
        if (!result) expect(toHex(out)).toBe(untouched)
        return result
      }
      for (let bit = 0; bit < sealed.length * 8; bit++) {
        expect(opens(nonce, aad, flipBit(sealed, bit))).toBe(false)
      }
      for (let bit = 0; bit < aad.length * 8; bit++) {
        expect(opens(nonce, flipBit(aad, bit), sealed)).toBe(false)
      }
      for (let bit = 0; bit < nonce.length * 8; bit++) {
        expect(opens(flipBit(nonce, bit), aad, sealed)).toBe(false)
      }
      // The untampered packet still opens with the same instance.
      expect(aead.open(nonce, aad, sealed, out, 0)).toBe(true)
      expect(toHex(out)).toBe(toHex(pt))
    })

    it("returns false, without throwing, for truncated or malformed input", () => {
      const key = new Uint8Array(keyLength).fill(3)
      const nonce = new Uint8Array(12)
      const aead = backend.createAead(algorithm, key)
      const out = new Uint8Array(64)
      for (let length = 0; length < 16; length++) {
        expect(aead.open(nonce, new Uint8Array(0), new Uint8Array(length), out, 0)).toBe(false)
      }
      const sealed = seal(backend, algorithm, key, nonce, new Uint8Array(0), ascii("hello"))
      expect(aead.open(nonce, new Uint8Array(0), sealed.subarray(0, sealed.length - 1), out, 0)).toBe(false)
      expect(aead.open(nonce.subarray(0, 11), new Uint8Array(0), sealed, out, 0)).toBe(false)
      expect(aead.open(new Uint8Array(0), new Uint8Array(0), sealed, out, 0)).toBe(false)
      // Too little room in `out`.
      expect(aead.open(nonce, new Uint8Array(0), sealed, new Uint8Array(4), 0)).toBe(false)
    })

    it("rejects keys of the wrong length", () => {
      expect(() => backend.createAead(algorithm, new Uint8Array(keyLength + 1))).toThrow()
    })
  })

  describe.each(HPS)("$algorithm header protection", ({ algorithm, keyLength }) => {
    it("writes exactly five mask bytes", () => {
      const hp = backend.createHeaderProtection(algorithm, new Uint8Array(keyLength).fill(9))
      const mask = new Uint8Array(8).fill(0xee)
      hp.mask(new Uint8Array(16).fill(1), mask)
      expect(toHex(mask.subarray(5))).toBe("eeeeee")
    })

    it("rejects keys of the wrong length", () => {
      expect(() => backend.createHeaderProtection(algorithm, new Uint8Array(keyLength - 1))).toThrow()
    })

    it("keeps its own copy of the key", () => {
      const key = Uint8Array.from({ length: keyLength }, (_, i) => i + 1)
      const sample = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i)
      const expected = new Uint8Array(5)
      backend.createHeaderProtection(algorithm, key.slice()).mask(sample, expected)
      const hp = backend.createHeaderProtection(algorithm, key)
      key.fill(0)
      const mask = new Uint8Array(5)
      hp.mask(sample, mask)
      expect(toHex(mask)).toBe(toHex(expected))
    })
  })

  it("randomBytes fills the buffer", () => {
    const a = new Uint8Array(32)
    const b = new Uint8Array(32)
    backend.randomBytes(a)
    backend.randomBytes(b)
    expect(toHex(a)).not.toBe(toHex(b))
    expect(a.some((x) => x !== 0)).toBe(true)
    // Larger than one Web Crypto call (65536 bytes): the tail is filled too.
    const big = new Uint8Array(70_000)
    backend.randomBytes(big)
    expect(big.subarray(big.length - 64).some((x) => x !== 0)).toBe(true)
    backend.randomBytes(new Uint8Array(0))
  })

  it("randomBytes never repeats across many small requests (a pooled backend refills several times)", () => {
    const seen = new Set<string>()
    for (let i = 0; i < 1000; i++) {
      const out = new Uint8Array(i % 2 === 0 ? 20 : 16)
      backend.randomBytes(out)
      expect(out.some((x) => x !== 0)).toBe(true)
      seen.add(toHex(out))
    }
    expect(seen.size).toBe(1000)
    for (const length of [255, 256, 257, 4096]) {
      const out = new Uint8Array(length)
      backend.randomBytes(out)
      expect(out.subarray(length - 16).some((x) => x !== 0)).toBe(true)
    }
  })
})

describe("layers", () => {
  it.each([
    ["node", NodeCrypto.layer],
    ["noble", NobleCrypto.layer]
  ] as const)("%s layer provides QuicCrypto", (name, layer) => {
    const backend = Effect.runSync(Effect.provide(QuicCrypto, layer))
    expect(backend.name).toBe(name)
    expect(toHex(backend.hash("sha256", ascii("abc")))).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
  })

  it("make builds a fresh backend", () => {
    expect(NodeCrypto.make().name).toBe("node")
    expect(NobleCrypto.make().name).toBe("noble")
  })
})
