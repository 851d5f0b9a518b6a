/**
 * End-to-end benchmarks between separate server and client processes on
 * 127.0.0.1: bulk download (with CPU per GiB), the same with path MTU
 * discovery up to the loopback MTU, many small requests, and handshakes.
 * Rows that share a section run round-robin against long-lived servers, so
 * the machine's noise spreads over every row alike.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { hungReport } from "../interop/diagnose.js"
import { freePort, lastJson, median, procCpuSeconds, type Proc, runTimed, scratchDir, start, tail, type TimedUsage, waitForUdpPort } from "./harness.js"
import { type ClientJob, type ClientReport, clientCommand, type ServerOptions, serverCommand, type Stack, type Stacks, available, parseClientReport } from "./peers.js"

const GiB = 1 << 30

/** The largest UDP payload of one IPv4 datagram (65535 − 20 − 8); the loopback MTU (65536) allows it. */
export const LOOPBACK_MAX_UDP_PAYLOAD = 65507

export const label = (client: Stack, server: Stack): string => `${client} → ${server}`

/** One client process run against a running server. */
export interface Run {
  readonly report?: ClientReport
  readonly error?: string
  /** user+sys seconds of the whole client process (start-up included). */
  readonly clientCpu?: number
  /** user+sys seconds the server used while the client ran. */
  readonly serverCpu?: number
  readonly usage?: TimedUsage
}

/** A server process kept for a section. */
interface Server {
  readonly proc: Proc
  readonly port: number
}

const startServer = async (stacks: Stacks, stack: Stack, options: ServerOptions): Promise<Server> => {
  const port = await freePort()
  const cmd = serverCommand(stacks, stack, port, options)
  const proc = start(`${stack} server`, cmd.command, cmd.args)
  try {
    await waitForUdpPort(proc, port)
  } catch (e) {
    await proc.stop()
    throw e
  }
  return { proc, port }
}

const runClient = async (stacks: Stacks, stack: Stack, server: Server, job: ClientJob, timeoutMillis: number): Promise<Run> => {
  if (server.proc.exitCode !== undefined) return { error: `the server exited (${server.proc.exitCode}): ${tail(server.proc.stderr)}` }
  const cmd = clientCommand(stacks, stack, server.port, job)
  const before = procCpuSeconds(server.proc.pid)
  const out = await runTimed(`${stack} client`, cmd.command, cmd.args, timeoutMillis, {
    ...(stack === "effect-quic" ? { describeHung: (pid: number, stderr: () => string) => hungReport(pid, stderr, scratchDir()) } : {})
  })
  const after = procCpuSeconds(server.proc.pid)
  const serverCpu = before !== undefined && after !== undefined ? after - before : undefined
  const clientCpu = out.usage === undefined ? undefined : out.usage.userSeconds + out.usage.systemSeconds
  const base = {
    ...(out.usage === undefined ? {} : { usage: out.usage }),
    ...(clientCpu === undefined ? {} : { clientCpu }),
    ...(serverCpu === undefined ? {} : { serverCpu })
  }
  // The stdout's tail tells a client that never exited after its report from one that hung before it.
  if (out.timedOut) {
    const report = out.hung === undefined ? "" : `; ${out.hung}`
    return { ...base, error: `timed out after ${timeoutMillis / 1000} s; stdout: ${tail(out.stdout, 300)}; stderr: ${tail(out.stderr, 300)}${report}` }
  }
  const json = lastJson(out.stdout)
  if (json === undefined) return { ...base, error: `exit ${out.code}, no JSON; stderr: ${tail(out.stderr, 300)}` }
  const report = parseClientReport(stack, json, job)
  if (out.code !== 0 || !report.ok) return { ...base, report, error: `exit ${out.code}, ok=${report.ok}, ${report.bytesDown} bytes; stderr: ${tail(out.stderr, 300)}` }
  return { ...base, report }
}

/** A row: one client stack against one server configuration. */
interface Spec {
  readonly name: string
  readonly client: Stack
  readonly server: Stack
  readonly serverKey: string
  readonly serverOptions: ServerOptions
  readonly job: ClientJob
}

interface Row {
  readonly spec: Spec
  readonly skipped?: string
  readonly runs: Array<Run>
  /** A run with a 1-byte download: the client's start-up, handshake and exit. */
  baseline?: Run
}

/**
 * Runs every spec `runs` times, round-robin, against one server process per
 * distinct server configuration; kills the servers at the end.
 */
