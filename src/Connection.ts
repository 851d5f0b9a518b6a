/**
 * QUIC connections as scoped resources.
 *
 * **Not implemented yet.** This module will hold the `Connection` service
 * returned by `Endpoint.connect` and `Endpoint.accept`: `openBi` / `openUni`
 * (suspending while the peer's stream limit is reached), `acceptBi` /
 * `acceptUni` and `incomingStreams`, `sendDatagram` and `datagrams`, `events`,
 * `stats`, `close(code, reason)`, `closed`, `remoteAddress`, `alpn`, and the
 * 0-RTT status. See ARCHITECTURE.md §3 and the README's status table.
 *
 * @since 0.1.0
 */
export {}
