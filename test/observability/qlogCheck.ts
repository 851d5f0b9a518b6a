/**
 * qlog traces written by `NodeQlog.dir` during a real loopback run, checked
 * two ways:
 *
 * - as files: JSON-SEQ framing, the qlog 0.3 header, well-formed events
 *   (read with JSON.parse here, not with our own JSON-SEQ reader);
 * - against the wire: tshark decrypts the capture with the key log and its
 *   QUIC dissector says which packets each side really sent, with which
 *   frames, connection IDs and key phases. Each side's `packet_sent` events
 *   must be exactly those packets, frame for frame, and what it logged as
 *   received must be packets the peer sent, with the same frames.
 *
 * tshark groups packets into connections itself (`quic.connection.number`);
 * a connection's ODCID is the Destination Connection ID of the client's first
 * Initial on the wire, which must name one client and one server trace.
 */
import { Effect, Schedule } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { expect } from "vitest"
import * as Tshark from "../../interop/tshark.js"

// ---- reading the files ---------------------------------------------------------

export type Side = "client" | "server"

export interface QlogEvent {
  readonly time: number
  readonly name: string
  readonly data: any
}

export interface Trace {
  readonly file: string
  readonly odcid: string
  readonly side: Side
  readonly header: any
  readonly events: ReadonlyArray<QlogEvent>
}

const RS = "\x1e"

/** RFC 7464 records, each checked: RS, one JSON text without a line feed or RS inside, LF. */
const parseRecords = (file: string, text: string): Array<any> => {
  expect(text.startsWith(RS), `${file} starts with RS`).toBe(true)
  return text.slice(1).split(RS).map((record, i) => {
    expect(record.endsWith("\n"), `${file} record ${i} ends with LF`).toBe(true)
    const body = record.slice(0, -1)
    expect(body.includes("\n"), `${file} record ${i} is one line`).toBe(false)
    try {
      return JSON.parse(body)
    } catch (error) {
      throw new Error(`${file} record ${i} is not JSON (${String(error)}): ${body.slice(0, 200)}`)
    }
  })
}

const isClosed = (record: any): boolean =>
  record?.name === "connectivity:connection_state_updated" && record?.data?.new === "closed"

/**
 * Every `<odcid>_<side>.sqlog` in `dir`, once each ends with the closed
 * state: the connection was let go, its writer closed and flushed.
 */
export const readTraces = (dir: string, expected: number) =>
  Effect.try({
    try: () => {
      const names = fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []
      if (names.length < expected) throw new Error(`${names.length} of ${expected} qlog files in ${dir}: ${names.join(", ")}`)
      return names.map((name): Trace => {
        const match = /^([0-9a-f]+)_(client|server)\.sqlog$/.exec(name)
        if (match === null) throw new Error(`unexpected file in the qlog directory: ${name}`)
        const file = path.join(dir, name)
        const text = fs.readFileSync(file, "utf8")
        const records = text === "" ? [] : parseRecords(name, text)
        if (records.length < 2 || !isClosed(records.at(-1))) {
          const last = records.at(-1)
          throw new Error(`${name} is not complete (${records.length} records, last ${JSON.stringify(last)?.slice(0, 200)})`)
        }
        const [header, ...events] = records
        return { file: name, odcid: match[1]!, side: match[2] as Side, header, events }
      })
    },
    catch: (error) => error as Error
  }).pipe(
    // Draining takes three PTOs (RFC 9000 §10.2); a loaded machine stretches them.
    Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 200 })
  )

// ---- the files on their own ------------------------------------------------------

/** Every name the draft's events use here; transport:packets_acked is the quic-events name (recovery: in older drafts). */
const REQUIRED = [
  "transport:packet_sent",
  "transport:packet_received",
  "recovery:metrics_updated",
  "connectivity:connection_state_updated",
  "transport:parameters_set",
  "security:key_updated"
] as const

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x)

const expectPacketEvent = (context: string, data: any, withNumber: boolean) => {
  expect(isObject(data.header), `${context}: header`).toBe(true)
  expect(typeof data.header.packet_type, `${context}: header.packet_type`).toBe("string")
  if (withNumber) expect(Number.isSafeInteger(data.header.packet_number) && data.header.packet_number >= 0, `${context}: header.packet_number`).toBe(true)
  expect(Array.isArray(data.frames), `${context}: frames`).toBe(true)
  for (const frame of data.frames) expect(typeof frame?.frame_type, `${context}: frame_type`).toBe("string")
}

