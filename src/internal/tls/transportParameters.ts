/**
 * QUIC transport parameters (RFC 9000 §7.4, §18), carried in the TLS
 * quic_transport_parameters extension 0x39 (RFC 9001 §8.2), plus
 * max_datagram_frame_size (RFC 9221 §3), grease_quic_bit (RFC 9287 §3) and
 * version_information (RFC 9368 §3).
 *
 * The extension body is a sequence of `{ id (i), length (i), value (length) }`
 * (RFC 9000 §18). Decoding checks everything that can be checked from the
 * bytes and the sender's role alone and returns a TRANSPORT_PARAMETER_ERROR
 * naming the parameter; checks that need connection context (the connection
 * IDs of §7.3, 0-RTT remembered values of §7.4.1) are left to the caller,
 * with {@link validateConnectionIdParameters} as a pure helper for §7.3.
 *
 * Number representation. Credit and count limits (initial_max_data,
 * initial_max_stream_data_*, initial_max_streams_*, max_udp_payload_size,
 * max_idle_timeout, max_datagram_frame_size, active_connection_id_limit) are
 * `number`s. A varint can carry up to 2^62-1, but a received value above
 * 2^53-1 is a limit that no peer can ever reach (no byte count, stream count,
 * datagram size or millisecond count in this implementation can exceed
 * 2^53-1), so it is held as `Number.MAX_SAFE_INTEGER`: exact in effect, and
 * comparisons against it behave as they would against the true value.
 * (initial_max_streams_* above 2^60 is still rejected first, on the exact
 * value.) The remaining numeric fields are small by definition
 * (ack_delay_exponent ≤ 20, max_ack_delay < 2^14, versions are 32-bit).
 *
 * Byte fields (connection IDs, tokens, addresses) are copies, not views of the
 * decoded buffer: transport parameters outlive the handshake message that
 * carried them (they are kept for the connection and for 0-RTT resumption).
 */
import { BufferReader } from "../codec/reader.js"
import { MAX_CONNECTION_ID_LENGTH, RESET_TOKEN_LENGTH } from "../frame/types.js"
import { varintLength } from "../codec/varint.js"
import { BufferWriter, EncodeOverflow } from "../codec/writer.js"
import { type TransportError, TransportErrorCode, transportError } from "../errors.js"
import { bytesEqual } from "../codec/bytes.js"

/** RFC 9000 §18.2, RFC 9221 §3, RFC 9287 §3, RFC 9368 §3: the Transport Parameter IDs we understand. */
export const TransportParameterId = {
  original_destination_connection_id: 0x00,
  max_idle_timeout: 0x01,
  stateless_reset_token: 0x02,
  max_udp_payload_size: 0x03,
  initial_max_data: 0x04,
  initial_max_stream_data_bidi_local: 0x05,
  initial_max_stream_data_bidi_remote: 0x06,
  initial_max_stream_data_uni: 0x07,
  initial_max_streams_bidi: 0x08,
  initial_max_streams_uni: 0x09,
  ack_delay_exponent: 0x0a,
  max_ack_delay: 0x0b,
  disable_active_migration: 0x0c,
  preferred_address: 0x0d,
  active_connection_id_limit: 0x0e,
  initial_source_connection_id: 0x0f,
  retry_source_connection_id: 0x10,
  version_information: 0x11,
  max_datagram_frame_size: 0x20,
  grease_quic_bit: 0x2ab2
} as const

export type TransportParameterId = (typeof TransportParameterId)[keyof typeof TransportParameterId]

/** RFC 9000 §18.2: the parameters only a server may send. */
export const SERVER_ONLY_PARAMETERS: ReadonlyArray<TransportParameterId> = [
  TransportParameterId.original_destination_connection_id,
  TransportParameterId.stateless_reset_token,
  TransportParameterId.preferred_address,
  TransportParameterId.retry_source_connection_id
]


