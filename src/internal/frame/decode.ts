/**
 * Frame decoding (RFC 9000 §12.4, §19; RFC 9221 §4).
 *
 * Decoders never throw: bytes from a peer yield a {@link Frame} or a
 * {@link TransportError} carrying the code the RFC calls for and the offending
 * frame type. Byte fields are views into the payload, never copies, and the
 * only allocation is the frame itself (plus an ACK's range array).
 */
import { BufferReader } from "../codec/reader.js"
import { VARINT_UNSAFE, varintLength } from "../codec/varint.js"
import { type TransportError, TransportErrorCode, transportError } from "../errors.js"
import { decodeAckBody } from "./ack.js"
import { isFramePermitted, type PacketType } from "./permitted.js"
import {
  type Frame,
  FrameType,
  MAX_CONNECTION_ID_LENGTH,
  MAX_STREAM_COUNT,
  PATH_DATA_LENGTH,
  RESET_TOKEN_LENGTH,
  StreamFlag
} from "./types.js"

/**
 * Decodes every frame of a packet payload and checks each against the packet
 * type (RFC 9000 §12.4, Table 3).
 */
export const decodeFrames = (payload: Uint8Array, packetType: PacketType): Array<Frame> | TransportError => {
  // RFC 9000 §12.4: "An endpoint MUST treat receipt of a packet containing no
  // frames as a connection error of type PROTOCOL_VIOLATION."
  if (payload.length === 0) return transportError(TransportErrorCode.PROTOCOL_VIOLATION, "packet with no frames")
  const reader = new BufferReader(payload)
  const frames: Array<Frame> = []
  while (reader.remaining > 0) {
    const type = readFrameType(reader)
    if (typeof type !== "number") return type
    // The body is decoded before the packet type is checked, so an unknown
    // type stays FRAME_ENCODING_ERROR (§12.4) wherever it appears.
    const frame = decodeFrameBody(reader, type)
    if (frame._tag === "TransportError") return frame
    // RFC 9000 §12.4: "An endpoint MUST treat receipt of a frame in a packet
    // type that is not permitted as a connection error of type PROTOCOL_VIOLATION."
    if (!isFramePermitted(packetType, type)) {
      return transportError(TransportErrorCode.PROTOCOL_VIOLATION, `frame not permitted in ${packetType} packet`, type)
    }
    frames.push(frame)
  }
  return frames
}

/**
 * Decodes one frame at the reader's position and leaves the reader after it.
 * A frame whose data runs to the end of the packet (STREAM without LEN,
 * DATAGRAM 0x30) consumes up to the reader's `end`.
 */
export const decodeFrame = (reader: BufferReader): Frame | TransportError => {
  const type = readFrameType(reader)
  return typeof type === "number" ? decodeFrameBody(reader, type) : type
}

/** The Frame Type, rejected when absent, unrepresentable or not minimally encoded. */
const readFrameType = (reader: BufferReader): number | TransportError => {
  const start = reader.offset
  const type = reader.varint()
  if (reader.failed) return transportError(TransportErrorCode.FRAME_ENCODING_ERROR, "truncated frame type")
  // A type above 2^53-1 is not one we know (they all fit in one byte), and
  // §12.4 makes unknown types FRAME_ENCODING_ERROR; 0 stands in for a type
  // too large for the error's number field.
  if (type === VARINT_UNSAFE) return unknownType(0)
  // RFC 9000 §12.4: "a frame type MUST use the shortest possible encoding ...
  // An endpoint MAY treat the receipt of a frame type that uses a longer
  // encoding than necessary as a connection error of type PROTOCOL_VIOLATION."
  if (reader.offset - start !== varintLength(type)) {
    return transportError(TransportErrorCode.PROTOCOL_VIOLATION, "frame type not minimally encoded", type)
  }
  return type
}

const unknownType = (type: number): TransportError =>
  transportError(TransportErrorCode.FRAME_ENCODING_ERROR, "unknown frame type", type)

const truncated = (type: number): TransportError =>
  transportError(TransportErrorCode.FRAME_ENCODING_ERROR, "truncated frame", type)

/** Stream IDs are numbers: an ID above 2^53-1 exceeds any stream limit we grant. */
const streamIdTooLarge = (type: number): TransportError =>
  transportError(TransportErrorCode.STREAM_LIMIT_ERROR, "stream ID beyond any stream limit", type)

/** Stream offsets are numbers: data above 2^53-1 exceeds any credit we grant. */
const beyondFlowControl = (type: number): TransportError =>
  transportError(TransportErrorCode.FLOW_CONTROL_ERROR, "stream data beyond any flow control limit", type)

