/**
 * The `quic-perf` command line (../shared/spec/perf-protocol.md): `server`,
 * `client`, and `demo`, which runs both on 127.0.0.1.
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { CipherSuiteName } from "../QuicConfig.js"
import { type ClientOptions, runClient } from "./client.js"
import { runDemo } from "./demo.js"
import { describeFailure, PerfError } from "./failure.js"
import { PERF_ALPN } from "./protocol.js"
import { failedJson, toJson, toSummary } from "./report.js"
import { runServer } from "./server.js"
import { parseSize } from "./size.js"

const sizeFlag = (name: string, fallback: string, description: string) =>
  Options.text(name).pipe(Options.withDefault(fallback), Options.withDescription(description))

const toSize = (flag: string, text: string) => {
  const bytes = parseSize(text)
  return bytes === undefined
    ? Effect.fail(new PerfError({ reason: "Usage", message: `--${flag}: "${text}" is not a size (e.g. 1048576, 64K, 10M, 1G)` }))
    : Effect.succeed(bytes)
}

const positive = (flag: string, n: number, allowZero = false) =>
  Number.isInteger(n) && (allowZero ? n >= 0 : n > 0)
    ? Effect.succeed(n)
    : Effect.fail(new PerfError({ reason: "Usage", message: `--${flag}: expected a ${allowZero ? "non-negative" : "positive"} integer, got ${n}` }))

const transportFlags = {
  maxUdpPayload: Options.integer("max-udp-payload").pipe(
    Options.optional,
    Options.withDescription("upper bound of path MTU discovery, UDP payload bytes (1200–65527)")
  ),
  congestionControl: Options.choice("cc", ["cubic", "newreno"] as const).pipe(Options.withDefault("cubic" as const))
}

const checkPayload = (value: Option.Option<number>) =>
  Option.match(value, {
    onNone: () => Effect.succeed(undefined),
    onSome: (n) =>
      n >= 1200 && n <= 65527 && Number.isInteger(n)
        ? Effect.succeed(n)
        : Effect.fail(new PerfError({ reason: "Usage", message: `--max-udp-payload: expected 1200–65527, got ${n}` }))
  })

const keyLogFlag = Options.file("keylog").pipe(Options.optional, Options.withDescription("append TLS secrets here (NSS key log format)"))
const qlogFlag = Options.directory("qlog").pipe(Options.optional, Options.withDescription("write one qlog file per connection here"))

/** Any failure: one line on stderr, exit status 1. */
const reportFailure = (error: unknown) =>
  Console.error(`quic-perf: ${describeFailure(error)}`).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = 1))))

const server = Command.make("server", {
  listen: Options.text("listen").pipe(Options.withDefault("0.0.0.0:4433"), Options.withDescription("HOST:PORT to listen on")),
  cert: Options.file("cert", { exists: "yes" }).pipe(Options.optional, Options.withDescription("PEM certificate chain")),
  key: Options.file("key", { exists: "yes" }).pipe(Options.optional, Options.withDescription("PEM private key")),
  alpn: Options.text("alpn").pipe(Options.withDefault(PERF_ALPN), Options.withDescription("comma-separated ALPN list")),
  keylog: keyLogFlag,
  qlog: qlogFlag,
  retry: Options.boolean("retry").pipe(Options.withDescription("validate client addresses with Retry")),
  cipher: Options.choice("cipher", CipherSuiteName.literals).pipe(Options.optional, Options.withDescription("the only suite to accept")),
  ...transportFlags
}, (flags) =>
  Effect.gen(function*() {
    yield* runServer({
      listen: flags.listen,
      certificate: Option.getOrUndefined(flags.cert),
      privateKey: Option.getOrUndefined(flags.key),
      alpn: flags.alpn.split(",").map((a) => a.trim()).filter((a) => a !== ""),
      keyLog: Option.getOrUndefined(flags.keylog),
      qlog: Option.getOrUndefined(flags.qlog),
      retry: flags.retry,
      cipher: Option.getOrUndefined(flags.cipher),
      maxUdpPayload: yield* checkPayload(flags.maxUdpPayload),
      congestionControl: flags.congestionControl
    })
  }).pipe(Effect.scoped, Effect.catchAll(reportFailure))).pipe(Command.withDescription("answer perf requests and echo datagrams"))

