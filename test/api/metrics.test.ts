import { it } from "@effect/vitest"
import { Effect, Fiber, Layer, Metric, Stream, TestClock } from "effect"
import { expect } from "vitest"
import { bytesSent, congestionWindow, rtt } from "../../src/internal/driver/metrics.js"
import * as MemoryNetwork from "../../src/MemoryNetwork.js"
import * as NodeCrypto from "../../src/NodeCrypto.js"
import { CLIENT, clientConfig, endpointAt, NOW, SERVER, serverConfig } from "./support.js"

const env = Layer.mergeAll(MemoryNetwork.layer({ conditions: { latency: "10 millis" }, seed: 3 }), NodeCrypto.layer)

it.layer(env)("metrics", (it) => {
  it.scoped("RTT, congestion window and bytes are Effect metrics, sampled once a second", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const server = yield* endpointAt(SERVER, serverConfig())
      yield* server.incoming.pipe(Stream.runForEach(() => Effect.void), Effect.forkScoped)
      const client = yield* endpointAt(CLIENT, clientConfig())
      const sentBefore = (yield* Metric.value(bytesSent)).count
      const fiber = yield* Effect.fork(client.connect(SERVER, { serverName: "localhost" }))
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(fiber)
      expect((yield* Metric.value(bytesSent)).count).toBeGreaterThan(sentBefore)
      expect((yield* Metric.value(congestionWindow)).value).toBeGreaterThan(0)
      const rtts = yield* Metric.value(rtt)
      expect(rtts.count).toBeGreaterThan(0)
      // The link adds 10 ms each way: smoothed RTT samples lie around 20 ms.
      expect(rtts.max).toBeGreaterThanOrEqual(20)
      expect(yield* client.stats).toEqual({ connections: 1, droppedDatagrams: 0, sendQueueLength: 0 })
      expect((yield* server.stats).connections).toBe(1)
    }))
})