/** RFC 9000 §18.2: the smallest valid max_udp_payload_size. */
export const MIN_MAX_UDP_PAYLOAD_SIZE = 1200

/** RFC 9000 §18.2: "Values above 20 are invalid." */
export const MAX_ACK_DELAY_EXPONENT = 20

/** RFC 9000 §18.2: max_ack_delay "Values of 2^14 or greater are invalid." */
export const MAX_ACK_DELAY_LIMIT = 1 << 14

/** RFC 9000 §18.2: active_connection_id_limit "MUST be at least 2". */
export const MIN_ACTIVE_CONNECTION_ID_LIMIT = 2

/** RFC 9000 §4.6, §18.2: a stream count above 2^60 would need stream IDs beyond 2^62-1. */
export const MAX_STREAMS_LIMIT = 1n << 60n

/**
 * RFC 9000 §18.2 preferred_address. A server that does not offer one address
 * family sends zeros for that address and port ("0.0.0.0:0" / "[::]:0");
 * the fields are kept as on the wire.
 */
export interface PreferredAddress {
  /** 4 bytes. */
  readonly ipv4Address: Uint8Array
  readonly ipv4Port: number
  /** 16 bytes. */
  readonly ipv6Address: Uint8Array
  readonly ipv6Port: number
  /** 1 to 20 bytes: a zero-length connection ID is a TRANSPORT_PARAMETER_ERROR. */
  readonly connectionId: Uint8Array
  /** 16 bytes. */
  readonly statelessResetToken: Uint8Array
}

/** RFC 9368 §3 Version Information: 32-bit version numbers, none of them 0. */
export interface VersionInformation {
  readonly chosenVersion: number
  /** Client: compatible versions by descending preference, including `chosenVersion`. Server: fully deployed versions, possibly empty. */
  readonly availableVersions: ReadonlyArray<number>
}

/**
 * Every parameter we understand. A numeric or boolean field always has a value
 * (its default when absent on the wire); the others are absent when not sent.
 * Times are in milliseconds, as on the wire.
 */
export interface TransportParameters {
  /** 0x00, server only: the Destination Connection ID of the client's first Initial (§7.3). */
  readonly originalDestinationConnectionId?: Uint8Array
  /** 0x01, milliseconds; 0 means no idle timeout from this endpoint. */
  readonly maxIdleTimeout: number
  /** 0x02, server only, 16 bytes. */
  readonly statelessResetToken?: Uint8Array
  /** 0x03, at least 1200; default 65527. */
  readonly maxUdpPayloadSize: number
  /** 0x04 */
  readonly initialMaxData: number
  /** 0x05 */
  readonly initialMaxStreamDataBidiLocal: number
  /** 0x06 */
  readonly initialMaxStreamDataBidiRemote: number
  /** 0x07 */
  readonly initialMaxStreamDataUni: number
  /** 0x08, at most 2^60. */
  readonly initialMaxStreamsBidi: number
  /** 0x09, at most 2^60. */
  readonly initialMaxStreamsUni: number
  /** 0x0a, at most 20; default 3. */
  readonly ackDelayExponent: number
  /** 0x0b, milliseconds, below 2^14; default 25. */
  readonly maxAckDelay: number
  /** 0x0c, zero-length on the wire. */
  readonly disableActiveMigration: boolean
  /** 0x0d, server only. */
  readonly preferredAddress?: PreferredAddress
  /** 0x0e, at least 2; default 2. */
  readonly activeConnectionIdLimit: number
  /** 0x0f: the Source Connection ID of the sender's first Initial (§7.3); 0 to 20 bytes. */
  readonly initialSourceConnectionId?: Uint8Array
  /** 0x10, server only: the Source Connection ID of its Retry packet (§7.3). */
  readonly retrySourceConnectionId?: Uint8Array
  /** 0x11 (RFC 9368). */
  readonly versionInformation?: VersionInformation
  /** 0x20 (RFC 9221): absent means DATAGRAM is not supported; a present 0 means the same but is kept as sent. */
  readonly maxDatagramFrameSize?: number
  /** 0x2ab2 (RFC 9287), zero-length on the wire. */
  readonly greaseQuicBit: boolean
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/**
 * RFC 9000 §18.2: the value of every parameter that is not sent, as a fresh
 * object. A literal rather than a spread of a shared object: V8 gives every
 * copy a spread makes in optimized code a hidden class of its own, about
 * half a KiB kept by each connection with its peer's parameters.
 */
const defaults = (): Mutable<TransportParameters> => ({
  maxIdleTimeout: 0,
  maxUdpPayloadSize: 65527,
  initialMaxData: 0,
  initialMaxStreamDataBidiLocal: 0,
  initialMaxStreamDataBidiRemote: 0,
  initialMaxStreamDataUni: 0,
  initialMaxStreamsBidi: 0,
  initialMaxStreamsUni: 0,
  ackDelayExponent: 3,
  maxAckDelay: 25,
  disableActiveMigration: false,
  activeConnectionIdLimit: 2,
  greaseQuicBit: false
})

export const defaultTransportParameters: TransportParameters = defaults()

export type Role = "client" | "server"

// ---------------------------------------------------------------------------
// Names

const NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(TransportParameterId).map(([name, id]) => [id as number, name])
)