const decodeFrameBody = (reader: BufferReader, type: number): Frame | TransportError => {
  switch (type) {
    case FrameType.PADDING:
      return decodePadding(reader)
    case FrameType.PING:
      return { _tag: "Ping" }
    case FrameType.ACK:
    case FrameType.ACK_ECN:
      return decodeAckBody(reader, type)
    case FrameType.RESET_STREAM: {
      const id = reader.varint()
      const errorCode = reader.varintBig()
      const finalSize = reader.varint()
      if (reader.failed) return truncated(type)
      if (id === VARINT_UNSAFE) return streamIdTooLarge(type)
      if (finalSize === VARINT_UNSAFE) return beyondFlowControl(type)
      return { _tag: "ResetStream", id, errorCode, finalSize }
    }
    case FrameType.STOP_SENDING: {
      const id = reader.varint()
      const errorCode = reader.varintBig()
      if (reader.failed) return truncated(type)
      if (id === VARINT_UNSAFE) return streamIdTooLarge(type)
      return { _tag: "StopSending", id, errorCode }
    }
    case FrameType.CRYPTO: {
      const offset = reader.varint()
      const data = reader.bytesView(reader.varint())
      if (reader.failed) return truncated(type)
      // RFC 9000 §19.6: offset + length beyond 2^62-1 is FRAME_ENCODING_ERROR
      // or CRYPTO_BUFFER_EXCEEDED; with number offsets the bound is 2^53-1,
      // far more handshake data than any buffer holds.
      if (offset === VARINT_UNSAFE || offset + data.length > Number.MAX_SAFE_INTEGER) {
        return transportError(TransportErrorCode.CRYPTO_BUFFER_EXCEEDED, "CRYPTO data beyond any buffer", type)
      }
      return { _tag: "Crypto", offset, data }
    }
    case FrameType.NEW_TOKEN: {
      const token = reader.bytesView(reader.varint())
      if (reader.failed) return truncated(type)
      // RFC 9000 §19.7: "A client MUST treat receipt of a NEW_TOKEN frame with
      // an empty Token field as a connection error of type FRAME_ENCODING_ERROR."
      if (token.length === 0) return transportError(TransportErrorCode.FRAME_ENCODING_ERROR, "empty NEW_TOKEN", type)
      return { _tag: "NewToken", token }
    }
    case FrameType.STREAM:
    case FrameType.STREAM | 1:
    case FrameType.STREAM | 2:
    case FrameType.STREAM | 3:
    case FrameType.STREAM | 4:
    case FrameType.STREAM | 5:
    case FrameType.STREAM | 6:
    case FrameType.STREAM | 7:
      return decodeStream(reader, type)
    case FrameType.MAX_DATA: {
      const max = reader.varintBig()
      if (reader.failed) return truncated(type)
      return { _tag: "MaxData", max }
    }
    case FrameType.MAX_STREAM_DATA: {
      const id = reader.varint()
      const max = reader.varintBig()
      if (reader.failed) return truncated(type)
      if (id === VARINT_UNSAFE) return streamIdTooLarge(type)
      return { _tag: "MaxStreamData", id, max }
    }
    case FrameType.MAX_STREAMS_BIDI:
    case FrameType.MAX_STREAMS_UNI: {
      const max = reader.varintBig()
      if (reader.failed) return truncated(type)
      // RFC 9000 §19.11: "Receipt of a frame that permits opening of a stream
      // larger than this limit MUST be treated as a connection error of type
      // FRAME_ENCODING_ERROR."
      if (max > MAX_STREAM_COUNT) {
        return transportError(TransportErrorCode.FRAME_ENCODING_ERROR, "MAX_STREAMS above 2^60", type)
      }
      return { _tag: "MaxStreams", bidi: type === FrameType.MAX_STREAMS_BIDI, max }
    }
    case FrameType.DATA_BLOCKED: {
      const limit = reader.varintBig()
      if (reader.failed) return truncated(type)
      return { _tag: "DataBlocked", limit }
    }
    case FrameType.STREAM_DATA_BLOCKED: {
      const id = reader.varint()
      const limit = reader.varintBig()
      if (reader.failed) return truncated(type)
      if (id === VARINT_UNSAFE) return streamIdTooLarge(type)
      return { _tag: "StreamDataBlocked", id, limit }
    }
    case FrameType.STREAMS_BLOCKED_BIDI:
    case FrameType.STREAMS_BLOCKED_UNI: {
      const limit = reader.varintBig()
      if (reader.failed) return truncated(type)
      // RFC 9000 §19.14: a value above 2^60 MUST be treated as
      // STREAM_LIMIT_ERROR or FRAME_ENCODING_ERROR; we use the latter, as for
      // MAX_STREAMS.
      if (limit > MAX_STREAM_COUNT) {
        return transportError(TransportErrorCode.FRAME_ENCODING_ERROR, "STREAMS_BLOCKED above 2^60", type)
      }
      return { _tag: "StreamsBlocked", bidi: type === FrameType.STREAMS_BLOCKED_BIDI, limit }
    }
    case FrameType.NEW_CONNECTION_ID:
      return decodeNewConnectionId(reader, type)
    case FrameType.RETIRE_CONNECTION_ID: {
      const sequence = reader.varint()
      if (reader.failed) return truncated(type)
      if (sequence === VARINT_UNSAFE) return sequenceNeverIssued(type)
      return { _tag: "RetireConnectionId", sequence }
    }
    case FrameType.PATH_CHALLENGE: {
      const data = reader.bytesView(PATH_DATA_LENGTH)
      if (reader.failed) return truncated(type)
      return { _tag: "PathChallenge", data }
    }
    case FrameType.PATH_RESPONSE: {
      const data = reader.bytesView(PATH_DATA_LENGTH)
      if (reader.failed) return truncated(type)
      return { _tag: "PathResponse", data }
    }
    case FrameType.CONNECTION_CLOSE: {
      const errorCode = reader.varintBig()
      const frameType = reader.varintBig()
      const reason = reader.bytesView(reader.varint())
      if (reader.failed) return truncated(type)
      return { _tag: "ConnectionClose", application: false, errorCode, frameType, reason }
    }
    case FrameType.CONNECTION_CLOSE_APPLICATION: {
      const errorCode = reader.varintBig()
      const reason = reader.bytesView(reader.varint())
      if (reader.failed) return truncated(type)
      return { _tag: "ConnectionClose", application: true, errorCode, reason }
    }
    case FrameType.HANDSHAKE_DONE:
      return { _tag: "HandshakeDone" }
    case FrameType.DATAGRAM:
      // RFC 9221 §4: without a Length, the Datagram Data runs to the end of the packet.
      return { _tag: "Datagram", data: reader.bytesView(reader.remaining), withLength: false }
    case FrameType.DATAGRAM_WITH_LENGTH: {
      const data = reader.bytesView(reader.varint())
      if (reader.failed) return truncated(type)
      return { _tag: "Datagram", data, withLength: true }
    }
    default:
      return unknownType(type)
  }
}

