/**
 * Frame encoding (RFC 9000 §19; RFC 9221 §4).
 *
 * The packetizer sizes each frame with {@link frameLength} before writing it
 * with {@link encodeFrame}; both agree to the byte. Every Frame Type defined
 * so far is below 0x40, so it is written as a single byte, its shortest
 * encoding (§12.4). A frame that cannot be written as the peer would parse it
 * (a negative number, a 21-byte connection ID, a 7-byte PATH_CHALLENGE, ...)
 * is a caller bug and throws `EncodeOverflow`; the semantic limits the
 * decoder enforces (MAX_STREAMS ≤ 2^60, ...) are the caller's to respect.
 */
import { varintLength, varintLengthBig } from "../codec/varint.js"
import { EncodeOverflow, type BufferWriter } from "../codec/writer.js"
import { ackLength, encodeAck } from "./ack.js"
import {
  type Frame,
  FrameType,
  MAX_CONNECTION_ID_LENGTH,
  PATH_DATA_LENGTH,
  RESET_TOKEN_LENGTH,
  streamFrameType
} from "./types.js"

/** The exact number of bytes {@link encodeFrame} writes for `frame`. */
export const frameLength = (frame: Frame): number => {
  switch (frame._tag) {
    case "Padding":
      return frame.length
    case "Ping":
    case "HandshakeDone":
      return 1
    case "Ack":
      return ackLength(frame)
    case "ResetStream":
      return 1 + varintLength(frame.id) + varintLengthBig(frame.errorCode) + varintLength(frame.finalSize)
    case "StopSending":
      return 1 + varintLength(frame.id) + varintLengthBig(frame.errorCode)
    case "Crypto":
      return cryptoFrameHeaderLength(frame.offset, frame.data.length) + frame.data.length
    case "NewToken":
      return 1 + varintLength(frame.token.length) + frame.token.length
    case "Stream":
      return streamFrameHeaderLength(frame.id, frame.offset, frame.data.length, frame.withLength) + frame.data.length
    case "MaxData":
      return 1 + varintLengthBig(frame.max)
    case "MaxStreamData":
      return 1 + varintLength(frame.id) + varintLengthBig(frame.max)
    case "MaxStreams":
      return 1 + varintLengthBig(frame.max)
    case "DataBlocked":
      return 1 + varintLengthBig(frame.limit)
    case "StreamDataBlocked":
      return 1 + varintLength(frame.id) + varintLengthBig(frame.limit)
    case "StreamsBlocked":
      return 1 + varintLengthBig(frame.limit)
    case "NewConnectionId":
      return 1 + varintLength(frame.sequence) + varintLength(frame.retirePriorTo) + 1 + frame.connectionId.length +
        frame.resetToken.length
    case "RetireConnectionId":
      return 1 + varintLength(frame.sequence)
    case "PathChallenge":
    case "PathResponse":
      return 1 + frame.data.length
    case "ConnectionClose":
      return 1 + varintLengthBig(frame.errorCode) + (frame.application ? 0 : varintLengthBig(frame.frameType)) +
        varintLength(frame.reason.length) + frame.reason.length
    case "Datagram":
      return 1 + (frame.withLength ? varintLength(frame.data.length) : 0) + frame.data.length
  }
}

/**
 * RFC 9000 §19.8: the bytes a STREAM frame takes before its data. OFF is set
 * only for a non-zero offset; `withLength` sets LEN, without which the data
 * must fill the rest of the packet.
 */
export const streamFrameHeaderLength = (id: number, offset: number, length: number, withLength: boolean): number =>
  1 + varintLength(id) + (offset !== 0 ? varintLength(offset) : 0) + (withLength ? varintLength(length) : 0)

/** RFC 9000 §19.8: writes a STREAM frame up to its Stream Data, which the caller writes next (`length` bytes). */
export const encodeStreamFrameHeader = (
  writer: BufferWriter,
  id: number,
  offset: number,
  length: number,
  fin: boolean,
  withLength: boolean
): void => {
  writer.u8(streamFrameType(offset, fin, withLength))
  writer.varint(id)
  if (offset !== 0) writer.varint(offset)
  if (withLength) writer.varint(length)
}

/** RFC 9000 §19.6: the bytes a CRYPTO frame takes before its data. */
export const cryptoFrameHeaderLength = (offset: number, length: number): number =>
  1 + varintLength(offset) + varintLength(length)

/** RFC 9000 §19.6: writes a CRYPTO frame up to its Crypto Data, which the caller writes next (`length` bytes). */
export const encodeCryptoFrameHeader = (writer: BufferWriter, offset: number, length: number): void => {
  writer.u8(FrameType.CRYPTO)
  writer.varint(offset)
  writer.varint(length)
}

