/**
 * RFC 9000 §8.1: until it has validated the client's address (here: no
 * Retry, so until it processes a Handshake packet from the client), a server
 * sends at most three times the bytes it has received. Checked byte by byte
 * over the lab's timeline of sends and deliveries, with a server flight
 * (a long certificate chain) larger than the first allowance, and with the
 * client datagrams that would lift the limit lost; RFC 9002 §6.2.2.1: a
 * server blocked by the limit must not arm its PTO, so it stays silent until
 * the client's next datagram.
 */
import { describe, expect, it } from "vitest"
import { addressKey } from "../../src/internal/address.js"
import type { CryptoBackend } from "../../src/internal/crypto/backend.js"
import { TLS_AES_128_GCM_SHA256 } from "../../src/internal/crypto/suite.js"
import { QUIC_V1 } from "../../src/internal/packet/version.js"
import { backends } from "../helpers.js"
import {
  bothConnected,
  bytesOf,
  CLIENT,
  describePackets,
  keyLogger,
  LabDecryptor,
  type LabDatagram,
  type LabNetwork,
  makeLab,
  packetKinds,
  SERVER,
  testIdentityChain
} from "../support/handshakeLab.js"

const fromClient = (d: LabDatagram) => addressKey(d.from) === addressKey(CLIENT)
const fromServer = (d: LabDatagram) => addressKey(d.from) === addressKey(SERVER)
const FIRST_PTO = 999_000

interface AmplificationAudit {
  /** Server sends that exceeded 3× the bytes delivered to it so far (must be empty). */
  readonly violations: ReadonlyArray<string>
  /** Bytes the server sent, and bytes delivered to it, before the first datagram with a Handshake packet from the client arrived. */
  readonly sent: number
  readonly received: number
  /** When the first datagram holding a Handshake packet from the client reached the server (validation). */
  readonly validatedAt: number | undefined
  /** Server send times before validation, with the running totals. */
  readonly steps: ReadonlyArray<{ at: number; sent: number; allowance: number }>
}

/** Walks the timeline in order; each server send is checked against 3× what had been delivered to it before. */
const audit = (network: LabNetwork): AmplificationAudit => {
  let received = 0
  let sent = 0
  let validatedAt: number | undefined
  const violations: Array<string> = []
  const steps: Array<{ at: number; sent: number; allowance: number }> = []
  for (const entry of network.timeline) {
    const d = entry.datagram
    if (entry.kind === "deliver" && fromClient(d) && validatedAt === undefined) {
      // The datagram that validates the address lifts the limit: it is not counted.
      if (packetKinds(d.data).includes("handshake")) validatedAt = d.deliveredAt!
      else received += d.data.length
    } else if (entry.kind === "send" && fromServer(d) && validatedAt === undefined) {
      sent += d.data.length
      steps.push({ at: d.at, sent, allowance: 3 * received })
      if (sent > 3 * received) violations.push(`at ${d.at}: ${sent} bytes sent > 3 × ${received} received`)
    }
  }
  return { violations, sent, received, validatedAt, steps }
}

const lab = (backend: CryptoBackend, chainLength: number) => {
  const log = keyLogger()
  const made = makeLab(backend, {
    client: { cipherSuites: [TLS_AES_128_GCM_SHA256], keyLog: log.keyLog },
    server: { retry: false, certificateChain: testIdentityChain(chainLength) }
  })
  return { ...made, log, decryptor: new LabDecryptor(backend, QUIC_V1, TLS_AES_128_GCM_SHA256, log) }
}

