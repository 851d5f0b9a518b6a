/**
 * The `CryptoBackend` over `node:crypto` (OpenSSL): the fast default on Node.
 *
 * Keys are turned into `KeyObject`s once per `create*` call; per packet only a
 * cipher context is created. AES header protection keeps one ECB cipher per
 * key for its whole life (ECB carries no state between blocks).
 * ChaCha20-Poly1305 and ChaCha20 header protection run in WebAssembly
 * (`./wasmChaCha20Poly1305.ts`), three times faster per packet than a
 * node:crypto context. Key exchange and signatures live in `./nodeAsymmetric.ts`.
 */
import {
  type CipherGCMTypes,
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createSecretKey,
  type Hash,
  type KeyObject,
  randomFillSync
} from "node:crypto"
import {
  AEAD_KEY_LENGTH,
  AEAD_TAG_LENGTH,
  type Aead,
  type AeadAlgorithm,
  checkKeyLength,
  checkMaskArguments,
  type CryptoBackend,
  type HashAlgorithm,
  type HeaderProtection,
  type HeaderProtectionAlgorithm,
  hashLength,
  HP_KEY_LENGTH,
  HP_SAMPLE_LENGTH,
  type RunningHash
} from "../internal/crypto/backend.js"
import { makeNodeAsymmetricCrypto } from "./nodeAsymmetric.js"
import { makeWasmRunningSha256, wasmHkdfExpandSha256, wasmHmacSha256, wasmSha256 } from "./wasmSha256.js"
import { makeWasmChaCha20HeaderProtection, makeWasmChaCha20Poly1305 } from "./wasmChaCha20Poly1305.js"

/** Views a node `Buffer` as a plain `Uint8Array` (no copy). */
const toUint8Array = (buffer: Buffer): Uint8Array => new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)

const AEAD_OPTIONS = { authTagLength: AEAD_TAG_LENGTH } as const

/**
 * Uses of a key before it becomes a `KeyObject`. Making one costs about as
 * much as five seals and saves a little on each later one, so a key used for
 * a handful of packets (Initial, Handshake: a few per connection) goes to
 * OpenSSL as raw bytes, and only a key in steady use gets the object.
 */
const RAW_KEY_USES = 8

const makeAead = (algorithm: AeadAlgorithm, key: Uint8Array): Aead => {
  if (algorithm === "chacha20-poly1305") return makeWasmChaCha20Poly1305(key)
  checkKeyLength(algorithm, key, AEAD_KEY_LENGTH[algorithm])
  // A copy: the caller's bytes may be reused, and the key must outlive them.
  const raw = Buffer.from(key)
  let keyObject: KeyObject | undefined
  let uses = 0
  const cipherKey = (): KeyObject | Buffer => {
    if (keyObject !== undefined) return keyObject
    if (++uses <= RAW_KEY_USES) return raw
    keyObject = createSecretKey(raw)
    raw.fill(0)
    return keyObject
  }
  const name: CipherGCMTypes = algorithm
  return {
    seal(nonce, aad, plaintext, out, outOffset) {
      const length = plaintext.length
      if (outOffset < 0 || outOffset + length + AEAD_TAG_LENGTH > out.length) {
        throw new RangeError(`${algorithm}: output buffer too small`)
      }
      const cipher = createCipheriv(name, cipherKey(), nonce, AEAD_OPTIONS)
      cipher.setAAD(aad)
      // `update` reads all of `plaintext` into a fresh buffer before anything is
      // written to `out`, which makes in-place sealing safe.
      const body = cipher.update(plaintext)
      const rest = cipher.final()
      out.set(body, outOffset)
      if (rest.length > 0) out.set(rest, outOffset + body.length)
      out.set(cipher.getAuthTag(), outOffset + length)
    },
    open(nonce, aad, ciphertext, out, outOffset) {
      const length = ciphertext.length - AEAD_TAG_LENGTH
      if (length < 0 || outOffset < 0 || outOffset + length > out.length) return false
      try {
        const decipher = createDecipheriv(name, cipherKey(), nonce, AEAD_OPTIONS)
        decipher.setAAD(aad)
        decipher.setAuthTag(ciphertext.subarray(length))
        const body = decipher.update(ciphertext.subarray(0, length))
        // Throws when the tag does not verify; nothing has been written yet.
        const rest = decipher.final()
        out.set(body, outOffset)
        if (rest.length > 0) out.set(rest, outOffset + body.length)
        return true
      } catch {
        return false
      }
    }
  }
}

