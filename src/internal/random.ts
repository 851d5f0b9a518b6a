import type { CryptoBackend } from "./crypto/backend.js"

/**
 * The core's source of randomness (connection IDs, path challenges, packet
 * number skips, greasing). Production uses the crypto backend's secure
 * generator; tests pass a seed and get a deterministic stream from a
 * SHA-256 counter-mode generator, so a whole simulated run replays exactly.
 */
export interface Random {
  fill(out: Uint8Array): void
  /** A uniformly distributed integer in [0, 2^32). */
  u32(): number
}

const scratch = new Uint8Array(4)

const u32From = (random: Random): number => {
  random.fill(scratch)
  return ((scratch[0]! << 24) | (scratch[1]! << 16) | (scratch[2]! << 8) | scratch[3]!) >>> 0
}

export const secureRandom = (backend: CryptoBackend): Random => {
  const random: Random = {
    fill: (out) => backend.randomBytes(out),
    u32: () => u32From(random)
  }
  return random
}

/** A deterministic generator: SHA-256(seed || counter) blocks. */
export const seededRandom = (backend: CryptoBackend, seed: number): Random => {
  const input = new Uint8Array(12)
  new DataView(input.buffer).setFloat64(0, seed)
  let counter = 0
  let block: Uint8Array = new Uint8Array(0)
  let used = 0
  const random: Random = {
    fill(out) {
      for (let i = 0; i < out.length; i++) {
        if (used === block.length) {
          new DataView(input.buffer).setUint32(8, counter++)
          block = backend.hash("sha256", input)
          used = 0
        }
        out[i] = block[used++]!
      }
    },
    u32: () => u32From(random)
  }
  return random
}
