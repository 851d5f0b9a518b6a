/**
 * A reader for the subset of DER (ITU-T X.690 §8, §10) that X.509 uses.
 *
 * Certificates and keys arrive from the network and from configuration files,
 * so nothing here throws on bad input. A {@link DerReader} has a sticky error
 * (like `BufferReader.failed` in codec/reader.ts): the first problem is
 * recorded, every later read returns an empty value, and the caller checks
 * once at the end. Readers for nested constructions share their parent's
 * error, so one check at the top covers the whole structure.
 *
 * Only definite lengths in their shortest form are accepted (X.690 §10.1),
 * because signatures are computed over the exact DER bytes: two encodings of
 * one value must not both be accepted.
 */

/** A parse failure: the bytes are not valid DER / X.509, or use something this stack does not support. */
export interface X509Error {
  readonly _tag: "X509Error"
  /** "malformed": not valid DER or not the expected structure; "unsupported": valid but not handled (e.g. an unknown key algorithm). */
  readonly kind: "malformed" | "unsupported"
  /** Human-readable, names the field and, for unsupported algorithms, the OID. */
  readonly reason: string
}

export const x509Error = (reason: string, kind: X509Error["kind"] = "malformed"): X509Error => ({
  _tag: "X509Error",
  kind,
  reason
})

export const isX509Error = (value: unknown): value is X509Error =>
  typeof value === "object" && value !== null && (value as { _tag?: unknown })._tag === "X509Error"

/** Universal tags (X.690 §8, X.680 §8.4) as full identifier octets, constructed bit included where DER requires it. */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8String: 0x0c,
  PrintableString: 0x13,
  TeletexString: 0x14,
  IA5String: 0x16,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
  UniversalString: 0x1c,
  BMPString: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31
} as const

/** The identifier octet of a context-specific tag `[n]` (X.690 §8.1.2), n < 31. */
export const contextTag = (n: number, constructed: boolean): number => 0x80 | (constructed ? 0x20 : 0) | n

/** One TLV. Both fields are views into the input (no copies). */
export interface DerElement {
  /** The identifier octet; -1 for the empty element returned after a failure. */
  readonly tag: number
  /** The whole encoding: identifier, length and contents. */
  readonly bytes: Uint8Array
  /** The contents octets. */
  readonly contents: Uint8Array
}

const EMPTY_BYTES = new Uint8Array(0)
const EMPTY_ELEMENT: DerElement = { tag: -1, bytes: EMPTY_BYTES, contents: EMPTY_BYTES }

/** Lengths above this are refused outright (no certificate or key comes close). */
const MAX_LENGTH_OCTETS = 4

interface ErrorState {
  error: X509Error | undefined
}

/** A cursor over a run of DER elements with a sticky, shared error. */
export class DerReader {
  private offset: number
  private readonly state: ErrorState

  constructor(
    private readonly bytes: Uint8Array,
    offset = 0,
    private readonly end = bytes.length,
    state?: ErrorState
  ) {
    this.offset = offset
    this.state = state ?? { error: undefined }
  }

  get failed(): boolean {
    return this.state.error !== undefined
  }

  get error(): X509Error | undefined {
    return this.state.error
  }

  /** Records a failure (the first one wins) and stops all further reading. */
  fail(reason: string, kind: X509Error["kind"] = "malformed"): void {
    if (this.state.error === undefined) this.state.error = x509Error(reason, kind)
    this.offset = this.end
  }

  /** True when every element has been read (or reading has failed). */
  get atEnd(): boolean {
    return this.failed || this.offset >= this.end
  }

  /** The identifier octet of the next element, or -1 at the end or after a failure. */
  peekTag(): number {
    return this.atEnd ? -1 : this.bytes[this.offset]!
  }