const runSpecs = async (stacks: Stacks, specs: ReadonlyArray<Spec>, runs: number, timeoutMillis: number, baselines: boolean): Promise<Array<Row>> => {
  const rows: Array<Row> = specs.map((spec) => {
    const reasons = [available(stacks, spec.client), available(stacks, spec.server)].flatMap((a) => (a.ok ? [] : [a.reason]))
    return reasons.length > 0 ? { spec, skipped: [...new Set(reasons)].join("; "), runs: [] } : { spec, runs: [] }
  })
  const servers = new Map<string, Server | { error: string }>()
  try {
    for (const row of rows) {
      if (row.skipped !== undefined || servers.has(row.spec.serverKey)) continue
      try {
        servers.set(row.spec.serverKey, await startServer(stacks, row.spec.server, row.spec.serverOptions))
      } catch (e) {
        servers.set(row.spec.serverKey, { error: String(e instanceof Error ? e.message : e) })
      }
    }
    const serverOf = (row: Row): Server | { error: string } => servers.get(row.spec.serverKey) ?? { error: "no server" }
    if (baselines) {
      for (const row of rows) {
        const server = serverOf(row)
        if (row.skipped !== undefined || "error" in server) continue
        row.baseline = await runClient(stacks, row.spec.client, server, { kind: "download", bytes: 1 }, 60_000)
      }
    }
    for (let i = 0; i < runs; i++) {
      for (const row of rows) {
        if (row.skipped !== undefined) continue
        const server = serverOf(row)
        const run = "error" in server ? { error: `server did not start: ${server.error}` } : await runClient(stacks, row.spec.client, server, row.spec.job, timeoutMillis)
        row.runs.push(run)
        const shown = run.error !== undefined ? `failed: ${run.error.split("\n")[0]}` : describeRun(row.spec.job, run)
        console.error(`  ${row.spec.name} #${i + 1}: ${shown}`)
      }
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => ("proc" in s ? s.proc.stop() : Promise.resolve())))
  }
  return rows
}

const describeRun = (job: ClientJob, run: Run): string => {
  const r = run.report
  if (r === undefined) return "no report"
  switch (job.kind) {
    case "download":
      return `${r.mbps.toFixed(1)} Mbit/s in ${r.seconds.toFixed(2)} s${r.pathMtu === undefined ? "" : `, MTU ${r.pathMtu}`}`
    case "streams":
      return `${(r.requestsPerSecond ?? Number.NaN).toFixed(0)} requests/s`
    case "handshakes":
      return `${(r.handshakesPerSecond ?? Number.NaN).toFixed(1)} handshakes/s`
  }
}

const okRuns = (row: Row): Array<Run & { report: ClientReport }> =>
  row.runs.filter((r): r is Run & { report: ClientReport } => r.error === undefined && r.report !== undefined)

const firstError = (row: Row): string | undefined => row.skipped ?? row.runs.find((r) => r.error !== undefined)?.error

const pairs: ReadonlyArray<readonly [Stack, Stack]> = [
  ["quic-go", "quic-go"],
  ["effect-quic", "effect-quic"],
  ["effect-quic", "quic-go"],
  ["quic-go", "effect-quic"]
]

// ------------------------------------------------------------------ bulk, MTU and CPU

export interface BulkRow {
  readonly name: string
  readonly client: Stack
  readonly server: Stack
  readonly maxUdpPayload?: number
  readonly skipped?: string
  readonly error?: string
  readonly bytes: number
  readonly runs: number
  readonly mbps: ReadonlyArray<number>
  readonly medianMbps?: number
  /** Median Mbit/s over quic-go → quic-go's. */
  ratioToQuicGo?: number
  /** Path MTU the client reported (largest of the runs). */
  readonly pathMtu?: number
  /** Client CPU per GiB, the 1-byte-download baseline (process start-up, handshake, exit) subtracted. */
  readonly clientCpuPerGiB?: number
  readonly clientBaselineCpu?: number
  readonly serverCpuPerGiB?: number
  readonly totalCpuPerGiB?: number
  readonly raw: ReadonlyArray<Record<string, unknown>>
}

export interface BulkOptions {
  readonly bytes: number
  readonly runs: number
  /** Stack pairs at the default payload size. */
  readonly pairs: boolean
  /** effect-quic ↔ effect-quic with path MTU discovery up to the loopback maximum. */
  readonly jumbo: boolean
}

