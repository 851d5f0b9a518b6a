import type { AeadAlgorithm, HashAlgorithm, HeaderProtectionAlgorithm } from "./backend.js"

/**
 * A TLS 1.3 cipher suite as QUIC packet protection sees it (RFC 9001 §5.3):
 * the AEAD, its key length, the hash that drives HKDF, and the header
 * protection cipher derived from the AEAD.
 */
export interface CipherSuite {
  /** The TLS code point (RFC 8446 §B.4). */
  readonly code: number
  readonly name: string
  readonly aead: AeadAlgorithm
  readonly hash: HashAlgorithm
  readonly headerProtection: HeaderProtectionAlgorithm
  readonly keyLength: 16 | 32
  readonly ivLength: 12
  /**
   * RFC 9001 §6.6: packets that may be sealed under one key before it must be
   * updated (confidentiality limit).
   */
  readonly confidentialityLimit: number
  /** RFC 9001 §6.6: packets that may fail to open under one key before the connection closes. */
  readonly integrityLimit: number
}

export const TLS_AES_128_GCM_SHA256: CipherSuite = {
  code: 0x1301,
  name: "TLS_AES_128_GCM_SHA256",
  aead: "aes-128-gcm",
  hash: "sha256",
  headerProtection: "aes-128",
  keyLength: 16,
  ivLength: 12,
  confidentialityLimit: 2 ** 23,
  integrityLimit: 2 ** 52
}

export const TLS_AES_256_GCM_SHA384: CipherSuite = {
  code: 0x1302,
  name: "TLS_AES_256_GCM_SHA384",
  aead: "aes-256-gcm",
  hash: "sha384",
  headerProtection: "aes-256",
  keyLength: 32,
  ivLength: 12,
  confidentialityLimit: 2 ** 23,
  integrityLimit: 2 ** 52
}

export const TLS_CHACHA20_POLY1305_SHA256: CipherSuite = {
  code: 0x1303,
  name: "TLS_CHACHA20_POLY1305_SHA256",
  aead: "chacha20-poly1305",
  hash: "sha256",
  headerProtection: "chacha20",
  keyLength: 32,
  ivLength: 12,
  // RFC 9001 §6.6: no confidentiality limit applies to ChaCha20-Poly1305 in practice
  // (2^62 exceeds any packet count); its integrity limit is 2^36.
  confidentialityLimit: Number.MAX_SAFE_INTEGER,
  integrityLimit: 2 ** 36
}

export const cipherSuites: ReadonlyArray<CipherSuite> = [
  TLS_AES_128_GCM_SHA256,
  TLS_AES_256_GCM_SHA384,
  TLS_CHACHA20_POLY1305_SHA256
]

export const cipherSuiteByCode = (code: number): CipherSuite | undefined => cipherSuites.find((s) => s.code === code)
