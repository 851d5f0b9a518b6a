/**
 * The `node:dgram` implementation of the UdpSocket service (see
 * src/NodeUdpSocket.ts for the contract), with the driver's direct interface
 * (../directSocket.ts): received datagrams go straight from the `message`
 * event to the attached receiver, the end of each burst is signalled once
 * per turn of the event loop (`setImmediate`, which runs after every
 * datagram libuv read in that poll), and sends are plain `socket.send` calls
 * without a callback while the kernel takes them at once.
 */
import * as Dgram from "node:dgram"
import * as Dns from "node:dns"
import { isIP } from "node:net"
import { Effect, Exit, Layer, Mailbox, type Scope } from "effect"
import type * as api from "../../../NodeUdpSocket.js"
import { type Datagram, type OutgoingDatagrams, SocketError, type SocketAddress, UdpSocket } from "../../../UdpSocket.js"
import { addressKey } from "../../address.js"
import { segments } from "../../platform/segments.js"
import { bindErrorReason, errorCode, isValidPort, sendErrorReason } from "../../platform/socketErrors.js"
import { type DirectReceiver, type DirectSocket, DirectSocketTypeId } from "../directSocket.js"

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

/**
 * node:dgram resolves every destination through `dns.lookup`, which answers
 * an IP literal on the next tick: one `process.nextTick` per datagram sent.
 * IP literals are answered here synchronously instead; names still go to DNS.
 */
