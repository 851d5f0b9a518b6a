/**
 * Transfer counters, and a one-line progress bar for terminals.
 */
import { Effect, Schedule } from "effect"
import { formatBytes } from "./size.js"

const BAR_WIDTH = 30
const REDRAW_MILLIS = 200

export class Progress {
  down = 0
  up = 0
  requests = 0
  private readonly startedAt = Date.now()

  /** `expected`: the bytes of the whole run, when known. */
  constructor(readonly expected: number | undefined) {}

  get bytes(): number {
    return this.down + this.up
  }

  /** Completes once `bytes` transferred reach `threshold`. */
  reached(threshold: number): Effect.Effect<void> {
    return Effect.sleep("2 millis").pipe(Effect.repeat({ until: () => this.bytes >= threshold }), Effect.asVoid)
  }

  private line(): string {
    const seconds = (Date.now() - this.startedAt) / 1000
    const rate = seconds > 0 ? (this.bytes * 8) / seconds / 1e6 : 0
    const amount = `${formatBytes(this.bytes)}  ${rate.toFixed(1)} Mbit/s  ${this.requests} requests`
    if (this.expected === undefined || this.expected === 0) return amount
    const done = Math.min(1, this.bytes / this.expected)
    const filled = Math.round(done * BAR_WIDTH)
    return `[${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}] ${(done * 100).toFixed(0).padStart(3)}%  ${amount}`
  }

  /** Redraws the bar in place until interrupted. */
  get render(): Effect.Effect<void> {
    return Effect.sync(() => void process.stdout.write(`\r${this.line()}\x1b[K`)).pipe(
      Effect.repeat(Schedule.spaced(`${REDRAW_MILLIS} millis`)),
      Effect.asVoid
    )
  }

  get clear(): Effect.Effect<void> {
    return Effect.sync(() => void process.stdout.write("\r\x1b[K"))
  }
}
