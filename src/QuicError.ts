/**
 * The errors of the effect-quic API, as `Data.TaggedError`s with the QUIC
 * codes and reasons that explain them.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import type { CloseReason } from "./internal/events.js"

export type {
  /**
   * Why a connection ended.
   *
   * @since 0.1.0
   * @category models
   */
  CloseReason
} from "./internal/events.js"

/**
 * The configuration did not decode; `reason` names the field and the problem.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly reason: string
}> {}

/**
 * A connection could not be established: the handshake failed (`reason` is
 * the close reason: a TLS alert shows as a transport error 0x100 + alert),
 * timed out, or no version was shared.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectError extends Data.TaggedError("ConnectError")<{
  readonly reason: CloseReason
  readonly message: string
}> {}

/**
 * The connection is closed. `code` is the QUIC error code (a transport error
 * code, or the application's), `remote` whether the peer closed it.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionClosedError extends Data.TaggedError("ConnectionClosedError")<{
  readonly code: bigint
  readonly reason: string
  readonly remote: boolean
  readonly closeReason: CloseReason
}> {}

/**
 * The peer reset the stream (RESET_STREAM) with this application error code.
 *
 * @since 0.1.0
 * @category errors
 */
export class StreamResetError extends Data.TaggedError("StreamResetError")<{
  readonly code: bigint
}> {}

/**
 * The peer asked us to stop sending (STOP_SENDING) with this application
 * error code; the stream was reset.
 *
 * @since 0.1.0
 * @category errors
 */
export class StreamStoppedError extends Data.TaggedError("StreamStoppedError")<{
  readonly code: bigint
}> {}

/**
 * The stream cannot be used this way: finished, reset, or the wrong direction.
 *
 * @since 0.1.0
 * @category errors
 */
export class StreamClosedError extends Data.TaggedError("StreamClosedError")<{
  readonly reason: "Finished" | "Reset" | "ReceiveOnly" | "SendOnly" | "Closed"
}> {}

/**
 * `readToEnd` met more bytes than it was allowed to buffer.
 *
 * @since 0.1.0
 * @category errors
 */
export class StreamTooLongError extends Data.TaggedError("StreamTooLongError")<{
  readonly maxBytes: number
}> {}

/**
 * A datagram could not be queued (RFC 9221).
 *
 * @since 0.1.0
 * @category errors
 */
export class DatagramError extends Data.TaggedError("DatagramError")<{
  readonly reason: "Disabled" | "UnsupportedByPeer" | "TooLarge"
  readonly maxSize?: number | undefined
}> {}

/**
 * The endpoint has no configuration for this role (no `server` or no `client` section).
 *
 * @since 0.1.0
 * @category errors
 */
export class EndpointRoleError extends Data.TaggedError("EndpointRoleError")<{
  readonly reason: "NoServerConfig" | "NoClientConfig"
}> {}

/**
 * Everything a stream operation can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type QuicStreamError = StreamResetError | StreamStoppedError | StreamClosedError | ConnectionClosedError

/**
 * The error code a close reason carries (0 for a timeout or a reset).
 *
 * @since 0.1.0
 * @category constructors
 */
export const connectionClosedError = (closeReason: CloseReason): ConnectionClosedError => {
  switch (closeReason._tag) {
    case "LocallyClosed":
      return new ConnectionClosedError({ code: closeReason.code, reason: closeReason.reason, remote: false, closeReason })
    case "ApplicationClosed":
      return new ConnectionClosedError({ code: closeReason.code, reason: closeReason.reason, remote: true, closeReason })
    case "TransportError":
      return new ConnectionClosedError({
        code: BigInt(closeReason.code),
        reason: closeReason.reason,
        remote: closeReason.remote,
        closeReason
      })
    case "TimedOut":
      return new ConnectionClosedError({ code: 0n, reason: "idle timeout", remote: false, closeReason })
    case "Reset":
      return new ConnectionClosedError({ code: 0n, reason: "stateless reset", remote: true, closeReason })
    case "VersionMismatch":
      return new ConnectionClosedError({ code: 0n, reason: "no common QUIC version", remote: true, closeReason })
    case "EndpointClosed":
      return new ConnectionClosedError({ code: 0n, reason: "endpoint closed", remote: false, closeReason })
  }
}

/**
 * A human-readable description of a close reason.
 *
 * @since 0.1.0
 * @category utils
 */
export const describeCloseReason = (reason: CloseReason): string => {
  switch (reason._tag) {
    case "LocallyClosed":
      return `closed locally with code ${reason.code}${reason.reason ? `: ${reason.reason}` : ""}`
    case "ApplicationClosed":
      return `closed by the peer with code ${reason.code}${reason.reason ? `: ${reason.reason}` : ""}`
    case "TransportError":
      return `${reason.remote ? "peer reported" : "transport error"} 0x${reason.code.toString(16)}${reason.reason ? `: ${reason.reason}` : ""}`
    case "TimedOut":
      return "idle timeout"
    case "Reset":
      return "stateless reset by the peer"
    case "VersionMismatch":
      return `no common QUIC version (server offers ${reason.serverVersions.map((v) => `0x${v.toString(16)}`).join(", ")})`
    case "EndpointClosed":
      return "endpoint closed"
  }
}
