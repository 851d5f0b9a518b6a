/**
 * qlog traces of a real exchange between two sans-IO endpoints on the
 * simulated network of test/support/link.ts: a handshake, a transfer under
 * 3% loss with 1-RTT key updates, and a clean close. Both traces are read
 * back record by record and checked against the JSON-SEQ framing, the qlog
 * 0.3 header, the quic-events names and fields, and against each other (what
 * one side logged as sent is what the other logged as received).
 */
import { beforeAll, describe, expect, it } from "vitest"
import { defaultTransportConfig } from "../../src/internal/config.js"
import { QuicEndpoint } from "../../src/internal/endpoint.js"
import type { QlogFactory } from "../../src/internal/qlog/types.js"
import { backends } from "../helpers.js"
import { CLIENT, endpointConfig, Network, perfectLink, SERVER } from "../support/link.js"
import { dispatch, Transfer } from "../support/scenario.js"
import { type CollectedTrace, collectingFactory, type QlogEvent, readTrace, spaceOf } from "./support.js"

const [, backend] = backends[0]!
const SIZE = 300_000
const START_UNIX_MS = Date.UTC(2026, 0, 1) + 1000

const makePair = (model: typeof perfectLink, seed: number, qlog: { client?: QlogFactory; server?: QlogFactory }, keyUpdateInterval?: number) => {
  const network = new Network(model, seed)
  const transport = keyUpdateInterval === undefined ? {} : { keyUpdateInterval }
  const server = network.add(
    SERVER,
    new QuicEndpoint({ ...endpointConfig({ role: "server", server: {}, transport, seed: 11 }), qlog: qlog.server }, SERVER, backend)
  )
  const client = network.add(
    CLIENT,
    new QuicEndpoint({ ...endpointConfig({ role: "client", client: {}, transport, seed: 22 }), qlog: qlog.client }, CLIENT, backend)
  )
  return { network, server, client }
}

/** Handshake, `SIZE` bytes client → server, close by the client, run until both connections are reaped. */
const exchange = (model: typeof perfectLink, seed: number, qlog: { client?: QlogFactory; server?: QlogFactory }, keyUpdateInterval?: number) => {
  const pair = makePair(model, seed, qlog, keyUpdateInterval)
  const { network, client, server } = pair
  const transfer = new Transfer(network, client, server, SIZE)
  dispatch(network, transfer.handle)
  const handle = client.connect(network.now, SERVER, "localhost")
  if (typeof handle !== "number") throw new Error(handle._tag)
  expect(network.run(() => transfer.exact, 120_000_000)).toBe(true)
  client.closeConnection(network.now, handle, 0n, "done")
  network.pump(client)
  expect(network.run(() => client.connectionCount === 0 && server.connectionCount === 0, 60_000_000)).toBe(true)
  return pair
}

const named = (events: ReadonlyArray<QlogEvent>, name: string) => events.filter((e) => e.name === name)