/** The header and every event of one trace, on their own. */
export const expectWellFormed = (trace: Trace) => {
  const { header, events, file, side, odcid } = trace
  expect(header.qlog_format, file).toBe("JSON-SEQ")
  expect(header.qlog_version, file).toBe("0.3")
  expect(header.trace?.vantage_point?.type, file).toBe(side)
  const common = header.trace?.common_fields
  expect(common?.ODCID, file).toBe(odcid)
  expect(common?.time_format, file).toBe("relative")
  expect(typeof common?.reference_time, file).toBe("number")
  // A wall-clock Unix time in ms, from this run.
  expect(Math.abs(common.reference_time - Date.now()), `${file}: reference_time is now-ish`).toBeLessThan(120_000)

  let last = 0
  for (const [i, event] of events.entries()) {
    const context = `${file} event ${i + 1} (${JSON.stringify(event).slice(0, 160)})`
    expect(Object.keys(event).sort(), context).toEqual(["data", "name", "time"])
    expect(typeof event.time === "number" && Number.isFinite(event.time), context).toBe(true)
    expect(event.time, `${context}: time never decreases`).toBeGreaterThanOrEqual(last)
    last = event.time
    expect(event.name, context).toMatch(/^(connectivity|transport|recovery|security):[a-z_]+$/)
    expect(isObject(event.data), context).toBe(true)
    const { data } = event
    switch (event.name) {
      case "transport:packet_sent":
        expectPacketEvent(context, data, true)
        expect(data.raw?.length, context).toBeGreaterThan(0)
        break
      case "transport:packet_received":
        expectPacketEvent(context, data, !["version_negotiation", "retry"].includes(data.header?.packet_type))
        break
      case "recovery:packet_lost":
        // Loopback loses nothing on purpose; when it does happen the event still has its shape.
        expectPacketEvent(context, data, true)
        if (data.trigger !== undefined) expect(["reordering_threshold", "time_threshold", "pto_expired"], context).toContain(data.trigger)
        break
      case "transport:packets_acked":
      case "recovery:packets_acked":
        expect(["initial", "handshake", "application_data"], context).toContain(data.packet_number_space)
        expect(data.packet_numbers.length, context).toBeGreaterThan(0)
        for (const pn of data.packet_numbers) expect(Number.isSafeInteger(pn), context).toBe(true)
        break
      case "recovery:metrics_updated":
        expect(Object.keys(data).length, context).toBeGreaterThan(0)
        for (const value of Object.values(data)) expect(typeof value, context).toBe("number")
        break
      case "connectivity:connection_state_updated":
        expect(typeof data.new, context).toBe("string")
        break
      case "transport:parameters_set":
        expect(["local", "remote"], context).toContain(data.owner)
        break
      case "security:key_updated":
        expect(data.key_type, context).toMatch(/^(client|server)_(initial|handshake|0rtt|1rtt)_secret$/)
        expect(["tls", "local_update", "remote_update"], context).toContain(data.trigger)
        break
    }
  }

  const names = new Set(events.map((e) => e.name))
  for (const name of REQUIRED) expect(names, `${file} has ${name}`).toContain(name)
  expect(names.has("transport:packets_acked") || names.has("recovery:packets_acked"), `${file} has packets_acked`).toBe(true)
}

// ---- the wire --------------------------------------------------------------------

/** A frame reduced to what both tshark and qlog show of it. */
export type FrameView = Readonly<Record<string, string | number | boolean>>

export interface WirePacket extends Tshark.QuicPacket {
  /** tshark's own connection tracking (by connection IDs). */
  readonly connection: number
  /** The whole QUIC packet as tshark delimited it in the datagram. */
  readonly length: number | undefined
  readonly frames: ReadonlyArray<FrameView>
}

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

const all = (j: Json | undefined): ReadonlyArray<Json> => (j === undefined ? [] : Array.isArray(j) ? j : [j as Json])
const obj = (j: Json | undefined): { readonly [key: string]: Json } | undefined =>
  typeof j === "object" && j !== null && !Array.isArray(j) ? (j as { readonly [key: string]: Json }) : undefined
