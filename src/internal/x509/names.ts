/**
 * Names in certificates: matching a server name against subjectAltName
 * (RFC 6125 §6.4, as narrowed by RFC 9525 — no Common Name fallback), IP
 * literal parsing (RFC 4291 §2.2, RFC 3986 §3.2.2) and name-constraint
 * evaluation for dNSName and iPAddress subtrees (RFC 5280 §4.2.1.10).
 */
import type { Extensions, IpSubtree, NameConstraints } from "./certificate.js"
import { bytesEqual } from "../codec/bytes.js"

/** A reference identity: what the client asked to connect to. */
export type ServerIdentity =
  | { readonly kind: "dns"; /** Lowercase, without a trailing dot. */ readonly name: string }
  | { readonly kind: "ip"; /** 4 or 16 bytes. */ readonly address: Uint8Array }

/** A dotted-quad IPv4 address: four decimal octets, no leading zeros (which some parsers read as octal). */
export const parseIpv4 = (text: string): Uint8Array | undefined => {
  const parts = text.split(".")
  if (parts.length !== 4) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined
    const value = Number(part)
    if (value > 255) return undefined
    out[i] = value
  }
  return out
}

const parseGroups = (text: string, allowIpv4Tail: boolean): Array<number> | undefined => {
  if (text === "") return []
  const parts = text.split(":")
  const groups: Array<number> = []
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!
    if (allowIpv4Tail && i === parts.length - 1 && part.includes(".")) {
      const v4 = parseIpv4(part)
      if (v4 === undefined) return undefined
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined
      groups.push(parseInt(part, 16))
    }
  }
  return groups
}

/**
 * An IPv6 address in the text forms of RFC 4291 §2.2: eight groups, `::`
 * compression (once), and an embedded dotted-quad IPv4 tail. Zone
 * identifiers are refused (they never appear in certificates).
 */
export const parseIpv6 = (text: string): Uint8Array | undefined => {
  const halves = text.split("::")
  if (halves.length > 2) return undefined
  let groups: Array<number>
  if (halves.length === 2) {
    const head = parseGroups(halves[0]!, false)
    const tail = parseGroups(halves[1]!, true)
    if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail]
  } else {
    const all = parseGroups(text, true)
    if (all === undefined || all.length !== 8) return undefined
    groups = all
  }
  const out = new Uint8Array(16)
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i]! >> 8
    out[2 * i + 1] = groups[i]! & 0xff
  }
  return out
}

/** An IPv4 or IPv6 literal (IPv6 optionally in brackets, as in URLs), or `undefined`. */
export const parseIpAddress = (text: string): Uint8Array | undefined => {
  if (text.startsWith("[") && text.endsWith("]")) return parseIpv6(text.slice(1, -1))
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text)
}

const DNS_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/

/** Lowercases and drops one trailing dot (the absolute form names the same host). */
const normalizeDns = (name: string): string => (name.endsWith(".") ? name.slice(0, -1) : name).toLowerCase()

/**
 * Classifies the name a client connects to: an IP literal, or a DNS name
 * (normalized). `undefined` for anything that is neither (empty labels,
 * wildcards, characters outside letters, digits, '-' and '_').
 */
export const parseServerName = (serverName: string): ServerIdentity | undefined => {
  const address = parseIpAddress(serverName)
  if (address !== undefined) return { kind: "ip", address }
  const name = normalizeDns(serverName)
  if (name.length === 0 || name.length > 253) return undefined
  for (const label of name.split(".")) if (!DNS_LABEL.test(label)) return undefined
  return { kind: "dns", name }
}

/**
 * Whether a subjectAltName dNSName `pattern` matches the normalized DNS
 * `name` (RFC 6125 §6.4.1, §6.4.3): case-insensitive; a wildcard only as the
 * whole leftmost label, standing for exactly one non-empty label, and only
 * with at least two labels after it, so `*.com` never matches. (Without a
 * public suffix list, multi-label public suffixes like `co.uk` are not known.)
 */
export const dnsPatternMatches = (pattern: string, name: string): boolean => {
  const p = normalizeDns(pattern)
  if (p.length === 0) return false
  if (!p.startsWith("*.")) return !p.includes("*") && p === name
  const base = p.slice(2)
  if (base.includes("*") || !base.includes(".") || base.split(".").some((label) => label === "")) return false
  const dot = name.indexOf(".")
  return dot > 0 && name.slice(dot + 1) === base
}


