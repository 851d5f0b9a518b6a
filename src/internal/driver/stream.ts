import { Effect, Option, Sink, Stream } from "effect"
import {
  connectionClosedError,
  type QuicStreamError,
  StreamClosedError,
  StreamResetError,
  StreamStoppedError,
  StreamTooLongError
} from "../../QuicError.js"
import type * as QuicStream from "../../Stream.js"
import { concatBytes } from "../codec/bytes.js"
import type { ConnectionSignals, Driver, StreamSignals } from "./driver.js"

/** Ids: bit 0 says who opened the stream, bit 1 whether it is unidirectional (RFC 9000 §2.1). */
const isBidi = (id: number): boolean => (id & 2) === 0

const closedOrConnection = (c: ConnectionSignals, reason: StreamClosedError["reason"]): QuicStreamError =>
  c.closeReason !== undefined ? connectionClosedError(c.closeReason) : new StreamClosedError({ reason })

/**
 * The `QuicStream` the application holds. A class, as `Connection` is: the
 * Effect-valued members are built when read (the `readable` Stream and the
 * `sink` among them), and an object literal of them cost about 3.6 KB per
 * stream. The function members are bound per stream, so `Effect.forEach(chunks,
 * stream.write)` works.
 */
class DriverStream implements QuicStream.QuicStream {
  readonly direction: "bidi" | "uni"
  readonly initiator: "local" | "remote"
  private readonly signals: StreamSignals
  private readonly canRead: boolean
  private readonly canWrite: boolean
  private writeInterrupted = false
  private finishedWriting = false

  constructor(
    private readonly driver: Driver,
    private readonly connection: ConnectionSignals,
    readonly id: number,
    local: boolean
  ) {
    this.signals = connection.stream(id)
    const bidi = isBidi(id)
    this.direction = bidi ? "bidi" : "uni"
    this.initiator = local ? "local" : "remote"
    this.canRead = bidi || !local
    this.canWrite = bidi || local
  }

  readonly read = (max = 1 << 20): Effect.Effect<Option.Option<Uint8Array>, QuicStreamError> => {
    const { driver, connection, signals, canRead, id } = this
    const handle = connection.handle
    return Effect.suspend(function loop(): Effect.Effect<Option.Option<Uint8Array>, QuicStreamError> {
      if (!canRead) return Effect.fail(new StreamClosedError({ reason: "SendOnly" }))
      if (signals.readFinished) return Effect.succeed(Option.none())
      const result = driver.unsafeCall((e, now) => e.streamRecv(now, handle, id, max))
      if (!("_tag" in result)) {
        if (result.finished) signals.readFinished = true
        // A view of the core's receive buffer, which never writes below the read offset again: no copy.
        if (result.data.length > 0) return Effect.succeed(Option.some(result.data))
        return result.finished ? Effect.succeed(Option.none()) : loop()
      }
      switch (result._tag) {
        case "ReadBlocked":
          // Closed in the same synchronous step as the failed read: the
          // driver's StreamReadable opens it, so no wake-up is lost.
          signals.readable.close()
          return Effect.zipRight(signals.readable.await, Effect.suspend(loop))
        case "ReadReset":
          return Effect.fail(new StreamResetError({ code: result.code }))
        case "ReadClosedStream":
          return Effect.fail(closedOrConnection(connection, "Finished"))
        default:
          return Effect.fail(closedOrConnection(connection, "Closed"))
      }
    })
  }

  readonly readToEnd = (maxBytes: number): Effect.Effect<Uint8Array, QuicStreamError | StreamTooLongError> => {
    const read = this.read
    return Effect.gen(function*() {
      const chunks: Array<Uint8Array> = []
      let total = 0
      for (;;) {
        const chunk = yield* read()
        if (Option.isNone(chunk)) break
        total += chunk.value.length
        if (total > maxBytes) return yield* Effect.fail(new StreamTooLongError({ maxBytes }))
        chunks.push(chunk.value)
      }
      return concatBytes(chunks)
    })
  }

  get readable(): Stream.Stream<Uint8Array, QuicStreamError> {
    return Stream.repeatEffectOption(
      this.read().pipe(Effect.mapError(Option.some), Effect.flatMap(Option.match({ onNone: () => Effect.fail(Option.none()), onSome: Effect.succeed })))
    )
  }

