import type { SocketAddress } from "../../src/internal/address.js"
import type { CryptoBackend } from "../../src/internal/crypto/backend.js"
import { QuicEndpoint } from "../../src/internal/endpoint.js"
import type { QuicEvent } from "../../src/internal/events.js"
import { CLIENT, endpointConfig, type LinkModel, Network, SERVER } from "./link.js"

/**
 * Building blocks for endpoint scenarios over the simulated network of
 * link.ts: a byte-exact one-stream transfer that can be paused and resumed
 * around an action (key update, rebinding…), and an event dispatcher that
 * lets several observers share `network.onEvent`.
 */

export type EventHandler = (endpoint: QuicEndpoint, event: QuicEvent) => void

/** A deterministic, non-periodic-looking byte pattern. */
export const pattern = (size: number): Uint8Array => {
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = (i * 7 + (i >> 8) + (i >> 16) * 13) & 0xff
  return out
}

/** Installs `handlers` as `network.onEvent`, called in order for every event. */
export const dispatch = (network: Network, ...handlers: ReadonlyArray<EventHandler>): void => {
  network.onEvent = (endpoint, event) => {
    for (const handler of handlers) handler(endpoint, event)
  }
}

/** The connection handle the endpoint's first `tag` event named, or -1. */
export const firstConnection = (network: Network, address: Parameters<Network["eventsOf"]>[0], tag: "Connected" | "NewConnection" = "Connected"): number => {
  const event = network.eventsOf(address).find((e) => e._tag === tag)
  return event === undefined ? -1 : (event as { connection: number }).connection
}

export const eventsTagged = <T extends QuicEvent["_tag"]>(
  network: Network,
  address: Parameters<Network["eventsOf"]>[0],
  tag: T
): ReadonlyArray<Extract<QuicEvent, { _tag: T }>> =>
  network.eventsOf(address).filter((e): e is Extract<QuicEvent, { _tag: T }> => e._tag === tag)

/**
 * `from` opens one bidirectional stream as soon as its connection is
 * established, writes `size` bytes of `pattern` and FIN; `to` reads
 * everything. Install `handle` in the network's dispatcher.
 */
export class Transfer {
  readonly data: Uint8Array
  private readonly chunks: Array<Uint8Array> = []
  receivedBytes = 0
  finished = false
  sent = 0
  fin = false
  /** The sender's connection handle and stream id, once open. */
  conn = -1
  stream = -1
  /** The receiver's connection handle, once the stream arrives. */
  peerConn = -1
  /** Start on the sender's first Connected event; clear it to call `begin` yourself. */
  autoStart = true
  /** Errors the receiver saw while reading (anything but ReadBlocked). */
  readonly readErrors: Array<string> = []

  constructor(
    readonly network: Network,
    readonly from: QuicEndpoint,
    readonly to: QuicEndpoint,
    readonly size: number
  ) {
    this.data = pattern(size)
  }

  private write(): void {
    const now = this.network.now
    while (this.sent < this.size) {
      const n = this.from.streamSend(now, this.conn, this.stream, this.data.subarray(this.sent, Math.min(this.size, this.sent + 65536)))
      if (typeof n !== "number" || n === 0) break
      this.sent += n
    }
    if (this.sent === this.size && !this.fin) {
      this.fin = true
      this.from.streamFinish(now, this.conn, this.stream)
    }
  }

  /** Starts the transfer on an established connection of `from`. */
  begin(conn: number): void {
    this.conn = conn
    const stream = this.from.openBi(this.network.now, conn)
    if (typeof stream !== "number") throw new Error(`openBi failed: ${JSON.stringify(stream)}`)
    this.stream = stream
    this.write()
  }