/** The RFC name of a parameter id, or its hex value for one we don't know. */
export const transportParameterName = (id: number | bigint): string =>
  (typeof id === "number" ? NAMES.get(id) : id <= 0xffffn ? NAMES.get(Number(id)) : undefined) ??
    `transport parameter 0x${id.toString(16)}`

/** RFC 9000 §18.1: ids of the form 31 * N + 27 are reserved to exercise the ignoring of unknown parameters. */
export const isReservedTransportParameterId = (id: bigint): boolean => id >= 27n && (id - 27n) % 31n === 0n

// ---------------------------------------------------------------------------
// Decoding

const error = (reason: string): TransportError => transportError(TransportErrorCode.TRANSPORT_PARAMETER_ERROR, reason)

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** A limit as a `number`: anything above 2^53-1 can never be reached, see the module comment. */
const limit = (value: bigint): number => (value > MAX_SAFE ? Number.MAX_SAFE_INTEGER : Number(value))

/**
 * Decodes a quic_transport_parameters extension body sent by `sender`.
 * Unknown ids (including the reserved ones of §18.1, which may be any 62-bit
 * value) are skipped; a parameter sent twice, a value whose encoding does not
 * fill its declared length exactly, a truncated body, a value outside its
 * range, or a server-only parameter from a client is a TRANSPORT_PARAMETER_ERROR.
 */
export const decodeTransportParameters = (bytes: Uint8Array, sender: Role): TransportParameters | TransportError => {
  const reader = new BufferReader(bytes)
  const value = new BufferReader(bytes)
  const params = defaults()
  // RFC 9000 §7.4: "An endpoint MUST NOT send a parameter more than once in a
  // given transport parameters extension. An endpoint SHOULD treat receipt of
  // duplicate transport parameters as a connection error of type
  // TRANSPORT_PARAMETER_ERROR." This applies to unknown ids as well.
  const seen = new Set<bigint>()
  while (reader.remaining > 0) {
    const id = reader.varintBig()
    if (reader.failed) return error("truncated transport parameter id")
    const name = transportParameterName(id)
    const length = reader.varint()
    if (reader.failed) return error(`${name}: truncated length`)
    // VARINT_UNSAFE (-1) is caught here too: it is never a length that fits.
    if (length < 0 || length > reader.remaining) {
      return error(`${name}: length ${length < 0 ? "above 2^53" : length} but ${reader.remaining} bytes left`)
    }
    if (seen.has(id)) return error(`duplicate ${name}`)
    seen.add(id)
    value.reset(bytes, reader.offset, reader.offset + length)
    reader.skip(length)
    if (id > 0xffffn) continue
    const result = decodeParameter(params, Number(id), name, value, sender)
    if (result !== undefined) return result
  }
  return params
}

