/**
 * QUIC endpoints: a bound UDP socket that accepts and initiates connections.
 *
 * **Not implemented yet.** This module will hold `Endpoint.make(config)` (a
 * scoped endpoint bound through the `UdpSocket` service; closing its scope
 * closes every connection and unbinds), `Endpoint.layer`, `connect(address,
 * options)` returning a scoped `Connection` once the handshake completes,
 * `accept` and `incoming` for servers, `connectionCount` and endpoint stats.
 * See ARCHITECTURE.md §3 and the README's status table.
 *
 * @since 0.1.0
 */
export {}
