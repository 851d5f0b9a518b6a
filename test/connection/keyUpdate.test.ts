import { describe, expect, it } from "vitest"
import { OneRttKeys } from "../../src/internal/connection/keyUpdate.js"
import type { CryptoBackend } from "../../src/internal/crypto/backend.js"
import { deriveDirectionalKeys, derivePacketKey, nextTrafficSecret, type PacketKey } from "../../src/internal/crypto/packetKeys.js"
import {
  type CipherSuite,
  TLS_AES_128_GCM_SHA256,
  TLS_AES_256_GCM_SHA384,
  TLS_CHACHA20_POLY1305_SHA256
} from "../../src/internal/crypto/suite.js"
import { QUIC_V1, QUIC_V2, type QuicVersion } from "../../src/internal/packet/version.js"
import { backends, fixture, fromHex, toHex } from "../helpers.js"

const PTO = 100_000 // 100 ms in µs

/** A sealed 1-RTT packet as the peer sees it: the (unprotected) short header is the AAD. */
interface Packet {
  readonly pn: number
  readonly phase: 0 | 1
  readonly header: Uint8Array
  readonly sealed: Uint8Array
}

const payloadFor = (pn: number): Uint8Array => new TextEncoder().encode(`packet ${pn} payload, padded for good measure`)

/** Seals a short-header packet with the sender's current write key and records it (RFC 9001 §5.3). */
const send = (from: OneRttKeys, pn: number): Packet => {
  const header = Uint8Array.of(0x40 | (from.writePhase << 2) | 0x03, 0xde, 0xad, (pn >>> 24) & 0xff, (pn >>> 16) & 0xff, (pn >>> 8) & 0xff, pn & 0xff)
  const plaintext = payloadFor(pn)
  const sealed = new Uint8Array(plaintext.length + 16)
  from.write.aead.seal(from.write.nonceFor(pn), header, plaintext, sealed, 0)
  from.onPacketSealed(pn)
  return { pn, phase: from.writePhase, header, sealed }
}

/** Tries to open with a key; true when the AEAD authenticates and the payload is the one sent. */
const opensWith = (key: PacketKey | undefined, packet: Packet): boolean => {
  if (key === undefined) return false
  const out = new Uint8Array(packet.sealed.length - 16)
  if (!key.aead.open(key.nonceFor(packet.pn), packet.header, packet.sealed, out, 0)) return false
  expect(out).toEqual(payloadFor(packet.pn))
  return true
}

/** The receive path: pick the key by phase and pn, open, then record (RFC 9001 §6.3). */
const receive = (at: OneRttKeys, packet: Packet, now: number): { opened: boolean; updated: boolean } => {
  const key = at.keyFor(packet.phase, packet.pn)
  if (!opensWith(key, packet)) return { opened: false, updated: false }
  return { opened: true, updated: at.onPacketOpened(packet.phase, packet.pn, now, PTO) }
}

const pair = (backend: CryptoBackend, suite: CipherSuite, version: QuicVersion = QUIC_V1) => {
  const clientSecret = new Uint8Array(suite.hash === "sha256" ? 32 : 48).map((_, i) => i + 1)
  const serverSecret = new Uint8Array(suite.hash === "sha256" ? 32 : 48).map((_, i) => 0xff - i)
  const client = new OneRttKeys(
    backend,
    version,
    suite,
    deriveDirectionalKeys(backend, suite, version, serverSecret),
    deriveDirectionalKeys(backend, suite, version, clientSecret)
  )
  const server = new OneRttKeys(
    backend,
    version,
    suite,
    deriveDirectionalKeys(backend, suite, version, clientSecret),
    deriveDirectionalKeys(backend, suite, version, serverSecret)
  )
  return { client, server, clientSecret, serverSecret }
}

const suites = [TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256]

