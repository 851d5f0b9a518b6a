import { describe, expect, it } from "vitest"
import { hkdfExpandLabel, hkdfLabel } from "../../src/internal/crypto/hkdf.js"
import { isTlsAlert } from "../../src/internal/tls/alert.js"
import { ExtensionType, HandshakeType } from "../../src/internal/tls/constants.js"
import {
  decodeAlpn,
  decodeKeyShareClient,
  decodeKeyShareServer,
  decodePskModes,
  decodeServerName,
  decodeSupportedVersionsClient,
  decodeSupportedVersionsServer,
  decodeU16List,
  encodeKeyShareClient,
  encodeKeyShareServer,
  encodePskModes,
  encodeServerName,
  encodeSupportedVersionsClient,
  encodeSupportedVersionsServer,
  encodeU16List
} from "../../src/internal/tls/extensions.js"
import { HandshakeFramer } from "../../src/internal/tls/framer.js"
import { KeySchedule, resumptionPsk } from "../../src/internal/tls/keySchedule.js"
import {
  decodeCertificate,
  decodeCertificateVerify,
  decodeClientHello,
  decodeEncryptedExtensions,
  decodeNewSessionTicket,
  decodeServerHello,
  encodeCertificate,
  encodeCertificateVerify,
  encodeClientHello,
  encodeEncryptedExtensions,
  encodeFinished,
  encodeNewSessionTicket,
  encodeServerHello,
  findExtension,
  isHelloRetryRequest
} from "../../src/internal/tls/messages.js"
import { Transcript } from "../../src/internal/tls/transcript.js"
import { backends, fixture, fromHex, toHex } from "../helpers.js"

const v = fixture("vectors/rfc8448-simple-1rtt.json")
const m = v.messages
const ks = v.key_schedule
const EMPTY = new Uint8Array(0)

const ok = <A>(value: A): Exclude<A, { _tag: "TlsAlert" }> => {
  if (isTlsAlert(value)) throw new Error(`unexpected alert: ${value.reason}`)
  return value as Exclude<A, { _tag: "TlsAlert" }>
}

const body = (hex: string): Uint8Array => fromHex(hex).subarray(4)