/** Decodes one parameter's value into `params`; `undefined` on success. */
const decodeParameter = (
  params: Mutable<TransportParameters>,
  id: number,
  name: string,
  value: BufferReader,
  sender: Role
): TransportError | undefined => {
  const I = TransportParameterId
  // RFC 9000 §18.2: "A client MUST NOT include any server-only transport
  // parameter: original_destination_connection_id, preferred_address,
  // retry_source_connection_id, or stateless_reset_token. A server MUST treat
  // receipt of any of these transport parameters as a connection error of
  // type TRANSPORT_PARAMETER_ERROR."
  if (sender === "client" && (SERVER_ONLY_PARAMETERS as ReadonlyArray<number>).includes(id)) {
    return error(`${name} sent by a client`)
  }
  switch (id) {
    case I.original_destination_connection_id:
    case I.initial_source_connection_id:
    case I.retry_source_connection_id: {
      if (value.remaining > MAX_CONNECTION_ID_LENGTH) return error(`${name}: longer than 20 bytes`)
      const cid = value.bytesView(value.remaining).slice()
      if (id === I.original_destination_connection_id) params.originalDestinationConnectionId = cid
      else if (id === I.initial_source_connection_id) params.initialSourceConnectionId = cid
      else params.retrySourceConnectionId = cid
      return undefined
    }
    case I.stateless_reset_token:
      if (value.remaining !== RESET_TOKEN_LENGTH) return error(`${name}: not 16 bytes`)
      params.statelessResetToken = value.bytesView(RESET_TOKEN_LENGTH).slice()
      return undefined
    case I.disable_active_migration:
    case I.grease_quic_bit:
      // RFC 9000 §18.2: disable_active_migration "is a zero-length value".
      // RFC 9287 §3: "An endpoint that receives the grease_quic_bit transport
      // parameter with non-zero-length value MUST treat this as a connection
      // error of type TRANSPORT_PARAMETER_ERROR."
      if (value.remaining !== 0) return error(`${name}: value not empty`)
      if (id === I.disable_active_migration) params.disableActiveMigration = true
      else params.greaseQuicBit = true
      return undefined
    case I.preferred_address:
      return decodePreferredAddress(params, name, value)
    case I.version_information:
      return decodeVersionInformation(params, name, value, sender)
    case I.max_idle_timeout:
    case I.max_udp_payload_size:
    case I.initial_max_data:
    case I.initial_max_stream_data_bidi_local:
    case I.initial_max_stream_data_bidi_remote:
    case I.initial_max_stream_data_uni:
    case I.initial_max_streams_bidi:
    case I.initial_max_streams_uni:
    case I.ack_delay_exponent:
    case I.max_ack_delay:
    case I.active_connection_id_limit:
    case I.max_datagram_frame_size: {
      // The varint may use a longer encoding than necessary (only frame types
      // must be minimal, §12.4), but it must fill the declared length exactly.
      const declared = value.remaining
      const n = value.varintBig()
      if (value.failed || value.remaining !== 0) {
        return error(`${name}: varint does not fill its declared length of ${declared} bytes exactly`)
      }
      return decodeInteger(params, id, name, n)
    }
    default:
      // Unknown, reserved (§18.1) or not yet defined: ignored (§7.4.2).
      return undefined
  }
}

