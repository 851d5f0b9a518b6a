/**
 * Transport error codes (RFC 9000 §20.1) and the error value the core's
 * decoders and state machines return instead of throwing.
 */
export const TransportErrorCode = {
  NO_ERROR: 0x00,
  INTERNAL_ERROR: 0x01,
  CONNECTION_REFUSED: 0x02,
  FLOW_CONTROL_ERROR: 0x03,
  STREAM_LIMIT_ERROR: 0x04,
  STREAM_STATE_ERROR: 0x05,
  FINAL_SIZE_ERROR: 0x06,
  FRAME_ENCODING_ERROR: 0x07,
  TRANSPORT_PARAMETER_ERROR: 0x08,
  CONNECTION_ID_LIMIT_ERROR: 0x09,
  PROTOCOL_VIOLATION: 0x0a,
  INVALID_TOKEN: 0x0b,
  APPLICATION_ERROR: 0x0c,
  CRYPTO_BUFFER_EXCEEDED: 0x0d,
  KEY_UPDATE_ERROR: 0x0e,
  AEAD_LIMIT_REACHED: 0x0f,
  NO_VIABLE_PATH: 0x10,
  /** RFC 9368 §4, §10.2: the version negotiation could not be authenticated (a downgrade attempt). */
  VERSION_NEGOTIATION_ERROR: 0x11,
  /** RFC 9000 §20.1: 0x0100-0x01ff carry a TLS alert in the low byte. */
  CRYPTO_ERROR: 0x100
} as const

export type TransportErrorCode = (typeof TransportErrorCode)[keyof typeof TransportErrorCode]

/**
 * A transport-level failure: the code a CONNECTION_CLOSE frame (type 0x1c)
 * would carry, the frame type that triggered it (0 when none), and a reason
 * for humans and logs.
 */
export interface TransportError {
  readonly _tag: "TransportError"
  readonly code: number
  readonly frameType: number
  readonly reason: string
}

export const transportError = (code: number, reason: string, frameType = 0): TransportError => ({
  _tag: "TransportError",
  code,
  frameType,
  reason
})

export const isTransportError = (value: unknown): value is TransportError =>
  typeof value === "object" && value !== null && (value as { _tag?: unknown })._tag === "TransportError"

/** RFC 9001 §4.8: a TLS alert as a QUIC transport error code. */
export const cryptoError = (alert: number, reason: string): TransportError =>
  transportError(TransportErrorCode.CRYPTO_ERROR + (alert & 0xff), reason)
