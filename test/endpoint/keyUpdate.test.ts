import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../src/internal/codec/hex.js"
import { nextTrafficSecret } from "../../src/internal/crypto/packetKeys.js"
import { TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 } from "../../src/internal/crypto/suite.js"
import { QUIC_V1 } from "../../src/internal/packet/version.js"
import { backends } from "../helpers.js"
import { CLIENT, type LinkModel, makePair, perfectLink, SERVER } from "../support/link.js"
import { dispatch, firstConnection, Transfer } from "../support/scenario.js"

/**
 * RFC 9001 §6: 1-RTT key updates in the middle of a transfer, initiated by
 * either side or automatically, with the NSS key log naming every key
 * generation (CLIENT_/SERVER_TRAFFIC_SECRET_N).
 */

const [, backend] = backends[0]!
const MB = 1 << 20

interface KeyLogEntry {
  readonly label: string
  readonly clientRandom: string
  readonly secret: string
}

const parseLog = (lines: ReadonlyArray<string>): Array<KeyLogEntry> =>
  lines.map((line) => {
    const [label, clientRandom, secret] = line.split(" ")
    return { label: label!, clientRandom: clientRandom!, secret: secret! }
  })

/** The secrets logged under `label`, in order. */
const secretsOf = (log: ReadonlyArray<KeyLogEntry>, label: string): Array<string> => log.filter((e) => e.label === label).map((e) => e.secret)

/** RFC 9001 §6.1: secret_<n+1> = HKDF-Expand-Label(secret_<n>, "quic ku", "", Hash.length). */
const next = (secretHex: string): string => {
  const secret = fromHex(secretHex)
  const suite = secret.length === 48 ? TLS_AES_256_GCM_SHA384 : TLS_AES_128_GCM_SHA256
  return toHex(nextTrafficSecret(backend, suite, QUIC_V1, secret))
}

const setup = (options: { keyUpdateInterval?: number; model?: LinkModel } = {}) => {
  const clientLog: Array<string> = []
  const serverLog: Array<string> = []
  const pair = makePair(backend, options.model ?? perfectLink, {
    client: { keyLog: (line) => clientLog.push(line) },
    server: { keyLog: (line) => serverLog.push(line) },
    ...(options.keyUpdateInterval === undefined ? {} : { transport: { keyUpdateInterval: options.keyUpdateInterval } })
  })
  const transfer = new Transfer(pair.network, pair.client, pair.server, 5 * MB)
  dispatch(pair.network, transfer.handle)
  pair.client.connect(pair.network.now, SERVER, "localhost")
  return { ...pair, transfer, clientLog, serverLog }
}

/** Both sides logged `label` generation `n` once, with the same secret, derived from generation n-1. */
const expectGeneration = (client: ReadonlyArray<KeyLogEntry>, server: ReadonlyArray<KeyLogEntry>, side: "CLIENT" | "SERVER", n: number) => {
  const previous = secretsOf(client, `${side}_TRAFFIC_SECRET_${n - 1}`)
  expect(previous).toHaveLength(1)
  const expected = next(previous[0]!)
  expect(secretsOf(client, `${side}_TRAFFIC_SECRET_${n}`)).toEqual([expected])
  expect(secretsOf(server, `${side}_TRAFFIC_SECRET_${n}`)).toEqual([expected])
}

