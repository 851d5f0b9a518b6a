/**
 * The benchmark driver: `npm run bench -- [section…] [--flag value…]`.
 *
 * Sections (none named: all of them, in this order):
 *   crypto      packet protection, µs per 1200-byte packet, both backends
 *   udp         raw node:dgram ceiling between two processes on 127.0.0.1
 *   bulk        100 MiB download on one stream, every client/server pairing of effect-quic and quic-go
 *   mtu         the same, effect-quic both ends, path MTU discovery up to the loopback maximum
 *   cpu         user+sys CPU seconds per GiB of the bulk runs (runs bulk)
 *   streams     10 000 requests of 1 KiB on one connection, 100 in flight
 *   handshakes  500 sequential connections (connect, close)
 *   memory      10 000 idle connections to one server: bytes per connection
 *
 * Flags: --millis N (crypto, per measurement), --udp-seconds N, --bytes SIZE
 * (bulk, e.g. 100M), --runs N (bulk, streams, handshakes: median of N), --requests N, --window N,
 * --handshakes N, --connections N and --memory-seconds N (memory: open up to
 * N connections, starting none after that many seconds).
 *
 * Servers and clients are separate processes (effect-quic: `node
 * dist/bin/quic-perf.js`, built first with `npm run build`; quic-go: the
 * reference peer from QUICGO_PEER or built into $TMPDIR/effect-quic-peers).
 * Prints markdown tables and writes bench/results.json. Never part of `npm test`.
 */
import { execFileSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { makeNobleCryptoBackend } from "../src/platform/nobleCrypto.js"
import { makeNodeCryptoBackend } from "../src/platform/nodeCrypto.js"
import { benchCrypto } from "./crypto.js"
import { benchBulk, benchHandshakes, benchStreams, type BulkRow, LOOPBACK_MAX_UDP_PAYLOAD, type RateRow, traceJumboMtu } from "./e2e.js"
import { killAll } from "./harness.js"
import { benchMemory, type MemoryRow, PER_ENDPOINT, QUICGO_KEEPALIVE_MILLIS } from "./memory.js"
import { findIdentity, findQuicGo, findQuicPerf, repoRoot, type Stacks } from "./peers.js"
import { benchUdp } from "./udp.js"

const SECTIONS = ["crypto", "udp", "bulk", "mtu", "cpu", "streams", "handshakes", "memory"] as const
type Section = (typeof SECTIONS)[number]

const parseSize = (text: string): number => {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)i?B?$/i.exec(text.trim())
  if (m === null) throw new Error(`not a size: ${text}`)
  const unit = { "": 1, K: 1 << 10, M: 1 << 20, G: 1 << 30 }[m[2]!.toUpperCase() as "" | "K" | "M" | "G"]
  return Math.round(Number(m[1]) * unit)
}

const args = process.argv.slice(2)
const flags = new Map<string, string>()
const selected: Array<Section> = []
for (let i = 0; i < args.length; i++) {
  const a = args[i]!
  if (a.startsWith("--")) {
    const value = args[i + 1]
    if (value === undefined) {
      console.error(`${a} needs a value`)
      process.exit(2)
    }
    flags.set(a.slice(2), value)
    i++
  } else if ((SECTIONS as ReadonlyArray<string>).includes(a)) selected.push(a as Section)
  else {
    console.error(`unknown benchmark "${a}"; known: ${SECTIONS.join(", ")}`)
    process.exit(2)
  }
}
const known = new Set(["millis", "udp-seconds", "bytes", "runs", "requests", "window", "handshakes", "connections", "memory-seconds"])
for (const name of flags.keys()) {
  if (!known.has(name)) {
    console.error(`unknown flag --${name}; known: ${[...known].map((k) => "--" + k).join(", ")}`)
    process.exit(2)
  }
}
const numberFlag = (name: string, fallback: number): number => {
  const v = flags.get(name)
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} must be a positive number`)
    process.exit(2)
  }
  return n
}
const sections = new Set<Section>(selected.length > 0 ? selected : SECTIONS)

const settings = {
  millis: numberFlag("millis", 1000),
  udpSeconds: numberFlag("udp-seconds", 5),
  bytes: parseSize(flags.get("bytes") ?? "100M"),
  runs: numberFlag("runs", 3),
  requests: numberFlag("requests", 10_000),
  requestBytes: 1024,
  window: numberFlag("window", 100),
  handshakes: numberFlag("handshakes", 500),
  connections: numberFlag("connections", 10_000),
  memorySeconds: numberFlag("memory-seconds", 90),
  memoryConcurrency: 32
}

// ------------------------------------------------------------------ formatting

const fmt = (x: number | undefined, digits = 0): string =>
  x === undefined || !Number.isFinite(x) ? "–" : x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
const ratio = (x: number | undefined): string => (x === undefined ? "–" : `${x.toFixed(2)}×`)
const bytesPer = (x: number | undefined): string => (x === undefined ? "–" : x >= 10_240 ? `${fmt(x / 1024, 1)} KiB` : `${fmt(x)} B`)

/** A markdown table, its columns padded so it also reads well on a terminal. */
const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, right: ReadonlyArray<boolean>): string => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length), 3))
  const line = (cells: ReadonlyArray<string>) =>
    "| " + cells.map((c, i) => (right[i] === true ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(" | ") + " |"
  const rule = "| " + widths.map((w, i) => (right[i] === true ? "-".repeat(w - 1) + ":" : "-".repeat(w))).join(" | ") + " |"
  return [line(headers), rule, ...rows.map(line)].join("\n")
}

const printed: Array<string> = []
const print = (title: string, body: string, notes: ReadonlyArray<string> = []) => {
  const text = [`### ${title}`, body, ...notes].join("\n\n")
  printed.push(text)
  console.log("\n" + text + "\n")
}

