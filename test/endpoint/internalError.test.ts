/**
 * A bug in one connection's code (an exception) closes that connection and
 * nothing else: the endpoint reports it closed with INTERNAL_ERROR (RFC 9000
 * §20.1), the peer is told with a CONNECTION_CLOSE rather than left to its
 * idle timeout, and the endpoint's other connections carry on. The faults
 * are injected by replacing one method of one connection of the server.
 */
import { describe, expect, it } from "vitest"
import type { Connection } from "../../src/internal/connection/connection.js"
import { TransportErrorCode } from "../../src/internal/errors.js"
import type { QuicEvent } from "../../src/internal/events.js"
import { backends } from "../helpers.js"
import { CLIENT, connectionOf, makeLab, SERVER } from "../support/handshakeLab.js"

type Lab = ReturnType<typeof makeLab>

const closedEvents = (events: ReadonlyArray<QuicEvent>) =>
  events.flatMap((e) => (e._tag === "ConnectionClosed" ? [e] : []))

/** Two connections from the client, both established; `server` maps each client handle to the server's. */
const twoConnections = (lab: Lab) => {
  const { network, client } = lab
  // The faults below are deliberate.
  network.allowDefects = true
  const first = client.connect(network.now, SERVER, "localhost") as number
  const second = client.connect(network.now, SERVER, "localhost") as number
  const connected = (address: typeof CLIENT) => network.eventsOf(address).filter((e) => e._tag === "Connected").length
  expect(network.run(() => connected(CLIENT) === 2 && connected(SERVER) === 2, 5_000_000)).toBe(true)
  const serverHandles = network.eventsOf(SERVER).flatMap((e) => (e._tag === "NewConnection" ? [e.connection] : []))
  expect(serverHandles).toHaveLength(2)
  return { first, second, serverFirst: serverHandles[0]!, serverSecond: serverHandles[1]! }
}

/** Makes `method` of the server's connection `handle` throw from now on. */
const breakMethod = (lab: Lab, handle: number, method: "handleDatagram" | "handleTimeout" | "pollTransmit") => {
  const connection = connectionOf(lab.server, handle)!
  ;(connection as unknown as Record<string, unknown>)[method] = () => {
    throw new Error(`boom in ${method}`)
  }
  return connection
}

/** Sends `text` on a new stream of client connection `conn` and runs until the echo's bytes arrive (the server echoes). */
const exchange = (lab: Lab, conn: number, text: string): boolean => {
  const { network, client, server } = lab
  network.onEvent = (endpoint, event) => {
    if (endpoint !== server || event._tag !== "StreamReadable") return
    const chunk = server.streamRecv(network.now, event.connection, event.stream, 1 << 16)
    if ("_tag" in chunk) return
    server.streamSend(network.now, event.connection, event.stream, chunk.data)
    if (chunk.finished) server.streamFinish(network.now, event.connection, event.stream)
  }
  const stream = client.openBi(network.now, conn) as number
  client.streamSend(network.now, conn, stream, new TextEncoder().encode(text))
  client.streamFinish(network.now, conn, stream)
  let received = ""
  return network.run(() => {
    const chunk = client.streamRecv(network.now, conn, stream, 1 << 16)
    if (!("_tag" in chunk)) received += new TextDecoder().decode(chunk.data)
    return received === text
  }, 5_000_000)
}

/** The server's close of `serverHandle` as an internal error, and the client's close of `clientHandle` as the peer's. */
const expectInternalErrorBothSides = (lab: Lab, serverHandle: number, clientHandle: number, method: string) => {
  const closeOf = (address: typeof CLIENT, handle: number) =>
    closedEvents(lab.network.eventsOf(address)).find((e) => e.connection === handle)?.reason
  const sent = { _tag: "TransportError", code: TransportErrorCode.INTERNAL_ERROR, frameType: 0, reason: `internal error: boom in ${method}` }
  expect(closeOf(SERVER, serverHandle)).toEqual({ ...sent, remote: false, defect: new Error(`boom in ${method}`) })
  expect(closeOf(CLIENT, clientHandle)).toEqual({ ...sent, remote: true })
}

describe.each(backends)("a connection whose code throws, on the %s backend", (_name, backend) => {
  it("throwing on a datagram: that connection closes with INTERNAL_ERROR, the other one carries on", () => {
    const lab = makeLab(backend)
    const { first, second, serverFirst, serverSecond } = twoConnections(lab)
    breakMethod(lab, serverFirst, "handleDatagram")
    const before = lab.network.now
    expect(exchange(lab, first, "to the broken one")).toBe(false)
    expectInternalErrorBothSides(lab, serverFirst, first, "handleDatagram")
    // The peer heard it at once (one round trip), not at its idle timeout.
    const clientClose = lab.network.timeline.find((t) => t.kind === "deliver" && t.datagram.to === CLIENT && t.datagram.at > before)
    expect(clientClose).toBeDefined()
    expect(exchange(lab, second, "to the other one")).toBe(true)
    expect(closedEvents(lab.network.eventsOf(SERVER)).map((e) => e.connection)).not.toContain(serverSecond)
  })

  it("throwing on a timer: the same, and the endpoint's timers keep running for the other connection", () => {
    const lab = makeLab(backend)
    const { first, second, serverFirst } = twoConnections(lab)
    breakMethod(lab, serverFirst, "handleTimeout")
    // The server's connection has a timer (its idle timeout at the latest): run until it fires.
    expect(lab.network.run(() => closedEvents(lab.network.eventsOf(CLIENT)).length > 0, 60_000_000)).toBe(true)
    expectInternalErrorBothSides(lab, serverFirst, first, "handleTimeout")
    expect(exchange(lab, second, "still here")).toBe(true)
  })

  it("throwing while sending: closed with INTERNAL_ERROR; a second failure while closing drops it silently", () => {
    const lab = makeLab(backend)
    const { first, second, serverFirst } = twoConnections(lab)
    const broken: Connection = breakMethod(lab, serverFirst, "pollTransmit")
    expect(exchange(lab, first, "no answer")).toBe(false)
    const serverClose = closedEvents(lab.network.eventsOf(SERVER)).find((e) => e.connection === serverFirst)
    expect(serverClose?.reason).toMatchObject({ code: TransportErrorCode.INTERNAL_ERROR, reason: "internal error: boom in pollTransmit", defect: new Error("boom in pollTransmit") })
    // Its CONNECTION_CLOSE could not be sent either (pollTransmit still throws): it is gone, not stuck closing.
    expect(broken.isDrained).toBe(true)
    expect(connectionOf(lab.server, serverFirst)).toBeUndefined()
    expect(exchange(lab, second, "the other one")).toBe(true)
  })

  it("throwing inside an application call: the call reports the connection invalid and the peer is told", () => {
    const lab = makeLab(backend)
    const { first, second, serverFirst } = twoConnections(lab)
    const connection = connectionOf(lab.server, serverFirst)!
    ;(connection.streams as unknown as Record<string, unknown>)["openBi"] = () => {
      throw new Error("boom in openBi")
    }
    expect(lab.server.openBi(lab.network.now, serverFirst)).toEqual({ _tag: "InvalidConnection" })
    expect(lab.network.run(() => closedEvents(lab.network.eventsOf(CLIENT)).length > 0, 5_000_000)).toBe(true)
    expectInternalErrorBothSides(lab, serverFirst, first, "openBi")
    expect(exchange(lab, second, "fine")).toBe(true)
  })
})
