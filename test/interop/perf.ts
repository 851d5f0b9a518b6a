/**
 * Test-only: the perf protocol (../shared/spec/perf-protocol.md) on the
 * sans-IO endpoint, driven by its events. Each request is a client-initiated
 * bidirectional stream: 8-byte big-endian N, upload bytes, FIN; the server
 * answers with N bytes (i & 0xff) and FIN.
 */
import type { SocketAddress } from "../../src/internal/address.js"
import type { QuicEvent } from "../../src/internal/events.js"
import type { UdpDriver } from "./udpDriver.js"

const CHUNK = 64 * 1024
const zeros = new Uint8Array(CHUNK)

interface Outgoing {
  readonly header: Uint8Array
  sentHeader: number
  remaining: number
  finished: boolean
}

export interface PerfClientOptions {
  readonly server: SocketAddress
  readonly serverName: string
  readonly download: number
  readonly upload: number
  readonly streams: number
  /** Streams in flight at once. */
  readonly window: number
  readonly datagrams?: number
  /** Check that response bytes are `i & 0xff` (our server) or zero (quic-go). */
  readonly expect?: "pattern" | "zeros"
  /** Called once when the connection is established. */
  readonly onConnected?: (connection: number) => void
  /** Called once download bytes pass this many, e.g. to start a key update mid-transfer. */
  readonly midway?: { readonly bytes: number; readonly action: (connection: number) => void }
}

export interface PerfResult {
  readonly connection: number
  readonly bytesDown: number
  readonly bytesUp: number
  readonly streamsDone: number
  readonly datagramEchoes: number
  readonly corrupt: number
}

const header = (n: number): Uint8Array => {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt(n))
  return out
}

/** Runs the perf client until every request completed; closes with code 0. */
export const runPerfClient = (driver: UdpDriver, options: PerfClientOptions): Promise<PerfResult> =>
  new Promise((resolve, reject) => {
    const endpoint = driver.endpoint
    let connection = -1
    let started = 0
    let done = 0
    let bytesDown = 0
    let bytesUp = 0
    let echoes = 0
    let corrupt = 0
    let midwayDone = false
    const outgoing = new Map<number, Outgoing>()
    const received = new Map<number, number>()

    const write = (stream: number) => {
      const o = outgoing.get(stream)
      if (o === undefined || o.finished) return
      while (o.sentHeader < 8) {
        const n = endpoint.streamSend(driver.now, connection, stream, o.header.subarray(o.sentHeader))
        if (typeof n !== "number" || n === 0) return
        o.sentHeader += n
      }
      while (o.remaining > 0) {
        const n = endpoint.streamSend(driver.now, connection, stream, zeros.subarray(0, Math.min(CHUNK, o.remaining)))
        if (typeof n !== "number" || n === 0) return
        o.remaining -= n
        bytesUp += n
      }
      endpoint.streamFinish(driver.now, connection, stream)
      o.finished = true
    }

    const startMore = () => {
      while (started < options.streams && started - done < options.window) {
        const stream = endpoint.openBi(driver.now, connection)
        if (typeof stream !== "number") return
        started++
        outgoing.set(stream, { header: header(options.download), sentHeader: 0, remaining: options.upload, finished: false })
        received.set(stream, 0)
        write(stream)
      }
    }

    const read = (stream: number) => {
      for (;;) {
        const chunk = endpoint.streamRecv(driver.now, connection, stream, 1 << 20)
        if ("_tag" in chunk) {
          if (chunk._tag === "ReadReset") reject(new Error(`stream ${stream} reset with ${chunk.code}`))
          return
        }
        const offset = received.get(stream) ?? 0
        for (let i = 0; i < chunk.data.length; i++) {
          const expected = options.expect === "pattern" ? (offset + i) & 0xff : options.expect === "zeros" ? 0 : chunk.data[i]
          if (chunk.data[i] !== expected) corrupt++
        }
        received.set(stream, offset + chunk.data.length)
        bytesDown += chunk.data.length
        if (options.midway !== undefined && !midwayDone && bytesDown >= options.midway.bytes) {
          midwayDone = true
          options.midway.action(connection)
        }
        if (chunk.finished) {
          if (received.get(stream) !== options.download) reject(new Error(`stream ${stream}: ${received.get(stream)} bytes, wanted ${options.download}`))
          done++
          outgoing.delete(stream)
          received.delete(stream)
          if (done === options.streams && echoes >= (options.datagrams ?? 0)) finish()
          else startMore()
          return
        }
        if (chunk.data.length === 0) return
      }
    }

    const finish = () => {
      endpoint.closeConnection(driver.now, connection, 0n, "done")
      driver.pump()
      resolve({ connection, bytesDown, bytesUp, streamsDone: done, datagramEchoes: echoes, corrupt })
    }

    driver.onEvent = (event: QuicEvent) => {
      switch (event._tag) {
        case "Connected":
          if (event.connection !== connection) return
          options.onConnected?.(connection)
          for (let i = 0; i < (options.datagrams ?? 0); i++) {
            endpoint.sendDatagram(driver.now, connection, new Uint8Array(32).fill(i), false)
          }
          startMore()
          if (options.streams === 0 && (options.datagrams ?? 0) === 0) finish()
          break
        case "StreamWritable":
          write(event.stream)
          break
        case "StreamReadable":
          read(event.stream)
          break
        case "StreamsAvailable":
          startMore()
          break
        case "DatagramReceived":
          echoes++
          if (done === options.streams && echoes >= (options.datagrams ?? 0)) finish()
          break
        case "ConnectionClosed":
          if (event.connection === connection && done < options.streams) {
            reject(new Error(`connection closed early: ${JSON.stringify(event.reason, (_k, v) => (typeof v === "bigint" ? String(v) : v))}`))
          }
          break
        default:
          break
      }
    }
    const handle = endpoint.connect(driver.now, options.server, options.serverName)
    if (typeof handle !== "number") return reject(new Error(handle._tag))
    connection = handle
    driver.pump()
  })

