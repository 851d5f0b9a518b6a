/**
 * A bulk transfer over a lossy, long link in virtual time: it completes, and
 * its duration lies between a bandwidth floor and a loss-based ceiling.
 */
import { it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { expect } from "vitest"
import * as MemoryNetwork from "../../src/MemoryNetwork.js"
import { awaitDriven, envWith, equalBytes, nowMillis, pattern } from "./drive.js"
import { CLIENT, clientConfig, endpointAt, NOW, SERVER, serverConfig } from "./support.js"

/** 20 MB by default (about 3 minutes of real time: TestClock yields to the event loop per timer); TRANSFER_BYTES overrides. */
const TOTAL = Number(process.env.TRANSFER_BYTES ?? 20 * 1000 * 1000)
const LOSS = 0.02
const ONE_WAY_MS = 20
const RTT_S = (2 * ONE_WAY_MS) / 1000
/** Bottleneck rate (bytes/s) and queue: 40 Mbit/s, a queue of about two BDPs. */
const BANDWIDTH = 5_000_000
const QUEUE = 2 * BANDWIDTH * RTT_S

it.scoped(`transfers ${TOTAL} bytes with 2% loss and a 40 ms RTT in a plausible virtual time`, () =>
  Effect.gen(function*() {
    yield* TestClock.setTime(NOW)
    const server = yield* endpointAt(SERVER, serverConfig())
    const client = yield* endpointAt(CLIENT, clientConfig())
    const accepting = yield* Effect.fork(server.accept)
    const connection = yield* awaitDriven(yield* Effect.fork(client.connect(SERVER, { serverName: "localhost" })))
    const accepted = yield* awaitDriven(accepting)
    const sent = pattern(11, TOTAL)

    const start = yield* nowMillis
    const writer = yield* Effect.fork(Effect.gen(function*() {
      const stream = yield* connection.openUni
      yield* stream.write(sent)
      yield* stream.finish
    }))
    const reader = yield* Effect.fork(Effect.gen(function*() {
      const stream = yield* accepted.acceptUni
      return yield* stream.readToEnd(TOTAL)
    }))
    const received = yield* awaitDriven(reader, { stepMillis: 50, maxMillis: 1_000_000 })
    const seconds = ((yield* nowMillis) - start) / 1000
    expect(equalBytes(received, sent)).toBe(true)
    yield* awaitDriven(writer)

    // Floor: the bottleneck's rate, plus one RTT for the first byte to cross.
    const floor = TOTAL / BANDWIDTH + RTT_S / 2
    // Ceiling: Mathis et al. (rate ≈ MSS/RTT · 1.22/√p), with a 10× allowance.
    const mss = 1200
    const mathisRate = (mss / RTT_S) * (1.22 / Math.sqrt(LOSS))
    const ceiling = 10 * (TOTAL / mathisRate)
    const stats = (yield* connection.stats)!
    const network = yield* MemoryNetwork.MemoryNetwork
    const link = yield* network.linkStats(CLIENT, SERVER)
    const summary = JSON.stringify({ seconds, floor, ceiling, packetsLost: stats.packetsLost, linkLost: link.lost })
    expect(link.lost).toBeGreaterThan(0)
    expect(stats.packetsLost).toBeGreaterThan(0)
    expect(seconds, summary).toBeGreaterThanOrEqual(floor)
    expect(seconds, summary).toBeLessThanOrEqual(ceiling)
  }).pipe(
    Effect.provide(envWith({
      conditions: { latency: `${ONE_WAY_MS} millis`, loss: LOSS, bandwidth: BANDWIDTH, queueBytes: QUEUE },
      seed: 42
    }))
  ), 600_000)
