/**
 * All streams of one connection (RFC 9000 §2–4): stream IDs and limits,
 * the application's calls, the stream frames that arrive, and the stream
 * frames that fill outgoing packets.
 *
 * The connection feeds it frames with {@link StreamManager.onFrame}, asks it
 * to fill packet space with {@link StreamManager.writeFrames}, and reports the
 * fate of each packet's {@link SentStreamFrame} records through
 * {@link StreamManager.onAcked} / {@link StreamManager.onLost}. The
 * application's side is `openBi`/`openUni`, `send`/`sendChunks`/`finish`/
 * `resetStream`, `recv`/`recvInto`/`stopSending`, and
 * {@link StreamManager.pollEvent}.
 *
 * Memory is bounded by what we grant, never by what the peer sends: data by
 * the stream and connection windows (§4.1), peer streams by our MAX_STREAMS
 * (§4.6), and a stream's state is freed once both its parts are terminal
 * (§3.1, §3.2), at which point the peer gets a stream back.
 */
import type { BufferWriter } from "../codec/writer.js"
import { type TransportError, TransportErrorCode, transportError } from "../errors.js"
import { encodeFrame, encodeStreamFrameHeader, frameLength, streamFrameHeaderLength } from "../frame/encode.js"
import { type Frame, frameTypeOf } from "../frame/types.js"
import { varintLength } from "../codec/varint.js"
import type { Role, TransportParameters } from "../tls/transportParameters.js"
import {
  ReadBlocked,
  ReadClosedStream,
  type ReadError,
  type StreamEvent,
  WriteBlocked,
  WriteClosedStream,
  type WriteError
} from "./events.js"
import { creditFromWire, ReceiveWindow, SendCredit } from "./flowControl.js"
import { RecvStream } from "./recvStream.js"
import { SendStream } from "./sendStream.js"
import { initiator, isBidi, MAX_STREAM_INDEX, streamId, streamIndex } from "./streamId.js"

export interface StreamConfig {
  /** Peer-initiated bidirectional streams open at once (our initial_max_streams_bidi, then MAX_STREAMS). */
  readonly maxConcurrentBidiStreams: number
  /** Peer-initiated unidirectional streams open at once. */
  readonly maxConcurrentUniStreams: number
  /** The initial receive window of every stream (our initial_max_stream_data_*). */
  readonly streamReceiveWindow: number
  /** The largest a stream's receive window grows to by auto-tuning. */
  readonly maxStreamReceiveWindow: number
  /** The initial connection receive window (our initial_max_data). */
  readonly connectionReceiveWindow: number
  /** The largest the connection receive window grows to by auto-tuning. */
  readonly maxConnectionReceiveWindow: number
  /** Bytes one stream holds written but not yet acknowledged; writes beyond are refused. */
  readonly sendBufferSize: number
}

/** quic-go's defaults: windows start at 512 KiB / 768 KiB and grow to 6 MiB / 15 MiB. */
export const defaultStreamConfig: StreamConfig = {
  maxConcurrentBidiStreams: 100,
  maxConcurrentUniStreams: 100,
  streamReceiveWindow: 512 * 1024,
  maxStreamReceiveWindow: 6 * 1024 * 1024,
  connectionReceiveWindow: 768 * 1024,
  maxConnectionReceiveWindow: 15 * 1024 * 1024,
  sendBufferSize: 4 * 1024 * 1024
}

/** The transport parameters (RFC 9000 §18.2) that concern streams, in either direction. */
export type StreamParameters = Pick<
  TransportParameters,
  | "initialMaxData"
  | "initialMaxStreamDataBidiLocal"
  | "initialMaxStreamDataBidiRemote"
  | "initialMaxStreamDataUni"
  | "initialMaxStreamsBidi"
  | "initialMaxStreamsUni"
>

/**
 * What one frame written by {@link StreamManager.writeFrames} carried,
 * enough to act on its acknowledgment or loss (RFC 9000 §13.3): lost data
 * is retransmitted exactly; a lost control frame is sent again only if what
 * it said is still current.
 */
export type SentStreamFrame =
  | {
    readonly _tag: "Stream"
    readonly id: number
    readonly offset: number
    readonly length: number
    readonly fin: boolean
  }
  | { readonly _tag: "ResetStream"; readonly id: number }
  | { readonly _tag: "StopSending"; readonly id: number }
  | { readonly _tag: "MaxData"; readonly max: number }
  | { readonly _tag: "MaxStreamData"; readonly id: number; readonly max: number }
  | { readonly _tag: "MaxStreams"; readonly bidi: boolean; readonly max: number }
  | { readonly _tag: "DataBlocked"; readonly limit: number }
  | { readonly _tag: "StreamDataBlocked"; readonly id: number; readonly limit: number }
  | { readonly _tag: "StreamsBlocked"; readonly bidi: boolean; readonly limit: number }

