/**
 * The two stacks under test and how to start them: our `quic-perf` (built
 * into dist/) and the quic-go reference peer (../shared/peers).
 */
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { reportFlags } from "../interop/diagnose.js"
import { scratchDir } from "./harness.js"

export const repoRoot = fileURLToPath(new URL("..", import.meta.url))

export type Stack = "effect-quic" | "quic-go"

/** A client or server command line. */
export interface Command {
  readonly command: string
  readonly args: ReadonlyArray<string>
}

export interface Identity {
  readonly cert: string
  readonly key: string
}

export type Available<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly reason: string }

export interface QuicGo {
  readonly binary: string
  readonly version: string
}

const sh = (command: string, args: ReadonlyArray<string>, timeoutMillis = 60_000) =>
  spawnSync(command, args, { encoding: "utf8", timeout: timeoutMillis, cwd: repoRoot })

/**
 * The quic-go peer: `QUICGO_PEER`, else built (once) into
 * `$TMPDIR/effect-quic-peers` with ../shared/peers/build-quicgo.sh, as `.ci/run` does.
 */
export const findQuicGo = (): Available<QuicGo> => {
  const version = (() => {
    const out = sh("dpkg-query", ["-W", "-f", "${Version}", "golang-github-lucas-clemente-quic-go-dev"])
    return out.status === 0 && out.stdout.trim() !== "" ? `quic-go ${out.stdout.trim()} (Debian)` : "quic-go (version unknown)"
  })
  const fromEnv = process.env.QUICGO_PEER
  if (fromEnv !== undefined && fromEnv !== "") {
    return existsSync(fromEnv)
      ? { ok: true, value: { binary: fromEnv, version: version() } }
      : { ok: false, reason: `QUICGO_PEER=${fromEnv} does not exist` }
  }
  const dir = join(process.env.TMPDIR ?? tmpdir(), "effect-quic-peers")
  const binary = join(dir, "quicgo-peer")
  if (!existsSync(binary)) {
    const script = join(repoRoot, "..", "shared", "peers", "build-quicgo.sh")
    if (!existsSync(script)) return { ok: false, reason: `QUICGO_PEER is unset and ${script} is missing` }
    console.error(`building the quic-go peer into ${dir} …`)
    const out = sh("bash", [script, dir], 600_000)
    if (out.status !== 0 || !existsSync(binary)) {
      return { ok: false, reason: `QUICGO_PEER is unset and building it failed: ${(out.stderr ?? "").trim().slice(-300)}` }
    }
  }
  return { ok: true, value: { binary, version: version() } }
}

/** The peer's self-signed localhost certificate when there is one, else a fresh one made with openssl. */
export const findIdentity = (quicgo: Available<QuicGo>): Identity => {
  if (quicgo.ok) {
    const dir = dirname(quicgo.value.binary)
    const cert = join(dir, "cert.pem")
    const key = join(dir, "key.pem")
    if (existsSync(cert) && existsSync(key)) return { cert, key }
  }
  const dir = scratchDir()
  const cert = join(dir, "cert.pem")
  const key = join(dir, "key.pem")
  const out = sh("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"
  ])
  if (out.status !== 0) throw new Error(`openssl could not make a certificate: ${out.stderr}`)
  return { cert, key }
}

export interface QuicPerf {
  readonly script: string
  /** Whether `npm run build` succeeded just now (false: an older dist/ is used). */
  readonly fresh: boolean
  readonly note?: string
  /** Whether `quic-perf client` accepts `--max-udp-payload`. */
  readonly clientMaxUdpPayload: boolean
}

const newestMtime = (dir: string): number => {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs)
  }
  return newest
}

/** Builds dist/ (`npm run build`) and finds `dist/bin/quic-perf.js`. */
export const findQuicPerf = (): Available<QuicPerf> => {
  const script = join(repoRoot, "dist", "bin", "quic-perf.js")
  console.error("npm run build …")
  const build = sh("npm", ["run", "build", "--silent"], 300_000)
  const fresh = build.status === 0
  if (!existsSync(script)) {
    return {
      ok: false,
      reason: fresh ? "dist/bin/quic-perf.js does not exist (no src/bin/quic-perf.ts yet)" : `npm run build failed and there is no dist/bin/quic-perf.js: ${(build.stdout + build.stderr).trim().slice(-300)}`
    }
  }
  let note: string | undefined
  if (!fresh) {
    const stale = newestMtime(join(repoRoot, "src")) > statSync(script).mtimeMs
    note = `npm run build failed; using the existing dist/${stale ? " (older than src/)" : ""}: ${(build.stdout + build.stderr).trim().split("\n").slice(-3).join(" | ")}`
    console.error(`warning: ${note}`)
  }
  const help = spawnSync(process.execPath, [script, "client", "--help"], { encoding: "utf8", timeout: 30_000 })
  const clientMaxUdpPayload = /max-udp-payload/.test((help.stdout ?? "") + (help.stderr ?? ""))
  return { ok: true, value: note === undefined ? { script, fresh, clientMaxUdpPayload } : { script, fresh, note, clientMaxUdpPayload } }
}

export interface Stacks {
  readonly quicgo: Available<QuicGo>
  readonly ours: Available<QuicPerf>
  readonly identity: Identity
}

export const available = (stacks: Stacks, stack: Stack): Available<null> => {
  const a = stack === "quic-go" ? stacks.quicgo : stacks.ours
  return a.ok ? { ok: true, value: null } : a
}

export interface ServerOptions {
  /** Our `--max-udp-payload`. */
  readonly maxUdpPayload?: number
  /** quic-go's `--max-streams`. */
  readonly maxStreams?: number
  /** Our `--qlog DIR`. */
  readonly qlogDir?: string
}

