import { EncodeOverflow } from "../codec/writer.js"
import { AEAD_TAG_LENGTH } from "../crypto/backend.js"
import type { DirectionalKeys, HeaderKey, PacketKey } from "../crypto/packetKeys.js"

/**
 * Packet protection applied in place (RFC 9001 §5.3, §5.4).
 *
 * Sending: the packet is built in a buffer as header, packet number and
 * plaintext payload, with 16 spare bytes after it for the AEAD tag;
 * {@link sealPacket} encrypts the payload over itself and then masks the
 * header. Receiving: {@link removeHeaderProtection} unmasks the header in
 * place, the caller recovers the full packet number, and {@link openPacket}
 * decrypts the payload over itself.
 */

/** RFC 9001 §5.4.2: the sample starts 4 bytes after the start of the packet number field. */
export const SAMPLE_OFFSET = 4
export const SAMPLE_LENGTH = 16

/**
 * RFC 9001 §5.4.2: the packet number and payload together must be at least
 * 4 bytes before the tag, so that a full sample exists whatever the packet
 * number length.
 */
export const MIN_PN_AND_PAYLOAD = SAMPLE_OFFSET

const isLongHeader = (firstByte: number): boolean => (firstByte & 0x80) !== 0

/** RFC 9001 §5.4.1: long headers protect the low 4 bits of the first byte, short headers the low 5. */
const firstByteMask = (firstByte: number): number => (isLongHeader(firstByte) ? 0x0f : 0x1f)

/**
 * Seals the packet occupying `packet[start, payloadEnd)` whose packet number
 * field (already written, `pnLength` bytes) sits at `pnOffset`. Writes the
 * tag at `payloadEnd` and returns the packet's end. For long headers the
 * Length field must already count the tag, since the header is authenticated.
 */
export const sealPacket = (
  keys: DirectionalKeys,
  packet: Uint8Array,
  start: number,
  pnOffset: number,
  pnLength: number,
  payloadEnd: number,
  packetNumber: number
): number => {
  const payloadStart = pnOffset + pnLength
  if (payloadEnd - pnOffset < MIN_PN_AND_PAYLOAD) {
    throw new EncodeOverflow("packet too short to sample: pad the payload (RFC 9001 §5.4.2)")
  }
  const key = keys.packet
  key.aead.seal(
    key.nonceFor(packetNumber),
    packet.subarray(start, payloadStart),
    packet.subarray(payloadStart, payloadEnd),
    packet,
    payloadStart
  )
  const header = keys.header
  const mask = header.mask
  const sampleStart = pnOffset + SAMPLE_OFFSET
  header.protection.mask(packet.subarray(sampleStart, sampleStart + SAMPLE_LENGTH), mask)
  packet[start]! ^= mask[0]! & firstByteMask(packet[start]!)
  for (let i = 0; i < pnLength; i++) packet[pnOffset + i]! ^= mask[1 + i]!
  return payloadEnd + AEAD_TAG_LENGTH
}

/**
 * Removes header protection in place from the packet in `packet[start, end)`.
 * Returns the packet number length (1–4), or 0 when the packet is too short
 * to hold a sample, in which case nothing was changed and the packet must be
 * dropped (RFC 9001 §5.4.2).
 */
export const removeHeaderProtection = (
  key: HeaderKey,
  packet: Uint8Array,
  start: number,
  pnOffset: number,
  end: number
): number => {
  const sampleStart = pnOffset + SAMPLE_OFFSET
  if (sampleStart + SAMPLE_LENGTH > end) return 0
  const mask = key.mask
  key.protection.mask(packet.subarray(sampleStart, sampleStart + SAMPLE_LENGTH), mask)
  const first = packet[start]! ^ (mask[0]! & firstByteMask(packet[start]!))
  packet[start] = first
  const pnLength = (first & 0x03) + 1
  for (let i = 0; i < pnLength; i++) packet[pnOffset + i]! ^= mask[1 + i]!
  return pnLength
}

/** Reads the truncated packet number once header protection is removed. */
export const readTruncatedPacketNumber = (packet: Uint8Array, pnOffset: number, pnLength: number): number => {
  let value = 0
  for (let i = 0; i < pnLength; i++) value = value * 256 + packet[pnOffset + i]!
  return value
}

/**
 * Authenticates and decrypts the payload of the packet in `packet[start, end)`
 * in place. Returns the end of the plaintext (the payload is
 * `packet[pnOffset + pnLength, result)`), or -1 when authentication fails,
 * in which case the ciphertext is left as it was so another key may be tried.
 */
export const openPacket = (
  key: PacketKey,
  packet: Uint8Array,
  start: number,
  pnOffset: number,
  pnLength: number,
  end: number,
  packetNumber: number
): number => {
  const payloadStart = pnOffset + pnLength
  if (end - payloadStart < AEAD_TAG_LENGTH) return -1
  const ok = key.aead.open(
    key.nonceFor(packetNumber),
    packet.subarray(start, payloadStart),
    packet.subarray(payloadStart, end),
    packet,
    payloadStart
  )
  return ok ? end - AEAD_TAG_LENGTH : -1
}
