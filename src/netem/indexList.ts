/**
 * The 1-based datagram index lists of `--drop-to-server` and
 * `--drop-to-client`: `2-7`, `1,3,5-6`.
 *
 * @since 0.1.0
 */

/**
 * Inclusive ranges of 1-based indices.
 *
 * @since 0.1.0
 * @category models
 */
export type IndexList = ReadonlyArray<readonly [first: number, last: number]>

/**
 * Parses `1,3,5-6`; undefined when any part is not a positive integer or a
 * range `a-b` with `a ≤ b`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseIndexList = (text: string): IndexList | undefined => {
  const ranges: Array<readonly [number, number]> = []
  for (const part of text.split(",")) {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part)
    if (match === null) return undefined
    const first = Number(match[1])
    const last = match[2] === undefined ? first : Number(match[2])
    if (first < 1 || last < first || !Number.isSafeInteger(last)) return undefined
    ranges.push([first, last])
  }
  return ranges
}

/**
 * Whether the 1-based `index` is in the list.
 *
 * @since 0.1.0
 * @category predicates
 */
export const includesIndex = (list: IndexList, index: number): boolean =>
  list.some(([first, last]) => index >= first && index <= last)
