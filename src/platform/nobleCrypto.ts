/**
 * The `CryptoBackend` over @noble/ciphers, @noble/hashes and @noble/curves
 * (plus a bigint RSA, `./rsa.ts`, for what noble lacks): pure JavaScript,
 * portable to any runtime with `crypto.getRandomValues` (no `node:` import).
 * Key exchange and signatures live in `./nobleAsymmetric.ts`.
 *
 * noble's cipher objects are single-use per (key, nonce) and keep no expanded
 * key state between calls, so a cipher instance is created per packet; what
 * can be kept per key (a private copy of the key, scratch blocks) is.
 */
import { ecb, gcm } from "@noble/ciphers/aes.js"
import { chacha20, chacha20poly1305 } from "@noble/ciphers/chacha.js"
import { expand, extract } from "@noble/hashes/hkdf.js"
import { hmac as nobleHmac } from "@noble/hashes/hmac.js"
import { sha256, sha384 } from "@noble/hashes/sha2.js"
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
  HP_MASK_LENGTH,
  HP_SAMPLE_LENGTH,
  type RunningHash
} from "../internal/crypto/backend.js"
import { makeNobleAsymmetricCrypto } from "./nobleAsymmetric.js"

const HASHES = { sha256, sha384 } as const

/**
 * AES-GCM: noble's `gcm` has no output-buffer parameter (its `encrypt` and
 * `decrypt` always allocate), so the result is copied into `out`.
 */
const makeGcm = (algorithm: AeadAlgorithm, key: Uint8Array): Aead => ({
  seal(nonce, aad, plaintext, out, outOffset) {
    if (outOffset < 0 || outOffset + plaintext.length + AEAD_TAG_LENGTH > out.length) {
      throw new RangeError(`${algorithm}: output buffer too small`)
    }
    // `encrypt` reads all of `plaintext` into a fresh array first: in-place is safe.
    out.set(gcm(key, nonce, aad).encrypt(plaintext), outOffset)
  },
  open(nonce, aad, ciphertext, out, outOffset) {
    const length = ciphertext.length - AEAD_TAG_LENGTH
    if (length < 0 || outOffset < 0 || outOffset + length > out.length) return false
    let plaintext: Uint8Array
    try {
      plaintext = gcm(key, nonce, aad).decrypt(ciphertext)
    } catch {
      return false
    }
    out.set(plaintext, outOffset)
    return true
  }
})

/**
 * ChaCha20-Poly1305: noble writes straight into a caller-provided output whose
 * length must be exactly the result length, so `out` is passed as a subarray.
 * It copies the input into the output before transforming it there, which is
 * exactly in-place operation when both are the same region.
 */
const makeChaChaPoly = (key: Uint8Array): Aead => ({
  seal(nonce, aad, plaintext, out, outOffset) {
    const end = outOffset + plaintext.length + AEAD_TAG_LENGTH
    if (outOffset < 0 || end > out.length) throw new RangeError("chacha20-poly1305: output buffer too small")
    chacha20poly1305(key, nonce, aad).encrypt(plaintext, out.subarray(outOffset, end))
  },
  open(nonce, aad, ciphertext, out, outOffset) {
    const length = ciphertext.length - AEAD_TAG_LENGTH
    if (length < 0 || outOffset < 0 || outOffset + length > out.length) return false
    try {
      // Verifies the tag before writing anything to the output.
      chacha20poly1305(key, nonce, aad).decrypt(ciphertext, out.subarray(outOffset, outOffset + length))
      return true
    } catch {
      return false
    }
  }
})

const makeAead = (algorithm: AeadAlgorithm, key: Uint8Array): Aead => {
  checkKeyLength(algorithm, key, AEAD_KEY_LENGTH[algorithm])
  // noble reads the key on every call: keep a private copy so that a caller
  // wiping or reusing its buffer cannot change this AEAD.
  const ownKey = key.slice()
  return algorithm === "chacha20-poly1305" ? makeChaChaPoly(ownKey) : makeGcm(algorithm, ownKey)
}

// ---------------------------------------------------------------------------
// ChaCha20 block function (RFC 8439 §2.3), only for the header-protection
// sample whose counter is 0xffffffff: noble refuses that initial counter
// ("arx: counter overflow") although a single block at that counter is
// well defined and RFC 9001 §5.4.4 takes the counter verbatim from the sample.
// ---------------------------------------------------------------------------

const rotl = (x: number, n: number): number => (x << n) | (x >>> (32 - n))

