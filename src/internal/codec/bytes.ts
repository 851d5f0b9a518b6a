/** Small byte-string helpers shared across the core. */

export const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The bytes of an ASCII (or Latin-1) string: protocol labels, ALPN ids, host names. */
export const latin1Bytes = (text: string): Uint8Array => {
  const out = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff
  return out
}

/** The Latin-1 string of some bytes (the inverse of {@link latin1Bytes}). */
export const latin1String = (bytes: Uint8Array): string => {
  let s = ""
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!)
  return s
}
