/**
 * A binary min-heap of (deadline, handle) pairs, for an endpoint with many
 * connections: finding the next deadline costs O(1) and each change
 * O(log n), instead of a scan of every connection on every event.
 *
 * Entries are never updated in place: a new deadline is pushed and the old
 * entry goes stale; the owner recognises stale entries (its record of each
 * handle's deadline disagrees) and skips them.
 */
export class TimerHeap {
  private readonly at: Array<number> = []
  private readonly handles: Array<number> = []

  get size(): number {
    return this.at.length
  }

  push(at: number, handle: number): void {
    const a = this.at
    const h = this.handles
    let i = a.length
    a.push(at)
    h.push(handle)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (a[parent]! <= at) break
      a[i] = a[parent]!
      h[i] = h[parent]!
      i = parent
    }
    a[i] = at
    h[i] = handle
  }

  /** The earliest deadline, or undefined when empty. */
  peekAt(): number | undefined {
    return this.at[0]
  }

  peekHandle(): number | undefined {
    return this.handles[0]
  }

  pop(): void {
    const a = this.at
    const h = this.handles
    const lastAt = a.pop()
    const lastHandle = h.pop()
    if (a.length === 0 || lastAt === undefined || lastHandle === undefined) return
    const n = a.length
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= n) break
      const right = left + 1
      const child = right < n && a[right]! < a[left]! ? right : left
      if (a[child]! >= lastAt) break
      a[i] = a[child]!
      h[i] = h[child]!
      i = child
    }
    a[i] = lastAt
    h[i] = lastHandle
  }

  clear(): void {
    this.at.length = 0
    this.handles.length = 0
  }
}
