/**
 * The server side of the memory benchmark, on the public API: a server
 * endpoint on 127.0.0.1 that accepts connections (ALPN `perf`) and keeps them
 * idle. Prints {"port"} once bound; on each stdin line "mem" it collects
 * garbage (run node with --expose-gc) and prints
 * {"heapUsed","rss","external","arrayBuffers","connections"}. Exits when
 * stdin closes.
 *
 *   node --expose-gc --import tsx bench/idleServer.ts CERT.pem KEY.pem
 */
import { readFileSync } from "node:fs"
import { createInterface } from "node:readline"
import { Effect, Stream } from "effect"
import * as Endpoint from "../src/Endpoint.js"
import * as NodeCrypto from "../src/NodeCrypto.js"
import * as NodeUdpSocket from "../src/NodeUdpSocket.js"
import { UdpSocket } from "../src/UdpSocket.js"
import { heapReport } from "./heap.js"

const [certFile, keyFile] = process.argv.slice(2)
if (certFile === undefined || keyFile === undefined) {
  console.error("usage: idleServer.ts CERT.pem KEY.pem")
  process.exit(2)
}

const program = Effect.gen(function*() {
  const socket = yield* NodeUdpSocket.make({
    address: "127.0.0.1",
    port: 0,
    type: "udp4",
    recvBufferSize: 4 << 20,
    sendBufferSize: 4 << 20
  })
  const endpoint = yield* Endpoint.make({
    server: {
      certificate: readFileSync(certFile, "utf8"),
      privateKey: readFileSync(keyFile, "utf8"),
      alpn: ["perf"],
      maxConnections: 100_000,
      // idle connections only: the first connections' tickets and tokens are not needed
      sessionTickets: false,
      newTokens: false
    },
    // idle means idle: no timeout to keep the connections alive for
    transport: { idleTimeoutMillis: 0 }
  }).pipe(Effect.provideService(UdpSocket, socket))
  yield* endpoint.incoming.pipe(Stream.runDrain, Effect.forkScoped)
  console.log(JSON.stringify({ port: (yield* socket.localAddress).port }))
  const lines = Stream.fromAsyncIterable(createInterface({ input: process.stdin }), (e) => e)
  yield* lines.pipe(
    Stream.runForEach((line) =>
      line.trim() === "mem"
        ? Effect.gen(function*() {
          const connections = yield* endpoint.connectionCount
          const heap = yield* Effect.promise(heapReport)
          console.log(JSON.stringify({ ...heap, connections }))
        })
        : Effect.void
    ),
    Effect.orDie
  )
}).pipe(Effect.scoped, Effect.provide(NodeCrypto.layer))

Effect.runPromise(program).then(
  () => process.exit(0),
  (e) => {
    console.error(String(e).slice(0, 2000))
    process.exit(1)
  }
)
