/**
 * Interop through the public API: the `quic-perf` executable (written on
 * Endpoint/Connection/Stream only) against the quic-go reference peer, in
 * both directions, one named test per feature, plus the cases only our own
 * stack can play (0-RTT). Every process is separate, as users run them.
 */
import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ensureBuilt, perfClient, perfServer, type PerfServer, type Running, start } from "../support/quicPerf.js"
import { freePort, peerCert, peerKey, QUICGO_PEER } from "./quicgoPeer.js"

const MiB = 1 << 20
const SUITES = ["aes128gcm", "aes256gcm", "chacha20"] as const
const TIMEOUT = 120_000

const quicgo = (args: ReadonlyArray<string>): Running => start(QUICGO_PEER!, args)

/** The last JSON line a quic-go client printed, after it exited cleanly. */
const quicgoClient = async (port: number, args: ReadonlyArray<string>) => {
  const finished = await quicgo(["client", "--addr", `127.0.0.1:${port}`, ...args]).finished
  expect(finished.stderr).toBe("")
  expect(finished.code).toBe(0)
  return JSON.parse(finished.stdout.trim().split("\n").pop()!) as Record<string, unknown>
}

/** The qlog records (JSON-SEQ) of every file in `dir`. */
const qlogRecords = (dir: string): Array<{ readonly name?: string; readonly data?: any }> =>
  readdirSync(dir).flatMap((file) =>
    readFileSync(join(dir, file), "utf8").split("\x1e").filter((r) => r.trim() !== "").map((r) => JSON.parse(r))
  )

describe.skipIf(QUICGO_PEER === undefined)("interop: quic-perf client → quic-go server (QUICGO_PEER)", () => {
  let server: Running
  let port: number
  beforeAll(async () => {
    ensureBuilt()
    port = await freePort()
    server = quicgo(["server", "--addr", `127.0.0.1:${port}`, "--cert", peerCert(), "--key", peerKey()])
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => server.stderr().includes("listening") && (clearInterval(poll), resolve()), 20)
    })
  }, TIMEOUT)
  afterAll(async () => {
    await server?.stop()
  })

  const client = async (args: ReadonlyArray<string>) => {
    const run = await perfClient(["--connect", `127.0.0.1:${port}`, ...args])
    expect(run.stderr).toBe("")
    expect(run.code).toBe(0)
    expect(run.report?.ok).toBe(true)
    return run.report!
  }

  for (const suite of SUITES) {
    it(`handshakes with ${suite}`, async () => {
      const report = await client(["--insecure", "--cipher", suite, "--download", "1K"])
      expect(report.cipher).toBe(suite)
      expect(report.bytes_down).toBe(1024)
    }, TIMEOUT)
  }

  it("verifies the quic-go certificate with --ca", async () => {
    const report = await client(["--ca", peerCert(), "--server-name", "localhost", "--download", "1K"])
    expect(report.bytes_down).toBe(1024)
  }, TIMEOUT)

  it("refuses the quic-go certificate when it does not chain to a trusted root", async () => {
    const run = await perfClient(["--connect", `127.0.0.1:${port}`, "--server-name", "localhost", "--download", "1K"])
    expect(run.code).toBe(1)
    expect(run.report).toMatchObject({ ok: false })
    // One line, naming the failure, no stack trace.
    expect(run.stderr.trim().split("\n")).toHaveLength(1)
    expect(run.stderr).toMatch(/^quic-perf: connection failed: .*unknown-issuer/)
  }, TIMEOUT)

  it("downloads 10 MiB", async () => {
    const report = await client(["--insecure", "--download", "10M"])
    expect(report.bytes_down).toBe(10 * MiB)
  }, TIMEOUT)

  it("uploads 10 MiB", async () => {
    const report = await client(["--insecure", "--upload", "10M"])
    expect(report.bytes_up).toBe(10 * MiB)
    expect(report.bytes_down).toBe(0)
  }, TIMEOUT)

  it("runs 1000 sequential request streams", async () => {
    const report = await client(["--insecure", "--download", "1K", "--upload", "100", "--streams", "1000"])
    expect(report.streams).toBe(1000)
    expect(report.bytes_down).toBe(1000 * 1024)
    expect(report.bytes_up).toBe(1000 * 100)
  }, TIMEOUT)

  it("runs 100 parallel request streams", async () => {
    const report = await client(["--insecure", "--download", "10K", "--streams", "100", "--parallel", "100"])
    expect(report.streams).toBe(100)
    expect(report.bytes_down).toBe(100 * 10 * 1024)
  }, TIMEOUT)

  it("runs 7 requests with 3 in parallel, and requests for a --duration", async () => {
    const counted = await client(["--insecure", "--download", "1K", "--streams", "7", "--parallel", "3"])
    expect([counted.streams, counted.bytes_down]).toEqual([7, 7 * 1024])
    const timed = await client(["--insecure", "--download", "1K", "--parallel", "4", "--duration", "1"])
    expect(timed.ok).toBe(true)
    expect(timed.streams).toBeGreaterThan(4)
    expect(timed.bytes_down).toBe(Number(timed.streams) * 1024)
    expect(timed.seconds).toBeGreaterThanOrEqual(1)
  }, TIMEOUT)

  it("has its datagrams echoed", async () => {
    const report = await client(["--insecure", "--datagrams", "20"])
    expect(report.datagrams_received).toBe(20)
  }, TIMEOUT)

  it("initiates a key update mid-transfer", async () => {
    const report = await client(["--insecure", "--download", "10M", "--key-update"])
    expect(report.key_updates).toBe(1)
    expect(report.bytes_down).toBe(10 * MiB)
  }, TIMEOUT)

  it("resumes a session with the quic-go server's ticket (--0rtt)", async () => {
    // The peer listens without 0-RTT (quic.ListenAddr): its tickets allow resumption only.
    const report = await client(["--insecure", "--0rtt", "--download", "64K"])
    expect(report).toMatchObject({ resumed: true, zero_rtt: "not attempted", bytes_down: 64 * 1024 })
  }, TIMEOUT)
})