/**
 * RFC 9000 §19.1: PADDING is a single zero byte; a run of them is reported
 * as one frame so a padded packet costs one object, not one per byte.
 */
const decodePadding = (reader: BufferReader): Frame => {
  const bytes = reader.bytes
  const start = reader.offset
  let end = start
  while (end < reader.end && bytes[end] === 0) end++
  reader.offset = end
  // The Frame Type byte already read is the first byte of padding.
  return { _tag: "Padding", length: end - start + 1 }
}

const decodeStream = (reader: BufferReader, type: number): Frame | TransportError => {
  const id = reader.varint()
  // RFC 9000 §19.8: without OFF the offset is 0; without LEN the data runs
  // to the end of the packet.
  const offset = (type & StreamFlag.OFF) !== 0 ? reader.varint() : 0
  const withLength = (type & StreamFlag.LEN) !== 0
  const data = reader.bytesView(withLength ? reader.varint() : reader.remaining)
  if (reader.failed) return truncated(type)
  if (id === VARINT_UNSAFE) return streamIdTooLarge(type)
  // RFC 9000 §19.8: offset + length beyond 2^62-1 MUST be FRAME_ENCODING_ERROR
  // or FLOW_CONTROL_ERROR. Offsets are numbers, so the bound is 2^53-1, which
  // no flow control credit we grant reaches.
  if (offset === VARINT_UNSAFE || offset + data.length > Number.MAX_SAFE_INTEGER) return beyondFlowControl(type)
  return { _tag: "Stream", id, offset, data, fin: (type & StreamFlag.FIN) !== 0, withLength }
}

const sequenceNeverIssued = (type: number): TransportError =>
  transportError(TransportErrorCode.PROTOCOL_VIOLATION, "connection ID sequence number never issued", type)

const decodeNewConnectionId = (reader: BufferReader, type: number): Frame | TransportError => {
  const sequence = reader.varint()
  const retirePriorTo = reader.varint()
  const length = reader.u8()
  if (reader.failed) return truncated(type)
  // RFC 9000 §19.15: "Values less than 1 and greater than 20 are invalid and
  // MUST be treated as a connection error of type FRAME_ENCODING_ERROR."
  if (length < 1 || length > MAX_CONNECTION_ID_LENGTH) {
    return transportError(TransportErrorCode.FRAME_ENCODING_ERROR, "connection ID length outside 1..20", type)
  }
  const connectionId = reader.bytesView(length)
  const resetToken = reader.bytesView(RESET_TOKEN_LENGTH)
  if (reader.failed) return truncated(type)
  if (sequence === VARINT_UNSAFE) return sequenceNeverIssued(type)
  // RFC 9000 §19.15: "Receiving a value in the Retire Prior To field that is
  // greater than that in the Sequence Number field MUST be treated as a
  // connection error of type FRAME_ENCODING_ERROR." The sequence is at most
  // 2^53-1 here, so an unsafe Retire Prior To is always greater.
  if (retirePriorTo === VARINT_UNSAFE || retirePriorTo > sequence) {
    return transportError(TransportErrorCode.FRAME_ENCODING_ERROR, "Retire Prior To above Sequence Number", type)
  }
  return { _tag: "NewConnectionId", sequence, retirePriorTo, connectionId, resetToken }
}
