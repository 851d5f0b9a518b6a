/**
 * Test-only: plain node:dgram peers around a relay under test — an echo
 * server that records where each datagram came from, and clients that
 * collect what comes back.
 */
import * as Dgram from "node:dgram"
import { Effect, type Scope } from "effect"
import type { SocketAddress } from "../../src/internal/address.js"

export interface Received {
  readonly data: Buffer
  readonly from: SocketAddress
}

export interface Peer {
  readonly address: SocketAddress
  readonly received: Array<Received>
  readonly send: (data: Uint8Array, to: SocketAddress) => void
  /** Resolves once `count` datagrams have arrived in all; fails after `millis`. */
  readonly waitFor: (count: number, millis?: number) => Effect.Effect<ReadonlyArray<Received>, Error>
}

const bindPeer = (address: string, echo: boolean): Effect.Effect<Peer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ peer: Peer; socket: Dgram.Socket }>((resume) => {
      const socket = Dgram.createSocket(address.includes(":") ? "udp6" : "udp4")
      const received: Array<Received> = []
      socket.on("message", (data, remote) => {
        received.push({ data, from: { address: remote.address, port: remote.port } })
        if (echo) socket.send(data, remote.port, remote.address)
      })
      socket.bind(0, address, () => {
        const bound = socket.address()
        const peer: Peer = {
          address: { address: bound.address, port: bound.port },
          received,
          send: (data, to) => socket.send(data, to.port, to.address),
          waitFor: (count, millis = 10_000) =>
            Effect.async<ReadonlyArray<Received>, Error>((done) => {
              const started = Date.now()
              const timer = setInterval(() => {
                if (received.length >= count) done(Effect.succeed(received))
                else if (Date.now() - started > millis) done(Effect.fail(new Error(`${received.length} of ${count} datagrams arrived`)))
                else return
                clearInterval(timer)
              }, 5)
              return Effect.sync(() => clearInterval(timer))
            })
        }
        resume(Effect.succeed({ peer, socket }))
      })
    }),
    ({ socket }) => Effect.sync(() => socket.close())
  ).pipe(Effect.map(({ peer }) => peer))

/** Sends every datagram straight back to where it came from. */
export const echoServer = (address = "127.0.0.1") => bindPeer(address, true)

export const client = (address = "127.0.0.1") => bindPeer(address, false)
