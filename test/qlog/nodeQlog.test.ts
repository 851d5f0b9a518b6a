/**
 * NodeQlog.dir over the Effect API on real UDP sockets (127.0.0.1): one
 * `<odcid>_<side>.sqlog` file per connection, complete (ending with the
 * closed state) once the connection has drained, and readable as JSON-SEQ.
 */
import { it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect } from "vitest"
import * as Endpoint from "../../src/Endpoint.js"
import { parseJsonSeq } from "../../src/internal/qlog/jsonSeq.js"
import * as NodeCrypto from "../../src/NodeCrypto.js"
import * as NodeQlog from "../../src/NodeQlog.js"
import * as NodeUdpSocket from "../../src/NodeUdpSocket.js"
import type { EndpointConfigInput } from "../../src/QuicConfig.js"
import { UdpSocket } from "../../src/UdpSocket.js"
import { clientConfig, serverConfig } from "../api/support.js"
import { serveEcho } from "../api/drive.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-quic-qlog-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const endpointOn = (config: EndpointConfigInput) =>
  Effect.gen(function*() {
    const socket = yield* NodeUdpSocket.make({ address: "127.0.0.1", port: 0, type: "udp4" })
    const endpoint = yield* Endpoint.make(config).pipe(Effect.provideService(UdpSocket, socket))
    return { endpoint, port: (yield* socket.localAddress).port }
  })

/** The records of a file once its last one is the closed state. */
const completeTrace = (file: string) =>
  Effect.try(() => {
    const records = fs.existsSync(file) ? parseJsonSeq(fs.readFileSync(file, "utf8")) : []
    const last = records.at(-1) as { name?: string; data?: { new?: string } } | undefined
    if (last?.name !== "connectivity:connection_state_updated" || last.data?.new !== "closed") {
      throw new Error(`${file} is not complete yet`)
    }
    return records as Array<any>
  }).pipe(Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 100 }))

describe("NodeQlog.dir", () => {
  it.scopedLive("writes one complete .sqlog file per connection and side, named by the original DCID", () =>
    Effect.gen(function*() {
      const dir = path.join(yield* tempDir, "nested", "qlog")
      const qlog = NodeQlog.dir(dir)
      const { endpoint: server, port } = yield* endpointOn(serverConfig({}, { qlog }))
      yield* serveEcho(server)
      const { endpoint: client } = yield* endpointOn(clientConfig({}, { qlog }))

      const odcids: Array<string> = []
      for (let round = 0; round < 2; round++) {
        const connection = yield* client.connect({ address: "127.0.0.1", port }, { serverName: "localhost" })
        const stream = yield* connection.openBi
        const data = new Uint8Array(100_000).fill(round + 1)
        yield* stream.write(data)
        yield* stream.finish
        expect((yield* stream.readToEnd(1 << 20)).length).toBe(data.length)
        yield* connection.close(0, "done")
        // The client's file is named after the DCID of its first Initial, logged in its header.
        const names = fs.readdirSync(dir).filter((n) => n.endsWith("_client.sqlog") && !odcids.some((o) => n.startsWith(o)))
        expect(names).toHaveLength(1)
        odcids.push(names[0]!.slice(0, -"_client.sqlog".length))
      }

      expect(fs.readdirSync(dir).sort()).toEqual(odcids.flatMap((o) => [`${o}_client.sqlog`, `${o}_server.sqlog`]).sort())
      for (const odcid of odcids) {
        for (const side of ["client", "server"] as const) {
          const [header, ...events] = yield* completeTrace(path.join(dir, `${odcid}_${side}.sqlog`))
          expect(header).toMatchObject({
            qlog_version: "0.3",
            qlog_format: "JSON-SEQ",
            trace: { vantage_point: { type: side }, common_fields: { ODCID: odcid, time_format: "relative" } }
          })
          // Clock time: the reference is now-ish.
          expect(Math.abs(header.trace.common_fields.reference_time - Date.now())).toBeLessThan(60_000)
          const names = new Set(events.map((e) => e.name))
          for (const name of ["transport:packet_sent", "transport:packet_received", "transport:parameters_set", "connectivity:connection_closed"]) {
            expect(names).toContain(name)
          }
          const streamBytes = events
            .filter((e) => e.name === (side === "client" ? "transport:packet_sent" : "transport:packet_received"))
            .flatMap((e) => e.data.frames)
            .filter((f: any) => f.frame_type === "stream")
            .reduce((n: number, f: any) => n + f.length, 0)
          expect(streamBytes).toBeGreaterThanOrEqual(100_000)
        }
      }
    }).pipe(Effect.provide(NodeCrypto.layer)), 60_000)

  it("flushes files still open when the process exits", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-quic-qlog-exit-"))
    try {
      const module = new URL("../../src/NodeQlog.ts", import.meta.url).pathname
      // A writer that is never closed: its records sit in the buffer until the exit hook runs.
      const script = `
        import * as NodeQlog from ${JSON.stringify(module)}
        const writer = NodeQlog.dir(${JSON.stringify(dir)})({ side: "client", odcid: "abcd" })
        for (let i = 0; i < 3; i++) writer.write("\\x1e" + JSON.stringify({ time: i, name: "x:y", data: {} }) + "\\n")
        globalThis.keep = writer
      `
      execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: "pipe" })
      const records = parseJsonSeq(fs.readFileSync(path.join(dir, "abcd_client.sqlog"), "utf8"))
      expect(records.map((r: any) => r.time)).toEqual([0, 1, 2])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)
})
