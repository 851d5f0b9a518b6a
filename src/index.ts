/**
 * effect-quic: a QUIC transport for Effect.
 *
 * @since 0.1.0
 */

/**
 * QUIC connections as scoped resources.
 *
 * @since 0.1.0
 */
export * as Connection from "./Connection.js"

/**
 * QUIC endpoints: connect and accept.
 *
 * @since 0.1.0
 */
export * as Endpoint from "./Endpoint.js"

/**
 * The in-process simulated network (tests, TestClock).
 *
 * @since 0.1.0
 */
export * as MemoryNetwork from "./MemoryNetwork.js"

/**
 * Self-signed certificates made with node:crypto.
 *
 * @since 0.1.0
 */
export * as NodeCertificate from "./NodeCertificate.js"

/**
 * The portable crypto backend over @noble/*.
 *
 * @since 0.1.0
 */
export * as NobleCrypto from "./NobleCrypto.js"

/**
 * The crypto backend over node:crypto.
 *
 * @since 0.1.0
 */
export * as NodeCrypto from "./NodeCrypto.js"

/**
 * qlog files, one per connection, over node:fs.
 *
 * @since 0.1.0
 */
export * as NodeQlog from "./NodeQlog.js"

/**
 * UDP sockets over node:dgram.
 *
 * @since 0.1.0
 */
export * as NodeUdpSocket from "./NodeUdpSocket.js"

/**
 * Configuration schemas.
 *
 * @since 0.1.0
 */
export * as QuicConfig from "./QuicConfig.js"

/**
 * The crypto service the endpoint consumes.
 *
 * @since 0.1.0
 */
export * as QuicCrypto from "./QuicCrypto.js"

/**
 * Tagged errors.
 *
 * @since 0.1.0
 */
export * as QuicError from "./QuicError.js"

/**
 * QUIC streams (`QuicStream`).
 *
 * @since 0.1.0
 */
export * as QuicStream from "./Stream.js"

/**
 * The UDP socket service.
 *
 * @since 0.1.0
 */
export * as UdpSocket from "./UdpSocket.js"
