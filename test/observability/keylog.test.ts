/**
 * The NSS key log (`keyLog`, what SSLKEYLOGFILE collects) checked by an
 * independent decoder: a real exchange over UDP on 127.0.0.1 is captured on
 * the loopback interface, and Wireshark's QUIC dissector (tshark) must decrypt
 * every packet with the key log alone. None of our own codec is involved in
 * the verdict.
 *
 * tshark 4.0 reads only CLIENT_EARLY_TRAFFIC_SECRET, the handshake secrets and
 * the *_TRAFFIC_SECRET_0 lines; it derives later key phases itself ("quic ku",
 * RFC 9001 §6.1). So decrypted key-phase-1 packets prove our key update on the
 * wire, and the *_TRAFFIC_SECRET_1 lines are checked against that same
 * derivation computed here with node:crypto's HMAC.
 *
 * The same runs write qlog traces (`NodeQlog.dir`), checked record by record
 * and against tshark's decode in `qlogCheck.ts`: what each side logged as
 * sent is exactly what went on the wire, packet by packet and frame by frame,
 * and the 1-RTT key update it logged is where the key phase bit flips.
 *
 * Skipped when tshark is not installed (`.ci/run` installs it).
 */
import { it } from "@effect/vitest"
import { Effect, Queue, Schedule, Stream } from "effect"
import { createHmac } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect } from "vitest"
import type * as Connection from "../../src/Connection.js"
import * as Endpoint from "../../src/Endpoint.js"
import * as NodeCrypto from "../../src/NodeCrypto.js"
import * as NodeQlog from "../../src/NodeQlog.js"
import * as NodeUdpSocket from "../../src/NodeUdpSocket.js"
import type { EndpointConfigInput } from "../../src/QuicConfig.js"
import type { CloseReason } from "../../src/QuicError.js"
import { UdpSocket } from "../../src/UdpSocket.js"
import { clientConfig, serverConfig } from "../api/support.js"
import * as Tshark from "../../interop/tshark.js"
import * as QlogCheck from "./qlogCheck.js"

// ---- the key log ----------------------------------------------------------------

interface KeyLogLine {
  readonly label: string
  readonly clientRandom: string
  readonly secret: string
}

const parseKeyLog = (text: string): ReadonlyArray<KeyLogLine> =>
  text.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("#")).map((line) => {
    const match = /^([A-Z0-9_]+) ([0-9a-f]{64}) ([0-9a-f]+)$/.exec(line)
    expect(match, `key-log line in NSS format: ${line}`).not.toBeNull()
    return { label: match![1]!, clientRandom: match![2]!, secret: match![3]! }
  })

/** label → secret for one client random; the client and the server must have logged the same secret. */
const secretsFor = (lines: ReadonlyArray<KeyLogLine>, clientRandom: string): ReadonlyMap<string, string> => {
  const out = new Map<string, string>()
  for (const line of lines.filter((l) => l.clientRandom === clientRandom)) {
    const seen = out.get(line.label)
    if (seen !== undefined) expect(line.secret, `both sides log the same ${line.label}`).toBe(seen)
    out.set(line.label, line.secret)
  }
  return out
}

/** HKDF-Expand-Label(secret, "quic ku", "", Hash.length) (RFC 8446 §7.1, RFC 9001 §6.1), from HMAC alone. */
const nextTrafficSecret = (secretHex: string): string => {
  const secret = Buffer.from(secretHex, "hex")
  const hash = secret.length === 48 ? "sha384" : "sha256"
  const label = Buffer.from("tls13 quic ku", "latin1")
  const info = Buffer.concat([Buffer.from([secret.length >> 8, secret.length & 0xff, label.length]), label, Buffer.from([0])])
  const out: Array<Buffer> = []
  let previous = Buffer.alloc(0)
  for (let i = 1; Buffer.concat(out).length < secret.length; i++) {
    previous = createHmac(hash, secret).update(Buffer.concat([previous, info, Buffer.from([i])])).digest()
    out.push(previous)
  }
  return Buffer.concat(out).subarray(0, secret.length).toString("hex")
}

/** The same lines with every secret altered: right labels and client randoms, wrong keys. */
const corrupt = (text: string): string =>
  text.replace(/^([A-Z0-9_]+ [0-9a-f]{64} )([0-9a-f]{2})/gm, (_m, head: string, byte: string) =>
    head + ((Number.parseInt(byte, 16) ^ 0xff).toString(16).padStart(2, "0")))

