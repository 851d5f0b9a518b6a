/**
 * The fate of one datagram on a simulated one-way link: dropped for its size,
 * lost at random, dropped at a full bottleneck queue, or delivered (perhaps
 * twice, perhaps late, perhaps with a flipped byte) at a computed instant.
 *
 * Pure: time is integer microseconds passed in, randomness comes from the
 * seeded {@link Prng}, and the only state is the link's bottleneck clock, so
 * a run replays exactly. The randomness is drawn in a fixed order (loss,
 * duplication, then per copy corruption, jitter, reordering).
 */
import type { Prng } from "./prng.js"

/** Link parameters with every default filled in; durations in microseconds. */
export interface LinkParameters {
  /** One-way propagation delay. */
  readonly latency: number
  /** Extra delay drawn uniformly from [0, jitter] for every copy (may reorder). */
  readonly jitter: number
  /** Bottleneck rate in bytes per second; 0 means unlimited. */
  readonly bandwidth: number
  /** Bytes the bottleneck may hold waiting to be transmitted; more are dropped. */
  readonly queueBytes: number
  /** Probability that a datagram is lost. */
  readonly loss: number
  /** Probability that a copy is held back by an extra `reorderDelay`. */
  readonly reorder: number
  readonly reorderDelay: number
  /** Probability that a datagram is delivered twice. */
  readonly duplicate: number
  /** Probability that a copy arrives with one byte altered. */
  readonly corrupt: number
  /** Largest datagram the link carries; larger ones are dropped. `Infinity` for no limit. */
  readonly mtu: number
}

export const idealLink: LinkParameters = {
  latency: 0,
  jitter: 0,
  bandwidth: 0,
  queueBytes: 64 * 1024,
  loss: 0,
  reorder: 0,
  reorderDelay: 10_000,
  duplicate: 0,
  corrupt: 0,
  mtu: Number.POSITIVE_INFINITY
}

/** The mutable state of one direction of a link: when its bottleneck is free again (µs). */
export interface LinkState {
  busyUntil: number
}

export const makeLinkState = (): LinkState => ({ busyUntil: 0 })

/** Flip `mask` into the byte at `index`. */
export interface Corruption {
  readonly index: number
  readonly mask: number
}

export interface Copy {
  /** Arrival time, integer microseconds. */
  readonly at: number
  /** The second copy of a duplicated datagram. */
  readonly duplicate: boolean
  readonly reordered: boolean
  readonly corruption: Corruption | undefined
}

export type Verdict =
  | { readonly _tag: "TooLarge" }
  | { readonly _tag: "Lost" }
  | { readonly _tag: "QueueFull" }
  | { readonly _tag: "Transmit"; readonly copies: ReadonlyArray<Copy> }

const tooLarge: Verdict = { _tag: "TooLarge" }
const lost: Verdict = { _tag: "Lost" }
const queueFull: Verdict = { _tag: "QueueFull" }

/** Decides what happens to a datagram of `size` bytes offered to the link at `now` (µs). */
export const transmit = (link: LinkParameters, state: LinkState, rng: Prng, now: number, size: number): Verdict => {
  if (size > link.mtu) return tooLarge
  if (rng.chance(link.loss)) return lost
  let departure = now
  if (link.bandwidth > 0) {
    const busy = Math.max(state.busyUntil, now)
    const backlog = ((busy - now) * link.bandwidth) / 1_000_000
    // An idle bottleneck takes any single datagram; a busy one only what fits.
    if (backlog > 0 && backlog + size > link.queueBytes) return queueFull
    departure = busy + (size * 1_000_000) / link.bandwidth
    state.busyUntil = departure
  }
  const count = rng.chance(link.duplicate) ? 2 : 1
  const copies: Array<Copy> = []
  for (let i = 0; i < count; i++) {
    const corruption: Corruption | undefined =
      size > 0 && rng.chance(link.corrupt) ? { index: rng.int(size), mask: 1 + rng.int(255) } : undefined
    const jitter = link.jitter > 0 ? rng.int(link.jitter + 1) : 0
    const reordered = rng.chance(link.reorder)
    const at = Math.round(departure + link.latency + jitter + (reordered ? link.reorderDelay : 0))
    copies.push({ at, duplicate: i > 0, reordered, corruption })
  }
  return { _tag: "Transmit", copies }
}

/** Applies a corruption to `bytes` in place. */
export const corrupt = (bytes: Uint8Array, corruption: Corruption): void => {
  if (corruption.index < bytes.length) bytes[corruption.index] = bytes[corruption.index]! ^ corruption.mask
}

const probability = (p: number | undefined, fallback: number): number =>
  p === undefined || Number.isNaN(p) ? fallback : Math.min(1, Math.max(0, p))

const nonNegative = (n: number | undefined, fallback: number): number =>
  n === undefined || Number.isNaN(n) ? fallback : Math.max(0, n)

/** Link settings as numbers (durations already in µs); missing fields come from `base`. */
export interface LinkSettings {
  readonly latency?: number | undefined
  readonly jitter?: number | undefined
  readonly bandwidth?: number | undefined
  readonly queueBytes?: number | undefined
  readonly loss?: number | undefined
  readonly reorder?: number | undefined
  readonly reorderDelay?: number | undefined
  readonly duplicate?: number | undefined
  readonly corrupt?: number | undefined
  readonly mtu?: number | undefined
}

/** Fills in and clamps settings: probabilities to [0, 1], durations and sizes to ≥ 0. */
export const resolveLink = (settings: LinkSettings, base: LinkParameters = idealLink): LinkParameters => ({
  latency: Math.round(nonNegative(settings.latency, base.latency)),
  jitter: Math.round(nonNegative(settings.jitter, base.jitter)),
  bandwidth: nonNegative(settings.bandwidth, base.bandwidth),
  queueBytes: nonNegative(settings.queueBytes, base.queueBytes),
  loss: probability(settings.loss, base.loss),
  reorder: probability(settings.reorder, base.reorder),
  reorderDelay: Math.round(nonNegative(settings.reorderDelay, base.reorderDelay)),
  duplicate: probability(settings.duplicate, base.duplicate),
  corrupt: probability(settings.corrupt, base.corrupt),
  mtu: nonNegative(settings.mtu, base.mtu)
})