  readonly write = (data: Uint8Array): Effect.Effect<void, QuicStreamError> =>
    Effect.suspend(() => {
      const { driver, connection, signals, id } = this
      const handle = connection.handle
      if (!this.canWrite) return Effect.fail(new StreamClosedError({ reason: "ReceiveOnly" }))
      let offset = 0
      const step = (): Effect.Effect<void, QuicStreamError> => {
        while (offset < data.length) {
          const n = driver.unsafeCall((e, now) => e.streamSend(now, handle, id, offset === 0 ? data : data.subarray(offset)))
          if (typeof n === "number") {
            if (n > 0) {
              offset += n
              continue
            }
            signals.writable.close()
            return Effect.zipRight(signals.writable.await, Effect.suspend(step))
          }
          switch (n._tag) {
            case "WriteBlocked":
              signals.writable.close()
              return Effect.zipRight(signals.writable.await, Effect.suspend(step))
            case "WriteStopped":
              return Effect.fail(new StreamStoppedError({ code: n.code }))
            case "WriteClosedStream":
              return Effect.fail(closedOrConnection(connection, "Finished"))
            default:
              return Effect.fail(closedOrConnection(connection, "Closed"))
          }
        }
        return Effect.void
      }
      const next = step()
      // Only a write that waits can be interrupted with part of its bytes
      // sent; closing its scope then resets the stream. A write taken whole
      // has nothing to undo (and skips the interruption bookkeeping, several
      // fiber operations per write).
      return next === Effect.void ? next : next.pipe(Effect.onInterrupt(() => Effect.sync(() => void (this.writeInterrupted = true))))
    })

  readonly writeAll = (chunks: Iterable<Uint8Array>): Effect.Effect<void, QuicStreamError> =>
    Effect.forEach(chunks, this.write, { discard: true })

  get sink(): Sink.Sink<void, Uint8Array, never, QuicStreamError> {
    return Sink.forEach(this.write).pipe(Sink.mapEffect(() => this.finish))
  }

  get finish(): Effect.Effect<void, QuicStreamError> {
    return Effect.suspend(() => {
      if (!this.canWrite) return Effect.fail(new StreamClosedError({ reason: "ReceiveOnly" }))
      const result = this.driver.unsafeCall((e, now) => e.streamFinish(now, this.connection.handle, this.id))
      if (result === undefined) {
        this.finishedWriting = true
        return Effect.void
      }
      switch (result._tag) {
        case "WriteStopped":
          return Effect.fail(new StreamStoppedError({ code: result.code }))
        case "WriteClosedStream":
          return this.finishedWriting ? Effect.void : Effect.fail(closedOrConnection(this.connection, "Finished"))
        default:
          return Effect.fail(closedOrConnection(this.connection, "Closed"))
      }
    })
  }

  readonly reset = (code: number | bigint): Effect.Effect<void> =>
    Effect.sync(() => {
      this.finishedWriting = true
      this.driver.unsafeCall((e, now) => e.resetStream(now, this.connection.handle, this.id, BigInt(code)))
    })

  readonly stopSending = (code: number | bigint): Effect.Effect<void> =>
    Effect.sync(() => {
      this.signals.readFinished = true
      this.driver.unsafeCall((e, now) => e.stopSending(now, this.connection.handle, this.id, BigInt(code)))
    })

  get stopped(): Effect.Effect<bigint> {
    return this.signals.stopped.await
  }

  get acknowledged(): Effect.Effect<void> {
    return this.signals.finished.await
  }

  /** Scope release: finish what was written in full; reset a stream cut short. */
  get close(): Effect.Effect<void> {
    return Effect.sync(() => {
      const handle = this.connection.handle
      if (this.canWrite && !this.finishedWriting) {
        if (this.writeInterrupted) this.driver.unsafeCall((e, now) => e.resetStream(now, handle, this.id, 0n))
        else this.driver.unsafeCall((e, now) => e.streamFinish(now, handle, this.id))
        this.finishedWriting = true
      }
      if (this.canRead && !this.signals.readFinished) {
        this.signals.readFinished = true
        this.driver.unsafeCall((e, now) => e.stopSending(now, handle, this.id, 0n))
      }
    })
  }
}

export const makeQuicStream = (driver: Driver, connection: ConnectionSignals, id: number, local: boolean): QuicStream.QuicStream =>
  new DriverStream(driver, connection, id, local)
