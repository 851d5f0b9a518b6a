import { bytesEqual } from "../codec/bytes.js"
import { BufferReader } from "../codec/reader.js"
import { decodeError, illegalParameter, isTlsAlert, type TlsAlert } from "./alert.js"
import { ByteBuilder } from "./builder.js"
import { ExtensionType, HandshakeType, HELLO_RETRY_REQUEST_RANDOM, LEGACY_VERSION } from "./constants.js"

/**
 * TLS 1.3 handshake messages (RFC 8446 §4) as QUIC carries them: in CRYPTO
 * frames, without a record layer (RFC 9001 §4).
 *
 * Extensions are kept as the raw list the peer sent, in order, so a message
 * re-encodes exactly as received and unknown extensions are carried through;
 * the typed views of each known extension live in extensions.ts.
 */

export interface Extension {
  readonly type: number
  readonly data: Uint8Array
}

export interface ClientHello {
  readonly random: Uint8Array
  readonly legacySessionId: Uint8Array
  readonly cipherSuites: ReadonlyArray<number>
  readonly legacyCompressionMethods: Uint8Array
  readonly extensions: ReadonlyArray<Extension>
}

/** A ServerHello, or a HelloRetryRequest when `random` is the special value (RFC 8446 §4.1.3). */
export interface ServerHello {
  readonly random: Uint8Array
  readonly legacySessionIdEcho: Uint8Array
  readonly cipherSuite: number
  readonly extensions: ReadonlyArray<Extension>
}

export interface EncryptedExtensions {
  readonly extensions: ReadonlyArray<Extension>
}

export interface CertificateRequest {
  readonly context: Uint8Array
  readonly extensions: ReadonlyArray<Extension>
}

export interface CertificateEntry {
  readonly data: Uint8Array
  readonly extensions: ReadonlyArray<Extension>
}

export interface Certificate {
  readonly context: Uint8Array
  readonly entries: ReadonlyArray<CertificateEntry>
}

export interface CertificateVerify {
  readonly scheme: number
  readonly signature: Uint8Array
}

export interface Finished {
  readonly verifyData: Uint8Array
}

export interface NewSessionTicket {
  /** Seconds. */
  readonly lifetime: number
  readonly ageAdd: number
  readonly nonce: Uint8Array
  readonly ticket: Uint8Array
  readonly extensions: ReadonlyArray<Extension>
}

/** One complete handshake message: its type, its body, and its full encoding (header included) for the transcript. */
export interface HandshakeMessage {
  readonly type: number
  readonly body: Uint8Array
  readonly raw: Uint8Array
}

export const isHelloRetryRequest = (hello: ServerHello): boolean => bytesEqual(hello.random, HELLO_RETRY_REQUEST_RANDOM)


export const findExtension = (extensions: ReadonlyArray<Extension>, type: number): Uint8Array | undefined => {
  for (const e of extensions) if (e.type === type) return e.data
  return undefined
}

// ---- decoding -------------------------------------------------------------

const readExtensions = (r: BufferReader): ReadonlyArray<Extension> | TlsAlert => {
  const length = r.u16()
  const end = r.offset + length
  if (r.failed || end > r.end) return decodeError("extension list")
  const extensions: Array<Extension> = []
  const seen = new Set<number>()
  while (r.offset < end) {
    const type = r.u16()
    const data = r.bytesView(r.u16())
    if (r.failed || r.offset > end) return decodeError("extension")
    // RFC 8446 §4.2: no two extensions of the same type in one block.
    if (seen.has(type)) return illegalParameter(`duplicate extension ${type}`)
    seen.add(type)
    extensions.push({ type, data })
  }
  return extensions
}

const finish = <A>(r: BufferReader, value: A, what: string): A | TlsAlert =>
  r.failed || r.remaining !== 0 ? decodeError(what) : value

export const decodeClientHello = (body: Uint8Array): ClientHello | TlsAlert => {
  const r = new BufferReader(body)
  r.u16() // legacy_version: ignored in TLS 1.3 (RFC 8446 §4.1.2), supported_versions decides.
  const random = r.bytesView(32)
  const legacySessionId = r.bytesView(r.u8())
  const suitesLength = r.u16()
  if (r.failed || suitesLength % 2 !== 0 || suitesLength === 0) return decodeError("ClientHello cipher suites")
  const cipherSuites: Array<number> = []
  for (let i = 0; i < suitesLength && !r.failed; i += 2) cipherSuites.push(r.u16())
  const legacyCompressionMethods = r.bytesView(r.u8())
  if (r.failed || legacySessionId.length > 32) return decodeError("ClientHello")
  const extensions = readExtensions(r)
  if (isTlsAlert(extensions)) return extensions
  // RFC 8446 §4.2.11: pre_shared_key must be the last extension of a ClientHello.
  const pskAt = extensions.findIndex((e) => e.type === ExtensionType.pre_shared_key)
  if (pskAt >= 0 && pskAt !== extensions.length - 1) return illegalParameter("pre_shared_key is not the last extension")
  return finish(r, { random, legacySessionId, cipherSuites, legacyCompressionMethods, extensions }, "ClientHello")
}