describe("1-RTT key update (RFC 9001 §6) during a 5 MB transfer", () => {
  it("client-initiated update mid-transfer: transfer byte-exact, both directions move to generation 1", () => {
    const { network, client, transfer, clientLog, serverLog } = setup()
    expect(network.run(() => transfer.receivedBytes >= 1 * MB, 60_000_000)).toBe(true)
    expect(transfer.finished).toBe(false)
    expect(client.initiateKeyUpdate(network.now, transfer.conn)).toBe(true)
    // §6.1: no second update before a packet of the new phase is acknowledged.
    expect(client.initiateKeyUpdate(network.now, transfer.conn)).toBe(false)
    network.pump(client)
    expect(network.run(() => transfer.finished, 600_000_000)).toBe(true)
    expect(transfer.exact).toBe(true)

    const c = parseLog(clientLog)
    const s = parseLog(serverLog)
    // One client random names every line of one connection, on both sides.
    expect(new Set(c.map((e) => e.clientRandom)).size).toBe(1)
    expect(new Set(s.map((e) => e.clientRandom))).toEqual(new Set(c.map((e) => e.clientRandom)))
    expect(secretsOf(c, "CLIENT_TRAFFIC_SECRET_0")).toEqual(secretsOf(s, "CLIENT_TRAFFIC_SECRET_0"))
    expect(secretsOf(c, "SERVER_TRAFFIC_SECRET_0")).toEqual(secretsOf(s, "SERVER_TRAFFIC_SECRET_0"))
    // The client's own update, and the server's answer it read (§6.2).
    expect(secretsOf(c, "CLIENT_TRAFFIC_SECRET_1")).toEqual([next(secretsOf(c, "CLIENT_TRAFFIC_SECRET_0")[0]!)])
    expect(secretsOf(c, "SERVER_TRAFFIC_SECRET_1")).toEqual([next(secretsOf(c, "SERVER_TRAFFIC_SECRET_0")[0]!)])
    // The server read the client's new keys.
    expect(secretsOf(s, "CLIENT_TRAFFIC_SECRET_1")).toEqual(secretsOf(c, "CLIENT_TRAFFIC_SECRET_1"))
    // No further update happened.
    expect(c.some((e) => e.label.endsWith("_2")) || s.some((e) => e.label.endsWith("_2"))).toBe(false)
    expect(client.connectionStats(transfer.conn)!.packetsLost).toBe(0)
    expect(client.connectionStats(transfer.conn)!.packetsDropped).toBe(0)
  })

  it("server-initiated update mid-transfer: transfer byte-exact, both directions move to generation 1", () => {
    const { network, server, transfer, clientLog, serverLog } = setup()
    expect(network.run(() => transfer.receivedBytes >= 2 * MB, 60_000_000)).toBe(true)
    const conn = firstConnection(network, SERVER)
    expect(conn).toBeGreaterThan(0)
    expect(server.initiateKeyUpdate(network.now, conn)).toBe(true)
    expect(server.initiateKeyUpdate(network.now, conn)).toBe(false)
    network.pump(server)
    expect(network.run(() => transfer.finished, 600_000_000)).toBe(true)
    expect(transfer.exact).toBe(true)
    const c = parseLog(clientLog)
    const s = parseLog(serverLog)
    expect(secretsOf(s, "SERVER_TRAFFIC_SECRET_1")).toEqual([next(secretsOf(s, "SERVER_TRAFFIC_SECRET_0")[0]!)])
    expect(secretsOf(c, "SERVER_TRAFFIC_SECRET_1")).toEqual(secretsOf(s, "SERVER_TRAFFIC_SECRET_1"))
    // The client answered (§6.2): the server read generation 1 of the client's keys.
    expect(secretsOf(s, "CLIENT_TRAFFIC_SECRET_1")).toEqual([next(secretsOf(s, "CLIENT_TRAFFIC_SECRET_0")[0]!)])
    expect(server.connectionStats(conn)!.packetsDropped).toBe(0)
  })

  it("client then server update: generations 1 and 2 in both directions, transfer byte-exact", () => {
    const { network, client, server, transfer, clientLog, serverLog } = setup()
    expect(network.run(() => transfer.receivedBytes >= 1 * MB, 60_000_000)).toBe(true)
    expect(client.initiateKeyUpdate(network.now, transfer.conn)).toBe(true)
    network.pump(client)
    expect(network.run(() => transfer.receivedBytes >= 3 * MB, 60_000_000)).toBe(true)
    const conn = firstConnection(network, SERVER)
    expect(server.initiateKeyUpdate(network.now, conn)).toBe(true)
    network.pump(server)
    expect(network.run(() => transfer.finished, 600_000_000)).toBe(true)
    expect(transfer.exact).toBe(true)
    const c = parseLog(clientLog)
    const s = parseLog(serverLog)
    // What each side reads is logged on its side (the read path is fine):
    // client reads SERVER_n, server reads CLIENT_n, for n = 1, 2, chained.
    for (const n of [1, 2]) {
      expect(secretsOf(c, `SERVER_TRAFFIC_SECRET_${n}`)).toEqual([next(secretsOf(c, `SERVER_TRAFFIC_SECRET_${n - 1}`)[0]!)])
      expect(secretsOf(s, `CLIENT_TRAFFIC_SECRET_${n}`)).toEqual([next(secretsOf(s, `CLIENT_TRAFFIC_SECRET_${n - 1}`)[0]!)])
    }
    expect(c.filter((e) => e.label.endsWith("_3")).length + s.filter((e) => e.label.endsWith("_3")).length).toBe(0)
  })

  // REGRESSION (fails): the side answering a key update never logs its own new write secret.
  it("key log: the responder logs its answering write keys too (every generation of both directions on both sides)", () => {
    const { network, client, server, transfer, clientLog, serverLog } = setup()
    expect(network.run(() => transfer.receivedBytes >= 1 * MB, 60_000_000)).toBe(true)
    expect(client.initiateKeyUpdate(network.now, transfer.conn)).toBe(true)
    network.pump(client)
    expect(network.run(() => transfer.receivedBytes >= 3 * MB, 60_000_000)).toBe(true)
    expect(server.initiateKeyUpdate(network.now, firstConnection(network, SERVER))).toBe(true)
    network.pump(server)
    expect(network.run(() => transfer.finished, 600_000_000)).toBe(true)
    const c = parseLog(clientLog)
    const s = parseLog(serverLog)
    for (const side of ["CLIENT", "SERVER"] as const) {
      expectGeneration(c, s, side, 1)
      expectGeneration(c, s, side, 2)
    }
  })

  it("initiateKeyUpdate before the handshake is confirmed returns false (§6.1), on an unknown handle InvalidConnection", () => {
    const { network, client } = setup()
    const conn = 1
    expect(client.initiateKeyUpdate(network.now, conn)).toBe(false)
    expect(client.initiateKeyUpdate(network.now, 999)).toEqual({ _tag: "InvalidConnection" })
  })

  it("automatic key updates every 200 packets keep a 5 MB transfer going through many phases", () => {
    // A 40 Mbit/s bottleneck: the transfer spans ~50 round trips, so the
    // one-update-per-acknowledged-phase rule (§6.1) is not what limits the count.
    const model: LinkModel = { ...perfectLink, bandwidth: 5_000_000, queueBytes: 256 * 1024 }
    const { network, transfer, clientLog, serverLog } = setup({ keyUpdateInterval: 200, model })
    expect(network.run(() => transfer.finished, 600_000_000)).toBe(true)
    expect(transfer.exact).toBe(true)
    const c = parseLog(clientLog)
    const s = parseLog(serverLog)
    const generations = (log: ReadonlyArray<KeyLogEntry>, side: string) =>
      log.filter((e) => e.label.startsWith(`${side}_TRAFFIC_SECRET_`)).map((e) => Number(e.label.slice(side.length + 16)))
    const clientGenerations = generations(c, "CLIENT")
    // 5 MB is ~3,600 full packets from the client: at least a dozen phases.
    const highest = Math.max(...clientGenerations)
    expect(highest).toBeGreaterThanOrEqual(12)
    // Each generation is logged once and in order; each secret derives from the one before (§6.1).
    const chain = (log: ReadonlyArray<KeyLogEntry>, side: "CLIENT" | "SERVER") => {
      const gens = generations(log, side)
      expect(gens).toEqual(gens.map((_, i) => i))
      for (let n = 1; n < gens.length; n++) {
        expect(secretsOf(log, `${side}_TRAFFIC_SECRET_${n}`)).toEqual([next(secretsOf(log, `${side}_TRAFFIC_SECRET_${n - 1}`)[0]!)])
      }
      return gens.length - 1
    }
    // The client logs both directions (its own updates, and what it reads of the server's);
    // the server logs what it reads of the client's.
    const clientTop = chain(c, "CLIENT")
    const serverTopOnClient = chain(c, "SERVER")
    const clientTopOnServer = chain(s, "CLIENT")
    expect(clientTop).toBe(highest)
    expect(serverTopOnClient).toBeGreaterThanOrEqual(highest - 1)
    expect(clientTopOnServer).toBe(highest)
    expect(secretsOf(s, `CLIENT_TRAFFIC_SECRET_${highest}`)).toEqual(secretsOf(c, `CLIENT_TRAFFIC_SECRET_${highest}`))
    expect(network.eventsOf(CLIENT).some((e) => e._tag === "ConnectionClosed")).toBe(false)
  })
})
