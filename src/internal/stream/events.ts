/**
 * What the stream layer tells the application: events (polled from the
 * stream manager) and the error values its calls return. Names follow
 * ARCHITECTURE.md §1 (modelled on quinn-proto's `StreamEvent`, `WriteError`,
 * `ReadError`). Error codes are application protocol error codes (RFC 9000
 * §20.2), varints up to 2^62-1, hence bigint.
 */

export type StreamEvent =
  /** The peer opened a stream (RFC 9000 §3.2: implicitly, with every lower-numbered one of its type). */
  | { readonly _tag: "StreamOpened"; readonly id: number; readonly bidi: boolean }
  /** Data, the end of the stream or a reset can be read. Emitted once until the application reads again. */
  | { readonly _tag: "StreamReadable"; readonly id: number }
  /** A stream whose write was refused or cut short can take data again. */
  | { readonly _tag: "StreamWritable"; readonly id: number }
  /**
   * Our sending part reached "Data Recvd" (RFC 9000 §3.1): the peer
   * acknowledged every byte and the FIN. (That the peer's data is all read
   * shows instead as `finished: true` from `recv`.)
   */
  | { readonly _tag: "StreamFinished"; readonly id: number }
  /** The peer sent STOP_SENDING (RFC 9000 §3.5); we answered with RESET_STREAM carrying the same code. */
  | { readonly _tag: "StreamStopped"; readonly id: number; readonly code: bigint }
  /** The peer's MAX_STREAMS raised our limit: `openBi` / `openUni` may succeed again. */
  | { readonly _tag: "StreamsAvailable"; readonly bidi: boolean }

/** Why `send`, `sendChunks` or `finish` took nothing. */
export type WriteError =
  /** Flow control (stream or connection) or the send buffer bound allows no more now; `StreamWritable` follows. */
  | { readonly _tag: "WriteBlocked" }
  /** The peer asked us to stop (STOP_SENDING) with this code; the stream was reset. */
  | { readonly _tag: "WriteStopped"; readonly code: bigint }
  /** No such stream to write: never opened, receive-only, finished, reset or closed. */
  | { readonly _tag: "WriteClosedStream" }

/** Why `recv` / `recvInto` returned no data. */
export type ReadError =
  /** Nothing to read yet; `StreamReadable` follows. */
  | { readonly _tag: "ReadBlocked" }
  /** The peer reset the stream (RESET_STREAM) with this code; reported once. */
  | { readonly _tag: "ReadReset"; readonly code: bigint }
  /** No such stream to read: never opened, send-only, already finished, reset or stopped. */
  | { readonly _tag: "ReadClosedStream" }

export const WriteBlocked: WriteError = { _tag: "WriteBlocked" }
export const WriteClosedStream: WriteError = { _tag: "WriteClosedStream" }
export const ReadBlocked: ReadError = { _tag: "ReadBlocked" }
export const ReadClosedStream: ReadError = { _tag: "ReadClosedStream" }