interface ServerStream {
  header: Uint8Array
  headerBytes: number
  uploaded: number
  toSend: number
  sent: number
  finishedReading: boolean
  done: boolean
}

/** Serves the perf protocol on every connection the endpoint accepts; echoes datagrams. */
export const servePerf = (driver: UdpDriver): { readonly uploads: () => number; readonly streams: () => number } => {
  const endpoint = driver.endpoint
  const streams = new Map<string, ServerStream>()
  let uploads = 0
  let served = 0
  const key = (c: number, s: number) => `${c}/${s}`
  const pattern = new Uint8Array(CHUNK + 256)
  for (let i = 0; i < pattern.length; i++) pattern[i] = i & 0xff

  const write = (c: number, s: number, state: ServerStream) => {
    while (state.sent < state.toSend) {
      const start = state.sent & 0xff
      const n = endpoint.streamSend(driver.now, c, s, pattern.subarray(start, start + Math.min(CHUNK, state.toSend - state.sent)))
      if (typeof n !== "number" || n === 0) return
      state.sent += n
    }
    if (!state.done) {
      endpoint.streamFinish(driver.now, c, s)
      state.done = true
      served++
      streams.delete(key(c, s))
    }
  }

  const read = (c: number, s: number) => {
    let state = streams.get(key(c, s))
    if (state === undefined) {
      state = { header: new Uint8Array(8), headerBytes: 0, uploaded: 0, toSend: 0, sent: 0, finishedReading: false, done: false }
      streams.set(key(c, s), state)
    }
    for (;;) {
      const chunk = endpoint.streamRecv(driver.now, c, s, 1 << 20)
      if ("_tag" in chunk) return
      let data = chunk.data
      if (state.headerBytes < 8) {
        const take = Math.min(8 - state.headerBytes, data.length)
        state.header.set(data.subarray(0, take), state.headerBytes)
        state.headerBytes += take
        data = data.subarray(take)
      }
      state.uploaded += data.length
      uploads += data.length
      if (chunk.finished) {
        if (state.headerBytes < 8) {
          endpoint.resetStream(driver.now, c, s, 1n)
          return
        }
        state.finishedReading = true
        state.toSend = Number(new DataView(state.header.buffer).getBigUint64(0))
        write(c, s, state)
        return
      }
      if (chunk.data.length === 0) return
    }
  }

  driver.onEvent = (event: QuicEvent) => {
    switch (event._tag) {
      case "StreamReadable":
        read(event.connection, event.stream)
        break
      case "StreamWritable": {
        const state = streams.get(key(event.connection, event.stream))
        if (state?.finishedReading) write(event.connection, event.stream, state)
        break
      }
      case "DatagramReceived":
        endpoint.sendDatagram(driver.now, event.connection, event.data, true)
        break
      case "ConnectionClosed":
        for (const k of [...streams.keys()]) if (k.startsWith(`${event.connection}/`)) streams.delete(k)
        break
      default:
        break
    }
  }
  return { uploads: () => uploads, streams: () => served }
}
