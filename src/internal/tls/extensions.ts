import { latin1Bytes, latin1String } from "../codec/bytes.js"
import { BufferReader } from "../codec/reader.js"
import { decodeError, type TlsAlert } from "./alert.js"
import { ByteBuilder } from "./builder.js"

/**
 * Typed bodies of the TLS 1.3 extensions QUIC uses (RFC 8446 §4.2, RFC 6066
 * §3, RFC 7301 §3.1, RFC 9001 §8.2). Each decoder reads a whole extension
 * body and returns a decode_error alert for anything malformed.
 */

const done = <A>(r: BufferReader, value: A, what: string): A | TlsAlert =>
  r.failed || r.remaining !== 0 ? decodeError(what) : value

/** Reads a list of u16 values behind a length prefix of `prefix` bytes. */
const readU16List = (r: BufferReader, prefix: 1 | 2): Array<number> | undefined => {
  const length = prefix === 1 ? r.u8() : r.u16()
  if (r.failed || length % 2 !== 0 || length > r.remaining) return undefined
  const values: Array<number> = []
  for (let i = 0; i < length; i += 2) values.push(r.u16())
  return values
}

const u16List = (values: ReadonlyArray<number>, prefix: 1 | 2): Uint8Array =>
  new ByteBuilder()
    .prefixed(prefix, (b) => {
      for (const v of values) b.u16(v)
    })
    .finish()

// server_name (RFC 6066 §3): a list holding one host_name.
export const encodeServerName = (host: string): Uint8Array =>
  new ByteBuilder().prefixed(2, (b) => b.u8(0).vector(2, latin1Bytes(host))).finish()

export const decodeServerName = (data: Uint8Array): string | undefined | TlsAlert => {
  const r = new BufferReader(data)
  const listEnd = r.u16() + 2
  let host: string | undefined
  while (!r.failed && r.offset < listEnd) {
    const type = r.u8()
    const name = r.bytesView(r.u16())
    if (type === 0 && host === undefined) host = latin1String(name)
  }
  return r.failed || r.offset !== listEnd || r.remaining !== 0 || host === "" ? decodeError("server_name") : host
}

// application_layer_protocol_negotiation (RFC 7301 §3.1).
export const encodeAlpn = (protocols: ReadonlyArray<string>): Uint8Array =>
  new ByteBuilder()
    .prefixed(2, (b) => {
      for (const p of protocols) b.vector(1, latin1Bytes(p))
    })
    .finish()

export const decodeAlpn = (data: Uint8Array): ReadonlyArray<string> | TlsAlert => {
  const r = new BufferReader(data)
  const end = r.u16() + 2
  const protocols: Array<string> = []
  while (!r.failed && r.offset < end) {
    const name = r.bytesView(r.u8())
    // RFC 7301 §3.1: empty protocol names are not allowed.
    if (name.length === 0) return decodeError("ALPN protocol name")
    protocols.push(latin1String(name))
  }
  if (protocols.length === 0 || r.offset !== end) return decodeError("ALPN")
  return done(r, protocols, "ALPN")
}

// supported_versions (RFC 8446 §4.2.1).
export const encodeSupportedVersionsClient = (versions: ReadonlyArray<number>): Uint8Array => u16List(versions, 1)
export const encodeSupportedVersionsServer = (version: number): Uint8Array => new ByteBuilder().u16(version).finish()

export const decodeSupportedVersionsClient = (data: Uint8Array): ReadonlyArray<number> | TlsAlert => {
  const r = new BufferReader(data)
  const versions = readU16List(r, 1)
  return versions === undefined || versions.length === 0 ? decodeError("supported_versions") : done(r, versions, "supported_versions")
}

export const decodeSupportedVersionsServer = (data: Uint8Array): number | TlsAlert => {
  const r = new BufferReader(data)
  return done(r, r.u16(), "supported_versions")
}

// supported_groups, signature_algorithms, signature_algorithms_cert (RFC 8446 §4.2.3, §4.2.7).
export const encodeU16List = (values: ReadonlyArray<number>): Uint8Array => u16List(values, 2)

export const decodeU16List = (data: Uint8Array, what: string): ReadonlyArray<number> | TlsAlert => {
  const r = new BufferReader(data)
  const values = readU16List(r, 2)
  return values === undefined || values.length === 0 ? decodeError(what) : done(r, values, what)
}

// key_share (RFC 8446 §4.2.8).
export interface KeyShareEntry {
  readonly group: number
  readonly keyExchange: Uint8Array
}

export const encodeKeyShareClient = (entries: ReadonlyArray<KeyShareEntry>): Uint8Array =>
  new ByteBuilder()
    .prefixed(2, (b) => {
      for (const e of entries) b.u16(e.group).vector(2, e.keyExchange)
    })
    .finish()

export const decodeKeyShareClient = (data: Uint8Array): ReadonlyArray<KeyShareEntry> | TlsAlert => {
  const r = new BufferReader(data)
  const end = r.u16() + 2
  const entries: Array<KeyShareEntry> = []
  while (!r.failed && r.offset < end) {
    const group = r.u16()
    const keyExchange = r.bytesView(r.u16())
    if (keyExchange.length === 0) return decodeError("key_share entry")
    entries.push({ group, keyExchange })
  }
  if (r.offset !== end) return decodeError("key_share")
  return done(r, entries, "key_share")
}

