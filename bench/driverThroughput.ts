/**
 * Bulk throughput of the Effect driver over real sockets on 127.0.0.1, with
 * server and client in separate processes (the perf protocol of
 * ../shared/spec/perf-protocol.md, ALPN "perf", one stream, N bytes down).
 *
 *   npx tsx bench/driverThroughput.ts [--bytes 100M] [--pairs effect,core,quicgo,...] [--runs 1]
 *                                     [--prof server|client|both] [--prof-dir DIR] [--udp-payload BYTES]
 *
 * `--prof` writes a V8 CPU profile of the transfer alone (from the request to
 * the last byte, not start-up or handshake) for the processes running our
 * code, as DIR/<role>-<impl>-<time>.cpuprofile. `--udp-payload` sets our
 * endpoints' transport.maxUdpPayloadSize (PMTU discovery's ceiling; the
 * default is 1452, like quic-go's).
 *
 * Pairs (server-client): effect-effect (the public Effect API on both sides),
 * core-core (the bare sans-IO core over node:dgram, test/interop/udpDriver.ts),
 * quicgo-quicgo, quicgo-effect, effect-quicgo, quicgo-core. The quic-go peer is
 * /tmp/quic-peers/quicgo-peer or $QUICGO_PEER (build it with
 * ../shared/peers/build-quicgo.sh /tmp/quic-peers).
 *
 * Never part of `npm test`.
 */
import { type ChildProcess, fork, spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { Session } from "node:inspector"
import { fileURLToPath } from "node:url"
import { Effect, Option, Stream } from "effect"
import * as Endpoint from "../src/Endpoint.js"
import * as NodeCrypto from "../src/NodeCrypto.js"
import * as NodeUdpSocket from "../src/NodeUdpSocket.js"
import type { EndpointConfigInput } from "../src/QuicConfig.js"
import type { QuicStream } from "../src/Stream.js"
import { UdpSocket } from "../src/UdpSocket.js"

const MB = 1 << 20
const peer = process.env.QUICGO_PEER ?? "/tmp/quic-peers/quicgo-peer"
const peerDir = dirname(peer)
const certFile = join(peerDir, "cert.pem")
const keyFile = join(peerDir, "key.pem")
const socketBuffers = 4 << 20
const CHUNK = 64 * 1024

const verbose = process.env.BENCH_VERBOSE !== undefined
const brief = (s: unknown) => {
  if (s === undefined) return "no stats"
  const { frames: _frames, ...rest } = s as Record<string, unknown>
  return JSON.stringify(rest)
}

/** Profiles the transfer itself when the orchestrator asked for it (BENCH_PROFILE names the output file). */
const profiler = (() => {
  const file = process.env.BENCH_PROFILE
  let session: Session | undefined
  let stopping: Promise<void> | undefined
  const post = (method: string) =>
    new Promise<unknown>((resolve, reject) => session!.post(method, (error, result) => (error ? reject(error) : resolve(result))))
  return {
    start: async () => {
      if (file === undefined || session !== undefined) return
      session = new Session()
      session.connect()
      await post("Profiler.enable")
      await post("Profiler.start")
    },
    stop: () => {
      if (file === undefined || session === undefined) return Promise.resolve()
      stopping ??= (async () => {
        const { profile } = (await post("Profiler.stop")) as { profile: unknown }
        const { mkdirSync, writeFileSync } = await import("node:fs")
        mkdirSync(dirname(file), { recursive: true })
        writeFileSync(file, JSON.stringify(profile))
        session!.disconnect()
      })()
      return stopping
    }
  }
})()

const self = fileURLToPath(import.meta.url)

const parseSize = (text: string): number => {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(text)
  if (m === null) throw new Error(`not a size: ${text}`)
  const unit = { "": 1, k: 1024, m: MB, g: 1024 * MB }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"]
  return Math.round(Number(m[1]) * unit)
}

interface Result {
  readonly bytes: number
  readonly seconds: number
  readonly mbps: number
  /** CPU seconds (user + system) the client process used during the transfer, when known. */
  readonly cpu?: number | undefined
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); undefined elsewhere. */
const cpuOf = (pid: number | undefined): number | undefined => {
  if (pid === undefined) return undefined
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ")
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command.
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return undefined
  }
}

// --- the Effect API roles -----------------------------------------------------

/** Set by the orchestrator's --udp-payload. */
const transport = process.env.BENCH_UDP_PAYLOAD === undefined ? {} : { transport: { maxUdpPayloadSize: Number(process.env.BENCH_UDP_PAYLOAD) } }

