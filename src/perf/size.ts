/**
 * Byte counts as people write them: `10M`, `1G` (powers of 1024, per the
 * perf spec), or plain bytes.
 */

const UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }

/** Parses `"100M"`, `"1G"`, `"1.5K"`, `"65536"`; undefined when it is not a size. */
export const parseSize = (text: string): number | undefined => {
  const match = /^(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?B)?$/.exec(text.trim())
  if (match === null) return undefined
  const bytes = Number(match[1]) * UNITS[match[2]!.toUpperCase()]!
  return Number.isSafeInteger(Math.round(bytes)) ? Math.round(bytes) : undefined
}

/** `104857600` → `"100.0 MiB"`. */
export const formatBytes = (bytes: number): string => {
  if (bytes < 1024) return `${bytes} B`
  const units = ["KiB", "MiB", "GiB", "TiB"]
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}