export const encodeKeyShareServer = (entry: KeyShareEntry): Uint8Array =>
  new ByteBuilder().u16(entry.group).vector(2, entry.keyExchange).finish()

export const decodeKeyShareServer = (data: Uint8Array): KeyShareEntry | TlsAlert => {
  const r = new BufferReader(data)
  const group = r.u16()
  const keyExchange = r.bytesView(r.u16())
  if (keyExchange.length === 0) return decodeError("key_share")
  return done(r, { group, keyExchange }, "key_share")
}

/** In a HelloRetryRequest the key_share extension names only the selected group. */
export const encodeKeyShareHelloRetry = (group: number): Uint8Array => new ByteBuilder().u16(group).finish()

export const decodeKeyShareHelloRetry = (data: Uint8Array): number | TlsAlert => {
  const r = new BufferReader(data)
  return done(r, r.u16(), "key_share")
}

// psk_key_exchange_modes (RFC 8446 §4.2.9).
export const encodePskModes = (modes: ReadonlyArray<number>): Uint8Array => new ByteBuilder().vector(1, Uint8Array.from(modes)).finish()

export const decodePskModes = (data: Uint8Array): ReadonlyArray<number> | TlsAlert => {
  const r = new BufferReader(data)
  const modes = r.bytesView(r.u8())
  return modes.length === 0 ? decodeError("psk_key_exchange_modes") : done(r, Array.from(modes), "psk_key_exchange_modes")
}

// pre_shared_key (RFC 8446 §4.2.11).
export interface PskIdentity {
  readonly identity: Uint8Array
  readonly obfuscatedTicketAge: number
}

export interface OfferedPsks {
  readonly identities: ReadonlyArray<PskIdentity>
  readonly binders: ReadonlyArray<Uint8Array>
}

export const encodeOfferedPsks = (offer: OfferedPsks): Uint8Array =>
  new ByteBuilder()
    .prefixed(2, (b) => {
      for (const id of offer.identities) b.vector(2, id.identity).u32(id.obfuscatedTicketAge)
    })
    .prefixed(2, (b) => {
      for (const binder of offer.binders) b.vector(1, binder)
    })
    .finish()

/** The size of the binders list (with its 2-byte length) that ends a ClientHello offering `binderLengths`. */
export const bindersListLength = (binderLengths: ReadonlyArray<number>): number =>
  2 + binderLengths.reduce((sum, length) => sum + 1 + length, 0)

export const decodeOfferedPsks = (data: Uint8Array): OfferedPsks | TlsAlert => {
  const r = new BufferReader(data)
  const identitiesEnd = r.u16() + 2
  const identities: Array<PskIdentity> = []
  while (!r.failed && r.offset < identitiesEnd) {
    const identity = r.bytesView(r.u16())
    const obfuscatedTicketAge = r.u32()
    if (identity.length === 0) return decodeError("PSK identity")
    identities.push({ identity, obfuscatedTicketAge })
  }
  if (r.failed || r.offset !== identitiesEnd) return decodeError("pre_shared_key identities")
  const bindersEnd = r.offset + r.u16() + 2
  const binders: Array<Uint8Array> = []
  while (!r.failed && r.offset < bindersEnd) {
    const binder = r.bytesView(r.u8())
    // RFC 8446 §4.2.11: a binder is at least 32 bytes (the smallest hash).
    if (binder.length < 32) return decodeError("PSK binder")
    binders.push(binder)
  }
  if (r.offset !== bindersEnd || identities.length === 0 || binders.length !== identities.length) {
    return decodeError("pre_shared_key binders")
  }
  return done(r, { identities, binders }, "pre_shared_key")
}

export const encodeSelectedPsk = (index: number): Uint8Array => new ByteBuilder().u16(index).finish()

export const decodeSelectedPsk = (data: Uint8Array): number | TlsAlert => {
  const r = new BufferReader(data)
  return done(r, r.u16(), "pre_shared_key")
}

// early_data (RFC 8446 §4.2.10): empty in ClientHello and EncryptedExtensions, max_early_data_size in NewSessionTicket.
export const EMPTY_EXTENSION = new Uint8Array(0)

export const encodeMaxEarlyData = (size: number): Uint8Array => new ByteBuilder().u32(size).finish()

export const decodeMaxEarlyData = (data: Uint8Array): number | TlsAlert => {
  const r = new BufferReader(data)
  return done(r, r.u32(), "early_data")
}

export const isEmptyExtension = (data: Uint8Array): boolean => data.length === 0

// cookie (RFC 8446 §4.2.2).
export const encodeCookie = (cookie: Uint8Array): Uint8Array => new ByteBuilder().vector(2, cookie).finish()

export const decodeCookie = (data: Uint8Array): Uint8Array | TlsAlert => {
  const r = new BufferReader(data)
  const cookie = r.bytesView(r.u16())
  return cookie.length === 0 ? decodeError("cookie") : done(r, cookie, "cookie")
}