const problems = (rows: ReadonlyArray<{ name?: string; server?: string; skipped?: string; error?: string }>): Array<string> =>
  rows.flatMap((r) => {
    const who = r.name ?? r.server ?? ""
    if (r.skipped !== undefined) return [`- ${who}: skipped: ${r.skipped}`]
    if (r.error !== undefined) return [`- ${who}: failed: ${r.error.replace(/\s+/g, " ").slice(0, 400)}`]
    return []
  })

// ------------------------------------------------------------------ run

const git = (...a: Array<string>): string => {
  try {
    return execFileSync("git", a, { cwd: repoRoot, encoding: "utf8" }).trim()
  } catch {
    return "unknown"
  }
}

const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  node: process.version,
  commit: git("rev-parse", "HEAD"),
  dirty: git("status", "--porcelain", "--untracked-files=no") !== "",
  machine: { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length },
  sections: [...sections],
  settings
}

const writeResults = () => writeFileSync(new URL("./results.json", import.meta.url), JSON.stringify(results, null, 2) + "\n")

const needsStacks = [...sections].some((s) => s !== "crypto" && s !== "udp")

const main = async () => {
  const started = Date.now()
  if (sections.has("crypto")) {
    console.error("crypto …")
    const rows = [makeNodeCryptoBackend(), makeNobleCryptoBackend()].flatMap((backend) => benchCrypto(backend, settings.millis))
    print(
      "Packet protection: µs per 1200-byte 1-RTT packet (seal/open include header protection)",
      table(
        ["backend", "suite", "seal µs", "open µs", "header protection µs"],
        rows.map((r) => [r.backend, r.suite, fmt(r.sealMicros, 2), fmt(r.openMicros, 2), fmt(r.headerProtectionMicros, 2)]),
        [false, false, true, true, true]
      )
    )
    results.crypto = rows
  }

  if (sections.has("udp")) {
    console.error(`udp: ${settings.udpSeconds} s blast …`)
    try {
      const r = await benchUdp(settings.udpSeconds)
      results.udp = r
      print(
        "Raw UDP ceiling: node:dgram, process to process on 127.0.0.1",
        table(
          ["payload", "sender seconds", "sent", "received", "packets/s received", "Gbit/s received", "lost"],
          [[`${r.payloadBytes} B`, fmt(r.seconds, 1), fmt(r.sent), fmt(r.received), fmt(r.packetsPerSecond), fmt(r.gbitPerSecond, 3), `${fmt(r.lossPercent, 1)} %`]],
          [false, true, true, true, true, true, true]
        ),
        ["Payload bits only; 256 sends in flight, 4 MiB socket buffers (capped by net.core.[rw]mem_max)."]
      )
    } catch (e) {
      results.udp = { error: String(e) }
      print("Raw UDP ceiling", `failed: ${String(e)}`)
    }
  }

  if (!needsStacks) return finish(started)

  const quicgo = findQuicGo()
  const ours = findQuicPerf()
  const stacks: Stacks = { quicgo, ours, identity: findIdentity(quicgo) }
  results.quicgo = quicgo.ok ? quicgo.value : { unavailable: quicgo.reason }
  results.quicPerf = ours.ok ? ours.value : { unavailable: ours.reason }
  const stackNotes = [
    ...(quicgo.ok ? [] : [`quic-go rows skipped: ${quicgo.reason}`]),
    ...(ours.ok ? (ours.value.note === undefined ? [] : [ours.value.note]) : [`effect-quic rows skipped: ${ours.reason}`])
  ]
  for (const n of stackNotes) console.error(`note: ${n}`)

  const wantBulk = sections.has("bulk") || sections.has("cpu")
  if (wantBulk || sections.has("mtu")) {
    console.error(`bulk: ${fmt(settings.bytes / (1 << 20))} MiB download, ${settings.runs} runs per row, round-robin …`)
    const rows = await benchBulk(stacks, { bytes: settings.bytes, runs: settings.runs, pairs: wantBulk, jumbo: sections.has("mtu") })
    const normal = rows.filter((r) => r.maxUdpPayload === undefined)
    const jumbo = rows.filter((r) => r.maxUdpPayload !== undefined)
    results.bulk = normal
    if (wantBulk) {
      print(
        `Bulk: ${fmt(settings.bytes / (1 << 20))} MiB download on one stream (Mbit/s, median of ${settings.runs})`,
        table(
          ["client → server", "Mbit/s", "runs (Mbit/s)", "vs quic-go ↔ quic-go"],
          normal.map((r) => [r.name, fmt(r.medianMbps, 1), r.mbps.map((x) => fmt(x, 0)).join(" / ") || "–", ratio(r.ratioToQuicGo)]),
          [false, true, true, true]
        ),
        [
          "Payload bits over the client's transfer time (after the handshake), computed the same way for both stacks.",
          ...problems(normal)
        ]
      )
    }
    if (sections.has("mtu")) {
      console.error(`mtu: a 10 MiB download with qlog on both sides …`)
      const trace = await traceJumboMtu(stacks, 10 << 20, LOOPBACK_MAX_UDP_PAYLOAD)
      results.mtu = { rows: jumbo, trace }
      const base = normal.find((r) => r.client === "effect-quic" && r.server === "effect-quic")
      const clientFlag = ours.ok && ours.value.clientMaxUdpPayload
      print(
        `Bulk with DPLPMTUD up to the loopback maximum (max UDP payload ${LOOPBACK_MAX_UDP_PAYLOAD})`,
        table(
          ["client → server", "max UDP payload", "Mbit/s", "runs (Mbit/s)", "vs default", "server's largest packet (qlog)", "client path_mtu"],
          [
            ...(base === undefined ? [] : [[base.name, "1452 (default)", fmt(base.medianMbps, 1), base.mbps.map((x) => fmt(x, 0)).join(" / ") || "–", "1.00×", "–", fmt(base.pathMtu)]]),
            ...jumbo.map((r) => [
              r.name.replace(/, max UDP payload.*/, ""),
              String(r.maxUdpPayload),
              fmt(r.medianMbps, 1),
              r.mbps.map((x) => fmt(x, 0)).join(" / ") || "–",
              ratio(base?.medianMbps !== undefined && r.medianMbps !== undefined ? r.medianMbps / base.medianMbps : undefined),
              trace.serverLargestPacket === undefined ? "–" : `${fmt(trace.serverLargestPacket)} B`,
              r.pathMtu === undefined ? "not reported" : fmt(r.pathMtu)
            ])
          ],
          [false, true, true, true, true, true, true]
        ),
        [
          `\`quic-perf server --max-udp-payload ${LOOPBACK_MAX_UDP_PAYLOAD}\`${clientFlag ? ` and \`quic-perf client --max-udp-payload ${LOOPBACK_MAX_UDP_PAYLOAD}\`` : " (the client has no such flag)"}; ${LOOPBACK_MAX_UDP_PAYLOAD} = 65535 − 20 (IPv4) − 8 (UDP), the most one IPv4 datagram carries.`,
          "The client's `path_mtu` (--json) is its own sending direction, which carries only ACKs in a download; the server's MTU is not in the client's output, so a separate 10 MiB run with `--qlog` on both sides (not timed) reads the largest 1-RTT packet the server sent" +
            (trace.error === undefined
              ? `: ${trace.serverLargestPacket === undefined ? "none found" : `${fmt(trace.serverLargestPacket)} bytes`} (client's largest ${trace.clientLargestPacket === undefined ? "–" : fmt(trace.clientLargestPacket)}, client path_mtu ${fmt(trace.clientPathMtu)}).`
              : `; that run failed: ${trace.error.slice(0, 300)}`),
          ...problems(jumbo)
        ]
      )
    }
    if (sections.has("cpu")) {
      const cpuRows = rows.filter((r) => r.totalCpuPerGiB !== undefined || r.serverCpuPerGiB !== undefined || r.clientCpuPerGiB !== undefined)
      results.cpu = rows.map((r) => ({
        name: r.name,
        clientCpuPerGiB: r.clientCpuPerGiB,
        serverCpuPerGiB: r.serverCpuPerGiB,
        totalCpuPerGiB: r.totalCpuPerGiB,
        clientBaselineCpu: r.clientBaselineCpu
      }))
      print(
        "CPU: user+sys seconds per GiB downloaded (median of the bulk runs)",
        table(
          ["client → server", "client s/GiB", "server s/GiB", "total s/GiB", "client start-up s (subtracted)"],
          cpuRows.map((r: BulkRow) => [r.name, fmt(r.clientCpuPerGiB, 2), fmt(r.serverCpuPerGiB, 2), fmt(r.totalCpuPerGiB, 2), fmt(r.clientBaselineCpu, 2)]),
          [false, true, true, true, true]
        ),
        [
          "Server: /proc/PID/stat utime+stime of the running server across the client's run. Client: /usr/bin/time of the whole client process, minus a run that downloads 1 byte (start-up, handshake, exit)."
        ]
      )
    }
  }

  const rateTable = (title: string, unit: string, rows: ReadonlyArray<RateRow>, notes: ReadonlyArray<string>) =>
    print(
      title,
      table(
        ["client → server", unit, "runs", "vs quic-go ↔ quic-go"],
        rows.map((r) => [r.name, fmt(r.rate, 0), r.rates.map((x) => fmt(x, 0)).join(" / "), ratio(r.ratioToQuicGo)]),
        [false, true, true, true]
      ),
      [...notes, ...problems(rows)]
    )

  if (sections.has("streams")) {
    console.error(`streams: ${settings.requests} requests of ${settings.requestBytes} B, ${settings.window} in flight …`)
    const rows = await benchStreams(stacks, { streams: settings.requests, bytes: settings.requestBytes, window: settings.window, runs: settings.runs })
    results.streams = rows
    rateTable(`Many streams: ${fmt(settings.requests)} requests of 1 KiB on one connection (median of ${settings.runs})`, "requests/s", rows, [
      `Each request is one bidirectional stream (8-byte request, ${settings.requestBytes}-byte response); ${settings.window} in flight (quic-go \`--parallel --window ${settings.window}\`, quic-perf \`--parallel ${settings.window}\`).`
    ])
  }

  if (sections.has("handshakes")) {
    console.error(`handshakes: ${settings.handshakes} sequential connections …`)
    const rows = await benchHandshakes(stacks, settings.handshakes, settings.runs)
    results.handshakes = rows
    rateTable(`Handshakes: ${fmt(settings.handshakes)} sequential connections (median of ${settings.runs})`, "handshakes/s", rows, [
      "quic-go: `handshakes`; quic-perf: `--handshakes --handshake-only`: both connect and close, with no request."
    ])
  }

  if (sections.has("memory")) {
    console.error(`memory: up to ${settings.connections} idle connections per server, opened for at most ${settings.memorySeconds} s …`)
    const rows: Array<MemoryRow> = await benchMemory(stacks, {
      count: settings.connections,
      concurrency: settings.memoryConcurrency,
      budgetSeconds: settings.memorySeconds
    })
    results.memory = rows
    print(
      `Memory: idle connections to one server (up to ${fmt(settings.connections)}, opened for at most ${fmt(settings.memorySeconds)} s)`,
      table(
        ["server", "connections", "server heap / conn", "server RSS / conn", "client heap / conn", "time to open"],
        rows.map((r) => [
          r.server,
          fmt(r.connections),
          bytesPer(r.heapBytesPerConnection),
          bytesPer(r.rssBytesPerConnection),
          bytesPer(r.clientHeapBytesPerConnection),
          r.connectSeconds === undefined ? "–" : `${fmt(r.connectSeconds, 0)} s`
        ]),
        [false, true, true, true, true, true]
      ),
      [
        `Client: bench/idleConnections.ts (our public API, endpoints of at most ${PER_ENDPOINT} connections, ${settings.memoryConcurrency} handshakes at a time, no new one after ${fmt(settings.memorySeconds)} s). effect-quic server: bench/idleServer.ts (public API), \`heapUsed\` after a full GC before and after, divided by the server's connection count. quic-go server: growth of its VmRSS (/proc/PID/status; Go's heap is not visible from outside; the client sends keep-alive PINGs every ${QUICGO_KEEPALIVE_MILLIS / 1000} s against quic-go's 30 s idle timeout).`,
        ...problems(rows)
      ]
    )
  }
  finish(started, stackNotes)
}

const finish = (started: number, notes: ReadonlyArray<string> = []) => {
  results.seconds = (Date.now() - started) / 1000
  results.notes = notes
  writeResults()
  const header = `${results.date as string}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, commit ${(results.commit as string).slice(0, 10)}${results.dirty === true ? " (with uncommitted changes)" : ""}`
  const quicgo = results.quicgo as { version?: string } | undefined
  console.log(`${header}${quicgo?.version === undefined ? "" : `, ${quicgo.version}`}; ${fmt(results.seconds as number)} s`)
  for (const n of notes) console.log(`note: ${n}`)
  console.log("raw figures: bench/results.json")
}

main()
  .catch((e) => {
    console.error(e)
    results.error = String(e)
    writeResults()
    process.exitCode = 1
  })
  .finally(() => {
    killAll()
    // a stray handle (a socket of a child's pipe) must not keep the bench alive
    setTimeout(() => process.exit(), 200).unref()
  })
