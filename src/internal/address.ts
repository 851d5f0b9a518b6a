/** A UDP peer or local address as the core sees it: an IP literal and a port. */
export interface SocketAddress {
  readonly address: string
  readonly port: number
}

export const sameAddress = (a: SocketAddress, b: SocketAddress): boolean => a.port === b.port && a.address === b.address

/** A stable string for maps and logs: `1.2.3.4:443` or `[::1]:443`. */
export const addressKey = (a: SocketAddress): string => (a.address.includes(":") ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`)

/** Whether two optional local addresses name the same one (`undefined`: the endpoint's primary address). */
export const sameLocal = (a: SocketAddress | undefined, b: SocketAddress | undefined): boolean =>
  a === undefined || b === undefined ? a === b : sameAddress(a, b)

/** An IPv6 literal (not an IPv4 one): the address family a peer is reached in. */
export const isIpv6 = (address: string): boolean => address.includes(":")

/** The 4 bytes of a dotted-quad IPv4 literal, or undefined when it is not one. */
export const ipv4Bytes = (text: string): Uint8Array | undefined => {
  const parts = text.split(".")
  if (parts.length !== 4) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined
    out[i] = Number(part)
  }
  return out
}

/** The 16 bytes of an IPv6 literal (with `::` and an optional dotted-quad tail), or undefined when it is not one. */
export const ipv6Bytes = (text: string): Uint8Array | undefined => {
  const halves = text.split("::")
  if (halves.length > 2) return undefined
  const groups = (half: string): Array<number> | undefined => {
    if (half === "") return []
    const out: Array<number> = []
    const parts = half.split(":")
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!
      if (i === parts.length - 1 && part.includes(".")) {
        const v4 = ipv4Bytes(part)
        if (v4 === undefined) return undefined
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) out.push(parseInt(part, 16))
      else return undefined
    }
    return out
  }
  const head = groups(halves[0]!)
  const tail = halves.length === 2 ? groups(halves[1]!) : []
  if (head === undefined || tail === undefined) return undefined
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail]
  const out = new Uint8Array(16)
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i]! >> 8
    out[2 * i + 1] = all[i]! & 0xff
  }
  return out
}

export const formatIpv4 = (bytes: Uint8Array): string => `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`

/**
 * RFC 5952 text of 16 address bytes (lower case, the longest run of two or
 * more zero groups as `::`), the form sockets report peers in, so that an
 * address decoded from the wire compares equal to one a socket saw.
 */
export const formatIpv6 = (bytes: Uint8Array): string => {
  const groups: Array<number> = []
  for (let i = 0; i < 8; i++) groups.push((bytes[2 * i]! << 8) | bytes[2 * i + 1]!)
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(":")
  if (bestStart < 0) return hex(0, 8)
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`
}
