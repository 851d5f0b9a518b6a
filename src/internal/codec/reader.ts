import { VARINT_UNSAFE } from "./varint.js"

/**
 * A cursor over a `Uint8Array` that never throws and never allocates per field.
 *
 * Reading past the end sets the sticky {@link BufferReader.failed} flag and
 * yields zeros (or an empty view), so a decoder can read a whole structure and
 * check once at the end; loops driven by a count read from the wire must also
 * stop as soon as `failed` is set.
 */
export class BufferReader {
  bytes: Uint8Array
  offset: number
  end: number
  failed = false

  constructor(bytes: Uint8Array, offset = 0, end = bytes.length) {
    this.bytes = bytes
    this.offset = offset
    this.end = end
  }

  /** Points the reader at a new region, clearing the failure flag. */
  reset(bytes: Uint8Array, offset = 0, end = bytes.length): this {
    this.bytes = bytes
    this.offset = offset
    this.end = end
    this.failed = false
    return this
  }

  get remaining(): number {
    return this.end - this.offset
  }

  private underflow(): 0 {
    this.failed = true
    this.offset = this.end
    return 0
  }

  u8(): number {
    if (this.offset + 1 > this.end) return this.underflow()
    return this.bytes[this.offset++]!
  }

  u16(): number {
    if (this.offset + 2 > this.end) return this.underflow()
    const b = this.bytes
    const o = this.offset
    this.offset = o + 2
    return (b[o]! << 8) | b[o + 1]!
  }

  u24(): number {
    if (this.offset + 3 > this.end) return this.underflow()
    const b = this.bytes
    const o = this.offset
    this.offset = o + 3
    return (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!
  }

  u32(): number {
    if (this.offset + 4 > this.end) return this.underflow()
    const b = this.bytes
    const o = this.offset
    this.offset = o + 4
    return ((b[o]! << 24) >>> 0) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!)
  }

  /** A big-endian unsigned integer of 1 to 4 bytes. */
  uint(length: number): number {
    if (this.offset + length > this.end) return this.underflow()
    let value = 0
    for (let i = 0; i < length; i++) value = value * 256 + this.bytes[this.offset++]!
    return value
  }

  /** A view (no copy) of the next `length` bytes. */
  bytesView(length: number): Uint8Array {
    if (length < 0 || this.offset + length > this.end) {
      this.underflow()
      return this.bytes.subarray(this.end, this.end)
    }
    const view = this.bytes.subarray(this.offset, this.offset + length)
    this.offset += length
    return view
  }

  skip(length: number): void {
    if (length < 0 || this.offset + length > this.end) this.underflow()
    else this.offset += length
  }

  /**
   * RFC 9000 §16 varint as a `number`. Returns {@link VARINT_UNSAFE} (-1) for a
   * value above 2^53-1 so the caller can apply the error its field calls for.
   */
  varint(): number {
    if (this.offset >= this.end) return this.underflow()
    const b = this.bytes
    const o = this.offset
    const first = b[o]!
    switch (first >> 6) {
      case 0:
        this.offset = o + 1
        return first
      case 1:
        if (o + 2 > this.end) return this.underflow()
        this.offset = o + 2
        return ((first & 0x3f) << 8) | b[o + 1]!
      case 2:
        if (o + 4 > this.end) return this.underflow()
        this.offset = o + 4
        return (first & 0x3f) * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!)
      default: {
        if (o + 8 > this.end) return this.underflow()
        this.offset = o + 8
        const high = (first & 0x3f) * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!)
        // 2^53 = 2^21 * 2^32: a high word of 2^21 or more cannot be held exactly.
        if (high >= 0x200000) return VARINT_UNSAFE
        return high * 0x100000000 + (((b[o + 4]! << 24) >>> 0) + ((b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!))
      }
    }
  }

  /** RFC 9000 §16 varint, exact over the whole 62-bit range. */
  varintBig(): bigint {
    const first = this.offset < this.end ? this.bytes[this.offset]! : 0
    if (first >> 6 !== 3) {
      const value = this.varint()
      return BigInt(value)
    }
    if (this.offset + 8 > this.end) return BigInt(this.underflow())
    const o = this.offset
    const b = this.bytes
    this.offset = o + 8
    const high = (first & 0x3f) * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!)
    const low = ((b[o + 4]! << 24) >>> 0) + ((b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!)
    return (BigInt(high) << 32n) | BigInt(low)
  }
}
