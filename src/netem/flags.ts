/**
 * quic-netem's flags, checked and turned into {@link RelayOptions}.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { resolveHostPort } from "../perf/hostPort.js"
import { NetemError } from "./error.js"
import type { Faults } from "./faults.js"
import { type IndexList, parseIndexList } from "./indexList.js"
import type { Address, RelayOptions } from "./relay.js"

/**
 * The flags as parsed, before checking.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultFlags {
  readonly listen: string
  readonly server: string
  readonly delay: number
  readonly jitter: number
  readonly bandwidth: number
  readonly queue: number
  readonly loss: number
  /** Most datagrams lost in a row; undefined: no limit. */
  readonly lossBurst: number | undefined
  readonly corrupt: number
  /** Most datagrams corrupted in a row; undefined: no limit. */
  readonly corruptBurst: number | undefined
  readonly blackholeOpen: number | undefined
  readonly blackholeDropped: number | undefined
  readonly dropToServer: string | undefined
  readonly dropToClient: string | undefined
  readonly rebindPort: number | undefined
  readonly rebindAddr: number | undefined
  readonly firstRebind: number | undefined
  readonly seed: number
  readonly log: string | undefined
}

const usage = (message: string) => Effect.fail(new NetemError({ reason: "Usage", message }))

const check = (flag: string, value: number, ok: boolean, expected: string): Effect.Effect<number, NetemError> =>
  ok && Number.isFinite(value) ? Effect.succeed(value) : usage(`--${flag}: expected ${expected}, got ${value}`)

const nonNegative = (flag: string, value: number) => check(flag, value, value >= 0, "a number ≥ 0")
const positiveInteger = (flag: string, value: number) => check(flag, value, Number.isInteger(value) && value >= 1, "an integer ≥ 1")
const percent = (flag: string, value: number) => check(flag, value, value >= 0 && value <= 100, "a percentage 0–100")
/** A run limit: an integer ≥ 1, or Infinity (no limit) when the flag is absent. */
const maxRun = (flag: string, value: number | undefined) =>
  value === undefined ? Effect.succeed(Infinity) : positiveInteger(flag, value)
const interval = (flag: string, value: number | undefined) =>
  value === undefined ? Effect.succeed(undefined) : positiveInteger(flag, value)

const indices = (flag: string, text: string | undefined): Effect.Effect<IndexList, NetemError> => {
  if (text === undefined) return Effect.succeed([])
  const parsed = parseIndexList(text)
  return parsed === undefined ? usage(`--${flag}: expected 1-based indices like 2-7 or 1,3,5-6, got "${text}"`) : Effect.succeed(parsed)
}

const address = (flag: string, text: string): Effect.Effect<Address, NetemError> =>
  resolveHostPort(`--${flag}`, text).pipe(
    Effect.map(({ address, family, port }) => ({ address, port, family })),
    Effect.mapError((error) => new NetemError({ reason: error.reason === "Usage" ? "Usage" : "Socket", message: error.message }))
  )

const blackhole = (open: number | undefined, dropped: number | undefined) =>
  open === undefined && dropped === undefined
    ? Effect.succeed(undefined)
    : open === undefined || dropped === undefined
    ? usage("--blackhole-open and --blackhole-dropped go together")
    : Effect.all({ open: positiveInteger("blackhole-open", open), dropped: positiveInteger("blackhole-dropped", dropped) })

/**
 * Checks every flag: the first bad one is a `Usage` failure naming it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toRelayOptions = (flags: FaultFlags): Effect.Effect<RelayOptions, NetemError> =>
  Effect.gen(function*() {
    const faults: Faults = {
      delay: yield* nonNegative("delay", flags.delay),
      jitter: yield* nonNegative("jitter", flags.jitter),
      bandwidth: yield* nonNegative("bandwidth", flags.bandwidth),
      queue: yield* positiveInteger("queue", flags.queue),
      loss: yield* percent("loss", flags.loss),
      lossBurst: yield* maxRun("loss-burst", flags.lossBurst),
      corrupt: yield* percent("corrupt", flags.corrupt),
      corruptBurst: yield* maxRun("corrupt-burst", flags.corruptBurst),
      blackhole: yield* blackhole(flags.blackholeOpen, flags.blackholeDropped),
      dropToServer: yield* indices("drop-to-server", flags.dropToServer),
      dropToClient: yield* indices("drop-to-client", flags.dropToClient)
    }
    return {
      listen: yield* address("listen", flags.listen),
      server: yield* address("server", flags.server),
      faults,
      seed: flags.seed,
      rebindPort: yield* interval("rebind-port", flags.rebindPort),
      rebindAddr: yield* interval("rebind-addr", flags.rebindAddr),
      firstRebind: yield* interval("first-rebind", flags.firstRebind),
      log: flags.log
    }
  })