describe("RFC 8448 §3 messages", () => {
  it("frames the concatenated server flight into its messages", () => {
    const framer = new HandshakeFramer(1 << 16)
    const flight = m.encrypted_extensions + m.certificate + m.certificate_verify + m.server_finished
    const bytes = fromHex(flight)
    framer.push(bytes.subarray(0, 10))
    expect(framer.next()).toBeUndefined()
    framer.push(bytes.subarray(10))
    const types: Array<number> = []
    for (let msg = framer.next(); msg !== undefined; msg = framer.next()) types.push(ok(msg).type)
    expect(types).toEqual([
      HandshakeType.encrypted_extensions,
      HandshakeType.certificate,
      HandshakeType.certificate_verify,
      HandshakeType.finished
    ])
    expect(framer.buffered).toBe(0)
  })

  it("refuses a handshake message longer than the limit", () => {
    const framer = new HandshakeFramer(100)
    framer.push(fromHex(m.certificate))
    expect(isTlsAlert(framer.next())).toBe(true)
  })

  it("reads and re-encodes the ClientHello, and its extensions", () => {
    const ch = ok(decodeClientHello(body(m.client_hello)))
    expect(ch.cipherSuites).toEqual([0x1301, 0x1303, 0x1302])
    expect(toHex(encodeClientHello(ch))).toBe(m.client_hello)
    expect(ok(decodeServerName(findExtension(ch.extensions, ExtensionType.server_name)!))).toBe("server")
    const groups = findExtension(ch.extensions, ExtensionType.supported_groups)!
    expect(ok(decodeU16List(groups, "supported_groups"))).toEqual([0x1d, 0x17, 0x18, 0x19, 0x100, 0x101, 0x102, 0x103, 0x104])
    expect(toHex(encodeU16List(ok(decodeU16List(groups, "supported_groups"))))).toBe(toHex(groups))
    const share = findExtension(ch.extensions, ExtensionType.key_share)!
    const entries = ok(decodeKeyShareClient(share))
    expect(entries).toHaveLength(1)
    expect(entries[0]!.group).toBe(0x1d)
    expect(toHex(entries[0]!.keyExchange)).toBe(v.client_x25519.public_key)
    expect(toHex(encodeKeyShareClient(entries))).toBe(toHex(share))
    const versions = findExtension(ch.extensions, ExtensionType.supported_versions)!
    expect(ok(decodeSupportedVersionsClient(versions))).toEqual([0x0304])
    expect(toHex(encodeSupportedVersionsClient([0x0304]))).toBe(toHex(versions))
    const sigs = findExtension(ch.extensions, ExtensionType.signature_algorithms)!
    expect(toHex(encodeU16List(ok(decodeU16List(sigs, "signature_algorithms"))))).toBe(toHex(sigs))
    const modes = findExtension(ch.extensions, ExtensionType.psk_key_exchange_modes)!
    expect(ok(decodePskModes(modes))).toEqual([1])
    expect(toHex(encodePskModes([1]))).toBe(toHex(modes))
    expect(toHex(encodeServerName("server"))).toBe(toHex(findExtension(ch.extensions, ExtensionType.server_name)!))
  })

  it("reads and re-encodes the ServerHello", () => {
    const sh = ok(decodeServerHello(body(m.server_hello)))
    expect(sh.cipherSuite).toBe(0x1301)
    expect(isHelloRetryRequest(sh)).toBe(false)
    expect(toHex(encodeServerHello(sh))).toBe(m.server_hello)
    const share = ok(decodeKeyShareServer(findExtension(sh.extensions, ExtensionType.key_share)!))
    expect(toHex(share.keyExchange)).toBe(v.server_x25519.public_key)
    expect(toHex(encodeKeyShareServer(share))).toBe(toHex(findExtension(sh.extensions, ExtensionType.key_share)!))
    const version = findExtension(sh.extensions, ExtensionType.supported_versions)!
    expect(ok(decodeSupportedVersionsServer(version))).toBe(0x0304)
    expect(toHex(encodeSupportedVersionsServer(0x0304))).toBe(toHex(version))
  })

  it("reads and re-encodes EncryptedExtensions, Certificate, CertificateVerify, Finished and NewSessionTicket", () => {
    const ee = ok(decodeEncryptedExtensions(body(m.encrypted_extensions)))
    expect(toHex(encodeEncryptedExtensions(ee))).toBe(m.encrypted_extensions)
    const cert = ok(decodeCertificate(body(m.certificate)))
    expect(cert.entries).toHaveLength(1)
    expect(toHex(cert.entries[0]!.data)).toBe(v.server_certificate.der)
    expect(toHex(encodeCertificate(cert))).toBe(m.certificate)
    const cv = ok(decodeCertificateVerify(body(m.certificate_verify)))
    expect(cv.scheme).toBe(0x0804)
    expect(cv.signature.length).toBe(128)
    expect(toHex(encodeCertificateVerify(cv))).toBe(m.certificate_verify)
    expect(toHex(encodeFinished({ verifyData: body(m.server_finished) }))).toBe(m.server_finished)
    const nst = ok(decodeNewSessionTicket(body(m.new_session_ticket)))
    expect(nst.lifetime).toBe(30)
    expect(toHex(nst.nonce)).toBe(ks.ticket_nonce)
    expect(toHex(encodeNewSessionTicket(nst))).toBe(m.new_session_ticket)
  })

  it("rejects ALPN lists with an empty name", () => {
    expect(decodeAlpn(fromHex("0003026832"))).toEqual(["h2"])
    expect(isTlsAlert(decodeAlpn(fromHex("000100")))).toBe(true)
  })
})