// ---- the exchange ---------------------------------------------------------------

const pattern = (size: number, seed: number): Uint8Array => {
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff
  return out
}

/** A temporary directory for the capture and the key log, removed with the scope. */
const workDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-quic-keylog-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/**
 * What both endpoints log: key-log lines appended to one file, as
 * SSLKEYLOGFILE would collect them, and a qlog trace per connection and side
 * in `qlogDir` (read back in the "qlog" section of each test).
 */
const observability = (keyLogFile: string, qlogDir: string): Partial<EndpointConfigInput> => ({
  keyLog: (line: string) => fs.appendFileSync(keyLogFile, `${line}\n`),
  qlog: NodeQlog.dir(qlogDir),
  rngSeed: undefined
})

const endpointOn = (config: EndpointConfigInput) =>
  Effect.gen(function*() {
    const socket = yield* NodeUdpSocket.make({ address: "127.0.0.1", port: 0, type: "udp4" })
    const endpoint = yield* Endpoint.make(config).pipe(Effect.provideService(UdpSocket, socket))
    return { endpoint, port: (yield* socket.localAddress).port }
  })

/** Echoes every stream and every datagram back; each connection's close reason goes to `closes`. */
const echo = (endpoint: Endpoint.Endpoint, closes: Queue.Queue<CloseReason>) =>
  endpoint.incoming.pipe(
    Stream.runForEach((connection) =>
      Effect.all([
        connection.incomingStreams.pipe(
          Stream.runForEach((stream) => stream.readable.pipe(Stream.run(stream.sink), Effect.ignore, Effect.fork)),
          Effect.ignore
        ),
        connection.datagrams.pipe(Stream.runForEach((d) => connection.sendDatagram(d).pipe(Effect.ignore))),
        connection.closed.pipe(Effect.flatMap((reason) => Queue.offer(closes, reason)))
      ], { concurrency: "unbounded", discard: true }).pipe(Effect.fork)
    ),
    Effect.forkScoped
  )

/** An echo server on 127.0.0.1 and the queue of its connections' close reasons. */
const echoServer = (config: EndpointConfigInput) =>
  Effect.gen(function*() {
    const { endpoint, port } = yield* endpointOn(config)
    const closes = yield* Queue.unbounded<CloseReason>()
    yield* echo(endpoint, closes)
    return { port, closes }
  })

/** Writes `chunks` on one stream while reading the echo; `between` runs after the first chunk. */
const echoStream = (
  connection: Connection.Connection,
  chunks: ReadonlyArray<Uint8Array>,
  between: Effect.Effect<void, unknown> = Effect.void
) =>
  Effect.scoped(Effect.gen(function*() {
    const stream = yield* connection.openBi
    const reader = yield* Effect.fork(stream.readToEnd(1 << 20))
    for (const [i, chunk] of chunks.entries()) {
      yield* stream.write(chunk)
      if (i === 0) yield* between
    }
    yield* stream.finish
    const echoed = yield* reader.await.pipe(Effect.flatten)
    const sent = Buffer.concat(chunks)
    expect(echoed.length).toBe(sent.length)
    expect(Buffer.compare(echoed, sent)).toBe(0)
  }))

/** Initiates a key update once the handshake is confirmed (the client needs HANDSHAKE_DONE first). */
const updateKeys = (connection: Connection.Connection) =>
  connection.updateKeys.pipe(
    Effect.flatMap((started) => started ? Effect.void : Effect.fail("not yet" as const)),
    Effect.retry(Schedule.spaced("5 millis")),
    Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("the key update never started") })
  )

const datagramRoundTrip = (connection: Connection.Connection) =>
  Effect.gen(function*() {
    const received = yield* Effect.fork(connection.datagrams.pipe(Stream.take(1), Stream.runCollect))
    yield* connection.sendDatagram(new Uint8Array(64).fill(7))
    const echoed = yield* received.await.pipe(Effect.flatten, Effect.timeout("5 seconds"))
    expect([...echoed].map((d) => d[0])).toEqual([7])
  })

/**
 * Closes and waits until the server has the CONNECTION_CLOSE. Closing the
 * client's endpoint (and so its socket) right after `close` can lose that
 * datagram: node:dgram drops a send still waiting for its address lookup
 * when the socket closes, so the test would see no CONNECTION_CLOSE.
 */
