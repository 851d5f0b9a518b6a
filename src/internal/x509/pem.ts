/**
 * PEM, the textual encoding of certificates and keys (RFC 7468): base64 DER
 * between `-----BEGIN <label>-----` and `-----END <label>-----` lines.
 *
 * Base64 (RFC 4648 §4) is implemented here so the core depends on no
 * platform global. Text outside the blocks (OpenSSL's "Bag Attributes",
 * comments) is ignored, as RFC 7468 §2 allows. Blocks with RFC 1421 headers
 * (`Proc-Type: 4,ENCRYPTED`, legacy encrypted keys) are refused.
 */
import { type X509Error, x509Error } from "./der.js"

/** One decoded PEM block. */
export interface PemBlock {
  /** The label, e.g. "CERTIFICATE", "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY". */
  readonly label: string
  readonly der: Uint8Array
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
const DECODE = (() => {
  const table = new Int8Array(128).fill(-1)
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i
  return table
})()

const isSpace = (code: number): boolean => code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d

/**
 * Decodes base64 (standard alphabet), ignoring whitespace. Padding is
 * optional but, when present, must end the input. Returns `undefined` for any
 * other character or an impossible length.
 */
export const base64Decode = (text: string): Uint8Array | undefined => {
  const values: Array<number> = []
  let padding = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (isSpace(code)) continue
    if (code === 0x3d /* = */) {
      padding++
      continue
    }
    const value = code < 128 ? DECODE[code]! : -1
    if (value < 0 || padding > 0) return undefined
    values.push(value)
  }
  const rest = values.length % 4
  if (rest === 1 || padding > 2 || (padding > 0 && (values.length + padding) % 4 !== 0)) return undefined
  const out = new Uint8Array(Math.floor(values.length / 4) * 3 + (rest === 0 ? 0 : rest - 1))
  let o = 0
  let i = 0
  for (; i + 4 <= values.length; i += 4) {
    const n = (values[i]! << 18) | (values[i + 1]! << 12) | (values[i + 2]! << 6) | values[i + 3]!
    out[o++] = n >>> 16
    out[o++] = (n >>> 8) & 0xff
    out[o++] = n & 0xff
  }
  if (rest >= 2) {
    const n = (values[i]! << 18) | (values[i + 1]! << 12) | ((values[i + 2] ?? 0) << 6)
    out[o++] = n >>> 16
    if (rest === 3) out[o++] = (n >>> 8) & 0xff
  }
  return out
}

/** Encodes bytes as base64 with padding, on one line. */
export const base64Encode = (bytes: Uint8Array): string => {
  let out = ""
  let i = 0
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]! + ALPHABET[(n >>> 6) & 63]! + ALPHABET[n & 63]!
  }
  const rest = bytes.length - i
  if (rest > 0) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8)
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]!
    out += rest === 2 ? ALPHABET[(n >>> 6) & 63]! + "=" : "=="
  }
  return out
}

const BEGIN = /^-----BEGIN ([\x21-\x2c\x2e-\x7e](?:[\x21-\x2c\x2e-\x7e -]*[\x21-\x2c\x2e-\x7e])?)?-----\s*$/
const END = /^-----END (.*)-----\s*$/

/**
 * Every PEM block in `text`, in order. Fails on a block that is not closed,
 * closed with a different label, has RFC 1421 headers, or whose body is not
 * base64. A text without any block gives an empty array.
 */
export const decodePem = (text: string): ReadonlyArray<PemBlock> | X509Error => {
  const blocks: Array<PemBlock> = []
  const lines = text.split(/\r\n|\r|\n/)
  let label: string | undefined
  let body = ""
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim()
    if (label === undefined) {
      const begin = BEGIN.exec(line)
      if (begin !== null) {
        label = begin[1] ?? ""
        body = ""
      }
      continue
    }
    if (line.startsWith("-----END ")) {
      const end = END.exec(line)
      if (end === null || end[1] !== label) return x509Error(`PEM: "${label}" block closed by "${line}"`)
      const der = base64Decode(body)
      if (der === undefined) return x509Error(`PEM: "${label}" block is not valid base64`)
      blocks.push({ label, der })
      label = undefined
      continue
    }
    if (line.startsWith("-----BEGIN ")) return x509Error(`PEM: "${label}" block is not closed`)
    if (line.includes(":")) return x509Error(`PEM: "${label}" block has headers (encrypted PEM is not supported)`)
    body += line
  }
  if (label !== undefined) return x509Error(`PEM: "${label}" block is not closed`)
  return blocks
}

/** Encodes DER as a PEM block with 64-character lines (RFC 7468 §2), ending with a newline. */
export const encodePem = (label: string, der: Uint8Array): string => {
  const b64 = base64Encode(der)
  let out = `-----BEGIN ${label}-----\n`
  for (let i = 0; i < b64.length; i += 64) out += b64.slice(i, i + 64) + "\n"
  return out + `-----END ${label}-----\n`
}

/** A certificate as PEM (label CERTIFICATE, RFC 7468 §5.1). */
export const encodeCertificatePem = (der: Uint8Array): string => encodePem("CERTIFICATE", der)
