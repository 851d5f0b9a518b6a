/**
 * The cryptography the core needs, supplied from outside (ARCHITECTURE.md §1).
 *
 * Everything here is synchronous so the core stays a plain state machine.
 * Objects returned by the `create*` methods hold precomputed key state and are
 * reused for every packet under that key.
 */

/** Hash functions used by TLS 1.3 cipher suites and QUIC. */
export type HashAlgorithm = "sha256" | "sha384"

/** The AEADs of the TLS 1.3 cipher suites QUIC uses (RFC 9001 §5.3). */
export type AeadAlgorithm = "aes-128-gcm" | "aes-256-gcm" | "chacha20-poly1305"

/** Header-protection ciphers (RFC 9001 §5.4.3, §5.4.4). */
export type HeaderProtectionAlgorithm = "aes-128" | "aes-256" | "chacha20"

/** The authentication tag length of every QUIC AEAD. */
export const AEAD_TAG_LENGTH = 16

/** An AEAD bound to one key. */
export interface Aead {
  /**
   * Encrypts `plaintext` and writes ciphertext followed by the 16-byte tag to
   * `out` starting at `outOffset`. `plaintext` may be the very region it is
   * written over (in-place sealing); it must not overlap otherwise.
   */
  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, outOffset: number): void
  /**
   * Authenticates and decrypts `ciphertext` (which ends with the tag) and
   * writes the plaintext to `out` at `outOffset`, which may be where the
   * ciphertext starts. Returns false, writing nothing useful, when
   * authentication fails.
   */
  open(nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array, outOffset: number): boolean
}

/** A header-protection cipher bound to one key (RFC 9001 §5.4.1). */
export interface HeaderProtection {
  /** Writes the 5-byte mask for the 16-byte `sample` into `mask`. */
  mask(sample: Uint8Array, mask: Uint8Array): void
}

/** The cryptographic primitives the sans-IO core consumes. */
export interface CryptoBackend {
  /** A short name for logs and benchmarks, e.g. "node" or "noble". */
  readonly name: string
  createAead(algorithm: AeadAlgorithm, key: Uint8Array): Aead
  createHeaderProtection(algorithm: HeaderProtectionAlgorithm, key: Uint8Array): HeaderProtection
  hash(algorithm: HashAlgorithm, data: Uint8Array): Uint8Array
  hmac(algorithm: HashAlgorithm, key: Uint8Array, data: Uint8Array): Uint8Array
  /** RFC 5869 HKDF-Extract. */
  hkdfExtract(algorithm: HashAlgorithm, salt: Uint8Array, ikm: Uint8Array): Uint8Array
  /** RFC 5869 HKDF-Expand. */
  hkdfExpand(algorithm: HashAlgorithm, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array
  /** Fills `out` with cryptographically secure random bytes. */
  randomBytes(out: Uint8Array): void
}

/** Output length in bytes of each hash. */
export const hashLength = (algorithm: HashAlgorithm): 32 | 48 => (algorithm === "sha256" ? 32 : 48)