const closeAndWait = (connection: Connection.Connection, serverCloses: Queue.Queue<CloseReason>) =>
  Effect.gen(function*() {
    yield* connection.close(0, "done")
    expect((yield* connection.closed)._tag).toBe("LocallyClosed")
    const atServer = yield* Queue.take(serverCloses).pipe(
      Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("the server never saw the CONNECTION_CLOSE") })
    )
    expect(atServer).toMatchObject({ _tag: "ApplicationClosed", code: 0n, reason: "done" })
  })

// ---- assertions on tshark's decode ---------------------------------------------

const summary = (packets: ReadonlyArray<Tshark.QuicPacket>) =>
  packets.map((p) =>
    `#${p.frame} ${p.srcPort}->${p.dstPort} ${p.type}${p.keyPhase !== undefined ? ` kp${p.keyPhase}` : ""}` +
    ` ${p.decrypted ? "ok" : `FAILED (${p.failure ?? "?"})`} [${p.frameTypes.map((t) => t.toString(16)).join(",")}]`
  ).join("\n")

const expectAllDecrypted = (packets: ReadonlyArray<Tshark.QuicPacket>) => {
  const failed = packets.filter((p) => !p.decrypted)
  expect(failed, `packets tshark could not decrypt:\n${summary(failed)}`).toEqual([])
  expect(packets.map((p) => p.type).filter((t) => t === "unknown"), "packet types tshark recognised").toEqual([])
}

/** The client random of each ClientHello tshark read, in capture order (one per connection). */
const clientRandoms = (packets: ReadonlyArray<Tshark.QuicPacket>): ReadonlyArray<string> => [
  ...new Set(packets.flatMap((p) => p.clientRandom !== undefined ? [p.clientRandom] : []))
]

// ---- tests ---------------------------------------------------------------------

const KB = 1024

interface Suite {
  readonly name: "aes128gcm" | "aes256gcm" | "chacha20"
  /** The TLS 1.3 cipher suite code tshark reports. */
  readonly code: number
  /** Secret length: the suite's hash (SHA-256 or SHA-384). */
  readonly hashLength: number
}

/** The IANA names qlog's tls_cipher uses. */
const suiteNames: Record<number, string> = {
  0x1301: "TLS_AES_128_GCM_SHA256",
  0x1302: "TLS_AES_256_GCM_SHA384",
  0x1303: "TLS_CHACHA20_POLY1305_SHA256"
}

const suites: ReadonlyArray<Suite> = [
  { name: "aes128gcm", code: 0x1301, hashLength: 32 },
  { name: "aes256gcm", code: 0x1302, hashLength: 48 },
  { name: "chacha20", code: 0x1303, hashLength: 32 }
]