const effectServerConfig = (): EndpointConfigInput => ({
  server: { certificate: readFileSync(certFile, "utf8"), privateKey: readFileSync(keyFile, "utf8"), alpn: ["perf"] },
  ...transport
})

const effectClientConfig = (): EndpointConfigInput => ({ client: { alpn: ["perf"], insecure: true }, ...transport })

const socketOptions = (port: number) =>
  ({ address: "127.0.0.1", port, type: "udp4", recvBufferSize: socketBuffers, sendBufferSize: socketBuffers }) as const

const pattern = (() => {
  const out = new Uint8Array(CHUNK + 256)
  for (let i = 0; i < out.length; i++) out[i] = i & 0xff
  return out
})()

/** Serves one perf request on `stream`: read the 8-byte N and the upload to FIN, answer N bytes and FIN. */
const servePerfStream = (stream: QuicStream) =>
  Effect.gen(function*() {
    yield* Effect.promise(profiler.start)
    const header = new Uint8Array(8)
    let have = 0
    for (;;) {
      const chunk = yield* stream.read()
      if (Option.isNone(chunk)) break
      const take = Math.min(8 - have, chunk.value.length)
      if (take > 0) header.set(chunk.value.subarray(0, take), have)
      have += take
    }
    if (have < 8) return yield* stream.reset(1)
    let remaining = Number(new DataView(header.buffer).getBigUint64(0))
    let offset = 0
    while (remaining > 0) {
      const n = Math.min(CHUNK, remaining)
      const start = offset & 0xff
      yield* stream.write(pattern.subarray(start, start + n))
      remaining -= n
      offset += n
    }
    yield* stream.finish
    yield* stream.acknowledged.pipe(Effect.timeout("10 seconds"), Effect.ignore)
    yield* Effect.promise(profiler.stop)
  })

const effectServer = Effect.gen(function*() {
  const socket = yield* NodeUdpSocket.make(socketOptions(0))
  const endpoint = yield* Endpoint.make(effectServerConfig()).pipe(Effect.provideService(UdpSocket, socket))
  const { port } = yield* socket.localAddress
  process.send!({ listening: port })
  yield* endpoint.incoming.pipe(
    Stream.runForEach((connection) =>
      connection.incomingStreams.pipe(
        Stream.runForEach((stream) =>
          servePerfStream(stream).pipe(
            Effect.ignore,
            Effect.andThen(verbose ? Effect.flatMap(connection.stats, (s) => Effect.sync(() => console.error("server", brief(s)))) : Effect.void),
            Effect.fork
          )
        ),
        Effect.ignore,
        Effect.fork
      )
    )
  )
}).pipe(Effect.scoped, Effect.provide(NodeCrypto.layer))

const effectClient = (port: number, bytes: number) =>
  Effect.gen(function*() {
    const socket = yield* NodeUdpSocket.make(socketOptions(0))
    const endpoint = yield* Endpoint.make(effectClientConfig()).pipe(Effect.provideService(UdpSocket, socket))
    const connection = yield* endpoint.connect({ address: "127.0.0.1", port }, { serverName: "localhost" })
    yield* Effect.promise(profiler.start)
    const start = performance.now()
    const cpuStart = process.cpuUsage()
    const stream = yield* connection.openBi
    const header = new Uint8Array(8)
    new DataView(header.buffer).setBigUint64(0, BigInt(bytes))
    yield* stream.write(header)
    yield* stream.finish
    let received = 0
    for (;;) {
      const chunk = yield* stream.read()
      if (Option.isNone(chunk)) break
      received += chunk.value.length
    }
    const seconds = (performance.now() - start) / 1000
    const used = process.cpuUsage(cpuStart)
    yield* Effect.promise(profiler.stop)
    if (received !== bytes) throw new Error(`received ${received} bytes, wanted ${bytes}`)
    if (verbose) console.error("client", brief(yield* connection.stats))
    yield* connection.close(0, "done")
    yield* Effect.sleep("20 millis")
    return { bytes: received, seconds, mbps: (received * 8) / seconds / 1e6, cpu: (used.user + used.system) / 1e6 } satisfies Result
  }).pipe(Effect.scoped, Effect.provide(NodeCrypto.layer))

// --- the bare core roles (test/interop/udpDriver.ts) ---------------------------

