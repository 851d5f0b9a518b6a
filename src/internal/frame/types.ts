/**
 * QUIC frames (RFC 9000 §19, and DATAGRAM from RFC 9221 §4) as values.
 *
 * Number or bigint, per field. A varint carries up to 2^62-1, but JavaScript
 * numbers are exact only up to 2^53-1, so each field picks a representation:
 *
 * - `bigint`, because the field may legitimately exceed 2^53-1: error codes
 *   (RESET_STREAM, STOP_SENDING, CONNECTION_CLOSE), CONNECTION_CLOSE's
 *   triggering frame type, MAX_DATA, MAX_STREAM_DATA, MAX_STREAMS,
 *   DATA_BLOCKED, STREAM_DATA_BLOCKED and STREAMS_BLOCKED. A peer may grant or
 *   report any credit up to 2^62-1 (2^60 for stream counts) and we must read
 *   it exactly.
 * - `number`, because the field's meaning caps it below 2^53 and the decoder
 *   rejects larger values with a typed error:
 *   - stream IDs: STREAM_LIMIT_ERROR, no endpoint opens 2^51 streams;
 *   - stream offsets and RESET_STREAM's final size: FLOW_CONTROL_ERROR, no
 *     endpoint grants 2^53 bytes of credit (CRYPTO offsets:
 *     CRYPTO_BUFFER_EXCEEDED);
 *   - ACK packet numbers, ACK Delay and ECN counts: PROTOCOL_VIOLATION, they
 *     would acknowledge packets never sent;
 *   - connection ID sequence numbers: PROTOCOL_VIOLATION, never issued;
 *   - lengths: FRAME_ENCODING_ERROR, longer than any packet.
 *
 * Byte fields (`data`, `token`, `connectionId`, `resetToken`, `reason`) are
 * views into the decoded packet payload, never copies: a caller that keeps one
 * past the life of the packet buffer copies it.
 */

/** RFC 9000 §19 and RFC 9221 §4: the Frame Type codes. */
export const FrameType = {
  PADDING: 0x00,
  PING: 0x01,
  ACK: 0x02,
  ACK_ECN: 0x03,
  RESET_STREAM: 0x04,
  STOP_SENDING: 0x05,
  CRYPTO: 0x06,
  NEW_TOKEN: 0x07,
  /** 0x08..0x0f: the low three bits are the {@link StreamFlag}s. */
  STREAM: 0x08,
  MAX_DATA: 0x10,
  MAX_STREAM_DATA: 0x11,
  MAX_STREAMS_BIDI: 0x12,
  MAX_STREAMS_UNI: 0x13,
  DATA_BLOCKED: 0x14,
  STREAM_DATA_BLOCKED: 0x15,
  STREAMS_BLOCKED_BIDI: 0x16,
  STREAMS_BLOCKED_UNI: 0x17,
  NEW_CONNECTION_ID: 0x18,
  RETIRE_CONNECTION_ID: 0x19,
  PATH_CHALLENGE: 0x1a,
  PATH_RESPONSE: 0x1b,
  CONNECTION_CLOSE: 0x1c,
  CONNECTION_CLOSE_APPLICATION: 0x1d,
  HANDSHAKE_DONE: 0x1e,
  DATAGRAM: 0x30,
  DATAGRAM_WITH_LENGTH: 0x31
} as const

/** RFC 9000 §19.8: the low bits of a STREAM frame's type. */
export const StreamFlag = {
  FIN: 0x01,
  LEN: 0x02,
  OFF: 0x04
} as const

/** RFC 9000 §19.11, §19.14: a stream count above 2^60 would need stream IDs beyond 2^62-1. */
export const MAX_STREAM_COUNT = 1n << 60n

/** RFC 9000 §19.15: NEW_CONNECTION_ID carries a connection ID of 1 to 20 bytes. */
export const MAX_CONNECTION_ID_LENGTH = 20

/** RFC 9000 §10.3, §19.15: a Stateless Reset Token is 128 bits. */
export const RESET_TOKEN_LENGTH = 16

/** RFC 9000 §19.17, §19.18: PATH_CHALLENGE and PATH_RESPONSE carry 8 bytes. */
export const PATH_DATA_LENGTH = 8