/** The frames {@link StreamManager.onFrame} handles. */
export type StreamFrame = Extract<
  Frame,
  {
    readonly _tag:
      | "Stream"
      | "ResetStream"
      | "StopSending"
      | "MaxData"
      | "MaxStreamData"
      | "MaxStreams"
      | "DataBlocked"
      | "StreamDataBlocked"
      | "StreamsBlocked"
  }
>

/** `recv`: the bytes read (a view, valid until dropped) and whether they end the stream. */
export interface ReadChunk {
  readonly data: Uint8Array
  readonly finished: boolean
}

/** `recvInto`: how many bytes were copied and whether they end the stream. */
export interface ReadInto {
  readonly length: number
  readonly finished: boolean
}

/** One stream: a sending part unless it is the peer's unidirectional stream, a receiving part unless ours. */
interface Stream {
  readonly id: number
  readonly send: SendStream | undefined
  readonly recv: RecvStream | undefined
  /** In the round-robin queue of streams with STREAM frames to send. */
  queued: boolean
}

/** Index of per-direction state: bidirectional, unidirectional. */
type Dir = 0 | 1
const BIDI: Dir = 0
const UNI: Dir = 1
const DIRS = [BIDI, UNI] as const
const dirOf = (bidi: boolean): Dir => (bidi ? BIDI : UNI)

/**
 * quic-go's ConnectionFlowControlMultiplier: when a stream's window grows the
 * connection's grows to 1.5 times it, so one fast stream is not held back by
 * the connection window.
 */
const CONNECTION_WINDOW_MULTIPLIER = 1.5

export class StreamManager {
  private readonly role: Role
  private readonly config: StreamConfig
  private readonly streams = new Map<number, Stream>()

  // Streams we open (RFC 9000 §4.6).
  /** How many streams of each type we opened. */
  private readonly opened: [number, number] = [0, 0]
  /** The peer's MAX_STREAMS. */
  private readonly openLimit: [number, number] = [0, 0]
  /** The limit at which we last sent STREAMS_BLOCKED (-1: never), and whether one is owed. */
  private readonly streamsBlockedAt: [number, number] = [-1, -1]
  private readonly streamsBlockedPending: [boolean, boolean] = [false, false]

  // Streams the peer opens.
  /** How many streams of each type the peer opened (we created). */
  private readonly accepted: [number, number] = [0, 0]
  /** Our MAX_STREAMS: closed peer streams plus the concurrency we allow. */
  private readonly acceptLimit: [number, number]
  private readonly acceptLimitUnsent: [boolean, boolean] = [false, false]

  /** The peer's initial_max_stream_data_* (§18.2), for streams not yet created. */
  private peerBidiLocal = 0
  private peerBidiRemote = 0
  private peerUni = 0

  /** RFC 9000 §4.1, connection level: the peer's MAX_DATA and our own. */
  private readonly connectionCredit = new SendCredit(0)
  private readonly connectionWindow: ReceiveWindow

  /** Streams with STREAM frames to send, in turn order (`sendQueue[queueHead]` goes next). */
  private sendQueue: Array<Stream> = []
  private queueHead = 0
  /** Streams with a per-stream control frame to send. */
  private readonly control = new Set<Stream>()
  /** Streams whose last write was refused or cut short, owed a StreamWritable. */
  private readonly writeBlocked = new Set<Stream>()

  private events: Array<StreamEvent> = []
  private eventHead = 0

  constructor(role: Role, config: StreamConfig = defaultStreamConfig) {
    this.role = role
    this.config = config
    this.acceptLimit = [config.maxConcurrentBidiStreams, config.maxConcurrentUniStreams]
    this.connectionWindow = new ReceiveWindow({
      initial: config.connectionReceiveWindow,
      maximum: config.maxConnectionReceiveWindow
    })
  }

  // ---------------------------------------------------------------------------
  // Transport parameters

  /** What we grant the peer, for our transport parameters (RFC 9000 §18.2). */
  localParameters(): StreamParameters {
    return {
      initialMaxData: this.config.connectionReceiveWindow,
      initialMaxStreamDataBidiLocal: this.config.streamReceiveWindow,
      initialMaxStreamDataBidiRemote: this.config.streamReceiveWindow,
      initialMaxStreamDataUni: this.config.streamReceiveWindow,
      initialMaxStreamsBidi: this.config.maxConcurrentBidiStreams,
      initialMaxStreamsUni: this.config.maxConcurrentUniStreams
    }
  }

