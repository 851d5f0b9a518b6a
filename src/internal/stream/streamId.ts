/**
 * Stream IDs (RFC 9000 §2.1): "The least significant bit (0x01) of the stream
 * ID identifies the initiator of the stream. Client-initiated streams have
 * even-numbered stream IDs (with the bit set to 0), and server-initiated
 * streams have odd-numbered stream IDs (with the bit set to 1). The second
 * least significant bit (0x02) of the stream ID distinguishes between
 * bidirectional streams (with the bit set to 0) and unidirectional streams
 * (with the bit set to 1)."
 *
 * IDs are numbers below 2^53 (the frame decoder rejects larger ones), so the
 * arithmetic uses `%` and division, not 32-bit bit operators.
 */
import type { Role } from "../tls/transportParameters.js"

export const isBidi = (id: number): boolean => id % 4 < 2

export const initiator = (id: number): Role => (id % 2 === 0 ? "client" : "server")

/** The stream's position among the streams of its type: the count MAX_STREAMS limits (§4.6). */
export const streamIndex = (id: number): number => Math.floor(id / 4)

export const streamId = (index: number, by: Role, bidi: boolean): number =>
  index * 4 + (bidi ? 0 : 2) + (by === "server" ? 1 : 0)

/**
 * The most streams of one type whose IDs stay below 2^53; a larger
 * MAX_STREAMS (up to 2^60, §19.11) can never be used up.
 */
export const MAX_STREAM_INDEX = Math.floor(Number.MAX_SAFE_INTEGER / 4)