export const benchBulk = async (stacks: Stacks, options: BulkOptions): Promise<Array<BulkRow>> => {
  const job: ClientJob = { kind: "download", bytes: options.bytes }
  const specs: Array<Spec> = []
  const defaults = options.pairs ? pairs : ([["effect-quic", "effect-quic"]] as const)
  for (const [client, server] of defaults) {
    specs.push({ name: label(client, server), client, server, serverKey: server, serverOptions: {}, job })
  }
  if (options.jumbo) {
    specs.push({
      name: `${label("effect-quic", "effect-quic")}, max UDP payload ${LOOPBACK_MAX_UDP_PAYLOAD}`,
      client: "effect-quic",
      server: "effect-quic",
      serverKey: "effect-quic jumbo",
      serverOptions: { maxUdpPayload: LOOPBACK_MAX_UDP_PAYLOAD },
      job: { kind: "download", bytes: options.bytes, maxUdpPayload: LOOPBACK_MAX_UDP_PAYLOAD }
    })
  }
  // at 20 Mbit/s, 100 MiB takes 42 s: allow a slow stack that much and more
  const timeoutMillis = Math.max(60_000, (options.bytes * 8) / 5e6 * 1000)
  const rows = await runSpecs(stacks, specs, options.runs, timeoutMillis, true)
  const out = rows.map((row): BulkRow => {
    const good = okRuns(row)
    const error = firstError(row)
    const mbps = good.map((r) => r.report.mbps)
    const gib = (r: Run & { report: ClientReport }) => r.report.bytesDown / GiB
    const baselineCpu = row.baseline?.error === undefined ? row.baseline?.clientCpu : undefined
    const clientCpuPerGiB = baselineCpu === undefined
      ? undefined
      : median(good.flatMap((r) => (r.clientCpu === undefined ? [] : [Math.max(0, r.clientCpu - baselineCpu) / gib(r)])))
    const serverCpuPerGiB = median(good.flatMap((r) => (r.serverCpu === undefined ? [] : [r.serverCpu / gib(r)])))
    const mtus = good.flatMap((r) => (r.report.pathMtu === undefined ? [] : [r.report.pathMtu]))
    const medianMbps = median(mbps)
    const maxUdpPayload = row.spec.serverOptions.maxUdpPayload
    return {
      name: row.spec.name,
      client: row.spec.client,
      server: row.spec.server,
      ...(maxUdpPayload === undefined ? {} : { maxUdpPayload }),
      ...(row.skipped === undefined ? {} : { skipped: row.skipped }),
      ...(error === undefined || row.skipped !== undefined ? {} : { error }),
      bytes: options.bytes,
      runs: row.runs.length,
      mbps,
      ...(medianMbps === undefined ? {} : { medianMbps }),
      ...(mtus.length === 0 ? {} : { pathMtu: Math.max(...mtus) }),
      ...(clientCpuPerGiB === undefined ? {} : { clientCpuPerGiB }),
      ...(baselineCpu === undefined ? {} : { clientBaselineCpu: baselineCpu }),
      ...(serverCpuPerGiB === undefined ? {} : { serverCpuPerGiB }),
      ...(clientCpuPerGiB === undefined || serverCpuPerGiB === undefined ? {} : { totalCpuPerGiB: clientCpuPerGiB + serverCpuPerGiB }),
      raw: good.map((r) => r.report.raw)
    }
  })
  const reference = out.find((r) => r.client === "quic-go" && r.server === "quic-go" && r.maxUdpPayload === undefined)?.medianMbps
  for (const row of out) if (reference !== undefined && row.medianMbps !== undefined) row.ratioToQuicGo = row.medianMbps / reference
  return out
}

/** What the qlog traces of one short transfer show about the datagram sizes each side reached. */
export interface MtuTrace {
  readonly bytes: number
  readonly maxUdpPayload: number
  /** Largest 1-RTT packet the server sent (a short-header packet fills its datagram once the handshake is over). */
  readonly serverLargestPacket?: number
  readonly clientLargestPacket?: number
  /** The client's own `path_mtu` (its sending direction). */
  readonly clientPathMtu?: number
  readonly mbps?: number
  readonly error?: string
}

