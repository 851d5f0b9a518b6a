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
 * Loss and corruption follow the ns-3 drop-rate and corrupt-rate models of
 * the QUIC interop runner's network simulator (quic-network-simulator): each
 * datagram is hit independently with probability PCT %, but never more than
 * N in a row (`--loss-burst N`, `--corrupt-burst N`; no limit by default):
 * the datagram after a full run of N always passes. Both processes take
 * exactly one draw from their stream per datagram (none at 0 or 100 %), even
 * when the run limit or a Version Negotiation packet decides without it, so
 * datagram n always meets the n-th draw. A corrupted datagram gets one byte,
 * at a uniformly random index among its first 51, replaced by a different
 * random value; those two draws come from a third stream, taken whenever the
 * corruption process hits, even if the datagram is then dropped. Version
 * Negotiation packets are never corrupted and end the corruption run, as in
 * the runner; so are empty datagrams, which have no byte to change.
 *
 * @since 0.1.0
 */
import { Prng } from "../internal/platform/prng.js"
import { Bottleneck } from "./bottleneck.js"
import { includesIndex, type IndexList } from "./indexList.js"

/**
 * The faults of `quic-netem`'s flags. Times in milliseconds, rates in
 * percent, bandwidth in Mbit/s (0: unlimited); `lossBurst` and
 * `corruptBurst` are the most datagrams hit in a row (Infinity: no limit).
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
  lossBurst: Infinity,
  corrupt: 0,
  corruptBurst: Infinity,
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
 * Why a datagram was dropped. `loss` is the first datagram of a run of
 * losses, `burst` a later one of the same run; `closed`, one still held when
 * the relay closed.
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
 * Datagrams hit independently with probability `percent` %, but never more
 * than `maxRun` in a row (Infinity: no limit): after a full run the next
 * datagram passes. This is the ns-3 drop-rate / corrupt-rate model of the
 * interop runner's network simulator; its average hit rate, for
 * r = percent / 100 and b = maxRun, is r·(1 − r^b) / (1 − r^(b+1)).
 *
 * @since 0.1.0
 * @category models
 */
export class CappedRunProcess {
  private inARow = 0
  private readonly probability: number

  constructor(percent: number, private readonly maxRun: number, private readonly prng: Prng) {
    this.probability = Math.min(1, Math.max(0, percent / 100))
  }

  /**
   * For the next datagram: `start` of a run, `continue` of one, or undefined
   * (not hit). An `exempt` datagram is not hit and ends the run. One draw per
   * datagram, exempt or capped or not (none at 0 or 100 %).
   */
  next(exempt = false): "start" | "continue" | undefined {
    const drawn = this.prng.chance(this.probability)
    if (exempt || this.inARow >= this.maxRun || !drawn) {
      this.inARow = 0
      return undefined
    }
    this.inARow++
    return this.inARow === 1 ? "start" : "continue"
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
 * Whether `data` is a QUIC Version Negotiation packet: a long header
 * (0x80 set in the first byte) with version 0x00000000.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isVersionNegotiation = (data: Uint8Array): boolean =>
  data.length >= 5 && (data[0]! & 0x80) !== 0 && data[1] === 0 && data[2] === 0 && data[3] === 0 && data[4] === 0

/**
 * A copy of `data` (not empty) with one byte, at a uniformly random index in
 * [0, min(50, length − 1)], replaced by a different random value, as the
 * runner's corrupt-rate model does, to hit the QUIC header often.
 *
 * @since 0.1.0
 * @category constructors
 */
export const corruptByte = (data: Uint8Array, prng: Prng): Uint8Array => {
  const copy = Uint8Array.from(data)
  const index = prng.int(Math.min(51, copy.length))
  // XOR with 1–255: uniform over the 255 other values.
  copy[index] = copy[index]! ^ (1 + prng.int(255))
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
  const loss = new CappedRunProcess(faults.loss, faults.lossBurst, stream(0))
  const corruption = new CappedRunProcess(faults.corrupt, faults.corruptBurst, stream(1))
  const corruptPrng = stream(2)
  const jitterPrng = stream(3)
  const bottleneck = faults.bandwidth > 0 ? new Bottleneck(faults.bandwidth, faults.queue) : undefined
  const dropIndices = direction === "to_server" ? faults.dropToServer : faults.dropToClient
  let index = 0
  return {
    decide: (now, data) => {
      index++
      const lossEvent = loss.next()
      const exempt = data.length === 0 || isVersionNegotiation(data)
      const corrupted = corruption.next(exempt) === undefined ? undefined : corruptByte(data, corruptPrng)
      if (inBlackhole(faults.blackhole, now)) return { fate: "dropped", reason: "blackhole" }
      if (includesIndex(dropIndices, index)) return { fate: "dropped", reason: "index" }
      if (lossEvent !== undefined) return { fate: "dropped", reason: lossEvent === "start" ? "loss" : "burst" }
      const queued = bottleneck === undefined ? 0 : bottleneck.admit(now, data.length)
      if (queued === undefined) return { fate: "dropped", reason: "queue" }
      const jitter = faults.jitter > 0 ? (jitterPrng.float() * 2 - 1) * faults.jitter : 0
      const delay = queued + Math.max(0, faults.delay + jitter)
      return corrupted === undefined ? { fate: "forwarded", delay, data } : { fate: "corrupted", delay, data: corrupted }
    }
  }
}