const text = (j: Json | undefined): string | undefined => {
  const first = all(j)[0]
  return typeof first === "string" ? first : undefined
}
const num = (j: Json | undefined): number | undefined => {
  const t = text(j)
  return t === undefined ? undefined : Number(t)
}
/** tshark prints bytes as `aa:bb:…`. */
const hex = (j: Json | undefined): string | undefined => text(j)?.replaceAll(":", "").toLowerCase()
const byteCount = (j: Json | undefined): number => {
  const h = hex(j)
  return h === undefined ? 0 : h.length / 2
}

/** qlog's frame_type names (quic-events §8.13) by wire type (RFC 9000 §19, RFC 9221). */
const frameNames: ReadonlyArray<readonly [ReadonlyArray<number>, string]> = [
  [[0x00], "padding"],
  [[0x01], "ping"],
  [[0x02, 0x03], "ack"],
  [[0x04], "reset_stream"],
  [[0x05], "stop_sending"],
  [[0x06], "crypto"],
  [[0x07], "new_token"],
  [[0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f], "stream"],
  [[0x10], "max_data"],
  [[0x11], "max_stream_data"],
  [[0x12, 0x13], "max_streams"],
  [[0x14], "data_blocked"],
  [[0x15], "stream_data_blocked"],
  [[0x16, 0x17], "streams_blocked"],
  [[0x18], "new_connection_id"],
  [[0x19], "retire_connection_id"],
  [[0x1a], "path_challenge"],
  [[0x1b], "path_response"],
  [[0x1c, 0x1d], "connection_close"],
  [[0x1e], "handshake_done"],
  [[0x30, 0x31], "datagram"]
]
const frameName = (type: number): string => frameNames.find(([types]) => types.includes(type))?.[1] ?? `unknown_0x${type.toString(16)}`

/** One frame as tshark's dissector read it. */
const wireFrame = (f: { readonly [key: string]: Json }): FrameView => {
  const type = num(f["quic.frame_type"])!
  const frame_type = frameName(type)
  switch (frame_type) {
    case "padding":
      return { frame_type, length: num(f["quic.padding_length"])! }
    case "ack": {
      // RFC 9000 §19.3.1: the first range ends at the largest; each gap and range goes down from there.
      const largest = num(f["quic.ack.largest_acknowledged"])!
      let smallest = largest - num(f["quic.ack.first_ack_range"])!
      const ranges: Array<readonly [number, number]> = [[smallest, largest]]
      const gaps = all(f["quic.ack.gap"]).map(Number)
      const lengths = all(f["quic.ack.ack_range"]).map(Number)
      expect(gaps.length, "ACK gaps and ranges").toBe(num(f["quic.ack.ack_range_count"]))
      expect(lengths.length, "ACK gaps and ranges").toBe(gaps.length)
      for (const [i, gap] of gaps.entries()) {
        const high = smallest - gap - 2
        smallest = high - lengths[i]!
        ranges.unshift([smallest, high])
      }
      return { frame_type, acked_ranges: JSON.stringify(ranges), ack_delay: num(f["quic.ack.ack_delay"])! }
    }
    case "crypto":
      return { frame_type, offset: num(f["quic.crypto.offset"])!, length: num(f["quic.crypto.length"])! }
    case "stream": {
      // The type's OFF, LEN and FIN bits (0x04, 0x02, 0x01): absent fields are 0 and "to the end".
      return {
        frame_type,
        stream_id: num(f["quic.stream.stream_id"])!,
        offset: num(f["quic.stream.offset"]) ?? 0,
        length: num(f["quic.stream.length"]) ?? byteCount(f["quic.stream_data"]),
        fin: (type & 0x01) === 1
      }
    }
    case "datagram":
      return { frame_type, length: num(f["quic.dg.length"]) ?? byteCount(f["quic.dg"]) }
    case "connection_close":
      return {
        frame_type,
        error_space: type === 0x1d ? "application" : "transport",
        error_code: num(f[type === 0x1d ? "quic.cc.error_code.app" : "quic.cc.error_code"])!,
        reason: text(f["quic.cc.reason_phrase"]) ?? ""
      }
    case "new_connection_id":
      return { frame_type, sequence_number: num(f["quic.nci.sequence"])!, connection_id: hex(f["quic.nci.connection_id"])! }
    default:
      return { frame_type }
  }
}

