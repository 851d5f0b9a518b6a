/**
 * The interop runner's cases as this runner plays them: what each endpoint
 * is told (TESTCASE), the network between them (quic-netem flags), the
 * files, and what the packets must show. The default network is the
 * runner's: 15 ms each way, 10 Mbit/s, a 25-packet queue.
 */
import type { CheckName } from "./checks.js"

export interface Scenario {
  readonly name: string
  /** TESTCASE for the server and for the client (the runner hands some cases an alias). */
  readonly serverCase: string
  readonly clientCase: string
  /** Sizes of the files to download, in bytes; `fast` is the smaller set CI runs. */
  readonly files: (fast: boolean) => ReadonlyArray<number>
  readonly netem: ReadonlyArray<string>
  /** Certificates in the server's chain. */
  readonly chainLength: number
  readonly ipv6: boolean
  /** The handshakes the packets must show (one per connection the case opens). */
  readonly handshakes: (files: number) => number
  readonly checks: ReadonlyArray<CheckName>
  /** The client must be done within this many seconds (`fast`: with the smaller file set). */
  readonly timeoutSeconds: (fast: boolean) => number
}

const KiB = 1024
const MiB = 1024 * KiB

const DEFAULT_LINK = ["--delay", "15", "--bandwidth", "10", "--queue", "25"]

const one = () => 1
const eachFile = (files: number) => files

const scenario = (name: string, options: Partial<Scenario>): Scenario => ({
  name,
  serverCase: name,
  clientCase: name,
  files: () => [KiB],
  netem: DEFAULT_LINK,
  chainLength: 1,
  ipv6: false,
  handshakes: one,
  checks: [],
  timeoutSeconds: () => 60,
  ...options
})

/** One connection per 1 KiB file, each handshake under `faults` (the runner's 50; CI's 10). */
const manyHandshakes = (name: string, faults: ReadonlyArray<string>): Scenario =>
  scenario(name, {
    serverCase: "multiconnect",
    clientCase: "multiconnect",
    files: (fast) => Array.from({ length: fast ? 10 : 50 }, () => KiB),
    netem: [...DEFAULT_LINK, ...faults],
    handshakes: eachFile,
    // 12 s for each connection: quic-go gives up a handshake after 10 s.
    timeoutSeconds: (fast) => (fast ? 10 : 50) * 12
  })

/** A 2 MiB transfer under `faults`. */
const transferUnder = (name: string, faults: ReadonlyArray<string>): Scenario =>
  scenario(name, { serverCase: "transfer", clientCase: "transfer", files: () => [2 * MiB], netem: [...DEFAULT_LINK, ...faults], timeoutSeconds: () => 120 })

/** The runner's NAT: the first rebinding 1 s into the client's connection, then repeatedly (`--rebind-port` or `--rebind-addr`). */
const rebinding = (name: string, flag: string): Scenario =>
  scenario(name, {
    serverCase: "transfer",
    clientCase: "transfer",
    files: (fast) => [fast ? 2 * MiB : 5 * MiB],
    netem: [...DEFAULT_LINK, "--first-rebind", "1000", flag, "700"],
    checks: ["pathValidated"],
    timeoutSeconds: () => 120
  })

export const scenarios: ReadonlyArray<Scenario> = [
  scenario("handshake", { checks: ["noRetry"] }),
  scenario("transfer", {
    files: (fast) => fast ? [256 * KiB, 512 * KiB, MiB] : [2 * MiB, 3 * MiB, 5 * MiB],
    checks: ["flowControlGrows", "closedWithZero"]
  }),
  scenario("longrtt", {
    clientCase: "handshake",
    netem: ["--delay", "750", "--bandwidth", "10", "--queue", "25"],
    checks: ["initialRetransmitted"],
    timeoutSeconds: () => 90
  }),
  scenario("chacha20", { files: () => [256 * KiB], checks: ["chacha20"] }),
  scenario("multiplexing", {
    serverCase: "transfer",
    clientCase: "transfer",
    files: (fast) => Array.from({ length: fast ? 400 : 1999 }, () => 32),
    checks: ["streamLimit"]
  }),
  scenario("retry", { checks: ["retry"] }),
  scenario("resumption", { files: () => [KiB, KiB, KiB], handshakes: () => 2, checks: ["resumed"] }),
  scenario("zerortt", { files: () => [KiB, KiB, KiB, KiB, KiB], handshakes: () => 2, checks: ["zeroRtt"] }),
  scenario("blackhole", {
    serverCase: "transfer",
    clientCase: "transfer",
    files: (fast) => [fast ? 2 * MiB : 10 * MiB],
    // The runner's ns-3 scenario (`blackhole --on=5s --off=2s`): traffic flows for 5 s, then
    // everything is dropped for 2 s; here the cycle repeats for as long as the case runs.
    netem: [...DEFAULT_LINK, "--blackhole-open", "5000", "--blackhole-dropped", "2000"],
    timeoutSeconds: () => 300
  }),
  scenario("keyupdate", { serverCase: "transfer", files: () => [MiB], checks: ["keyUpdate"] }),
  scenario("amplificationlimit", {
    serverCase: "transfer",
    clientCase: "transfer",
    files: () => [5 * KiB],
    chainLength: 9,
    netem: [...DEFAULT_LINK, "--drop-to-server", "2-7"],
    checks: ["amplification"]
  }),
  manyHandshakes("handshakeloss", ["--loss", "30", "--loss-burst", "3"]),
  transferUnder("transferloss", ["--loss", "2"]),
  manyHandshakes("handshakecorruption", ["--corrupt", "30", "--corrupt-burst", "3"]),
  transferUnder("transfercorruption", ["--corrupt", "2"]),
  scenario("ipv6", { serverCase: "transfer", clientCase: "transfer", files: () => [MiB], ipv6: true, checks: ["ipv6"] }),
  scenario("v2", { files: () => [256 * KiB], checks: ["v2"] }),
  rebinding("rebind-port", "--rebind-port"),
  rebinding("rebind-addr", "--rebind-addr"),
  scenario("connectionmigration", { files: () => [MiB], checks: ["migrated"] }),
  scenario("http3", { files: () => [KiB] }),
  scenario("ecn", { files: () => [KiB] })
]

/** The subset `npm test` runs through the runner in CI. */
export const FAST_CASES: ReadonlyArray<string> = [
  "handshake", "transfer", "retry", "resumption", "zerortt", "chacha20", "keyupdate", "v2",
  "transferloss", "handshakecorruption", "amplificationlimit", "rebind-port"
]

export const scenarioByName = (name: string): Scenario | undefined => scenarios.find((s) => s.name === name)
