/**
 * A growable byte buffer for TLS messages, with nested length prefixes.
 * Handshake messages are built a few times per connection, not per packet,
 * so clarity wins over allocation here.
 */
export class ByteBuilder {
  private buffer = new Uint8Array(256)
  length = 0

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return
    let size = this.buffer.length * 2
    while (size < this.length + extra) size *= 2
    const grown = new Uint8Array(size)
    grown.set(this.buffer.subarray(0, this.length))
    this.buffer = grown
  }

  u8(value: number): this {
    this.ensure(1)
    this.buffer[this.length++] = value
    return this
  }

  u16(value: number): this {
    this.ensure(2)
    this.buffer[this.length++] = value >>> 8
    this.buffer[this.length++] = value
    return this
  }

  u24(value: number): this {
    this.ensure(3)
    this.buffer[this.length++] = value >>> 16
    this.buffer[this.length++] = value >>> 8
    this.buffer[this.length++] = value
    return this
  }

  u32(value: number): this {
    this.ensure(4)
    this.buffer[this.length++] = value >>> 24
    this.buffer[this.length++] = value >>> 16
    this.buffer[this.length++] = value >>> 8
    this.buffer[this.length++] = value
    return this
  }

  bytes(data: Uint8Array): this {
    this.ensure(data.length)
    this.buffer.set(data, this.length)
    this.length += data.length
    return this
  }

  /** Writes what `body` writes, preceded by its length on `prefixBytes` bytes (1, 2 or 3). */
  prefixed(prefixBytes: 1 | 2 | 3, body: (b: this) => void): this {
    this.ensure(prefixBytes)
    const at = this.length
    this.length += prefixBytes
    body(this)
    const size = this.length - at - prefixBytes
    if (size >= 2 ** (8 * prefixBytes)) throw new RangeError(`TLS vector of ${size} bytes exceeds its ${prefixBytes}-byte length`)
    for (let i = prefixBytes - 1, v = size; i >= 0; i--, v >>>= 8) this.buffer[at + i] = v & 0xff
    return this
  }

  /** A vector of bytes with a length prefix. */
  vector(prefixBytes: 1 | 2 | 3, data: Uint8Array): this {
    return this.prefixed(prefixBytes, (b) => b.bytes(data))
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length)
  }
}