  /**
   * Applies the peer's transport parameters. A client sending 0-RTT applies
   * the remembered ones first and the server's real ones at the end of the
   * handshake; RFC 9000 §7.4.1 forbids a server that accepts 0-RTT to reduce
   * them, so limits only ever rise here (streams opened under the remembered
   * values keep their credit).
   */
  applyPeerParameters(params: StreamParameters): void {
    this.peerBidiLocal = Math.max(this.peerBidiLocal, params.initialMaxStreamDataBidiLocal)
    this.peerBidiRemote = Math.max(this.peerBidiRemote, params.initialMaxStreamDataBidiRemote)
    this.peerUni = Math.max(this.peerUni, params.initialMaxStreamDataUni)
    for (const stream of this.streams.values()) {
      if (stream.send !== undefined) stream.send.credit.raise(this.initialSendCredit(stream.id))
    }
    this.connectionCredit.raise(params.initialMaxData)
    this.raiseOpenLimit(BIDI, params.initialMaxStreamsBidi)
    this.raiseOpenLimit(UNI, params.initialMaxStreamsUni)
    this.wakeWriters()
  }

  // ---------------------------------------------------------------------------
  // Opening streams

  /** Opens a bidirectional stream; `undefined` while the peer's MAX_STREAMS is reached. */
  openBi(): number | undefined {
    return this.open(BIDI)
  }

  /** Opens a unidirectional stream; `undefined` while the peer's MAX_STREAMS is reached. */
  openUni(): number | undefined {
    return this.open(UNI)
  }

  private open(dir: Dir): number | undefined {
    if (this.opened[dir] >= this.openLimit[dir]) {
      // RFC 9000 §4.6: "An endpoint that is unable to open a new stream due to
      // the peer's limits SHOULD send a STREAMS_BLOCKED frame"; once per limit.
      if (this.streamsBlockedAt[dir] !== this.openLimit[dir]) {
        this.streamsBlockedAt[dir] = this.openLimit[dir]
        this.streamsBlockedPending[dir] = true
      }
      return undefined
    }
    const id = streamId(this.opened[dir]++, this.role, dir === BIDI)
    this.create(id)
    return id
  }

  private raiseOpenLimit(dir: Dir, max: number): void {
    const limit = Math.min(max, MAX_STREAM_INDEX)
    if (limit <= this.openLimit[dir]) return
    this.openLimit[dir] = limit
    this.streamsBlockedPending[dir] = false
    this.emit({ _tag: "StreamsAvailable", bidi: dir === BIDI })
  }

  private create(id: number): Stream {
    const local = initiator(id) === this.role
    const bidi = isBidi(id)
    const stream: Stream = {
      id,
      send: bidi || local ? new SendStream(this.initialSendCredit(id)) : undefined,
      recv: bidi || !local
        ? new RecvStream({ initial: this.config.streamReceiveWindow, maximum: this.config.maxStreamReceiveWindow })
        : undefined,
      queued: false
    }
    this.streams.set(id, stream)
    return stream
  }

  /**
   * RFC 9000 §18.2: the peer's initial_max_stream_data_bidi_local covers the
   * streams it opens, _bidi_remote the bidirectional streams we open, _uni
   * our unidirectional streams.
   */
  private initialSendCredit(id: number): number {
    if (!isBidi(id)) return this.peerUni
    return initiator(id) === this.role ? this.peerBidiRemote : this.peerBidiLocal
  }

  /**
   * The stream a frame names, creating peer streams as §3.2 requires: "Before
   * a stream is created, all streams of the same type with lower-numbered
   * stream IDs MUST be created." `undefined` for a stream already closed and
   * freed (a late frame to ignore). `needs` is the part the frame addresses.
   */
  private lookup(id: number, needs: "send" | "recv", frameType: number): Stream | TransportError | undefined {
    const local = initiator(id) === this.role
    const bidi = isBidi(id)
    // RFC 9000 §19.4, §19.8, §19.13: RESET_STREAM, STREAM or
    // STREAM_DATA_BLOCKED for a send-only stream, and §19.5, §19.10:
    // STOP_SENDING or MAX_STREAM_DATA for a receive-only stream, MUST be
    // STREAM_STATE_ERROR.
    if (!bidi && local === (needs === "recv")) {
      return transportError(
        TransportErrorCode.STREAM_STATE_ERROR,
        local ? "frame for a send-only stream" : "frame for a receive-only stream",
        frameType
      )
    }
    const dir = dirOf(bidi)
    const index = streamIndex(id)
    if (local) {
      // RFC 9000 §19.5, §19.8, §19.10: a frame for "a locally initiated stream
      // that has not yet been created MUST be treated as a connection error of
      // type STREAM_STATE_ERROR".
      if (index >= this.opened[dir]) {
        return transportError(TransportErrorCode.STREAM_STATE_ERROR, "frame for a stream we have not opened", frameType)
      }
      return this.streams.get(id)
    }
    // RFC 9000 §4.6: "An endpoint that receives a frame with a stream ID
    // exceeding the limit it has sent MUST treat this as a connection error
    // of type STREAM_LIMIT_ERROR".
    if (index >= this.acceptLimit[dir]) {
      return transportError(TransportErrorCode.STREAM_LIMIT_ERROR, "stream beyond our MAX_STREAMS", frameType)
    }
    while (this.accepted[dir] <= index) {
      const opened = streamId(this.accepted[dir]++, initiator(id), bidi)
      this.create(opened)
      this.emit({ _tag: "StreamOpened", id: opened, bidi })
    }
    return this.streams.get(id)
  }

