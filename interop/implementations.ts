/**
 * The endpoints the runner pairs: ours (`quic-interop`, built into dist/)
 * and the quic-go reference peer (../shared/peers/README.md), which speaks
 * `hq-interop` as a server (`GET /N` returns N zero bytes) and the perf
 * protocol as a client.
 */
import { join } from "node:path"
import { repoRoot } from "../bench/peers.js"

export type Implementation = "effect-quic" | "quic-go"

export interface Pair {
  readonly client: Implementation
  readonly server: Implementation
}

export const pairName = (pair: Pair): string => `${pair.client} → ${pair.server}`

export const PAIRS: ReadonlyArray<Pair> = [
  { client: "effect-quic", server: "effect-quic" },
  { client: "effect-quic", server: "quic-go" },
  { client: "quic-go", server: "effect-quic" }
]

export const QUIC_INTEROP = join(repoRoot, "dist", "bin", "quic-interop.js")
export const QUIC_NETEM = join(repoRoot, "dist", "bin", "quic-netem.js")

/** Cases the quic-go peer cannot play in a role, and why. */
const quicGoCannot: Record<"client" | "server", Record<string, string>> = {
  server: {
    retry: "the peer server has no Retry switch",
    zerortt: "the peer server listens without 0-RTT",
    // Measured here: 3 × 1252 = 3756 bytes for the client's 1200 (it checks the limit before a packet, not after).
    amplificationlimit: "quic-go 0.29's server exceeds 3× before address validation (3756 bytes for 1200)",
    v2: "quic-go 0.29 predates RFC 9369",
    connectionmigration: "the peer server offers no preferred_address",
    // Measured here: after the relay moves the client to a new port, every datagram still goes to the first one.
    "rebind-port": "quic-go 0.29's server keeps sending to the client's first address after a NAT rebinding",
    "rebind-addr": "quic-go 0.29's server keeps sending to the client's first address after a NAT rebinding"
  },
  client: {
    resumption: "the peer client keeps no session tickets",
    zerortt: "the peer client keeps no session tickets",
    keyupdate: "the peer client never starts a key update",
    v2: "quic-go 0.29 predates RFC 9369",
    connectionmigration: "the peer client does not migrate"
  }
}

/** Why `pair` cannot play `scenario`, or `undefined` when it can. */
export const cannotPlay = (pair: Pair, scenario: string): string | undefined =>
  (pair.server === "quic-go" ? quicGoCannot.server[scenario] : undefined) ??
    (pair.client === "quic-go" ? quicGoCannot.client[scenario] : undefined)
