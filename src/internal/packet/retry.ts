import type { Aead, CryptoBackend } from "../crypto/backend.js"
import { AEAD_TAG_LENGTH } from "../crypto/backend.js"
import type { RetryHeader } from "./header.js"
import type { QuicVersion } from "./version.js"

/**
 * The Retry integrity tag (RFC 9001 §5.8; RFC 9369 §3.3.3 for v2's key and
 * nonce): AEAD_AES_128_GCM over an empty plaintext, with the Retry
 * pseudo-packet (ODCID length, ODCID, then the Retry packet without its tag)
 * as associated data.
 */

const retryAeads = new WeakMap<CryptoBackend, Map<number, Aead>>()

const retryAead = (backend: CryptoBackend, version: QuicVersion): Aead => {
  let byVersion = retryAeads.get(backend)
  if (byVersion === undefined) {
    byVersion = new Map()
    retryAeads.set(backend, byVersion)
  }
  let aead = byVersion.get(version.number)
  if (aead === undefined) {
    aead = backend.createAead("aes-128-gcm", version.retryKey)
    byVersion.set(version.number, aead)
  }
  return aead
}

const EMPTY = new Uint8Array(0)

const pseudoPacket = (odcid: Uint8Array, retryWithoutTag: Uint8Array): Uint8Array => {
  const pseudo = new Uint8Array(1 + odcid.length + retryWithoutTag.length)
  pseudo[0] = odcid.length
  pseudo.set(odcid, 1)
  pseudo.set(retryWithoutTag, 1 + odcid.length)
  return pseudo
}

/** Computes the 16-byte integrity tag of a Retry packet (given without its tag). */
export const retryIntegrityTag = (
  backend: CryptoBackend,
  version: QuicVersion,
  odcid: Uint8Array,
  retryWithoutTag: Uint8Array
): Uint8Array => {
  const tag = new Uint8Array(AEAD_TAG_LENGTH)
  retryAead(backend, version).seal(version.retryNonce, pseudoPacket(odcid, retryWithoutTag), EMPTY, tag, 0)
  return tag
}

/**
 * RFC 9000 §17.2.5.2: a client checks the tag against the Destination
 * Connection ID of its first Initial and discards the Retry if it fails.
 */
export const verifyRetryIntegrity = (
  backend: CryptoBackend,
  odcid: Uint8Array,
  datagram: Uint8Array,
  header: RetryHeader
): boolean => {
  const withoutTag = datagram.subarray(header.start, header.end - AEAD_TAG_LENGTH)
  return retryAead(backend, header.version).open(
    header.version.retryNonce,
    pseudoPacket(odcid, withoutTag),
    header.integrityTag,
    EMPTY,
    0
  )
}

/** RFC 9000 §17.2.5: a complete Retry packet, integrity tag included. */
export const encodeRetry = (
  backend: CryptoBackend,
  version: QuicVersion,
  dcid: Uint8Array,
  scid: Uint8Array,
  token: Uint8Array,
  odcid: Uint8Array,
  unused: number
): Uint8Array => {
  const headerLength = 7 + dcid.length + scid.length + token.length
  const packet = new Uint8Array(headerLength + AEAD_TAG_LENGTH)
  packet[0] = 0xc0 | (version.longTypeBits.retry << 4) | (unused & 0x0f)
  packet[1] = version.number >>> 24
  packet[2] = version.number >>> 16
  packet[3] = version.number >>> 8
  packet[4] = version.number
  packet[5] = dcid.length
  packet.set(dcid, 6)
  packet[6 + dcid.length] = scid.length
  packet.set(scid, 7 + dcid.length)
  packet.set(token, 7 + dcid.length + scid.length)
  packet.set(retryIntegrityTag(backend, version, odcid, packet.subarray(0, headerLength)), headerLength)
  return packet
}
