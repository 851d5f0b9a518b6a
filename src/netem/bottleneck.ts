/**
 * The `--bandwidth`/`--queue` model of one direction: a FIFO link that
 * serializes datagrams at a fixed rate and holds at most `queue` datagrams
 * not yet fully sent (the one being serialized included); a datagram that
 * finds it full is dropped. Pure: time is passed in, in milliseconds.
 *
 * @since 0.1.0
 */

/**
 * A rate-limited FIFO queue.
 *
 * @since 0.1.0
 * @category models
 */
export class Bottleneck {
  /** When each admitted datagram leaves the link, oldest first, from `head` on. */
  private readonly departures: Array<number> = []
  private head = 0
  private readonly millisPerByte: number

  constructor(megabitsPerSecond: number, private readonly capacity: number) {
    // 1 Mbit/s carries 1000 bits per millisecond.
    this.millisPerByte = 8 / (megabitsPerSecond * 1000)
  }

  /**
   * Admits a datagram of `size` bytes arriving at `now`: the time it spends
   * queued and serialized, or undefined when the queue is full.
   */
  admit(now: number, size: number): number | undefined {
    const departures = this.departures
    while (this.head < departures.length && departures[this.head]! <= now) this.head++
    if (departures.length - this.head >= this.capacity) return undefined
    // Compact now and then rather than shift() on every departure.
    if (this.head > 1024 && this.head * 2 > departures.length) {
      departures.splice(0, this.head)
      this.head = 0
    }
    const start = Math.max(now, departures[departures.length - 1] ?? now)
    const departure = start + size * this.millisPerByte
    departures.push(departure)
    return departure - now
  }
}
