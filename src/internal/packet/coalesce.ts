import { isPacketDropped, packetDropped, type PacketDropped } from "./dropped.js"
import { type PacketHeader, parsePacketHeader } from "./header.js"
import { bytesEqual } from "../codec/bytes.js"


const isAllZero = (bytes: Uint8Array, from: number): boolean => {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false
  return true
}

/** The packets of one datagram, and why the remainder (if any) was not used. */
export interface SplitDatagram {
  readonly packets: ReadonlyArray<PacketHeader>
  readonly dropped: PacketDropped | undefined
}

/**
 * RFC 9000 §12.2: splits a datagram into its coalesced packets.
 *
 * Long-header packets carry a Length, so another packet may follow; a short
 * header, Retry or Version Negotiation packet runs to the end of the datagram.
 * A packet whose Destination Connection ID differs from the first packet's is
 * ignored with everything after it, as the RFC advises. A trailing region of
 * zero bytes is padding some senders add after the last packet and is ignored
 * silently; any other unparseable remainder is reported as dropped.
 */
export const splitDatagram = (datagram: Uint8Array, localCidLength: number): SplitDatagram => {
  const packets: Array<PacketHeader> = []
  let offset = 0
  while (offset < datagram.length) {
    if (packets.length > 0 && isAllZero(datagram, offset)) break
    const header = parsePacketHeader(datagram, offset, localCidLength)
    if (isPacketDropped(header)) return { packets, dropped: header }
    if (packets.length > 0 && !bytesEqual(header.dcid, packets[0]!.dcid)) {
      return { packets, dropped: packetDropped("connection-id-mismatch") }
    }
    packets.push(header)
    offset = header.end
  }
  return { packets, dropped: undefined }
}
