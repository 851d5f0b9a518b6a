/**
 * Frames as qlog describes them (draft-ietf-quic-qlog-quic-events §8.13):
 * from decoded frames (packets received, and packets sent: their plaintext
 * is decoded just before it is sealed), and from what the connection keeps
 * of a sent packet (lost packets).
 */
import { toHex } from "../codec/hex.js"
import type { SentFrames } from "../connection/sentFrames.js"
import { TransportErrorCode } from "../errors.js"
import { decodeFrames } from "../frame/decode.js"
import type { PacketType } from "../frame/permitted.js"
import type { Frame } from "../frame/types.js"
import type { SentStreamFrame } from "../stream/streams.js"
import type { QlogFrame, QlogStreamType } from "./types.js"

/** A varint field kept as bigint: a number while exact, else its decimal string. */
const uint = (value: bigint): number | string => (value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString())

const streamType = (bidi: boolean): QlogStreamType => (bidi ? "bidirectional" : "unidirectional")

const transportErrorNames: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(TransportErrorCode).map(([name, code]) => [code, name.toLowerCase()])
)

/** quic-events §8.11: the name of a transport error code; TLS alerts are crypto_error_0x1NN. */
export const transportErrorName = (code: number): string | number =>
  code > TransportErrorCode.CRYPTO_ERROR && code <= 0x1ff
    ? `crypto_error_0x${code.toString(16)}`
    : transportErrorNames[code] ?? code

const utf8 = new TextDecoder("utf-8", { fatal: false })

/**
 * One frame. `ackDelayExponent` scales an ACK's delay field to time (the
 * sender's exponent; 3 in Initial and Handshake packets, RFC 9000 §19.3).
 */
export const describeFrame = (frame: Frame, ackDelayExponent: number): QlogFrame => {
  switch (frame._tag) {
    case "Padding":
      return { frame_type: "padding", length: frame.length, payload_length: frame.length }
    case "Ping":
      return { frame_type: "ping" }
    case "Ack": {
      const ranges: Array<readonly [number, number]> = []
      for (let i = frame.ranges.length - 2; i >= 0; i -= 2) ranges.push([frame.ranges[i + 1]!, frame.ranges[i]!])
      return {
        frame_type: "ack",
        ack_delay: (frame.delay * 2 ** ackDelayExponent) / 1000,
        acked_ranges: ranges,
        ...(frame.ecn === undefined ? {} : { ect0: frame.ecn.ect0, ect1: frame.ecn.ect1, ce: frame.ecn.ce })
      }
    }
    case "ResetStream":
      return { frame_type: "reset_stream", stream_id: frame.id, error_code: uint(frame.errorCode), final_size: frame.finalSize }
    case "StopSending":
      return { frame_type: "stop_sending", stream_id: frame.id, error_code: uint(frame.errorCode) }
    case "Crypto":
      return { frame_type: "crypto", offset: frame.offset, length: frame.data.length }
    case "NewToken":
      return { frame_type: "new_token", token: { raw: { length: frame.token.length } } }
    case "Stream":
      return { frame_type: "stream", stream_id: frame.id, offset: frame.offset, length: frame.data.length, fin: frame.fin }
    case "MaxData":
      return { frame_type: "max_data", maximum: uint(frame.max) }
    case "MaxStreamData":
      return { frame_type: "max_stream_data", stream_id: frame.id, maximum: uint(frame.max) }
    case "MaxStreams":
      return { frame_type: "max_streams", stream_type: streamType(frame.bidi), maximum: uint(frame.max) }
    case "DataBlocked":
      return { frame_type: "data_blocked", limit: uint(frame.limit) }
    case "StreamDataBlocked":
      return { frame_type: "stream_data_blocked", stream_id: frame.id, limit: uint(frame.limit) }
    case "StreamsBlocked":
      return { frame_type: "streams_blocked", stream_type: streamType(frame.bidi), limit: uint(frame.limit) }
    case "NewConnectionId":
      return {
        frame_type: "new_connection_id",
        sequence_number: frame.sequence,
        retire_prior_to: frame.retirePriorTo,
        connection_id_length: frame.connectionId.length,
        connection_id: toHex(frame.connectionId),
        stateless_reset_token: toHex(frame.resetToken)
      }
    case "RetireConnectionId":
      return { frame_type: "retire_connection_id", sequence_number: frame.sequence }
    case "PathChallenge":
      return { frame_type: "path_challenge", data: toHex(frame.data) }
    case "PathResponse":
      return { frame_type: "path_response", data: toHex(frame.data) }
    case "ConnectionClose":
      return frame.application
        ? {
          frame_type: "connection_close",
          error_space: "application",
          error_code: uint(frame.errorCode),
          raw_error_code: uint(frame.errorCode),
          reason: utf8.decode(frame.reason)
        }
        : {
          frame_type: "connection_close",
          error_space: "transport",
          error_code: frame.errorCode <= 0x1ffn ? transportErrorName(Number(frame.errorCode)) : uint(frame.errorCode),
          raw_error_code: uint(frame.errorCode),
          reason: utf8.decode(frame.reason),
          trigger_frame_type: uint(frame.frameType)
        }
    case "HandshakeDone":
      return { frame_type: "handshake_done" }
    case "Datagram":
      return { frame_type: "datagram", length: frame.data.length }
  }
}

