import type { CryptoBackend } from "../crypto/backend.js"
import type { CipherSuite } from "../crypto/suite.js"
import { transportError, TransportErrorCode } from "../errors.js"
import { FrameType } from "../frame/types.js"
import { isTlsAlert } from "./alert.js"
import { ExtensionType } from "./constants.js"
import { decodeMaxEarlyData } from "./extensions.js"
import { resumptionPsk } from "./keySchedule.js"
import { decodeNewSessionTicket, findExtension } from "./messages.js"
import type { TlsFailure } from "./session.js"
import { MAX_TICKET_LIFETIME_SECONDS, type SessionTicket } from "./ticket.js"

/**
 * A client's receipt of session tickets (RFC 8446 §4.6.1): each
 * NewSessionTicket the server sends after the handshake becomes a
 * {@link SessionTicket} to resume with. Needs only the resumption secret and
 * what was negotiated, so it outlives the rest of the TLS client, which a
 * confirmed connection lets go (a server may send tickets at any time).
 */
export class SessionTicketReceiver {
  constructor(
    private readonly backend: CryptoBackend,
    private readonly serverName: string,
    private readonly suite: CipherSuite,
    private readonly alpn: string,
    private readonly resumptionSecret: Uint8Array,
    /** RFC 9000 §7.4.1: remembered with each ticket, they bound what 0-RTT may send. */
    private readonly serverTransportParameters: Uint8Array
  ) {}

  /**
   * The ticket a NewSessionTicket body carries, undefined for one not to be
   * used (lifetime 0), or the failure a malformed one is.
   */
  receive(body: Uint8Array, unixMillis: number): SessionTicket | TlsFailure | undefined {
    const nst = decodeNewSessionTicket(body)
    if (isTlsAlert(nst)) return nst
    const earlyData = findExtension(nst.extensions, ExtensionType.early_data)
    let maxEarlyData = 0
    if (earlyData !== undefined) {
      const size = decodeMaxEarlyData(earlyData)
      if (isTlsAlert(size)) return size
      // RFC 9001 §4.6.1: a QUIC server that allows 0-RTT sends 0xffffffff; anything else is a PROTOCOL_VIOLATION.
      if (size !== 0xffffffff) {
        return transportError(TransportErrorCode.PROTOCOL_VIOLATION, `max_early_data_size ${size}`, FrameType.CRYPTO)
      }
      maxEarlyData = size
    }
    if (nst.lifetime === 0) return undefined
    return {
      serverName: this.serverName,
      ticket: nst.ticket.slice(),
      suite: this.suite,
      psk: resumptionPsk(this.backend, this.suite.hash, this.resumptionSecret, nst.nonce),
      ageAdd: nst.ageAdd,
      receivedAt: unixMillis,
      lifetime: Math.min(nst.lifetime, MAX_TICKET_LIFETIME_SECONDS),
      maxEarlyData,
      alpn: this.alpn,
      transportParameters: this.serverTransportParameters
    }
  }
}
