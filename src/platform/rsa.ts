/**
 * Portable RSA signatures (RFC 8017) over JavaScript `bigint`: RSASSA-PKCS1-v1_5
 * (§8.2, EMSA-PKCS1-v1_5 §9.2) and RSASSA-PSS (§8.1, EMSA-PSS §9.1 with MGF1,
 * §B.2.1), verification and signing. @noble has no RSA; this is what the noble
 * backend uses. No runtime dependencies: hash functions and randomness are
 * passed in, so the `node:crypto` backend can share the key checks.
 *
 * NOT CONSTANT-TIME. JavaScript `bigint` multiplication, division and
 * remainder take time that depends on the operands, and nothing here can
 * change that. Signing therefore blinds the message representative with a
 * fresh random value and exponentiates with a fixed 4-bit window (the sequence
 * of squarings and multiplications does not depend on the exponent's bits),
 * which removes the easy timing signals, but a determined local attacker with
 * precise timing may still learn something about the private key. This is the
 * portable fallback; the `node:crypto` backend (OpenSSL) is the default and
 * should be used for server keys wherever it is available. Verification uses
 * only public values and has no such concern.
 */
import type { PrivateKey, SignatureHash } from "../internal/crypto/backend.js"
import { isSaltLength } from "./keyMaterial.js"

/** A hash function as RSA needs it: its name (for the DigestInfo), output length and digest. */
export interface RsaHash {
  readonly name: SignatureHash
  readonly outputLength: number
  readonly digest: (data: Uint8Array) => Uint8Array
}

/** Fills its argument with cryptographically secure random bytes. */
export type RandomFill = (out: Uint8Array) => void

/** An RSA public key as numbers, with the sizes RFC 8017 works with. */
export interface RsaPublicKey {
  readonly n: bigint
  readonly e: bigint
  /** Bit length of `n` ("modBits"). */
  readonly modulusBits: number
  /** Byte length of `n` ("k"). */
  readonly modulusBytes: number
}

/** An RSA private key with its CRT components (RFC 8017 §3.2, second representation). */
export interface RsaPrivateKey {
  readonly publicKey: RsaPublicKey
  readonly d: bigint
  readonly p: bigint
  readonly q: bigint
  readonly dp: bigint
  readonly dq: bigint
  readonly qInv: bigint
}

/** OpenSSL's limits (OPENSSL_RSA_MAX_MODULUS_BITS, _SMALL_MODULUS_BITS, _MAX_PUBEXP_BITS), which bound the work a peer's key can cause. */
const MAX_MODULUS_BITS = 16384
const SMALL_MODULUS_BITS = 3072
const MAX_LARGE_MODULUS_EXPONENT_BITS = 64

const _0n = BigInt(0)
const _1n = BigInt(1)

// ---------------------------------------------------------------------------
// Integers (RFC 8017 §4)
// ---------------------------------------------------------------------------

/** OS2IP: a big-endian unsigned byte string as an integer; leading zero bytes are allowed. */
export const bytesToBigInt = (bytes: Uint8Array): bigint => {
  let hex = ""
  for (let i = 0; i < bytes.length; i++) hex += bytes[i]!.toString(16).padStart(2, "0")
  return hex.length === 0 ? _0n : BigInt("0x" + hex)
}

/** I2OSP: `value` as exactly `length` big-endian bytes, or `undefined` when it does not fit. */
export const bigIntToBytes = (value: bigint, length: number): Uint8Array | undefined => {
  if (value < _0n) return undefined
  const hex = value.toString(16)
  const byteCount = (hex.length + 1) >> 1
  if (byteCount > length) {
    return value === _0n ? new Uint8Array(length) : undefined
  }
  const out = new Uint8Array(length)
  const padded = hex.length % 2 === 0 ? hex : "0" + hex
  for (let i = 0, offset = length - byteCount; i < byteCount; i++) {
    out[offset + i] = parseInt(padded.slice(2 * i, 2 * i + 2), 16)
  }
  return out
}

/** Bit length of a non-negative integer (0 for 0). */
export const bitLength = (value: bigint): number => (value === _0n ? 0 : value.toString(2).length)

const mod = (a: bigint, m: bigint): bigint => {
  const r = a % m
  return r < _0n ? r + m : r
}