  /** Reads the next element, whatever its tag. */
  element(what: string): DerElement {
    if (this.atEnd) {
      this.fail(`${what}: missing`)
      return EMPTY_ELEMENT
    }
    const start = this.offset
    const bytes = this.bytes
    const tag = bytes[start]!
    // X.690 §8.1.2.4: tag numbers of 31 and above use further octets. Nothing
    // in X.509 needs them, so they are refused rather than skipped.
    if ((tag & 0x1f) === 0x1f) {
      this.fail(`${what}: high tag numbers are not supported`)
      return EMPTY_ELEMENT
    }
    let p = start + 1
    if (p >= this.end) {
      this.fail(`${what}: truncated length`)
      return EMPTY_ELEMENT
    }
    const first = bytes[p++]!
    let length: number
    if (first < 0x80) {
      length = first
    } else if (first === 0x80) {
      // X.690 §10.1: DER uses the definite form only.
      this.fail(`${what}: indefinite length`)
      return EMPTY_ELEMENT
    } else {
      const count = first & 0x7f
      if (count > MAX_LENGTH_OCTETS) {
        this.fail(`${what}: length too large`)
        return EMPTY_ELEMENT
      }
      if (p + count > this.end) {
        this.fail(`${what}: truncated length`)
        return EMPTY_ELEMENT
      }
      length = 0
      for (let i = 0; i < count; i++) length = length * 256 + bytes[p++]!
      // X.690 §10.1: the minimum number of octets; below 128 the short form.
      if (length < 0x80 || (count > 1 && bytes[p - count] === 0)) {
        this.fail(`${what}: non-minimal length`)
        return EMPTY_ELEMENT
      }
    }
    if (length > this.end - p) {
      this.fail(`${what}: length exceeds the available data`)
      return EMPTY_ELEMENT
    }
    this.offset = p + length
    return { tag, bytes: bytes.subarray(start, p + length), contents: bytes.subarray(p, p + length) }
  }

  /** Reads the next element, which must have identifier octet `tag`. */
  expect(tag: number, what: string): DerElement {
    const next = this.peekTag()
    if (next !== tag) {
      if (!this.failed) this.fail(next === -1 ? `${what}: missing` : `${what}: unexpected tag 0x${next.toString(16)}`)
      return EMPTY_ELEMENT
    }
    return this.element(what)
  }

  /** Reads the next element only if its identifier octet is `tag` (an OPTIONAL or DEFAULT field). */
  optional(tag: number, what: string): DerElement | undefined {
    return this.peekTag() === tag ? this.element(what) : undefined
  }

  /** A reader over the contents of `element`, sharing this reader's error. */
  enterElement(element: DerElement): DerReader {
    return this.nested(element.contents)
  }

  /** A reader over `bytes` (e.g. DER wrapped in an OCTET STRING or BIT STRING), sharing this reader's error. */
  nested(bytes: Uint8Array): DerReader {
    return new DerReader(bytes, 0, bytes.length, this.state)
  }

  /** Reads a constructed element with identifier `tag` (SEQUENCE by default) and returns a reader over its contents. */
  enter(what: string, tag: number = Tag.SEQUENCE): DerReader {
    return this.enterElement(this.expect(tag, what))
  }

  /** Fails unless every element has been consumed: trailing data inside a structure is malformed. */
  finish(what: string): void {
    if (!this.atEnd) this.fail(`${what}: unexpected trailing data`)
  }

  /** An INTEGER's two's-complement contents, checked for minimal encoding (X.690 §8.3.2). */
  integer(what: string): Uint8Array {
    const c = this.expect(Tag.INTEGER, what).contents
    if (this.failed) return EMPTY_BYTES
    if (c.length === 0) {
      this.fail(`${what}: empty INTEGER`)
      return EMPTY_BYTES
    }
    if (c.length > 1 && ((c[0] === 0x00 && c[1]! < 0x80) || (c[0] === 0xff && c[1]! >= 0x80))) {
      this.fail(`${what}: non-minimal INTEGER`)
      return EMPTY_BYTES
    }
    return c
  }

  /** A non-negative INTEGER as big-endian magnitude bytes (the sign octet removed). */
  unsignedInteger(what: string): Uint8Array {
    const c = this.integer(what)
    if (this.failed) return EMPTY_BYTES
    if (c[0]! >= 0x80) {
      this.fail(`${what}: negative INTEGER`)
      return EMPTY_BYTES
    }
    return c.length > 1 && c[0] === 0 ? c.subarray(1) : c
  }

  /** A non-negative INTEGER no larger than `max` (versions, path lengths, salt lengths). */
  smallInteger(what: string, max: number): number {
    const c = this.unsignedInteger(what)
    if (this.failed) return 0
    if (c.length > 6) {
      this.fail(`${what}: INTEGER out of range`)
      return 0
    }
    let value = 0
    for (let i = 0; i < c.length; i++) value = value * 256 + c[i]!
    if (value > max) {
      this.fail(`${what}: INTEGER out of range`)
      return 0
    }
    return value
  }

