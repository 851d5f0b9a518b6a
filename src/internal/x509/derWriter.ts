/**
 * A small DER writer (X.690 §8, §10) for the certificates this package makes
 * (self-signed ones for servers started without a certificate) and for
 * crafted structures in tests. Every function returns the complete TLV
 * encoding, so structures compose by nesting calls:
 * `seq(oid("1.2.3"), nullValue())`.
 *
 * It throws on nonsensical input (programming errors, never peer input) and
 * makes no effort to be fast: nothing here is on a packet path.
 */
import { concatBytes } from "../codec/bytes.js"

export const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => concatBytes(parts)

/** The definite-length encoding in its shortest form (X.690 §10.1). */
export const encodeLength = (length: number): Uint8Array => {
  if (length < 0x80) return Uint8Array.of(length)
  const bytes: Array<number> = []
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff)
  return Uint8Array.of(0x80 | bytes.length, ...bytes)
}

/** Any TLV with a single identifier octet. */
export const tlv = (tag: number, ...contents: ReadonlyArray<Uint8Array>): Uint8Array => {
  const body = concat(...contents)
  return concat(Uint8Array.of(tag), encodeLength(body.length), body)
}

export const seq = (...items: ReadonlyArray<Uint8Array>): Uint8Array => tlv(0x30, ...items)
export const set = (...items: ReadonlyArray<Uint8Array>): Uint8Array => tlv(0x31, ...items)

/** A context-specific EXPLICIT tag `[n]` around complete encodings (constructed). */
export const explicit = (n: number, ...items: ReadonlyArray<Uint8Array>): Uint8Array => tlv(0xa0 | n, ...items)

/** A context-specific IMPLICIT tag `[n]` on raw contents: primitive by default, constructed when asked. */
export const implicit = (n: number, contents: Uint8Array, constructed = false): Uint8Array =>
  tlv(0x80 | (constructed ? 0x20 : 0) | n, contents)

/** The contents of a SEQUENCE/SET encoding (to re-tag it IMPLICIT). */
export const contentsOf = (encoding: Uint8Array): Uint8Array => {
  const first = encoding[1]!
  const headerLength = first < 0x80 ? 2 : 2 + (first & 0x7f)
  return encoding.subarray(headerLength)
}

/** An INTEGER from a non-negative number/bigint, or from raw two's-complement contents. */
export const integer = (value: number | bigint | Uint8Array): Uint8Array => {
  if (value instanceof Uint8Array) return tlv(0x02, value)
  let n = BigInt(value)
  if (n < 0n) throw new Error("integer: negative values need raw contents")
  const bytes: Array<number> = []
  do {
    bytes.unshift(Number(n & 0xffn))
    n >>= 8n
  } while (n > 0n)
  if (bytes[0]! >= 0x80) bytes.unshift(0)
  return tlv(0x02, Uint8Array.from(bytes))
}

/** An unsigned big-endian magnitude as a positive INTEGER (adds the sign octet when needed). */
export const unsignedInteger = (magnitude: Uint8Array): Uint8Array => {
  let start = 0
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++
  const trimmed = magnitude.subarray(start)
  return tlv(0x02, trimmed[0]! >= 0x80 ? concat(Uint8Array.of(0), trimmed) : trimmed)
}

export const boolean = (value: boolean): Uint8Array => tlv(0x01, Uint8Array.of(value ? 0xff : 0x00))
export const nullValue = (): Uint8Array => Uint8Array.of(0x05, 0x00)
export const octetString = (contents: Uint8Array): Uint8Array => tlv(0x04, contents)
export const bitString = (contents: Uint8Array, unusedBits = 0): Uint8Array => tlv(0x03, Uint8Array.of(unusedBits), contents)

export const oid = (dotted: string): Uint8Array => {
  const arcs = dotted.split(".").map((a) => BigInt(a))
  const first = arcs[0]! * 40n + arcs[1]!
  const body: Array<number> = []
  for (const arc of [first, ...arcs.slice(2)]) {
    const chunk: Array<number> = []
    let n = arc
    do {
      chunk.unshift(Number(n & 0x7fn))
      n >>= 7n
    } while (n > 0n)
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80
    body.push(...chunk)
  }
  return tlv(0x06, Uint8Array.from(body))
}

const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0))

export const utf8String = (text: string): Uint8Array => tlv(0x0c, new TextEncoder().encode(text))
export const printableString = (text: string): Uint8Array => tlv(0x13, ascii(text))
export const ia5String = (text: string): Uint8Array => tlv(0x16, ascii(text))

const two = (n: number): string => String(n).padStart(2, "0")

/** UTCTime `YYMMDDHHMMSSZ` (years 1950-2049, RFC 5280 §4.1.2.5.1). */
export const utcTime = (unixMillis: number): Uint8Array => {
  const d = new Date(unixMillis)
  const text = `${two(d.getUTCFullYear() % 100)}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`
  return tlv(0x17, ascii(text))
}

/** GeneralizedTime `YYYYMMDDHHMMSSZ` (RFC 5280 §4.1.2.5.2). */
export const generalizedTime = (unixMillis: number): Uint8Array => {
  const d = new Date(unixMillis)
  const text = `${String(d.getUTCFullYear()).padStart(4, "0")}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`
  return tlv(0x18, ascii(text))
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
export const x509Time = (unixMillis: number): Uint8Array => {
  const year = new Date(unixMillis).getUTCFullYear()
  return year >= 1950 && year < 2050 ? utcTime(unixMillis) : generalizedTime(unixMillis)
}