export const decodeServerHello = (body: Uint8Array): ServerHello | TlsAlert => {
  const r = new BufferReader(body)
  r.u16()
  const random = r.bytesView(32)
  const legacySessionIdEcho = r.bytesView(r.u8())
  const cipherSuite = r.u16()
  const compression = r.u8()
  if (r.failed || legacySessionIdEcho.length > 32) return decodeError("ServerHello")
  // RFC 8446 §4.1.3: legacy_compression_method MUST be 0.
  if (compression !== 0) return illegalParameter("ServerHello compression method")
  const extensions = readExtensions(r)
  if (isTlsAlert(extensions)) return extensions
  return finish(r, { random, legacySessionIdEcho, cipherSuite, extensions }, "ServerHello")
}

export const decodeEncryptedExtensions = (body: Uint8Array): EncryptedExtensions | TlsAlert => {
  const r = new BufferReader(body)
  const extensions = readExtensions(r)
  if (isTlsAlert(extensions)) return extensions
  return finish(r, { extensions }, "EncryptedExtensions")
}

export const decodeCertificateRequest = (body: Uint8Array): CertificateRequest | TlsAlert => {
  const r = new BufferReader(body)
  const context = r.bytesView(r.u8())
  const extensions = readExtensions(r)
  if (isTlsAlert(extensions)) return extensions
  return finish(r, { context, extensions }, "CertificateRequest")
}

export const decodeCertificate = (body: Uint8Array): Certificate | TlsAlert => {
  const r = new BufferReader(body)
  const context = r.bytesView(r.u8())
  const listLength = r.u24()
  const end = r.offset + listLength
  if (r.failed || end > r.end) return decodeError("Certificate")
  const entries: Array<CertificateEntry> = []
  while (r.offset < end) {
    const data = r.bytesView(r.u24())
    if (r.failed || data.length === 0) return decodeError("CertificateEntry")
    const extensions = readExtensions(r)
    if (isTlsAlert(extensions)) return extensions
    if (r.offset > end) return decodeError("CertificateEntry")
    entries.push({ data, extensions })
  }
  return finish(r, { context, entries }, "Certificate")
}

export const decodeCertificateVerify = (body: Uint8Array): CertificateVerify | TlsAlert => {
  const r = new BufferReader(body)
  const scheme = r.u16()
  const signature = r.bytesView(r.u16())
  return finish(r, { scheme, signature }, "CertificateVerify")
}

export const decodeFinished = (body: Uint8Array): Finished => ({ verifyData: body })

export const decodeNewSessionTicket = (body: Uint8Array): NewSessionTicket | TlsAlert => {
  const r = new BufferReader(body)
  const lifetime = r.u32()
  const ageAdd = r.u32()
  const nonce = r.bytesView(r.u8())
  const ticket = r.bytesView(r.u16())
  if (r.failed || ticket.length === 0) return decodeError("NewSessionTicket")
  const extensions = readExtensions(r)
  if (isTlsAlert(extensions)) return extensions
  return finish(r, { lifetime, ageAdd, nonce, ticket, extensions }, "NewSessionTicket")
}

// ---- encoding -------------------------------------------------------------

const writeExtensions = (b: ByteBuilder, extensions: ReadonlyArray<Extension>): void => {
  b.prefixed(2, () => {
    for (const e of extensions) b.u16(e.type).vector(2, e.data)
  })
}

/** Frames a body as a handshake message: type (1 byte), length (3 bytes), body. */
export const handshakeMessage = (type: number, body: (b: ByteBuilder) => void): Uint8Array =>
  new ByteBuilder().u8(type).prefixed(3, body).finish()

export const encodeClientHello = (m: ClientHello): Uint8Array =>
  handshakeMessage(HandshakeType.client_hello, (b) => {
    b.u16(LEGACY_VERSION).bytes(m.random).vector(1, m.legacySessionId)
    b.prefixed(2, () => {
      for (const suite of m.cipherSuites) b.u16(suite)
    })
    b.vector(1, m.legacyCompressionMethods)
    writeExtensions(b, m.extensions)
  })

export const encodeServerHello = (m: ServerHello): Uint8Array =>
  handshakeMessage(HandshakeType.server_hello, (b) => {
    b.u16(LEGACY_VERSION).bytes(m.random).vector(1, m.legacySessionIdEcho).u16(m.cipherSuite).u8(0)
    writeExtensions(b, m.extensions)
  })

export const encodeEncryptedExtensions = (m: EncryptedExtensions): Uint8Array =>
  handshakeMessage(HandshakeType.encrypted_extensions, (b) => writeExtensions(b, m.extensions))

export const encodeCertificateRequest = (m: CertificateRequest): Uint8Array =>
  handshakeMessage(HandshakeType.certificate_request, (b) => {
    b.vector(1, m.context)
    writeExtensions(b, m.extensions)
  })

export const encodeCertificate = (m: Certificate): Uint8Array =>
  handshakeMessage(HandshakeType.certificate, (b) => {
    b.vector(1, m.context)
    b.prefixed(3, () => {
      for (const entry of m.entries) {
        b.vector(3, entry.data)
        writeExtensions(b, entry.extensions)
      }
    })
  })

export const encodeCertificateVerify = (m: CertificateVerify): Uint8Array =>
  handshakeMessage(HandshakeType.certificate_verify, (b) => b.u16(m.scheme).vector(2, m.signature))

export const encodeFinished = (m: Finished): Uint8Array =>
  handshakeMessage(HandshakeType.finished, (b) => b.bytes(m.verifyData))

export const encodeNewSessionTicket = (m: NewSessionTicket): Uint8Array =>
  handshakeMessage(HandshakeType.new_session_ticket, (b) => {
    b.u32(m.lifetime).u32(m.ageAdd).vector(1, m.nonce).vector(2, m.ticket)
    writeExtensions(b, m.extensions)
  })
