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
import type { ConnectionSignals, Driver, StreamSignals } from "./driver.js"

/** Ids: bit 0 says who opened the stream, bit 1 whether it is unidirectional (RFC 9000 §2.1). */
const isBidi = (id: number): boolean => (id & 2) === 0

const closedOrConnection = (c: ConnectionSignals, reason: StreamClosedError["reason"]): QuicStreamError =>
  c.closeReason !== undefined ? connectionClosedError(c.closeReason) : new StreamClosedError({ reason })

export const makeQuicStream = (
  driver: Driver,
  connection: ConnectionSignals,
  id: number,
  local: boolean
): QuicStream.QuicStream => {
  const signals: StreamSignals = connection.stream(id)
  const handle = connection.handle
  const bidi = isBidi(id)
  const canRead = bidi || !local
  const canWrite = bidi || local
  let writeInterrupted = false
  let finishedWriting = false

  const read = (max = 1 << 20): Effect.Effect<Option.Option<Uint8Array>, QuicStreamError> =>
    Effect.suspend(function loop(): Effect.Effect<Option.Option<Uint8Array>, QuicStreamError> {
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

  const write = (data: Uint8Array): Effect.Effect<void, QuicStreamError> =>
    Effect.suspend(() => {
      if (!canWrite) return Effect.fail(new StreamClosedError({ reason: "ReceiveOnly" }))
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
      // An interrupted write leaves the stream with part of the bytes: closing its scope resets it.
      return step().pipe(Effect.onInterrupt(() => Effect.sync(() => void (writeInterrupted = true))))
    })

  const finish: Effect.Effect<void, QuicStreamError> = Effect.suspend(() => {
    if (!canWrite) return Effect.fail(new StreamClosedError({ reason: "ReceiveOnly" }))
    const result = driver.unsafeCall((e, now) => e.streamFinish(now, handle, id))
    if (result === undefined) {
      finishedWriting = true
      return Effect.void
    }
    switch (result._tag) {
      case "WriteStopped":
        return Effect.fail(new StreamStoppedError({ code: result.code }))
      case "WriteClosedStream":
        return finishedWriting ? Effect.void : Effect.fail(closedOrConnection(connection, "Finished"))
      default:
        return Effect.fail(closedOrConnection(connection, "Closed"))
    }
  })

  const readToEnd = (maxBytes: number): Effect.Effect<Uint8Array, QuicStreamError | StreamTooLongError> =>
    Effect.gen(function*() {
      const chunks: Array<Uint8Array> = []
      let total = 0
      for (;;) {
        const chunk = yield* read()
        if (Option.isNone(chunk)) break
        total += chunk.value.length
        if (total > maxBytes) return yield* Effect.fail(new StreamTooLongError({ maxBytes }))
        chunks.push(chunk.value)
      }
      const out = new Uint8Array(total)
      let at = 0
      for (const c of chunks) {
        out.set(c, at)
        at += c.length
      }
      return out
    })

  return {
    id,
    direction: bidi ? "bidi" : "uni",
    initiator: local ? "local" : "remote",
    read,
    readToEnd,
    readable: Stream.repeatEffectOption(
      read().pipe(Effect.mapError(Option.some), Effect.flatMap(Option.match({ onNone: () => Effect.fail(Option.none()), onSome: Effect.succeed })))
    ),
    write,
    writeAll: (chunks) => Effect.forEach(chunks, write, { discard: true }),
    sink: Sink.forEach(write).pipe(Sink.mapEffect(() => finish)),
    finish,
    reset: (code) =>
      Effect.sync(() => {
        finishedWriting = true
        driver.unsafeCall((e, now) => e.resetStream(now, handle, id, BigInt(code)))
      }),
    stopSending: (code) =>
      Effect.sync(() => {
        signals.readFinished = true
        driver.unsafeCall((e, now) => e.stopSending(now, handle, id, BigInt(code)))
      }),
    stopped: signals.stopped.await,
    acknowledged: signals.finished.await,
    close: Effect.sync(() => {
      // Scope release: finish what was written in full; reset a stream cut short.
      if (canWrite && !finishedWriting) {
        if (writeInterrupted) driver.unsafeCall((e, now) => e.resetStream(now, handle, id, 0n))
        else driver.unsafeCall((e, now) => e.streamFinish(now, handle, id))
        finishedWriting = true
      }
      if (canRead && !signals.readFinished) {
        signals.readFinished = true
        driver.unsafeCall((e, now) => e.stopSending(now, handle, id, 0n))
      }
    })
  }
}
