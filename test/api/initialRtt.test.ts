/**
 * `transport.initialRttMillis` through the Effect API (MemoryNetwork under
 * TestClock): the RTT assumed before the first sample (RFC 9002 §6.2.2), so
 * a client that hears nothing sends its first flight again after three times
 * it; the default stays RFC 9002's 333 ms; out-of-range values are a
 * ConfigError.
 */
import { it } from "@effect/vitest"
import { Clock, Effect, Either, Fiber, TestClock } from "effect"
import { expect } from "vitest"
import * as MemoryNetwork from "../../src/MemoryNetwork.js"
import { envWith } from "./drive.js"
import { CLIENT, clientConfig, endpointAt, expectConfigError, NOW } from "./support.js"

/** Nothing is bound here: every datagram to it is logged as unreachable. */
const NOBODY = { address: "10.0.0.77", port: 4433 }

const env = envWith({ conditions: { latency: "10 millis" }, seed: 1, log: true })

/**
 * When a client at `clientPort` sent its datagrams to NOBODY, in ms after the
 * connect, until its idle timeout (`millis`) ends the attempt: the connect
 * fails with a timeout before the test's scope closes.
 */
const sendTimes = (initialRttMillis: number | undefined, millis: number, clientPort: number) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(NOW)
    const network = yield* MemoryNetwork.MemoryNetwork
    // The layer's network (and its log) is shared by the tests of this file: each has its own client port.
    const transport = { idleTimeoutMillis: millis, ...(initialRttMillis === undefined ? {} : { initialRttMillis }) }
    const from = { address: CLIENT.address, port: clientPort }
    const client = yield* endpointAt(from, clientConfig({}, { transport }))
    const start = yield* Clock.currentTimeMillis
    const attempt = yield* Effect.fork(Effect.either(client.connect(NOBODY, { serverName: "localhost" })))
    yield* TestClock.adjust(`${millis + 10} millis`)
    const outcome = yield* Fiber.join(attempt)
    expect(Either.isLeft(outcome) && outcome.left._tag).toBe("ConnectError")
    const log = yield* network.log
    // The core counts in µs: a send time may carry a fraction of a millisecond.
    return log.filter((e) => e.from.port === clientPort && e.to.address === NOBODY.address).map((e) => Math.round(e.sentAt - start))
  })

it.layer(env)("transport.initialRttMillis", (it) => {
  it.scoped("50 ms: the first flight goes again after 150 ms (two datagrams), then 300 ms later", () =>
    Effect.gen(function*() {
      expect(yield* sendTimes(50, 500, 50001)).toEqual([0, 150, 150, 450, 450])
    }))

  it.scoped("by default 333 ms: the first flight goes again after 999 ms, then 1998 ms later", () =>
    Effect.gen(function*() {
      expect(yield* sendTimes(undefined, 3000, 50002)).toEqual([0, 999, 999, 2997, 2997])
    }))

  it.scoped("0, a fraction or more than 60 000 ms is a ConfigError naming the field", () =>
    Effect.gen(function*() {
      for (const initialRttMillis of [0, 2.5, 60_001]) {
        yield* expectConfigError(clientConfig({}, { transport: { initialRttMillis } }), "initialRttMillis")
      }
    }))
})
