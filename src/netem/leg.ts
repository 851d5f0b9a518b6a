/**
 * One of the relay's UDP sockets, with its sends in flight counted so that
 * it is closed only once what it was handed has left (closing earlier would
 * silently drop datagrams the log already calls forwarded).
 *
 * @since 0.1.0
 */
import * as Dgram from "node:dgram"
import { addressKey, type SocketAddress } from "../internal/address.js"

/** Large kernel buffers, so that the relay itself is not the bottleneck. */
const SOCKET_BUFFER_BYTES = 4 << 20

/**
 * A bound socket.
 *
 * @since 0.1.0
 * @category models
 */
export interface Leg {
  readonly local: SocketAddress
  /** `local` as `HOST:PORT`. */
  readonly key: string
  /** Sends `data`; `done` gets the error, if any, once the kernel has it. */
  readonly send: (data: Uint8Array, to: SocketAddress, done: (error: Error | null) => void) => void
  /** Stops receiving now and closes once the sends in flight have completed. */
  readonly retire: () => void
  readonly inFlight: () => number
}

/**
 * Binds a socket to `address:port` (0: an ephemeral port) and calls `ready`
 * with it, or with the error. Errors after binding are ignored: a relay
 * must survive whatever its sockets report.
 *
 * @since 0.1.0
 * @category constructors
 */
export const bindLeg = (
  type: "udp4" | "udp6",
  address: string,
  port: number,
  onMessage: (data: Buffer, from: SocketAddress) => void,
  ready: (result: Leg | Error) => void
): void => {
  const socket = Dgram.createSocket({ type })
  let inFlight = 0
  let retired = false
  const closeWhenIdle = () => {
    if (retired && inFlight === 0) socket.close()
  }
  socket.once("error", (error) => {
    socket.close()
    ready(error)
  })
  socket.once("listening", () => {
    socket.removeAllListeners("error")
    socket.on("error", () => {})
    try {
      socket.setRecvBufferSize(SOCKET_BUFFER_BYTES)
      socket.setSendBufferSize(SOCKET_BUFFER_BYTES)
    } catch {
      // The system may refuse large buffers; the defaults still work.
    }
    const bound = socket.address()
    const local = { address: bound.address, port: bound.port }
    ready({
      local,
      key: addressKey(local),
      send: (data, to, done) => {
        inFlight++
        socket.send(data, to.port, to.address, (error) => {
          inFlight--
          done(error)
          closeWhenIdle()
        })
      },
      retire: () => {
        if (retired) return
        retired = true
        socket.removeAllListeners("message")
        closeWhenIdle()
      },
      inFlight: () => inFlight
    })
  })
  socket.on("message", (data, remote) => onMessage(data, { address: remote.address, port: remote.port }))
  socket.bind({ address, port, exclusive: true })
}
