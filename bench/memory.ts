/**
 * Memory per idle connection: one client process (bench/idleConnections.ts,
 * our public API) opens COUNT connections to a server process and keeps them
 * idle. Our server (bench/idleServer.ts) reports its heap after a full GC
 * before and after; for quic-go, the growth of the server's resident set
 * (VmRSS) is what can be read from outside.
 */
import { fileURLToPath } from "node:url"
import { hungReport, reportFlags } from "../interop/diagnose.js"
import { freePort, procRssBytes, type Proc, scratchDir, sleep, start, waitForUdpPort } from "./harness.js"
import { available, serverCommand, type Stack, type Stacks } from "./peers.js"

export interface MemoryRow {
  readonly server: Stack
  readonly skipped?: string
  readonly error?: string
  readonly requested: number
  readonly connections?: number
  /** How long the client took to open them (COUNT handshakes, `concurrency` at a time). */
  readonly connectSeconds?: number
  readonly heapBytesPerConnection?: number
  readonly rssBytesPerConnection?: number
  readonly clientHeapBytesPerConnection?: number
  readonly raw?: Record<string, unknown>
}

export interface MemoryOptions {
  readonly count: number
  readonly concurrency: number
  /** No new connection after this many seconds: fewer than `count` may be open. */
  readonly budgetSeconds: number
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url))

interface HeapLine {
  readonly heapUsed: number
  readonly rss: number
  readonly connections?: number
}

/** Connections per client endpoint (see bench/idleConnections.ts). */
export const PER_ENDPOINT = 250

/** quic-go's idle timeout is 30 s: PINGs every 20 s keep its connections. */
export const QUICGO_KEEPALIVE_MILLIS = 20_000

interface ClientLine {
  readonly connected: number
  readonly failed: number
  readonly seconds: number
  readonly heapBefore: HeapLine
  readonly heapAfter: HeapLine
}

const startClient = (port: number, o: MemoryOptions, keepAliveMillis: number): Proc =>
  start("idle client", process.execPath, [
    ...reportFlags(scratchDir()), "--expose-gc", "--import", "tsx", here("./idleConnections.ts"),
    `127.0.0.1:${port}`, String(o.count), String(o.concurrency), String(keepAliveMillis), String(PER_ENDPOINT), String(o.budgetSeconds)
  ], { stdin: true })

/** The client's report once its connections are open; a client that never gets there is asked what it is doing. */
const connected = async (client: Proc, o: MemoryOptions): Promise<ClientLine> => {
  try {
    return JSON.parse(await client.waitForLine(/"connected"/, (o.budgetSeconds + 120) * 1000)) as ClientLine
  } catch (e) {
    if (client.exitCode !== undefined) throw e
    throw new Error(`${e instanceof Error ? e.message : String(e)}; ${await hungReport(client.pid, () => client.stderr, scratchDir())}`)
  }
}

const perConnection = (before: number | undefined, after: number | undefined, n: number): number | undefined =>
  before === undefined || after === undefined || n <= 0 ? undefined : (after - before) / n

const ours = async (stacks: Stacks, o: MemoryOptions): Promise<MemoryRow> => {
  let server: Proc | undefined
  let client: Proc | undefined
  try {
    server = start("idle server", process.execPath, ["--expose-gc", "--import", "tsx", here("./idleServer.ts"), stacks.identity.cert, stacks.identity.key], { stdin: true })
    const { port } = JSON.parse(await server.waitForLine(/"port"/, 60_000)) as { port: number }
    await sleep(500)
    const mem = async (): Promise<HeapLine> => {
      const next = server!.nextLine(/"heapUsed"/, 60_000)
      server!.write("mem\n")
      return JSON.parse(await next) as HeapLine
    }
    const before = await mem()
    client = startClient(port, o, 0)
    const opened = { line: await connected(client, o) }
    await sleep(2000)
    const after = await mem()
    const n = after.connections ?? opened.line.connected
    const heap = perConnection(before.heapUsed, after.heapUsed, n)
    const rss = perConnection(before.rss, after.rss, n)
    const clientHeap = perConnection(opened.line.heapBefore.heapUsed, opened.line.heapAfter.heapUsed, opened.line.connected)
    return {
      server: "effect-quic",
      requested: o.count,
      connections: n,
      connectSeconds: opened.line.seconds,
      ...(heap === undefined ? {} : { heapBytesPerConnection: heap }),
      ...(rss === undefined ? {} : { rssBytesPerConnection: rss }),
      ...(clientHeap === undefined ? {} : { clientHeapBytesPerConnection: clientHeap }),
      raw: { serverBefore: before, serverAfter: after, client: opened.line }
    }
  } catch (e) {
    return { server: "effect-quic", requested: o.count, error: e instanceof Error ? e.message : String(e) }
  } finally {
    await client?.stop()
    await server?.stop()
  }
}

const quicgo = async (stacks: Stacks, o: MemoryOptions): Promise<MemoryRow> => {
  let server: Proc | undefined
  let client: Proc | undefined
  try {
    const port = await freePort()
    const cmd = serverCommand(stacks, "quic-go", port)
    server = start("quic-go server", cmd.command, cmd.args)
    await waitForUdpPort(server, port)
    await sleep(500)
    const before = procRssBytes(server.pid)
    client = startClient(port, o, QUICGO_KEEPALIVE_MILLIS)
    const opened = { line: await connected(client, o) }
    await sleep(2000)
    const after = procRssBytes(server.pid)
    const rss = perConnection(before, after, opened.line.connected)
    const clientHeap = perConnection(opened.line.heapBefore.heapUsed, opened.line.heapAfter.heapUsed, opened.line.connected)
    return {
      server: "quic-go",
      requested: o.count,
      connections: opened.line.connected,
      connectSeconds: opened.line.seconds,
      ...(rss === undefined ? {} : { rssBytesPerConnection: rss }),
      ...(clientHeap === undefined ? {} : { clientHeapBytesPerConnection: clientHeap }),
      raw: { serverRssBefore: before, serverRssAfter: after, client: opened.line }
    }
  } catch (e) {
    return { server: "quic-go", requested: o.count, error: e instanceof Error ? e.message : String(e) }
  } finally {
    await client?.stop()
    await server?.stop()
  }
}

export const benchMemory = async (stacks: Stacks, o: MemoryOptions): Promise<Array<MemoryRow>> => {
  const rows: Array<MemoryRow> = []
  rows.push(await ours(stacks, o))
  const go = available(stacks, "quic-go")
  rows.push(go.ok ? await quicgo(stacks, o) : { server: "quic-go", requested: o.count, skipped: go.reason })
  return rows
}
