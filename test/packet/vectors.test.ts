import { describe, expect, it } from "vitest"
import { decodePacketNumber } from "../../src/internal/codec/packetNumber.js"
import { hkdfExpandLabel, hkdfLabel } from "../../src/internal/crypto/hkdf.js"
import { initialKeys, initialSecrets } from "../../src/internal/crypto/initial.js"
import { deriveDirectionalKeys, nextTrafficSecret } from "../../src/internal/crypto/packetKeys.js"
import { TLS_CHACHA20_POLY1305_SHA256 } from "../../src/internal/crypto/suite.js"
import { isPacketDropped } from "../../src/internal/packet/dropped.js"
import { parsePacketHeader } from "../../src/internal/packet/header.js"
import {
  openPacket,
  readTruncatedPacketNumber,
  removeHeaderProtection,
  sealPacket
} from "../../src/internal/packet/protection.js"
import { encodeRetry, verifyRetryIntegrity } from "../../src/internal/packet/retry.js"
import { QUIC_V1, QUIC_V2 } from "../../src/internal/packet/version.js"
import { backends, fixture, fromHex, toHex } from "../helpers.js"

const EMPTY = new Uint8Array(0)

const versions = [
  ["RFC 9001 (QUIC v1)", QUIC_V1, fixture("vectors/rfc9001.json")],
  ["RFC 9369 (QUIC v2)", QUIC_V2, fixture("vectors/rfc9369.json")]
] as const

