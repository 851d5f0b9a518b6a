/**
 * The client side of the memory benchmark, on the public API: client
 * endpoints opening COUNT connections (ALPN `perf`, certificate not checked)
 * to HOST:PORT, CONCURRENCY handshakes at a time, and keeping them open
 * without traffic (apart from optional keep-alive PINGs). Prints progress on
 * stderr, then {"connected","seconds","handshakes_per_s","heapBefore","heapAfter"}
 * on stdout, and holds the connections until stdin closes.
 *
 * The connections are spread over endpoints (each on its own socket) of at
 * most PER_ENDPOINT connections: an endpoint's driver visits every one of its
 * connections for timers and output on each turn, so one endpoint with 10 000
 * connections would spend the run scanning them; the client is not what is
 * measured.
 *
 * No new connection is started after SECONDS (0: no limit), so the run takes
 * bounded time whatever the handshake rate.
 *
 *   node --expose-gc --import tsx bench/idleConnections.ts 127.0.0.1:PORT COUNT [CONCURRENCY] [KEEPALIVE_MS] [PER_ENDPOINT] [SECONDS]
 */
import { createInterface } from "node:readline"
import { Effect, Stream } from "effect"
import * as Endpoint from "../src/Endpoint.js"
import * as NodeCrypto from "../src/NodeCrypto.js"
import * as NodeUdpSocket from "../src/NodeUdpSocket.js"
import { UdpSocket } from "../src/UdpSocket.js"
import { heapReport } from "./heap.js"

const [address, countArg, concurrencyArg, keepAliveArg, perEndpointArg, secondsArg] = process.argv.slice(2)
const count = Number(countArg)
const concurrency = Number(concurrencyArg ?? 32)
const keepAliveMillis = Number(keepAliveArg ?? 0)
const perEndpoint = Number(perEndpointArg ?? 250)
const budgetSeconds = Number(secondsArg ?? 0)
if (address === undefined || !(count > 0) || !(concurrency > 0) || !(keepAliveMillis >= 0) || !(perEndpoint > 0) || !(budgetSeconds >= 0)) {
  console.error("usage: idleConnections.ts HOST:PORT COUNT [CONCURRENCY] [KEEPALIVE_MS] [PER_ENDPOINT] [SECONDS]")
  process.exit(2)
}

const makeEndpoint = Effect.gen(function*() {
  const socket = yield* NodeUdpSocket.make({
    address: "127.0.0.1",
    port: 0,
    type: "udp4",
    recvBufferSize: 1 << 20,
    sendBufferSize: 1 << 20
  })
  return yield* Endpoint.make({
    client: { alpn: ["perf"], insecure: true },
    transport: { idleTimeoutMillis: keepAliveMillis > 0 ? 30_000 : 0, keepAliveMillis }
  }).pipe(Effect.provideService(UdpSocket, socket))
})

const program = Effect.gen(function*() {
  const endpoints = yield* Effect.all(Array.from({ length: Math.ceil(count / perEndpoint) }, () => makeEndpoint))
  const heapBefore = yield* Effect.promise(heapReport)
  const started = performance.now()
  let connected = 0
  let failed = 0
  const overBudget = () => budgetSeconds > 0 && performance.now() - started > budgetSeconds * 1000
  const progress = Effect.sync(() => {
    connected++
    if (connected % 1000 === 0) console.error(`${connected} connections in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  })
  yield* Effect.forEach(
    Array.from({ length: count }, (_, i) => i),
    (i) =>
      Effect.suspend(() =>
        overBudget() ? Effect.void : endpoints[i % endpoints.length]!.connect(address, { serverName: "localhost" }).pipe(
          Effect.zipRight(progress),
          Effect.catchAll((error) =>
            Effect.sync(() => {
              // The first few reasons, for a run that goes wrong.
              if (failed++ < 3) console.error(`connect failed: ${String(error).slice(0, 200)}`)
            })
          )
        )
      ),
    { concurrency, discard: true }
  )
  const seconds = (performance.now() - started) / 1000
  const heapAfter = yield* Effect.promise(heapReport)
  console.log(JSON.stringify({ connected, failed, requested: count, seconds, handshakes_per_s: connected / seconds, endpoints: endpoints.length, heapBefore, heapAfter }))
  // hold the connections until stdin closes
  yield* Stream.fromAsyncIterable(createInterface({ input: process.stdin }), (e) => e).pipe(Stream.runDrain, Effect.orDie)
}).pipe(Effect.scoped, Effect.provide(NodeCrypto.layer))

Effect.runPromise(program).then(
  () => process.exit(0),
  (e) => {
    console.error(String(e).slice(0, 2000))
    process.exit(1)
  }
)