const makeHeaderProtection = (algorithm: HeaderProtectionAlgorithm, key: Uint8Array): HeaderProtection => {
  if (algorithm === "chacha20") return makeWasmChaCha20HeaderProtection(key)
  checkKeyLength(algorithm, key, HP_KEY_LENGTH[algorithm])
  // RFC 9001 §5.4.3: mask = AES-ECB(hp_key, sample)[0..5]. ECB has no chaining
  // state, so one cipher serves every sample. OpenSSL copies the key bytes into
  // the cipher when it is made (a KeyObject would be made and dropped for this one use).
  const ecb = createCipheriv(algorithm === "aes-128" ? "aes-128-ecb" : "aes-256-ecb", key, null)
  ecb.setAutoPadding(false)
  return {
    mask(sample, mask) {
      checkMaskArguments(sample, mask)
      const block = ecb.update(sample.length === HP_SAMPLE_LENGTH ? sample : sample.subarray(0, HP_SAMPLE_LENGTH))
      // Five bytes: copied by hand rather than through another view.
      mask[0] = block[0]!
      mask[1] = block[1]!
      mask[2] = block[2]!
      mask[3] = block[3]!
      mask[4] = block[4]!
    }
  }
}

// SHA-256 in WebAssembly (./wasmSha256.ts): node:crypto builds an OpenSSL
// context per call, which costs more than hashing a TLS message or a label.
const hash = (algorithm: HashAlgorithm, data: Uint8Array): Uint8Array =>
  algorithm === "sha256" ? wasmSha256(data) : toUint8Array(createHash(algorithm).update(data).digest())

/** node:crypto's `Hash`, whose `copy` lets `digest` take a snapshot. */
const nodeRunningHash = (state: Hash): RunningHash => ({
  update: (data) => void state.update(data),
  digest: () => toUint8Array(state.copy().digest()),
  copy: () => nodeRunningHash(state.copy())
})

const makeRunningHash = (algorithm: HashAlgorithm): RunningHash =>
  algorithm === "sha256" ? makeWasmRunningSha256() : nodeRunningHash(createHash(algorithm))

const hmac = (algorithm: HashAlgorithm, key: Uint8Array, data: Uint8Array): Uint8Array =>
  algorithm === "sha256" ? wasmHmacSha256(key, data) : toUint8Array(createHmac(algorithm, key).update(data).digest())

const hkdfExtract = (algorithm: HashAlgorithm, salt: Uint8Array, ikm: Uint8Array): Uint8Array =>
  // RFC 5869 §2.2: an absent salt is HashLen zero bytes.
  hmac(algorithm, salt.length === 0 ? new Uint8Array(hashLength(algorithm)) : salt, ikm)

const hkdfExpand = (algorithm: HashAlgorithm, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array => {
  const hashLen = hashLength(algorithm)
  if (!Number.isInteger(length) || length < 0 || length > 255 * hashLen) {
    throw new RangeError(`HKDF-Expand: length must be an integer in [0, ${255 * hashLen}], got ${length}`)
  }
  const fast = algorithm === "sha256" ? wasmHkdfExpandSha256(prk, info, length) : undefined
  if (fast !== undefined) return fast
  // RFC 5869 §2.3: T(i) = HMAC(PRK, T(i-1) || info || i), T(0) empty. node's
  // hkdfSync always extracts first, so expand is done here. Every TLS 1.3 and
  // QUIC label needs one block.
  const okm = new Uint8Array(length)
  const input = new Uint8Array(hashLen + info.length + 1)
  input.set(info, hashLen)
  let previous = 0
  for (let offset = 0, i = 1; offset < length; i++) {
    input[hashLen + info.length] = i
    const t = hmac(algorithm, prk, input.subarray(hashLen - previous))
    okm.set(t.subarray(0, Math.min(hashLen, length - offset)), offset)
    input.set(t, 0)
    previous = hashLen
    offset += hashLen
  }
  return okm
}

/** node:crypto's `randomFillSync` is limited to 2^31 - 1 bytes per call. */
const RANDOM_CHUNK = 0x7fff_ffff

/**
 * Small requests (connection IDs, nonces, TLS randoms: a dozen per
 * handshake) are served from a pool refilled 4 KiB at a time, since each
 * `randomFillSync` call costs a few microseconds whatever its size. Bytes
 * handed out are zeroed in the pool, so none is ever given twice or left
 * behind.
 */
const POOL_SIZE = 4096
const POOLED_MAX = 256

const makeRandomBytes = (): ((out: Uint8Array) => void) => {
  const pool = new Uint8Array(POOL_SIZE)
  let used = POOL_SIZE
  return (out) => {
    const length = out.length
    if (length > POOLED_MAX) {
      for (let offset = 0; offset < length; offset += RANDOM_CHUNK) {
        randomFillSync(out, offset, Math.min(RANDOM_CHUNK, length - offset))
      }
      return
    }
    if (used + length > POOL_SIZE) {
      randomFillSync(pool)
      used = 0
    }
    out.set(pool.subarray(used, used + length))
    pool.fill(0, used, used + length)
    used += length
  }
}

/** Builds the `node:crypto` backend. Stateless apart from per-key objects. */
export const makeNodeCryptoBackend = (): CryptoBackend => ({
  name: "node",
  createAead: makeAead,
  createHeaderProtection: makeHeaderProtection,
  hash,
  createHash: makeRunningHash,
  hmac,
  hkdfExtract,
  hkdfExpand,
  randomBytes: makeRandomBytes(),
  ...makeNodeAsymmetricCrypto()
})