const decodeInteger = (
  params: Mutable<TransportParameters>,
  id: number,
  name: string,
  n: bigint
): TransportError | undefined => {
  const I = TransportParameterId
  switch (id) {
    case I.max_idle_timeout:
      params.maxIdleTimeout = limit(n)
      return undefined
    case I.max_udp_payload_size:
      // RFC 9000 §18.2: "Values below 1200 are invalid."
      if (n < BigInt(MIN_MAX_UDP_PAYLOAD_SIZE)) return error(`${name}: ${n} is below 1200`)
      params.maxUdpPayloadSize = limit(n)
      return undefined
    case I.initial_max_data:
      params.initialMaxData = limit(n)
      return undefined
    case I.initial_max_stream_data_bidi_local:
      params.initialMaxStreamDataBidiLocal = limit(n)
      return undefined
    case I.initial_max_stream_data_bidi_remote:
      params.initialMaxStreamDataBidiRemote = limit(n)
      return undefined
    case I.initial_max_stream_data_uni:
      params.initialMaxStreamDataUni = limit(n)
      return undefined
    case I.initial_max_streams_bidi:
    case I.initial_max_streams_uni:
      // RFC 9000 §4.6: "If a max_streams transport parameter or a MAX_STREAMS
      // frame is received with a value greater than 2^60 ... the connection
      // MUST be closed immediately with a connection error of type
      // TRANSPORT_PARAMETER_ERROR if the offending value was received in a
      // transport parameter".
      if (n > MAX_STREAMS_LIMIT) return error(`${name}: ${n} is above 2^60`)
      if (id === I.initial_max_streams_bidi) params.initialMaxStreamsBidi = limit(n)
      else params.initialMaxStreamsUni = limit(n)
      return undefined
    case I.ack_delay_exponent:
      // RFC 9000 §18.2: "Values above 20 are invalid."
      if (n > BigInt(MAX_ACK_DELAY_EXPONENT)) return error(`${name}: ${n} is above 20`)
      params.ackDelayExponent = Number(n)
      return undefined
    case I.max_ack_delay:
      // RFC 9000 §18.2: "Values of 2^14 or greater are invalid."
      if (n >= BigInt(MAX_ACK_DELAY_LIMIT)) return error(`${name}: ${n} is 2^14 or more`)
      params.maxAckDelay = Number(n)
      return undefined
    case I.active_connection_id_limit:
      // RFC 9000 §18.2: "The value of the active_connection_id_limit parameter
      // MUST be at least 2. An endpoint that receives a value less than 2 MUST
      // close the connection with an error of type TRANSPORT_PARAMETER_ERROR."
      if (n < BigInt(MIN_ACTIVE_CONNECTION_ID_LIMIT)) return error(`${name}: ${n} is below 2`)
      params.activeConnectionIdLimit = limit(n)
      return undefined
    default: // I.max_datagram_frame_size
      params.maxDatagramFrameSize = limit(n)
      return undefined
  }
}

/** 4 + 2 + 16 + 2 + 1 + 16: a preferred_address value without its connection ID. */
const PREFERRED_ADDRESS_FIXED_LENGTH = 41

const decodePreferredAddress = (
  params: Mutable<TransportParameters>,
  name: string,
  value: BufferReader
): TransportError | undefined => {
  const ipv4Address = value.bytesView(4).slice()
  const ipv4Port = value.u16()
  const ipv6Address = value.bytesView(16).slice()
  const ipv6Port = value.u16()
  const cidLength = value.u8()
  if (value.failed) return error(`${name}: truncated`)
  // RFC 9000 §18.2: "A server that chooses a zero-length connection ID MUST
  // NOT provide a preferred address. Similarly, a server MUST NOT include a
  // zero-length connection ID in this transport parameter. A client MUST
  // treat a violation of these requirements as a connection error of type
  // TRANSPORT_PARAMETER_ERROR."
  if (cidLength === 0) return error(`${name}: zero-length connection ID`)
  if (cidLength > MAX_CONNECTION_ID_LENGTH) return error(`${name}: connection ID longer than 20 bytes`)
  const connectionId = value.bytesView(cidLength).slice()
  const statelessResetToken = value.bytesView(RESET_TOKEN_LENGTH).slice()
  if (value.failed) return error(`${name}: truncated`)
  if (value.remaining !== 0) return error(`${name}: ${value.remaining} bytes after the reset token`)
  params.preferredAddress = { ipv4Address, ipv4Port, ipv6Address, ipv6Port, connectionId, statelessResetToken }
  return undefined
}

