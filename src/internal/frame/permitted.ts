/**
 * Per-frame-type properties from RFC 9000 §12.4 Table 3 ("Pkts" and "Spec"
 * columns), extended with DATAGRAM (RFC 9221 §4, §5).
 */
import { FrameType } from "./types.js"

/** The packet types that carry frames (RFC 9000 §17.2.2-§17.2.4, §17.3.1). */
export type PacketType = "initial" | "0rtt" | "handshake" | "1rtt"

// Table 3's "Pkts" letters as bits.
const I = 1
const H = 2
const Z = 4 // 0-RTT
const O = 8 // 1-RTT

const packetBit: Record<PacketType, number> = { initial: I, handshake: H, "0rtt": Z, "1rtt": O }

/** RFC 9000 §12.4 Table 3, "Pkts" column; 0 for a type that is not known. */
const permittedPackets = (frameType: number): number => {
  switch (frameType) {
    // IH01
    case FrameType.PADDING:
    case FrameType.PING:
    // "ih": only the QUIC-layer CONNECTION_CLOSE (0x1c) may appear in Initial
    // and Handshake packets (§12.5: 0x1d only in the application data space).
    case FrameType.CONNECTION_CLOSE:
      return I | H | Z | O
    // IH_1: an ACK in 0-RTT could only acknowledge 1-RTT packets, and a client
    // stops sending 0-RTT once it processes 1-RTT (§17.2.3); no handshake
    // data travels at the 0-RTT encryption level.
    case FrameType.ACK:
    case FrameType.ACK_ECN:
    case FrameType.CRYPTO:
      return I | H | O
    // ___1: only a server sends NEW_TOKEN and HANDSHAKE_DONE, and a client
    // only sees a PATH_CHALLENGE to answer in 1-RTT (§12.5).
    case FrameType.NEW_TOKEN:
    case FrameType.PATH_RESPONSE:
    case FrameType.HANDSHAKE_DONE:
      return O
    // __01
    case FrameType.RESET_STREAM:
    case FrameType.STOP_SENDING:
    case FrameType.STREAM:
    case FrameType.STREAM | 1:
    case FrameType.STREAM | 2:
    case FrameType.STREAM | 3:
    case FrameType.STREAM | 4:
    case FrameType.STREAM | 5:
    case FrameType.STREAM | 6:
    case FrameType.STREAM | 7:
    case FrameType.MAX_DATA:
    case FrameType.MAX_STREAM_DATA:
    case FrameType.MAX_STREAMS_BIDI:
    case FrameType.MAX_STREAMS_UNI:
    case FrameType.DATA_BLOCKED:
    case FrameType.STREAM_DATA_BLOCKED:
    case FrameType.STREAMS_BLOCKED_BIDI:
    case FrameType.STREAMS_BLOCKED_UNI:
    case FrameType.NEW_CONNECTION_ID:
    case FrameType.RETIRE_CONNECTION_ID:
    case FrameType.PATH_CHALLENGE:
    case FrameType.CONNECTION_CLOSE_APPLICATION:
    // RFC 9221 §4: DATAGRAM frames belong to the application data space and
    // may be sent in 0-RTT.
    case FrameType.DATAGRAM:
    case FrameType.DATAGRAM_WITH_LENGTH:
      return Z | O
    default:
      return 0
  }
}

/**
 * RFC 9000 §12.4: whether a frame of `frameType` may appear in a packet of
 * `packetType`. Receiving one that may not is a PROTOCOL_VIOLATION.
 */
export const isFramePermitted = (packetType: PacketType, frameType: number): boolean =>
  (permittedPackets(frameType) & packetBit[packetType]) !== 0

/**
 * RFC 9002 §2: "All frames other than ACK, PADDING, and CONNECTION_CLOSE are
 * considered ack-eliciting" (the "N" marking of Table 3). DATAGRAM frames are
 * ack-eliciting (RFC 9221 §5.2).
 */
export const isAckEliciting = (frameType: number): boolean =>
  frameType !== FrameType.PADDING &&
  frameType !== FrameType.ACK &&
  frameType !== FrameType.ACK_ECN &&
  frameType !== FrameType.CONNECTION_CLOSE &&
  frameType !== FrameType.CONNECTION_CLOSE_APPLICATION

/**
 * RFC 9000 §9.1: "PATH_CHALLENGE, PATH_RESPONSE, NEW_CONNECTION_ID, and
 * PADDING frames are 'probing frames', and all other frames are 'non-probing
 * frames'" (the "P" marking of Table 3). A packet of probing frames only does
 * not migrate the connection.
 */
export const isProbing = (frameType: number): boolean =>
  frameType === FrameType.PADDING ||
  frameType === FrameType.PATH_CHALLENGE ||
  frameType === FrameType.PATH_RESPONSE ||
  frameType === FrameType.NEW_CONNECTION_ID