describe.each(backends)("anti-amplification limit on the %s backend", (_name, backend) => {
  it("a handshake that fits the limit: the server's flight is one datagram within 3 × 1200 bytes", () => {
    const { network, client } = lab(backend, 1)
    const start = network.now
    client.connect(network.now, SERVER, "localhost")
    expect(network.run(bothConnected(network), 1_000_000)).toBe(true)
    const result = audit(network)
    expect(result.violations).toEqual([])
    expect(result.received).toBe(1200)
    expect(result.sent).toBe(1200)
    expect(result.validatedAt! - start).toBe(30_000)
  })

  it("a flight larger than the limit: exactly 3 × 1200 bytes go out, the rest when the client's next datagram arrives", () => {
    const { network, client } = lab(backend, 10)
    const start = network.now
    client.connect(network.now, SERVER, "localhost")
    expect(network.run(bothConnected(network), 2_000_000)).toBe(true)
    const result = audit(network)
    expect(result.violations).toEqual([])
    const server = network.between(SERVER, CLIENT)
    // Blocked at the limit: three full datagrams at once, nothing more until the client answers.
    const firstBurst = server.filter((d) => d.at === start + 10_000)
    expect(firstBurst.map((d) => d.data.length)).toEqual([1200, 1200, 1200])
    const next = server.find((d) => d.at > start + 10_000)!
    const clientAnswer = network.between(CLIENT, SERVER)[1]!
    expect(next.at).toBe(clientAnswer.deliveredAt)
    // The flight really was larger than the limit.
    expect(bytesOf(server.filter((d) => packetKinds(d.data).some((k) => k === "initial" || k === "handshake")))).toBeGreaterThan(3600)
  })

  it("the client's answers to the first 3600 bytes are lost: the server stays silent (no PTO) until the client's probe, then resumes", () => {
    const { network, client, decryptor } = lab(backend, 10)
    const start = network.now
    // The client's whole second flight: its acknowledgements of the three datagrams the server could send.
    network.drop = (d) => addressKey(d.from) === addressKey(CLIENT) && d.at === start + 20_000
    client.connect(network.now, SERVER, "localhost")
    expect(network.run(bothConnected(network), 5_000_000)).toBe(true)
    network.runFor(200_000)
    const result = audit(network)
    expect(result.violations).toEqual([])

    const server = network.between(SERVER, CLIENT)
    const clientSent = network.between(CLIENT, SERVER)
    const lost = clientSent.filter((d) => d.fate === "dropped")
    expect(lost.length).toBeGreaterThanOrEqual(1)
    expect(bytesOf(server.filter((d) => d.at === start + 10_000))).toBe(3600)
    // The client's next datagram after the lost ones is its PTO probe.
    const probe = clientSent.find((d) => d.fate === "delivered" && d.at > start + 20_000)!
    expect(probe.at).toBeGreaterThan(start + 20_000)
    // Between the first burst and the probe's arrival the server sends nothing at all.
    expect(server.filter((d) => d.at > start + 10_000 && d.at < probe.deliveredAt!)).toEqual([])
    // Then it resumes at once.
    expect(server.find((d) => d.at > start + 10_000)!.at).toBe(probe.deliveredAt)
    expect(describePackets(decryptor.fresh().packets(probe.from, probe.data))).toMatch(/handshake/)
    expect(result.validatedAt).toBe(probe.deliveredAt)
  })

  it("the server's Initial is lost: it is blocked at 3 × 1200 bytes, unvalidated, and resumes within 3× of the client's 1200-byte probes", () => {
    const { network, client } = lab(backend, 10)
    const start = network.now
    // The datagram with the ServerHello: without it the client has no Handshake keys and cannot validate.
    network.drop = (d) => addressKey(d.from) === addressKey(SERVER) && d.index === 0
    client.connect(network.now, SERVER, "localhost")
    expect(network.run(bothConnected(network), 10_000_000)).toBe(true)
    network.runFor(200_000)
    const result = audit(network)
    expect(result.violations).toEqual([])

    const server = network.between(SERVER, CLIENT)
    const clientSent = network.between(CLIENT, SERVER)
    expect(bytesOf(server.filter((d) => d.at === start + 10_000))).toBe(3600)
    // The client can only probe with Initials (two padded datagrams at its first PTO).
    const probes = clientSent.filter((d) => d.at === start + FIRST_PTO)
    expect(probes.map((d) => d.data.length)).toEqual([1200, 1200])
    expect(probes.every((d) => packetKinds(d.data).every((k) => k === "initial"))).toBe(true)
    // Silent until they arrive: the server's own PTO is not armed while it is blocked.
    expect(server.filter((d) => d.at > start + 10_000 && d.at < probes[0]!.deliveredAt!)).toEqual([])
    // Still unvalidated after the probes: whatever it sends then stays within 3 × (1200 + 2400).
    const afterProbes = result.steps.filter((s) => s.at >= probes[0]!.deliveredAt!)
    expect(afterProbes.length).toBeGreaterThan(0)
    expect(result.validatedAt).toBeGreaterThan(probes[1]!.deliveredAt!)
  })
})
