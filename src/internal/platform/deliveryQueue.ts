/**
 * A binary min-heap of scheduled items ordered by time, then by the order in
 * which they were scheduled, so that items due at the same instant come out
 * first-in, first-out (a plain sort or a timer per item would not promise
 * that).
 */
export interface Scheduled<A> {
  /** When the item is due, in the owner's time unit. */
  readonly at: number
  readonly seq: number
  readonly value: A
}

export class DeliveryQueue<A> {
  private readonly heap: Array<Scheduled<A>> = []
  private seq = 0

  get size(): number {
    return this.heap.length
  }

  /** The earliest due time, or `undefined` when empty. */
  peekTime(): number | undefined {
    return this.heap[0]?.at
  }

  /** Schedules `value` at `at`; returns true when it became the earliest item. */
  push(at: number, value: A): boolean {
    const item: Scheduled<A> = { at, seq: this.seq++, value }
    const heap = this.heap
    heap.push(item)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent]!
      if (!before(item, p)) break
      heap[i] = p
      i = parent
    }
    heap[i] = item
    return i === 0
  }

  /** Removes and returns the earliest item if it is due at or before `now`. */
  popDue(now: number): A | undefined {
    const heap = this.heap
    const top = heap[0]
    if (top === undefined || top.at > now) return undefined
    const last = heap.pop()!
    if (heap.length > 0) {
      let i = 0
      const n = heap.length
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const child = r < n && before(heap[r]!, heap[l]!) ? r : l
        const c = heap[child]!
        if (!before(c, last)) break
        heap[i] = c
        i = child
      }
      heap[i] = last
    }
    return top.value
  }

  clear(): void {
    this.heap.length = 0
  }
}

const before = <A>(x: Scheduled<A>, y: Scheduled<A>): boolean => x.at < y.at || (x.at === y.at && x.seq < y.seq)
