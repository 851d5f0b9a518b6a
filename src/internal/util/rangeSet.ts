/**
 * A set of non-negative integers kept as sorted, disjoint, non-adjacent
 * half-open ranges [start, end). Used for received packet numbers (ACK
 * ranges), acknowledged and received stream offsets, and lost data.
 *
 * Ranges live in one flat array (start0, end0, start1, end1, …) so the common
 * cases — appending at the end, removing a prefix — touch only its ends.
 */
export class RangeSet {
  private bounds: Array<number> = []

  /** The number of disjoint ranges. */
  get size(): number {
    return this.bounds.length >> 1
  }

  get isEmpty(): boolean {
    return this.bounds.length === 0
  }

  start(index: number): number {
    return this.bounds[2 * index]!
  }

  end(index: number): number {
    return this.bounds[2 * index + 1]!
  }

  /** The smallest member, or undefined when empty. */
  get min(): number | undefined {
    return this.bounds[0]
  }

  /** One past the largest member, or undefined when empty. */
  get max(): number | undefined {
    return this.bounds.length === 0 ? undefined : this.bounds[this.bounds.length - 1]
  }

  /** Index of the first range whose end is >= value (binary search). */
  private firstEndingAtOrAfter(value: number): number {
    let lo = 0
    let hi = this.bounds.length >> 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.bounds[2 * mid + 1]! < value) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Adds [start, end); returns the number of values that were not already present. */
  insert(start: number, end: number): number {
    if (end <= start) return 0
    const b = this.bounds
    const n = b.length
    // Fast path: append after (or extend) the last range.
    if (n === 0 || start > b[n - 1]!) {
      b.push(start, end)
      return end - start
    }
    if (start >= b[n - 2]! && start <= b[n - 1]!) {
      const added = Math.max(0, end - b[n - 1]!)
      if (end > b[n - 1]!) b[n - 1] = end
      return added
    }
    const i = this.firstEndingAtOrAfter(start)
    let newStart = start
    let newEnd = end
    let covered = 0
    let j = i
    while (j < b.length >> 1 && b[2 * j]! <= end) {
      const s = b[2 * j]!
      const e = b[2 * j + 1]!
      covered += Math.min(e, end) - Math.max(s, start)
      if (s < newStart) newStart = s
      if (e > newEnd) newEnd = e
      j++
    }
    b.splice(2 * i, 2 * (j - i), newStart, newEnd)
    return end - start - covered
  }

  /** Removes [start, end). */
  remove(start: number, end: number): void {
    if (end <= start) return
    const b = this.bounds
    const i = this.firstEndingAtOrAfter(start + 1)
    const replacement: Array<number> = []
    let j = i
    while (j < b.length >> 1 && b[2 * j]! < end) {
      const s = b[2 * j]!
      const e = b[2 * j + 1]!
      if (s < start) replacement.push(s, start)
      if (e > end) replacement.push(end, e)
      j++
    }
    if (j > i) b.splice(2 * i, 2 * (j - i), ...replacement)
  }

  /** Removes every value below `value`. */
  removeBelow(value: number): void {
    const b = this.bounds
    let drop = 0
    while (drop < b.length && b[drop + 1]! <= value) drop += 2
    if (drop > 0) b.splice(0, drop)
    if (b.length > 0 && b[0]! < value) b[0] = value
  }

  has(value: number): boolean {
    const i = this.firstEndingAtOrAfter(value + 1)
    return i < this.bounds.length >> 1 && this.bounds[2 * i]! <= value
  }

  /** Whether all of [start, end) is present. */
  covers(start: number, end: number): boolean {
    if (end <= start) return true
    const i = this.firstEndingAtOrAfter(start + 1)
    return i < this.bounds.length >> 1 && this.bounds[2 * i]! <= start && this.bounds[2 * i + 1]! >= end
  }

  /** Drops the lowest ranges until at most `count` remain. */
  keepHighest(count: number): void {
    const excess = this.bounds.length - 2 * count
    if (excess > 0) this.bounds.splice(0, excess)
  }

  clear(): void {
    this.bounds.length = 0
  }

  /** The ranges as [start, end) pairs, lowest first (allocates; for tests and logs). */
  toArray(): Array<readonly [number, number]> {
    const out: Array<readonly [number, number]> = []
    for (let i = 0; i < this.bounds.length; i += 2) out.push([this.bounds[i]!, this.bounds[i + 1]!])
    return out
  }
}
