/**
 * quic-perf's failures, each of which becomes one line on stderr and a
 * non-zero exit status: never a stack trace.
 */
import { Data } from "effect"
import {
  ConfigError,
  ConnectError,
  ConnectionClosedError,
  DatagramError,
  describeCloseReason,
  StreamResetError,
  StreamStoppedError,
  StreamTooLongError
} from "../QuicError.js"
import { SocketError } from "../UdpSocket.js"

export class PerfError extends Data.TaggedError("PerfError")<{
  readonly reason: "Usage" | "Unreachable" | "Transfer" | "Io"
  readonly message: string
}> {}

/** One line saying what went wrong, for any failure of the program. */
export const describeFailure = (error: unknown): string => {
  if (error instanceof PerfError) return error.message
  if (error instanceof SocketError) {
    return error.reason === "AddressInUse" ? `cannot listen: the address is in use (${error.message})` : `socket: ${error.message}`
  }
  if (error instanceof ConfigError) return `configuration: ${error.reason}`
  if (error instanceof ConnectError) return `connection failed: ${error.message}`
  if (error instanceof ConnectionClosedError) return `connection closed: ${describeCloseReason(error.closeReason)}`
  if (error instanceof StreamResetError) return `the server reset a request stream (code ${error.code})`
  if (error instanceof StreamStoppedError) return `the server stopped reading a request stream (code ${error.code})`
  if (error instanceof StreamTooLongError) return "a response was longer than requested"
  if (error instanceof DatagramError) {
    return error.reason === "UnsupportedByPeer" ? "datagrams: the server does not accept them" : `datagrams: ${error.reason}`
  }
  if (error instanceof Error) return error.message
  return String(error)
}
