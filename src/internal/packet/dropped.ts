/**
 * Why a packet was discarded without affecting connection state
 * (RFC 9000 §12.2, §17; RFC 9001 §5.4, §5.5). Dropped packets are counted,
 * never answered with an error.
 */
export type PacketDropReason =
  | "truncated"
  | "fixed-bit-zero"
  | "connection-id-too-long"
  | "length-exceeds-datagram"
  | "too-short-to-sample"
  | "packet-number-overflow"
  | "decryption-failed"
  | "empty-retry-token"
  | "malformed-version-list"
  | "connection-id-mismatch"

export interface PacketDropped {
  readonly _tag: "PacketDropped"
  readonly reason: PacketDropReason
}

const drops = new Map<PacketDropReason, PacketDropped>()

/** The (shared, immutable) value describing a drop for `reason`; allocation-free after first use. */
export const packetDropped = (reason: PacketDropReason): PacketDropped => {
  let value = drops.get(reason)
  if (value === undefined) {
    value = { _tag: "PacketDropped", reason }
    drops.set(reason, value)
  }
  return value
}

export const isPacketDropped = (value: unknown): value is PacketDropped =>
  typeof value === "object" && value !== null && (value as { _tag?: unknown })._tag === "PacketDropped"