/** Modular inverse by the extended Euclidean algorithm; `undefined` when none exists. */
export const modInverse = (a: bigint, m: bigint): bigint | undefined => {
  let [oldR, r] = [mod(a, m), m]
  let [oldS, s] = [_1n, _0n]
  while (r !== _0n) {
    const quotient = oldR / r
    ;[oldR, r] = [r, oldR - quotient * r]
    ;[oldS, s] = [s, oldS - quotient * s]
  }
  return oldR === _1n ? mod(oldS, m) : undefined
}

/**
 * `base^exponent mod modulus` (modulus > 1, exponent >= 0), left to right with
 * a fixed 4-bit window: every window costs four squarings and one table
 * multiplication whatever its bits are. (Not constant-time: see the module note.)
 */
export const modPow = (base: bigint, exponent: bigint, modulus: bigint): bigint => {
  if (modulus === _1n) return _0n
  const b = mod(base, modulus)
  const table: Array<bigint> = [_1n, b]
  for (let i = 2; i < 16; i++) table.push((table[i - 1]! * b) % modulus)
  const hex = exponent.toString(16)
  let result = table[parseInt(hex[0]!, 16)]!
  for (let i = 1; i < hex.length; i++) {
    result = (result * result) % modulus
    result = (result * result) % modulus
    result = (result * result) % modulus
    result = (result * result) % modulus
    result = (result * table[parseInt(hex[i]!, 16)]!) % modulus
  }
  return result
}

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

/**
 * The public key for a modulus and exponent (big-endian, leading zeros
 * allowed), or `undefined` when they cannot be an RSA key: `n` even or under
 * 16 bits, `e` even, `e <= 1`, `e >= n`, or sizes beyond OpenSSL's limits.
 * There is deliberately no minimum modulus size for security (RFC 8448's test
 * key is 1024-bit); policy belongs to the caller.
 */
export const rsaPublicKey = (modulus: Uint8Array, exponent: Uint8Array): RsaPublicKey | undefined => {
  const n = bytesToBigInt(modulus)
  const e = bytesToBigInt(exponent)
  const modulusBits = bitLength(n)
  // At least 2 bytes of modulus so every encoding length computed below is positive.
  if (modulusBits < 16 || modulusBits > MAX_MODULUS_BITS || (n & _1n) === _0n) return undefined
  if (e <= _1n || (e & _1n) === _0n || e >= n) return undefined
  if (modulusBits > SMALL_MODULUS_BITS && bitLength(e) > MAX_LARGE_MODULUS_EXPONENT_BITS) return undefined
  return { n, e, modulusBits, modulusBytes: (modulusBits + 7) >> 3 }
}

/**
 * Checks and converts an RSA private key. Throws (a configuration error) when
 * the components are not a consistent RSA key: n = p·q, e·dp ≡ 1 (mod p−1),
 * e·dq ≡ 1 (mod q−1), qInv·q ≡ 1 (mod p), d ≡ dp (mod p−1), d ≡ dq (mod q−1).
 */
export const rsaPrivateKey = (key: Extract<PrivateKey, { type: "rsa" }>): RsaPrivateKey => {
  const publicKey = rsaPublicKey(key.modulus, key.publicExponent)
  if (publicKey === undefined) throw new RangeError("RSA private key: invalid modulus or public exponent")
  const d = bytesToBigInt(key.privateExponent)
  const p = bytesToBigInt(key.prime1)
  const q = bytesToBigInt(key.prime2)
  const dp = bytesToBigInt(key.exponent1)
  const dq = bytesToBigInt(key.exponent2)
  const qInv = bytesToBigInt(key.coefficient)
  const { e, n } = publicKey
  const consistent = p > _1n && q > _1n && p * q === n &&
    d > _0n && d < n &&
    dp > _0n && dp < p && dq > _0n && dq < q && qInv > _0n && qInv < p &&
    (e * dp) % (p - _1n) === _1n && (e * dq) % (q - _1n) === _1n &&
    (qInv * q) % p === _1n &&
    d % (p - _1n) === dp && d % (q - _1n) === dq
  if (!consistent) throw new RangeError("RSA private key: inconsistent components")
  return { publicKey, d, p, q, dp, dq, qInv }
}

/** RSAVP1 (§5.2.2): `s^e mod n` for a signature of exactly k bytes with s < n, else `undefined`. */
const rsavp1 = (key: RsaPublicKey, signature: Uint8Array): bigint | undefined => {
  if (signature.length !== key.modulusBytes) return undefined
  const s = bytesToBigInt(signature)
  if (s >= key.n) return undefined
  return modPow(s, key.e, key.n)
}