/**
 * The same view of a frame qlog logged. An ACK's delay is in ms in qlog, the
 * encoded field on the wire: `ackDelayExponent` is its sender's (RFC 9000 §19.3).
 */
export const qlogFrame = (f: any, ackDelayExponent: number): FrameView => {
  switch (f.frame_type) {
    case "padding":
      return { frame_type: f.frame_type, length: f.length }
    case "ack":
      // Inclusive [smallest, largest] ranges, ascending (quic-events AckFrame).
      return {
        frame_type: f.frame_type,
        acked_ranges: JSON.stringify(f.acked_ranges),
        ack_delay: Math.round(f.ack_delay * 1000 / 2 ** ackDelayExponent)
      }
    case "crypto":
      return { frame_type: f.frame_type, offset: f.offset, length: f.length }
    case "stream":
      return { frame_type: f.frame_type, stream_id: f.stream_id, offset: f.offset, length: f.length, fin: f.fin }
    case "datagram":
      return { frame_type: f.frame_type, length: f.length }
    case "connection_close":
      return { frame_type: f.frame_type, error_space: f.error_space, error_code: Number(f.raw_error_code), reason: f.reason }
    case "new_connection_id":
      return { frame_type: f.frame_type, sequence_number: f.sequence_number, connection_id: f.connection_id }
    default:
      return { frame_type: f.frame_type }
  }
}

/**
 * `Tshark.decode` with what the qlog comparison needs on top: each packet's
 * connection (tshark's tracking), Destination Connection ID, length and
 * frames' fields, from the same `tshark -T json` run.
 */
export const decode = (options: { readonly file: string; readonly port: number; readonly keyLogFile: string }) =>
  Effect.gen(function*() {
    const args = [
      "-r", options.file,
      "-n",
      "-o", `tls.keylog_file:${options.keyLogFile}`,
      "-d", `udp.port==${options.port},quic`,
      "-Y", `udp.port==${options.port}`,
      "-T", "json",
      "--no-duplicate-keys",
      "-J", "frame ip ipv6 udp quic"
    ]
    const stdout = yield* Tshark.read(args)
    const base = Tshark.parseDecode(stdout)
    // The same walk as parseDecode: every `quic` layer of every frame, in order.
    const extra: Array<Omit<WirePacket, keyof Tshark.QuicPacket>> = []
    for (const entry of all(JSON.parse(stdout) as Json)) {
      const layers = obj(obj(obj(entry)?.["_source"])?.["layers"])
      if (layers === undefined) continue
      // Only the first packet of a datagram carries the connection; coalesced ones share it (RFC 9000 §12.2).
      let connection = -1
      for (const layer of all(layers["quic"])) {
        const q = obj(layer)
        if (q === undefined) continue
        for (const value of Object.values(q)) {
          const n = num(obj(value)?.["quic.connection.number"])
          if (n !== undefined) connection = n
        }
        extra.push({
          connection,
          length: num(q["quic.packet_length"]),
          frames: all(q["quic.frame"]).flatMap((f) => {
            const frame = obj(f)
            return frame === undefined ? [] : [wireFrame(frame)]
          })
        })
      }
    }
    expect(extra.length, "one entry per QUIC packet").toBe(base.length)
    return base.map((p, i): WirePacket => ({ ...p, ...extra[i]! }))
  })

// ---- qlog against the wire --------------------------------------------------------

const qlogType: Record<Tshark.PacketType, string> = {
  "initial": "initial",
  "handshake": "handshake",
  "0rtt": "0RTT",
  "1rtt": "1RTT",
  "retry": "retry",
  "version-negotiation": "version_negotiation",
  "unknown": "unknown"
}

const key = (type: string, pn: number | bigint) => `${type}:${pn}`

const named = (trace: Trace, name: string) => trace.events.filter((e) => e.name === name)

export interface Connection {
  readonly odcid: string
  readonly client: Trace
  readonly server: Trace
  /** The connection's packets on the wire, in capture order. */
  readonly packets: ReadonlyArray<WirePacket>
  readonly fromClient: ReadonlyArray<WirePacket>
  readonly fromServer: ReadonlyArray<WirePacket>
}

