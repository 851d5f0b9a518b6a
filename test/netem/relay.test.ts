import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { addressKey, type SocketAddress } from "../../src/internal/address.js"
import { type Faults, noFaults } from "../../src/netem/faults.js"
import * as Relay from "../../src/netem/relay.js"
import { client, echoServer, type Peer } from "../support/udpPeers.js"

// The relay between plain node:dgram sockets on loopback, with the live
// clock. Timing is only ever bounded from below: the machine is shared.

const payload = (length: number, seed: number) => Uint8Array.from({ length }, (_, i) => (i * 13 + seed) & 0xff)

const relayTo = (server: Peer, options: Omit<Partial<Relay.RelayOptions>, "faults"> & { readonly faults?: Partial<Faults> } = {}) => {
  const family = server.address.address.includes(":") ? "udp6" : "udp4"
  return Relay.make({
    ...options,
    listen: { address: server.address.address, port: 0, family },
    server: { ...server.address, family },
    faults: { ...noFaults, ...options.faults },
    seed: options.seed ?? 1
  })
}

/** Sends `data` until a reply arrives (at most `tries` times, 100 ms apart); the number of replies before it. */
const pingUntilReply = (peer: Peer, to: SocketAddress, data: Uint8Array, tries = 20) =>
  Effect.gen(function*() {
    const before = peer.received.length
    for (let i = 0; i < tries; i++) {
      peer.send(data, to)
      const replied = yield* peer.waitFor(before + 1, 100).pipe(Effect.option)
      if (replied._tag === "Some") return
    }
    return yield* Effect.fail(new Error("no reply through the relay"))
  })

const sleep = (millis: number) => Effect.sleep(`${millis} millis`)

