/**
 * Test-only: drives a sans-IO QuicEndpoint over a real node:dgram socket on
 * 127.0.0.1 with real timers, for the early interop tests against quic-go
 * (before the Effect API exists). Application logic reacts to events.
 */
import { createSocket, type Socket } from "node:dgram"
import type { SocketAddress } from "../../src/internal/address.js"
import type { EndpointConfig } from "../../src/internal/config.js"
import { QuicEndpoint } from "../../src/internal/endpoint.js"
import type { QuicEvent } from "../../src/internal/events.js"
import { makeNodeCryptoBackend } from "../../src/platform/nodeCrypto.js"
import { failOnDefect } from "../support/defects.js"

const nowMicros = (): number => Math.round(performance.now() * 1000)

export class UdpDriver {
  readonly endpoint: QuicEndpoint
  private readonly socket: Socket
  private timer: NodeJS.Timeout | undefined
  private closed = false
  onEvent: (event: QuicEvent) => void = () => {}

  private constructor(socket: Socket, config: EndpointConfig, local: SocketAddress) {
    this.socket = socket
    this.endpoint = new QuicEndpoint(config, local, makeNodeCryptoBackend())
    socket.on("message", (message, rinfo) => {
      const now = nowMicros()
      this.endpoint.handleDatagram(now, new Uint8Array(message.buffer, message.byteOffset, message.length), {
        address: rinfo.address,
        port: rinfo.port
      })
      this.pump()
    })
  }

  static async open(config: (local: SocketAddress) => EndpointConfig, port = 0): Promise<UdpDriver> {
    const socket = createSocket({ type: "udp4", recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 })
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject)
      socket.bind(port, "127.0.0.1", () => resolve())
    })
    const address = socket.address()
    const local = { address: address.address, port: address.port }
    return new UdpDriver(socket, config(local), local)
  }

  get port(): number {
    return this.socket.address().port
  }

  get now(): number {
    return nowMicros()
  }

  /** Delivers events, transmits what is queued and re-arms the timer. */
  pump(): void {
    if (this.closed) return
    for (let event = this.endpoint.pollEvent(); event !== undefined; event = this.endpoint.pollEvent()) {
      failOnDefect(event)
      this.onEvent(event)
    }
    this.endpoint.flush(nowMicros())
    for (let packet = this.endpoint.pollSend(); packet !== undefined; packet = this.endpoint.pollSend()) {
      for (const datagram of packet.datagrams()) this.socket.send(datagram.slice(), packet.destination.port, packet.destination.address)
    }
    for (let event = this.endpoint.pollEvent(); event !== undefined; event = this.endpoint.pollEvent()) {
      failOnDefect(event)
      this.onEvent(event)
    }
    this.arm()
  }

  private arm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    const deadline = this.endpoint.nextTimerDeadline()
    if (deadline === undefined) return
    const wait = Math.max(0, Math.ceil((deadline - nowMicros()) / 1000))
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.endpoint.driveTimers(nowMicros())
      this.pump()
    }, wait)
  }

  close(): Promise<void> {
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    return new Promise((resolve) => this.socket.close(() => resolve()))
  }
}
