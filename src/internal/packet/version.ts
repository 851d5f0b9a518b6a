import { fromHex } from "../codec/hex.js"

/**
 * Everything that differs between QUIC versions, as data (RFC 9369 §3 lists
 * exactly these for v2), so a new version is a table entry and not a fork.
 */
export interface QuicVersion {
  readonly number: number
  readonly name: string
  /** RFC 9001 §5.2 / RFC 9369 §3.3.1: salt of the Initial secret. */
  readonly initialSalt: Uint8Array
  /** RFC 9001 §5.1, §6.1 / RFC 9369 §3.3.2: HKDF labels for packet keys. */
  readonly labels: { readonly key: string; readonly iv: string; readonly hp: string; readonly ku: string }
  /** RFC 9001 §5.8 / RFC 9369 §3.3.3: the Retry integrity AEAD_AES_128_GCM key and nonce. */
  readonly retryKey: Uint8Array
  readonly retryNonce: Uint8Array
  /** RFC 9000 §17.2 / RFC 9369 §3.2: the two long-header type bits of each packet type. */
  readonly longTypeBits: { readonly [T in LongPacketType]: number }
  /** The inverse of `longTypeBits`, indexed by the two type bits. */
  readonly longTypes: ReadonlyArray<LongPacketType>
}

export type LongPacketType = "initial" | "0rtt" | "handshake" | "retry"

const LONG_TYPES: ReadonlyArray<LongPacketType> = ["initial", "0rtt", "handshake", "retry"]

const typesByBits = (bits: QuicVersion["longTypeBits"]): ReadonlyArray<LongPacketType> => {
  const types: Array<LongPacketType> = []
  for (const type of LONG_TYPES) types[bits[type]] = type
  return types
}

const V1_TYPE_BITS = { initial: 0b00, "0rtt": 0b01, handshake: 0b10, retry: 0b11 } as const
const V2_TYPE_BITS = { initial: 0b01, "0rtt": 0b10, handshake: 0b11, retry: 0b00 } as const

export const QUIC_V1: QuicVersion = {
  number: 0x00000001,
  name: "v1",
  initialSalt: fromHex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"),
  labels: { key: "quic key", iv: "quic iv", hp: "quic hp", ku: "quic ku" },
  retryKey: fromHex("be0c690b9f66575a1d766b54e368c84e"),
  retryNonce: fromHex("461599d35d632bf2239825bb"),
  longTypeBits: V1_TYPE_BITS,
  longTypes: typesByBits(V1_TYPE_BITS)
}

export const QUIC_V2: QuicVersion = {
  number: 0x6b3343cf,
  name: "v2",
  initialSalt: fromHex("0dede3def700a6db819381be6e269dcbf9bd2ed9"),
  labels: { key: "quicv2 key", iv: "quicv2 iv", hp: "quicv2 hp", ku: "quicv2 ku" },
  retryKey: fromHex("8fb4b01b56ac48e260fbcbcead7ccc92"),
  retryNonce: fromHex("d86969bc2d7c6d9990efb04a"),
  longTypeBits: V2_TYPE_BITS,
  longTypes: typesByBits(V2_TYPE_BITS)
}

export const supportedVersions: ReadonlyArray<QuicVersion> = [QUIC_V1, QUIC_V2]

export const versionByNumber = (number: number): QuicVersion | undefined =>
  number === QUIC_V1.number ? QUIC_V1 : number === QUIC_V2.number ? QUIC_V2 : undefined

/** The packet type that the two type bits of a long header mean in `version`. */
export const longPacketType = (version: QuicVersion, bits: number): LongPacketType => version.longTypes[bits & 3]!

/**
 * RFC 9000 §15: versions of the form 0x?a?a?a?a are reserved for greasing
 * version negotiation.
 */
export const isReservedVersion = (number: number): boolean => (number & 0x0f0f0f0f) === 0x0a0a0a0a