let lastHost = ""
let lastFamily = 0
const lookup = (
  hostname: string,
  options: Dns.LookupOneOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void
): void => {
  // Datagrams mostly go to the same peer: remember the last answer.
  if (hostname !== lastHost) {
    lastFamily = isIP(hostname)
    lastHost = hostname
  }
  if (lastFamily !== 0) callback(null, hostname, lastFamily)
  else Dns.lookup(hostname, options, callback)
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
      socket = Dgram.createSocket({ type: options.type, reuseAddr: false, lookup })
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

/** How long a closing socket waits for datagrams already handed to it. */
const CLOSE_DRAIN_MILLIS = 100

/**
 * Closes the socket once what it was given has left: node:dgram sends on a
 * later tick (after its address lookup) and libuv may queue datagrams the
 * kernel refused, and closing first would silently drop them, the last
 * CONNECTION_CLOSEs among them.
 */
const close = (handle: Handle): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (handle.closed) return resume(Effect.void)
    const deadline = Date.now() + CLOSE_DRAIN_MILLIS
    const closeNow = (): void => {
      handle.closed = true
      try {
        handle.socket.close(() => resume(Effect.void))
      } catch {
        resume(Effect.void)
      }
    }
    const waitForQueue = (): void => {
      if (handle.socket.getSendQueueCount() === 0 || Date.now() >= deadline) closeNow()
      else setTimeout(waitForQueue, 1)
    }
    setImmediate(waitForQueue)
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

/**
 * The direct interface's `send`. While the kernel takes every datagram at
 * once (libuv's `uv_udp_try_send`), a send is one `socket.send` without a
 * callback: no request object survives it and no callback is queued. When
 * the kernel refuses (EAGAIN), libuv queues the datagram and
 * `getSendQueueCount()` becomes non-zero: the socket is then congested, the
 * sender is told to wait, and it is told `writable` once libuv's queue has
 * drained (from the completion callbacks of datagrams sent while congested,
 * or a 1 ms poll when there were none).
 */
const directSender = (handle: Handle, counters: Counters, receiver: () => DirectReceiver | undefined) => {
  let congested = false
  let poll: ReturnType<typeof setTimeout> | undefined
  const drained = (): void => {
    congested = false
    if (poll !== undefined) clearTimeout(poll)
    poll = undefined
    receiver()?.writable()
  }
  const check = (): void => {
    poll = undefined
    if (!congested) return
    if (handle.closed || handle.socket.getSendQueueCount() === 0) drained()
    else poll = setTimeout(check, 1)
  }
  const afterQueuedSend = (): void => {
    if (congested && (handle.closed || handle.socket.getSendQueueCount() === 0)) drained()
  }
  return (destination: SocketAddress, data: Uint8Array): boolean => {
    // A closed socket drops what it is given, as a network would.
    if (handle.closed) return true
    const socket = handle.socket
    try {
      if (congested) {
        socket.send(data, destination.port, destination.address, afterQueuedSend)
        counters.sent++
        return false
      }
      socket.send(data, destination.port, destination.address)
    } catch {
      // Thrown synchronously (bad port, socket closing): the datagram is lost.
      return true
    }
    counters.sent++
    if (socket.getSendQueueCount() === 0) return true
    congested = true
    poll ??= setTimeout(check, 1)
    return false
  }
}

export const make = (options: api.Options): Effect.Effect<api.NodeUdpSocket, SocketError, Scope.Scope> =>
  Effect.gen(function*() {
    const capacity = Math.max(1, Math.floor(options.receiveQueueSize ?? defaultReceiveQueueSize))
    // Received datagrams wait here for the reader; when it is full, new
    // ones are dropped (as the kernel would) and counted. A socket error
    // fails it, closing the socket ends it (after what is already queued).
    const mailbox = yield* Mailbox.make<Datagram, SocketError>({ capacity, strategy: "dropping" })
    const counters: Counters = { sent: 0, received: 0, dropped: 0 }
    /** The driver attached for direct delivery, if any. */
    let receiver: DirectReceiver | undefined
    let burstPending = false
    const endOfBurst = (): void => {
      burstPending = false
      receiver?.endOfBurst()
    }

    // Datagrams mostly come from the same peer: its (immutable) address object is reused.
    let lastRemote: SocketAddress = { address: "", port: 0 }
    const onMessage = (message: Buffer, remote: Dgram.RemoteInfo): void => {
      const data = new Uint8Array(message.buffer, message.byteOffset, message.byteLength)
      const direct = receiver
      if (direct !== undefined) {
        counters.received++
        if (remote.port !== lastRemote.port || remote.address !== lastRemote.address) {
          lastRemote = { address: remote.address, port: remote.port }
        }
        direct.datagram(data, lastRemote)
        if (!burstPending) {
          burstPending = true
          setImmediate(endOfBurst)
        }
        return
      }
      if (mailbox.unsafeOffer({ data, remote: { address: remote.address, port: remote.port } })) counters.received++
      else counters.dropped++
    }
    const onError = (error: Error): void => {
      const failure = new SocketError({ reason: "Unknown", message: `socket error: ${error.message}`, cause: error })
      receiver?.failed(failure)
      mailbox.unsafeDone(Exit.fail(failure))
    }

    const handle = yield* Effect.acquireRelease(bind(options, onMessage, onError), (handle, exit) =>
      Effect.gen(function*() {
        yield* close(handle)
        yield* mailbox.end
        yield* Exit.isFailure(exit)
          ? Effect.logDebug("UDP socket closed by a failing scope", exit.cause)
          : Effect.logDebug("UDP socket closed")
      }).pipe(Effect.annotateLogs({ module: "NodeUdpSocket", local: addressKey(handle.local) })))

    const direct: DirectSocket = {
      attach: (r) => {
        receiver = r
      },
      detach: (r) => {
        if (receiver === r) receiver = undefined
      },
      send: directSender(handle, counters, () => receiver),
      bind: (address) => make({ ...options, address: address.address, port: address.port, type: address.address.includes(":") ? "udp6" : "udp4" })
    }
    const service: api.NodeUdpSocket & { readonly [DirectSocketTypeId]: DirectSocket } = {
      localAddress: Effect.succeed(handle.local),
      send: (batch) => sendBatch(handle, counters, batch),
      receive: Mailbox.toStream(mailbox),
      stats: Effect.sync(() => ({ sent: counters.sent, received: counters.received, dropped: counters.dropped })),
      [DirectSocketTypeId]: direct
    }
    return service
  })

export const layer = (options: api.Options): Layer.Layer<UdpSocket, SocketError> => Layer.scoped(UdpSocket, make(options))