  // ---------------------------------------------------------------------------
  // Frames in

  /**
   * Takes one stream-related frame from a packet. Returns the connection
   * error it causes, if any; the connection then closes, so state may be
   * left half-updated after an error.
   */
  onFrame(frame: StreamFrame): TransportError | undefined {
    switch (frame._tag) {
      case "Stream":
        return this.onStream(frame)
      case "ResetStream":
        return this.onResetStream(frame)
      case "StopSending":
        return this.onStopSending(frame)
      case "MaxData":
        if (this.connectionCredit.raise(creditFromWire(frame.max))) this.wakeWriters()
        return undefined
      case "MaxStreamData":
        return this.onMaxStreamData(frame)
      case "MaxStreams":
        // RFC 9000 §19.11: "MAX_STREAMS frames that do not increase the stream
        // limit MUST be ignored"; above 2^60 the decoder already refused it.
        this.raiseOpenLimit(dirOf(frame.bidi), creditFromWire(frame.max))
        return undefined
      case "StreamDataBlocked": {
        // Informational (§19.13); it still opens a peer stream and must not
        // name a send-only one.
        const stream = this.lookup(frame.id, "recv", frameTypeOf(frame))
        return stream !== undefined && "_tag" in stream ? stream : undefined
      }
      case "DataBlocked":
      case "StreamsBlocked":
        // Informational (§19.12, §19.14): our windows and MAX_STREAMS are
        // raised by the application's progress, not by the peer's asking.
        return undefined
    }
  }

  private onStream(frame: Extract<StreamFrame, { _tag: "Stream" }>): TransportError | undefined {
    const frameType = frameTypeOf(frame)
    const stream = this.lookup(frame.id, "recv", frameType)
    if (stream === undefined) return undefined
    if ("_tag" in stream) return stream
    const recv = stream.recv!
    const end = frame.offset + frame.data.length
    const error = recv.buffer.checkFinalSize(end, frame.fin, frameType) ??
      this.checkFlowControl(recv, end, frameType) ??
      recv.onData(frame.offset, frame.data, frame.fin, frameType)
    if (error !== undefined) return error
    this.afterReceive(stream)
    return undefined
  }

  private onResetStream(frame: Extract<StreamFrame, { _tag: "ResetStream" }>): TransportError | undefined {
    const frameType = frameTypeOf(frame)
    const stream = this.lookup(frame.id, "recv", frameType)
    if (stream === undefined) return undefined
    if ("_tag" in stream) return stream
    const recv = stream.recv!
    const error = recv.buffer.checkFinalSize(frame.finalSize, true, frameType) ??
      this.checkFlowControl(recv, frame.finalSize, frameType)
    if (error !== undefined) return error
    recv.onReset(frame.errorCode, frame.finalSize)
    this.afterReceive(stream)
    return undefined
  }

  /**
   * RFC 9000 §4.1 at both levels for data up to `end`. On success the
   * connection counts the stream's new highest offset (§4.5: what counts is
   * the highest offset, whatever the gaps below it).
   */
  private checkFlowControl(recv: RecvStream, end: number, frameType: number): TransportError | undefined {
    if (!recv.window.allows(end)) {
      return transportError(TransportErrorCode.FLOW_CONTROL_ERROR, "stream data beyond MAX_STREAM_DATA", frameType)
    }
    const total = this.connectionWindow.received + Math.max(0, end - recv.buffer.highest)
    if (!this.connectionWindow.allows(total)) {
      return transportError(TransportErrorCode.FLOW_CONTROL_ERROR, "stream data beyond MAX_DATA", frameType)
    }
    this.connectionWindow.onReceived(total)
    return undefined
  }

  private onStopSending(frame: Extract<StreamFrame, { _tag: "StopSending" }>): TransportError | undefined {
    const stream = this.lookup(frame.id, "send", frameTypeOf(frame))
    if (stream === undefined) return undefined
    if ("_tag" in stream) return stream
    const send = stream.send!
    // RFC 9000 §3.5: "An endpoint that receives a STOP_SENDING frame MUST send
    // a RESET_STREAM frame if the stream is in the "Ready" or "Send" state"
    // and "SHOULD copy the error code from the STOP_SENDING frame". In "Data
    // Sent" we reset too rather than keep retransmitting unwanted data.
    if (send.stopCode !== undefined || !send.reset(frame.errorCode)) return undefined
    send.stopCode = frame.errorCode
    this.control.add(stream)
    this.writeBlocked.delete(stream)
    this.emit({ _tag: "StreamStopped", id: stream.id, code: frame.errorCode })
    return undefined
  }

