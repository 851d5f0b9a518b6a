/**
 * The `--log` file: one JSON line per datagram and one per rebinding,
 * buffered and written with plain synchronous writes so that whatever was
 * logged is on disk once the relay has closed.
 *
 * @since 0.1.0
 */
import { closeSync, openSync, writeSync } from "node:fs"
import type { Direction, DropReason } from "./faults.js"

/**
 * One datagram's record. `t` is its arrival at the relay and `delay` what
 * was applied to it, both in milliseconds; `via` is the server-facing
 * socket's local address at that moment.
 *
 * @since 0.1.0
 * @category models
 */
export interface DatagramRecord {
  readonly t: number
  readonly dir: Direction
  readonly size: number
  readonly fate: "forwarded" | "dropped" | "corrupted"
  readonly reason: DropReason | null
  readonly delay: number | null
  readonly client: string
  readonly via: string
}

/**
 * A server-facing socket replaced by another.
 *
 * @since 0.1.0
 * @category models
 */
export interface RebindRecord {
  readonly t: number
  readonly client: string
  readonly from: string
  readonly to: string
}

// Times with exactly three decimals, which JSON.stringify cannot do.
const ms = (value: number): string => value.toFixed(3)

/**
 * @since 0.1.0
 * @category formatting
 */
export const formatDatagram = (r: DatagramRecord): string =>
  `{"t":${ms(r.t)},"dir":"${r.dir}","size":${r.size},"fate":"${r.fate}","reason":${
    r.reason === null ? "null" : `"${r.reason}"`
  },"delay":${r.delay === null ? "null" : ms(r.delay)},"client":${JSON.stringify(r.client)},"via":${JSON.stringify(r.via)}}`

/**
 * @since 0.1.0
 * @category formatting
 */
export const formatRebind = (r: RebindRecord): string =>
  `{"t":${ms(r.t)},"event":"rebind","client":${JSON.stringify(r.client)},"from":${JSON.stringify(r.from)},"to":${
    JSON.stringify(r.to)
  }}`

/**
 * Where log lines go.
 *
 * @since 0.1.0
 * @category models
 */
export interface LogSink {
  readonly write: (line: string) => void
  /** Writes out what is buffered. */
  readonly flush: () => void
  readonly close: () => void
}

/**
 * For a relay without `--log`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const discardLog: LogSink = { write: () => {}, flush: () => {}, close: () => {} }

const FLUSH_BYTES = 64 * 1024

/**
 * Truncates or creates `path`; throws what `openSync` throws.
 *
 * @since 0.1.0
 * @category constructors
 */
export const openLogFile = (path: string): LogSink => {
  const fd = openSync(path, "w")
  let buffer = ""
  let closed = false
  const flush = () => {
    if (buffer === "" || closed) return
    const text = buffer
    buffer = ""
    try {
      writeSync(fd, text)
    } catch {
      // A full disk must not stop the relay: the lines are lost, the datagrams are not.
    }
  }
  return {
    write: (line) => {
      buffer += `${line}\n`
      if (buffer.length >= FLUSH_BYTES) flush()
    },
    flush,
    close: () => {
      flush()
      closed = true
      closeSync(fd)
    }
  }
}