const largest1RttPacketSent = (dir: string): number | undefined => {
  let largest: number | undefined
  for (const file of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, file), "utf8").split(/[\n\u001e]/)) {
      if (!line.includes("packet_sent") || !line.includes("1RTT")) continue
      const m = /"raw":\{"length":(\d+)/.exec(line)
      if (m !== null) largest = Math.max(largest ?? 0, Number(m[1]))
    }
  }
  return largest
}

/**
 * A short effect-quic ↔ effect-quic download with qlog on both sides (kept
 * out of the timed runs): the client's --json reports only its own sending
 * path MTU, the server's qlog shows how large the download's packets grew.
 */
export const traceJumboMtu = async (stacks: Stacks, bytes: number, maxUdpPayload: number): Promise<MtuTrace> => {
  const base = { bytes, maxUdpPayload }
  if (!stacks.ours.ok) return { ...base, error: stacks.ours.reason }
  const dir = mkdtempSync(join(scratchDir(), "qlog-"))
  const serverDir = join(dir, "server")
  const clientDir = join(dir, "client")
  mkdirSync(serverDir)
  mkdirSync(clientDir)
  let server: Server | undefined
  try {
    server = await startServer(stacks, "effect-quic", { maxUdpPayload, qlogDir: serverDir })
    const run = await runClient(stacks, "effect-quic", server, { kind: "download", bytes, maxUdpPayload, qlogDir: clientDir }, 120_000)
    await server.proc.stop()
    const serverLargestPacket = largest1RttPacketSent(serverDir)
    const clientLargestPacket = largest1RttPacketSent(clientDir)
    const clientPathMtu = run.report?.pathMtu
    return {
      ...base,
      ...(serverLargestPacket === undefined ? {} : { serverLargestPacket }),
      ...(clientLargestPacket === undefined ? {} : { clientLargestPacket }),
      ...(clientPathMtu === undefined ? {} : { clientPathMtu }),
      ...(run.report === undefined ? {} : { mbps: run.report.mbps }),
      ...(run.error === undefined ? {} : { error: run.error })
    }
  } catch (e) {
    return { ...base, error: e instanceof Error ? e.message : String(e) }
  } finally {
    await server?.proc.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

// ------------------------------------------------------------------ many streams, handshakes

export interface RateRow {
  readonly name: string
  readonly client: Stack
  readonly server: Stack
  readonly skipped?: string
  readonly error?: string
  /** requests/s or handshakes/s (median of the runs). */
  readonly rate?: number
  readonly rates: ReadonlyArray<number>
  ratioToQuicGo?: number
  readonly raw: ReadonlyArray<Record<string, unknown>>
}

const rateRows = async (stacks: Stacks, job: ClientJob, runs: number, timeoutMillis: number, rateOf: (r: ClientReport) => number | undefined): Promise<Array<RateRow>> => {
  const specs = pairs.map(([client, server]): Spec => ({ name: label(client, server), client, server, serverKey: server, serverOptions: { maxStreams: 1000 }, job }))
  const rows = await runSpecs(stacks, specs, runs, timeoutMillis, false)
  const out = rows.map((row): RateRow => {
    const good = okRuns(row)
    const error = firstError(row)
    const rates = good.flatMap((r) => {
      const x = rateOf(r.report)
      return x === undefined ? [] : [x]
    })
    const rate = median(rates)
    return {
      name: row.spec.name,
      client: row.spec.client,
      server: row.spec.server,
      ...(row.skipped === undefined ? {} : { skipped: row.skipped }),
      ...(error === undefined || row.skipped !== undefined ? {} : { error }),
      ...(rate === undefined ? {} : { rate }),
      rates,
      raw: good.map((r) => r.report.raw)
    }
  })
  const reference = out.find((r) => r.client === "quic-go" && r.server === "quic-go")?.rate
  for (const row of out) if (reference !== undefined && row.rate !== undefined) row.ratioToQuicGo = row.rate / reference
  return out
}

export interface StreamsOptions {
  readonly streams: number
  readonly bytes: number
  readonly window: number
  readonly runs: number
}

export const benchStreams = (stacks: Stacks, o: StreamsOptions): Promise<Array<RateRow>> =>
  rateRows(stacks, { kind: "streams", streams: o.streams, bytes: o.bytes, window: o.window }, o.runs, 300_000, (r) => r.requestsPerSecond)

export const benchHandshakes = (stacks: Stacks, count: number, runs: number): Promise<Array<RateRow>> =>
  rateRows(stacks, { kind: "handshakes", count }, runs, 300_000, (r) => r.handshakesPerSecond)