  private onMaxStreamData(frame: Extract<StreamFrame, { _tag: "MaxStreamData" }>): TransportError | undefined {
    const stream = this.lookup(frame.id, "send", frameTypeOf(frame))
    if (stream === undefined) return undefined
    if ("_tag" in stream) return stream
    if (stream.send!.credit.raise(creditFromWire(frame.max))) this.wakeWriter(stream)
    return undefined
  }

  /** After a frame changed a receiving part: connection credit, Readable, freeing. */
  private afterReceive(stream: Stream): void {
    const recv = stream.recv!
    this.connectionWindow.consume(recv.releasable())
    if (recv.readable && !recv.readableSignalled) {
      recv.readableSignalled = true
      this.emit({ _tag: "StreamReadable", id: stream.id })
    }
    this.maybeFree(stream)
  }

  // ---------------------------------------------------------------------------
  // Application: sending

  /**
   * Writes what flow control and the send buffer allow of `data`, copying
   * the accepted bytes once (the caller may reuse `data`). Returns the number
   * of bytes accepted; fewer than `data.length` (or `WriteBlocked` for none)
   * means a `StreamWritable` event will follow.
   */
  send(id: number, data: Uint8Array): number | WriteError {
    const stream = this.writable(id)
    if ("_tag" in stream) return stream
    const n = this.accept(stream, data.length)
    if (n === 0) return data.length === 0 ? 0 : WriteBlocked
    stream.send!.buffer.write(data.slice(0, n))
    return n
  }

  /**
   * Like {@link send} for several chunks, without copying: the accepted
   * bytes are kept as they are (views cut at the limit), so the caller must
   * not modify them afterwards.
   */
  sendChunks(id: number, chunks: ReadonlyArray<Uint8Array>): number | WriteError {
    const stream = this.writable(id)
    if ("_tag" in stream) return stream
    let wanted = 0
    for (const chunk of chunks) wanted += chunk.length
    const n = this.accept(stream, wanted)
    if (n === 0) return wanted === 0 ? 0 : WriteBlocked
    const buffer = stream.send!.buffer
    let left = n
    for (const chunk of chunks) {
      if (left === 0) break
      const take = Math.min(left, chunk.length)
      buffer.write(take === chunk.length ? chunk : chunk.subarray(0, take))
      left -= take
    }
    return n
  }

  /** Ends the stream after the data written so far (the FIN, RFC 9000 §3.1). */
  finish(id: number): WriteError | undefined {
    const stream = this.writable(id)
    if ("_tag" in stream) return stream
    stream.send!.buffer.finish()
    this.writeBlocked.delete(stream)
    this.enqueue(stream)
    return undefined
  }

  /** Abandons the stream's data and sends RESET_STREAM with `code` (RFC 9000 §3.1, §19.4). */
  resetStream(id: number, code: bigint): WriteError | undefined {
    const stream = this.streams.get(id)
    if (stream?.send === undefined || !stream.send.reset(code)) return WriteClosedStream
    this.control.add(stream)
    this.writeBlocked.delete(stream)
    return undefined
  }

  private writable(id: number): Stream | WriteError {
    const stream = this.streams.get(id)
    const send = stream?.send
    if (send === undefined) return WriteClosedStream
    if (send.stopCode !== undefined) return { _tag: "WriteStopped", code: send.stopCode }
    return send.open ? stream! : WriteClosedStream
  }

  /**
   * How many of `wanted` bytes the stream takes now: RFC 9000 §4.1 credit at
   * both levels (counted here, when written, so everything buffered is
   * already within the peer's limits) and the send buffer bound. A shortfall
   * owes the writer a StreamWritable and, when flow control is the cause,
   * the peer a *_BLOCKED frame.
   */
  private accept(stream: Stream, wanted: number): number {
    const send = stream.send!
    const room = Math.min(
      send.credit.available,
      this.connectionCredit.available,
      this.config.sendBufferSize - send.buffer.unacked
    )
    const n = Math.max(0, Math.min(wanted, room))
    send.credit.consume(n)
    this.connectionCredit.consume(n)
    if (n > 0) this.enqueue(stream)
    if (n < wanted) {
      this.writeBlocked.add(stream)
      send.credit.noteBlocked()
      if (send.blockedPending) this.control.add(stream)
      this.connectionCredit.noteBlocked()
    }
    return n
  }

  /** Emits StreamWritable for every refused writer that can write again. */
  private wakeWriters(): void {
    for (const stream of this.writeBlocked) this.wakeWriter(stream)
  }

  private wakeWriter(stream: Stream): void {
    const send = stream.send!
    if (!this.writeBlocked.has(stream)) return
    if (
      send.credit.available > 0 && this.connectionCredit.available > 0 &&
      send.buffer.unacked < this.config.sendBufferSize
    ) {
      this.writeBlocked.delete(stream)
      this.emit({ _tag: "StreamWritable", id: stream.id })
    }
  }

