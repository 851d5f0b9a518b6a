import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Dgram from "node:dgram"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { beforeAll } from "vitest"
import { ensureBuilt, type Finished, QUIC_PERF, type Running, start, waitFor } from "../support/quicPerf.js"
import { client, echoServer } from "../support/udpPeers.js"

// The `quic-netem` executable, run as the scenario runner runs it.

const QUIC_NETEM = join(dirname(QUIC_PERF), "quic-netem.js")

const netem = (args: ReadonlyArray<string>) => Effect.acquireRelease(Effect.sync(() => start(process.execPath, [QUIC_NETEM, ...args])), (running) => Effect.promise(() => running.stop()))
const listening = (running: Running) =>
  Effect.promise(() => waitFor(running, /^quic-netem listening on (127\.0\.0\.1|\[::1\]):(\d+)\n/)).pipe(
    Effect.map(([, host, port]) => ({ address: host!.replace(/[[\]]/g, ""), port: Number(port) }))
  )
const finished = (args: ReadonlyArray<string>) => Effect.promise(() => start(process.execPath, [QUIC_NETEM, ...args]).finished)

/** Exit status 2 (or 1) with exactly one line on stderr and nothing on stdout. */
const expectOneLine = (result: Finished, code: number) => {
  expect(result.code).toBe(code)
  expect(result.stdout).toBe("")
  expect(result.stderr.trim().split("\n")).toHaveLength(1)
  expect(result.stderr).not.toMatch(/\bat .*:\d+:\d+/)
}

describe("quic-netem executable", () => {
  beforeAll(() => ensureBuilt(), 120_000)

  it.scopedLive("prints its listening line, relays, and on SIGTERM exits 0 with the log written", () =>
    Effect.gen(function*() {
      const log = join(mkdtempSync(join(tmpdir(), "netem-cli-")), "log.jsonl")
      const server = yield* echoServer()
      const running = yield* netem(["--listen", "127.0.0.1:0", "--server", `127.0.0.1:${server.address.port}`, "--delay", "5", "--log", log])
      const relay = yield* listening(running)
      expect(relay.port).toBeGreaterThan(0)
      const peer = yield* client()
      for (let i = 0; i < 20; i++) peer.send(new Uint8Array(100 + i), relay)
      yield* peer.waitFor(20)
      const result = yield* Effect.promise(() => running.stop())
      expect(result.code).toBe(0)
      expect(result.stdout).toBe(`quic-netem listening on 127.0.0.1:${relay.port}\n`)
      expect(result.stderr).toBe("")
      const lines = readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, any>)
      expect(lines).toHaveLength(40)
      for (const dir of ["to_server", "to_client"]) {
        const records = lines.filter((l) => l.dir === dir)
        expect(records.map((l) => l.size).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => 100 + i))
        expect(records.every((l) => l.fate === "forwarded" && l.delay >= 5)).toBe(true)
      }
    }))

  it.scopedLive("listens on ::1 with udp6 and prints [::1]:PORT", () =>
    Effect.gen(function*() {
      const server = yield* echoServer("::1")
      const running = yield* netem(["--listen", "[::1]:0", "--server", `[::1]:${server.address.port}`])
      const relay = yield* listening(running)
      expect(relay.address).toBe("::1")
      const peer = yield* client("::1")
      peer.send(new Uint8Array([1, 2, 3]), relay)
      const [reply] = yield* peer.waitFor(1)
      expect([...reply!.data]).toEqual([1, 2, 3])
    }))

  it.live("exits 0 by itself after --max-seconds", () =>
    Effect.gen(function*() {
      const result = yield* finished(["--listen", "127.0.0.1:0", "--server", "127.0.0.1:9", "--max-seconds", "0.5"])
      expect(result.code).toBe(0)
      expect(result.stdout).toMatch(/^quic-netem listening on 127\.0\.0\.1:\d+\n$/)
    }))

  // Each flag's checks are in flags.test.ts; here, that any usage error ends the process the same way.
  it.live("a bad flag: one line on stderr, exit 2", () =>
    Effect.gen(function*() {
      const base = ["--listen", "127.0.0.1:0", "--server", "127.0.0.1:9"]
      const results = yield* Effect.all([
        finished([...base, "--bogus"]),
        finished([...base, "--loss", "101"]),
        finished([...base, "--delay", "abc"]),
        finished(["--listen", "[::1]:0", "--server", "[::1]:9", "--rebind-addr", "100"])
      ], { concurrency: 2 })
      for (const result of results) expectOneLine(result, 2)
    }))

  it.scopedLive("a port in use: one line on stderr, exit 1", () =>
    Effect.gen(function*() {
      const taken = yield* Effect.acquireRelease(
        Effect.async<Dgram.Socket>((resume) => {
          const socket = Dgram.createSocket("udp4")
          socket.bind(0, "127.0.0.1", () => resume(Effect.succeed(socket)))
        }),
        (socket) => Effect.sync(() => socket.close())
      )
      const result = yield* finished(["--listen", `127.0.0.1:${taken.address().port}`, "--server", "127.0.0.1:9"])
      expectOneLine(result, 1)
      expect(result.stderr).toMatch(/in use/)
    }))
})
