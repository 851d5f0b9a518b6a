/**
 * Datagrams waiting out their delay, in order of departure time; equal
 * times leave in order of arrival, so a constant delay never reorders.
 *
 * @since 0.1.0
 */

/**
 * A departure-ordered queue.
 *
 * @since 0.1.0
 * @category models
 */
export class Departures<A> {
  /** Sorted latest first, so the next departure pops off the end. */
  private readonly items: Array<{ readonly at: number; readonly item: A }> = []

  push(at: number, item: A): void {
    const items = this.items
    // Binary search for the first entry leaving no later than `at`: the new
    // one goes before it, behind (so after) every equal earlier arrival.
    let low = 0
    let high = items.length
    while (low < high) {
      const middle = (low + high) >> 1
      if (items[middle]!.at > at) low = middle + 1
      else high = middle
    }
    if (low === items.length) items.push({ at, item })
    else items.splice(low, 0, { at, item })
  }

  /** When the next departure is due, or undefined when empty. */
  nextAt(): number | undefined {
    return this.items[this.items.length - 1]?.at
  }

  /** The next item if it is due at `now`. */
  popDue(now: number): A | undefined {
    const last = this.items[this.items.length - 1]
    if (last === undefined || last.at > now) return undefined
    this.items.pop()
    return last.item
  }

  /** Removes and returns everything, in departure order. */
  drain(): Array<A> {
    return this.items.splice(0).reverse().map((entry) => entry.item)
  }
}
