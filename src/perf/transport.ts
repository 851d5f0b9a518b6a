/**
 * Transport settings shared by the client and the server commands.
 */
import * as NodeUdpSocket from "../NodeUdpSocket.js"
import type { TransportConfig } from "../QuicConfig.js"

export interface TransportFlags {
  readonly maxUdpPayload: number | undefined
  readonly congestionControl: "cubic" | "newreno"
}

/** Large kernel buffers: a bulk transfer on loopback outruns the defaults. */
export const SOCKET_BUFFER_BYTES = 8 << 20

/** A client's socket: any port on every address of the server's family. */
export const clientSocket = (family: "udp4" | "udp6") =>
  NodeUdpSocket.make({
    address: family === "udp6" ? "::" : "0.0.0.0",
    port: 0,
    type: family,
    recvBufferSize: SOCKET_BUFFER_BYTES,
    sendBufferSize: SOCKET_BUFFER_BYTES
  })

/** Enough concurrent streams for `--parallel` request windows. */
const MAX_CONCURRENT_STREAMS = 1000

export const transportOptions = (flags: TransportFlags): typeof TransportConfig.Encoded => ({
  congestionController: flags.congestionControl,
  maxConcurrentBidiStreams: MAX_CONCURRENT_STREAMS,
  ...(flags.maxUdpPayload === undefined ? {} : { maxUdpPayloadSize: flags.maxUdpPayload })
})
