/**
 * `HOST:PORT` as typed on a command line: `127.0.0.1:4433`, `[::1]:4433`,
 * `localhost:4433`. Names are resolved with the system resolver.
 */
import { Effect } from "effect"
import { lookup } from "node:dns/promises"
import { isIP } from "node:net"
import { PerfError } from "./failure.js"

export interface HostPort {
  readonly host: string
  readonly port: number
}

export interface ResolvedAddress {
  /** What was typed, for messages and the default server name. */
  readonly host: string
  readonly address: string
  readonly port: number
  readonly family: "udp4" | "udp6"
}

export const parseHostPort = (text: string): HostPort | undefined => {
  const match = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(text.trim())
  if (match === null) return undefined
  const port = Number(match[3])
  if (port > 65535) return undefined
  return { host: match[1] ?? match[2]!, port }
}

export const resolveHostPort = (flag: string, text: string): Effect.Effect<ResolvedAddress, PerfError> =>
  Effect.gen(function*() {
    const parsed = parseHostPort(text)
    if (parsed === undefined) {
      return yield* Effect.fail(new PerfError({ reason: "Usage", message: `${flag}: expected HOST:PORT, got "${text}"` }))
    }
    const literal = isIP(parsed.host)
    if (literal !== 0) return { ...parsed, address: parsed.host, family: literal === 6 ? "udp6" : "udp4" } as const
    const found = yield* Effect.tryPromise({
      try: () => lookup(parsed.host),
      catch: () => new PerfError({ reason: "Unreachable", message: `${flag}: cannot resolve "${parsed.host}"` })
    })
    return { ...parsed, address: found.address, family: found.family === 6 ? "udp6" : "udp4" } as const
  })

export const formatAddress = (address: { readonly address: string; readonly port: number }): string =>
  address.address.includes(":") ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`
