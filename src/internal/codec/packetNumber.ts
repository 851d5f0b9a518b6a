/**
 * Packet number encoding and decoding (RFC 9000 §17.1, Appendix A.2 and A.3).
 *
 * Packet numbers are held as `number`: an endpoint would need 2^53 packets to
 * leave the exact range, far beyond any connection's life, and decoding
 * rejects a result above that instead of rounding it.
 */

/**
 * RFC 9000 Appendix A.2: the fewest bytes (1..4) that let the peer recover
 * `packetNumber` given the largest packet number it has acknowledged, using a
 * window twice the number of unacknowledged packets.
 */
export const packetNumberLength = (packetNumber: number, largestAcked: number | undefined): 1 | 2 | 3 | 4 => {
  const unacked = largestAcked === undefined ? packetNumber + 1 : packetNumber - largestAcked
  // The encoding must cover more than twice the range of unacknowledged
  // packets: ceil((log2(unacked) + 1) / 8) bytes, i.e. n bytes while
  // unacked <= 2^(8n - 1). (Called for every packet sent: no log2.)
  return unacked <= 0x80 ? 1 : unacked <= 0x8000 ? 2 : unacked <= 0x800000 ? 3 : 4
}

/**
 * 2^bits for truncations of 0 to 24 bits, and 2^32 on its own: a table
 * holding 2^32 would hold doubles, and every packet number computed from it
 * would be a heap number (V8 boxes a double even when it is a small
 * integer). Stored in fields and arrays, such numbers turn them into double
 * storage everywhere packet numbers go (ACK ranges, sent packets), and
 * optimized code that expected small integers deoptimizes. A table: with a
 * variable exponent, `2 ** bits` is a call to `pow`, and these run for every
 * packet sent and received.
 */
const WINDOWS: ReadonlyArray<number> = [2 ** 0, 2 ** 8, 2 ** 16, 2 ** 24]
const WINDOW_32 = 2 ** 32

/** Below this, packet numbers are small integers (V8's Smis) and 32-bit operators are exact. */
const SMALL = 0x3fffffff

/** RFC 9000 §17.1: the low `bytes` bytes of `packetNumber`, as the header carries them. */
export const truncatePacketNumber = (packetNumber: number, bytes: 1 | 2 | 3 | 4): number => {
  if (packetNumber <= SMALL) return bytes === 4 ? packetNumber : packetNumber & (WINDOWS[bytes]! - 1)
  const window = bytes === 4 ? WINDOW_32 : WINDOWS[bytes]!
  return packetNumber - Math.floor(packetNumber / window) * window
}

/**
 * RFC 9000 Appendix A.3: recover the full packet number from its `bits`-bit
 * truncation, choosing the candidate closest to `largestReceived + 1`.
 * Returns -1 when the result would exceed 2^53-1 (the packet is dropped).
 */
export const decodePacketNumber = (largestReceived: number | undefined, truncated: number, bits: number): number => {
  const expected = largestReceived === undefined ? 0 : largestReceived + 1
  if (expected <= SMALL) {
    // Every candidate is below 2^31: 32-bit operators, and small integers out.
    // With 32 bits the truncation is the candidate, and no other is closer.
    if (bits === 32) return truncated
    const window = WINDOWS[bits >>> 3]!
    const halfWindow = window >> 1
    const candidate = (expected & -window) | truncated
    if (candidate <= expected - halfWindow) return candidate + window
    if (candidate > expected + halfWindow && candidate >= window) return candidate - window
    return candidate
  }
  const window = bits === 32 ? WINDOW_32 : WINDOWS[bits >>> 3]!
  const halfWindow = window / 2
  // expected & ~mask, written with arithmetic because the values exceed 32
  // bits (dividing by a power of two is exact, unlike `%` a call to fmod).
  const candidate = Math.floor(expected / window) * window + truncated
  let result = candidate
  if (candidate <= expected - halfWindow && candidate < 2 ** 62 - window) result = candidate + window
  else if (candidate > expected + halfWindow && candidate >= window) result = candidate - window
  return Number.isSafeInteger(result) ? result : -1
}