const decodeVersionInformation = (
  params: Mutable<TransportParameters>,
  name: string,
  value: BufferReader,
  sender: Role
): TransportError | undefined => {
  // RFC 9368 §4: "If parsing the Version Information failed (for example, if
  // it is too short or if its length is not divisible by four), then the
  // endpoint MUST close the connection; if the connection was using QUIC
  // version 1, that connection closure MUST use a transport error of type
  // TRANSPORT_PARAMETER_ERROR."
  if (value.remaining < 4 || value.remaining % 4 !== 0) {
    return error(`${name}: length ${value.remaining} is not a positive multiple of 4`)
  }
  const chosenVersion = value.u32()
  const availableVersions: Array<number> = []
  while (value.remaining > 0) availableVersions.push(value.u32())
  // RFC 9368 §4: "If an endpoint receives a Chosen Version equal to zero, or
  // any Available Version equal to zero, it MUST treat it as a parsing failure."
  if (chosenVersion === 0) return error(`${name}: chosen version 0`)
  if (availableVersions.includes(0)) return error(`${name}: available version 0`)
  // RFC 9368 §4: "If a server receives Version Information where the Chosen
  // Version is not included in Available Versions, it MUST treat it as a
  // parsing failure."
  if (sender === "client" && !availableVersions.includes(chosenVersion)) {
    return error(`${name}: chosen version not among the client's available versions`)
  }
  params.versionInformation = { chosenVersion, availableVersions }
  return undefined
}

// ---------------------------------------------------------------------------
// Encoding

/**
 * The parameters to send, as `[id, value]` in increasing id order: numeric
 * and boolean parameters equal to their default and absent optional ones are
 * left out, and so are the server-only ones unless `role` is server. Values a
 * peer would reject are a programming error ({@link EncodeOverflow}).
 */
