/**
 * Two stream managers back to back: frames written by one with writeFrames,
 * encoded, decoded with decodeFrames and fed to the other, over a simulated
 * path that loses, delays, reorders and duplicates packets; the sender hears
 * about each packet's fate (onAcked / onLost) a round trip later.
 */
import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import {
  defaultStreamConfig,
  type SentStreamFrame,
  type StreamConfig,
  StreamManager
} from "../../src/internal/stream/streams.js"
import { bytes, concat, deliver, drainEvents, packet, pair, rng, sameBytes } from "./helpers.js"

interface Path {
  readonly loss: number
  readonly duplicate: number
  readonly spuriousLoss: number
  readonly rtt: number
  readonly packetsPerRound: number
  /** Packet payload sizes are drawn from [minPacket, 1200]. */
  readonly minPacket: number
}

type Scheduled =
  | { readonly at: number; readonly kind: "deliver"; readonly to: StreamManager; readonly payload: Uint8Array }
  | {
    readonly at: number
    readonly kind: "acked" | "lost"
    readonly from: StreamManager
    readonly records: ReadonlyArray<SentStreamFrame>
  }

/** The simulated path: a time-ordered queue of deliveries and packet fates. */
class Network {
  now = 0
  private queue: Array<Scheduled> = []
  readonly sentPayloads: Array<{ from: StreamManager; records: ReadonlyArray<SentStreamFrame> }> = []

  constructor(readonly path: Path, readonly random: () => number) {}

  /** Each side sends what it has, up to the per-round budget. */
  send(from: StreamManager, to: StreamManager): void {
    const { path, random } = this
    for (let i = 0; i < path.packetsPerRound && from.hasPendingData(); i++) {
      const size = path.minPacket + Math.floor(random() * (1201 - path.minPacket))
      const { payload, records } = packet(from, size, this.now, path.rtt)
      if (payload.length === 0) break
      this.sentPayloads.push({ from, records })
      const oneWay = path.rtt / 2 + Math.floor(random() * path.rtt / 2)
      const lost = random() < path.loss
      if (lost) {
        this.schedule({ at: this.now + 2 * path.rtt, kind: "lost", from, records })
        continue
      }
      this.schedule({ at: this.now + oneWay, kind: "deliver", to, payload })
      if (random() < path.duplicate) {
        this.schedule({ at: this.now + oneWay + path.rtt / 4, kind: "deliver", to, payload: payload.slice() })
      }
      if (random() < path.spuriousLoss) {
        // Declared lost, then acknowledged after all.
        this.schedule({ at: this.now + path.rtt, kind: "lost", from, records })
        this.schedule({ at: this.now + 3 * path.rtt, kind: "acked", from, records })
      } else {
        this.schedule({ at: this.now + oneWay + path.rtt / 2, kind: "acked", from, records })
      }
    }
  }

  /** Runs everything due by `now`. */
  run(): void {
    while (this.queue.length > 0 && this.queue[0]!.at <= this.now) {
      const item = this.queue.shift()!
      if (item.kind === "deliver") {
        deliver(item.to, item.payload)
        // The packet buffer is reused: anything the receiver kept must be a copy.
        item.payload.fill(0xa5)
      } else if (item.kind === "acked") {
        for (const r of item.records) item.from.onAcked(r)
      } else {
        for (const r of item.records) item.from.onLost(r)
      }
    }
  }

  get idle(): boolean {
    return this.queue.length === 0
  }

  private schedule(item: Scheduled): void {
    let i = this.queue.length
    while (i > 0 && this.queue[i - 1]!.at > item.at) i--
    this.queue.splice(i, 0, item)
  }
}

interface Outgoing {
  readonly bidi: boolean
  readonly data: Uint8Array
  id?: number
  written: number
  finished: boolean
  echo: Array<Uint8Array>
  echoDone: boolean
}

interface Incoming {
  readonly chunks: Array<Uint8Array>
  done: boolean
  echoWritten: number
  echoFinished: boolean
}

const small: StreamConfig = {
  ...defaultStreamConfig,
  maxConcurrentBidiStreams: 4,
  maxConcurrentUniStreams: 3,
  streamReceiveWindow: 16 * 1024,
  maxStreamReceiveWindow: 64 * 1024,
  connectionReceiveWindow: 32 * 1024,
  maxConnectionReceiveWindow: 128 * 1024,
  sendBufferSize: 20 * 1024
}

