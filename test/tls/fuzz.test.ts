import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { isTlsAlert } from "../../src/internal/tls/alert.js"
import type { TlsFailure } from "../../src/internal/tls/session.js"
import { backends } from "../helpers.js"
import { clientConfig, runHandshake, serverConfig, TlsClient, TlsServer } from "./harness.js"

const NOW = Date.UTC(2026, 0, 1)
const [, backend] = backends[0]!

/**
 * Messages of a full handshake with mutual TLS, counted across both sides:
 * 0 ClientHello; 1 ServerHello; 2–6 EE, CertificateRequest, Certificate,
 * CertificateVerify, Finished; 7–9 client Certificate, CertificateVerify, Finished.
 */
const MESSAGES = 10

const isValidFailure = (failure: TlsFailure): boolean =>
  isTlsAlert(failure) ? failure.description >= 0 && failure.description < 256 : failure.code > 0

const handshakeWith = (intercept: (index: number, data: Uint8Array) => Uint8Array) => {
  const client = new TlsClient(clientConfig(backend, { clientCertificate: serverConfig(backend).certificate }))
  const server = new TlsServer(serverConfig(backend, { clientAuth: "optional", clientVerifier: () => undefined }))
  const trace = runHandshake(client, server, NOW, (index, _from, data) => intercept(index, data))
  return { client, server, trace }
}

describe("hostile handshake messages", () => {
  it("a clean run has the expected number of messages", () => {
    let count = 0
    const { trace } = handshakeWith((_i, data) => {
      count++
      return data
    })
    expect(trace.clientFailure ?? trace.serverFailure).toBeUndefined()
    expect(count).toBe(MESSAGES)
  })

  it.each(Array.from({ length: MESSAGES }, (_, i) => [i]))("a truncated message %i ends the handshake with an alert", (target) => {
    const { trace, client, server } = handshakeWith((index, data) => {
      if (index !== target) return data
      const body = data.length - 4
      const cut = Math.max(0, body - 1 - (body >> 2))
      const truncated = data.slice(0, 4 + cut)
      truncated[1] = cut >>> 16
      truncated[2] = cut >>> 8
      truncated[3] = cut
      return truncated
    })
    const failure = trace.clientFailure ?? trace.serverFailure
    expect(failure).toBeDefined()
    expect(isValidFailure(failure!)).toBe(true)
    expect(client.complete && server.complete).toBe(false)
  })

  it.each(Array.from({ length: MESSAGES }, (_, i) => [i]))("garbage in place of message %i never throws", (target) => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 255 }), (garbage, type) => {
        const { trace } = handshakeWith((index, data) => {
          if (index !== target) return data
          const message = new Uint8Array(4 + garbage.length)
          message[0] = type
          message[3] = garbage.length & 0xff
          message[2] = garbage.length >>> 8
          message.set(garbage, 4)
          return message
        })
        const failure = trace.clientFailure ?? trace.serverFailure
        if (failure !== undefined) expect(isValidFailure(failure)).toBe(true)
      }),
      { numRuns: 40 }
    )
  })

  it.each(Array.from({ length: MESSAGES }, (_, i) => [i]))("a bit flipped in message %i never throws and is never silently accepted into a wrong key", (target) => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 7 }), (at, bit) => {
        const { trace, client, server } = handshakeWith((index, data) => {
          if (index !== target) return data
          const copy = data.slice()
          copy[4 + (at % (copy.length - 4))]! ^= 1 << bit
          return copy
        })
        const failure = trace.clientFailure ?? trace.serverFailure
        if (failure !== undefined) {
          expect(isValidFailure(failure)).toBe(true)
          return
        }
        // Surviving flips (e.g. in a random or an ignored extension) must still leave both sides agreeing.
        const secrets = (events: typeof trace.client, direction: "read" | "write") =>
          events.flatMap((e) => (e._tag === "Keys" && e.level === "application" && e.direction === direction ? [Array.from(e.secret)] : []))
        expect(client.complete && server.complete).toBe(true)
        expect(secrets(trace.client, "write")).toEqual(secrets(trace.server, "read"))
      }),
      { numRuns: 40 }
    )
  })
})
