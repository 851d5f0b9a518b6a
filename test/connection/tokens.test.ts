import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { TokenSealer } from "../../src/internal/connection/tokens.js"
import { backends, fromHex } from "../helpers.js"

const KEY = fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
const OTHER_KEY = fromHex("ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
/** 3 s and 24 h, in µs. */
const RETRY_LIFETIME = 3_000_000
const NEW_TOKEN_LIFETIME = 86_400_000_000

const client = { address: "192.0.2.10", port: 51_000 }
const odcid = fromHex("8394c8f03e515708")
const rscid = fromHex("f067a5502a4262b5")
const T0 = 1_700_000_000_000_000 // a realistic µs clock, above 2^32

describe.each(backends)("TokenSealer (RFC 9000 §8.1) on %s", (_name, backend) => {
  const sealer = new TokenSealer(backend, KEY, RETRY_LIFETIME, NEW_TOKEN_LIFETIME)

  it("round-trips a Retry token with both connection IDs", () => {
    const token = sealer.seal("retry", client, T0, odcid, rscid)
    expect(sealer.open(token, client, T0)).toEqual({ kind: "retry", originalDcid: odcid, retrySourceCid: rscid })
  })

  it("binds a token to the QUIC version it was issued for (RFC 9369 §5, §4.1)", () => {
    const V2 = 0x6b3343cf
    const retry = sealer.seal("retry", client, T0, odcid, rscid, V2)
    expect(sealer.open(retry, client, T0, V2)?.kind).toBe("retry")
    expect(sealer.open(retry, client, T0, 1)).toBeUndefined()
    expect(sealer.open(retry, client, T0)).toBeUndefined()
    const v1 = sealer.seal("new-token", client, T0, undefined, undefined, 1)
    expect(sealer.open(v1, client, T0 + 1, 1)?.kind).toBe("new-token")
    expect(sealer.open(v1, client, T0 + 1, V2)).toBeUndefined()
  })

  it("round-trips a NEW_TOKEN token with empty connection IDs", () => {
    const token = sealer.seal("new-token", client, T0)
    expect(sealer.open(token, client, T0 + 1)).toEqual({ kind: "new-token", originalDcid: new Uint8Array(0), retrySourceCid: new Uint8Array(0) })
  })

  it("round-trips 20-byte connection IDs (the §17.2 maximum) and time 0", () => {
    const a = new Uint8Array(20).fill(0xaa)
    const b = new Uint8Array(20).fill(0xbb)
    const token = sealer.seal("retry", client, 0, a, b)
    expect(sealer.open(token, client, 0)).toEqual({ kind: "retry", originalDcid: a, retrySourceCid: b })
  })

  it("never repeats a token (random nonce) and is not empty (§19.7)", () => {
    const one = sealer.seal("new-token", client, T0)
    const two = sealer.seal("new-token", client, T0)
    expect(one.length).toBeGreaterThan(0)
    expect(one).not.toEqual(two)
    // nonce (12) + format, kind, time (10) + two empty vectors (2) + tag (16)
    expect(one.length).toBe(12 + 10 + 2 + 16)
  })

  it("is bound to the client's IP address", () => {
    const token = sealer.seal("new-token", client, T0)
    expect(sealer.open(token, { address: "192.0.2.11", port: client.port }, T0)).toBeUndefined()
    expect(sealer.open(token, { address: "::ffff:192.0.2.10", port: client.port }, T0)).toBeUndefined()
    const retry = sealer.seal("retry", client, T0, odcid, rscid)
    expect(sealer.open(retry, { address: "198.51.100.1", port: client.port }, T0)).toBeUndefined()
  })

  it("survives a change of the client's port (NAT rebinding, §8.1.3)", () => {
    const token = sealer.seal("new-token", client, T0)
    expect(sealer.open(token, { address: client.address, port: 1 }, T0)?.kind).toBe("new-token")
    const retry = sealer.seal("retry", client, T0, odcid, rscid)
    expect(sealer.open(retry, { address: client.address, port: 65_535 }, T0)?.kind).toBe("retry")
  })

  it("binds IPv6 addresses too", () => {
    const v6 = { address: "2001:db8::1", port: 443 }
    const token = sealer.seal("retry", v6, T0, odcid, rscid)
    expect(sealer.open(token, { address: "2001:db8::1", port: 444 }, T0)?.originalDcid).toEqual(odcid)
    expect(sealer.open(token, { address: "2001:db8::2", port: 443 }, T0)).toBeUndefined()
  })

  it("expires a Retry token after its lifetime (inclusive bound)", () => {
    const token = sealer.seal("retry", client, T0, odcid, rscid)
    expect(sealer.open(token, client, T0 + RETRY_LIFETIME)?.kind).toBe("retry")
    expect(sealer.open(token, client, T0 + RETRY_LIFETIME + 1)).toBeUndefined()
  })

  it("expires a NEW_TOKEN token after its own, longer lifetime", () => {
    const token = sealer.seal("new-token", client, T0)
    expect(sealer.open(token, client, T0 + RETRY_LIFETIME + 1)?.kind).toBe("new-token")
    expect(sealer.open(token, client, T0 + NEW_TOKEN_LIFETIME)?.kind).toBe("new-token")
    expect(sealer.open(token, client, T0 + NEW_TOKEN_LIFETIME + 1)).toBeUndefined()
  })

  it("rejects a token from the future (clock went backwards)", () => {
    const token = sealer.seal("new-token", client, T0)
    expect(sealer.open(token, client, T0 - 1)).toBeUndefined()
  })

  it("keeps the full µs issue time across the 32-bit boundary", () => {
    for (const issued of [2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 52 + 7]) {
      const token = sealer.seal("retry", client, issued, odcid, rscid)
      expect(sealer.open(token, client, issued + RETRY_LIFETIME)?.kind).toBe("retry")
      expect(sealer.open(token, client, issued + RETRY_LIFETIME + 1)).toBeUndefined()
      expect(sealer.open(token, client, issued - 1)).toBeUndefined()
    }
  })

  it("rejects every single-bit flip", () => {
    const token = sealer.seal("retry", client, T0, odcid, rscid)
    for (let bit = 0; bit < token.length * 8; bit++) {
      const tampered = token.slice()
      tampered[bit >> 3]! ^= 0x80 >> (bit & 7)
      expect(sealer.open(tampered, client, T0)).toBeUndefined()
    }
    // The original still opens: tampering copies were independent.
    expect(sealer.open(token, client, T0)?.kind).toBe("retry")
  })

  it("rejects truncated, extended and garbage tokens", () => {
    const token = sealer.seal("new-token", client, T0)
    for (let length = 0; length < token.length; length++) expect(sealer.open(token.subarray(0, length), client, T0)).toBeUndefined()
    const extended = new Uint8Array(token.length + 1)
    extended.set(token)
    expect(sealer.open(extended, client, T0)).toBeUndefined()
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (garbage) => {
        expect(sealer.open(garbage, client, T0)).toBeUndefined()
      }),
      { numRuns: 200 }
    )
  })

  it("rejects tokens sealed under another key", () => {
    const other = new TokenSealer(backend, OTHER_KEY, RETRY_LIFETIME, NEW_TOKEN_LIFETIME)
    expect(sealer.open(other.seal("retry", client, T0, odcid, rscid), client, T0)).toBeUndefined()
    expect(other.open(sealer.seal("new-token", client, T0), client, T0)).toBeUndefined()
  })

  it("opens tokens sealed by another sealer with the same key (an endpoint-wide key, e.g. after restart)", () => {
    const twin = new TokenSealer(backend, KEY.slice(), RETRY_LIFETIME, NEW_TOKEN_LIFETIME)
    expect(twin.open(sealer.seal("retry", client, T0, odcid, rscid), client, T0)).toEqual({
      kind: "retry",
      originalDcid: odcid,
      retrySourceCid: rscid
    })
  })

  it("round-trips arbitrary contents", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("retry" as const, "new-token" as const),
        fc.uint8Array({ maxLength: 20 }),
        fc.uint8Array({ maxLength: 20 }),
        fc.nat({ max: Number.MAX_SAFE_INTEGER - NEW_TOKEN_LIFETIME }),
        fc.nat(RETRY_LIFETIME),
        fc.integer({ min: 0, max: 65_535 }),
        (kind, a, b, issued, age, port) => {
          const token = sealer.seal(kind, client, issued, a, b)
          expect(sealer.open(token, { address: client.address, port }, issued + age)).toEqual({ kind, originalDcid: a, retrySourceCid: b })
        }
      ),
      { numRuns: 100 }
    )
  })
})

describe("TokenSealer across backends", () => {
  it("opens on one backend what the other sealed", () => {
    const node = backends[0]![1]
    const noble = backends[1]![1]
    const a = new TokenSealer(node, KEY, RETRY_LIFETIME, NEW_TOKEN_LIFETIME)
    const b = new TokenSealer(noble, KEY, RETRY_LIFETIME, NEW_TOKEN_LIFETIME)
    expect(b.open(a.seal("retry", client, T0, odcid, rscid), client, T0)?.originalDcid).toEqual(odcid)
    expect(a.open(b.seal("new-token", client, T0), client, T0)?.kind).toBe("new-token")
  })
})