describe("qlog of a lossy transfer with key updates", () => {
  const { traces, factory } = collectingFactory()
  let client: CollectedTrace
  let server: CollectedTrace
  let c: ReturnType<typeof readTrace>
  let s: ReturnType<typeof readTrace>

  beforeAll(() => {
    exchange({ ...perfectLink, delay: 15_000, loss: 0.03 }, 7, { client: factory, server: factory }, 150)
    expect(traces).toHaveLength(2)
    client = traces.find((t) => t.info.side === "client")!
    server = traces.find((t) => t.info.side === "server")!
    c = readTrace(client.records)
    s = readTrace(server.records)
  })

  it("opens with a qlog 0.3 JSON-SEQ header naming the side and the original DCID, the same at both ends", () => {
    expect(client.info.odcid).toMatch(/^[0-9a-f]{16,40}$/)
    expect(server.info.odcid).toBe(client.info.odcid)
    for (const [trace, { header }] of [[client, c], [server, s]] as const) {
      expect(header.qlog_version).toBe("0.3")
      expect(header.qlog_format).toBe("JSON-SEQ")
      expect(header.trace.vantage_point.type).toBe(trace.info.side)
      expect(header.trace.common_fields.ODCID).toBe(trace.info.odcid)
      expect(header.trace.common_fields.group_id).toBe(trace.info.odcid)
      expect(header.trace.common_fields.time_format).toBe("relative")
    }
    // The client's connection starts with the run; the server's when the first Initial arrives.
    expect(c.header.trace.common_fields.reference_time).toBe(START_UNIX_MS)
    expect(s.header.trace.common_fields.reference_time).toBeGreaterThanOrEqual(START_UNIX_MS + 15)
    expect(s.header.trace.common_fields.reference_time).toBeLessThan(START_UNIX_MS + 5000)
  })

  it("writes events with a name, data and a non-decreasing relative time in ms", () => {
    for (const { events } of [c, s]) {
      let last = 0
      for (const event of events) {
        expect(typeof event.time).toBe("number")
        expect(event.time).toBeGreaterThanOrEqual(last)
        last = event.time
        expect(event.name).toMatch(/^(connectivity|transport|recovery|security):[a-z_]+$/)
        expect(typeof event.data).toBe("object")
      }
      // The transfer at 15 ms one way takes a few round trips: the times are in ms, not µs or s.
      expect(last).toBeGreaterThan(100)
      expect(last).toBeLessThan(60_000)
    }
  })

  it("logs every required event", () => {
    const required = [
      "connectivity:connection_started",
      "connectivity:connection_state_updated",
      "connectivity:connection_closed",
      "transport:version_information",
      "transport:parameters_set",
      "transport:packet_sent",
      "transport:packet_received",
      "transport:packets_acked",
      "recovery:metrics_updated",
      "security:key_updated",
      "security:key_discarded"
    ]
    for (const { events } of [c, s]) {
      const names = new Set(events.map((e) => e.name))
      for (const name of required) expect(names, name).toContain(name)
    }
    expect(named([...c.events, ...s.events], "recovery:packet_lost").length).toBeGreaterThan(0)
  })

  it("numbers sent packets strictly increasing within each space", () => {
    for (const { events } of [c, s]) {
      const last = new Map<string, number>()
      for (const { data } of named(events, "transport:packet_sent")) {
        const space = spaceOf(data.header.packet_type)
        expect(data.header.packet_number).toBeGreaterThan(last.get(space) ?? -1)
        last.set(space, data.header.packet_number)
      }
      expect([...last.keys()].sort()).toEqual(["application_data", "handshake", "initial"])
    }
  })

  it("reports lost and acknowledged only packets it sent before, each once", () => {
    for (const { events } of [c, s]) {
      const sent = new Set<string>()
      const fate = new Set<string>()
      for (const { name, data } of events) {
        if (name === "transport:packet_sent") sent.add(`${spaceOf(data.header.packet_type)}:${data.header.packet_number}`)
        if (name === "recovery:packet_lost") {
          const key = `${spaceOf(data.header.packet_type)}:${data.header.packet_number}`
          expect(sent.has(key), key).toBe(true)
          expect(fate.has(key), key).toBe(false)
          fate.add(key)
          expect(["reordering_threshold", "time_threshold"]).toContain(data.trigger)
        }
        if (name === "transport:packets_acked") {
          expect(data.packet_numbers.length).toBeGreaterThan(0)
          for (const pn of data.packet_numbers) {
            const key = `${data.packet_number_space}:${pn}`
            expect(sent.has(key), key).toBe(true)
            expect(fate.has(key), key).toBe(false)
            fate.add(key)
          }
        }
      }
    }
  })

  it("logs on receipt exactly the frames the sender logged for that packet", () => {
    for (const [from, to] of [[c, s], [s, c]] as const) {
      const sent = new Map<string, any>()
      for (const { data } of named(from.events, "transport:packet_sent")) {
        sent.set(`${spaceOf(data.header.packet_type)}:${data.header.packet_number}`, data)
      }
      const received = named(to.events, "transport:packet_received").filter((e) => e.data.header.packet_number !== undefined)
      expect(received.length).toBeGreaterThan(50)
      for (const { data } of received) {
        const original = sent.get(`${spaceOf(data.header.packet_type)}:${data.header.packet_number}`)
        expect(original).toBeDefined()
        expect(data.frames).toEqual(original.frames)
        expect(data.raw.length).toBe(original.raw.length)
        expect(data.header.packet_type).toBe(original.header.packet_type)
      }
    }
  })

  it("describes CRYPTO, STREAM, ACK and HANDSHAKE_DONE frames with the draft's fields", () => {
    const framesOf = (events: ReadonlyArray<QlogEvent>, type?: string) =>
      named(events, "transport:packet_sent")
        .filter((e) => type === undefined || e.data.header.packet_type === type)
        .flatMap((e) => e.data.frames as Array<any>)

    // The ClientHello starts at offset 0 of the Initial CRYPTO stream.
    const clientCrypto = framesOf(c.events, "initial").filter((f) => f.frame_type === "crypto")
    expect(clientCrypto.some((f) => f.offset === 0 && f.length > 100)).toBe(true)
    expect(framesOf(s.events, "handshake").some((f) => f.frame_type === "crypto")).toBe(true)

    // Stream 0 carries the transfer: its frames cover [0, SIZE) and one ends it with FIN.
    const stream = framesOf(c.events, "1RTT").filter((f) => f.frame_type === "stream")
    expect(stream.every((f) => f.stream_id === 0 && Number.isInteger(f.offset) && Number.isInteger(f.length) && typeof f.fin === "boolean")).toBe(
      true
    )
    const covered = new Uint8Array(SIZE)
    for (const f of stream) covered.fill(1, f.offset, f.offset + f.length)
    expect(covered.every((b) => b === 1)).toBe(true)
    expect(stream.some((f) => f.fin && f.offset + f.length === SIZE)).toBe(true)
    // Under loss some data went twice.
    expect(stream.reduce((n, f) => n + f.length, 0)).toBeGreaterThan(SIZE)

    // ACK ranges: inclusive [smallest, largest], ascending, disjoint; delays in ms.
    const acks = framesOf(s.events).filter((f) => f.frame_type === "ack")
    expect(acks.length).toBeGreaterThan(10)
    for (const ack of acks) {
      expect(ack.acked_ranges.length).toBeGreaterThan(0)
      let previous = -2
      for (const [low, high] of ack.acked_ranges) {
        expect(low).toBeLessThanOrEqual(high)
        expect(low).toBeGreaterThan(previous + 1)
        previous = high
      }
      expect(ack.ack_delay).toBeGreaterThanOrEqual(0)
      expect(ack.ack_delay).toBeLessThan(1000)
    }
    // Loss leaves gaps the server's ACKs report.
    expect(acks.some((a) => a.acked_ranges.length > 1)).toBe(true)

    // RFC 9000 §19.20: the server sends HANDSHAKE_DONE in 1-RTT; the client receives it.
    expect(framesOf(s.events, "1RTT").some((f) => f.frame_type === "handshake_done")).toBe(true)
    expect(framesOf(c.events).some((f) => f.frame_type === "handshake_done")).toBe(false)
    expect(
      named(c.events, "transport:packet_received").some((e) => e.data.frames.some((f: any) => f.frame_type === "handshake_done"))
    ).toBe(true)

    // The close: CONNECTION_CLOSE with the application's code and reason.
    const close = framesOf(c.events).find((f) => f.frame_type === "connection_close")
    expect(close).toMatchObject({ frame_type: "connection_close", error_space: "application", error_code: 0, reason: "done" })
  })

  it("gives headers the packet type, number and connection IDs", () => {
    const first = named(c.events, "transport:packet_sent")[0]!.data
    expect(first.header).toMatchObject({ packet_type: "initial", packet_number: 0, dcid: client.info.odcid, version: "00000001" })
    expect(first.header.scid).toMatch(/^[0-9a-f]{16}$/)
    expect(first.raw.length).toBeGreaterThanOrEqual(1200)
    // The server's first packet is one of the client's Initials (the very first may be lost).
    const firstReceived = named(s.events, "transport:packet_received")[0]!.data
    expect(firstReceived.header).toMatchObject({ packet_type: "initial", dcid: client.info.odcid, scid: first.header.scid, version: "00000001" })
    expect(firstReceived.header.token).toEqual({ raw: { length: 0 } })
    const clientInitials = named(c.events, "transport:packet_sent").filter((e) => e.data.header.packet_type === "initial")
    expect(clientInitials.map((e) => e.data.header.packet_number)).toContain(firstReceived.header.packet_number)
    // After the server's first Initial the client addresses the server's chosen CID.
    const serverScid = named(s.events, "transport:packet_sent")[0]!.data.header.scid
    expect(named(c.events, "transport:packet_sent").at(-1)!.data.header.dcid).not.toBe(client.info.odcid)
    expect(named(c.events, "transport:packet_sent").some((e) => e.data.header.dcid === serverScid)).toBe(true)
  })

  it("logs lost packets with the frames they carried", () => {
    const lost = named(c.events, "recovery:packet_lost").filter((e) => e.data.header.packet_type === "1RTT")
    expect(lost.length).toBeGreaterThan(0)
    expect(lost.some((e) => e.data.frames.some((f: any) => f.frame_type === "stream" && f.stream_id === 0))).toBe(true)
  })

  it("logs recovery metrics in ms and bytes, only when they change", () => {
    for (const { events } of [c, s]) {
      const metrics = named(events, "recovery:metrics_updated")
      expect(metrics.length).toBeGreaterThan(10)
      for (const { data } of metrics) expect(Object.keys(data).length).toBeGreaterThan(0)
      const fields = new Set(metrics.flatMap((m) => Object.keys(m.data)))
      for (const field of ["min_rtt", "smoothed_rtt", "latest_rtt", "rtt_variance", "congestion_window", "bytes_in_flight", "pto_count"]) {
        expect(fields, field).toContain(field)
      }
      // A round trip is 30 ms on this link.
      const minRtts = metrics.flatMap((m) => (m.data.min_rtt === undefined ? [] : [m.data.min_rtt]))
      expect(minRtts.at(-1)).toBeGreaterThanOrEqual(30)
      expect(minRtts.at(-1)).toBeLessThan(60)
      // Consecutive events never repeat a value.
      const last: Record<string, number> = {}
      for (const { data } of metrics) {
        for (const [key, value] of Object.entries(data as Record<string, number>)) {
          expect(value, key).not.toBe(last[key])
          last[key] = value
        }
      }
    }
    // The client, the sender, saw a loss: ssthresh set.
    expect(named(c.events, "recovery:metrics_updated").some((m) => typeof m.data.ssthresh === "number")).toBe(true)
  })

  it("logs key installation, key updates by generation and discarded keys", () => {
    const keys = (events: ReadonlyArray<QlogEvent>) => named(events, "security:key_updated").map((e) => e.data)
    for (const { events } of [c, s]) {
      const updated = keys(events)
      for (const type of ["client_initial_secret", "server_initial_secret", "client_handshake_secret", "server_handshake_secret"]) {
        expect(updated.some((k) => k.key_type === type && k.trigger === "tls")).toBe(true)
      }
      for (const type of ["client_1rtt_secret", "server_1rtt_secret"]) {
        expect(updated.some((k) => k.key_type === type && k.trigger === "tls" && k.generation === 0)).toBe(true)
        // Generations after the first come from key updates and count up by one.
        const generations = updated.filter((k) => k.key_type === type && k.trigger !== "tls").map((k) => k.generation)
        expect(generations.length).toBeGreaterThan(0)
        expect(generations).toEqual(generations.map((_, i) => i + 1))
      }
      const discarded = named(events, "security:key_discarded").map((e) => e.data.key_type).sort()
      expect(discarded).toEqual(["client_handshake_secret", "client_initial_secret", "server_handshake_secret", "server_initial_secret"])
    }
    // The interval (150 packets) makes the sender start updates; the receiver answers them.
    expect(keys(c.events).some((k) => k.key_type === "client_1rtt_secret" && k.trigger === "local_update")).toBe(true)
    expect(keys(s.events).some((k) => k.key_type === "client_1rtt_secret" && k.trigger === "remote_update")).toBe(true)
  })

  it("logs local and remote transport parameters, each side's remote being the other's local", () => {
    const params = (events: ReadonlyArray<QlogEvent>, owner: string) =>
      named(events, "transport:parameters_set").filter((e) => e.data.owner === owner).map((e) => e.data)
    for (const { events } of [c, s]) {
      expect(params(events, "local")).toHaveLength(1)
      expect(params(events, "remote")).toHaveLength(1)
    }
    const serverLocal = params(s.events, "local")[0]!
    expect(serverLocal.initial_max_data).toBe(defaultTransportConfig.initialMaxData)
    expect(serverLocal.max_idle_timeout).toBe(defaultTransportConfig.maxIdleTimeout)
    expect(serverLocal.original_destination_connection_id).toBe(client.info.odcid)
    const { owner: _a, tls_cipher, ...clientRemote } = params(c.events, "remote")[0]!
    const { owner: _b, ...serverLocalRest } = serverLocal
    expect(clientRemote).toEqual(serverLocalRest)
    expect(tls_cipher).toMatch(/^TLS_/)
    const { owner: _c, tls_cipher: _d, ...serverRemote } = params(s.events, "remote")[0]!
    const { owner: _e, ...clientLocal } = params(c.events, "local")[0]!
    expect(serverRemote).toEqual(clientLocal)
  })

  it("walks the connection states in order and ends with closed, closing the writer once", () => {
    const states = (events: ReadonlyArray<QlogEvent>) => named(events, "connectivity:connection_state_updated").map((e) => e.data.new)
    expect(states(c.events)).toEqual(["attempted", "handshake_complete", "handshake_confirmed", "closing", "closed"])
    expect(states(s.events)).toEqual(["handshake_started", "handshake_complete", "handshake_confirmed", "draining", "closed"])
    for (const [trace, { events }] of [[client, c], [server, s]] as const) {
      expect(trace.closed).toBe(1)
      expect(events.at(-1)).toMatchObject({ name: "connectivity:connection_state_updated", data: { new: "closed" } })
    }
    expect(named(c.events, "connectivity:connection_closed")[0]!.data).toMatchObject({ owner: "local", application_code: 0, reason: "done" })
    expect(named(s.events, "connectivity:connection_closed")[0]!.data).toMatchObject({ owner: "remote", application_code: 0, reason: "done" })
  })

  it("names the versions and the connection's addresses", () => {
    expect(named(c.events, "transport:version_information")[0]!.data).toMatchObject({ chosen_version: "00000001" })
    expect(named(c.events, "transport:version_information")[0]!.data.client_versions).toContain("00000001")
    expect(named(s.events, "transport:version_information")[0]!.data.server_versions).toContain("6b3343cf")
    expect(named(c.events, "connectivity:connection_started")[0]!.data).toMatchObject({
      ip_version: "ipv4",
      dst_ip: SERVER.address,
      dst_port: SERVER.port,
      dst_cid: client.info.odcid
    })
    expect(named(s.events, "connectivity:connection_started")[0]!.data).toMatchObject({ dst_ip: CLIENT.address, dst_port: CLIENT.port })
  })
})