/**
 * RFC 6125 §6: whether the certificate's subjectAltName presents `identity`.
 * DNS names match dNSName entries only, IP addresses iPAddress entries only
 * (same family, byte for byte); the subject Common Name is never consulted.
 */
export const matchesServerIdentity = (subjectAltName: Extensions["subjectAltName"], identity: ServerIdentity): boolean => {
  if (subjectAltName === undefined) return false
  if (identity.kind === "ip") return subjectAltName.ipAddresses.some((a) => bytesEqual(a, identity.address))
  return subjectAltName.dnsNames.some((pattern) => dnsPatternMatches(pattern, identity.name))
}

/**
 * Whether DNS name `name` lies in the subtree `constraint` (RFC 5280
 * §4.2.1.10): the constraint itself or any name made by adding labels on the
 * left. A leading '.' (a common extension, as for URIs) means subdomains
 * only; the empty constraint covers every name.
 */
export const dnsWithinSubtree = (name: string, constraint: string): boolean => {
  const n = normalizeDns(name)
  const c = normalizeDns(constraint)
  if (c.length === 0) return true
  if (c.startsWith(".")) return n.endsWith(c) && n.length > c.length
  return n === c || n.endsWith(`.${c}`)
}

/** Whether the wildcard pattern `*.base` could match some name inside `constraint` (an excluded subtree one label below base). */
const wildcardReaches = (pattern: string, constraint: string): boolean => {
  const p = normalizeDns(pattern)
  if (!p.startsWith("*.")) return false
  const base = p.slice(2)
  let c = normalizeDns(constraint)
  if (c.startsWith(".")) c = c.slice(1)
  if (!c.endsWith(`.${base}`)) return false
  const label = c.slice(0, c.length - base.length - 1)
  return label.length > 0 && !label.includes(".")
}

/** Whether `address` lies in an iPAddress subtree (same family; address and constraint agree under the mask). */
export const ipWithinSubtree = (address: Uint8Array, subtree: IpSubtree): boolean => {
  if (address.length !== subtree.address.length) return false
  for (let i = 0; i < address.length; i++) {
    const mask = subtree.mask[i]!
    if ((address[i]! & mask) !== (subtree.address[i]! & mask)) return false
  }
  return true
}

const formatIp = (address: Uint8Array): string => {
  if (address.length === 4) return Array.from(address).join(".")
  const groups: Array<string> = []
  for (let i = 0; i < address.length; i += 2) groups.push(((address[i]! << 8) | address[i + 1]!).toString(16))
  return groups.join(":")
}

/**
 * Checks DNS names and IP addresses against one certificate's name
 * constraints. Names of a form are confined to the permitted subtrees of
 * that form when there are any, and must avoid every excluded subtree.
 * Returns a description of the first violation, or `undefined`.
 */
export const nameConstraintViolation = (
  constraints: NameConstraints,
  dnsNames: ReadonlyArray<string>,
  ipAddresses: ReadonlyArray<Uint8Array>
): string | undefined => {
  const { permitted, excluded } = constraints
  for (const name of dnsNames) {
    if (permitted !== undefined && permitted.dnsNames.length > 0 && !permitted.dnsNames.some((c) => dnsWithinSubtree(name, c))) {
      return `DNS name ${name} is outside the permitted subtrees`
    }
    const hit = excluded?.dnsNames.find((c) => dnsWithinSubtree(name, c) || wildcardReaches(name, c))
    if (hit !== undefined) return `DNS name ${name} is in the excluded subtree ${hit}`
  }
  for (const address of ipAddresses) {
    if (permitted !== undefined && permitted.ipAddresses.length > 0 && !permitted.ipAddresses.some((s) => ipWithinSubtree(address, s))) {
      return `IP address ${formatIp(address)} is outside the permitted subtrees`
    }
    if (excluded?.ipAddresses.some((s) => ipWithinSubtree(address, s))) {
      return `IP address ${formatIp(address)} is in an excluded subtree`
    }
  }
  return undefined
}
