import { decodeError, type TlsAlert } from "./alert.js"
import type { HandshakeMessage } from "./messages.js"

/**
 * RFC 8446 §4: handshake messages arrive as a byte stream per encryption
 * level and may be split across CRYPTO frames. This cuts complete messages
 * out of it, refusing any message larger than `maxMessageSize` so that a
 * peer cannot make us buffer without bound.
 */
const EMPTY = new Uint8Array(0)

export class HandshakeFramer {
  private buffer = EMPTY

  constructor(private readonly maxMessageSize: number) {}

  get buffered(): number {
    return this.buffer.length
  }

  push(data: Uint8Array): void {
    if (this.buffer.length === 0) {
      this.buffer = data.slice()
      return
    }
    const joined = new Uint8Array(this.buffer.length + data.length)
    joined.set(this.buffer)
    joined.set(data, this.buffer.length)
    this.buffer = joined
  }

  /** The next complete message, `undefined` when more bytes are needed, or an alert for an oversized one. */
  next(): HandshakeMessage | undefined | TlsAlert {
    const b = this.buffer
    if (b.length < 4) return undefined
    const length = (b[1]! << 16) | (b[2]! << 8) | b[3]!
    if (length > this.maxMessageSize) return decodeError(`handshake message of ${length} bytes`)
    if (b.length < 4 + length) return undefined
    const raw = b.subarray(0, 4 + length)
    // An empty view would still hold the bytes just framed: drop them once consumed.
    this.buffer = b.length === 4 + length ? EMPTY : b.subarray(4 + length)
    return { type: b[0]!, body: raw.subarray(4), raw }
  }
}
