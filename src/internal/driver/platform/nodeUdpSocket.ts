/**
 * The `node:dgram` implementation of the UdpSocket service (see
 * src/NodeUdpSocket.ts for the contract).
 */
import * as Dgram from "node:dgram"
import { Effect, Exit, Layer, Mailbox, type Scope } from "effect"
import type * as api from "../../../NodeUdpSocket.js"
import { type Datagram, type OutgoingDatagrams, SocketError, type SocketAddress, UdpSocket } from "../../../UdpSocket.js"
import { addressKey } from "../../address.js"
import { segments } from "../../platform/segments.js"
import { bindErrorReason, errorCode, isValidPort, sendErrorReason } from "../../platform/socketErrors.js"

export const defaultReceiveQueueSize = 4096

interface Counters {
  sent: number
  received: number
  dropped: number
}

interface Handle {
  readonly socket: Dgram.Socket
  readonly local: SocketAddress
  closed: boolean
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const bindError = (error: unknown, options: api.Options): SocketError =>
  new SocketError({
    reason: bindErrorReason(errorCode(error)),
    message: `cannot bind ${options.type} socket to ${addressKey(options)}: ${describe(error)}`,
    cause: error
  })

const sendError = (error: unknown): SocketError =>
  new SocketError({ reason: sendErrorReason(errorCode(error)), message: `send failed: ${describe(error)}`, cause: error })

const closedError = (local: SocketAddress): SocketError =>
  new SocketError({ reason: "Closed", message: `socket ${addressKey(local)} is closed` })

const closeQuietly = (socket: Dgram.Socket): void => {
  try {
    socket.close()
  } catch {
    // Already closed.
  }
}

/**
 * Creates the socket, attaches the listeners, binds, and applies the buffer
 * sizes. Listeners go on before `bind` so nothing received is missed.
 */
const bind = (
  options: api.Options,
  onMessage: (message: Buffer, remote: Dgram.RemoteInfo) => void,
  onError: (error: Error) => void
): Effect.Effect<Handle, SocketError> =>
  Effect.async<Handle, SocketError>((resume) => {
    if (!isValidPort(options.port)) {
      resume(
        Effect.fail(
          new SocketError({ reason: "AddressNotAvailable", message: `${options.port} is not a valid UDP port (0-65535)` })
        )
      )
      return
    }
    let socket: Dgram.Socket
    try {
      socket = Dgram.createSocket({ type: options.type, reuseAddr: false })
    } catch (error) {
      resume(Effect.fail(bindError(error, options)))
      return
    }
    let settled = false
    const onBindError = (error: Error): void => {
      if (settled) return
      settled = true
      socket.off("listening", onListening)
      closeQuietly(socket)
      resume(Effect.fail(bindError(error, options)))
    }
    const onListening = (): void => {
      if (settled) return
      settled = true
      socket.off("error", onBindError)
      socket.on("error", onError)
      try {
        if (options.recvBufferSize !== undefined) socket.setRecvBufferSize(options.recvBufferSize)
        if (options.sendBufferSize !== undefined) socket.setSendBufferSize(options.sendBufferSize)
        const bound = socket.address()
        resume(Effect.succeed({ socket, local: { address: bound.address, port: bound.port }, closed: false }))
      } catch (error) {
        closeQuietly(socket)
        resume(
          Effect.fail(
            new SocketError({
              reason: "Unknown",
              message: `cannot configure socket ${addressKey(options)}: ${describe(error)}`,
              cause: error
            })
          )
        )
      }
    }
    socket.on("message", onMessage)
    socket.once("error", onBindError)
    socket.once("listening", onListening)
    try {
      // `exclusive`: never share the port with cluster workers.
      socket.bind({ address: options.address, port: options.port, exclusive: true })
    } catch (error) {
      onBindError(error instanceof Error ? error : new Error(String(error)))
    }
    return Effect.sync(() => {
      if (settled) return
      settled = true
      closeQuietly(socket)
    })
  })

const close = (handle: Handle): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (handle.closed) return resume(Effect.void)
    handle.closed = true
    try {
      handle.socket.close(() => resume(Effect.void))
    } catch {
      resume(Effect.void)
    }
  })

const sendBatch = (handle: Handle, counters: Counters, batch: ReadonlyArray<OutgoingDatagrams>) =>
  Effect.async<void, SocketError>((resume) => {
    if (handle.closed) return resume(Effect.fail(closedError(handle.local)))
    // One extra count held while queueing, so that callbacks firing early
    // cannot complete the batch before every datagram has been handed over.
    let pending = 1
    let failure: SocketError | undefined
    const done = (): void => {
      if (--pending === 0) {
        const result = failure === undefined ? Effect.void : Effect.fail(failure)
        // Node completes loopback sends on process.nextTick, before any I/O
        // is polled: resuming at once would let a sender that never waits
        // starve every receiver in this process (whose kernel buffers then
        // overflow). Resuming on the next turn of the event loop lets
        // received datagrams in between.
        setImmediate(() => resume(result))
      }
    }
    const callback = (error: Error | null): void => {
      if (error) failure ??= sendError(error)
      else counters.sent++
      done()
    }
    outer: for (const item of batch) {
      for (const datagram of segments(item.data, item.segmentSize)) {
        pending++
        try {
          handle.socket.send(datagram, item.destination.port, item.destination.address, callback)
        } catch (error) {
          // Thrown synchronously (closed socket, bad port): nothing more can go.
          pending--
          failure ??= sendError(error)
          break outer
        }
      }
    }
    done()
  })

export const make = (options: api.Options): Effect.Effect<api.NodeUdpSocket, SocketError, Scope.Scope> =>
  Effect.gen(function*() {
    const capacity = Math.max(1, Math.floor(options.receiveQueueSize ?? defaultReceiveQueueSize))
    // Received datagrams wait here for the reader; when it is full, new
    // ones are dropped (as the kernel would) and counted. A socket error
    // fails it, closing the socket ends it (after what is already queued).
    const mailbox = yield* Mailbox.make<Datagram, SocketError>({ capacity, strategy: "dropping" })
    const counters: Counters = { sent: 0, received: 0, dropped: 0 }

    const onMessage = (message: Buffer, remote: Dgram.RemoteInfo): void => {
      const datagram: Datagram = {
        data: new Uint8Array(message.buffer, message.byteOffset, message.byteLength),
        remote: { address: remote.address, port: remote.port }
      }
      if (mailbox.unsafeOffer(datagram)) counters.received++
      else counters.dropped++
    }
    const onError = (error: Error): void => {
      mailbox.unsafeDone(
        Exit.fail(new SocketError({ reason: "Unknown", message: `socket error: ${error.message}`, cause: error }))
      )
    }

    const handle = yield* Effect.acquireRelease(bind(options, onMessage, onError), (handle, exit) =>
      Effect.gen(function*() {
        yield* close(handle)
        yield* mailbox.end
        yield* Exit.isFailure(exit)
          ? Effect.logDebug("UDP socket closed by a failing scope", exit.cause)
          : Effect.logDebug("UDP socket closed")
      }).pipe(Effect.annotateLogs({ module: "NodeUdpSocket", local: addressKey(handle.local) })))

    const service: api.NodeUdpSocket = {
      localAddress: Effect.succeed(handle.local),
      send: (batch) => sendBatch(handle, counters, batch),
      receive: Mailbox.toStream(mailbox),
      stats: Effect.sync(() => ({ sent: counters.sent, received: counters.received, dropped: counters.dropped }))
    }
    return service
  })

export const layer = (options: api.Options): Layer.Layer<UdpSocket, SocketError> => Layer.scoped(UdpSocket, make(options))