  // ---------------------------------------------------------------------------
  // Application: receiving

  /**
   * Reads up to `max` contiguous bytes, as a view of the receive buffer (no
   * copy; at most one buffer block per call). `finished` is true once the
   * read reaches the end of the stream, possibly with no data.
   */
  recv(id: number, max: number): ReadChunk | ReadError {
    const stream = this.readable(id)
    if ("_tag" in stream) return stream
    const recv = stream.recv!
    const data = recv.buffer.read(max)
    if (data.length === 0 && !recv.buffer.finished) return ReadBlocked
    return { data, finished: this.afterRead(stream, data.length) }
  }

  /** Copies contiguous bytes into `buffer` (the one copy to the application). */
  recvInto(id: number, buffer: Uint8Array): ReadInto | ReadError {
    const stream = this.readable(id)
    if ("_tag" in stream) return stream
    const recv = stream.recv!
    const length = recv.buffer.readInto(buffer)
    if (length === 0 && !recv.buffer.finished) return ReadBlocked
    return { length, finished: this.afterRead(stream, length) }
  }

  /**
   * The application stops reading (RFC 9000 §3.5): buffered data is dropped,
   * its credit returned to the connection, and STOP_SENDING with `code` asks
   * the peer to reset the stream.
   */
  stopSending(id: number, code: bigint): ReadError | undefined {
    const stream = this.streams.get(id)
    const recv = stream?.recv
    if (recv === undefined || recv.stopCode !== undefined || recv.terminal) return ReadClosedStream
    recv.stop(code)
    if (recv.stopPending) this.control.add(stream!)
    this.afterReceive(stream!)
    return undefined
  }

  /** The stream for an application read, or the reason there is none; reports a reset once. */
  private readable(id: number): Stream | ReadError {
    const stream = this.streams.get(id)
    const recv = stream?.recv
    if (recv === undefined || recv.stopCode !== undefined || recv.terminal) return ReadClosedStream
    recv.readableSignalled = false
    if (recv.state === "ResetRecvd") {
      recv.onResetRead()
      this.maybeFree(stream!)
      return { _tag: "ReadReset", code: recv.resetCode! }
    }
    return stream!
  }

  /** Accounts `n` bytes read; returns whether the stream is now fully read. */
  private afterRead(stream: Stream, n: number): boolean {
    const recv = stream.recv!
    recv.onRead(n)
    this.connectionWindow.consume(recv.releasable())
    if (recv.wantsWindowUpdate) this.control.add(stream)
    const finished = recv.terminal
    this.maybeFree(stream)
    return finished
  }

  // ---------------------------------------------------------------------------
  // Frames out

  /** Whether {@link writeFrames} has anything to write. */
  hasPendingData(): boolean {
    if (
      this.connectionWindow.wantsUpdate || this.connectionCredit.blockedPending ||
      this.acceptLimitUnsent[BIDI] || this.acceptLimitUnsent[UNI] ||
      this.streamsBlockedPending[BIDI] || this.streamsBlockedPending[UNI]
    ) return true
    for (const stream of this.control) {
      if (this.hasControl(stream)) return true
      this.control.delete(stream)
    }
    return this.frontOfQueue() !== undefined
  }

  /**
   * Fills up to `maxBytes` from the writer's position with stream frames and
   * appends a record of each to `records`. Control frames go first (they are
   * small and unblock the peer), then STREAM frames, one per stream in turn
   * (each stream with data gets a frame before any gets a second, across
   * packets too). A STREAM frame that fills the space exactly omits its
   * Length (RFC 9000 §19.8), so nothing can follow it. `now` and
   * `smoothedRtt` (µs) drive window auto-tuning.
   */
  writeFrames(
    writer: BufferWriter,
    maxBytes: number,
    records: Array<SentStreamFrame>,
    now: number,
    smoothedRtt: number
  ): void {
    const end = Math.min(writer.offset + maxBytes, writer.bytes.length)
    if (this.writeConnectionFrames(writer, end, records, now, smoothedRtt)) {
      this.writeStreamControlFrames(writer, end, records, now, smoothedRtt)
    }
    this.writeStreamFrames(writer, end, records)
  }

