import { FastCheck as fc } from "effect"
import { createHash, createHmac, randomBytes } from "node:crypto"
import { describe, expect, it } from "vitest"
import { makeWasmRunningSha256, wasmHmacSha256, wasmSha256 } from "../../src/platform/wasmSha256.js"

const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")
const ascii = (text: string): Uint8Array => new TextEncoder().encode(text)
const filled = (length: number, byte: number): Uint8Array => new Uint8Array(length).fill(byte)

/** OpenSSL (through node:crypto): an independent implementation to compare with. */
const opensslSha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex")
const opensslHmac = (key: Uint8Array, data: Uint8Array): string => createHmac("sha256", key).update(data).digest("hex")

/** The module's message area holds 64,512 bytes (1,008 blocks); longer messages go through in pieces. */
const IO_LENGTH = 64_512

/**
 * Lengths around every boundary: the padding's (55 bytes leave room for the
 * 0x80 and the length in one block, 56 do not), blocks, and the message area.
 */
const EDGE_LENGTHS = [
  0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1200,
  IO_LENGTH - 1, IO_LENGTH, IO_LENGTH + 1, IO_LENGTH + 64, 2 * IO_LENGTH + 55
]

describe("SHA-256 in WebAssembly (FIPS 180-4)", () => {
  it("the published examples: empty, \"abc\", the 448-bit message, a million \"a\"", () => {
    expect(toHex(wasmSha256(new Uint8Array(0)))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    expect(toHex(wasmSha256(ascii("abc")))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    expect(toHex(wasmSha256(ascii("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")))).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    )
    expect(toHex(wasmSha256(filled(1_000_000, 0x61)))).toBe("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  })

  it("agrees with OpenSSL at every boundary length and on arbitrary messages", () => {
    for (const length of EDGE_LENGTHS) {
      const data = randomBytes(length)
      expect(toHex(wasmSha256(data)), `length ${length}`).toBe(opensslSha256(data))
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (data) => {
        expect(toHex(wasmSha256(data))).toBe(opensslSha256(data))
      }),
      { numRuns: 300 }
    )
  })

  it("hashes a view into a larger buffer, and returns a fresh digest each time", () => {
    const buffer = randomBytes(500)
    const view = buffer.subarray(7, 300)
    const first = wasmSha256(view)
    const second = wasmSha256(new Uint8Array(0))
    expect(toHex(first)).toBe(opensslSha256(view))
    expect(toHex(second)).toBe(opensslSha256(new Uint8Array(0)))
  })
})

describe("HMAC-SHA-256 in WebAssembly (RFC 2104)", () => {
  it("RFC 4231 test cases 1–4, 6 and 7 (6 and 7: a 131-byte key, hashed first)", () => {
    const cases: ReadonlyArray<readonly [Uint8Array, Uint8Array, string]> = [
      [filled(20, 0x0b), ascii("Hi There"), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"],
      [ascii("Jefe"), ascii("what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"],
      [filled(20, 0xaa), filled(50, 0xdd), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"],
      [
        Uint8Array.from({ length: 25 }, (_, i) => i + 1),
        filled(50, 0xcd),
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"
      ],
      [
        filled(131, 0xaa),
        ascii("Test Using Larger Than Block-Size Key - Hash Key First"),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
      ],
      [
        filled(131, 0xaa),
        ascii(
          "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm."
        ),
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
      ]
    ]
    for (const [key, data, expected] of cases) expect(toHex(wasmHmacSha256(key, data))).toBe(expected)
  })

  it("agrees with OpenSSL for keys of 0–130 bytes and messages at every boundary length", () => {
    for (const keyLength of [0, 1, 32, 48, 63, 64, 65, 130]) {
      for (const length of EDGE_LENGTHS) {
        const key = randomBytes(keyLength)
        const data = randomBytes(length)
        expect(toHex(wasmHmacSha256(key, data)), `key ${keyLength}, length ${length}`).toBe(opensslHmac(key, data))
      }
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 2000 }), (key, data) => {
        expect(toHex(wasmHmacSha256(key, data))).toBe(opensslHmac(key, data))
      }),
      { numRuns: 300 }
    )
  })

  it("a shorter key after a longer one is padded with zeros, not with the old key's bytes", () => {
    const long = filled(64, 0xff)
    const short = ascii("k")
    const data = ascii("message")
    wasmHmacSha256(long, data)
    expect(toHex(wasmHmacSha256(short, data))).toBe(opensslHmac(short, data))
  })
})

describe("running SHA-256 in WebAssembly", () => {
  /** Feeds `data` in pieces cut at `cuts` (sorted offsets), checking a digest after each piece. */
  const feedInPieces = (data: Uint8Array, cuts: ReadonlyArray<number>): void => {
    const running = makeWasmRunningSha256()
    let from = 0
    for (const to of [...cuts, data.length]) {
      running.update(data.subarray(from, to))
      from = to
      expect(toHex(running.digest()), `after ${to} bytes`).toBe(opensslSha256(data.subarray(0, to)))
    }
  }

  it("every snapshot equals the one-shot hash of what came before, whatever the pieces", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 6000 }),
        fc.array(fc.nat({ max: 6000 }), { maxLength: 12 }),
        (data, cuts) => feedInPieces(data, [...new Set(cuts.filter((c) => c <= data.length))].sort((a, b) => a - b))
      ),
      { numRuns: 200 }
    )
  })

  it("pieces across the message area and the pending limit: one of 150,000 bytes, then bytes one at a time", () => {
    feedInPieces(randomBytes(150_000 + 70), [150_000, 150_001, 150_002, 150_063, 150_064, 150_065])
  })

  it("a copy goes on independently of its original, and many hashes may be in use at once", () => {
    const original = makeWasmRunningSha256()
    original.update(ascii("shared prefix, longer than one block so that state is compressed: ".repeat(2)))
    const copy = original.copy()
    const other = makeWasmRunningSha256()
    original.update(ascii("original"))
    copy.update(ascii("copy"))
    other.update(ascii("other"))
    const prefix = ascii("shared prefix, longer than one block so that state is compressed: ".repeat(2))
    const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => Uint8Array.from([...a, ...b])
    expect(toHex(original.digest())).toBe(opensslSha256(concat(prefix, ascii("original"))))
    expect(toHex(copy.digest())).toBe(opensslSha256(concat(prefix, ascii("copy"))))
    expect(toHex(other.digest())).toBe(opensslSha256(ascii("other")))
    expect(toHex(wasmSha256(ascii("abc")))).toBe(opensslSha256(ascii("abc")))
    expect(toHex(original.digest())).toBe(opensslSha256(concat(prefix, ascii("original"))))
  })
})