/** tshark's connections, each with its two traces; every trace belongs to one of them. */
export const pair = (traces: ReadonlyArray<Trace>, packets: ReadonlyArray<WirePacket>, serverPort: number): ReadonlyArray<Connection> => {
  const numbers = [...new Set(packets.map((p) => p.connection))]
  expect(numbers.includes(-1), "tshark put every packet in a connection").toBe(false)
  const connections = numbers.map((n): Connection => {
    const of = packets.filter((p) => p.connection === n)
    const firstInitial = of.find((p) => p.dstPort === serverPort && p.type === "initial")
    expect(firstInitial, `tshark connection ${n} starts with a client Initial`).toBeDefined()
    const odcid = firstInitial!.dcid ?? ""
    const client = traces.find((t) => t.odcid === odcid && t.side === "client")
    const server = traces.find((t) => t.odcid === odcid && t.side === "server")
    expect(client, `a client trace for ${odcid}`).toBeDefined()
    expect(server, `a server trace for ${odcid}`).toBeDefined()
    return {
      odcid,
      client: client!,
      server: server!,
      packets: of,
      fromClient: of.filter((p) => p.dstPort === serverPort),
      fromServer: of.filter((p) => p.srcPort === serverPort)
    }
  })
  // No trace without packets on the wire, no connection counted twice.
  expect(connections.map((c) => c.odcid).sort(), "the traces are exactly tshark's connections").toEqual(
    [...new Set(traces.map((t) => t.odcid))].sort()
  )
  expect(traces).toHaveLength(connections.length * 2)
  return connections
}

const describeWire = (p: WirePacket) =>
  `#${p.frame} ${qlogType[p.type]}:${p.packetNumber} [${p.frames.map((f) => f.frame_type).join(",")}]`

/** The ack_delay_exponent transport parameter one side of the trace sent (3 when absent, RFC 9000 §18.2). */
const ackDelayExponent = (trace: Trace, owner: "local" | "remote"): number => {
  const params = named(trace, "transport:parameters_set").find((e) => e.data.owner === owner)
  expect(params, `${trace.file}: ${owner} transport parameters`).toBeDefined()
  return params!.data.ack_delay_exponent ?? 3
}

/** Frames as the view both sides share; Initial and Handshake ACKs always use exponent 3. */
const qlogFrames = (data: any, exponent: number): ReadonlyArray<FrameView> =>
  data.frames.map((f: any) => qlogFrame(f, ["1RTT", "0RTT"].includes(data.header.packet_type) ? exponent : 3))

const show = (frames: ReadonlyArray<FrameView>) => frames.map((f) => JSON.stringify(f)).join(" ")

/**
 * What one side logged as sent is exactly what tshark saw it send (packet
 * types and numbers, DCIDs, lengths, frames), and what it logged as received
 * the peer sent, with the same frames.
 */
export const expectTraceMatchesWire = (trace: Trace, sent: ReadonlyArray<WirePacket>, received: ReadonlyArray<WirePacket>) => {
  const context = trace.file
  const ownExponent = ackDelayExponent(trace, "local")
  const peerExponent = ackDelayExponent(trace, "remote")
  const onWire = new Map<string, WirePacket>()
  for (const p of sent) {
    const k = key(qlogType[p.type], p.packetNumber!)
    expect(onWire.has(k), `${context}: ${k} twice on the wire`).toBe(false)
    onWire.set(k, p)
  }
  const logged = new Map<string, any>()
  for (const { data } of named(trace, "transport:packet_sent")) {
    const k = key(data.header.packet_type, data.header.packet_number)
    expect(logged.has(k), `${context}: ${k} logged as sent twice`).toBe(false)
    logged.set(k, data)
  }
  const order = (keys: Iterable<string>) => [...keys].sort()
  expect(order(logged.keys()), `${context}: packets logged as sent vs on the wire:\n${sent.map(describeWire).join("\n")}`).toEqual(order(onWire.keys()))

  for (const [k, data] of logged) {
    const wire = onWire.get(k)!
    const frames = qlogFrames(data, ownExponent)
    expect(frames, `${context}: frames of ${k} sent\nqlog ${show(frames)}\nwire ${show(wire.frames)} (#${wire.frame})`).toEqual(wire.frames)
    expect(data.header.dcid, `${context}: DCID of ${k}`).toBe(wire.dcid)
    expect(data.raw.length, `${context}: length of ${k}`).toBe(wire.length)
  }

  const peer = new Map(received.map((p) => [key(qlogType[p.type], p.packetNumber!), p]))
  const receivedEvents = named(trace, "transport:packet_received")
  expect(receivedEvents.length, `${context}: packets received`).toBeGreaterThan(0)
  for (const { data } of receivedEvents) {
    const k = key(data.header.packet_type, data.header.packet_number)
    const wire = peer.get(k)
    expect(wire, `${context}: received ${k}, which the peer sent on the wire`).toBeDefined()
    const frames = qlogFrames(data, peerExponent)
    expect(frames, `${context}: frames of ${k} received\nqlog ${show(frames)}\nwire ${show(wire!.frames)} (#${wire!.frame})`).toEqual(wire!.frames)
    expect(data.header.dcid, `${context}: DCID of received ${k}`).toBe(wire!.dcid)
  }
  return { sent: logged.size, received: receivedEvents.length }
}