/** RFC 9000 §19.1: one or more consecutive zero bytes, decoded as one frame. */
export interface Padding {
  readonly _tag: "Padding"
  readonly length: number
}

/** RFC 9000 §19.2. */
export interface Ping {
  readonly _tag: "Ping"
}

/** RFC 9000 §19.3.2: counts of packets received with each ECN codepoint. */
export interface EcnCounts {
  readonly ect0: number
  readonly ect1: number
  readonly ce: number
}

/**
 * RFC 9000 §19.3. The wire's relative form (largest, first range, gap/length
 * pairs) is resolved into absolute packet numbers, which is what both the ACK
 * manager that builds the frame and loss detection that reads it work with.
 */
export interface Ack {
  readonly _tag: "Ack"
  /**
   * Acknowledged ranges, inclusive, as flat `[largest, smallest]` pairs in
   * descending order: `ranges[0]` is the Largest Acknowledged. At least one
   * pair; consecutive ranges are separated by at least one unacknowledged
   * packet (§19.3.1: a Gap of 0 means one missing packet).
   */
  readonly ranges: ReadonlyArray<number>
  /** The raw ACK Delay field; scale by 2^ack_delay_exponent for microseconds (§19.3). */
  readonly delay: number
  /** Present for type 0x03 (§19.3.2). */
  readonly ecn?: EcnCounts
}

/** RFC 9000 §19.4. */
export interface ResetStream {
  readonly _tag: "ResetStream"
  readonly id: number
  readonly errorCode: bigint
  readonly finalSize: number
}

/** RFC 9000 §19.5. */
export interface StopSending {
  readonly _tag: "StopSending"
  readonly id: number
  readonly errorCode: bigint
}

/** RFC 9000 §19.6. */
export interface Crypto {
  readonly _tag: "Crypto"
  readonly offset: number
  readonly data: Uint8Array
}

/** RFC 9000 §19.7. */
export interface NewToken {
  readonly _tag: "NewToken"
  readonly token: Uint8Array
}

/** RFC 9000 §19.8. */
export interface Stream {
  readonly _tag: "Stream"
  readonly id: number
  readonly offset: number
  readonly data: Uint8Array
  readonly fin: boolean
  /**
   * The LEN bit: `true` carries an explicit Length; `false` lets the data run
   * to the end of the packet, so the frame must be the packet's last.
   */
  readonly withLength: boolean
}

/** RFC 9000 §19.9. */
export interface MaxData {
  readonly _tag: "MaxData"
  readonly max: bigint
}

/** RFC 9000 §19.10. */
export interface MaxStreamData {
  readonly _tag: "MaxStreamData"
  readonly id: number
  readonly max: bigint
}

/** RFC 9000 §19.11: type 0x12 (bidirectional) or 0x13 (unidirectional). */
export interface MaxStreams {
  readonly _tag: "MaxStreams"
  readonly bidi: boolean
  readonly max: bigint
}

/** RFC 9000 §19.12. */
export interface DataBlocked {
  readonly _tag: "DataBlocked"
  readonly limit: bigint
}

/** RFC 9000 §19.13. */
export interface StreamDataBlocked {
  readonly _tag: "StreamDataBlocked"
  readonly id: number
  readonly limit: bigint
}

/** RFC 9000 §19.14: type 0x16 (bidirectional) or 0x17 (unidirectional). */
export interface StreamsBlocked {
  readonly _tag: "StreamsBlocked"
  readonly bidi: boolean
  readonly limit: bigint
}

/** RFC 9000 §19.15. */
export interface NewConnectionId {
  readonly _tag: "NewConnectionId"
  readonly sequence: number
  readonly retirePriorTo: number
  /** 1 to 20 bytes. */
  readonly connectionId: Uint8Array
  /** 16 bytes. */
  readonly resetToken: Uint8Array
}

/** RFC 9000 §19.16. */
export interface RetireConnectionId {
  readonly _tag: "RetireConnectionId"
  readonly sequence: number
}

/** RFC 9000 §19.17. */
export interface PathChallenge {
  readonly _tag: "PathChallenge"
  /** 8 bytes. */
  readonly data: Uint8Array
}

