import { latin1Bytes } from "../codec/bytes.js"
import type { CryptoBackend, HashAlgorithm } from "./backend.js"

const TLS13_PREFIX = latin1Bytes("tls13 ")

/**
 * The HkdfLabel structure of RFC 8446 §7.1: `uint16 length`,
 * `opaque label<7..255>` ("tls13 " + label) and `opaque context<0..255>`.
 */
export const hkdfLabel = (label: string, context: Uint8Array, length: number): Uint8Array => {
  const labelLength = TLS13_PREFIX.length + label.length
  const info = new Uint8Array(2 + 1 + labelLength + 1 + context.length)
  info[0] = length >>> 8
  info[1] = length & 0xff
  info[2] = labelLength
  info.set(TLS13_PREFIX, 3)
  for (let i = 0; i < label.length; i++) info[3 + TLS13_PREFIX.length + i] = label.charCodeAt(i)
  info[3 + labelLength] = context.length
  info.set(context, 4 + labelLength)
  return info
}

/** RFC 8446 §7.1 HKDF-Expand-Label, which RFC 9001 §5 uses for every QUIC key. */
export const hkdfExpandLabel = (
  backend: CryptoBackend,
  hash: HashAlgorithm,
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number
): Uint8Array => backend.hkdfExpand(hash, secret, hkdfLabel(label, context, length), length)