/**
 * RSASP1 (§5.2.1) with the CRT and blinding: `m^d mod n`. The result is
 * checked against the public key before it is released, so a computation fault
 * cannot leak a factor of n (the Bellcore attack on CRT signatures).
 */
const rsasp1 = (key: RsaPrivateKey, m: bigint, random: RandomFill): bigint => {
  const { e, n, modulusBytes } = key.publicKey
  // Blinding: sign m·r^e and divide by r afterwards, so the values the
  // exponentiations see are unrelated to m.
  let r = _0n
  let rInv: bigint | undefined
  const buffer = new Uint8Array(modulusBytes)
  for (let attempt = 0; rInv === undefined; attempt++) {
    if (attempt === 16) throw new Error("RSA: could not find a blinding value")
    random(buffer)
    r = bytesToBigInt(buffer) % n
    if (r > _1n) rInv = modInverse(r, n)
  }
  const blinded = (m * modPow(r, e, n)) % n
  const m1 = modPow(blinded % key.p, key.dp, key.p)
  const m2 = modPow(blinded % key.q, key.dq, key.q)
  const h = mod(key.qInv * (m1 - m2), key.p)
  const s = ((m2 + h * key.q) * rInv) % n
  if (modPow(s, e, n) !== m) throw new Error("RSA: signature self-check failed")
  return s
}

// ---------------------------------------------------------------------------
// EMSA-PKCS1-v1_5 (§9.2)
// ---------------------------------------------------------------------------

/** DER DigestInfo prefixes, RFC 8017 §9.2 note 1. */
const DIGEST_INFO_PREFIX: Record<SignatureHash, Uint8Array> = {
  sha256: Uint8Array.of(0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20),
  sha384: Uint8Array.of(0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30),
  sha512: Uint8Array.of(0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40)
}

/** EM = 0x00 || 0x01 || PS (0xff…, at least 8) || 0x00 || DigestInfo, or `undefined` when emLen is too short. */
const emsaPkcs1v15Encode = (hash: RsaHash, message: Uint8Array, emLength: number): Uint8Array | undefined => {
  const prefix = DIGEST_INFO_PREFIX[hash.name]
  const digest = hash.digest(message)
  const tLength = prefix.length + digest.length
  if (emLength < tLength + 11) return undefined
  const em = new Uint8Array(emLength)
  em[1] = 0x01
  em.fill(0xff, 2, emLength - tLength - 1)
  em.set(prefix, emLength - tLength)
  em.set(digest, emLength - digest.length)
  return em
}

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

/** RSASSA-PKCS1-V1_5-VERIFY (§8.2.2): re-encodes and compares, so only the exact DER DigestInfo (with NULL parameters) passes. */
export const rsaVerifyPkcs1v15 = (
  key: RsaPublicKey,
  hash: RsaHash,
  message: Uint8Array,
  signature: Uint8Array
): boolean => {
  const m = rsavp1(key, signature)
  if (m === undefined) return false
  const em = bigIntToBytes(m, key.modulusBytes)
  const expected = emsaPkcs1v15Encode(hash, message, key.modulusBytes)
  return em !== undefined && expected !== undefined && equalBytes(em, expected)
}

/** RSASSA-PKCS1-V1_5-SIGN (§8.2.1). Throws when the modulus is too short for the hash. */
export const rsaSignPkcs1v15 = (
  key: RsaPrivateKey,
  hash: RsaHash,
  message: Uint8Array,
  random: RandomFill
): Uint8Array => {
  const k = key.publicKey.modulusBytes
  const em = emsaPkcs1v15Encode(hash, message, k)
  if (em === undefined) throw new RangeError(`RSA PKCS#1 v1.5: a ${key.publicKey.modulusBits}-bit key is too short for ${hash.name}`)
  return bigIntToBytes(rsasp1(key, bytesToBigInt(em), random), k)!
}

// ---------------------------------------------------------------------------
// EMSA-PSS (§9.1) with MGF1 (§B.2.1) over the same hash
// ---------------------------------------------------------------------------

const mgf1 = (hash: RsaHash, seed: Uint8Array, maskLength: number): Uint8Array => {
  const mask = new Uint8Array(maskLength)
  const input = new Uint8Array(seed.length + 4)
  input.set(seed)
  for (let counter = 0, offset = 0; offset < maskLength; counter++) {
    input[seed.length] = counter >>> 24
    input[seed.length + 1] = (counter >>> 16) & 0xff
    input[seed.length + 2] = (counter >>> 8) & 0xff
    input[seed.length + 3] = counter & 0xff
    const block = hash.digest(input)
    const take = Math.min(block.length, maskLength - offset)
    mask.set(block.subarray(0, take), offset)
    offset += take
  }
  return mask
}