  /** An OBJECT IDENTIFIER in dotted form (X.690 §8.19). */
  oid(what: string): string {
    const c = this.expect(Tag.OID, what).contents
    if (this.failed) return ""
    const dotted = oidToString(c)
    if (dotted === undefined) {
      this.fail(`${what}: malformed OBJECT IDENTIFIER`)
      return ""
    }
    return dotted
  }

  /** A BOOLEAN; DER allows only 0x00 and 0xFF (X.690 §11.1). */
  boolean(what: string): boolean {
    const c = this.expect(Tag.BOOLEAN, what).contents
    if (this.failed) return false
    if (c.length !== 1 || (c[0] !== 0x00 && c[0] !== 0xff)) {
      this.fail(`${what}: malformed BOOLEAN`)
      return false
    }
    return c[0] === 0xff
  }

  /** A NULL (X.690 §8.8: no contents). */
  null(what: string): void {
    const c = this.expect(Tag.NULL, what).contents
    if (!this.failed && c.length !== 0) this.fail(`${what}: malformed NULL`)
  }

  /** An OCTET STRING's contents (primitive only: DER forbids the constructed form, X.690 §10.2). */
  octetString(what: string): Uint8Array {
    return this.expect(Tag.OCTET_STRING, what).contents
  }

  /**
   * A BIT STRING (X.690 §8.6) as its data octets and the count of unused bits
   * in the last octet. DER requires those unused bits to be zero (§11.2.1).
   */
  bitString(what: string): { readonly bytes: Uint8Array; readonly unusedBits: number } {
    const c = this.expect(Tag.BIT_STRING, what).contents
    if (this.failed) return { bytes: EMPTY_BYTES, unusedBits: 0 }
    const unusedBits = c[0] ?? 8
    if (unusedBits > 7 || (c.length === 1 && unusedBits !== 0)) {
      this.fail(`${what}: malformed BIT STRING`)
      return { bytes: EMPTY_BYTES, unusedBits: 0 }
    }
    if (unusedBits > 0 && (c[c.length - 1]! & ((1 << unusedBits) - 1)) !== 0) {
      this.fail(`${what}: BIT STRING padding bits are not zero`)
      return { bytes: EMPTY_BYTES, unusedBits: 0 }
    }
    return { bytes: c.subarray(1), unusedBits }
  }

  /** A BIT STRING that must be a whole number of octets (keys and signatures). */
  octetAlignedBitString(what: string): Uint8Array {
    const { bytes, unusedBits } = this.bitString(what)
    if (unusedBits !== 0) this.fail(`${what}: BIT STRING is not octet-aligned`)
    return bytes
  }

  /**
   * A `Time` (RFC 5280 §4.1.2.5): UTCTime or GeneralizedTime, as Unix
   * milliseconds. Both must be in UTC ("Z") with seconds and without
   * fractions (§4.1.2.5.1, §4.1.2.5.2).
   */
  time(what: string): number {
    const tag = this.peekTag()
    if (tag !== Tag.UTCTime && tag !== Tag.GeneralizedTime) {
      this.expect(Tag.UTCTime, what)
      return 0
    }
    const c = this.element(what).contents
    if (this.failed) return 0
    const value = parseTime(c, tag === Tag.UTCTime)
    if (value === undefined) {
      this.fail(`${what}: malformed time`)
      return 0
    }
    return value
  }
}

/**
 * Runs `parse` over `bytes`, which must hold exactly what `parse` reads (no
 * trailing data), and returns its result or the first failure.
 */
export const parseDer = <A>(bytes: Uint8Array, what: string, parse: (reader: DerReader) => A): A | X509Error => {
  const reader = new DerReader(bytes)
  const result = parse(reader)
  reader.finish(what)
  return reader.error ?? result
}

/**
 * The dotted form of an OBJECT IDENTIFIER's contents (X.690 §8.19), or
 * `undefined` when malformed: empty, a truncated subidentifier, or one with a
 * leading 0x80 octet (not minimal, §8.19.2).
 */
