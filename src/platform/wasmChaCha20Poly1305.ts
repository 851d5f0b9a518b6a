/**
 * ChaCha20-Poly1305 packet protection (RFC 8439) and ChaCha20 header
 * protection (RFC 9001 §5.4.4) in WebAssembly with 128-bit SIMD, from
 * `./wasm/chacha20poly1305.wat`.
 *
 * node:crypto creates a cipher context on every call, which costs more than
 * the cipher itself on a QUIC-sized packet; this module keeps its state in its
 * own memory, so a packet costs two copies and one call (2.4 µs for a
 * 1200-byte packet with its header protection, where node:crypto's
 * AES-128-GCM takes 6–8 µs: BENCHMARKS.md).
 * One instance serves every key: JavaScript runs one call at a time, and each
 * call writes its key before using it.
 */
import {
  AEAD_TAG_LENGTH,
  type Aead,
  checkKeyLength,
  checkMaskArguments,
  type HeaderProtection,
  HP_SAMPLE_LENGTH
} from "../internal/crypto/backend.js"
import { chacha20Poly1305Wasm } from "./wasm/chacha20poly1305Binary.js"
import { lazyInstance } from "./wasmInstance.js"

/** Offsets in the module's memory (the layout is described in the .wat). */
const KEY = 0
const COUNTER = 32
const NONCE = 36
const KEYSTREAM = 64
const IO = 1024

const KEY_LENGTH = 32
const NONCE_LENGTH = 12

interface Exports {
  readonly memory: { readonly buffer: ArrayBuffer }
  readonly seal: (aad: number, aadLength: number, text: number, textLength: number) => void
  readonly open: (aad: number, aadLength: number, text: number, textLength: number) => number
  readonly headerMask: () => void
}

/** Compiled on first use. */
const instance = lazyInstance<Exports>(chacha20Poly1305Wasm)

const align16 = (n: number): number => (n + 15) & ~15

/** Where the text goes after `aadLength` bytes of AAD, or -1 when both (and the tag) do not fit. */
const textOffset = (memory: Uint8Array, aadLength: number, textLength: number): number => {
  const at = IO + align16(aadLength)
  return at + textLength + AEAD_TAG_LENGTH <= memory.length ? at : -1
}

/** An AEAD_CHACHA20_POLY1305 (RFC 8439 §2.8) bound to a private copy of `key`. */
export const makeWasmChaCha20Poly1305 = (key: Uint8Array): Aead => {
  checkKeyLength("chacha20-poly1305", key, KEY_LENGTH)
  const ownKey = Uint8Array.from(key)
  return {
    seal(nonce, aad, plaintext, out, outOffset) {
      if (nonce.length !== NONCE_LENGTH) throw new RangeError(`chacha20-poly1305: nonce must be 12 bytes, got ${nonce.length}`)
      const length = plaintext.length
      if (outOffset < 0 || outOffset + length + AEAD_TAG_LENGTH > out.length) {
        throw new RangeError("chacha20-poly1305: output buffer too small")
      }
      const { exports, memory } = instance()
      const text = textOffset(memory, aad.length, length)
      if (text < 0) throw new RangeError("chacha20-poly1305: input larger than any QUIC packet")
      memory.set(ownKey, KEY)
      memory.set(nonce, NONCE)
      memory.set(aad, IO)
      memory.set(plaintext, text)
      exports.seal(IO, aad.length, text, length)
      out.set(memory.subarray(text, text + length + AEAD_TAG_LENGTH), outOffset)
    },
    open(nonce, aad, ciphertext, out, outOffset) {
      const length = ciphertext.length - AEAD_TAG_LENGTH
      if (length < 0 || outOffset < 0 || outOffset + length > out.length || nonce.length !== NONCE_LENGTH) return false
      const { exports, memory } = instance()
      const text = textOffset(memory, aad.length, length)
      if (text < 0) return false
      memory.set(ownKey, KEY)
      memory.set(nonce, NONCE)
      memory.set(aad, IO)
      memory.set(ciphertext, text)
      if (exports.open(IO, aad.length, text, length) !== 1) return false
      out.set(memory.subarray(text, text + length), outOffset)
      return true
    }
  }
}

/** ChaCha20 header protection (RFC 9001 §5.4.4) bound to a private copy of `key`. */
export const makeWasmChaCha20HeaderProtection = (key: Uint8Array): HeaderProtection => {
  checkKeyLength("chacha20", key, KEY_LENGTH)
  const ownKey = Uint8Array.from(key)
  return {
    mask(sample, mask) {
      checkMaskArguments(sample, mask)
      const { exports, memory } = instance()
      memory.set(ownKey, KEY)
      memory.set(sample.length === HP_SAMPLE_LENGTH ? sample : sample.subarray(0, HP_SAMPLE_LENGTH), COUNTER)
      exports.headerMask()
      mask[0] = memory[KEYSTREAM]!
      mask[1] = memory[KEYSTREAM + 1]!
      mask[2] = memory[KEYSTREAM + 2]!
      mask[3] = memory[KEYSTREAM + 3]!
      mask[4] = memory[KEYSTREAM + 4]!
    }
  }
}
