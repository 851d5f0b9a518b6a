import { BufferReader } from "../codec/reader.js"
import type { BufferWriter } from "../codec/writer.js"
import { MAX_CONNECTION_ID_LENGTH } from "../frame/types.js"
import { packetDropped, type PacketDropped } from "./dropped.js"
import { longPacketType, type QuicVersion, versionByNumber } from "./version.js"

/**
 * Packet headers as read before header protection is removed (RFC 9000 §17).
 * The packet-number length, key phase and reserved bits are protected, so
 * they are learned later, from the unprotected first byte.
 *
 * Offsets are relative to the datagram; connection IDs and tokens are views
 * into it (no copies).
 */
export type PacketHeader = LongHeader | ShortHeader | RetryHeader | VersionNegotiationHeader | UnsupportedVersionHeader

/** Initial, 0-RTT or Handshake (RFC 9000 §17.2.2–§17.2.4). */
export interface LongHeader {
  readonly form: "long"
  readonly type: "initial" | "0rtt" | "handshake"
  readonly version: QuicVersion
  readonly dcid: Uint8Array
  readonly scid: Uint8Array
  /** The Initial token; empty for other types. */
  readonly token: Uint8Array
  readonly start: number
  readonly pnOffset: number
  /** Where this packet ends: the pn offset plus the Length field. */
  readonly end: number
}

/** A 1-RTT packet (RFC 9000 §17.3.1). */
export interface ShortHeader {
  readonly form: "short"
  readonly dcid: Uint8Array
  /** The spin bit is not header-protected (RFC 9000 §17.3.1). */
  readonly spin: boolean
  readonly start: number
  readonly pnOffset: number
  readonly end: number
}

/** RFC 9000 §17.2.5. */
export interface RetryHeader {
  readonly form: "retry"
  readonly version: QuicVersion
  readonly dcid: Uint8Array
  readonly scid: Uint8Array
  readonly token: Uint8Array
  readonly integrityTag: Uint8Array
  readonly start: number
  readonly end: number
}

/** RFC 9000 §17.2.1. */
export interface VersionNegotiationHeader {
  readonly form: "version-negotiation"
  readonly dcid: Uint8Array
  readonly scid: Uint8Array
  readonly versions: ReadonlyArray<number>
  readonly start: number
  readonly end: number
}

/**
 * A long header of a version we do not speak: only the version-independent
 * fields (RFC 8999 §5.1) are read, enough to answer with Version Negotiation.
 */
export interface UnsupportedVersionHeader {
  readonly form: "unsupported-version"
  readonly version: number
  readonly dcid: Uint8Array
  readonly scid: Uint8Array
  readonly start: number
  readonly end: number
}

const FORM_BIT = 0x80
const FIXED_BIT = 0x40
const RETRY_TAG_LENGTH = 16

const EMPTY = new Uint8Array(0)
const reader = new BufferReader(EMPTY)

/**
 * Reads the header of the packet starting at `offset` in `datagram`.
 * `localCidLength` is the length of the connection IDs this endpoint issues,
 * needed because short headers do not carry it.
 */
export const parsePacketHeader = (
  datagram: Uint8Array,
  offset: number,
  localCidLength: number
): PacketHeader | PacketDropped => {
  const r = reader.reset(datagram, offset)
  const first = r.u8()
  if (r.failed) return packetDropped("truncated")

  if ((first & FORM_BIT) === 0) {
    // RFC 9000 §17.3.1: packets with the fixed bit cleared are not QUIC v1/v2 packets.
    if ((first & FIXED_BIT) === 0) return packetDropped("fixed-bit-zero")
    const dcid = r.bytesView(localCidLength)
    if (r.failed) return packetDropped("truncated")
    return { form: "short", dcid, spin: (first & 0x20) !== 0, start: offset, pnOffset: r.offset, end: datagram.length }
  }

  const versionNumber = r.u32()
  // RFC 8999 §5.1: the version-independent long header allows 255-byte connection IDs.
  const dcid = r.bytesView(r.u8())
  const scid = r.bytesView(r.u8())
  if (r.failed) return packetDropped("truncated")

  if (versionNumber === 0) {
    const remaining = r.remaining
    if (remaining === 0 || remaining % 4 !== 0) return packetDropped("malformed-version-list")
    const versions: Array<number> = []
    while (r.remaining > 0) versions.push(r.u32())
    return { form: "version-negotiation", dcid, scid, versions, start: offset, end: datagram.length }
  }

  const version = versionByNumber(versionNumber)
  if (version === undefined) {
    return { form: "unsupported-version", version: versionNumber, dcid, scid, start: offset, end: datagram.length }
  }
  if (dcid.length > MAX_CONNECTION_ID_LENGTH || scid.length > MAX_CONNECTION_ID_LENGTH) return packetDropped("connection-id-too-long")
  if ((first & FIXED_BIT) === 0) return packetDropped("fixed-bit-zero")

  const type = longPacketType(version, (first >> 4) & 0x03)
  if (type === "retry") {
    const tokenLength = r.remaining - RETRY_TAG_LENGTH
    if (tokenLength < 0) return packetDropped("truncated")
    // RFC 9000 §17.2.5.2: a client MUST discard a Retry with an empty token.
    if (tokenLength === 0) return packetDropped("empty-retry-token")
    const token = r.bytesView(tokenLength)
    const integrityTag = r.bytesView(RETRY_TAG_LENGTH)
    return { form: "retry", version, dcid, scid, token, integrityTag, start: offset, end: datagram.length }
  }

  let token: Uint8Array = EMPTY
  if (type === "initial") {
    const tokenLength = r.varint()
    if (tokenLength < 0 || tokenLength > r.remaining) return packetDropped("length-exceeds-datagram")
    token = r.bytesView(tokenLength)
  }
  const length = r.varint()
  if (r.failed) return packetDropped("truncated")
  if (length < 0 || length > r.remaining) return packetDropped("length-exceeds-datagram")
  return { form: "long", type, version, dcid, scid, token, start: offset, pnOffset: r.offset, end: r.offset + length }
}

