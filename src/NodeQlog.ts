/**
 * qlog files on Node (node:fs): one JSON-SEQ trace per connection, named
 * `<odcid>_<client|server>.sqlog`, loadable by qvis.
 *
 * ```ts
 * import * as NodeQlog from "effect-quic/NodeQlog"
 *
 * Endpoint.make({ client: { alpn: ["echo"] }, qlog: NodeQlog.dir("./qlog") })
 * ```
 *
 * Records are buffered and written synchronously: when the buffer passes
 * 64 KiB, a quarter of a second after the first unwritten record, when the
 * connection ends, and when the process exits (so traces are complete after
 * a normal exit even if an endpoint was not closed first).
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { QlogFactory, QlogWriter } from "./QuicConfig.js"

/** Bytes (UTF-16 units) buffered before a synchronous write. */
const FLUSH_THRESHOLD = 64 * 1024

/** How long a record may wait in the buffer. */
const FLUSH_DELAY_MS = 250

/** One open trace file. Kept apart from the writer handed to the core so that it can be flushed when that is collected. */
class TraceFile {
  private fd: number | undefined
  private readonly pending: Array<string> = []
  private pendingLength = 0
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(fd: number) {
    this.fd = fd
  }

  write(record: string): void {
    if (this.fd === undefined) return
    this.pending.push(record)
    this.pendingLength += record.length
    if (this.pendingLength >= FLUSH_THRESHOLD) this.flush()
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.flush()
      }, FLUSH_DELAY_MS)
      this.timer.unref()
    }
  }

  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    if (this.fd === undefined || this.pending.length === 0) return
    const bytes = Buffer.from(this.pending.join(""), "utf8")
    this.pending.length = 0
    this.pendingLength = 0
    try {
      for (let at = 0; at < bytes.length;) at += fs.writeSync(this.fd, bytes, at, bytes.length - at)
    } catch {
      // A full disk or a closed descriptor: the trace stops; the connection goes on.
      this.close()
    }
  }

  close(): void {
    const fd = this.fd
    if (fd === undefined) return
    this.flush()
    this.fd = undefined
    open.delete(this)
    try {
      fs.closeSync(fd)
    } catch {
      // Already closed.
    }
  }
}

/** Files not yet closed, flushed when the process exits. */
const open = new Set<TraceFile>()

let exitHookInstalled = false

const installExitHook = (): void => {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once("exit", () => {
    for (const file of [...open]) file.close()
  })
}

/** A writer whose connection was dropped without ending its trace (an endpoint's scope closed first) still gets its file closed. */
const collected = new FinalizationRegistry<TraceFile>((file) => file.close())

/**
 * A qlog factory for `EndpointConfig.qlog` writing one file per connection,
 * `<dir>/<odcid>_<client|server>.sqlog`, where `odcid` is the hex original
 * Destination Connection ID (the same for both ends of a connection). The
 * directory is created on the first connection. A file that cannot be
 * opened leaves its connection unlogged.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dir = (directory: string): QlogFactory => {
  let created = false
  return ({ odcid, side }) => {
    if (!created) {
      fs.mkdirSync(directory, { recursive: true })
      created = true
    }
    const file = new TraceFile(fs.openSync(path.join(directory, `${odcid}_${side}.sqlog`), "w"))
    open.add(file)
    installExitHook()
    const writer: QlogWriter = {
      write: (record) => file.write(record),
      close: () => file.close()
    }
    collected.register(writer, file)
    return writer
  }
}