describe.each(backends)("RFC 8448 §3 key schedule on the %s backend", (_name, backend) => {
  it("reproduces every secret of the trace", () => {
    const transcript = new Transcript()
    transcript.add(fromHex(m.client_hello))
    const schedule = new KeySchedule(backend, "sha256")
    expect(toHex(schedule.earlySecret)).toBe(ks.early_secret)
    expect(toHex(schedule.emptyHash)).toBe(ks.empty_hash)
    expect(toHex(schedule.deriveSecret(schedule.earlySecret, "derived", schedule.emptyHash))).toBe(ks.derived_for_handshake)
    schedule.enterHandshake(fromHex(ks.ecdhe_shared_secret))
    expect(toHex(schedule.handshakeSecret!)).toBe(ks.handshake_secret)
    transcript.add(fromHex(m.server_hello))
    const helloHash = transcript.hash(backend, "sha256")
    expect(toHex(helloHash)).toBe(ks.transcript_hash_server_hello)
    const hs = schedule.handshakeTrafficSecrets(helloHash)
    expect(toHex(hs.client)).toBe(ks.client_handshake_traffic_secret)
    expect(toHex(hs.server)).toBe(ks.server_handshake_traffic_secret)
    schedule.enterMaster()
    expect(toHex(schedule.masterSecret!)).toBe(ks.master_secret)
    transcript.add(fromHex(m.encrypted_extensions))
    transcript.add(fromHex(m.certificate))
    transcript.add(fromHex(m.certificate_verify))
    const serverVerify = schedule.finishedVerifyData(hs.server, transcript.hash(backend, "sha256"))
    expect(toHex(serverVerify)).toBe(v.finished.server_verify_data)
    transcript.add(fromHex(m.server_finished))
    const finishedHash = transcript.hash(backend, "sha256")
    expect(toHex(finishedHash)).toBe(ks.transcript_hash_server_finished)
    const ap = schedule.applicationTrafficSecrets(finishedHash)
    expect(toHex(ap.client)).toBe(ks.client_application_traffic_secret_0)
    expect(toHex(ap.server)).toBe(ks.server_application_traffic_secret_0)
    expect(toHex(schedule.deriveSecret(schedule.masterSecret!, "exp master", finishedHash))).toBe(ks.exporter_master_secret)
    expect(toHex(schedule.finishedVerifyData(hs.client, finishedHash))).toBe(v.finished.client_verify_data)
    transcript.add(fromHex(m.client_finished))
    const clientFinishedHash = transcript.hash(backend, "sha256")
    expect(toHex(clientFinishedHash)).toBe(ks.transcript_hash_client_finished)
    const resumption = schedule.resumptionMasterSecret(clientFinishedHash)
    expect(toHex(resumption)).toBe(ks.resumption_master_secret)
    expect(toHex(resumptionPsk(backend, "sha256", resumption, fromHex(ks.ticket_nonce)))).toBe(ks.resumption_psk)
  })

  it("derives the published traffic keys and IVs", () => {
    for (const [secret, keys] of [
      [ks.server_handshake_traffic_secret, v.traffic_keys.server_handshake],
      [ks.client_handshake_traffic_secret, v.traffic_keys.client_handshake],
      [ks.server_application_traffic_secret_0, v.traffic_keys.server_application],
      [ks.client_application_traffic_secret_0, v.traffic_keys.client_application]
    ] as const) {
      expect(toHex(hkdfExpandLabel(backend, "sha256", fromHex(secret), "key", EMPTY, 16))).toBe(keys.key)
      expect(toHex(hkdfExpandLabel(backend, "sha256", fromHex(secret), "iv", EMPTY, 12))).toBe(keys.iv)
    }
  })

  it("encodes the HkdfLabel infos printed in the trace", () => {
    const hi = v.hkdf_infos
    expect(toHex(hkdfLabel("derived", fromHex(ks.empty_hash), 32))).toBe(hi.derived)
    expect(toHex(hkdfLabel("c hs traffic", fromHex(ks.transcript_hash_server_hello), 32))).toBe(hi.c_hs_traffic)
    expect(toHex(hkdfLabel("res master", fromHex(ks.transcript_hash_client_finished), 32))).toBe(hi.res_master)
    expect(toHex(hkdfLabel("resumption", fromHex(ks.ticket_nonce), 32))).toBe(hi.resumption)
    expect(toHex(hkdfLabel("finished", EMPTY, 32))).toBe(hi.finished)
    expect(toHex(hkdfLabel("key", EMPTY, 16))).toBe(hi.key)
    expect(toHex(hkdfLabel("iv", EMPTY, 12))).toBe(hi.iv)
  })
})
