import { AlertDescription } from "./constants.js"

/**
 * A TLS failure: the alert the handshake ends with (RFC 8446 §6.2) and a
 * reason for logs. QUIC carries it as CRYPTO_ERROR 0x100 + description
 * (RFC 9001 §4.8); nothing in the handshake throws.
 */
export interface TlsAlert {
  readonly _tag: "TlsAlert"
  readonly description: number
  readonly reason: string
}

export const tlsAlert = (description: number, reason: string): TlsAlert => ({ _tag: "TlsAlert", description, reason })

export const isTlsAlert = (value: unknown): value is TlsAlert =>
  typeof value === "object" && value !== null && (value as { _tag?: unknown })._tag === "TlsAlert"

export const decodeError = (what: string): TlsAlert => tlsAlert(AlertDescription.decode_error, `malformed ${what}`)

export const unexpectedMessage = (what: string): TlsAlert => tlsAlert(AlertDescription.unexpected_message, what)

export const illegalParameter = (what: string): TlsAlert => tlsAlert(AlertDescription.illegal_parameter, what)

export const missingExtension = (what: string): TlsAlert => tlsAlert(AlertDescription.missing_extension, what)
