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

/** Key length of each AEAD, bytes. */
export const AEAD_KEY_LENGTH: Readonly<Record<AeadAlgorithm, number>> = {
  "aes-128-gcm": 16,
  "aes-256-gcm": 32,
  "chacha20-poly1305": 32
}

/** Key length of each header-protection cipher, bytes. */
export const HP_KEY_LENGTH: Readonly<Record<HeaderProtectionAlgorithm, number>> = {
  "aes-128": 16,
  "aes-256": 32,
  chacha20: 32
}

/** RFC 9001 §5.4.2: header protection samples 16 bytes and masks 5. */
export const HP_SAMPLE_LENGTH = 16
export const HP_MASK_LENGTH = 5

/** Throws a RangeError unless `key` is `expected` bytes long (every backend's `create*` checks this). */
export const checkKeyLength = (algorithm: string, key: Uint8Array, expected: number): void => {
  if (key.length !== expected) {
    throw new RangeError(`${algorithm}: key must be ${expected} bytes, got ${key.length}`)
  }
}

/** Throws a RangeError unless {@link HeaderProtection.mask} has a whole sample to read and room for the mask. */
export const checkMaskArguments = (sample: Uint8Array, mask: Uint8Array): void => {
  if (sample.length < HP_SAMPLE_LENGTH) throw new RangeError("header protection: sample must be 16 bytes")
  if (mask.length < HP_MASK_LENGTH) throw new RangeError("header protection: mask must hold 5 bytes")
}

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

/**
 * An incremental hash, for a TLS transcript (RFC 8446 §4.4.1): `digest` is a
 * snapshot, so messages may still be added after it.
 */
export interface RunningHash {
  update(data: Uint8Array): void
  /** The hash of everything given to `update` so far. */
  digest(): Uint8Array
  /** An independent hash that has seen what this one has. */
  copy(): RunningHash
}

/** The cryptographic primitives the sans-IO core consumes. */
export interface CryptoBackend extends AsymmetricCrypto {
  /** A short name for logs and benchmarks, e.g. "node" or "noble". */
  readonly name: string
  createAead(algorithm: AeadAlgorithm, key: Uint8Array): Aead
  createHeaderProtection(algorithm: HeaderProtectionAlgorithm, key: Uint8Array): HeaderProtection
  hash(algorithm: HashAlgorithm, data: Uint8Array): Uint8Array
  createHash(algorithm: HashAlgorithm): RunningHash
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

/** TLS 1.3 key-exchange groups this stack speaks (RFC 8446 §4.2.7). */
export type NamedGroup = "x25519" | "secp256r1"

/** An ephemeral key pair for one handshake (RFC 8446 §4.2.8). */
export interface KeyShare {
  readonly group: NamedGroup
  /** The public value as sent in a KeyShareEntry: 32 bytes for x25519, an uncompressed SEC1 point for secp256r1. */
  readonly publicKey: Uint8Array
  /**
   * The (EC)DHE shared secret with the peer's public value, or `undefined` when
   * that value is malformed, not on the curve, or yields an all-zero x25519
   * secret (RFC 8446 §7.4.2). Never throws.
   */
  computeSecret(peerPublicKey: Uint8Array): Uint8Array | undefined
}

/** Elliptic curves of ECDSA keys. */
export type EcCurve = "P-256" | "P-384"

/** A public key, parsed from a SubjectPublicKeyInfo by the core's X.509 code. Integers are big-endian unsigned. */
export type PublicKey =
  | { readonly type: "rsa"; readonly modulus: Uint8Array; readonly exponent: Uint8Array }
  | { readonly type: "ec"; readonly curve: EcCurve; readonly point: Uint8Array }
  | { readonly type: "ed25519"; readonly key: Uint8Array }

/** A public key with the DER SubjectPublicKeyInfo it was read from. */
export interface PublicKeyInfo {
  readonly spki: Uint8Array
  readonly key: PublicKey
}

/** A private key, parsed from PKCS#8, SEC1 or PKCS#1 DER by the core. Integers are big-endian unsigned. */
export type PrivateKey =
  | {
    readonly type: "rsa"
    readonly modulus: Uint8Array
    readonly publicExponent: Uint8Array
    readonly privateExponent: Uint8Array
    readonly prime1: Uint8Array
    readonly prime2: Uint8Array
    readonly exponent1: Uint8Array
    readonly exponent2: Uint8Array
    readonly coefficient: Uint8Array
  }
  | { readonly type: "ec"; readonly curve: EcCurve; readonly scalar: Uint8Array }
  | { readonly type: "ed25519"; readonly seed: Uint8Array }

/** Hashes used inside signatures (SHA-1 is refused everywhere). */
export type SignatureHash = "sha256" | "sha384" | "sha512"

/**
 * A signature algorithm, as TLS SignatureSchemes and X.509 AlgorithmIdentifiers
 * both reduce to. ECDSA signatures are DER `ECDSA-Sig-Value`s as both carry
 * them; RSASSA-PSS uses MGF1 with the same hash.
 */
export type SignatureAlgorithm =
  | { readonly kind: "rsa-pkcs1"; readonly hash: SignatureHash }
  | { readonly kind: "rsa-pss"; readonly hash: SignatureHash; readonly saltLength: number }
  | { readonly kind: "ecdsa"; readonly hash: SignatureHash }
  | { readonly kind: "ed25519" }

/** A private key ready to sign. */
export interface Signer {
  readonly key: PrivateKey
  /** Signs `data` (the whole message; hashing is part of the algorithm). */
  sign(algorithm: SignatureAlgorithm, data: Uint8Array): Uint8Array
}

/** The asymmetric primitives TLS 1.3 needs, part of every {@link CryptoBackend}. */
export interface AsymmetricCrypto {
  generateKeyShare(group: NamedGroup): KeyShare
  /**
   * Whether `signature` is valid for `data` under `key`. Returns false, never
   * throws, for a malformed key or signature, or a key that does not fit the
   * algorithm (e.g. an ECDSA algorithm with an RSA key).
   */
  verify(algorithm: SignatureAlgorithm, key: PublicKeyInfo, data: Uint8Array, signature: Uint8Array): boolean
  /** Prepares a private key for signing; throws for a key the backend cannot use (a configuration error). */
  createSigner(key: PrivateKey): Signer
}
