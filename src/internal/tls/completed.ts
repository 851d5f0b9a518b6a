import type { CipherSuite } from "../crypto/suite.js"
import { type TlsAlert, tlsAlert } from "./alert.js"
import { AlertDescription } from "./constants.js"
import type { TlsServer } from "./server.js"
import type { CryptoLevel, TlsEvent } from "./session.js"

/**
 * What a server connection keeps of its TLS session once the handshake is
 * confirmed and its tickets are sent: the negotiated facts, and nothing of
 * the transcript, key schedule or message buffers (a few KiB per idle
 * connection). A QUIC client sends no post-handshake TLS messages (RFC 9001
 * §6: no KeyUpdate; no post-handshake authentication is requested), so any
 * further handshake bytes are an unexpected message.
 */
export class CompletedServerHandshake {
  readonly complete = true
  readonly alpn: string | undefined
  readonly suite: CipherSuite | undefined
  readonly peerCertificates: ReadonlyArray<Uint8Array>
  readonly resumed: boolean
  readonly earlyDataAccepted: boolean
  readonly clientRandomBytes: Uint8Array

  constructor(server: TlsServer) {
    this.alpn = server.alpn
    this.suite = server.suite
    this.peerCertificates = server.peerCertificates
    this.resumed = server.resumed
    this.earlyDataAccepted = server.earlyDataAccepted
    this.clientRandomBytes = server.clientRandomBytes
  }

  pollEvent(): TlsEvent | undefined {
    return undefined
  }

  receive(_level: CryptoLevel, data: Uint8Array, _unixMillis: number): TlsAlert | undefined {
    return data.length === 0 ? undefined : tlsAlert(AlertDescription.unexpected_message, "handshake data after the handshake")
  }
}
