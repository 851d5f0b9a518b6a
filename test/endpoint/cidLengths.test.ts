import { describe, expect, it } from "vitest"
import { QuicEndpoint } from "../../src/internal/endpoint.js"
import type { QuicEvent } from "../../src/internal/events.js"
import { backends } from "../helpers.js"
import { CLIENT, closedEvents, connect, pattern, SERVER, StreamReader, StreamWriter } from "../support/kit.js"
import { endpointConfig, Network, perfectLink } from "../support/link.js"

const [, backend] = backends[0]!
const SIZE = 200_000

/**
 * Each endpoint routes datagrams by the connection IDs it issued, of its
 * configured length (4 to 20 bytes), and a server also by the Initial
 * Destination CID the client chose (at least 8 bytes, RFC 9000 §7.2). A
 * transfer both ways with every length in play, each side's different from
 * the other's.
 */
describe("connection IDs of every allowed length", () => {
  it.each([
    [4, 20],
    [20, 4],
    [8, 5],
    [7, 8]
  ])("client CIDs of %i bytes, server CIDs of %i: handshake and a transfer both ways", (clientLength, serverLength) => {
    const network = new Network(perfectLink, 1)
    const server = network.add(SERVER, new QuicEndpoint({ ...endpointConfig({ role: "server", seed: 11 }), connectionIdLength: serverLength }, SERVER, backend))
    const client = network.add(CLIENT, new QuicEndpoint({ ...endpointConfig({ role: "client", seed: 22 }), connectionIdLength: clientLength }, CLIENT, backend))
    const up = pattern(SIZE, 1)
    const down = pattern(SIZE, 2)
    let uploaded: StreamReader | undefined
    let downloaded: StreamReader | undefined
    let uploader: StreamWriter | undefined
    let downloader: StreamWriter | undefined
    network.onEvent = (endpoint: QuicEndpoint, event: QuicEvent) => {
      if (event._tag === "StreamReadable") {
        if (endpoint === server) {
          uploaded ??= new StreamReader(server, network, event.connection, event.stream, up)
          uploaded.pump()
          if (downloader === undefined) {
            const stream = server.openUni(network.now, event.connection)
            if (typeof stream !== "number") throw new Error("no stream")
            downloader = new StreamWriter(server, network, event.connection, stream, down)
            downloader.pump()
          }
        } else {
          downloaded ??= new StreamReader(client, network, event.connection, event.stream, down)
          downloaded.pump()
        }
      } else if (event._tag === "StreamWritable") {
        if (endpoint === server && event.stream === downloader?.stream) downloader.pump()
        if (endpoint === client && event.stream === uploader?.stream) uploader.pump()
      }
    }
    const { clientConn } = connect({ network, client, server })
    const stream = client.openBi(network.now, clientConn)
    if (typeof stream !== "number") throw new Error("no stream")
    uploader = new StreamWriter(client, network, clientConn, stream, up)
    uploader.pump()
    expect(network.run(() => uploaded?.finished === true && downloaded?.finished === true, 10_000_000)).toBe(true)
    for (const reader of [uploaded!, downloaded!]) {
      expect(reader.received).toBe(SIZE)
      expect(reader.firstMismatch).toBe(-1)
    }
    expect(closedEvents(network, CLIENT)).toEqual([])
    expect(closedEvents(network, SERVER)).toEqual([])
  })
})
