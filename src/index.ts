/**
 * effect-quic: a QUIC transport for Effect.
 *
 * @since 0.1.0
 */

/**
 * The crypto backend over node:crypto.
 *
 * @since 0.1.0
 */
export * as NodeCrypto from "./NodeCrypto.js"

/**
 * The portable crypto backend over @noble/ciphers and @noble/hashes.
 *
 * @since 0.1.0
 */
export * as NobleCrypto from "./NobleCrypto.js"

/**
 * The crypto service the endpoint consumes.
 *
 * @since 0.1.0
 */
export * as QuicCrypto from "./QuicCrypto.js"