const coreConfig = async (input: EndpointConfigInput) => {
  const { resolveConfig } = await import("../src/internal/driver/resolveConfig.js")
  const { makeNodeCryptoBackend } = await import("../src/platform/nodeCrypto.js")
  const { core } = await Effect.runPromise(resolveConfig(input, makeNodeCryptoBackend()))
  // UdpDriver's clock is performance.now(), not the Unix epoch.
  return { ...core, unixMillis: () => Date.now() }
}

const coreServer = async () => {
  const { UdpDriver } = await import("../test/interop/udpDriver.js")
  const { servePerf } = await import("../test/interop/perf.js")
  const config = await coreConfig(effectServerConfig())
  const driver = await UdpDriver.open(() => config)
  servePerf(driver)
  process.send!({ listening: driver.port })
}

const coreClient = async (port: number, bytes: number): Promise<Result> => {
  const { UdpDriver } = await import("../test/interop/udpDriver.js")
  const { runPerfClient } = await import("../test/interop/perf.js")
  const config = await coreConfig(effectClientConfig())
  const driver = await UdpDriver.open(() => config)
  let start = 0
  let cpuStart = process.cpuUsage()
  const result = await runPerfClient(driver, {
    server: { address: "127.0.0.1", port },
    serverName: "localhost",
    download: bytes,
    upload: 0,
    streams: 1,
    window: 1,
    onConnected: () => {
      start = performance.now()
      cpuStart = process.cpuUsage()
    }
  })
  const seconds = (performance.now() - start) / 1000
  const used = process.cpuUsage(cpuStart)
  await new Promise((r) => setTimeout(r, 20))
  await driver.close()
  return { bytes: result.bytesDown, seconds, mbps: (result.bytesDown * 8) / seconds / 1e6, cpu: (used.user + used.system) / 1e6 }
}

// --- orchestration --------------------------------------------------------------

type Impl = "effect" | "core" | "quicgo"

interface Server {
  readonly port: number
  readonly pid: number | undefined
  stop(): Promise<void>
}

const profEnv = (role: "server" | "client", impl: Impl, prof: string | undefined, dir: string): NodeJS.ProcessEnv =>
  prof === role || prof === "both"
    ? { ...process.env, BENCH_PROFILE: join(dir, `${role}-${impl}-${Date.now()}.cpuprofile`) }
    : process.env

const exited = (child: ChildProcess) => new Promise<void>((resolve) => child.exitCode !== null ? resolve() : child.once("exit", () => resolve()))

const startServer = (impl: Impl, prof: string | undefined, profDir: string): Promise<Server> =>
  new Promise((resolve, reject) => {
    if (impl === "quicgo") {
      const port = 20000 + Math.floor(Math.random() * 20000)
      const child = spawn(peer, ["server", "--addr", `127.0.0.1:${port}`, "--cert", certFile, "--key", keyFile], { stdio: ["ignore", "ignore", "pipe"] })
      let err = ""
      child.stderr!.on("data", (d: Buffer) => {
        err += d.toString()
        if (err.includes("listening")) resolve({ port, pid: child.pid, stop: async () => void (child.kill("SIGTERM"), await exited(child)) })
      })
      child.once("exit", (code) => reject(new Error(`quicgo server exited ${code}: ${err}`)))
      return
    }
    const child = fork(self, [`${impl}-server`], { env: profEnv("server", impl, prof, profDir) })
    child.once("message", (m: { listening: number }) =>
      resolve({
        port: m.listening,
        pid: child.pid,
        stop: async () => {
          child.kill("SIGINT")
          await exited(child)
        }
      }))
    child.once("exit", (code) => reject(new Error(`${impl} server exited ${code}`)))
  })

const runClient = (impl: Impl, port: number, bytes: number, prof: string | undefined, profDir: string): Promise<Result> =>
  new Promise((resolve, reject) => {
    if (impl === "quicgo") {
      const child = spawn(peer, ["client", "--addr", `127.0.0.1:${port}`, "--download", String(bytes), "--upload", "0", "--streams", "1", "--insecure"], {
        stdio: ["ignore", "pipe", "pipe"]
      })
      let out = ""
      let err = ""
      let cpu: number | undefined
      const poll = setInterval(() => (cpu = cpuOf(child.pid) ?? cpu), 50)
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString()
        cpu = cpuOf(child.pid) ?? cpu
      })
      child.stderr!.on("data", (d: Buffer) => (err += d.toString()))
      child.once("exit", (code) => {
        clearInterval(poll)
        if (code !== 0) return reject(new Error(`quicgo client exited ${code}: ${err}`))
        const json = JSON.parse(out.trim().split("\n").pop()!)
        resolve({ bytes: json.down_bytes, seconds: json.seconds, mbps: json.mbps, cpu })
      })
      return
    }
    const child = fork(self, [`${impl}-client`, String(port), String(bytes)], { env: profEnv("client", impl, prof, profDir) })
    let result: Result | undefined
    child.on("message", (m: { result?: Result; error?: string }) => {
      if (m.result !== undefined) result = m.result
      if (m.error !== undefined) reject(new Error(m.error))
    })
    child.once("exit", (code) => (result !== undefined ? resolve(result) : reject(new Error(`${impl} client exited ${code}`))))
  })