const clientFlags = {
  connect: Options.text("connect").pipe(Options.withDescription("HOST:PORT of the server")),
  serverName: Options.text("server-name").pipe(Options.optional, Options.withDescription("name to verify (default: the host)")),
  ca: Options.file("ca", { exists: "yes" }).pipe(Options.optional, Options.withDescription("PEM CA certificates to trust")),
  insecure: Options.boolean("insecure").pipe(Options.withDescription("do not verify the server's certificate")),
  download: sizeFlag("download", "0", "bytes to download per request"),
  upload: sizeFlag("upload", "0", "bytes to upload per request"),
  streams: Options.integer("streams").pipe(Options.withDefault(1), Options.withDescription("requests to make")),
  parallel: Options.integer("parallel").pipe(Options.withDefault(1), Options.withDescription("requests in flight at once")),
  handshakes: Options.integer("handshakes").pipe(Options.withDefault(0), Options.withDescription("fresh connections, one after another")),
  handshakeOnly: Options.boolean("handshake-only").pipe(
    Options.withDescription("with --handshakes: connect and close, without the empty request (what quicgo-peer handshakes measures)")
  ),
  datagrams: Options.integer("datagrams").pipe(Options.withDefault(0), Options.withDescription("datagrams to send and count back")),
  cipher: Options.choice("cipher", CipherSuiteName.literals).pipe(Options.optional),
  zeroRtt: Options.boolean("0rtt").pipe(Options.withDescription("resume with 0-RTT after a first connection")),
  verify: Options.boolean("verify").pipe(Options.withDescription("check the i & 0xff response pattern")),
  duration: Options.integer("duration").pipe(Options.optional, Options.withDescription("repeat requests for this many seconds")),
  keyUpdate: Options.boolean("key-update").pipe(Options.withDescription("initiate a key update halfway through")),
  alpn: Options.text("alpn").pipe(Options.withDefault(PERF_ALPN)),
  keylog: keyLogFlag,
  qlog: qlogFlag,
  json: Options.boolean("json").pipe(Options.withDescription("print one JSON line")),
  ...transportFlags
}

const client = Command.make("client", clientFlags, (flags) =>
  Effect.gen(function*() {
    if (Option.isSome(flags.ca) && flags.insecure) {
      return yield* Effect.fail(new PerfError({ reason: "Usage", message: "--ca and --insecure exclude each other" }))
    }
    const options: ClientOptions = {
      connect: flags.connect,
      serverName: Option.getOrUndefined(flags.serverName),
      ca: Option.getOrUndefined(flags.ca),
      insecure: flags.insecure,
      download: yield* toSize("download", flags.download),
      upload: yield* toSize("upload", flags.upload),
      streams: yield* positive("streams", flags.streams),
      parallel: yield* positive("parallel", flags.parallel),
      handshakes: yield* positive("handshakes", flags.handshakes, true),
      handshakeOnly: flags.handshakeOnly,
      datagrams: yield* positive("datagrams", flags.datagrams, true),
      cipher: Option.getOrUndefined(flags.cipher),
      zeroRtt: flags.zeroRtt,
      verify: flags.verify,
      durationSeconds: Option.getOrUndefined(flags.duration),
      keyUpdate: flags.keyUpdate,
      alpn: flags.alpn,
      keyLog: Option.getOrUndefined(flags.keylog),
      qlog: Option.getOrUndefined(flags.qlog),
      showProgress: !flags.json && process.stdout.isTTY === true,
      maxUdpPayload: yield* checkPayload(flags.maxUdpPayload),
      congestionControl: flags.congestionControl
    }
    const report = yield* Effect.scoped(runClient(options))
    yield* Console.log(flags.json ? toJson(report) : toSummary(report))
    if (!report.ok) {
      if (flags.json) yield* Console.error(`quic-perf: ${report.error}`)
      process.exitCode = 1
    }
  }).pipe(
    // With --json, even a run that never connected prints its one JSON line.
    Effect.tapError((error) => flags.json ? Console.log(failedJson(error)) : Effect.void),
    Effect.catchAll(reportFailure)
  )).pipe(Command.withDescription("measure a perf server"))

const demo = Command.make("demo", {
  size: sizeFlag("size", "100M", "bytes to download")
}, (flags) =>
  Effect.gen(function*() {
    yield* runDemo(yield* toSize("size", flags.size))
  }).pipe(Effect.catchAll(reportFailure))).pipe(Command.withDescription("run a server and a client on 127.0.0.1 and move 100 MiB"))

export const quicPerf = Command.make("quic-perf").pipe(
  Command.withDescription("QUIC throughput and handshake measurements (perf protocol, ALPN \"perf\")"),
  Command.withSubcommands([server, client, demo])
)
