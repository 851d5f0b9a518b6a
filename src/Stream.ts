/**
 * QUIC streams (RFC 9000 §2–3). Exported as `QuicStream` so that it does not
 * clash with Effect's own `Stream`:
 *
 * ```ts
 * import * as QuicStream from "effect-quic/Stream"
 * ```
 *
 * A stream comes from `Connection.openBi` / `openUni` (scoped: closing the
 * scope finishes the stream when everything was written, and resets it when
 * a write was cut short) or from `Connection.acceptBi` / `acceptUni`.
 * Writes suspend under flow control; reads suspend until data arrives.
 * Interrupting a reading or writing fiber leaves the connection healthy.
 *
 * @since 0.1.0
 */
import type { Effect, Option, Sink, Stream } from "effect"
import type { QuicStreamError, StreamTooLongError } from "./QuicError.js"

/**
 * One QUIC stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface QuicStream {
  /** The stream id (RFC 9000 §2.1). */
  readonly id: number
  readonly direction: "bidi" | "uni"
  /** Whether we or the peer opened it. */
  readonly initiator: "local" | "remote"
  /** The next chunk of received bytes (at most `max`), or `None` at the end of the stream. */
  readonly read: (max?: number) => Effect.Effect<Option.Option<Uint8Array>, QuicStreamError>
  /** Everything until the FIN, failing if it exceeds `maxBytes`. */
  readonly readToEnd: (maxBytes: number) => Effect.Effect<Uint8Array, QuicStreamError | StreamTooLongError>
  /** The received bytes as an Effect `Stream`, ending at the FIN. */
  readonly readable: Stream.Stream<Uint8Array, QuicStreamError>
  /** Sends all of `bytes`, suspending while flow control or the send buffer holds it back. */
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, QuicStreamError>
  readonly writeAll: (chunks: Iterable<Uint8Array>) => Effect.Effect<void, QuicStreamError>
  /** A `Sink` that writes every chunk and finishes the stream at the end. */
  readonly sink: Sink.Sink<void, Uint8Array, never, QuicStreamError>
  /** Ends the sending side (FIN). */
  readonly finish: Effect.Effect<void, QuicStreamError>
  /** Abandons the sending side with an application error code (RESET_STREAM). */
  readonly reset: (code: number | bigint) => Effect.Effect<void>
  /** Asks the peer to stop sending (STOP_SENDING). */
  readonly stopSending: (code: number | bigint) => Effect.Effect<void>
  /** Resolves with the code when the peer asks us to stop sending. */
  readonly stopped: Effect.Effect<bigint>
  /** Resolves once the peer acknowledged everything we sent, FIN included. */
  readonly acknowledged: Effect.Effect<void>
  /** What closing the stream's scope does: finish (or reset if a write was cut short) and stop reading. */
  readonly close: Effect.Effect<void>
}
