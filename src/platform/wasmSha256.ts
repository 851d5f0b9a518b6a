/**
 * SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104) in WebAssembly, from
 * `./wasm/sha256.wat`.
 *
 * node:crypto's `createHash` and `createHmac` build an OpenSSL context per
 * call; a TLS 1.3 handshake with a SHA-256 suite makes about forty such calls
 * on either side, each a few microseconds. This module keeps its state in its
 * own memory: a call is a copy in, the compressions and a copy out
 * (BENCHMARKS.md, session 7: 2.96 → 2.55 ms of client CPU per handshake).
 */
import type { RunningHash } from "../internal/crypto/backend.js"
import { sha256Wasm } from "./wasm/sha256Binary.js"
import { lazyInstance } from "./wasmInstance.js"

/** Offsets in the module's memory (the layout is described in the .wat). */
const H = 512
const KEY = 640
const OUT = 704
const PREPARED_KEY = 832
const IO = 1024
/** IO's size: 1,008 whole blocks, so a long message goes through in block-aligned pieces. */
const IO_LENGTH = 64_512
const BLOCK_LENGTH = 64
const DIGEST_LENGTH = 32
/** A running hash compresses what it holds once this much is waiting. */
const PENDING_LIMIT = 4096

interface Exports {
  readonly memory: { readonly buffer: ArrayBuffer }
  readonly hash: (length: number) => void
  readonly begin: () => void
  readonly blocks: (length: number) => void
  readonly end: (length: number, total: number) => void
  readonly hmacBegin: (keyLength: number) => void
  readonly hmacEnd: () => void
  readonly hmac: (keyLength: number, length: number) => void
  readonly hmacPrepare: (keyLength: number) => void
  readonly hmacPrepared: (length: number) => void
}

/** Compiled on first use. */
const instance = lazyInstance<Exports>(sha256Wasm)

/** Compresses `blocks` (whole blocks) into the module's state, through IO an IO-full at a time. */
const compressBlocks = (exports: Exports, memory: Uint8Array, blocks: Uint8Array): void => {
  for (let offset = 0; offset < blocks.length; offset += IO_LENGTH) {
    const piece = blocks.subarray(offset, Math.min(offset + IO_LENGTH, blocks.length))
    memory.set(piece, IO)
    exports.blocks(piece.length)
  }
}

/**
 * Hashes a message longer than IO after whatever the state already holds
 * (`before` bytes, a multiple of the block size): every IO-sized piece but
 * the last as whole blocks, then the last with the message's total length.
 */
const absorbLong = (exports: Exports, memory: Uint8Array, data: Uint8Array, before: number): void => {
  const head = Math.floor((data.length - 1) / IO_LENGTH) * IO_LENGTH
  compressBlocks(exports, memory, data.subarray(0, head))
  memory.set(data.subarray(head), IO)
  exports.end(data.length - head, before + data.length)
}

/** SHA-256 of `data`. */
export const wasmSha256 = (data: Uint8Array): Uint8Array => {
  const { exports, memory } = instance()
  if (data.length <= IO_LENGTH) {
    memory.set(data, IO)
    exports.hash(data.length)
  } else {
    exports.begin()
    absorbLong(exports, memory, data, 0)
  }
  return memory.slice(OUT, OUT + DIGEST_LENGTH)
}

/** HMAC-SHA-256 of `data` under `key` (of any length: RFC 2104 hashes a key longer than a block). */
export const wasmHmacSha256 = (key: Uint8Array, data: Uint8Array): Uint8Array => {
  const blockKey = key.length > BLOCK_LENGTH ? wasmSha256(key) : key
  const { exports, memory } = instance()
  memory.set(blockKey, KEY)
  if (data.length <= IO_LENGTH) {
    memory.set(data, IO)
    exports.hmac(blockKey.length, data.length)
  } else {
    exports.hmacBegin(blockKey.length)
    absorbLong(exports, memory, data, BLOCK_LENGTH)
    exports.hmacEnd()
  }
  return memory.slice(OUT, OUT + DIGEST_LENGTH)
}

/**
 * RFC 5869 §2.3 HKDF-Expand with HMAC-SHA-256: T(i) = HMAC(PRK, T(i-1) ||
 * info || i). Each block's input is laid out in the module's memory, T(i-1)
 * taken from where the previous HMAC left it, so a TLS or QUIC label (one
 * block) costs one HMAC and one copy out. The caller checked `length`;
 * undefined for a PRK longer than a block or an info beyond the IO area
 * (never in TLS or QUIC), which the caller expands by HMACs.
 */
