/**
 * The perf protocol (quinn's `perf`, ALPN `perf`): each request is a
 * bidirectional stream carrying an 8-byte big-endian count of the bytes
 * wanted back, then any upload, then FIN; the answer is that many bytes.
 * `quic-perf server` sends byte `i & 0xff` at offset `i`.
 */

export const PERF_ALPN = "perf"

/** The request header: the download size, u64 big-endian. */
export const REQUEST_HEADER_LENGTH = 8

/** RESET_STREAM code for a stream that ended before its 8-byte header. */
export const INCOMPLETE_REQUEST = 1

export const encodeRequest = (download: number): Uint8Array => {
  const header = new Uint8Array(REQUEST_HEADER_LENGTH)
  new DataView(header.buffer).setBigUint64(0, BigInt(download))
  return header
}

export const decodeRequest = (header: Uint8Array): bigint => new DataView(header.buffer, header.byteOffset, 8).getBigUint64(0)

/**
 * 64 KiB of the response pattern. Its length is a multiple of 256, so every
 * chunk that starts at a multiple of its length is this same buffer, which
 * is never mutated and can be written again and again.
 */
export const PATTERN_CHUNK: Uint8Array = Uint8Array.from({ length: 64 * 1024 }, (_, i) => i & 0xff)

/** Upload bytes: zeros, shared and never mutated. */
export const ZERO_CHUNK = new Uint8Array(64 * 1024)

/** Whether `chunk`, found at `offset` of a response, follows the pattern. */
export const followsPattern = (chunk: Uint8Array, offset: number): boolean => {
  let expected = offset & 0xff
  for (let i = 0; i < chunk.length; i++) {
    if (chunk[i] !== expected) return false
    expected = (expected + 1) & 0xff
  }
  return true
}