const orchestrate = async (args: ReadonlyArray<string>) => {
  const flag = (name: string) => {
    const i = args.indexOf(`--${name}`)
    return i >= 0 ? args[i + 1] : undefined
  }
  const bytes = parseSize(flag("bytes") ?? "100M")
  const runs = Number(flag("runs") ?? "1")
  const prof = flag("prof")
  const profDir = flag("prof-dir") ?? "/tmp/effect-quic-prof"
  const timeout = Number(flag("timeout") ?? "120") * 1000
  const udpPayload = flag("udp-payload")
  if (udpPayload !== undefined) process.env.BENCH_UDP_PAYLOAD = udpPayload
  const pairs = (flag("pairs") ?? "quicgo-quicgo,core-core,effect-effect,quicgo-effect,effect-quicgo")
    .split(",")
    .map((p) => p.replace(/^effect$/, "effect-effect").replace(/^core$/, "core-core").replace(/^quicgo$/, "quicgo-quicgo"))
  if (pairs.some((p) => p.includes("quicgo")) && !existsSync(peer)) {
    console.error(`no quic-go peer at ${peer}: run bash ../shared/peers/build-quicgo.sh ${peerDir}`)
    process.exit(2)
  }
  console.log(`# ${new Date().toISOString()} node ${process.version}, ${(bytes / MB).toFixed(0)} MiB download on one stream, 127.0.0.1`)
  const rows: Array<{ pair: string; run: number; seconds: string; mbps: string; "server cpu s": string; "client cpu s": string }> = []
  for (let run = 1; run <= runs; run++) {
    for (const pair of pairs) {
      const [serverImpl, clientImpl] = pair.split("-") as [Impl, Impl]
      const server = await startServer(serverImpl, prof, profDir)
      try {
        const serverCpuStart = cpuOf(server.pid)
        const result = await Promise.race([
          runClient(clientImpl, server.port, bytes, prof, profDir),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timed out")), timeout).unref())
        ])
        const serverCpuEnd = cpuOf(server.pid)
        // The server's figure includes its share of the handshake; the client's (ours) starts after it.
        const serverCpu = serverCpuStart === undefined || serverCpuEnd === undefined ? "?" : (serverCpuEnd - serverCpuStart).toFixed(2)
        const clientCpu = result.cpu === undefined ? "?" : result.cpu.toFixed(2)
        rows.push({
          pair: `${serverImpl} server → ${clientImpl} client`,
          run,
          seconds: result.seconds.toFixed(2),
          mbps: result.mbps.toFixed(1),
          "server cpu s": serverCpu,
          "client cpu s": clientCpu
        })
        console.log(`${pair}\trun ${run}\t${result.seconds.toFixed(2)} s\t${result.mbps.toFixed(1)} Mbit/s\tcpu server ${serverCpu} s, client ${clientCpu} s`)
      } catch (error) {
        console.log(`${pair}\trun ${run}\tfailed: ${error instanceof Error ? error.message : String(error)}`)
      } finally {
        await server.stop()
      }
    }
  }
  console.table(rows)
}

const role = process.argv[2]
const report = (promise: Promise<Result>) =>
  promise.then(
    (result) => process.send!({ result }, () => process.exit(0)),
    (error) => process.send!({ error: String(error?.stack ?? error) }, () => process.exit(1))
  )
// A server being profiled writes its profile before it goes.
const quit = () => void profiler.stop().finally(() => process.exit(0))

switch (role) {
  case "effect-server":
    process.on("SIGINT", quit)
    void Effect.runPromise(effectServer)
    break
  case "core-server":
    process.on("SIGINT", quit)
    void coreServer()
    break
  case "effect-client":
    void report(Effect.runPromise(effectClient(Number(process.argv[3]), Number(process.argv[4]))))
    break
  case "core-client":
    void report(coreClient(Number(process.argv[3]), Number(process.argv[4])))
    break
  default:
    void orchestrate(process.argv.slice(2))
}
