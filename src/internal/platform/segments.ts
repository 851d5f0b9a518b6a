/**
 * Splits a GSO-style buffer (several datagrams of `segmentSize` bytes back to
 * back, the last possibly shorter) into its datagrams, as views (no copy).
 * Without a usable `segmentSize`, the whole buffer is one datagram.
 */
export const segments = (data: Uint8Array, segmentSize: number | undefined): Array<Uint8Array> => {
  if (segmentSize === undefined || !(segmentSize > 0) || data.length <= segmentSize) return [data]
  const size = Math.floor(segmentSize)
  const out: Array<Uint8Array> = []
  for (let offset = 0; offset < data.length; offset += size) {
    out.push(data.subarray(offset, Math.min(offset + size, data.length)))
  }
  return out
}

/** How many datagrams {@link segments} would produce, without allocating. */
export const segmentCount = (length: number, segmentSize: number | undefined): number =>
  segmentSize === undefined || !(segmentSize > 0) || length <= segmentSize ? 1 : Math.ceil(length / Math.floor(segmentSize))
