/**
 * The `quic-netem` command line: a UDP relay between a QUIC client and
 * server that delays, limits, loses, corrupts and rebinds their datagrams.
 *
 * @since 0.1.0
 */
import { Command, Options } from "@effect/cli"
import { Console, Duration, Effect, Option } from "effect"
import { addressKey } from "../internal/address.js"
import { NetemError } from "./error.js"
import { type FaultFlags, toRelayOptions } from "./flags.js"
import * as Relay from "./relay.js"

const number = (name: string, fallback: number, description: string) =>
  Options.float(name).pipe(Options.withDefault(fallback), Options.withDescription(description))
const integer = (name: string, fallback: number, description: string) =>
  Options.integer(name).pipe(Options.withDefault(fallback), Options.withDescription(description))
const optionalInteger = (name: string, description: string) =>
  Options.integer(name).pipe(Options.optional, Options.withDescription(description))
const list = (name: string, description: string) => Options.text(name).pipe(Options.optional, Options.withDescription(description))

const flags = {
  listen: Options.text("listen").pipe(Options.withDescription("client-facing HOST:PORT (port 0: ephemeral)")),
  server: Options.text("server").pipe(Options.withDescription("HOST:PORT of the server to forward to")),
  delay: number("delay", 0, "one-way delay, ms"),
  jitter: number("jitter", 0, "uniform ±jitter on the delay, ms (never below 0)"),
  bandwidth: number("bandwidth", 0, "serialization rate per direction, Mbit/s (0: unlimited)"),
  queue: integer("queue", 25, "datagrams the bandwidth queue holds; more are dropped"),
  loss: number("loss", 0, "random loss, percent"),
  lossBurst: optionalInteger("loss-burst", "most datagrams lost in a row; the next one passes (default: no limit)"),
  corrupt: number("corrupt", 0, "random corruption (one byte among the first 51 changed; never Version Negotiation), percent"),
  corruptBurst: optionalInteger("corrupt-burst", "most datagrams corrupted in a row; the next one passes (default: no limit)"),
  blackholeOpen: optionalInteger("blackhole-open", "blackhole cycle: ms open (from the start)"),
  blackholeDropped: optionalInteger("blackhole-dropped", "blackhole cycle: ms dropping everything"),
  dropToServer: list("drop-to-server", "1-based indices of client datagrams to drop, e.g. 2-7 or 1,3,5-6"),
  dropToClient: list("drop-to-client", "1-based indices of server datagrams to drop"),
  rebindPort: optionalInteger("rebind-port", "every so many ms, move each server-facing socket to a new port"),
  rebindAddr: optionalInteger("rebind-addr", "every so many ms, move each server-facing socket to a new 127.0.0.x address"),
  firstRebind: optionalInteger("first-rebind", "the first move that many ms after a client's first datagram (default: the interval)"),
  seed: integer("seed", 1, "PRNG seed"),
  log: Options.file("log").pipe(Options.optional, Options.withDescription("write one JSON line per datagram here")),
  maxSeconds: number("max-seconds", 600, "exit after this many seconds")
}

/** Any failure: one line on stderr; status 2 for bad flags, 1 otherwise. */
const reportFailure = (error: NetemError) =>
  Console.error(`quic-netem: ${error.message}`).pipe(
    Effect.zipRight(Effect.sync(() => (process.exitCode = error.reason === "Usage" ? 2 : 1)))
  )

const run = (parsed: FaultFlags & { readonly maxSeconds: number }) =>
  Effect.gen(function*() {
    if (!(parsed.maxSeconds > 0)) {
      return yield* Effect.fail(new NetemError({ reason: "Usage", message: `--max-seconds: expected a positive number, got ${parsed.maxSeconds}` }))
    }
    const relay = yield* Relay.make(yield* toRelayOptions(parsed))
    yield* Console.log(`quic-netem listening on ${addressKey(relay.listenAddress)}`)
    yield* Effect.sleep(Duration.seconds(parsed.maxSeconds))
  }).pipe(Effect.scoped, Effect.catchAll(reportFailure))

/**
 * @since 0.1.0
 * @category commands
 */
export const quicNetem = Command.make("quic-netem", flags, (f) =>
  run({
    ...f,
    lossBurst: Option.getOrUndefined(f.lossBurst),
    corruptBurst: Option.getOrUndefined(f.corruptBurst),
    blackholeOpen: Option.getOrUndefined(f.blackholeOpen),
    blackholeDropped: Option.getOrUndefined(f.blackholeDropped),
    dropToServer: Option.getOrUndefined(f.dropToServer),
    dropToClient: Option.getOrUndefined(f.dropToClient),
    rebindPort: Option.getOrUndefined(f.rebindPort),
    rebindAddr: Option.getOrUndefined(f.rebindAddr),
    firstRebind: Option.getOrUndefined(f.firstRebind),
    log: Option.getOrUndefined(f.log)
  })).pipe(Command.withDescription("a UDP relay that emulates delay, bandwidth, loss, corruption, blackholes and NAT rebinding"))
