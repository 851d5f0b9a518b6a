/**
 * A small, fast, seeded pseudo-random generator (sfc32, seeded through
 * splitmix32) for simulations: the same seed gives the same stream on every
 * platform, so a lossy simulated run replays exactly. Not for cryptography.
 */
export class Prng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(seed: number) {
    // Fold the seed (any finite number) into 32 bits, then expand it with
    // splitmix32 so that neighbouring seeds give unrelated streams.
    const integer = Number.isFinite(seed) ? Math.trunc(seed) : 0
    let s = (integer >>> 0) ^ (Math.floor(integer / 4294967296) >>> 0)
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = next()
    this.b = next()
    this.c = next()
    this.d = next()
    // Discard the first outputs, as sfc32's authors recommend.
    for (let i = 0; i < 12; i++) this.u32()
  }

  /** A uniformly distributed integer in [0, 2^32). */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** A float in [0, 1). */
  float(): number {
    return this.u32() / 4294967296
  }

  /** An integer in [0, n) (0 when n ≤ 1). */
  int(n: number): number {
    return n <= 1 ? 0 : Math.floor(this.float() * n)
  }

  /**
   * True with probability `p`. Draws nothing when `p` is 0 or 1, so a
   * feature that is switched off does not disturb the stream.
   */
  chance(p: number): boolean {
    if (p <= 0) return false
    if (p >= 1) return true
    return this.float() < p
  }
}