describe.each(backends)("OneRttKeys (RFC 9001 §6) on %s", (_name, backend) => {
  describe.each(suites.map((s) => [s.name, s] as const))("%s", (_suite, suite) => {
    it("starts in phase 0 with matching keys facing each other", () => {
      const { client, server } = pair(backend, suite)
      expect([client.readPhase, client.writePhase, server.readPhase, server.writePhase]).toEqual([0, 0, 0, 0])
      expect([client.readGeneration, client.writeGeneration]).toEqual([0, 0])
      expect(client.previousRead).toBeUndefined()
      expect(client.canInitiate()).toBe(false)
      const packet = send(client, 0)
      expect(server.keyFor(0, 0)).toBe(server.read)
      expect(receive(server, packet, 0)).toEqual({ opened: true, updated: false })
      expect(server.firstReadPacket).toBe(0)
      expect(opensWith(server.nextRead, packet)).toBe(false)
    })

    it("permits an update only once a packet of the current phase was acknowledged (§6.1)", () => {
      const { client } = pair(backend, suite)
      expect(client.canInitiate()).toBe(false)
      send(client, 0)
      send(client, 1)
      expect(client.firstWritePacket).toBe(0)
      expect(client.sealedInPhase).toBe(2)
      expect(client.canInitiate()).toBe(false)
      client.onPacketAcked(1)
      expect(client.writePhaseAcked).toBe(true)
      expect(client.canInitiate()).toBe(true)
    })

    it("runs a whole client-initiated update with the server answering (§6.1, §6.2)", () => {
      const { client, server } = pair(backend, suite)
      const oldHeaders = [client.readHeader, client.writeHeader, server.readHeader, server.writeHeader]
      const oldServerRead = server.read
      // Phase 0 traffic, acknowledged.
      expect(receive(server, send(client, 0), 0).opened).toBe(true)
      expect(receive(client, send(server, 0), 0).opened).toBe(true)
      client.onPacketAcked(0)
      server.onPacketAcked(0)
      expect(client.canInitiate()).toBe(true)

      client.initiate()
      expect(client.writePhase).toBe(1)
      expect(client.readPhase).toBe(0)
      expect(client.writeGeneration).toBe(1)
      expect(client.readGeneration).toBe(0)
      expect(client.firstWritePacket).toBeUndefined()
      expect(client.sealedInPhase).toBe(0)
      expect(client.writePhaseAcked).toBe(false)
      // §6.1: no further update until the peer has answered and the new phase is acknowledged.
      expect(client.canInitiate()).toBe(false)

      // The server sees key phase 1 on packet 1 and selects its next read key.
      const p1 = send(client, 1)
      expect(p1.phase).toBe(1)
      expect(server.keyFor(1, 1)).toBe(server.nextRead)
      expect(opensWith(server.read, p1)).toBe(false)
      expect(receive(server, p1, 1_000)).toEqual({ opened: true, updated: true })
      expect(server.readPhase).toBe(1)
      expect(server.readGeneration).toBe(1)
      expect(server.firstReadPacket).toBe(1)
      expect(server.previousRead).toBe(oldServerRead)
      expect(server.previousReadDiscardAt).toBe(1_000 + 3 * PTO)
      // §6.2: it answers by updating its own sending keys.
      expect(server.writePhase).toBe(1)
      expect(server.writeGeneration).toBe(1)
      expect(server.canInitiate()).toBe(false)

      // The client receives the server's phase-1 packet under its next read key; its write keys stay.
      const s1 = send(server, 1)
      expect(s1.phase).toBe(1)
      expect(receive(client, s1, 2_000)).toEqual({ opened: true, updated: true })
      expect(client.readPhase).toBe(1)
      expect(client.readGeneration).toBe(1)
      expect(client.writeGeneration).toBe(1)
      expect(client.writePhase).toBe(1)

      // An acknowledgement of a phase-0 packet does not count; one of a phase-1 packet does.
      client.onPacketAcked(0)
      expect(client.canInitiate()).toBe(false)
      client.onPacketAcked(1)
      expect(client.canInitiate()).toBe(true)

      // Header-protection keys never change (§6).
      expect([client.readHeader, client.writeHeader, server.readHeader, server.writeHeader]).toEqual(oldHeaders)
      expect(client.readHeader).toBe(oldHeaders[0])
    })

    it("derives each phase's keys from the previous secret with \"quic ku\" (§6.1)", () => {
      const { client, server, clientSecret, serverSecret } = pair(backend, suite)
      const next1 = nextTrafficSecret(backend, suite, QUIC_V1, clientSecret)
      const next2 = nextTrafficSecret(backend, suite, QUIC_V1, next1)
      client.initiate()
      expect(client.write.secret).toEqual(next1)
      expect(server.nextRead.secret).toEqual(next1)
      receive(server, send(client, 0), 0)
      expect(server.read.secret).toEqual(next1)
      expect(server.nextRead.secret).toEqual(next2)
      expect(server.write.secret).toEqual(nextTrafficSecret(backend, suite, QUIC_V1, serverSecret))
      expect(client.nextRead.secret).toEqual(nextTrafficSecret(backend, suite, QUIC_V1, serverSecret))
      // The derived key equals a fresh derivation from the secret.
      const fresh = derivePacketKey(backend, suite, QUIC_V1, next1)
      expect(toHex(fresh.iv)).toBe(toHex(client.write.iv))
    })

    it("opens reordered packets of the previous phase with the previous key until 3×PTO passes (§6.5)", () => {
      const { client, server } = pair(backend, suite)
      const p0 = send(client, 0)
      const p1 = send(client, 1)
      const p2 = send(client, 2)
      receive(server, p0, 0)
      client.onPacketAcked(0)
      client.initiate()
      const p3 = send(client, 3)
      const p4 = send(client, 4)
      // Packet 3 (new phase) overtakes 1 and 2 (old phase).
      expect(receive(server, p3, 10_000)).toEqual({ opened: true, updated: true })
      expect(server.keyFor(0, 2)).toBe(server.previousRead)
      expect(receive(server, p2, 20_000)).toEqual({ opened: true, updated: false })
      expect(server.readPhase).toBe(1)
      expect(server.readGeneration).toBe(1)
      expect(server.writeGeneration).toBe(1)
      expect(receive(server, p4, 30_000)).toEqual({ opened: true, updated: false })
      // The timer keeps the old key until 3×PTO after the first new-phase packet.
      server.onTimer(10_000 + 3 * PTO - 1)
      expect(server.previousRead).toBeDefined()
      expect(receive(server, p1, 10_000 + 3 * PTO - 1)).toEqual({ opened: true, updated: false })
      server.onTimer(10_000 + 3 * PTO)
      expect(server.previousRead).toBeUndefined()
      expect(server.previousReadDiscardAt).toBeUndefined()
      expect(server.keyFor(0, 1)).toBeUndefined()
      expect(receive(server, p1, 10_000 + 3 * PTO)).toEqual({ opened: false, updated: false })
      expect(server.readGeneration).toBe(1)
    })

    it("lowers the first packet of the current phase when an earlier one of that phase arrives late", () => {
      const { client, server } = pair(backend, suite)
      receive(server, send(client, 0), 0)
      client.onPacketAcked(0)
      client.initiate()
      const p1 = send(client, 1)
      const p2 = send(client, 2)
      receive(server, p2, 0)
      expect(server.firstReadPacket).toBe(2)
      expect(server.keyFor(1, 1)).toBe(server.read)
      expect(receive(server, p1, 0)).toEqual({ opened: true, updated: false })
      expect(server.firstReadPacket).toBe(1)
    })

    it("tries the next key, without changing state, for an old-phase packet numbered above the current phase's first", () => {
      const { client, server } = pair(backend, suite)
      receive(server, send(client, 0), 0)
      client.onPacketAcked(0)
      client.initiate()
      receive(server, send(client, 5), 0)
      // A forged or stale phase-0 packet numbered 9 cannot belong to the previous phase (§6.3, §6.4).
      const before = { read: server.read, nextRead: server.nextRead, gen: server.readGeneration }
      expect(server.keyFor(0, 9)).toBe(server.nextRead)
      const stale = { pn: 9, phase: 0 as const, header: Uint8Array.of(0x43, 0xde, 0xad, 0, 0, 0, 9), sealed: new Uint8Array(40) }
      expect(receive(server, stale, 0).opened).toBe(false)
      expect({ read: server.read, nextRead: server.nextRead, gen: server.readGeneration }).toEqual(before)
    })

    it("derives the next receiving key only when first needed (§6.3), and once", () => {
      const { client, server } = pair(backend, suite)
      const upcoming = (keys: OneRttKeys) => (keys as unknown as { upcomingRead: PacketKey | undefined }).upcomingRead
      // An idle pair holds its current keys only.
      receive(server, send(client, 0), 0)
      receive(client, send(server, 0), 0)
      expect(upcoming(client)).toBeUndefined()
      expect(upcoming(server)).toBeUndefined()
      // Our own update makes the key for the peer's answer before the answer arrives.
      client.onPacketAcked(0)
      client.initiate()
      const ready = upcoming(client)
      expect(ready?.secret).toEqual(nextTrafficSecret(backend, suite, QUIC_V1, client.read.secret))
      // The peer derives on the first packet of the new phase, and reuses that key.
      const p1 = send(client, 1)
      expect(upcoming(server)).toBeUndefined()
      const key = server.keyFor(1, 1)
      expect(upcoming(server)).toBe(key)
      expect(server.keyFor(1, 1)).toBe(key)
      expect(receive(server, p1, 1_000)).toEqual({ opened: true, updated: true })
      expect(server.read).toBe(key)
      // Moving to it leaves no next key behind until one is needed again.
      expect(upcoming(server)).toBeUndefined()
      expect(receive(client, send(server, 1), 2_000)).toEqual({ opened: true, updated: true })
      expect(client.read).toBe(ready)
      expect(upcoming(client)).toBeUndefined()
    })

    it("counts generations over repeated updates from both sides", () => {
      const { client, server } = pair(backend, suite)
      const nextPn = new Map<OneRttKeys, number>([
        [client, 0],
        [server, 0]
      ])
      let now = 0
      /** The initiator speaks first, so the other side sees the new phase before answering. */
      const roundTrip = (first: OneRttKeys, second: OneRttKeys) => {
        const a = send(first, nextPn.get(first)!)
        nextPn.set(first, a.pn + 1)
        expect(receive(second, a, now).opened).toBe(true)
        const b = send(second, nextPn.get(second)!)
        nextPn.set(second, b.pn + 1)
        expect(receive(first, b, now).opened).toBe(true)
        first.onPacketAcked(a.pn)
        second.onPacketAcked(b.pn)
        now += 4 * PTO
        client.onTimer(now)
        server.onTimer(now)
      }
      roundTrip(client, server)
      for (let round = 1; round <= 6; round++) {
        const [initiator, responder] = round % 2 === 1 ? [client, server] : [server, client]
        expect(initiator.canInitiate()).toBe(true)
        initiator.initiate()
        roundTrip(initiator, responder)
        for (const keys of [client, server]) {
          expect(keys.readGeneration).toBe(round)
          expect(keys.writeGeneration).toBe(round)
          expect(keys.readPhase).toBe(round % 2)
          expect(keys.writePhase).toBe(round % 2)
          expect(keys.previousRead).toBeUndefined()
        }
        // Keys still face each other.
        expect(client.write.secret).toEqual(server.read.secret)
        expect(server.write.secret).toEqual(client.read.secret)
      }
    })
  })

  it("matches the RFC 9001 A.5 key update vector (v1 \"quic ku\")", () => {
    const v = fixture<Record<string, Record<string, string>>>("vectors/rfc9001.json")["chacha20_short_header"]!
    const keys = deriveDirectionalKeys(backend, TLS_CHACHA20_POLY1305_SHA256, QUIC_V1, fromHex(v["secret"]!))
    const ku = new OneRttKeys(backend, QUIC_V1, TLS_CHACHA20_POLY1305_SHA256, keys, keys)
    expect(toHex(ku.write.iv)).toBe(v["iv"])
    expect(toHex(ku.nextRead.secret)).toBe(v["ku"])
    ku.initiate()
    expect(toHex(ku.write.secret)).toBe(v["ku"])
  })

  it("matches the RFC 9369 A.5 key update vector (v2 \"quicv2 ku\")", () => {
    const v = fixture<Record<string, Record<string, string>>>("vectors/rfc9369.json")["chacha20_short_header"]!
    const keys = deriveDirectionalKeys(backend, TLS_CHACHA20_POLY1305_SHA256, QUIC_V2, fromHex(v["secret"]!))
    const ku = new OneRttKeys(backend, QUIC_V2, TLS_CHACHA20_POLY1305_SHA256, keys, keys)
    expect(toHex(ku.write.iv)).toBe(v["iv"])
    ku.initiate()
    expect(toHex(ku.write.secret)).toBe(v["ku"])
  })

  it("seals with the A.5 packet key exactly as the RFC does before any update", () => {
    const v = fixture<Record<string, Record<string, string | number>>>("vectors/rfc9001.json")["chacha20_short_header"]!
    const keys = deriveDirectionalKeys(backend, TLS_CHACHA20_POLY1305_SHA256, QUIC_V1, fromHex(v["secret"] as string))
    const ku = new OneRttKeys(backend, QUIC_V1, TLS_CHACHA20_POLY1305_SHA256, keys, keys)
    const pn = v["packet_number"] as number
    expect(toHex(ku.write.nonceFor(pn))).toBe(v["nonce"])
    const plaintext = fromHex(v["payload_plaintext"] as string)
    const out = new Uint8Array(plaintext.length + 16)
    ku.write.aead.seal(ku.write.nonceFor(pn), fromHex(v["unprotected_header"] as string), plaintext, out, 0)
    expect(toHex(out)).toBe(v["payload_ciphertext"])
  })
})
