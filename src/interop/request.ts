/**
 * HTTP/0.9 as the interop runner speaks it over QUIC (ALPN `hq-interop`):
 * the client sends `GET /NAME\r\n` and FIN on a bidirectional stream, the
 * server answers with the file's bytes and FIN.
 */
import { posix } from "node:path"

export const HQ_ALPN = "hq-interop"

/** A request line longer than this is refused: the server buffers it whole. */
export const MAX_REQUEST_BYTES = 4096

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

export const encodeRequest = (path: string): Uint8Array => encoder.encode(`GET ${path}\r\n`)

/**
 * The file a request names, relative to the served folder, or `undefined`
 * for anything that is not a plain `GET` of a path inside it.
 */
export const parseRequest = (bytes: Uint8Array): string | undefined => {
  let text: string
  try {
    text = decoder.decode(bytes)
  } catch {
    return undefined
  }
  const match = /^GET (\/[^\s]*)\s*$/.exec(text)
  if (match === null) return undefined
  let path: string
  try {
    path = decodeURIComponent(match[1]!)
  } catch {
    return undefined
  }
  if (path.includes("\0")) return undefined
  // Normalised against the root, `..` cannot climb out of the served folder.
  const relative = posix.normalize(path).replace(/^\/+/, "")
  return relative === "" || relative === "." || relative.startsWith("..") ? undefined : relative
}

/** The path of a request URL, `https://HOST:PORT/NAME` → `/NAME`, and the file name to save it as. */
export interface RequestTarget {
  readonly host: string
  readonly port: number
  readonly path: string
  readonly fileName: string
}

export const parseRequestUrl = (url: string): RequestTarget | undefined => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return undefined
  }
  if (parsed.protocol !== "https:") return undefined
  const fileName = posix.basename(decodeURIComponent(parsed.pathname))
  if (fileName === "" || fileName === "." || fileName === "..") return undefined
  const host = parsed.hostname.startsWith("[") ? parsed.hostname.slice(1, -1) : parsed.hostname
  return { host, port: parsed.port === "" ? 443 : Number(parsed.port), path: parsed.pathname, fileName }
}