describe.skipIf(QUICGO_PEER === undefined)("interop: quic-go client → quic-perf server (QUICGO_PEER)", () => {
  let server: PerfServer
  beforeAll(async () => {
    ensureBuilt()
    server = await perfServer()
  }, TIMEOUT)
  afterAll(async () => {
    await server?.stop()
  })

  for (const suite of SUITES) {
    it(`handshakes with ${suite}`, async () => {
      const only = await perfServer(["--cipher", suite])
      try {
        const out = await quicgoClient(only.port, ["--download", "1024", "--upload", "0", "--streams", "1", "--insecure"])
        expect(out.down_bytes).toBe(1024)
      } finally {
        await only.stop()
      }
    }, TIMEOUT)
  }

  it("is verified by the quic-go client with --ca (our self-signed certificate)", async () => {
    const out = await quicgoClient(server.port, ["--download", "1024", "--upload", "0", "--streams", "1", "--ca", server.ca!])
    expect(out.down_bytes).toBe(1024)
  }, TIMEOUT)

  it("serves a 10 MiB download", async () => {
    const out = await quicgoClient(server.port, ["--download", String(10 * MiB), "--upload", "0", "--streams", "1", "--insecure"])
    expect(out.down_bytes).toBe(10 * MiB)
  }, TIMEOUT)

  it("accepts a 10 MiB upload", async () => {
    const out = await quicgoClient(server.port, ["--download", "0", "--upload", String(10 * MiB), "--streams", "1", "--insecure"])
    expect(out.up_bytes).toBe(10 * MiB)
  }, TIMEOUT)

  it("serves 1000 sequential request streams", async () => {
    const out = await quicgoClient(server.port, ["--download", "1024", "--upload", "100", "--streams", "1000", "--insecure"])
    expect(out).toMatchObject({ streams: 1000, down_bytes: 1000 * 1024, up_bytes: 1000 * 100 })
  }, TIMEOUT)

  it("serves 100 parallel request streams", async () => {
    const out = await quicgoClient(server.port, ["--download", "10240", "--upload", "0", "--streams", "100", "--parallel", "--insecure"])
    expect(out).toMatchObject({ streams: 100, down_bytes: 100 * 10240 })
  }, TIMEOUT)

  it("echoes datagrams", async () => {
    const out = await quicgoClient(server.port, ["--download", "0", "--upload", "0", "--streams", "0", "--datagrams", "20", "--insecure"])
    expect(out).toMatchObject({ datagrams_sent: 20, datagrams_echoed: 20 })
  }, TIMEOUT)

  it("validates the client's address with Retry first (--retry)", async () => {
    const qlog = mkdtempSync(join(tmpdir(), "quic-perf-qlog-"))
    const retrying = await perfServer(["--retry", "--qlog", qlog])
    try {
      const out = await quicgoClient(retrying.port, ["--download", "1024", "--upload", "0", "--streams", "1", "--insecure"])
      expect(out.down_bytes).toBe(1024)
    } finally {
      await retrying.stop()
    }
    // RFC 9000 §7.3: only a server that sent a Retry states retry_source_connection_id,
    // and the client's Initial then carries the Retry's token.
    const records = qlogRecords(qlog)
    const local = records.find((r) => r.name === "transport:parameters_set" && r.data.owner === "local")
    expect(local?.data.retry_source_connection_id).toMatch(/^[0-9a-f]{16,40}$/)
    const firstInitial = records.find((r) => r.name === "transport:packet_received" && r.data.header.packet_type === "initial")
    expect(firstInitial?.data.header.token.raw.length).toBeGreaterThan(0)
    expect(records.some((r) => r.name === "transport:packet_sent" && r.data.header.packet_type === "1RTT")).toBe(true)
  }, TIMEOUT)
})

