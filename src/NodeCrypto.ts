/**
 * The {@link QuicCrypto} backend over `node:crypto` (OpenSSL): the fast
 * default on Node.
 *
 * @since 0.1.0
 */
import { Layer } from "effect"
import { makeNodeCryptoBackend } from "./platform/nodeCrypto.js"
import { type CryptoBackend, QuicCrypto } from "./QuicCrypto.js"

/**
 * Creates a `node:crypto` backend.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: () => CryptoBackend = makeNodeCryptoBackend

/**
 * Provides {@link QuicCrypto} with the `node:crypto` backend.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<QuicCrypto> = Layer.sync(QuicCrypto, make)