/** Every frame of a plaintext packet payload; empty if it does not decode (it always should: we wrote it). */
export const describePayload = (payload: Uint8Array, packetType: PacketType, ackDelayExponent: number): Array<QlogFrame> => {
  const frames = decodeFrames(payload, packetType)
  if (!Array.isArray(frames)) return []
  const out: Array<QlogFrame> = new Array(frames.length)
  for (let i = 0; i < frames.length; i++) out[i] = describeFrame(frames[i]!, ackDelayExponent)
  return out
}

const describeStreamRecord = (record: SentStreamFrame): QlogFrame => {
  switch (record._tag) {
    case "Stream":
      return { frame_type: "stream", stream_id: record.id, offset: record.offset, length: record.length, fin: record.fin }
    case "ResetStream":
      return { frame_type: "reset_stream", stream_id: record.id }
    case "StopSending":
      return { frame_type: "stop_sending", stream_id: record.id }
    case "MaxData":
      return { frame_type: "max_data", maximum: record.max }
    case "MaxStreamData":
      return { frame_type: "max_stream_data", stream_id: record.id, maximum: record.max }
    case "MaxStreams":
      return { frame_type: "max_streams", stream_type: streamType(record.bidi), maximum: record.max }
    case "DataBlocked":
      return { frame_type: "data_blocked", limit: record.limit }
    case "StreamDataBlocked":
      return { frame_type: "stream_data_blocked", stream_id: record.id, limit: record.limit }
    case "StreamsBlocked":
      return { frame_type: "streams_blocked", stream_type: streamType(record.bidi), limit: record.limit }
  }
}

/**
 * The retransmittable frames of a sent packet, from what the connection keeps
 * of it (sentFrames.ts): enough to see what a lost packet took with it.
 * ACK, PADDING, PING, PATH_RESPONSE and DATAGRAM frames are not kept, so not listed.
 */
export const describeSentFrames = (sent: SentFrames<SentStreamFrame>): Array<QlogFrame> => {
  const out: Array<QlogFrame> = []
  const crypto = sent.crypto
  if (crypto !== undefined) for (let i = 0; i < crypto.length; i += 2) out.push({ frame_type: "crypto", offset: crypto[i]!, length: crypto[i + 1]! })
  if (sent.handshakeDone) out.push({ frame_type: "handshake_done" })
  if (sent.pathChallenge !== undefined) out.push({ frame_type: "path_challenge", data: toHex(sent.pathChallenge) })
  if (sent.newConnectionIds !== undefined) for (const sequence of sent.newConnectionIds) out.push({ frame_type: "new_connection_id", sequence_number: sequence })
  if (sent.retiredConnectionIds !== undefined) {
    for (const sequence of sent.retiredConnectionIds) out.push({ frame_type: "retire_connection_id", sequence_number: sequence })
  }
  if (sent.newToken !== undefined) out.push({ frame_type: "new_token", token: { raw: { length: sent.newToken.length } } })
  if (sent.streams !== undefined) for (const record of sent.streams) out.push(describeStreamRecord(record))
  return out
}