const readU32LE = (bytes: Uint8Array, offset: number): number =>
  (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0

/** Writes the first `HP_MASK_LENGTH` bytes of the ChaCha20 keystream block for `sample`. */
const chachaBlockMask = (key: Uint8Array, sample: Uint8Array, state: Uint32Array, x: Uint32Array, mask: Uint8Array) => {
  state[0] = 0x61707865
  state[1] = 0x3320646e
  state[2] = 0x79622d32
  state[3] = 0x6b206574
  for (let i = 0; i < 8; i++) state[4 + i] = readU32LE(key, 4 * i)
  for (let i = 0; i < 4; i++) state[12 + i] = readU32LE(sample, 4 * i)
  x.set(state)
  const qr = (a: number, b: number, c: number, d: number) => {
    x[a] = (x[a]! + x[b]!) | 0
    x[d] = rotl(x[d]! ^ x[a]!, 16)
    x[c] = (x[c]! + x[d]!) | 0
    x[b] = rotl(x[b]! ^ x[c]!, 12)
    x[a] = (x[a]! + x[b]!) | 0
    x[d] = rotl(x[d]! ^ x[a]!, 8)
    x[c] = (x[c]! + x[d]!) | 0
    x[b] = rotl(x[b]! ^ x[c]!, 7)
  }
  for (let round = 0; round < 10; round++) {
    qr(0, 4, 8, 12)
    qr(1, 5, 9, 13)
    qr(2, 6, 10, 14)
    qr(3, 7, 11, 15)
    qr(0, 5, 10, 15)
    qr(1, 6, 11, 12)
    qr(2, 7, 8, 13)
    qr(3, 4, 9, 14)
  }
  const w0 = (x[0]! + state[0]!) >>> 0
  const w1 = (x[1]! + state[1]!) >>> 0
  mask[0] = w0 & 0xff
  mask[1] = (w0 >>> 8) & 0xff
  mask[2] = (w0 >>> 16) & 0xff
  mask[3] = w0 >>> 24
  mask[4] = w1 & 0xff
}

const makeHeaderProtection = (algorithm: HeaderProtectionAlgorithm, key: Uint8Array): HeaderProtection => {
  checkKeyLength(algorithm, key, HP_KEY_LENGTH[algorithm])
  const ownKey = key.slice()
  if (algorithm === "chacha20") {
    // RFC 9001 §5.4.4: counter = sample[0..4] little-endian, nonce = sample[4..16],
    // mask = ChaCha20(key, counter, nonce, 5 zero bytes).
    const zeros = new Uint8Array(HP_MASK_LENGTH)
    const output = new Uint8Array(HP_MASK_LENGTH)
    const nonce = new Uint8Array(12)
    let state: Uint32Array | undefined
    let x: Uint32Array | undefined
    return {
      mask(sample, mask) {
        checkMaskArguments(sample, mask)
        const counter = readU32LE(sample, 0)
        if (counter === 0xffff_ffff) {
          chachaBlockMask(ownKey, sample, (state ??= new Uint32Array(16)), (x ??= new Uint32Array(16)), mask)
          return
        }
        nonce.set(sample.subarray(4, HP_SAMPLE_LENGTH))
        chacha20(ownKey, nonce, zeros, output, counter)
        mask.set(output)
      }
    }
  }
  // RFC 9001 §5.4.3: mask = AES-ECB(hp_key, sample)[0..5]. noble's ECB cipher is
  // single-use, so one is made per sample; input and output scratch blocks are
  // 4-byte aligned (fresh arrays) to keep noble off its copying path.
  const input = new Uint8Array(HP_SAMPLE_LENGTH)
  const output = new Uint8Array(HP_SAMPLE_LENGTH)
  return {
    mask(sample, mask) {
      checkMaskArguments(sample, mask)
      input.set(sample.subarray(0, HP_SAMPLE_LENGTH))
      ecb(ownKey, { disablePadding: true }).encrypt(input, output)
      mask.set(output.subarray(0, HP_MASK_LENGTH))
    }
  }
}

const hash = (algorithm: HashAlgorithm, data: Uint8Array): Uint8Array => HASHES[algorithm](data)

/** The part of a @noble hash object used here. */
interface NobleHashState {
  update(data: Uint8Array): unknown
  digest(): Uint8Array
  clone(): NobleHashState
}

/** `digest` finishes a clone, so the state itself goes on. */
const runningHash = (state: NobleHashState): RunningHash => ({
  update: (data) => void state.update(data),
  digest: () => state.clone().digest(),
  copy: () => runningHash(state.clone())
})

const createHash = (algorithm: HashAlgorithm): RunningHash => runningHash(HASHES[algorithm].create())

const hmac = (algorithm: HashAlgorithm, key: Uint8Array, data: Uint8Array): Uint8Array =>
  nobleHmac(HASHES[algorithm], key, data)

const hkdfExtract = (algorithm: HashAlgorithm, salt: Uint8Array, ikm: Uint8Array): Uint8Array =>
  // RFC 5869 §2.2: an absent salt is HashLen zero bytes.
  extract(HASHES[algorithm], ikm, salt.length === 0 ? new Uint8Array(hashLength(algorithm)) : salt)

const hkdfExpand = (algorithm: HashAlgorithm, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array => {
  const hashLen = hashLength(algorithm)
  if (!Number.isInteger(length) || length < 0 || length > 255 * hashLen) {
    throw new RangeError(`HKDF-Expand: length must be an integer in [0, ${255 * hashLen}], got ${length}`)
  }
  return length === 0 ? new Uint8Array(0) : expand(HASHES[algorithm], prk, info, length)
}

/** Web Crypto's `getRandomValues` fills at most 65536 bytes per call. */
const RANDOM_CHUNK = 65536

const randomBytes = (out: Uint8Array): void => {
  const crypto = globalThis.crypto
  for (let offset = 0; offset < out.length; offset += RANDOM_CHUNK) {
    crypto.getRandomValues(out.subarray(offset, Math.min(out.length, offset + RANDOM_CHUNK)))
  }
}

/** Builds the portable @noble backend. Stateless apart from per-key objects. */
export const makeNobleCryptoBackend = (): CryptoBackend => ({
  name: "noble",
  createAead: makeAead,
  createHeaderProtection: makeHeaderProtection,
  hash,
  createHash,
  hmac,
  hkdfExtract,
  hkdfExpand,
  randomBytes,
  ...makeNobleAsymmetricCrypto(randomBytes)
})