/** H = Hash(0x00 × 8 || mHash || salt). */
const pssHash = (hash: RsaHash, mHash: Uint8Array, salt: Uint8Array): Uint8Array => {
  const mPrime = new Uint8Array(8 + mHash.length + salt.length)
  mPrime.set(mHash, 8)
  mPrime.set(salt, 8 + mHash.length)
  return hash.digest(mPrime)
}

/** EMSA-PSS-ENCODE (§9.1.1) for emBits = modBits − 1, or `undefined` when the key is too short. */
const emsaPssEncode = (
  hash: RsaHash,
  message: Uint8Array,
  emBits: number,
  salt: Uint8Array
): Uint8Array | undefined => {
  const hLength = hash.outputLength
  const emLength = (emBits + 7) >> 3
  if (emLength < hLength + salt.length + 2) return undefined
  const h = pssHash(hash, hash.digest(message), salt)
  const dbLength = emLength - hLength - 1
  // DB = PS (zeros) || 0x01 || salt, masked in place.
  const em = new Uint8Array(emLength)
  em[dbLength - salt.length - 1] = 0x01
  em.set(salt, dbLength - salt.length)
  const dbMask = mgf1(hash, h, dbLength)
  for (let i = 0; i < dbLength; i++) em[i]! ^= dbMask[i]!
  em[0]! &= 0xff >>> (8 * emLength - emBits)
  em.set(h, dbLength)
  em[emLength - 1] = 0xbc
  return em
}

/** EMSA-PSS-VERIFY (§9.1.2) with a known salt length. */
const emsaPssVerify = (
  hash: RsaHash,
  message: Uint8Array,
  em: Uint8Array,
  emBits: number,
  saltLength: number
): boolean => {
  const hLength = hash.outputLength
  const emLength = em.length
  if (emLength < hLength + saltLength + 2) return false
  if (em[emLength - 1] !== 0xbc) return false
  const dbLength = emLength - hLength - 1
  const topMask = 0xff >>> (8 * emLength - emBits)
  if ((em[0]! & ~topMask) !== 0) return false
  const h = em.subarray(dbLength, dbLength + hLength)
  const db = mgf1(hash, h, dbLength)
  for (let i = 0; i < dbLength; i++) db[i]! ^= em[i]!
  db[0]! &= topMask
  const separator = dbLength - saltLength - 1
  for (let i = 0; i < separator; i++) if (db[i] !== 0) return false
  if (db[separator] !== 0x01) return false
  return equalBytes(h, pssHash(hash, hash.digest(message), db.subarray(dbLength - saltLength)))
}

/** RSASSA-PSS-VERIFY (§8.1.2) with MGF1 over `hash` and exactly `saltLength` bytes of salt. */
export const rsaVerifyPss = (
  key: RsaPublicKey,
  hash: RsaHash,
  saltLength: number,
  message: Uint8Array,
  signature: Uint8Array
): boolean => {
  if (!isSaltLength(saltLength)) return false
  const m = rsavp1(key, signature)
  if (m === undefined) return false
  const emBits = key.modulusBits - 1
  const em = bigIntToBytes(m, (emBits + 7) >> 3)
  return em !== undefined && emsaPssVerify(hash, message, em, emBits, saltLength)
}

/** RSASSA-PSS-SIGN (§8.1.1) with MGF1 over `hash` and a fresh random salt of `saltLength` bytes. Throws when the key is too short. */
export const rsaSignPss = (
  key: RsaPrivateKey,
  hash: RsaHash,
  saltLength: number,
  message: Uint8Array,
  random: RandomFill
): Uint8Array => {
  if (!isSaltLength(saltLength)) throw new RangeError(`RSA-PSS: invalid salt length ${saltLength}`)
  const salt = new Uint8Array(saltLength)
  random(salt)
  const em = emsaPssEncode(hash, message, key.publicKey.modulusBits - 1, salt)
  if (em === undefined) {
    throw new RangeError(
      `RSA-PSS: a ${key.publicKey.modulusBits}-bit key is too short for ${hash.name} with a ${saltLength}-byte salt`
    )
  }
  return bigIntToBytes(rsasp1(key, bytesToBigInt(em), random), key.publicKey.modulusBytes)!
}
