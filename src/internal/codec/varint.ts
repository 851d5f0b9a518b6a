/**
 * QUIC variable-length integers (RFC 9000 §16).
 *
 * The two most significant bits of the first byte give the encoded length
 * (1, 2, 4 or 8 bytes); the rest is the value, big-endian, up to 2^62-1.
 *
 * JavaScript numbers are exact only up to 2^53-1, so every reader offers two
 * forms: a `number` form that reports values above 2^53-1 as
 * {@link VARINT_UNSAFE} instead of rounding them, and a `bigint` form that is
 * exact over the whole range. Each field decoder picks one and says why.
 */

/** RFC 9000 §16: the largest value a varint can carry, 2^62-1. */
export const VARINT_MAX = (1n << 62n) - 1n

/** Returned by the `number` readers when the value does not fit in 2^53-1. */
export const VARINT_UNSAFE = -1

/** The number of bytes the shortest encoding of `value` takes. */
export const varintLength = (value: number): 1 | 2 | 4 | 8 =>
  value < 0x40 ? 1 : value < 0x4000 ? 2 : value < 0x40000000 ? 4 : 8

/** The number of bytes the shortest encoding of a bigint `value` takes. */
export const varintLengthBig = (value: bigint): 1 | 2 | 4 | 8 =>
  value < 0x40n ? 1 : value < 0x4000n ? 2 : value < 0x40000000n ? 4 : 8

/** Whether `value` can be encoded as a varint (a non-negative integer ≤ 2^53-1 for numbers). */
export const isVarint = (value: number): boolean => Number.isSafeInteger(value) && value >= 0

/** Whether a bigint `value` is in the varint range 0..2^62-1. */
export const isVarintBig = (value: bigint): boolean => value >= 0n && value <= VARINT_MAX