/** RFC 9000 §19.18. */
export interface PathResponse {
  readonly _tag: "PathResponse"
  /** 8 bytes. */
  readonly data: Uint8Array
}

/**
 * RFC 9000 §19.19: type 0x1c reports a transport error and names the frame
 * type that caused it; type 0x1d carries an application error and has no
 * Frame Type field.
 */
export type ConnectionClose =
  | {
    readonly _tag: "ConnectionClose"
    readonly application: false
    readonly errorCode: bigint
    readonly frameType: bigint
    /** Raw bytes; §19.19 says SHOULD be UTF-8, so decoding is the reader's call. */
    readonly reason: Uint8Array
  }
  | {
    readonly _tag: "ConnectionClose"
    readonly application: true
    readonly errorCode: bigint
    readonly reason: Uint8Array
  }

/** RFC 9000 §19.20. */
export interface HandshakeDone {
  readonly _tag: "HandshakeDone"
}

/** RFC 9221 §4: type 0x30 runs to the end of the packet, 0x31 has a Length. */
export interface Datagram {
  readonly _tag: "Datagram"
  readonly data: Uint8Array
  readonly withLength: boolean
}

export type Frame =
  | Padding
  | Ping
  | Ack
  | ResetStream
  | StopSending
  | Crypto
  | NewToken
  | Stream
  | MaxData
  | MaxStreamData
  | MaxStreams
  | DataBlocked
  | StreamDataBlocked
  | StreamsBlocked
  | NewConnectionId
  | RetireConnectionId
  | PathChallenge
  | PathResponse
  | ConnectionClose
  | HandshakeDone
  | Datagram

/**
 * The Frame Type the encoder writes for `frame`. A STREAM frame sets OFF only
 * for a non-zero offset, the shortest form §19.8 allows.
 */
export const frameTypeOf = (frame: Frame): number => {
  switch (frame._tag) {
    case "Padding":
      return FrameType.PADDING
    case "Ping":
      return FrameType.PING
    case "Ack":
      return frame.ecn === undefined ? FrameType.ACK : FrameType.ACK_ECN
    case "ResetStream":
      return FrameType.RESET_STREAM
    case "StopSending":
      return FrameType.STOP_SENDING
    case "Crypto":
      return FrameType.CRYPTO
    case "NewToken":
      return FrameType.NEW_TOKEN
    case "Stream":
      return streamFrameType(frame.offset, frame.fin, frame.withLength)
    case "MaxData":
      return FrameType.MAX_DATA
    case "MaxStreamData":
      return FrameType.MAX_STREAM_DATA
    case "MaxStreams":
      return frame.bidi ? FrameType.MAX_STREAMS_BIDI : FrameType.MAX_STREAMS_UNI
    case "DataBlocked":
      return FrameType.DATA_BLOCKED
    case "StreamDataBlocked":
      return FrameType.STREAM_DATA_BLOCKED
    case "StreamsBlocked":
      return frame.bidi ? FrameType.STREAMS_BLOCKED_BIDI : FrameType.STREAMS_BLOCKED_UNI
    case "NewConnectionId":
      return FrameType.NEW_CONNECTION_ID
    case "RetireConnectionId":
      return FrameType.RETIRE_CONNECTION_ID
    case "PathChallenge":
      return FrameType.PATH_CHALLENGE
    case "PathResponse":
      return FrameType.PATH_RESPONSE
    case "ConnectionClose":
      return frame.application ? FrameType.CONNECTION_CLOSE_APPLICATION : FrameType.CONNECTION_CLOSE
    case "HandshakeDone":
      return FrameType.HANDSHAKE_DONE
    case "Datagram":
      return frame.withLength ? FrameType.DATAGRAM_WITH_LENGTH : FrameType.DATAGRAM
  }
}

/** RFC 9000 §19.8: 0b00001XXX with the OFF, LEN and FIN bits. */
export const streamFrameType = (offset: number, fin: boolean, withLength: boolean): number =>
  FrameType.STREAM |
  (offset !== 0 ? StreamFlag.OFF : 0) |
  (withLength ? StreamFlag.LEN : 0) |
  (fin ? StreamFlag.FIN : 0)