/** Moves the streams; returns true when every stream arrived, was echoed and verified. */
const transfer = (seed: number, path: Path, count: number): void => {
  const random = rng(seed)
  const { client, server } = pair(small, small)
  const net = new Network(path, random)
  const outgoing: Array<Outgoing> = []
  for (let i = 0; i < count; i++) {
    const bidi = random() < 0.6
    outgoing.push({
      bidi,
      data: bytes(Math.floor(random() * 40_000), seed + i),
      written: 0,
      finished: false,
      echo: [],
      echoDone: !bidi
    })
  }
  const incoming = new Map<number, Incoming>()
  const read = new Uint8Array(4096)

  const clientStep = (): void => {
    drainEvents(client)
    for (const s of outgoing) {
      if (s.id === undefined) {
        const id = s.bidi ? client.openBi() : client.openUni()
        if (id === undefined) continue
        s.id = id
      }
      if (s.written < s.data.length) {
        const n = client.send(s.id, s.data.subarray(s.written))
        if (typeof n === "number") s.written += n
      }
      if (s.written === s.data.length && !s.finished) {
        expect(client.finish(s.id)).toBeUndefined()
        s.finished = true
      }
      if (s.bidi && !s.echoDone) {
        for (;;) {
          const r = client.recv(s.id, 1 + Math.floor(random() * 3000))
          if ("_tag" in r) break
          s.echo.push(r.data)
          if (r.finished) {
            s.echoDone = true
            break
          }
        }
      }
    }
  }

  const serverStep = (): void => {
    for (const e of drainEvents(server)) {
      if (e._tag === "StreamOpened") {
        incoming.set(e.id, { chunks: [], done: false, echoWritten: 0, echoFinished: !e.bidi })
      }
    }
    // Never more peer streams than our limits allow.
    expect(server.streamCount).toBeLessThanOrEqual(small.maxConcurrentBidiStreams + small.maxConcurrentUniStreams)
    for (const [id, s] of incoming) {
      while (!s.done) {
        const r = server.recvInto(id, read.subarray(0, 1 + Math.floor(random() * read.length)))
        if ("_tag" in r) break
        s.chunks.push(read.slice(0, r.length))
        if (r.finished) s.done = true
      }
      if (s.done && !s.echoFinished) {
        const all = concat(s.chunks)
        if (s.echoWritten < all.length) {
          const n = server.sendChunks(id, [all.subarray(s.echoWritten)])
          if (typeof n === "number") s.echoWritten += n
        }
        if (s.echoWritten === all.length) {
          server.finish(id)
          s.echoFinished = true
        }
      }
    }
  }

  let rounds = 0
  const complete = () =>
    outgoing.every((s) => s.finished && s.echoDone) && incoming.size === count &&
    [...incoming.values()].every((s) => s.done)
  while (!complete()) {
    expect(rounds++, "transfer stalled").toBeLessThan(20_000)
    clientStep()
    serverStep()
    net.send(client, server)
    net.send(server, client)
    net.now += 1000
    net.run()
  }
  // Let the last ACKs and retransmissions settle.
  for (let i = 0; i < 2000 && !(net.idle && !client.hasPendingData() && !server.hasPendingData()); i++) {
    net.send(client, server)
    net.send(server, client)
    net.now += 1000
    net.run()
  }

  const byId = new Map(outgoing.map((s) => [s.id!, s]))
  expect(incoming.size).toBe(count)
  for (const [id, s] of incoming) {
    const sent = byId.get(id)!
    expect(sameBytes(concat(s.chunks), sent.data), `stream ${id}`).toBe(true)
    if (sent.bidi) expect(sameBytes(concat(sent.echo), sent.data), `echo ${id}`).toBe(true)
  }
  // Every stream is closed on both sides and its state freed.
  expect(client.streamCount).toBe(0)
  expect(server.streamCount).toBe(0)
}

