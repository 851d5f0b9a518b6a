/**
 * Small helpers shared by the asymmetric parts of both backends: integer
 * normalisation for key components, and the checks of a `SignatureAlgorithm`
 * against a key that both backends must make identically. No imports beyond
 * the core's types, so the portable backend can use it.
 */
import type { PrivateKey, PublicKey, SignatureAlgorithm, SignatureHash } from "../internal/crypto/backend.js"

/** `bytes` without its leading zero bytes (a view, no copy). */
export const stripLeadingZeros = (bytes: Uint8Array): Uint8Array => {
  let start = 0
  while (start < bytes.length && bytes[start] === 0) start++
  return bytes.subarray(start)
}

/**
 * A big-endian unsigned integer as exactly `length` bytes (left-padded with
 * zeros; leading zeros beyond that, as DER INTEGERs carry, are dropped), in a
 * fresh array; `undefined` when the value needs more than `length` bytes.
 */
export const fixedLengthInteger = (bytes: Uint8Array, length: number): Uint8Array | undefined => {
  const digits = stripLeadingZeros(bytes)
  if (digits.length > length) return undefined
  const out = new Uint8Array(length)
  out.set(digits, length - digits.length)
  return out
}

/** Whether every byte is zero (for the RFC 7748 §6.1 / RFC 8446 §7.4.2 x25519 check). */
export const isAllZero = (bytes: Uint8Array): boolean => {
  let acc = 0
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i]!
  return acc === 0
}

const SIGNATURE_HASHES: ReadonlySet<string> = new Set<SignatureHash>(["sha256", "sha384", "sha512"])

/** Whether `hash` is one of the hashes signatures may use (guards against values the type system did not see). */
export const isSignatureHash = (hash: unknown): hash is SignatureHash =>
  typeof hash === "string" && SIGNATURE_HASHES.has(hash)

/** A PSS salt length: a non-negative safe integer (node:crypto gives negative values special meanings). */
export const isSaltLength = (saltLength: unknown): saltLength is number =>
  typeof saltLength === "number" && Number.isSafeInteger(saltLength) && saltLength >= 0

/** The key type an algorithm needs. */
export const keyTypeOf = (algorithm: SignatureAlgorithm): PublicKey["type"] | undefined => {
  switch (algorithm.kind) {
    case "rsa-pkcs1":
    case "rsa-pss":
      return "rsa"
    case "ecdsa":
      return "ec"
    case "ed25519":
      return "ed25519"
    default:
      return undefined
  }
}

/**
 * Whether `algorithm` is well formed (a known kind with a permitted hash and,
 * for PSS, a valid salt length) and fits a key of type `keyType`.
 */
export const algorithmFits = (algorithm: SignatureAlgorithm, keyType: PublicKey["type"] | PrivateKey["type"]): boolean => {
  if (keyTypeOf(algorithm) !== keyType) return false
  switch (algorithm.kind) {
    case "rsa-pkcs1":
    case "ecdsa":
      return isSignatureHash(algorithm.hash)
    case "rsa-pss":
      return isSignatureHash(algorithm.hash) && isSaltLength(algorithm.saltLength)
    case "ed25519":
      return true
  }
}

/** The error a signer throws for an algorithm its key cannot produce. */
export const unusableAlgorithm = (algorithm: SignatureAlgorithm, keyType: PrivateKey["type"]): TypeError =>
  new TypeError(`cannot sign ${JSON.stringify(algorithm)} with a ${keyType} key`)

/**
 * Encodings (y coordinate, sign bit ignored) of the eight points of small
 * order on edwards25519, including the non-canonical y = p and y = p + 1
 * (libsodium's `ge25519_has_small_order` list). With such a public key a
 * fixed signature verifies for every message under OpenSSL's equation; noble
 * in strict (RFC 8032) mode refuses these keys, and so does the node backend,
 * so both agree.
 */
const ED25519_SMALL_ORDER: ReadonlyArray<string> = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
]

const SMALL_ORDER_BYTES: ReadonlyArray<Uint8Array> = ED25519_SMALL_ORDER.map((hex) => {
  const bytes = new Uint8Array(32)
  for (let i = 0; i < 32; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return bytes
})

/** Whether a 32-byte Ed25519 public key encodes a point of small order (see above). */
export const isSmallOrderEd25519 = (key: Uint8Array): boolean => {
  if (key.length !== 32) return false
  return SMALL_ORDER_BYTES.some((candidate) => {
    let diff = (key[31]! & 0x7f) ^ candidate[31]!
    for (let i = 0; i < 31; i++) diff |= key[i]! ^ candidate[i]!
    return diff === 0
  })
}