describe("qlog factories that decline or fail", () => {
  it("a factory returning undefined logs nothing and changes nothing on the wire", () => {
    const calls: Array<string> = []
    const declining: QlogFactory = (info) => {
      calls.push(info.side)
      return undefined
    }
    const model = { ...perfectLink, loss: 0.02 }
    const withHook = exchange(model, 3, { client: declining, server: declining })
    const without = exchange(model, 3, {})
    expect(calls.sort()).toEqual(["client", "server"])
    // Same seeds, same packets: asking the hook has no effect on the connection.
    expect(withHook.client.connectionStats).toBeDefined()
    expect(withHook.network.now).toBe(without.network.now)
  })

  it("a factory or a writer that throws leaves the connection working, and the trace stops", () => {
    const records: Array<string> = []
    let writes = 0
    const breaking: QlogFactory = () => (record) => {
      if (++writes > 20) throw new Error("disk full")
      records.push(record)
    }
    const throwing: QlogFactory = () => {
      throw new Error("cannot open")
    }
    exchange({ ...perfectLink }, 5, { client: breaking, server: throwing })
    expect(records).toHaveLength(20)
    expect(writes).toBe(21)
  })

  it("a bare function is a writer; a trace is one connection's", () => {
    const byOdcid = new Map<string, Array<string>>()
    const factory: QlogFactory = ({ odcid, side }) => {
      const lines: Array<string> = []
      byOdcid.set(`${odcid}_${side}`, lines)
      return (record) => lines.push(record)
    }
    const { network, client } = makePair(perfectLink, 1, { client: factory, server: factory })
    client.connect(network.now, SERVER, "localhost")
    client.connect(network.now, SERVER, "localhost")
    expect(network.run(() => network.eventsOf(SERVER).filter((e) => e._tag === "Connected").length === 2, 5_000_000)).toBe(true)
    expect(byOdcid.size).toBe(4)
    const odcids = new Set([...byOdcid.keys()].map((k) => k.split("_")[0]))
    expect(odcids.size).toBe(2)
    for (const [key, lines] of byOdcid) {
      const { header } = readTrace(lines)
      expect(`${header.trace.common_fields.ODCID}_${header.trace.vantage_point.type}`).toBe(key)
    }
  })
})