/** The size of the Length field that {@link writeLongHeader} reserves: a 2-byte varint. */
export const LONG_HEADER_LENGTH_FIELD = 2

/** Largest packet a 2-byte Length field can describe (packet number plus payload). */
export const MAX_LONG_HEADER_LENGTH = 0x3fff

/**
 * Writes an Initial, 0-RTT or Handshake header with a 2-byte Length field to
 * be filled in by {@link setLongHeaderLength} once the payload size is known.
 * Returns the offset of the Length field; the packet number follows it.
 */
export const writeLongHeader = (
  w: BufferWriter,
  version: QuicVersion,
  type: "initial" | "0rtt" | "handshake",
  dcid: Uint8Array,
  scid: Uint8Array,
  token: Uint8Array,
  truncatedPacketNumber: number,
  packetNumberLength: 1 | 2 | 3 | 4
): number => {
  w.u8(FORM_BIT | FIXED_BIT | (version.longTypeBits[type] << 4) | (packetNumberLength - 1))
  w.u32(version.number)
  w.u8(dcid.length)
  w.bytesFrom(dcid)
  w.u8(scid.length)
  w.bytesFrom(scid)
  if (type === "initial") {
    w.varint(token.length)
    w.bytesFrom(token)
  }
  const lengthOffset = w.offset
  w.u16(0x4000)
  w.uint(truncatedPacketNumber, packetNumberLength)
  return lengthOffset
}

/** Fills the 2-byte Length field reserved by {@link writeLongHeader}. */
export const setLongHeaderLength = (packet: Uint8Array, lengthOffset: number, length: number): void => {
  packet[lengthOffset] = 0x40 | (length >>> 8)
  packet[lengthOffset + 1] = length & 0xff
}

/** Writes a 1-RTT header (RFC 9000 §17.3.1) and returns the packet number's offset. */
export const writeShortHeader = (
  w: BufferWriter,
  dcid: Uint8Array,
  spin: boolean,
  keyPhase: 0 | 1,
  truncatedPacketNumber: number,
  packetNumberLength: 1 | 2 | 3 | 4
): number => {
  w.u8(FIXED_BIT | (spin ? 0x20 : 0) | (keyPhase << 2) | (packetNumberLength - 1))
  w.bytesFrom(dcid)
  const pnOffset = w.offset
  w.uint(truncatedPacketNumber, packetNumberLength)
  return pnOffset
}

/**
 * RFC 9000 §17.2.1: a Version Negotiation packet. `unused` supplies the seven
 * arbitrary bits of the first byte; the 0x40 bit is always set so QUIC can be
 * told apart when multiplexed with other protocols.
 */
export const encodeVersionNegotiation = (
  dcid: Uint8Array,
  scid: Uint8Array,
  versions: ReadonlyArray<number>,
  unused: number
): Uint8Array => {
  const out = new Uint8Array(7 + dcid.length + scid.length + 4 * versions.length)
  out[0] = FORM_BIT | FIXED_BIT | (unused & 0x3f)
  out[5] = dcid.length
  out.set(dcid, 6)
  out[6 + dcid.length] = scid.length
  out.set(scid, 7 + dcid.length)
  let o = 7 + dcid.length + scid.length
  for (const version of versions) {
    out[o++] = version >>> 24
    out[o++] = version >>> 16
    out[o++] = version >>> 8
    out[o++] = version
  }
  return out
}

/**
 * RFC 9000 §17.2 and §17.3.1: reserved bits that must be zero once header
 * protection is removed (a PROTOCOL_VIOLATION otherwise).
 */
export const reservedBits = (unprotectedFirstByte: number): number =>
  unprotectedFirstByte & ((unprotectedFirstByte & FORM_BIT) !== 0 ? 0x0c : 0x18)

/** The packet-number length encoded in an unprotected first byte. */
export const packetNumberLengthOf = (unprotectedFirstByte: number): 1 | 2 | 3 | 4 =>
  ((unprotectedFirstByte & 0x03) + 1) as 1 | 2 | 3 | 4

/** The key phase bit of an unprotected short header (RFC 9001 §6). */
export const keyPhaseOf = (unprotectedFirstByte: number): 0 | 1 => ((unprotectedFirstByte >> 2) & 1) as 0 | 1
