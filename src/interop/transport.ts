/**
 * Transport settings both interop roles share.
 */
import type { TransportConfig } from "../QuicConfig.js"

/**
 * Small initial flow-control windows, as the runner's transfer case asks:
 * the receiver must raise them (MAX_DATA, MAX_STREAM_DATA) as data flows,
 * and our windows grow with the measured bandwidth-delay product.
 */
export const interopTransport: typeof TransportConfig.Encoded = {
  initialConnectionWindow: 64 * 1024,
  initialStreamWindow: 16 * 1024,
  // RFC 9000 §4.6: the multiplexing case needs a limit the client must wait on (≤ 1000).
  maxConcurrentBidiStreams: 100
}