export const oidToString = (contents: Uint8Array): string | undefined => {
  if (contents.length === 0) return undefined
  const arcs: Array<string> = []
  let i = 0
  while (i < contents.length) {
    if (contents[i] === 0x80) return undefined
    let small = 0
    let big: bigint | undefined
    for (;;) {
      if (i >= contents.length) return undefined
      const b = contents[i++]!
      if (big !== undefined) big = (big << 7n) | BigInt(b & 0x7f)
      else if (small >= 2 ** 45) big = (BigInt(small) << 7n) | BigInt(b & 0x7f)
      else small = small * 128 + (b & 0x7f)
      if ((b & 0x80) === 0) break
    }
    if (arcs.length === 0) {
      // §8.19.4: the first subidentifier packs the first two arcs as 40*X+Y.
      if (big !== undefined) arcs.push("2", (big - 80n).toString())
      else if (small < 40) arcs.push("0", String(small))
      else if (small < 80) arcs.push("1", String(small - 40))
      else arcs.push("2", String(small - 80))
    } else {
      arcs.push(big !== undefined ? big.toString() : String(small))
    }
  }
  return arcs.join(".")
}

const digits = (c: Uint8Array, from: number, count: number): number => {
  let value = 0
  for (let i = from; i < from + count; i++) {
    const d = c[i]! - 0x30
    if (d < 0 || d > 9) return -1
    value = value * 10 + d
  }
  return value
}

/** Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's days_from_civil). */
const daysFromCivil = (year: number, month: number, day: number): number => {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

/**
 * Unix milliseconds as `YYYY-MM-DDTHH:MM:SSZ`, for messages (H. Hinnant's
 * civil_from_days; no `Date`, so the core stays free of clock APIs).
 */
export const formatUnixMillis = (unixMillis: number): string => {
  if (!Number.isFinite(unixMillis)) return String(unixMillis)
  const seconds = Math.floor(unixMillis / 1000)
  const days = Math.floor(seconds / 86400)
  const secondOfDay = seconds - days * 86400
  const z = days + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  const two = (n: number): string => String(n).padStart(2, "0")
  return `${String(year).padStart(4, "0")}-${two(month)}-${two(day)}T${two(Math.floor(secondOfDay / 3600))}:${
    two(Math.floor(secondOfDay / 60) % 60)
  }:${two(secondOfDay % 60)}Z`
}

const daysInMonth = (year: number, month: number): number => {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

/** Parses `YYMMDDHHMMSSZ` (UTCTime) or `YYYYMMDDHHMMSSZ` (GeneralizedTime) to Unix milliseconds. */
const parseTime = (c: Uint8Array, utc: boolean): number | undefined => {
  const yearDigits = utc ? 2 : 4
  if (c.length !== yearDigits + 11 || c[c.length - 1] !== 0x5a /* Z */) return undefined
  let year = digits(c, 0, yearDigits)
  // RFC 5280 §4.1.2.5.1: UTCTime YY >= 50 is 19YY, YY < 50 is 20YY.
  if (utc && year >= 0) year += year >= 50 ? 1900 : 2000
  const p = yearDigits
  const month = digits(c, p, 2)
  const day = digits(c, p + 2, 2)
  const hour = digits(c, p + 4, 2)
  const minute = digits(c, p + 6, 2)
  const second = digits(c, p + 8, 2)
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined
  return ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60_000 + second * 1000
}

/** An AlgorithmIdentifier (RFC 5280 §4.1.1.2): the OID and the optional parameters element. */
export interface AlgorithmIdentifier {
  readonly oid: string
  readonly parameters: DerElement | undefined
  /** The whole encoding, for comparing two identifiers (RFC 5280 §4.1.1.2). */
  readonly bytes: Uint8Array
}

/** Reads `AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }`. */
export const readAlgorithmIdentifier = (reader: DerReader, what: string): AlgorithmIdentifier => {
  const element = reader.expect(Tag.SEQUENCE, what)
  const inner = reader.enterElement(element)
  const oid = inner.oid(`${what} algorithm`)
  const parameters = inner.atEnd ? undefined : inner.element(`${what} parameters`)
  inner.finish(what)
  return { oid, parameters, bytes: element.bytes }
}

/** Whether an AlgorithmIdentifier's parameters are absent or NULL (the two forms seen for RSA and hash OIDs). */
export const parametersAbsentOrNull = (parameters: DerElement | undefined): boolean =>
  parameters === undefined || (parameters.tag === Tag.NULL && parameters.contents.length === 0)