const collect = (params: TransportParameters, role: Role): Array<readonly [number, Encoded]> => {
  const I = TransportParameterId
  const d = defaultTransportParameters
  const out: Array<readonly [number, Encoded]> = []
  const server = role === "server"
  const cid = (id: number, bytes: Uint8Array | undefined) => {
    if (bytes === undefined) return
    checkLength(bytes, 0, MAX_CONNECTION_ID_LENGTH, transportParameterName(id))
    out.push([id, bytes])
  }
  const int = (id: number, n: number, fallback: number | undefined, min = 0, max = Number.MAX_SAFE_INTEGER) => {
    if (n === fallback) return
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new EncodeOverflow(`${transportParameterName(id)}: ${n} outside ${min}..${max}`)
    }
    out.push([id, n])
  }
  if (server) cid(I.original_destination_connection_id, params.originalDestinationConnectionId)
  int(I.max_idle_timeout, params.maxIdleTimeout, d.maxIdleTimeout)
  if (server && params.statelessResetToken !== undefined) {
    checkLength(params.statelessResetToken, 16, 16, "stateless_reset_token")
    out.push([I.stateless_reset_token, params.statelessResetToken])
  }
  int(I.max_udp_payload_size, params.maxUdpPayloadSize, d.maxUdpPayloadSize, MIN_MAX_UDP_PAYLOAD_SIZE)
  int(I.initial_max_data, params.initialMaxData, d.initialMaxData)
  int(I.initial_max_stream_data_bidi_local, params.initialMaxStreamDataBidiLocal, d.initialMaxStreamDataBidiLocal)
  int(I.initial_max_stream_data_bidi_remote, params.initialMaxStreamDataBidiRemote, d.initialMaxStreamDataBidiRemote)
  int(I.initial_max_stream_data_uni, params.initialMaxStreamDataUni, d.initialMaxStreamDataUni)
  int(I.initial_max_streams_bidi, params.initialMaxStreamsBidi, d.initialMaxStreamsBidi)
  int(I.initial_max_streams_uni, params.initialMaxStreamsUni, d.initialMaxStreamsUni)
  int(I.ack_delay_exponent, params.ackDelayExponent, d.ackDelayExponent, 0, MAX_ACK_DELAY_EXPONENT)
  int(I.max_ack_delay, params.maxAckDelay, d.maxAckDelay, 0, MAX_ACK_DELAY_LIMIT - 1)
  if (params.disableActiveMigration) out.push([I.disable_active_migration, EMPTY])
  if (server && params.preferredAddress !== undefined) {
    const p = params.preferredAddress
    checkLength(p.ipv4Address, 4, 4, "preferred_address IPv4 address")
    checkLength(p.ipv6Address, 16, 16, "preferred_address IPv6 address")
    checkLength(p.connectionId, 1, MAX_CONNECTION_ID_LENGTH, "preferred_address connection ID")
    checkLength(p.statelessResetToken, 16, 16, "preferred_address stateless reset token")
    checkPort(p.ipv4Port)
    checkPort(p.ipv6Port)
    out.push([I.preferred_address, p])
  }
  int(
    I.active_connection_id_limit,
    params.activeConnectionIdLimit,
    d.activeConnectionIdLimit,
    MIN_ACTIVE_CONNECTION_ID_LIMIT
  )
  cid(I.initial_source_connection_id, params.initialSourceConnectionId)
  if (server) cid(I.retry_source_connection_id, params.retrySourceConnectionId)
  if (params.versionInformation !== undefined) {
    const v = params.versionInformation
    for (const version of [v.chosenVersion, ...v.availableVersions]) {
      if (!Number.isInteger(version) || version < 1 || version > 0xffffffff) {
        throw new EncodeOverflow(`version_information: ${version} is not a non-zero 32-bit version`)
      }
    }
    out.push([I.version_information, v])
  }
  if (params.maxDatagramFrameSize !== undefined) int(I.max_datagram_frame_size, params.maxDatagramFrameSize, undefined)
  if (params.greaseQuicBit) out.push([I.grease_quic_bit, EMPTY])
  return out
}

type Encoded = number | Uint8Array | PreferredAddress | VersionInformation

const EMPTY = new Uint8Array(0)

const checkLength = (bytes: Uint8Array, min: number, max: number, what: string): void => {
  if (bytes.length < min || bytes.length > max) {
    throw new EncodeOverflow(`${what}: ${bytes.length} bytes, expected ${min === max ? min : `${min}..${max}`}`)
  }
}

const checkPort = (port: number): void => {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new EncodeOverflow(`preferred_address port ${port}`)
}

const valueLength = (value: Encoded): number =>
  typeof value === "number"
    ? varintLength(value)
    : value instanceof Uint8Array
    ? value.length
    : "chosenVersion" in value
    ? 4 + 4 * value.availableVersions.length
    : PREFERRED_ADDRESS_FIXED_LENGTH + value.connectionId.length

const lengthOf = (entries: ReadonlyArray<readonly [number, Encoded]>): number => {
  let total = 0
  for (const [id, value] of entries) {
    const length = valueLength(value)
    total += varintLength(id) + varintLength(length) + length
  }
  return total
}

const writeEntries = (writer: BufferWriter, entries: ReadonlyArray<readonly [number, Encoded]>): void => {
  for (const [id, value] of entries) {
    writer.varint(id)
    writer.varint(valueLength(value))
    if (typeof value === "number") writer.varint(value)
    else if (value instanceof Uint8Array) writer.bytesFrom(value)
    else if ("chosenVersion" in value) {
      writer.u32(value.chosenVersion)
      for (const version of value.availableVersions) writer.u32(version)
    } else {
      writer.bytesFrom(value.ipv4Address)
      writer.u16(value.ipv4Port)
      writer.bytesFrom(value.ipv6Address)
      writer.u16(value.ipv6Port)
      writer.u8(value.connectionId.length)
      writer.bytesFrom(value.connectionId)
      writer.bytesFrom(value.statelessResetToken)
    }
  }
}