describe("netem relay", () => {
  for (const host of ["127.0.0.1", "::1"]) {
    it.scopedLive(`forwards both ways byte for byte with no faults (${host})`, () =>
      Effect.gen(function*() {
        const server = yield* echoServer(host)
        const relay = yield* relayTo(server)
        expect(relay.listenAddress.address).toBe(host)
        expect(relay.listenAddress.port).toBeGreaterThan(0)
        const peer = yield* client(host)
        const sent = [0, 1, 2, 100, 1200, 1452, 9000, 65507].map((length, i) => payload(length, i))
        for (const data of sent) peer.send(data, relay.listenAddress)
        const echoed = yield* peer.waitFor(sent.length)
        expect(echoed.map((r) => Uint8Array.from(r.data))).toEqual(sent)
        for (const r of echoed) expect(r.from).toEqual(relay.listenAddress)
        const atServer = server.received
        expect(atServer.map((r) => Uint8Array.from(r.data))).toEqual(sent)
        // One server-facing socket, not the client's own.
        expect(new Set(atServer.map((r) => addressKey(r.from))).size).toBe(1)
        expect(atServer[0]!.from.port).not.toBe(peer.address.port)
      }))
  }

  it.scopedLive("gives each client address its own server-facing socket, and each its own replies", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const relay = yield* relayTo(server)
      const peers = [yield* client(), yield* client(), yield* client()]
      peers.forEach((peer, i) => peer.send(payload(10 + i, i), relay.listenAddress))
      for (const [i, peer] of peers.entries()) {
        const [reply] = yield* peer.waitFor(1)
        expect(Uint8Array.from(reply!.data)).toEqual(payload(10 + i, i))
      }
      yield* server.waitFor(3)
      const portBySize = new Map(server.received.map((r) => [r.data.length, r.from.port]))
      expect(new Set(portBySize.values()).size).toBe(3)
      // And the mapping stays: a second datagram leaves from the same socket.
      peers[1]!.send(payload(11, 1), relay.listenAddress)
      yield* server.waitFor(4)
      expect(server.received[3]!.from.port).toBe(portBySize.get(11))
      yield* sleep(50)
      expect(peers.map((p) => p.received.length)).toEqual([1, 2, 1])
    }))

  it.scopedLive("--delay 50: the round trip takes at least 100 ms", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const relay = yield* relayTo(server, { faults: { delay: 50 } })
      const peer = yield* client()
      for (let i = 0; i < 3; i++) {
        const started = performance.now()
        peer.send(payload(100, i), relay.listenAddress)
        yield* peer.waitFor(i + 1)
        expect(performance.now() - started).toBeGreaterThanOrEqual(100)
      }
    }))

  it.scopedLive("--drop-to-server 2-7 and --drop-to-client 1: exactly those datagrams are missing", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const relay = yield* relayTo(server, { faults: { dropToServer: [[2, 7]], dropToClient: [[1, 1]] } })
      const peer = yield* client()
      for (let i = 1; i <= 10; i++) {
        peer.send(Uint8Array.of(i), relay.listenAddress)
        // One at a time, so that the server's replies are numbered as the client's datagrams.
        if (i === 1 || i >= 8) yield* server.waitFor(i === 1 ? 1 : i - 6)
      }
      expect(server.received.map((r) => r.data[0])).toEqual([1, 8, 9, 10])
      yield* peer.waitFor(3)
      yield* sleep(50)
      expect(peer.received.map((r) => r.data[0])).toEqual([8, 9, 10])
    }))

  /** Pings until the echo server has seen the client from `count` server-facing sockets; then a reply must still come back. */
  const rebinding = (options: Partial<Relay.RelayOptions>, count: number) =>
    Effect.gen(function*() {
      const log = join(mkdtempSync(join(tmpdir(), "netem-")), "rebind.jsonl")
      const server = yield* echoServer()
      const relay = yield* relayTo(server, { ...options, log })
      const peer = yield* client()
      const seen = () => [...new Set(server.received.map((r) => addressKey(r.from)))]
      for (let i = 0; seen().length < count; i++) {
        if (i > 200) return yield* Effect.fail(new Error(`only ${seen().join(", ")}`))
        peer.send(payload(20, i), relay.listenAddress)
        yield* sleep(25)
      }
      const latest = seen()[count - 1]!
      yield* pingUntilReply(peer, relay.listenAddress, payload(30, 0))
      // The datagram that got its answer left from the newest socket.
      const answered = server.received.filter((r) => r.data.length === 30).map((r) => addressKey(r.from))
      expect(answered).toContain(latest)
      // The log (written out every 200 ms) has a rebind line for each socket the server saw, in order.
      const rebindLines = () =>
        readFileSync(log, "utf8").split("\n").filter((l) => l.includes(`"rebind"`)).map((l) => JSON.parse(l) as Record<string, any>)
      for (let i = 0; rebindLines().length < count - 1 && i < 100; i++) yield* sleep(50)
      const rebinds = rebindLines()
      for (const r of rebinds) expect(Object.keys(r)).toEqual(["t", "event", "client", "from", "to"])
      rebinds.slice(1).forEach((r, i) => expect(r.from).toBe(rebinds[i]!.to))
      expect(new Set(rebinds.map((r) => r.client))).toEqual(new Set([addressKey(peer.address)]))
      const chain = [rebinds[0]!.from, ...rebinds.map((r) => r.to)]
      const positions = seen().map((source) => chain.indexOf(source))
      expect(positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1]!))).toBe(true)
      return server.received.map((r) => r.from)
    })

  it.scopedLive("--rebind-port: the server sees the client from a new port, and replies still arrive", () =>
    Effect.gen(function*() {
      const sources = yield* rebinding({ rebindPort: 200 }, 3)
      expect(new Set(sources.map((s) => s.address))).toEqual(new Set(["127.0.0.1"]))
      expect(new Set(sources.map((s) => s.port)).size).toBeGreaterThanOrEqual(3)
    }))

  it.scopedLive("--rebind-addr: the server sees the client from 127.0.0.2, then 127.0.0.3, and replies still arrive", () =>
    Effect.gen(function*() {
      const sources = yield* rebinding({ rebindAddr: 200 }, 3)
      const addresses = [...new Set(sources.map((s) => s.address))]
      expect(addresses).toEqual(["127.0.0.1", "127.0.0.2", "127.0.0.3"])
    }))

  it.effect("--rebind-addr needs an IPv4 loopback server", () =>
    Effect.gen(function*() {
      const error = yield* Relay.make({
        listen: { address: "::1", port: 0, family: "udp6" },
        server: { address: "::1", port: 4433, family: "udp6" },
        faults: noFaults,
        seed: 1,
        rebindAddr: 100
      }).pipe(Effect.scoped, Effect.flip)
      expect(error.reason).toBe("Usage")
    }))

  // No rebinding here: echoes sent to a server-facing socket just replaced never reach the relay, so no line has them.
  it.live("the log has one line per datagram, matching what was sent and received", () =>
    Effect.gen(function*() {
      const log = join(mkdtempSync(join(tmpdir(), "netem-")), "relay.jsonl")
      const sizes = Array.from({ length: 300 }, (_, i) => 1 + ((i * 37) % 1400))
      const { server, peer } = yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* echoServer()
        const relay = yield* relayTo(server, { faults: { loss: 20, lossBurst: 2, corrupt: 5, delay: 5, jitter: 3 }, seed: 3, log })
        const peer = yield* client()
        for (const [i, size] of sizes.entries()) {
          peer.send(payload(size, i), relay.listenAddress)
          if (i % 10 === 9) yield* sleep(10)
        }
        yield* sleep(300)
        return { server, peer }
      }))
      const lines = readFileSync(log, "utf8").trim().split("\n").map((line) => JSON.parse(line) as Record<string, any>)
      const datagrams = lines.filter((l) => l.event === undefined)
      const toServer = datagrams.filter((l) => l.dir === "to_server")
      const toClient = datagrams.filter((l) => l.dir === "to_client")
      const delivered = (records: ReadonlyArray<Record<string, any>>) => records.filter((l) => l.fate !== "dropped")
      // Every datagram the client sent, each once, with its size.
      expect(toServer.map((l) => l.size).sort((a, b) => a - b)).toEqual([...sizes].sort((a, b) => a - b))
      expect(delivered(toServer).length).toBe(server.received.length)
      expect(delivered(toServer).reduce((n, l) => n + l.size, 0)).toBe(server.received.reduce((n, r) => n + r.data.length, 0))
      // Every echo, and what reached the client.
      expect(toClient.length).toBe(server.received.length)
      expect(delivered(toClient).length).toBe(peer.received.length)
      expect(delivered(toClient).reduce((n, l) => n + l.size, 0)).toBe(peer.received.reduce((n, r) => n + r.data.length, 0))
      const reasons = new Set(datagrams.map((l) => l.reason))
      expect(reasons).toEqual(new Set([null, "loss", "burst"]))
      expect(datagrams.some((l) => l.fate === "corrupted")).toBe(true)
      for (const l of datagrams) {
        expect(Object.keys(l)).toEqual(["t", "dir", "size", "fate", "reason", "delay", "client", "via"])
        expect(l.client).toBe(addressKey(peer.address))
        expect(l.via).toMatch(/^127\.0\.0\.1:\d+$/)
        if (l.fate === "dropped") expect(l.delay).toBeNull()
        else expect(l.delay).toBeGreaterThanOrEqual(2)
      }
      // A datagram's via is the socket that actually carried it to the server.
      const vias = new Set(delivered(toServer).map((l) => l.via))
      expect(new Set(server.received.map((r) => addressKey(r.from)))).toEqual(vias)
    }))
})
