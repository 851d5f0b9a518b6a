/**
 * The cryptography an endpoint uses, as an Effect service.
 *
 * The QUIC core is a synchronous state machine and takes its primitives (AEAD
 * packet protection, header protection, hashes, HMAC, HKDF and randomness)
 * from a {@link CryptoBackend}. Provide one with `NodeCrypto.layer` (node:crypto,
 * the fast default on Node) or `NobleCrypto.layer` (@noble/*, portable to any
 * JavaScript runtime), or with a layer of your own built from `Layer.succeed`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as NodeCrypto from "effect-quic/NodeCrypto"
 * import { QuicCrypto } from "effect-quic/QuicCrypto"
 *
 * const program = Effect.gen(function*() {
 *   const crypto = yield* QuicCrypto
 *   return crypto.name
 * })
 *
 * Effect.runSync(program.pipe(Effect.provide(NodeCrypto.layer)))
 * ```
 *
 * @since 0.1.0
 */
import { Context } from "effect"
import * as backend from "./internal/crypto/backend.js"

/**
 * The cryptographic primitives the QUIC core consumes. All methods are
 * synchronous; objects returned by the `create*` methods hold precomputed key
 * state and are reused for every packet under that key.
 *
 * @since 0.1.0
 * @category models
 */
export interface CryptoBackend extends backend.CryptoBackend {}

/**
 * An AEAD bound to one key: `seal` writes ciphertext and the 16-byte tag into
 * a caller buffer (possibly in place); `open` returns `false` when
 * authentication fails.
 *
 * @since 0.1.0
 * @category models
 */
export interface Aead extends backend.Aead {}

/**
 * A header-protection cipher bound to one key (RFC 9001 §5.4.1): turns a
 * 16-byte ciphertext sample into a 5-byte mask.
 *
 * @since 0.1.0
 * @category models
 */
export interface HeaderProtection extends backend.HeaderProtection {}

/**
 * An incremental hash (a TLS transcript): `digest` is a snapshot, so more
 * data may be added after it; `copy` forks it.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunningHash extends backend.RunningHash {}

/**
 * The hash functions used by the TLS 1.3 cipher suites QUIC supports.
 *
 * @since 0.1.0
 * @category models
 */
export type HashAlgorithm = backend.HashAlgorithm

/**
 * The AEADs of the TLS 1.3 cipher suites QUIC uses (RFC 9001 §5.3).
 *
 * @since 0.1.0
 * @category models
 */
export type AeadAlgorithm = backend.AeadAlgorithm

/**
 * The header-protection ciphers (RFC 9001 §5.4.3, §5.4.4).
 *
 * @since 0.1.0
 * @category models
 */
export type HeaderProtectionAlgorithm = backend.HeaderProtectionAlgorithm

/**
 * The authentication tag length, in bytes, of every QUIC AEAD.
 *
 * @since 0.1.0
 * @category constants
 */
export const AEAD_TAG_LENGTH = backend.AEAD_TAG_LENGTH

/**
 * The service supplying the {@link CryptoBackend} an endpoint uses.
 *
 * @since 0.1.0
 * @category tags
 */
export class QuicCrypto extends Context.Tag("effect-quic/Crypto")<QuicCrypto, CryptoBackend>() {}