describe.each(backends)("packet protection vectors on the %s backend", (_name, backend) => {
  describe.each(versions)("%s", (_title, version, v) => {
    it("has the version constants the RFC publishes", () => {
      expect(version.number.toString(16).padStart(8, "0")).toBe(v.quic_version)
      expect(toHex(version.initialSalt)).toBe(v.initial_keys.initial_salt)
      expect(toHex(version.retryKey)).toBe(v.retry.integrity_key)
      expect(toHex(version.retryNonce)).toBe(v.retry.integrity_nonce)
      expect(version.labels).toEqual({ key: v.labels.key, iv: v.labels.iv, hp: v.labels.hp, ku: v.labels.ku })
    })

    it("derives the Retry key and nonce from the Retry secret", () => {
      const secret = fromHex(v.retry.integrity_secret)
      expect(toHex(hkdfExpandLabel(backend, "sha256", secret, version.labels.key, EMPTY, 16))).toBe(v.retry.integrity_key)
      expect(toHex(hkdfExpandLabel(backend, "sha256", secret, version.labels.iv, EMPTY, 12))).toBe(v.retry.integrity_nonce)
    })

    it("encodes HkdfLabel exactly as A.1 prints it", () => {
      const lengths: Record<string, number> = { "client in": 32, "server in": 32, "quic key": 16, "quic iv": 12, "quic hp": 16 }
      for (const [label, hex] of Object.entries(v.hkdf_label_encodings)) {
        if (label === "section" || label === "note") continue
        const length = lengths[label] ?? (label.endsWith("iv") ? 12 : 16)
        expect(toHex(hkdfLabel(label, EMPTY, length)), label).toBe(hex)
      }
    })

    it("derives the Initial secrets, keys, IVs and header-protection keys (A.1)", () => {
      const k = v.initial_keys
      const dcid = fromHex(k.client_dcid)
      const secrets = initialSecrets(backend, version, dcid)
      expect(toHex(backend.hkdfExtract("sha256", version.initialSalt, dcid))).toBe(k.initial_secret)
      expect(toHex(secrets.client)).toBe(k.client.initial_secret)
      expect(toHex(secrets.server)).toBe(k.server.initial_secret)
      for (const [secret, expected] of [
        [secrets.client, k.client],
        [secrets.server, k.server]
      ] as const) {
        expect(toHex(hkdfExpandLabel(backend, "sha256", secret, version.labels.key, EMPTY, 16))).toBe(expected.key)
        expect(toHex(hkdfExpandLabel(backend, "sha256", secret, version.labels.iv, EMPTY, 12))).toBe(expected.iv)
        expect(toHex(hkdfExpandLabel(backend, "sha256", secret, version.labels.hp, EMPTY, 16))).toBe(expected.hp)
      }
      const keys = initialKeys(backend, version, dcid)
      expect(toHex(keys.client.packet.iv)).toBe(k.client.iv)
      expect(toHex(keys.server.packet.iv)).toBe(k.server.iv)
    })

    describe.each([
      ["client Initial (A.2)", "client_initial", "client"],
      ["server Initial (A.3)", "server_initial", "server"]
    ] as const)("%s", (_t, field, side) => {
      const p = v[field]
      const dcid = fromHex(v.initial_keys.client_dcid)

      it("seals to the published packet byte for byte", () => {
        const keys = initialKeys(backend, version, dcid)[side]
        const header = fromHex(p.unprotected_header)
        const payload = fromHex(p.payload)
        const packet = new Uint8Array(header.length + payload.length + 16)
        packet.set(header)
        packet.set(payload, header.length)
        const pnOffset = header.length - p.packet_number_length
        const sampleStart = pnOffset + 4
        const end = sealPacket(keys, packet, 0, pnOffset, p.packet_number_length, header.length + payload.length, p.packet_number)
        expect(end).toBe(packet.length)
        expect(toHex(packet.subarray(sampleStart, sampleStart + 16))).toBe(p.sample)
        expect(toHex(keys.header.mask)).toBe(p.mask.slice(0, 10))
        if ("protected_first_byte" in p) expect(toHex(packet.subarray(0, 1))).toBe(p.protected_first_byte)
        expect(toHex(packet.subarray(0, header.length))).toBe(p.protected_header)
        expect(toHex(packet)).toBe(p.protected_packet)
      })

      it("parses and opens the published packet", () => {
        const keys = initialKeys(backend, version, dcid)[side]
        const packet = fromHex(p.protected_packet)
        const header = parsePacketHeader(packet, 0, 8)
        if (isPacketDropped(header) || header.form !== "long") throw new Error(`unexpected header ${JSON.stringify(header)}`)
        expect(header.type).toBe("initial")
        expect(header.version).toBe(version)
        expect(header.end).toBe(packet.length)
        const pnLength = removeHeaderProtection(keys.header, packet, 0, header.pnOffset, header.end)
        expect(pnLength).toBe(p.packet_number_length)
        expect(toHex(packet.subarray(0, header.pnOffset + pnLength))).toBe(p.unprotected_header)
        const truncated = readTruncatedPacketNumber(packet, header.pnOffset, pnLength)
        const pn = decodePacketNumber(undefined, truncated, pnLength * 8)
        expect(pn).toBe(p.packet_number)
        const payloadEnd = openPacket(keys.packet, packet, 0, header.pnOffset, pnLength, header.end, pn)
        expect(payloadEnd).toBe(packet.length - 16)
        expect(toHex(packet.subarray(header.pnOffset + pnLength, payloadEnd))).toBe(p.payload)
      })

      it("refuses a packet whose ciphertext, tag or header was tampered with", () => {
        const original = fromHex(p.protected_packet)
        const header = parsePacketHeader(original, 0, 8)
        if (isPacketDropped(header) || header.form !== "long") throw new Error("unexpected header")
        const pnEnd = header.pnOffset + p.packet_number_length
        // A byte of the DCID (header), of the ciphertext and of the tag.
        for (const at of [6, pnEnd + 3, original.length - 1]) {
          const packet = original.slice()
          packet[at]! ^= 0x01
          const keys = initialKeys(backend, version, dcid)[side]
          const pnLength = removeHeaderProtection(keys.header, packet, 0, header.pnOffset, header.end)
          const pn = decodePacketNumber(undefined, readTruncatedPacketNumber(packet, header.pnOffset, pnLength), pnLength * 8)
          const before = toHex(packet.subarray(pnEnd))
          expect(openPacket(keys.packet, packet, 0, header.pnOffset, pnLength, header.end, pn), `flip at ${at}`).toBe(-1)
          expect(toHex(packet.subarray(pnEnd)), "ciphertext left intact").toBe(before)
        }
      })
    })

    it("verifies and re-encodes the published Retry packet (A.4)", () => {
      const r = v.retry
      const packet = fromHex(r.retry_packet)
      const odcid = fromHex(r.original_destination_connection_id)
      const header = parsePacketHeader(packet, 0, 8)
      if (isPacketDropped(header) || header.form !== "retry") throw new Error(`unexpected header ${JSON.stringify(header)}`)
      expect(toHex(header.scid)).toBe(r.source_connection_id)
      expect(toHex(header.dcid)).toBe("")
      expect(toHex(header.token)).toBe(r.retry_token)
      expect(toHex(header.integrityTag)).toBe(r.integrity_tag)
      expect(verifyRetryIntegrity(backend, odcid, packet, header)).toBe(true)
      expect(verifyRetryIntegrity(backend, fromHex("0001020304050607"), packet, header)).toBe(false)
      const encoded = encodeRetry(backend, version, header.dcid, header.scid, header.token, odcid, packet[0]! & 0x0f)
      expect(toHex(encoded)).toBe(r.retry_packet)
    })

    it("rejects a Retry whose token was altered", () => {
      const r = v.retry
      const packet = fromHex(r.retry_packet)
      packet[packet.length - 17]! ^= 0x20
      const header = parsePacketHeader(packet, 0, 8)
      if (isPacketDropped(header) || header.form !== "retry") throw new Error("unexpected header")
      expect(verifyRetryIntegrity(backend, fromHex(r.original_destination_connection_id), packet, header)).toBe(false)
    })

    describe("ChaCha20-Poly1305 short header packet (A.5)", () => {
      const c = v.chacha20_short_header
      const suite = TLS_CHACHA20_POLY1305_SHA256

      it("derives key, IV, header-protection key and the next key-phase secret", () => {
        const secret = fromHex(c.secret)
        expect(toHex(hkdfExpandLabel(backend, "sha256", secret, version.labels.key, EMPTY, 32))).toBe(c.key)
        expect(toHex(hkdfExpandLabel(backend, "sha256", secret, version.labels.hp, EMPTY, 32))).toBe(c.hp)
        expect(toHex(nextTrafficSecret(backend, suite, version, secret))).toBe(c.ku)
        const keys = deriveDirectionalKeys(backend, suite, version, secret)
        expect(toHex(keys.packet.iv)).toBe(c.iv)
        expect(toHex(keys.packet.nonceFor(c.packet_number))).toBe(c.nonce)
      })

      it("seals to the published packet byte for byte", () => {
        const keys = deriveDirectionalKeys(backend, suite, version, fromHex(c.secret))
        const header = fromHex(c.unprotected_header)
        const plaintext = fromHex(c.payload_plaintext)
        const packet = new Uint8Array(header.length + plaintext.length + 16)
        packet.set(header)
        packet.set(plaintext, header.length)
        const pnOffset = header.length - c.packet_number_length
        sealPacket(keys, packet, 0, pnOffset, c.packet_number_length, header.length + plaintext.length, c.packet_number)
        expect(toHex(packet.subarray(header.length))).toBe(c.payload_ciphertext)
        expect(toHex(keys.header.mask)).toBe(c.mask.slice(0, 10))
        expect(toHex(packet.subarray(0, header.length))).toBe(c.protected_header)
        expect(toHex(packet)).toBe(c.protected_packet)
      })

      it("parses and opens the published packet", () => {
        const keys = deriveDirectionalKeys(backend, suite, version, fromHex(c.secret))
        const packet = fromHex(c.protected_packet)
        const header = parsePacketHeader(packet, 0, 0)
        if (isPacketDropped(header) || header.form !== "short") throw new Error("unexpected header")
        const pnLength = removeHeaderProtection(keys.header, packet, 0, header.pnOffset, header.end)
        expect(pnLength).toBe(c.packet_number_length)
        expect(toHex(packet.subarray(0, header.pnOffset + pnLength))).toBe(c.unprotected_header)
        const pn = decodePacketNumber(654360563, readTruncatedPacketNumber(packet, header.pnOffset, pnLength), pnLength * 8)
        expect(pn).toBe(c.packet_number)
        const end = openPacket(keys.packet, packet, 0, header.pnOffset, pnLength, header.end, pn)
        expect(toHex(packet.subarray(header.pnOffset + pnLength, end))).toBe(c.payload_plaintext)
      })

      it("refuses the packet under the next key phase's key", () => {
        const secret = fromHex(c.secret)
        const next = deriveDirectionalKeys(backend, suite, version, nextTrafficSecret(backend, suite, version, secret))
        const current = deriveDirectionalKeys(backend, suite, version, secret)
        const packet = fromHex(c.protected_packet)
        const pnLength = removeHeaderProtection(current.header, packet, 0, 1, packet.length)
        expect(openPacket(next.packet, packet, 0, 1, pnLength, packet.length, c.packet_number)).toBe(-1)
        expect(openPacket(current.packet, packet, 0, 1, pnLength, packet.length, c.packet_number)).toBe(packet.length - 16)
      })
    })
  })
})