/** Writes `frame` at the writer's position; exactly {@link frameLength} bytes. */
export const encodeFrame = (writer: BufferWriter, frame: Frame): void => {
  switch (frame._tag) {
    case "Padding":
      return writer.zeros(frame.length)
    case "Ping":
      return writer.u8(FrameType.PING)
    case "Ack":
      return encodeAck(writer, frame)
    case "ResetStream":
      writer.u8(FrameType.RESET_STREAM)
      writer.varint(frame.id)
      writer.varintBig(frame.errorCode)
      return writer.varint(frame.finalSize)
    case "StopSending":
      writer.u8(FrameType.STOP_SENDING)
      writer.varint(frame.id)
      return writer.varintBig(frame.errorCode)
    case "Crypto":
      encodeCryptoFrameHeader(writer, frame.offset, frame.data.length)
      return writer.bytesFrom(frame.data)
    case "NewToken":
      writer.u8(FrameType.NEW_TOKEN)
      writer.varint(frame.token.length)
      return writer.bytesFrom(frame.token)
    case "Stream":
      encodeStreamFrameHeader(writer, frame.id, frame.offset, frame.data.length, frame.fin, frame.withLength)
      return writer.bytesFrom(frame.data)
    case "MaxData":
      writer.u8(FrameType.MAX_DATA)
      return writer.varintBig(frame.max)
    case "MaxStreamData":
      writer.u8(FrameType.MAX_STREAM_DATA)
      writer.varint(frame.id)
      return writer.varintBig(frame.max)
    case "MaxStreams":
      writer.u8(frame.bidi ? FrameType.MAX_STREAMS_BIDI : FrameType.MAX_STREAMS_UNI)
      return writer.varintBig(frame.max)
    case "DataBlocked":
      writer.u8(FrameType.DATA_BLOCKED)
      return writer.varintBig(frame.limit)
    case "StreamDataBlocked":
      writer.u8(FrameType.STREAM_DATA_BLOCKED)
      writer.varint(frame.id)
      return writer.varintBig(frame.limit)
    case "StreamsBlocked":
      writer.u8(frame.bidi ? FrameType.STREAMS_BLOCKED_BIDI : FrameType.STREAMS_BLOCKED_UNI)
      return writer.varintBig(frame.limit)
    case "NewConnectionId":
      // RFC 9000 §19.15: a 1..20-byte connection ID and a 16-byte reset token.
      checkLength(frame.connectionId, 1, MAX_CONNECTION_ID_LENGTH, "NEW_CONNECTION_ID connection ID")
      checkLength(frame.resetToken, RESET_TOKEN_LENGTH, RESET_TOKEN_LENGTH, "Stateless Reset Token")
      writer.u8(FrameType.NEW_CONNECTION_ID)
      writer.varint(frame.sequence)
      writer.varint(frame.retirePriorTo)
      writer.u8(frame.connectionId.length)
      writer.bytesFrom(frame.connectionId)
      return writer.bytesFrom(frame.resetToken)
    case "RetireConnectionId":
      writer.u8(FrameType.RETIRE_CONNECTION_ID)
      return writer.varint(frame.sequence)
    case "PathChallenge":
    case "PathResponse":
      // RFC 9000 §19.17, §19.18: exactly 8 bytes of data.
      checkLength(frame.data, PATH_DATA_LENGTH, PATH_DATA_LENGTH, "PATH_CHALLENGE/PATH_RESPONSE data")
      writer.u8(frame._tag === "PathChallenge" ? FrameType.PATH_CHALLENGE : FrameType.PATH_RESPONSE)
      return writer.bytesFrom(frame.data)
    case "ConnectionClose":
      if (frame.application) {
        writer.u8(FrameType.CONNECTION_CLOSE_APPLICATION)
        writer.varintBig(frame.errorCode)
      } else {
        writer.u8(FrameType.CONNECTION_CLOSE)
        writer.varintBig(frame.errorCode)
        writer.varintBig(frame.frameType)
      }
      writer.varint(frame.reason.length)
      return writer.bytesFrom(frame.reason)
    case "HandshakeDone":
      return writer.u8(FrameType.HANDSHAKE_DONE)
    case "Datagram":
      if (frame.withLength) {
        writer.u8(FrameType.DATAGRAM_WITH_LENGTH)
        writer.varint(frame.data.length)
      } else {
        writer.u8(FrameType.DATAGRAM)
      }
      return writer.bytesFrom(frame.data)
  }
}

const checkLength = (bytes: Uint8Array, min: number, max: number, what: string): void => {
  if (bytes.length < min || bytes.length > max) {
    throw new EncodeOverflow(`${what} must be ${min === max ? min : `${min} to ${max}`} bytes, got ${bytes.length}`)
  }
}