export const wasmHkdfExpandSha256 = (prk: Uint8Array, info: Uint8Array, length: number): Uint8Array | undefined => {
  if (prk.length > BLOCK_LENGTH || info.length + DIGEST_LENGTH + 1 > IO_LENGTH) return undefined
  const { exports, memory } = instance()
  prepareKey(exports, memory, prk)
  if (length <= DIGEST_LENGTH) {
    memory.set(info, IO)
    memory[IO + info.length] = 1
    exports.hmacPrepared(info.length + 1)
    return memory.slice(OUT, OUT + length)
  }
  const okm = new Uint8Array(length)
  for (let offset = 0, i = 1; offset < length; i++) {
    const previous = i === 1 ? 0 : DIGEST_LENGTH
    if (previous > 0) memory.copyWithin(IO, OUT, OUT + DIGEST_LENGTH)
    memory.set(info, IO + previous)
    memory[IO + previous + info.length] = i
    exports.hmacPrepared(previous + info.length + 1)
    const n = Math.min(DIGEST_LENGTH, length - offset)
    okm.set(memory.subarray(OUT, OUT + n), offset)
    offset += n
  }
  return okm
}

/** Length of the key prepared in the module (PKEY), or -1. */
let preparedLength = -1

/**
 * Prepares `key` for `hmacPrepared` unless it is the key prepared last (the
 * same bytes: a caller may reuse a buffer). The module keeps one prepared key,
 * no more than it already holds of the last HMAC key.
 */
const prepareKey = (exports: Exports, memory: Uint8Array, key: Uint8Array): void => {
  if (key.length === preparedLength) {
    let same = true
    for (let i = 0; i < key.length; i++) {
      if (memory[PREPARED_KEY + i] !== key[i]) {
        same = false
        break
      }
    }
    if (same) return
  }
  memory.set(key, KEY)
  exports.hmacPrepare(key.length)
  memory.set(key, PREPARED_KEY)
  preparedLength = key.length
}

/**
 * SHA-256 over data given piece by piece. Its state lives here and is
 * written into the module for each compression, so any number of these may
 * be in use at once (a transcript per connection). Bytes wait until a digest
 * or until `PENDING_LIMIT` of them have come: a TLS message is hashed by one
 * call, not one per message.
 */
class RunningSha256 implements RunningHash {
  constructor(
    /** The module's H after `compressed` bytes. */
    private readonly state: Uint8Array,
    private compressed: number,
    /** Bytes not compressed yet: the first `pendingLength` of this buffer. */
    private pending: Uint8Array,
    private pendingLength: number
  ) {}

  update(data: Uint8Array): void {
    const length = this.pendingLength + data.length
    if (length > this.pending.length) {
      const grown = new Uint8Array(Math.max(length, 2 * this.pending.length))
      grown.set(this.pending.subarray(0, this.pendingLength))
      this.pending = grown
    }
    this.pending.set(data, this.pendingLength)
    this.pendingLength = length
    if (length >= PENDING_LIMIT) this.compressWholeBlocks(instance())
  }

  digest(): Uint8Array {
    const module = instance()
    this.compressWholeBlocks(module)
    const { exports, memory } = module
    memory.set(this.state, H)
    memory.set(this.pending.subarray(0, this.pendingLength), IO)
    exports.end(this.pendingLength, this.compressed + this.pendingLength)
    return memory.slice(OUT, OUT + DIGEST_LENGTH)
  }

  copy(): RunningHash {
    return new RunningSha256(Uint8Array.from(this.state), this.compressed, this.pending.slice(), this.pendingLength)
  }

  /** Moves the whole blocks of `pending` into `state`. */
  private compressWholeBlocks({ exports, memory }: ReturnType<typeof instance>): void {
    const whole = this.pendingLength - (this.pendingLength % BLOCK_LENGTH)
    if (whole === 0) return
    memory.set(this.state, H)
    compressBlocks(exports, memory, this.pending.subarray(0, whole))
    this.state.set(memory.subarray(H, H + DIGEST_LENGTH))
    this.compressed += whole
    this.pending.copyWithin(0, whole, this.pendingLength)
    this.pendingLength -= whole
  }
}

/** A running SHA-256 of nothing yet. */
export const makeWasmRunningSha256 = (): RunningHash => {
  const { exports, memory } = instance()
  exports.begin()
  return new RunningSha256(memory.slice(H, H + DIGEST_LENGTH), 0, new Uint8Array(BLOCK_LENGTH * 8), 0)
}