/** The encoded length of {@link encodeTransportParameters}' output, for writing in place. */
export const transportParametersLength = (params: TransportParameters, role: Role): number =>
  lengthOf(collect(params, role))

/** Writes the extension body at the writer's position (exactly {@link transportParametersLength} bytes). */
export const writeTransportParameters = (writer: BufferWriter, params: TransportParameters, role: Role): void =>
  writeEntries(writer, collect(params, role))

/**
 * Encodes the quic_transport_parameters extension body `role` sends, in
 * increasing id order, leaving out defaults, absent parameters and (for a
 * client) the server-only ones. Throws {@link EncodeOverflow} for a value a
 * peer would reject (a caller bug, e.g. a 21-byte connection ID).
 */
export const encodeTransportParameters = (params: TransportParameters, role: Role): Uint8Array => {
  const entries = collect(params, role)
  const bytes = new Uint8Array(lengthOf(entries))
  writeEntries(new BufferWriter(bytes), entries)
  return bytes
}

// ---------------------------------------------------------------------------
// Checks that need connection context (RFC 9000 §7.3)

/** What the receiver saw in the Initial and Retry packets, to check the peer's connection ID parameters against. */
export type ConnectionIdContext =
  | {
    /** Checking a client's parameters, at the server. */
    readonly sender: "client"
    /** The Source Connection ID of the client's Initial packets. */
    readonly initialSourceConnectionId: Uint8Array
  }
  | {
    /** Checking a server's parameters, at the client. */
    readonly sender: "server"
    /** The Source Connection ID of the server's Initial packets. */
    readonly initialSourceConnectionId: Uint8Array
    /** The Destination Connection ID of the client's first Initial packet. */
    readonly originalDestinationConnectionId: Uint8Array
    /** The Source Connection ID of the Retry packet the client acted on, if any. */
    readonly retrySourceConnectionId?: Uint8Array
  }

/**
 * RFC 9000 §7.3: "An endpoint MUST treat the absence of the
 * initial_source_connection_id transport parameter from either endpoint or the
 * absence of the original_destination_connection_id transport parameter from
 * the server as a connection error of type TRANSPORT_PARAMETER_ERROR." and
 * "An endpoint MUST treat the following as a connection error of type
 * TRANSPORT_PARAMETER_ERROR or PROTOCOL_VIOLATION: absence of the
 * retry_source_connection_id transport parameter from the server after
 * receiving a Retry packet, presence of the retry_source_connection_id
 * transport parameter when no Retry packet was received, or a mismatch
 * between values received from a peer in these transport parameters and the
 * value sent in the corresponding Destination or Source Connection ID fields
 * of Initial packets." (TRANSPORT_PARAMETER_ERROR here.)
 */
export const validateConnectionIdParameters = (
  params: TransportParameters,
  context: ConnectionIdContext
): TransportError | undefined => {
  const initial = checkCid(
    "initial_source_connection_id",
    params.initialSourceConnectionId,
    context.initialSourceConnectionId
  )
  if (initial !== undefined) return initial
  if (context.sender === "client") return undefined
  const odcid = checkCid(
    "original_destination_connection_id",
    params.originalDestinationConnectionId,
    context.originalDestinationConnectionId
  )
  if (odcid !== undefined) return odcid
  if (context.retrySourceConnectionId === undefined) {
    return params.retrySourceConnectionId === undefined
      ? undefined
      : error("retry_source_connection_id without a Retry packet")
  }
  return checkCid("retry_source_connection_id", params.retrySourceConnectionId, context.retrySourceConnectionId)
}

const checkCid = (name: string, received: Uint8Array | undefined, expected: Uint8Array): TransportError | undefined => {
  if (received === undefined) return error(`${name} missing`)
  if (!bytesEqual(received, expected)) return error(`${name} does not match the packet's connection ID`)
  return undefined
}