  private read(conn: number, stream: number): void {
    const now = this.network.now
    for (;;) {
      const chunk = this.to.streamRecv(now, conn, stream, 1 << 20)
      if ("_tag" in chunk) {
        if (chunk._tag !== "ReadBlocked") this.readErrors.push(chunk._tag)
        return
      }
      if (chunk.data.length > 0) {
        this.chunks.push(chunk.data.slice())
        this.receivedBytes += chunk.data.length
      }
      if (chunk.finished) {
        this.finished = true
        return
      }
      if (chunk.data.length === 0) return
    }
  }

  readonly handle: EventHandler = (endpoint, event) => {
    if (endpoint === this.from) {
      if (event._tag === "Connected" && this.conn === -1 && this.autoStart) this.begin(event.connection)
      else if (event._tag === "StreamWritable" && event.connection === this.conn && event.stream === this.stream) this.write()
    } else if (endpoint === this.to && event._tag === "StreamReadable" && (this.stream === -1 || event.stream === this.stream)) {
      this.peerConn = event.connection
      this.read(event.connection, event.stream)
    }
  }

  /** What arrived, concatenated. */
  joined(): Uint8Array {
    const out = new Uint8Array(this.receivedBytes)
    let at = 0
    for (const chunk of this.chunks) {
      out.set(chunk, at)
      at += chunk.length
    }
    return out
  }

  /** Whether everything arrived, byte for byte. */
  get exact(): boolean {
    return this.finished && Buffer.compare(this.joined(), this.data) === 0
  }
}

/** Connects `client` to the server and runs until both sides report a new Connected. */
export const handshake = (network: Network, client: QuicEndpoint, limit = 5_000_000): number => {
  const count = (address: SocketAddress) => network.eventsOf(address).filter((e) => e._tag === "Connected").length
  const clientBefore = count(client.localAddress)
  const serverBefore = count(SERVER)
  const handle = client.connect(network.now, SERVER, "localhost")
  if (typeof handle !== "number") throw new Error(`connect failed: ${handle._tag}`)
  const ok = network.run(() => count(client.localAddress) > clientBefore && count(SERVER) > serverBefore, limit)
  if (!ok) throw new Error("handshake did not complete")
  return handle
}

/**
 * A fresh endpoint at `address` on `network` (replacing whatever was there),
 * configured like makePair's but with per-endpoint overrides.
 */
export const addEndpoint = (
  network: Network,
  backend: CryptoBackend,
  address: SocketAddress,
  options: Parameters<typeof endpointConfig>[0]
): QuicEndpoint => network.add(address, new QuicEndpoint(endpointConfig(options), address, backend))

/** Two endpoints whose transport settings differ (makePair gives both the same). */
export const makeAsymmetricPair = (
  backend: CryptoBackend,
  model: LinkModel,
  options: {
    server?: Parameters<typeof endpointConfig>[0]["server"]
    client?: Parameters<typeof endpointConfig>[0]["client"]
    serverTransport?: Parameters<typeof endpointConfig>[0]["transport"]
    clientTransport?: Parameters<typeof endpointConfig>[0]["transport"]
    seed?: number
  } = {}
) => {
  const network = new Network(model, options.seed ?? 1)
  const server = addEndpoint(network, backend, SERVER, { role: "server", server: options.server ?? {}, transport: options.serverTransport ?? {}, seed: 11 })
  const client = addEndpoint(network, backend, CLIENT, { role: "client", client: options.client ?? {}, transport: options.clientTransport ?? {}, seed: 22 })
  return { network, server, client }
}

/** Records the virtual time of each event as it is polled. */
export class EventClock {
  readonly log: Array<{ readonly at: number; readonly endpoint: QuicEndpoint; readonly event: QuicEvent }> = []
  constructor(readonly network: Network) {}
  readonly handle: EventHandler = (endpoint, event) => {
    this.log.push({ at: this.network.now, endpoint, event })
  }
  /** When `endpoint` emitted its first event tagged `tag`. */
  timeOf(endpoint: QuicEndpoint, tag: QuicEvent["_tag"]): number | undefined {
    return this.log.find((e) => e.endpoint === endpoint && e.event._tag === tag)?.at
  }
}
