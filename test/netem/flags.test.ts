import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { type FaultFlags, toRelayOptions } from "../../src/netem/flags.js"

const defaults: FaultFlags = {
  listen: "127.0.0.1:0",
  server: "127.0.0.1:4433",
  delay: 0,
  jitter: 0,
  bandwidth: 0,
  queue: 25,
  loss: 0,
  lossBurst: 1,
  corrupt: 0,
  corruptBurst: 1,
  blackholeOpen: undefined,
  blackholeDropped: undefined,
  dropToServer: undefined,
  dropToClient: undefined,
  rebindPort: undefined,
  rebindAddr: undefined,
  firstRebind: undefined,
  seed: 1,
  log: undefined
}

describe("quic-netem flags", () => {
  it.effect("turn into relay options", () =>
    Effect.gen(function*() {
      const options = yield* toRelayOptions({
        ...defaults,
        listen: "[::1]:0",
        server: "[::1]:4433",
        delay: 15,
        bandwidth: 10,
        loss: 2,
        lossBurst: 3,
        blackholeOpen: 1000,
        blackholeDropped: 200,
        dropToServer: "2-7",
        rebindPort: 500
      })
      expect(options.listen).toEqual({ address: "::1", port: 0, family: "udp6" })
      expect(options.server).toEqual({ address: "::1", port: 4433, family: "udp6" })
      expect(options.faults).toMatchObject({ delay: 15, bandwidth: 10, queue: 25, loss: 2, lossBurst: 3, dropToServer: [[2, 7]], dropToClient: [] })
      expect(options.faults.blackhole).toEqual({ open: 1000, dropped: 200 })
      expect(options.rebindPort).toBe(500)
    }))

  it.effect("reject bad values with a usage error naming the flag", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Partial<FaultFlags>, string]> = [
        [{ delay: -1 }, "--delay"],
        [{ jitter: Number.NaN }, "--jitter"],
        [{ queue: 0 }, "--queue"],
        [{ loss: 101 }, "--loss"],
        [{ lossBurst: 0 }, "--loss-burst"],
        [{ corrupt: -5 }, "--corrupt"],
        [{ corruptBurst: 1.5 }, "--corrupt-burst"],
        [{ blackholeOpen: 100 }, "--blackhole-open and --blackhole-dropped"],
        [{ blackholeOpen: 100, blackholeDropped: 0 }, "--blackhole-dropped"],
        [{ dropToServer: "7-2" }, "--drop-to-server"],
        [{ dropToClient: "x" }, "--drop-to-client"],
        [{ rebindPort: 0 }, "--rebind-port"],
        [{ rebindAddr: -1 }, "--rebind-addr"],
        [{ listen: "nowhere" }, "--listen"],
        [{ server: "127.0.0.1:70000" }, "--server"]
      ]
      for (const [flags, flag] of cases) {
        const error = yield* Effect.flip(toRelayOptions({ ...defaults, ...flags }))
        expect(error.reason).toBe("Usage")
        expect(error.message.startsWith(flag)).toBe(true)
      }
    }))
})