describe("two stream managers back to back", () => {
  it("transfer many streams byte-exact over a clean path", () => {
    transfer(1, { loss: 0, duplicate: 0, spuriousLoss: 0, rtt: 10_000, packetsPerRound: 8, minPacket: 1200 }, 12)
  })

  it("property: byte-exact over loss, reordering, duplication and spurious loss", () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 0, max: 25 }),
        fc.integer({ min: 0, max: 10 }),
        (seed, lossPercent, duplicatePercent) => {
          const path = {
            loss: lossPercent / 100,
            duplicate: duplicatePercent / 100,
            spuriousLoss: 0.05,
            rtt: 20_000,
            packetsPerRound: 8,
            // Small packets too: frames split anywhere, control frames that do not fit.
            minPacket: 30
          }
          transfer(seed, path, 10)
        }
      ),
      { numRuns: 20 }
    )
  })

  it("lost STREAM data is retransmitted exactly, never more", () => {
    const random = rng(7)
    const { client, server } = pair()
    const id = client.openUni()!
    const data = bytes(200_000, 7)
    expect(client.send(id, data)).toBe(200_000)
    client.finish(id)
    // Count how often each byte goes out; every repeat must follow a loss.
    const sends = new Uint16Array(data.length)
    const losses = new Uint16Array(data.length)
    for (let round = 0; round < 10_000 && client.hasPendingData(); round++) {
      const { payload, records } = packet(client)
      for (const r of records) {
        if (r._tag !== "Stream") continue
        for (let i = r.offset; i < r.offset + r.length; i++) sends[i]!++
      }
      if (random() < 0.3) {
        for (const r of records) {
          if (r._tag !== "Stream") continue
          for (let i = r.offset; i < r.offset + r.length; i++) losses[i]!++
          client.onLost(r)
        }
      } else {
        deliver(server, payload)
        for (const r of records) client.onAcked(r)
      }
    }
    for (let i = 0; i < data.length; i++) {
      if (sends[i] !== losses[i]! + 1) throw new Error(`byte ${i}: sent ${sends[i]} times, lost ${losses[i]}`)
    }
    const out = new Uint8Array(data.length)
    expect(server.recvInto(id, out)).toEqual({ length: data.length, finished: true })
    expect(sameBytes(out, data)).toBe(true)
  })

  it("window auto-tuning: the stream and connection windows grow when the application reads fast", () => {
    const config: StreamConfig = {
      ...defaultStreamConfig,
      streamReceiveWindow: 16 * 1024,
      maxStreamReceiveWindow: 1024 * 1024,
      connectionReceiveWindow: 24 * 1024,
      maxConnectionReceiveWindow: 2 * 1024 * 1024
    }
    const { client, server } = pair(config, config)
    const random = rng(3)
    const net = new Network({ loss: 0, duplicate: 0, spuriousLoss: 0, rtt: 40_000, packetsPerRound: 40, minPacket: 1200 }, random)
    const id = client.openUni()!
    const data = bytes(3 * 1024 * 1024, 1)
    let written = 0
    let read = 0
    const windows: Array<number> = []
    const connectionWindows: Array<number> = []
    const buffer = new Uint8Array(64 * 1024)
    while (read < data.length) {
      expect(net.now).toBeLessThan(60_000_000)
      if (written < data.length) {
        const n = client.send(id, data.subarray(written))
        if (typeof n === "number") written += n
      }
      const r = server.recvInto(id, buffer)
      if (!("_tag" in r)) read += r.length
      // The window each update grants: the new limit minus what was read.
      const before = net.sentPayloads.length
      net.send(client, server)
      net.send(server, client)
      for (const { from, records } of net.sentPayloads.slice(before)) {
        if (from !== server) continue
        for (const record of records) {
          if (record._tag === "MaxStreamData") windows.push(record.max - read)
          if (record._tag === "MaxData") connectionWindows.push(record.max - read)
        }
      }
      net.now += 1000
      net.run()
    }
    expect(windows[0]).toBe(16 * 1024)
    expect(Math.max(...windows)).toBeGreaterThanOrEqual(256 * 1024)
    expect(Math.max(...windows)).toBeLessThanOrEqual(1024 * 1024)
    // The connection window follows (1.5x the stream window).
    expect(Math.max(...connectionWindows)).toBeGreaterThanOrEqual(1.5 * Math.max(...windows))
  })
})
