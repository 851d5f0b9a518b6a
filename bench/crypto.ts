import type { CryptoBackend } from "../src/internal/crypto/backend.js"
import { deriveDirectionalKeys } from "../src/internal/crypto/packetKeys.js"
import { cipherSuites } from "../src/internal/crypto/suite.js"
import { writeShortHeader } from "../src/internal/packet/header.js"
import { BufferWriter } from "../src/internal/codec/writer.js"
import { openPacket, removeHeaderProtection, sealPacket } from "../src/internal/packet/protection.js"
import { QUIC_V1 } from "../src/internal/packet/version.js"

/** One row of the crypto benchmark: microseconds per 1200-byte packet. */
export interface CryptoResult {
  readonly backend: string
  readonly suite: string
  readonly sealMicros: number
  readonly openMicros: number
  readonly headerProtectionMicros: number
}

const PACKET_SIZE = 1200
const DCID = new Uint8Array(8).fill(7)

/** Runs `body` repeatedly for about `millis` ms after a warm-up and returns µs per call. */
const measure = (millis: number, body: () => void): number => {
  for (let i = 0; i < 500; i++) body()
  let iterations = 0
  const start = performance.now()
  let elapsed = 0
  while (elapsed < millis) {
    for (let i = 0; i < 100; i++) body()
    iterations += 100
    elapsed = performance.now() - start
  }
  return (elapsed * 1000) / iterations
}

/**
 * Seal and open of a full 1200-byte 1-RTT packet (AEAD plus header protection,
 * in place), and the header-protection mask alone, for every cipher suite.
 */
export const benchCrypto = (backend: CryptoBackend, millis: number): ReadonlyArray<CryptoResult> =>
  cipherSuites.map((suite) => {
    const secret = new Uint8Array(suite.hash === "sha256" ? 32 : 48).fill(1)
    const keys = deriveDirectionalKeys(backend, suite, QUIC_V1, secret)
    const packet = new Uint8Array(PACKET_SIZE)
    const w = new BufferWriter(packet)
    const pnOffset = writeShortHeader(w, DCID, false, 0, 0x1234, 4)
    const payloadEnd = PACKET_SIZE - 16
    let pn = 0x1234
    const sealMicros = measure(millis, () => {
      sealPacket(keys, packet, 0, pnOffset, 4, payloadEnd, pn++)
    })

    const sealed = new Uint8Array(PACKET_SIZE)
    writeShortHeader(new BufferWriter(sealed), DCID, false, 0, 0x1234, 4)
    sealPacket(keys, sealed, 0, pnOffset, 4, payloadEnd, 0x1234)
    const work = new Uint8Array(PACKET_SIZE)
    const openMicros = measure(millis, () => {
      work.set(sealed)
      const pnLength = removeHeaderProtection(keys.header, work, 0, pnOffset, PACKET_SIZE)
      if (openPacket(keys.packet, work, 0, pnOffset, pnLength, PACKET_SIZE, 0x1234) < 0) throw new Error("open failed")
    })

    const sample = sealed.subarray(pnOffset + 4, pnOffset + 20)
    const headerProtectionMicros = measure(millis, () => keys.header.protection.mask(sample, keys.header.mask))
    return { backend: backend.name, suite: suite.name, sealMicros, openMicros, headerProtectionMicros }
  })
