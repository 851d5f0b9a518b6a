/**
 * The seeded, pure fault logic of one direction of the relay: for each
 * datagram, given its arrival time, whether it is dropped (and why) or
 * forwarded, possibly corrupted, after how long.
 *
 * Every fault is independent of the others: each has its own PRNG stream
 * derived from the seed and the direction, and its state advances with
 * every datagram of the direction whatever the other faults decide, so
 * adding jitter, say, does not move the losses. A datagram's fate is the
 * first of blackhole, index, loss, queue that drops it; corruption applies
 * to what is forwarded.
 *
 * @since 0.1.0
 */
import { Prng } from "../internal/platform/prng.js"
import { Bottleneck } from "./bottleneck.js"
import { includesIndex, type IndexList } from "./indexList.js"

/**
 * The faults of `quic-netem`'s flags. Times in milliseconds, rates in
 * percent, bandwidth in Mbit/s (0: unlimited).
 *
 * @since 0.1.0
 * @category models
 */
export interface Faults {
  readonly delay: number
  readonly jitter: number
  readonly bandwidth: number
  readonly queue: number
  readonly loss: number
  readonly lossBurst: number
  readonly corrupt: number
  readonly corruptBurst: number
  readonly blackhole: Blackhole | undefined
  readonly dropToServer: IndexList
  readonly dropToClient: IndexList
}

/**
 * Open for `open` ms from the relay's start, then dropping for `dropped` ms,
 * repeating.
 *
 * @since 0.1.0
 * @category models
 */
export interface Blackhole {
  readonly open: number
  readonly dropped: number
}

/**
 * No faults at all.
 *
 * @since 0.1.0
 * @category constructors
 */
export const noFaults: Faults = {
  delay: 0,
  jitter: 0,
  bandwidth: 0,
  queue: 25,
  loss: 0,
  lossBurst: 1,
  corrupt: 0,
  corruptBurst: 1,
  blackhole: undefined,
  dropToServer: [],
  dropToClient: []
}

/**
 * @since 0.1.0
 * @category models
 */
export type Direction = "to_server" | "to_client"

/**
 * Why a datagram was dropped. `burst` is a datagram lost after the first of
 * a loss burst; `closed`, one still held when the relay closed.
 *
 * @since 0.1.0
 * @category models
 */
export type DropReason = "loss" | "burst" | "blackhole" | "queue" | "index" | "closed"

/**
 * The fate of one datagram: dropped, or sent after `delay` ms (with `data`
 * changed when corrupted).
 *
 * @since 0.1.0
 * @category models
 */
export type Decision =
  | { readonly fate: "dropped"; readonly reason: DropReason }
  | { readonly fate: "forwarded" | "corrupted"; readonly delay: number; readonly data: Uint8Array }

/**
 * Random events of `percent` % average incidence, each covering `burst`
 * consecutive datagrams: an event starts with probability
 * p = f / (burst·(1 − f) + f), so the fraction covered stays f.
 *
 * @since 0.1.0
 * @category models
 */
export class BurstProcess {
  private remaining = 0
  private readonly start: number

  constructor(percent: number, private readonly burst: number, private readonly prng: Prng) {
    const f = Math.min(1, Math.max(0, percent / 100))
    this.start = f === 0 ? 0 : f / (burst * (1 - f) + f)
  }

  /** For the next datagram: `start` of an event, `continue` of one, or undefined. */
  next(): "start" | "continue" | undefined {
    if (this.remaining > 0) {
      this.remaining--
      return "continue"
    }
    if (!this.prng.chance(this.start)) return undefined
    this.remaining = this.burst - 1
    return "start"
  }
}

/**
 * Whether the blackhole cycle is dropping at `now` ms since the start.
 *
 * @since 0.1.0
 * @category predicates
 */
export const inBlackhole = (blackhole: Blackhole | undefined, now: number): boolean =>
  blackhole !== undefined && now % (blackhole.open + blackhole.dropped) >= blackhole.open

/**
 * A copy of `data` with 1–4 distinct bytes changed, each to a different
 * value (fewer when the datagram is shorter; an empty one stays empty).
 *
 * @since 0.1.0
 * @category constructors
 */
export const corruptBytes = (data: Uint8Array, prng: Prng): Uint8Array => {
  const copy = Uint8Array.from(data)
  const count = Math.min(1 + prng.int(4), copy.length)
  const chosen = new Set<number>()
  while (chosen.size < count) chosen.add(prng.int(copy.length))
  // XOR with 1–255 always changes the byte.
  for (const index of chosen) copy[index] = copy[index]! ^ (1 + prng.int(255))
  return copy
}

/**
 * The fault state of one direction.
 *
 * @since 0.1.0
 * @category models
 */
export interface DirectionFaults {
  /** The fate of the next datagram of this direction, arriving `now` ms after the start. */
  readonly decide: (now: number, data: Uint8Array) => Decision
}

const STREAMS_PER_DIRECTION = 4

/**
 * The fault state of `direction`, seeded so that the same arrivals get the
 * same fates.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDirection = (faults: Faults, seed: number, direction: Direction): DirectionFaults => {
  const stream = (n: number) => new Prng(seed * 2 * STREAMS_PER_DIRECTION + (direction === "to_server" ? 0 : STREAMS_PER_DIRECTION) + n)
  const loss = new BurstProcess(faults.loss, faults.lossBurst, stream(0))
  const corruption = new BurstProcess(faults.corrupt, faults.corruptBurst, stream(1))
  const corruptPrng = stream(2)
  const jitterPrng = stream(3)
  const bottleneck = faults.bandwidth > 0 ? new Bottleneck(faults.bandwidth, faults.queue) : undefined
  const dropIndices = direction === "to_server" ? faults.dropToServer : faults.dropToClient
  let index = 0
  return {
    decide: (now, data) => {
      index++
      const lossEvent = loss.next()
      const corrupted = corruption.next() !== undefined
      if (inBlackhole(faults.blackhole, now)) return { fate: "dropped", reason: "blackhole" }
      if (includesIndex(dropIndices, index)) return { fate: "dropped", reason: "index" }
      if (lossEvent !== undefined) return { fate: "dropped", reason: lossEvent === "start" ? "loss" : "burst" }
      const queued = bottleneck === undefined ? 0 : bottleneck.admit(now, data.length)
      if (queued === undefined) return { fate: "dropped", reason: "queue" }
      const jitter = faults.jitter > 0 ? (jitterPrng.float() * 2 - 1) * faults.jitter : 0
      const delay = queued + Math.max(0, faults.delay + jitter)
      return corrupted && data.length > 0
        ? { fate: "corrupted", delay, data: corruptBytes(data, corruptPrng) }
        : { fate: "forwarded", delay, data }
    }
  }
}
