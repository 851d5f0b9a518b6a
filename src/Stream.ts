/**
 * QUIC streams (named `QuicStream` in exports so they do not clash with
 * Effect's `Stream`).
 *
 * **Not implemented yet.** This module will hold `readable` (an Effect
 * `Stream` of received bytes), `read` / `readToEnd(maxBytes)`, `write` that
 * suspends under flow control, `writeAll`, a `Sink`, `finish`, `reset(code)`,
 * `stopSending(code)`, `stopped`, and the stream id and direction. See
 * ARCHITECTURE.md §3 and the README's status table.
 *
 * @since 0.1.0
 */
export {}
