/**
 * The interop runner's test cases (../shared/spec/interop-endpoint.md) and
 * what each asks of our client and our server. The runner sometimes hands
 * an endpoint a case's alias (multiplexing runs as `transfer`, handshakeloss
 * as `multiconnect`, longrtt as `handshake`), so both names are known here.
 */

/** How the client spreads its requests over connections. */
export type ClientPlan =
  /** Every request on one connection, each on its own stream, all at once. */
  | "together"
  /** The first request on one connection, the rest on a second that resumes its session. */
  | "resume"
  /** As `resume`, with the second connection's requests sent as 0-RTT data. */
  | "zeroRtt"
  /** One connection per request, one after another. */
  | "oneEach"

export interface CaseSettings {
  readonly plan: ClientPlan
  /** The client starts a key update as soon as the handshake is confirmed (RFC 9001 §6). */
  readonly keyUpdate: boolean
  /** Both sides offer only TLS_CHACHA20_POLY1305_SHA256. */
  readonly chacha20Only: boolean
  /** The server validates addresses with Retry (RFC 9000 §8.1.2). */
  readonly retry: boolean
  /** The server prefers QUIC v2 when the client offers it (RFC 9368, RFC 9369). */
  readonly preferV2: boolean
  /** The server accepts 0-RTT data. */
  readonly earlyData: boolean
  /** The server offers a preferred_address, which our client moves to once the handshake is confirmed (RFC 9000 §9.6). */
  readonly preferredAddress: boolean
}

const base: CaseSettings = {
  plan: "together",
  keyUpdate: false,
  chacha20Only: false,
  retry: false,
  preferV2: false,
  earlyData: false,
  preferredAddress: false
}

const cases: Record<string, CaseSettings> = {
  handshake: base,
  transfer: base,
  longrtt: base,
  chacha20: { ...base, chacha20Only: true },
  multiplexing: base,
  retry: { ...base, retry: true },
  resumption: { ...base, plan: "resume" },
  zerortt: { ...base, plan: "zeroRtt", earlyData: true },
  blackhole: base,
  keyupdate: { ...base, keyUpdate: true },
  amplificationlimit: base,
  handshakeloss: { ...base, plan: "oneEach" },
  multiconnect: { ...base, plan: "oneEach" },
  transferloss: base,
  handshakecorruption: { ...base, plan: "oneEach" },
  transfercorruption: base,
  ipv6: base,
  v2: { ...base, preferV2: true },
  "rebind-port": base,
  "rebind-addr": base,
  connectionmigration: { ...base, preferredAddress: true }
}

/**
 * The cipher suites both of our endpoints offer in a case. Outside the
 * chacha20 case, AES-128-GCM leads, unlike the library's default: the
 * runner checks 0-RTT with Wireshark, whose 0-RTT decryption tries
 * AES-128-GCM first and keeps it when the tag then fails, so ChaCha20-Poly1305
 * 0-RTT packets are invisible to the zerortt case's check.
 */
export const interopCipherSuites = (settings: CaseSettings): ReadonlyArray<"aes128gcm" | "aes256gcm" | "chacha20"> =>
  settings.chacha20Only ? ["chacha20"] : ["aes128gcm", "aes256gcm", "chacha20"]

/** The endpoint contract's exit status for a case it does not play. */
export const EXIT_UNSUPPORTED = 127

/**
 * Cases we cannot play, each with the reason. The endpoint exits 127 for
 * them, as the runner expects of an unsupported case.
 */
export const UNSUPPORTED: Record<string, string> = {
  http3: "HTTP/3 is not implemented",
  ecn: "node:dgram can neither set nor read the ECN bits of a datagram"
}

export type CaseLookup =
  | { readonly _tag: "Supported"; readonly settings: CaseSettings }
  | { readonly _tag: "Unsupported"; readonly reason: string }

export const lookupCase = (name: string): CaseLookup => {
  const settings = Object.hasOwn(cases, name) ? cases[name] : undefined
  if (settings !== undefined) return { _tag: "Supported", settings }
  return { _tag: "Unsupported", reason: Object.hasOwn(UNSUPPORTED, name) ? UNSUPPORTED[name]! : `unknown test case "${name}"` }
}