/** Where a 1-RTT generation-1 key_updated event sits among the packet events of a trace. */
const generationOne = (trace: Trace, keyType: string) => {
  const index = trace.events.findIndex((e) => e.name === "security:key_updated" && e.data.key_type === keyType && e.data.generation === 1)
  expect(index, `${trace.file}: key_updated ${keyType} generation 1`).toBeGreaterThanOrEqual(0)
  return { index, event: trace.events[index]! }
}

const oneRttSent = (trace: Trace, from: number, to: number) =>
  trace.events.slice(from, to).filter((e) => e.name === "transport:packet_sent" && e.data.header.packet_type === "1RTT")

/**
 * The first 1-RTT key update (RFC 9001 §6) as qlog tells it, against the key
 * phase bit tshark read: the client initiates (local_update), the server
 * follows (remote_update); each side's 1-RTT packets sent before its write
 * generation 1 are key phase 0 on the wire, every one after is key phase 1;
 * the packet that taught the server the new keys is the first key-phase-1
 * one it logged as received.
 */
export const expectKeyUpdateMatchesWire = (c: Connection) => {
  const phaseOf = (packets: ReadonlyArray<WirePacket>) => new Map(packets.filter((p) => p.type === "1rtt").map((p) => [Number(p.packetNumber!), p.keyPhase]))
  for (const [trace, own, ownPackets, initiator] of [
    [c.client, "client_1rtt_secret", c.fromClient, true],
    [c.server, "server_1rtt_secret", c.fromServer, false]
  ] as const) {
    const { index, event } = generationOne(trace, own)
    expect(event.data.trigger, `${trace.file}: who started the update`).toBe(initiator ? "local_update" : "remote_update")
    const phase = phaseOf(ownPackets)
    const before = oneRttSent(trace, 0, index).map((e) => phase.get(e.data.header.packet_number))
    const after = oneRttSent(trace, index, trace.events.length).map((e) => phase.get(e.data.header.packet_number))
    expect(before.length, `${trace.file}: 1-RTT packets before the update`).toBeGreaterThan(0)
    expect(after.length, `${trace.file}: 1-RTT packets after the update`).toBeGreaterThan(0)
    expect(new Set(before), `${trace.file}: key phase on the wire before ${own} generation 1`).toEqual(new Set([0]))
    expect(new Set(after), `${trace.file}: key phase on the wire after ${own} generation 1`).toEqual(new Set([1]))
    // The peer's generation 1 is also logged on each side.
    generationOne(trace, own === "client_1rtt_secret" ? "server_1rtt_secret" : "client_1rtt_secret")
  }
  // The server learns the client's new keys from the first key-phase-1 packet it receives.
  const { index } = generationOne(c.server, "client_1rtt_secret")
  const phase = phaseOf(c.fromClient)
  const oneRttReceived = (from: number, to: number) =>
    c.server.events.slice(from, to)
      .filter((e) => e.name === "transport:packet_received" && e.data.header.packet_type === "1RTT")
      .map((e) => phase.get(e.data.header.packet_number))
  expect(new Set(oneRttReceived(0, index)), `${c.server.file}: key phase of the 1-RTT packets received before the update`).toEqual(new Set([0]))
  expect(oneRttReceived(index, c.server.events.length)[0], `${c.server.file}: key phase of the packet received right after the update`).toBe(1)
}