export const serverCommand = (stacks: Stacks, stack: Stack, port: number, options: ServerOptions = {}): Command => {
  const { cert, key } = stacks.identity
  if (stack === "quic-go") {
    if (!stacks.quicgo.ok) throw new Error(stacks.quicgo.reason)
    const args = ["server", "--addr", `127.0.0.1:${port}`, "--cert", cert, "--key", key, "--alpn", "perf"]
    if (options.maxStreams !== undefined) args.push("--max-streams", String(options.maxStreams))
    return { command: stacks.quicgo.value.binary, args }
  }
  if (!stacks.ours.ok) throw new Error(stacks.ours.reason)
  const args = [stacks.ours.value.script, "server", "--listen", `127.0.0.1:${port}`, "--cert", cert, "--key", key]
  if (options.maxUdpPayload !== undefined) args.push("--max-udp-payload", String(options.maxUdpPayload))
  if (options.qlogDir !== undefined) args.push("--qlog", options.qlogDir)
  return { command: process.execPath, args }
}

/** What a client run should do. */
export type ClientJob =
  | { readonly kind: "download"; readonly bytes: number; readonly maxUdpPayload?: number; readonly qlogDir?: string }
  | { readonly kind: "streams"; readonly streams: number; readonly bytes: number; readonly window: number }
  | { readonly kind: "handshakes"; readonly count: number }

export const clientCommand = (stacks: Stacks, stack: Stack, port: number, job: ClientJob): Command => {
  const addr = `127.0.0.1:${port}`
  if (stack === "quic-go") {
    if (!stacks.quicgo.ok) throw new Error(stacks.quicgo.reason)
    const binary = stacks.quicgo.value.binary
    switch (job.kind) {
      case "download":
        return { command: binary, args: ["client", "--addr", addr, "--download", String(job.bytes), "--upload", "0", "--streams", "1", "--insecure"] }
      case "streams":
        return {
          command: binary,
          args: ["client", "--addr", addr, "--download", String(job.bytes), "--upload", "0", "--streams", String(job.streams), "--parallel", "--window", String(job.window), "--insecure"]
        }
      case "handshakes":
        return { command: binary, args: ["handshakes", "--addr", addr, "--count", String(job.count), "--insecure"] }
    }
  }
  if (!stacks.ours.ok) throw new Error(stacks.ours.reason)
  // A client that hangs can be asked for a Node.js report (bench/e2e.ts).
  const base = [...reportFlags(scratchDir()), stacks.ours.value.script, "client", "--connect", addr, "--insecure", "--json"]
  switch (job.kind) {
    case "download": {
      const args = [...base, "--download", String(job.bytes), "--upload", "0"]
      if (job.maxUdpPayload !== undefined && stacks.ours.value.clientMaxUdpPayload) args.push("--max-udp-payload", String(job.maxUdpPayload))
      if (job.qlogDir !== undefined) args.push("--qlog", job.qlogDir)
      return { command: process.execPath, args }
    }
    case "streams":
      return { command: process.execPath, args: [...base, "--download", String(job.bytes), "--upload", "0", "--streams", String(job.streams), "--parallel", String(job.window)] }
    case "handshakes":
      // Connect and close, as quic-go's `handshakes` does.
      return { command: process.execPath, args: [...base, "--handshakes", String(job.count), "--handshake-only"] }
  }
}

/** One client run's JSON, in common terms. */
export interface ClientReport {
  readonly ok: boolean
  readonly bytesDown: number
  readonly seconds: number
  readonly mbps: number
  readonly handshakeMs: number | undefined
  readonly handshakesPerSecond: number | undefined
  readonly requestsPerSecond: number | undefined
  /** The path MTU (largest UDP payload) the client reports, when it reports one. */
  readonly pathMtu: number | undefined
  readonly raw: Record<string, unknown>
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined)

/** Finds a number under a key that looks like a path MTU, anywhere in the JSON. */
const findMtu = (v: unknown, depth = 0): number | undefined => {
  if (depth > 4 || typeof v !== "object" || v === null) return undefined
  for (const [k, x] of Object.entries(v)) {
    if (/mtu|max_?udp_?payload/i.test(k) && num(x) !== undefined) return num(x)
  }
  for (const x of Object.values(v)) {
    const m = findMtu(x, depth + 1)
    if (m !== undefined) return m
  }
  return undefined
}

export const parseClientReport = (stack: Stack, json: Record<string, unknown>, job: ClientJob): ClientReport => {
  const bytesDown = num(stack === "quic-go" ? json.down_bytes : json.bytes_down) ?? 0
  const seconds = num(json.seconds) ?? Number.NaN
  const requestsPerSecond = job.kind === "streams"
    ? (num(json.streams_per_s) ?? (seconds > 0 ? job.streams / seconds : undefined))
    : undefined
  const handshakesPerSecond = num(json.handshakes_per_s) ?? (job.kind === "handshakes" && seconds > 0 ? job.count / seconds : undefined)
  const ok = stack === "quic-go" ? true : json.ok === true
  const expected = job.kind === "download" ? job.bytes : job.kind === "streams" ? job.bytes * job.streams : undefined
  return {
    ok: ok && (expected === undefined || bytesDown === expected),
    bytesDown,
    seconds,
    // computed the same way for both stacks: payload bits over the transfer time
    mbps: seconds > 0 ? (bytesDown * 8) / seconds / 1e6 : Number.NaN,
    handshakeMs: num(json.handshake_ms),
    handshakesPerSecond: job.kind === "handshakes" ? handshakesPerSecond : undefined,
    requestsPerSecond,
    pathMtu: findMtu(json),
    raw: json
  }
}
