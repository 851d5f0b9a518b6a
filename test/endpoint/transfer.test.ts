import { describe, expect, it } from "vitest"
import type { QuicEndpoint } from "../../src/internal/endpoint.js"
import type { QuicEvent } from "../../src/internal/events.js"
import { backends } from "../helpers.js"
import { type LinkModel, makePair, perfectLink, SERVER } from "../support/link.js"

const pattern = (size: number): Uint8Array => {
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = (i * 7 + (i >> 8)) & 0xff
  return out
}

/** Client opens one bidirectional stream, writes `size` bytes and FIN; the server reads it all. */
const transfer = (backend: Parameters<typeof makePair>[0], size: number, model: LinkModel, seed = 1) => {
  const { network, client, server } = makePair(backend, model, { seed })
  const data = pattern(size)
  const received: Array<Uint8Array> = []
  let receivedBytes = 0
  let finished = false
  let sent = 0
  let stream = -1
  let conn = -1
  const write = (endpoint: QuicEndpoint) => {
    while (sent < size) {
      const n = endpoint.streamSend(network.now, conn, stream, data.subarray(sent, Math.min(size, sent + 65536)))
      if (typeof n !== "number" || n === 0) break
      sent += n
    }
    if (sent === size) endpoint.streamFinish(network.now, conn, stream)
  }
  network.onEvent = (endpoint: QuicEndpoint, event: QuicEvent) => {
    if (endpoint === client && event._tag === "Connected") {
      conn = event.connection
      stream = client.openBi(network.now, conn) as number
      write(client)
    } else if (endpoint === client && event._tag === "StreamWritable") {
      write(client)
    } else if (endpoint === server && event._tag === "StreamReadable") {
      for (;;) {
        const chunk = server.streamRecv(network.now, event.connection, event.stream, 1 << 20)
        if ("_tag" in chunk) break
        if (chunk.data.length > 0) {
          received.push(chunk.data.slice())
          receivedBytes += chunk.data.length
        }
        if (chunk.finished) {
          finished = true
          break
        }
        if (chunk.data.length === 0) break
      }
    }
  }
  client.connect(network.now, SERVER, "localhost")
  const ok = network.run(() => finished, 600_000_000)
  const joined = new Uint8Array(receivedBytes)
  let at = 0
  for (const c of received) {
    joined.set(c, at)
    at += c.length
  }
  return { ok, joined, data, network, client, server }
}

describe.each(backends)("stream transfer on the %s backend", (_name, backend) => {
  it("moves 1 MB byte-exact over a perfect link", () => {
    const { ok, joined, data } = transfer(backend, 1 << 20, perfectLink)
    expect(ok).toBe(true)
    expect(joined.length).toBe(data.length)
    expect(Buffer.compare(joined, data)).toBe(0)
  })
})

describe("stream transfer under loss", () => {
  const [, backend] = backends[0]!
  it.each([0.01, 0.05])("moves 2 MB byte-exact with %s random loss", (loss) => {
    const { ok, joined, data } = transfer(backend, 2 << 20, { ...perfectLink, loss }, 7)
    expect(ok).toBe(true)
    expect(Buffer.compare(joined, data)).toBe(0)
  })

  it("moves 2 MB byte-exact with 20% reordering", () => {
    const { ok, joined, data } = transfer(backend, 2 << 20, { ...perfectLink, reorder: 0.2, reorderDelay: 15_000 }, 3)
    expect(ok).toBe(true)
    expect(Buffer.compare(joined, data)).toBe(0)
  })
})