describe("quic-perf client ↔ quic-perf server", () => {
  let server: PerfServer
  beforeAll(async () => {
    ensureBuilt()
    server = await perfServer()
  }, TIMEOUT)
  afterAll(async () => {
    await server?.stop()
  })

  const client = async (args: ReadonlyArray<string>) => {
    const run = await perfClient(["--connect", `127.0.0.1:${server.port}`, "--ca", server.ca!, "--server-name", "localhost", ...args])
    expect(run.stderr).toBe("")
    expect(run.code).toBe(0)
    expect(run.report?.ok).toBe(true)
    return run.report!
  }

  it("downloads and uploads 10 MiB, every byte checked against the pattern (--verify)", async () => {
    const report = await client(["--download", "10M", "--upload", "10M", "--verify"])
    expect(report).toMatchObject({ bytes_down: 10 * MiB, bytes_up: 10 * MiB })
  }, TIMEOUT)

  it("resumes with 0-RTT (--0rtt)", async () => {
    const report = await client(["--0rtt", "--download", "64K", "--verify"])
    expect(report).toMatchObject({ resumed: true, zero_rtt: "accepted", bytes_down: 64 * 1024 })
  }, TIMEOUT)

  it("has its datagrams echoed (--datagrams)", async () => {
    const report = await client(["--download", "1K", "--datagrams", "50"])
    expect(report).toMatchObject({ datagrams_sent: 50, datagrams_received: 50, bytes_down: 1024 })
  }, TIMEOUT)

  it("the server grants no unidirectional streams (the perf protocol has none)", async () => {
    const qlog = mkdtempSync(join(tmpdir(), "quic-perf-qlog-"))
    const logged = await perfServer(["--qlog", qlog])
    try {
      const run = await perfClient(["--connect", `127.0.0.1:${logged.port}`, "--insecure", "--download", "1K"])
      expect(run.report?.ok).toBe(true)
    } finally {
      await logged.stop()
    }
    const local = qlogRecords(qlog).find((r) => r.name === "transport:parameters_set" && r.data.owner === "local")
    expect(local?.data).toMatchObject({ initial_max_streams_uni: 0, initial_max_streams_bidi: 1000 })
  }, TIMEOUT)

  it("makes fresh full handshakes (--handshakes)", async () => {
    const report = await client(["--handshakes", "20"])
    expect(report).toMatchObject({ streams: 20, resumed: false })
    expect(report.handshakes_per_s).toBeGreaterThan(0)
  }, TIMEOUT)

  it("connects and closes without a request (--handshakes --handshake-only)", async () => {
    const report = await client(["--handshakes", "20", "--handshake-only"])
    expect(report).toMatchObject({ streams: 0, resumed: false, cipher: "chacha20" })
    expect(report.handshakes_per_s).toBeGreaterThan(0)
  }, TIMEOUT)

  it("fails with one line and status 1 when nothing answers", async () => {
    const run = await perfClient(["--connect", `127.0.0.1:${await freePort()}`, "--insecure"])
    expect(run.code).toBe(1)
    expect(run.stderr.trim()).toMatch(/^quic-perf: no QUIC answer from 127\.0\.0\.1:\d+ within 10 s$/)
  }, TIMEOUT)

  it("fails with one line and status 1 when the port is in use", async () => {
    const taken = start(process.execPath, [join(import.meta.dirname, "../../dist/bin/quic-perf.js"), "server", "--listen", `127.0.0.1:${server.port}`])
    const finished = await taken.finished
    expect(finished.code).toBe(1)
    expect(finished.stderr.trim()).toMatch(/^quic-perf: cannot listen: the address is in use/)
  }, TIMEOUT)

  it("rejects bad flags with status 2 and no stack trace", async () => {
    const run = await perfClient(["--streams", "many"])
    expect(run.code).toBe(2)
    expect(run.stderr + run.stdout).not.toMatch(/\n\s+at /)
  }, TIMEOUT)
})