  /** MAX_DATA, MAX_STREAMS, DATA_BLOCKED, STREAMS_BLOCKED. Returns false when out of room. */
  private writeConnectionFrames(
    writer: BufferWriter,
    end: number,
    records: Array<SentStreamFrame>,
    now: number,
    smoothedRtt: number
  ): boolean {
    const window = this.connectionWindow
    if (window.wantsUpdate) {
      const max = window.update(now, smoothedRtt)
      if (!put(writer, end, { _tag: "MaxData", max: BigInt(max) })) return false
      window.onUpdateSent()
      records.push({ _tag: "MaxData", max })
    }
    for (const dir of DIRS) {
      if (!this.acceptLimitUnsent[dir]) continue
      const max = this.acceptLimit[dir]
      if (!put(writer, end, { _tag: "MaxStreams", bidi: dir === BIDI, max: BigInt(max) })) return false
      this.acceptLimitUnsent[dir] = false
      records.push({ _tag: "MaxStreams", bidi: dir === BIDI, max })
    }
    if (this.connectionCredit.blockedPending) {
      const limit = this.connectionCredit.max
      if (!put(writer, end, { _tag: "DataBlocked", limit: BigInt(limit) })) return false
      this.connectionCredit.takeBlocked()
      records.push({ _tag: "DataBlocked", limit })
    }
    for (const dir of DIRS) {
      if (!this.streamsBlockedPending[dir]) continue
      const limit = this.openLimit[dir]
      if (!put(writer, end, { _tag: "StreamsBlocked", bidi: dir === BIDI, limit: BigInt(limit) })) return false
      this.streamsBlockedPending[dir] = false
      records.push({ _tag: "StreamsBlocked", bidi: dir === BIDI, limit })
    }
    return true
  }

  private hasControl(stream: Stream): boolean {
    const { recv, send } = stream
    return (send !== undefined && (send.resetPending || send.blockedPending)) ||
      (recv !== undefined && (recv.stopSendingPending || recv.wantsWindowUpdate))
  }

  /** RESET_STREAM, STREAM_DATA_BLOCKED, STOP_SENDING, MAX_STREAM_DATA, per stream. */
  private writeStreamControlFrames(
    writer: BufferWriter,
    end: number,
    records: Array<SentStreamFrame>,
    now: number,
    smoothedRtt: number
  ): void {
    for (const stream of this.control) {
      const { id, recv, send } = stream
      if (send?.resetPending) {
        const frame: Frame = {
          _tag: "ResetStream",
          id,
          errorCode: send.resetCode!,
          // RFC 9000 §4.5: the final size is every byte written, all of which
          // was counted against the peer's limits when written.
          finalSize: send.buffer.offset
        }
        if (!put(writer, end, frame)) return
        send.resetPending = false
        records.push({ _tag: "ResetStream", id })
      }
      if (send?.blockedPending) {
        const limit = send.credit.max
        if (!put(writer, end, { _tag: "StreamDataBlocked", id, limit: BigInt(limit) })) return
        send.credit.takeBlocked()
        send.onBlockedSent()
        records.push({ _tag: "StreamDataBlocked", id, limit })
      }
      if (recv?.stopSendingPending) {
        if (!put(writer, end, { _tag: "StopSending", id, errorCode: recv.stopCode! })) return
        recv.stopPending = false
        records.push({ _tag: "StopSending", id })
      }
      if (recv?.wantsWindowUpdate) {
        const window = recv.window
        const before = window.window
        const max = window.update(now, smoothedRtt)
        if (window.window > before) {
          this.connectionWindow.ensureWindow(Math.ceil(window.window * CONNECTION_WINDOW_MULTIPLIER))
        }
        if (!put(writer, end, { _tag: "MaxStreamData", id, max: BigInt(max) })) return
        window.onUpdateSent()
        records.push({ _tag: "MaxStreamData", id, max })
      }
      this.control.delete(stream)
    }
  }

  private writeStreamFrames(writer: BufferWriter, end: number, records: Array<SentStreamFrame>): void {
    for (let stream = this.frontOfQueue(); stream !== undefined; stream = this.frontOfQueue()) {
      const send = stream.send!
      const buffer = send.buffer
      const space = end - writer.offset
      // The header without a Length field; `room` is what the Length field
      // and the data may take.
      const room = space - streamFrameHeaderLength(stream.id, buffer.nextOffset, 0, false)
      if (room <= 0) return
      const pending = buffer.nextLength
      // RFC 9000 §19.8: data that fills the packet needs no Length; shorter
      // data carries one, and the frame must leave room for it.
      const fills = pending >= room
      const length = fills ? room : pending + varintLength(pending) <= room ? pending : room - varintLength(room)
      const range = buffer.nextRange(length)
      if (range === undefined) return
      const withLength = range.length !== room
      encodeStreamFrameHeader(writer, stream.id, range.offset, range.length, range.fin, withLength)
      buffer.copyInto(writer.bytes, writer.offset, range.offset, range.length)
      writer.offset += range.length
      send.onSent(range)
      records.push({ _tag: "Stream", id: stream.id, offset: range.offset, length: range.length, fin: range.fin })
      this.endTurn(stream)
      if (!withLength) return
    }
  }

  private enqueue(stream: Stream): void {
    if (stream.queued) return
    stream.queued = true
    this.sendQueue.push(stream)
  }

