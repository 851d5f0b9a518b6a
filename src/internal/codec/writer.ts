import { VARINT_MAX } from "./varint.js"

/**
 * A cursor that writes into a caller-supplied `Uint8Array`.
 *
 * Encoders size their output first (every encoder has a length function), so
 * running out of room or passing a value outside a field's range is a bug in
 * the caller, reported by throwing {@link EncodeOverflow}; it is never caused
 * by bytes received from a peer.
 */
export class BufferWriter {
  bytes: Uint8Array
  offset: number

  constructor(bytes: Uint8Array, offset = 0) {
    this.bytes = bytes
    this.offset = offset
  }

  reset(bytes: Uint8Array, offset = 0): this {
    this.bytes = bytes
    this.offset = offset
    return this
  }

  get remaining(): number {
    return this.bytes.length - this.offset
  }

  private reserve(length: number): number {
    const o = this.offset
    if (o + length > this.bytes.length) throw new EncodeOverflow(`need ${length} bytes, ${this.remaining} left`)
    this.offset = o + length
    return o
  }

  u8(value: number): void {
    this.bytes[this.reserve(1)] = value
  }

  u16(value: number): void {
    const o = this.reserve(2)
    this.bytes[o] = value >>> 8
    this.bytes[o + 1] = value
  }

  u24(value: number): void {
    const o = this.reserve(3)
    this.bytes[o] = value >>> 16
    this.bytes[o + 1] = value >>> 8
    this.bytes[o + 2] = value
  }

  u32(value: number): void {
    const o = this.reserve(4)
    this.bytes[o] = value >>> 24
    this.bytes[o + 1] = value >>> 16
    this.bytes[o + 2] = value >>> 8
    this.bytes[o + 3] = value
  }

  /** A big-endian unsigned integer of 1 to 4 bytes (the low bytes of `value`). */
  uint(value: number, length: number): void {
    const o = this.reserve(length)
    for (let i = length - 1; i >= 0; i--) {
      this.bytes[o + i] = value & 0xff
      value = Math.floor(value / 256)
    }
  }

  bytesFrom(source: Uint8Array): void {
    this.bytes.set(source, this.reserve(source.length))
  }

  zeros(length: number): void {
    const o = this.reserve(length)
    this.bytes.fill(0, o, o + length)
  }

  /** RFC 9000 §16, shortest encoding. `value` must be a safe non-negative integer. */
  varint(value: number): void {
    if (!(value >= 0) || !Number.isSafeInteger(value)) throw new EncodeOverflow(`not a varint: ${value}`)
    if (value < 0x40) this.u8(value)
    else if (value < 0x4000) this.u16(0x4000 | value)
    else if (value < 0x40000000) this.u32((0x80000000 | value) >>> 0)
    else {
      const high = Math.floor(value / 0x100000000)
      this.u32((0xc0000000 | high) >>> 0)
      this.u32(value >>> 0)
    }
  }

  /** RFC 9000 §16 with a fixed encoded length (1, 2, 4 or 8), e.g. for a Length field filled in later. */
  varintWithLength(value: number, length: 1 | 2 | 4 | 8): void {
    if (!(value >= 0) || !Number.isSafeInteger(value) || (length < 8 && value >= 2 ** (length * 8 - 2))) {
      throw new EncodeOverflow(`${value} does not fit a ${length}-byte varint`)
    }
    switch (length) {
      case 1:
        return this.u8(value)
      case 2:
        return this.u16(0x4000 | value)
      case 4:
        return this.u32((0x80000000 | value) >>> 0)
      case 8:
        this.u32((0xc0000000 | Math.floor(value / 0x100000000)) >>> 0)
        return this.u32(value >>> 0)
    }
  }

  /** RFC 9000 §16, shortest encoding, exact over 0..2^62-1. */
  varintBig(value: bigint): void {
    if (value < 0n || value > VARINT_MAX) throw new EncodeOverflow(`not a varint: ${value}`)
    if (value < 0x40000000n) return this.varint(Number(value))
    this.u32(Number((value >> 32n) | 0xc0000000n))
    this.u32(Number(value & 0xffffffffn))
  }
}

/** A programming error: an encoder was given too little room or an out-of-range value. */
export class EncodeOverflow extends Error {
  override readonly name = "EncodeOverflow"
}
