/** TLS 1.3 code points used by QUIC (RFC 8446 §4, §6, §B.3; RFC 9001 §8). */

export const HandshakeType = {
  client_hello: 1,
  server_hello: 2,
  new_session_ticket: 4,
  end_of_early_data: 5,
  encrypted_extensions: 8,
  certificate: 11,
  certificate_request: 13,
  certificate_verify: 15,
  finished: 20,
  key_update: 24,
  /** RFC 8446 §4.4.1: the synthetic message that replaces ClientHello1 after a HelloRetryRequest. */
  message_hash: 254
} as const

export const ExtensionType = {
  server_name: 0,
  supported_groups: 10,
  signature_algorithms: 13,
  application_layer_protocol_negotiation: 16,
  pre_shared_key: 41,
  early_data: 42,
  supported_versions: 43,
  cookie: 44,
  psk_key_exchange_modes: 45,
  certificate_authorities: 47,
  signature_algorithms_cert: 50,
  key_share: 51,
  /** RFC 9001 §8.2. */
  quic_transport_parameters: 0x39
} as const

/** RFC 8446 §6: alert descriptions; QUIC sends them as CRYPTO_ERROR 0x100 + description (RFC 9001 §4.8). */
export const AlertDescription = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_revoked: 44,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  unknown_ca: 48,
  access_denied: 49,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  inappropriate_fallback: 86,
  user_canceled: 90,
  missing_extension: 109,
  unsupported_extension: 110,
  unrecognized_name: 112,
  bad_certificate_status_response: 113,
  unknown_psk_identity: 115,
  certificate_required: 116,
  no_application_protocol: 120
} as const

export const TLS13_VERSION = 0x0304
/** RFC 8446 §4.1.2: legacy_version is always TLS 1.2. */
export const LEGACY_VERSION = 0x0303

/** RFC 8446 §4.2.7 NamedGroup code points for the groups we implement. */
export const NamedGroupCode = { secp256r1: 0x0017, x25519: 0x001d } as const

/** RFC 8446 §4.2.9: the only PSK mode QUIC stacks use is psk_dhe_ke; psk_ke is recognised. */
export const PskKeyExchangeMode = { psk_ke: 0, psk_dhe_ke: 1 } as const

/**
 * RFC 8446 §4.1.3: the ServerHello.random that marks a HelloRetryRequest
 * (SHA-256 of "HelloRetryRequest").
 */
export const HELLO_RETRY_REQUEST_RANDOM = new Uint8Array([
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
  0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c
])