  /** Round robin: the stream at the front had its turn and goes to the back if it has more. */
  private endTurn(stream: Stream): void {
    this.queueHead++
    if (stream.send!.hasPending) this.sendQueue.push(stream)
    else stream.queued = false
    // Drop the consumed front now and then, keeping this O(1) amortized.
    if (this.queueHead >= 64 && this.queueHead * 2 >= this.sendQueue.length) {
      this.sendQueue.splice(0, this.queueHead)
      this.queueHead = 0
    }
  }

  /** The next stream with STREAM frames to send, dropping streams that have none left (reset, freed). */
  private frontOfQueue(): Stream | undefined {
    while (this.queueHead < this.sendQueue.length) {
      const stream = this.sendQueue[this.queueHead]!
      if (stream.send!.hasPending) return stream
      stream.queued = false
      this.queueHead++
    }
    this.sendQueue = []
    this.queueHead = 0
    return undefined
  }

  // ---------------------------------------------------------------------------
  // Acknowledgment and loss (RFC 9000 §13.3)

  onAcked(record: SentStreamFrame): void {
    switch (record._tag) {
      case "Stream": {
        const stream = this.streams.get(record.id)
        if (stream === undefined) return
        if (stream.send!.onAcked(record.offset, record.length, record.fin)) {
          this.emit({ _tag: "StreamFinished", id: stream.id })
          this.maybeFree(stream)
        } else {
          this.wakeWriter(stream)
        }
        return
      }
      case "ResetStream": {
        const stream = this.streams.get(record.id)
        if (stream === undefined) return
        stream.send!.onResetAcked()
        this.maybeFree(stream)
        return
      }
      default:
        return
    }
  }

  onLost(record: SentStreamFrame): void {
    switch (record._tag) {
      case "Stream": {
        const stream = this.streams.get(record.id)
        if (stream === undefined) return
        stream.send!.onLost(record.offset, record.length, record.fin)
        if (stream.send!.hasPending) this.enqueue(stream)
        return
      }
      case "ResetStream": {
        const stream = this.streams.get(record.id)
        if (stream === undefined) return
        stream.send!.onResetLost()
        if (stream.send!.resetPending) this.control.add(stream)
        return
      }
      case "StopSending": {
        const recv = this.streams.get(record.id)?.recv
        if (recv === undefined) return
        // Still useful only while the peer may send (§3.5).
        recv.stopPending = true
        if (recv.stopSendingPending) this.control.add(this.streams.get(record.id)!)
        return
      }
      case "MaxData":
        this.connectionWindow.onUpdateLost(record.max)
        return
      case "MaxStreamData": {
        const stream = this.streams.get(record.id)
        if (stream === undefined) return
        stream.recv!.window.onUpdateLost(record.max)
        if (stream.recv!.wantsWindowUpdate) this.control.add(stream)
        return
      }
      case "MaxStreams": {
        const dir = dirOf(record.bidi)
        if (record.max === this.acceptLimit[dir]) this.acceptLimitUnsent[dir] = true
        return
      }
      case "DataBlocked":
        this.connectionCredit.onBlockedLost(record.limit)
        return
      case "StreamDataBlocked": {
        const stream = this.streams.get(record.id)
        if (stream === undefined) return
        stream.send!.credit.onBlockedLost(record.limit)
        if (stream.send!.blockedPending) this.control.add(stream)
        return
      }
      case "StreamsBlocked": {
        const dir = dirOf(record.bidi)
        if (record.limit === this.openLimit[dir]) this.streamsBlockedPending[dir] = true
        return
      }
    }
  }

  // ---------------------------------------------------------------------------
  // Closing and events

  /**
   * Frees a stream whose parts are all terminal (RFC 9000 §3.1, §3.2). A
   * peer stream going away lets the peer open another: §4.6, our MAX_STREAMS
   * keeps `maxConcurrent*Streams` of them available.
   */
  private maybeFree(stream: Stream): void {
    if (stream.send !== undefined && !stream.send.terminal) return
    if (stream.recv !== undefined && !stream.recv.terminal) return
    this.streams.delete(stream.id)
    this.control.delete(stream)
    this.writeBlocked.delete(stream)
    if (initiator(stream.id) !== this.role) {
      const dir = dirOf(isBidi(stream.id))
      this.acceptLimit[dir]++
      this.acceptLimitUnsent[dir] = true
    }
  }

  /** Streams with state held: open, or closing with frames still unacknowledged. */
  get streamCount(): number {
    return this.streams.size
  }

  pollEvent(): StreamEvent | undefined {
    if (this.eventHead === this.events.length) return undefined
    const event = this.events[this.eventHead++]!
    if (this.eventHead === this.events.length) {
      this.events = []
      this.eventHead = 0
    }
    return event
  }

  private emit(event: StreamEvent): void {
    this.events.push(event)
  }
}

/** Writes `frame` if it fits before `end`. */
const put = (writer: BufferWriter, end: number, frame: Frame): boolean => {
  if (writer.offset + frameLength(frame) > end) return false
  encodeFrame(writer, frame)
  return true
}
