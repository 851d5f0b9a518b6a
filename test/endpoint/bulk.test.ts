import { describe, expect, it } from "vitest"
import type { QuicEvent } from "../../src/internal/events.js"
import type { QuicEndpoint } from "../../src/internal/endpoint.js"
import { backends } from "../helpers.js"
import { closedEvents, CLIENT, makeTestPair, pattern, SERVER, StreamReader, StreamWriter } from "../support/kit.js"
import { type LinkModel, perfectLink } from "../support/link.js"

/**
 * 50 MB on one stream, byte-exact, over links that lose and reorder. Only the
 * node backend: the noble one is pure JavaScript and several times slower,
 * and the crypto backends are compared elsewhere.
 */
const [, backend] = backends[0]!

const SIZE = 50 << 20
const data = pattern(SIZE)

/**
 * Upload: the client opens a bidirectional stream, writes SIZE bytes and FIN.
 * Download: the server opens a unidirectional stream to the client.
 */
const bulk = (model: LinkModel, seed: number, direction: "upload" | "download") => {
  const pair = makeTestPair(backend, model, { seed })
  const { network, client, server } = pair
  const [sender, receiver] = direction === "upload" ? [client, server] : [server, client]
  let writer: StreamWriter | undefined
  let reader: StreamReader | undefined
  let finishedEvents = 0
  network.onEvent = (endpoint: QuicEndpoint, event: QuicEvent) => {
    if (endpoint === sender) {
      if (event._tag === "Connected") {
        const stream = direction === "upload" ? sender.openBi(network.now, event.connection) : sender.openUni(network.now, event.connection)
        if (typeof stream !== "number") throw new Error("could not open the stream")
        writer = new StreamWriter(sender, network, event.connection, stream, data, 256 * 1024)
        writer.pump()
      } else if (event._tag === "StreamWritable" && event.stream === writer?.stream) {
        writer.pump()
      } else if (event._tag === "StreamFinished" && event.stream === writer?.stream) {
        finishedEvents++
      }
    } else if (endpoint === receiver && event._tag === "StreamReadable") {
      reader ??= new StreamReader(receiver, network, event.connection, event.stream, data)
      expect(event.stream).toBe(reader.stream)
      reader.pump()
    }
  }
  const clientConn = client.connect(network.now, SERVER, "localhost") as number
  // Done when the receiver read the FIN and the sender heard every byte acknowledged.
  const ok = network.run(() => reader?.finished === true && finishedEvents > 0, 3_600_000_000)
  return { ok, reader: reader!, writer: writer!, finishedEvents, network, client, server, clientConn }
}

const check = (result: ReturnType<typeof bulk>) => {
  expect(result.ok).toBe(true)
  expect(result.writer.sent).toBe(SIZE)
  expect(result.reader.firstMismatch).toBe(-1)
  expect(result.reader.received).toBe(SIZE)
  expect(result.reader.finishedReads).toBe(1)
  expect(result.finishedEvents).toBe(1)
  expect(closedEvents(result.network, CLIENT)).toEqual([])
  expect(closedEvents(result.network, SERVER)).toEqual([])
}

describe("bulk transfer of 50 MB on one stream (node backend)", () => {
  it("uploads byte-exact over a perfect link", () => {
    const result = bulk(perfectLink, 1, "upload")
    check(result)
    // Nothing is lost on a perfect link, so nothing is retransmitted.
    const stats = result.client.connectionStats(result.clientConn)!
    expect(stats.packetsLost).toBe(0)
  }, 180_000)

  it.each([0.01, 0.05])("uploads byte-exact with %s random loss", (loss) => {
    const result = bulk({ ...perfectLink, loss }, 7, "upload")
    check(result)
    expect(result.client.connectionStats(result.clientConn)!.packetsLost).toBeGreaterThan(0)
  }, 180_000)

  it("uploads byte-exact with 20% of datagrams reordered", () => {
    const result = bulk({ ...perfectLink, reorder: 0.2, reorderDelay: 15_000 }, 3, "upload")
    check(result)
  }, 180_000)

  it("downloads byte-exact (server to client) with 1% loss", () => {
    const result = bulk({ ...perfectLink, loss: 0.01 }, 5, "download")
    check(result)
  }, 180_000)
})