describe.skipIf(Tshark.tsharkPath === undefined)(
  Tshark.tsharkPath === undefined
    ? "key log checked by tshark: skipped, tshark is not installed (set TSHARK or run .ci/run)"
    : "key log checked by tshark on a loopback capture",
  () => {
    it.scopedLive("1-RTT with a key update, a stream and a datagram, for each cipher suite: every packet decrypts with the key log alone, and qlog matches the wire", () =>
      Effect.gen(function*() {
        const dir = yield* workDir
        const keyLogFile = path.join(dir, "sslkeylog.txt")
        const qlogDir = path.join(dir, "qlog")
        fs.writeFileSync(keyLogFile, "")
        const { port, closes } = yield* echoServer(serverConfig({}, observability(keyLogFile, qlogDir)))
        const recording = yield* Tshark.capture({ ports: [port], file: path.join(dir, "capture.pcapng") })

        // One connection per cipher suite, each from its own client endpoint (so its own UDP port).
        // The endpoints stay open until the test ends: a connection's qlog trace ends when it is reaped.
        const clientPorts = new Map<number, Suite>()
        for (const suite of suites) {
          const { endpoint: client, port: clientPort } = yield* endpointOn(
            clientConfig({}, { ...observability(keyLogFile, qlogDir), cipherSuites: [suite.name] })
          )
          clientPorts.set(clientPort, suite)
          yield* Effect.scoped(Effect.gen(function*() {
            const connection = yield* client.connect({ address: "127.0.0.1", port }, { serverName: "localhost" })
            // 16 KB before the key update, 16 KB after it, on one stream.
            yield* echoStream(connection, [pattern(16 * KB, 1), pattern(16 * KB, 2)], updateKeys(connection))
            yield* datagramRoundTrip(connection)
            yield* closeAndWait(connection, closes)
          }))
        }
        yield* recording.stop

        const keyLogText = fs.readFileSync(keyLogFile, "utf8")
        const wrongKeyLog = path.join(dir, "wrong.txt")
        const emptyKeyLog = path.join(dir, "empty.txt")
        fs.writeFileSync(wrongKeyLog, corrupt(keyLogText))
        fs.writeFileSync(emptyKeyLog, "")
        const [packets, wrong, empty, traces] = yield* Effect.all([
          QlogCheck.decode({ file: recording.file, port, keyLogFile }),
          Tshark.decode({ file: recording.file, port, keyLogFile: wrongKeyLog }),
          Tshark.decode({ file: recording.file, port, keyLogFile: emptyKeyLog }),
          QlogCheck.readTraces(qlogDir, 2 * suites.length)
        ], { concurrency: "unbounded" })

        // Every packet of every type was decrypted, in both directions.
        expectAllDecrypted(packets)
        const types = Tshark.countBy(packets, (p) => p.type)
        expect(Object.keys(types).sort(), summary(packets)).toEqual(["1rtt", "handshake", "initial"])
        for (const p of packets.filter((p) => p.header === "long")) expect(p.version).toBe(1)
        const peerPort = (p: Tshark.QuicPacket) => p.srcPort === port ? p.dstPort : p.srcPort
        expect(new Set(packets.map(peerPort))).toEqual(new Set(clientPorts.keys()))

        const lines = parseKeyLog(keyLogText)
        const randoms = clientRandoms(packets)
        expect(new Set(lines.map((l) => l.clientRandom)), "the key log has exactly the captured connections").toEqual(new Set(randoms))

        for (const [clientPort, suite] of clientPorts) {
          const connection = packets.filter((p) => peerPort(p) === clientPort)
          const context = `${suite.name} (client port ${clientPort})`

          // The suite tshark read in the ServerHello (an Initial packet; a retransmission repeats it).
          expect([...new Set(connection.flatMap((p) => p.cipherSuite ?? []))], context).toEqual([suite.code])

          // The frames tshark found in the decrypted payloads.
          const handshake = connection.filter((p) => p.type !== "1rtt")
          const oneRtt = connection.filter((p) => p.type === "1rtt")
          expect(Tshark.countFrames(handshake.filter((p) => p.type === "handshake"), Tshark.FrameType.CRYPTO), context).toBeGreaterThan(0)
          expect(Tshark.countFrames(connection, Tshark.FrameType.ACK), context).toBeGreaterThan(0)
          expect(Tshark.countFrames(oneRtt, Tshark.FrameType.HANDSHAKE_DONE), context).toBeGreaterThan(0)
          expect(Tshark.countFrames(oneRtt, Tshark.FrameType.STREAM), context).toBeGreaterThan(0)
          expect(Tshark.countFrames(oneRtt, Tshark.FrameType.DATAGRAM), `${context}: a datagram each way`).toBe(2)
          expect(Tshark.countFrames(oneRtt, Tshark.FrameType.CONNECTION_CLOSE), context).toBeGreaterThan(0)

          // Both key phases were decrypted, in both directions, and phase 1 carried stream data.
          for (const [direction, of] of [["to server", oneRtt.filter((p) => p.dstPort === port)], ["to client", oneRtt.filter((p) => p.srcPort === port)]] as const) {
            expect(of.filter((p) => p.keyPhase === 0).length, `${context} ${direction}: key phase 0`).toBeGreaterThan(0)
            const phase1 = of.filter((p) => p.keyPhase === 1)
            expect(Tshark.countFrames(phase1, Tshark.FrameType.STREAM), `${context} ${direction}: STREAM in key phase 1`).toBeGreaterThan(0)
          }

          // The key log: every secret for this connection's client random, of the suite's hash length.
          const random = clientRandoms(connection)
          expect(random, context).toHaveLength(1)
          const secrets = secretsFor(lines, random[0]!)
          expect([...secrets.keys()].sort(), context).toEqual([
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            "CLIENT_TRAFFIC_SECRET_0",
            "CLIENT_TRAFFIC_SECRET_1",
            "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            "SERVER_TRAFFIC_SECRET_0",
            "SERVER_TRAFFIC_SECRET_1"
          ])
          for (const secret of secrets.values()) expect(secret.length / 2, context).toBe(suite.hashLength)
          // tshark derived phase 1 from the _0 lines; the _1 lines must be that same derivation.
          for (const side of ["CLIENT", "SERVER"]) {
            expect(secrets.get(`${side}_TRAFFIC_SECRET_1`), `${context}: ${side}_TRAFFIC_SECRET_1 = quic ku of _0`)
              .toBe(nextTrafficSecret(secrets.get(`${side}_TRAFFIC_SECRET_0`)!))
          }
        }

        // Negative controls: without the right secrets tshark decrypts only the Initials.
        for (const [name, decoded] of [["wrong", wrong], ["empty", empty]] as const) {
          expect(decoded.length, `${name} key log: same packets`).toBe(packets.length)
          expect(Tshark.decryptedCounts(decoded, "initial").decrypted, `${name}: Initials need no key log`)
            .toBe(Tshark.decryptedCounts(decoded, "initial").total)
          expect(Tshark.decryptedCounts(decoded, "handshake"), `${name}: Handshake`).toEqual({ total: types.handshake, decrypted: 0 })
          expect(Tshark.decryptedCounts(decoded, "1rtt"), `${name}: 1-RTT`).toEqual({ total: types["1rtt"], decrypted: 0 })
        }

        // qlog: every trace well-formed, and each connection's two traces against what tshark decrypted.
        for (const trace of traces) QlogCheck.expectWellFormed(trace)
        const connections = QlogCheck.pair(traces, packets, port)
        expect(connections).toHaveLength(suites.length)
        for (const c of connections) {
          const suite = clientPorts.get(c.fromClient[0]!.srcPort)!
          const context = `${suite.name} (${c.odcid})`
          QlogCheck.expectTraceMatchesWire(c.client, c.fromClient, c.fromServer)
          QlogCheck.expectTraceMatchesWire(c.server, c.fromServer, c.fromClient)
          QlogCheck.expectKeyUpdateMatchesWire(c)
          // The frames the issue names went out on the wire, so (by the match above) in qlog too.
          const sentFrames = (packets: ReadonlyArray<QlogCheck.WirePacket>) => new Set(packets.flatMap((p) => p.frames.map((f) => f.frame_type)))
          for (const frame of ["crypto", "stream", "ack", "datagram"]) {
            expect(sentFrames(c.fromClient), `${context}: the client sent ${frame}`).toContain(frame)
            expect(sentFrames(c.fromServer), `${context}: the server sent ${frame}`).toContain(frame)
          }
          expect(sentFrames(c.fromServer), `${context}: HANDSHAKE_DONE`).toContain("handshake_done")
          // The client logs the suite tshark read in the ServerHello.
          const remote = c.client.events.find((e) => e.name === "transport:parameters_set" && e.data.owner === "remote")
          expect(remote?.data.tls_cipher, context).toBe(suiteNames[suite.code])
        }
      }).pipe(Effect.provide(NodeCrypto.layer)), 30_000)

    it.scopedLive("0-RTT on a resumed connection decrypts with CLIENT_EARLY_TRAFFIC_SECRET, and qlog logs it sent and accepted", () =>
      Effect.gen(function*() {
        const dir = yield* workDir
        const keyLogFile = path.join(dir, "sslkeylog.txt")
        const qlogDir = path.join(dir, "qlog")
        fs.writeFileSync(keyLogFile, "")
        const { port, closes } = yield* echoServer(serverConfig({ earlyData: true }, observability(keyLogFile, qlogDir)))
        const recording = yield* Tshark.capture({ ports: [port], file: path.join(dir, "capture.pcapng") })

        // AES-128-GCM, not the default ChaCha20-Poly1305: tshark's 0-RTT decryption tries
        // AES-128-GCM first and keeps it when the tag then fails (Wireshark's quic_create_0rtt_decoder).
        const { endpoint: client } = yield* endpointOn(
          clientConfig({ earlyData: true }, { ...observability(keyLogFile, qlogDir), cipherSuites: ["aes128gcm"] })
        )
        // A full handshake; the ticket arrives with the handshake's last flight, before the echo.
        yield* Effect.scoped(Effect.gen(function*() {
          const connection = yield* client.connect({ address: "127.0.0.1", port }, { serverName: "localhost" })
          yield* echoStream(connection, [pattern(KB, 3)])
          expect(yield* connection.resumed).toBe(false)
          yield* closeAndWait(connection, closes)
        }))
        // Resumed: connect returns on 0-RTT keys and the first write goes out as 0-RTT.
        yield* Effect.scoped(Effect.gen(function*() {
          const connection = yield* client.connect({ address: "127.0.0.1", port }, { serverName: "localhost" })
          expect(yield* connection.is0Rtt).toBe(true)
          yield* echoStream(connection, [pattern(4 * KB, 4)])
          expect(yield* connection.accepted0Rtt).toBe(true)
          expect(yield* connection.resumed).toBe(true)
          yield* closeAndWait(connection, closes)
        }))
        yield* recording.stop

        const keyLogText = fs.readFileSync(keyLogFile, "utf8")
        const withoutEarly = path.join(dir, "without-early.txt")
        fs.writeFileSync(withoutEarly, keyLogText.split("\n").filter((l) => !l.startsWith("CLIENT_EARLY_TRAFFIC_SECRET ")).join("\n"))
        const [packets, noEarly, traces] = yield* Effect.all([
          QlogCheck.decode({ file: recording.file, port, keyLogFile }),
          Tshark.decode({ file: recording.file, port, keyLogFile: withoutEarly }),
          QlogCheck.readTraces(qlogDir, 4)
        ], { concurrency: "unbounded" })

        expectAllDecrypted(packets)
        const early = packets.filter((p) => p.type === "0rtt")
        expect(early.length, summary(packets)).toBeGreaterThan(0)
        expect(early.every((p) => p.dstPort === port)).toBe(true)
        expect(Tshark.countFrames(early, Tshark.FrameType.STREAM)).toBeGreaterThan(0)

        // Two connections; the second one's client random has the early secret.
        const randoms = clientRandoms(packets)
        expect(randoms).toHaveLength(2)
        expect(new Set(parseKeyLog(keyLogText).map((l) => l.clientRandom))).toEqual(new Set(randoms))
        const lines = parseKeyLog(keyLogText)
        const first = secretsFor(lines, randoms[0]!)
        const resumed = secretsFor(lines, randoms[1]!)
        expect(first.has("CLIENT_EARLY_TRAFFIC_SECRET")).toBe(false)
        for (const label of ["CLIENT_EARLY_TRAFFIC_SECRET", "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"]) {
          expect(resumed.has(label), label).toBe(true)
        }

        // Negative control: without that one line, exactly the 0-RTT packets stay encrypted.
        expect(noEarly.length).toBe(packets.length)
        expect(Tshark.decryptedCounts(noEarly, "0rtt")).toEqual({ total: early.length, decrypted: 0 })
        const others = noEarly.filter((p) => p.type !== "0rtt")
        expect(others.filter((p) => !p.decrypted), summary(others)).toEqual([])

        // qlog: both connections' traces against the wire; the 0-RTT packets logged as sent and accepted.
        for (const trace of traces) QlogCheck.expectWellFormed(trace)
        const connections = QlogCheck.pair(traces, packets, port)
        expect(connections.map((c) => c.fromClient.some((p) => p.clientRandom === randoms[1]))).toEqual([false, true])
        for (const c of connections) {
          QlogCheck.expectTraceMatchesWire(c.client, c.fromClient, c.fromServer)
          QlogCheck.expectTraceMatchesWire(c.server, c.fromServer, c.fromClient)
        }
        const [full, resumedConnection] = connections as [QlogCheck.Connection, QlogCheck.Connection]
        const zeroRtt = (trace: QlogCheck.Trace, name: string) =>
          trace.events.filter((e) => e.name === name && e.data.header.packet_type === "0RTT").map((e) => e.data.header.packet_number).sort((a, b) => a - b)
        const earlyKeys = (trace: QlogCheck.Trace) =>
          trace.events.filter((e) => e.name === "security:key_updated" && e.data.key_type === "client_0rtt_secret")
        expect(zeroRtt(full.client, "transport:packet_sent")).toEqual([])
        expect(earlyKeys(full.client)).toEqual([])
        const early0 = resumedConnection.fromClient.filter((p) => p.type === "0rtt").map((p) => Number(p.packetNumber)).sort((a, b) => a - b)
        expect(zeroRtt(resumedConnection.client, "transport:packet_sent"), "0-RTT packets logged as sent: those on the wire").toEqual(early0)
        // Accepted: the server decrypted and logged every one of them.
        expect(zeroRtt(resumedConnection.server, "transport:packet_received"), "0-RTT packets the server logged as received").toEqual(early0)
        for (const trace of [resumedConnection.client, resumedConnection.server]) {
          expect(earlyKeys(trace).map((e) => e.data.trigger), `${trace.file}: client_0rtt_secret installed`).toEqual(["tls"])
        }
      }).pipe(Effect.provide(NodeCrypto.layer)), 30_000)
  }
)
