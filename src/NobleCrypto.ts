/**
 * The {@link QuicCrypto} backend over @noble/ciphers and @noble/hashes: pure
 * JavaScript, for runtimes without `node:crypto` (browsers, edge workers).
 * Needs only `globalThis.crypto.getRandomValues`.
 *
 * @since 0.1.0
 */
import { Layer } from "effect"
import { makeNobleCryptoBackend } from "./platform/nobleCrypto.js"
import { type CryptoBackend, QuicCrypto } from "./QuicCrypto.js"

/**
 * Creates a @noble backend.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: () => CryptoBackend = makeNobleCryptoBackend

/**
 * Provides {@link QuicCrypto} with the @noble backend.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<QuicCrypto> = Layer.sync(QuicCrypto, make)
