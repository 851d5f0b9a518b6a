import type { CipherSuite } from "../crypto/suite.js"
import { isTlsAlert, type TlsAlert, tlsAlert, unexpectedMessage } from "./alert.js"
import type { TlsClient } from "./client.js"
import { AlertDescription, HandshakeType } from "./constants.js"
import type { HandshakeFramer } from "./framer.js"
import type { TlsServer } from "./server.js"
import type { CryptoLevel, TlsEvent, TlsFailure } from "./session.js"
import type { SessionTicketReceiver } from "./ticketReceiver.js"

/** What a finished TLS handshake leaves, on either side: the negotiated facts. */
abstract class NegotiatedHandshake {
  readonly complete = true
  readonly alpn: string | undefined
  readonly suite: CipherSuite | undefined
  readonly peerCertificates: ReadonlyArray<Uint8Array>
  readonly resumed: boolean
  readonly clientRandomBytes: Uint8Array

  constructor(session: TlsClient | TlsServer) {
    this.alpn = session.alpn
    this.suite = session.suite
    this.peerCertificates = session.peerCertificates
    this.resumed = session.resumed
    this.clientRandomBytes = session.clientRandomBytes
  }
}

/**
 * What a server connection keeps of its TLS session once the handshake is
 * confirmed and its tickets are sent: the negotiated facts, and nothing of
 * the transcript, key schedule or message buffers (a few KiB per idle
 * connection). A QUIC client sends no post-handshake TLS messages (RFC 9001
 * §6: no KeyUpdate; no post-handshake authentication is requested), so any
 * further handshake bytes are an unexpected message.
 */
export class CompletedServerHandshake extends NegotiatedHandshake {
  readonly earlyDataAccepted: boolean

  constructor(server: TlsServer) {
    super(server)
    this.earlyDataAccepted = server.earlyDataAccepted
  }

  pollEvent(): TlsEvent | undefined {
    return undefined
  }

  receive(_level: CryptoLevel, data: Uint8Array, _unixMillis: number): TlsAlert | undefined {
    return data.length === 0 ? undefined : tlsAlert(AlertDescription.unexpected_message, "handshake data after the handshake")
  }
}

/**
 * What a client connection keeps of its TLS session once the handshake is
 * confirmed: the negotiated facts, and what it takes to turn NewSessionTicket
 * messages into tickets (RFC 8446 §4.6.1: a server may send them at any
 * time). The transcript, key schedule, key share and handshake buffers go.
 * A message half-received at the application level carries over.
 */
export class CompletedClientHandshake extends NegotiatedHandshake {
  private readonly framer: HandshakeFramer
  private readonly tickets: SessionTicketReceiver
  private readonly events: Array<TlsEvent> = []
  private failure: TlsFailure | undefined

  /** `client` must be connected (its handshake complete). */
  constructor(client: TlsClient) {
    super(client)
    this.framer = client.framerOf("application")
    this.tickets = client.ticketReceiver!
  }

  pollEvent(): TlsEvent | undefined {
    return this.events.shift()
  }

  receive(level: CryptoLevel, data: Uint8Array, unixMillis: number): TlsFailure | undefined {
    if (this.failure !== undefined) return this.failure
    if (level !== "application") return (this.failure = unexpectedMessage(`handshake data at the ${level} level after the handshake`))
    this.framer.push(data)
    for (;;) {
      const message = this.framer.next()
      if (message === undefined) return undefined
      if (isTlsAlert(message)) return (this.failure = message)
      // RFC 8446 §4.6: of the post-handshake messages, QUIC leaves only NewSessionTicket (RFC 9001 §6, §4.3).
      if (message.type !== HandshakeType.new_session_ticket) {
        return (this.failure = unexpectedMessage(`handshake message type ${message.type} after the handshake`))
      }
      const ticket = this.tickets.receive(message.body, unixMillis)
      if (ticket !== undefined && "_tag" in ticket) return (this.failure = ticket)
      if (ticket !== undefined) this.events.push({ _tag: "SessionTicket", ticket })
    }
  }
}
