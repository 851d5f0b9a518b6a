/**
 * The `quic-interop` command: the endpoint contract of the QUIC interop
 * runner (../shared/spec/interop-endpoint.md). The role, the test case and
 * the requests come from the environment; flags relocate the fixed paths.
 * Exit status: 0 when done, 1 on any failure, 127 for a case we do not play.
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { describeFailure } from "../perf/failure.js"
import { keyLogPath } from "../perf/keyLog.js"
import { EXIT_UNSUPPORTED, lookupCase } from "./cases.js"
import { runClient } from "./client.js"
import { runServer } from "./server.js"

const env = (name: string): string | undefined => {
  const value = process.env[name]
  return value === undefined || value === "" ? undefined : value
}

const fail = (message: string, status: number) =>
  Console.error(`quic-interop: ${message}`).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = status))))

export const quicInterop = Command.make("quic-interop", {
  www: Options.directory("www").pipe(Options.withDefault("/www"), Options.withDescription("server: the folder to serve")),
  downloads: Options.directory("downloads").pipe(Options.withDefault("/downloads"), Options.withDescription("client: where files go")),
  certs: Options.directory("certs").pipe(Options.withDefault("/certs"), Options.withDescription("server: cert.pem and priv.key")),
  port: Options.integer("port").pipe(Options.withDefault(443), Options.withDescription("server: UDP port")),
  listen: Options.text("listen").pipe(Options.withDefault("::"), Options.withDescription("server: address to listen on")),
  preferredPort: Options.integer("preferred-port").pipe(
    Options.withDefault(0),
    Options.withDescription("server, connectionmigration: the preferred address's port (0: a free one)")
  ),
  ca: Options.file("ca", { exists: "yes" }).pipe(
    Options.optional,
    Options.withDescription("client: verify the server against these CAs (by default it is not verified)")
  )
}, (flags) =>
  Effect.gen(function*() {
    const role = env("ROLE")
    const testCase = env("TESTCASE")
    if (role !== "server" && role !== "client") return yield* fail(`ROLE must be "server" or "client", got "${role ?? ""}"`, 1)
    if (testCase === undefined) return yield* fail("TESTCASE is not set", 1)
    const found = lookupCase(testCase)
    if (found._tag === "Unsupported") return yield* fail(`${testCase}: not supported (${found.reason})`, EXIT_UNSUPPORTED)
    const common = { settings: found.settings, keyLog: keyLogPath(undefined), qlogDir: env("QLOGDIR") }
    const run = role === "server"
      ? runServer({ ...common, www: flags.www, certs: flags.certs, listen: flags.listen, port: flags.port, preferredPort: flags.preferredPort })
      : runClient({
        ...common,
        requests: (env("REQUESTS") ?? "").split(/\s+/).filter((url) => url !== ""),
        downloads: flags.downloads,
        ca: Option.getOrUndefined(flags.ca)
      })
    yield* Effect.scoped(run).pipe(Effect.catchAll((error) => fail(describeFailure(error), 1)))
  })).pipe(Command.withDescription("the QUIC interop runner's endpoint (HTTP/0.9, ALPN hq-interop)"))
