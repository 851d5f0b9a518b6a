import { bytesEqual } from "../codec/bytes.js"
import type { KeyShare, NamedGroup, PublicKeyInfo } from "../crypto/backend.js"
import type { CipherSuite } from "../crypto/suite.js"
import { decodeError, illegalParameter, isTlsAlert, missingExtension, type TlsAlert, tlsAlert } from "./alert.js"
import { verifiedPeer } from "./certificates.js"
import {
  AlertDescription,
  ExtensionType,
  HandshakeType,
  NamedGroupCode,
  PskKeyExchangeMode,
  TLS13_VERSION
} from "./constants.js"
import {
  bindersListLength,
  decodeAlpn,
  decodeCookie,
  decodeKeyShareHelloRetry,
  decodeKeyShareServer,
  decodeSelectedPsk,
  decodeSupportedVersionsServer,
  decodeU16List,
  EMPTY_EXTENSION,
  encodeAlpn,
  encodeCookie,
  encodeKeyShareClient,
  encodeOfferedPsks,
  encodePskModes,
  encodeServerName,
  encodeSupportedVersionsClient,
  encodeU16List
} from "./extensions.js"
import { KeySchedule } from "./keySchedule.js"
import {
  type CertificateRequest,
  decodeCertificate,
  decodeCertificateRequest,
  decodeCertificateVerify,
  decodeEncryptedExtensions,
  decodeServerHello,
  encodeCertificate,
  encodeCertificateVerify,
  encodeClientHello,
  encodeFinished,
  type Extension,
  findExtension,
  type HandshakeMessage,
  isHelloRetryRequest,
  type ServerHello
} from "./messages.js"
import {
  type CertifiedKey,
  type CertificateVerifier,
  type CryptoLevel,
  type TlsCommonConfig,
  type TlsFailure,
  TlsSession
} from "./session.js"
import {
  certificateSignatureSchemes,
  certificateVerifyInput,
  checkCertificateVerify,
  chooseSignatureScheme,
  handshakeSignatureAlgorithm,
  signerFor
} from "./signatureSchemes.js"
import type { SessionTicket } from "./ticket.js"
import { SessionTicketReceiver } from "./ticketReceiver.js"
import { Transcript } from "./transcript.js"

export interface TlsClientConfig extends TlsCommonConfig {
  /** The name to verify the server's certificate against; sent as SNI unless it is an IP literal. */
  readonly serverName: string
  readonly verifier: CertificateVerifier
  /** A certificate to present if the server asks for one (mutual TLS). */
  readonly clientCertificate?: CertifiedKey | undefined
  /** A ticket from an earlier connection to resume with. */
  readonly session?: SessionTicket | undefined
  /**
   * Whether this client keeps tickets (default true). One that keeps none
   * does not ask for them: see `baseExtensions`.
   */
  readonly requestTickets?: boolean | undefined
  /** Send 0-RTT data when the session allows it. */
  readonly earlyData?: boolean | undefined
}

type State =
  | "start"
  | "wait-server-hello"
  | "wait-encrypted-extensions"
  | "wait-certificate-or-request"
  | "wait-certificate"
  | "wait-certificate-verify"
  | "wait-finished"
  | "connected"

const isIpLiteral = (name: string): boolean => /^[0-9.]+$/.test(name) || name.includes(":")

const groupCode = (group: NamedGroup): number => NamedGroupCode[group]

const groupOf = (code: number): NamedGroup | undefined =>
  code === NamedGroupCode.x25519 ? "x25519" : code === NamedGroupCode.secp256r1 ? "secp256r1" : undefined

/** The TLS 1.3 client of a QUIC connection (RFC 8446 §4, RFC 9001 §4). */
export class TlsClient extends TlsSession {
  private state: State = "start"
  private readonly transcript = new Transcript()
  private keyShare: KeyShare | undefined
  private schedule: KeySchedule | undefined
  private pskSchedule: KeySchedule | undefined
  private helloExtensions: Array<Extension> = []
  private retried = false
  private earlyDataOffered = false
  private serverHandshakeSecret: Uint8Array | undefined
  private clientHandshakeSecret: Uint8Array | undefined
  private certificateRequest: CertificateRequest | undefined
  private serverKey: PublicKeyInfo | undefined
  private serverTransportParameters: Uint8Array | undefined
  /** Once connected: what turns the server's NewSessionTickets into tickets. */
  private tickets: SessionTicketReceiver | undefined

  constructor(readonly config: TlsClientConfig) {
    super(config)
  }

  /** Once connected: what turns the server's NewSessionTickets into tickets. */
  get ticketReceiver(): SessionTicketReceiver | undefined {
    return this.tickets
  }

  /** Produces the ClientHello (and the 0-RTT keys when a session allows early data). */
  start(unixMillis: number): void {
    if (this.state !== "start") return
    const backend = this.config.backend
    backend.randomBytes(this.clientRandom)
    const group = this.config.groups[0]
    if (group === undefined) throw new Error("TLS client: no key-exchange group configured")
    this.keyShare = backend.generateKeyShare(group)
    const session = this.usableSession(unixMillis)
    // RFC 8446 §4.2.10: 0-RTT data belongs to the ticket's application protocol, so we must still offer it.
    this.earlyDataOffered = session !== undefined && this.config.earlyData === true && session.maxEarlyData > 0 &&
      this.config.alpn.includes(session.alpn)
    this.helloExtensions = this.baseExtensions()
    if (this.earlyDataOffered) this.helloExtensions.push({ type: ExtensionType.early_data, data: EMPTY_EXTENSION })
    const hello = this.writeClientHello(session, unixMillis)
    if (this.earlyDataOffered && session !== undefined) {
      const secret = this.pskSchedule!.clientEarlyTrafficSecret(this.transcript.hash(backend, session.suite.hash))
      this.logKey("CLIENT_EARLY_TRAFFIC_SECRET", secret)
      this.keys("early", "write", session.suite, secret)
    }
    this.send("initial", hello)
    this.state = "wait-server-hello"
  }

  /** A ticket whose suite we still offer and that has not expired. */
  private usableSession(unixMillis: number): SessionTicket | undefined {
    const s = this.config.session
    if (s === undefined) return undefined
    if (!this.config.cipherSuites.some((suite) => suite.hash === s.suite.hash)) return undefined
    if (unixMillis >= s.receivedAt + s.lifetime * 1000) return undefined
    return s
  }

  private baseExtensions(): Array<Extension> {
    const c = this.config
    const extensions: Array<Extension> = []
    if (!isIpLiteral(c.serverName)) extensions.push({ type: ExtensionType.server_name, data: encodeServerName(c.serverName) })
    extensions.push(
      { type: ExtensionType.supported_versions, data: encodeSupportedVersionsClient([TLS13_VERSION]) },
      { type: ExtensionType.supported_groups, data: encodeU16List(c.groups.map(groupCode)) },
      { type: ExtensionType.signature_algorithms, data: encodeU16List(this.acceptedSchemes) },
      { type: ExtensionType.signature_algorithms_cert, data: encodeU16List(certificateSignatureSchemes) },
      {
        type: ExtensionType.key_share,
        data: encodeKeyShareClient([{ group: groupCode(this.keyShare!.group), keyExchange: this.keyShare!.publicKey }])
      },
      { type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn(c.alpn) },
      { type: ExtensionType.quic_transport_parameters, data: c.transportParameters }
    )
    // RFC 8446 §4.2.9: sent whenever tickets are wanted, not only with a PSK,
    // because servers (Go's among them) issue usable tickets only to clients
    // that list a mode; left out by a client that keeps no tickets, so that
    // servers (Go's, ours) spend no work on tickets for it.
    if (c.requestTickets !== false || c.session !== undefined) {
      extensions.push({ type: ExtensionType.psk_key_exchange_modes, data: encodePskModes([PskKeyExchangeMode.psk_dhe_ke]) })
    }
    return extensions
  }

  /**
   * Encodes the ClientHello, adds it to the transcript and returns it. With a
   * session, pre_shared_key goes last and its binder is computed over the
   * hello truncated before the binders (RFC 8446 §4.2.11.2).
   */
  private writeClientHello(session: SessionTicket | undefined, unixMillis: number): Uint8Array {
    const backend = this.config.backend
    const hello = {
      random: this.clientRandom,
      legacySessionId: new Uint8Array(0),
      cipherSuites: this.config.cipherSuites.map((s) => s.code),
      legacyCompressionMethods: new Uint8Array([0]),
      extensions: this.helloExtensions
    }
    if (session === undefined) {
      const encoded = encodeClientHello(hello)
      this.transcript.add(encoded)
      return encoded
    }
    this.pskSchedule = new KeySchedule(backend, session.suite.hash, session.psk)
    const binderLength = this.pskSchedule.hashLength
    const age = (unixMillis - session.receivedAt + session.ageAdd) >>> 0
    const identities = [{ identity: session.ticket, obfuscatedTicketAge: age }]
    const placeholder = encodeOfferedPsks({ identities, binders: [new Uint8Array(binderLength)] })
    const withPsk = { ...hello, extensions: [...this.helloExtensions, { type: ExtensionType.pre_shared_key, data: placeholder }] }
    const draft = encodeClientHello(withPsk)
    const truncated = draft.subarray(0, draft.length - bindersListLength([binderLength]))
    const binder = this.pskSchedule.finishedVerifyData(
      this.pskSchedule.binderKey(),
      this.transcript.hashWith(backend, session.suite.hash, truncated)
    )
    draft.set(binder, draft.length - binderLength)
    this.transcript.add(draft)
    return draft
  }

  protected handle(level: CryptoLevel, message: HandshakeMessage, unixMillis: number): TlsFailure | undefined {
    switch (this.state) {
      case "wait-server-hello":
        if (level !== "initial" || message.type !== HandshakeType.server_hello) break
        return this.onServerHello(message, unixMillis)
      case "wait-encrypted-extensions":
        if (level !== "handshake" || message.type !== HandshakeType.encrypted_extensions) break
        return this.onEncryptedExtensions(message)
      case "wait-certificate-or-request":
        if (level !== "handshake") break
        if (message.type === HandshakeType.certificate_request) return this.onCertificateRequest(message)
        if (message.type === HandshakeType.certificate) return this.onCertificate(message, unixMillis)
        break
      case "wait-certificate":
        if (level !== "handshake" || message.type !== HandshakeType.certificate) break
        return this.onCertificate(message, unixMillis)
      case "wait-certificate-verify":
        if (level !== "handshake" || message.type !== HandshakeType.certificate_verify) break
        return this.onCertificateVerify(message)
      case "wait-finished":
        if (level !== "handshake" || message.type !== HandshakeType.finished) break
        return this.onFinished(message)
      case "connected":
        if (level !== "application" || message.type !== HandshakeType.new_session_ticket) break
        return this.onNewSessionTicket(message, unixMillis)
      case "start":
        break
    }
    return this.unexpected(level, message)
  }

  private onServerHello(message: HandshakeMessage, unixMillis: number): TlsFailure | undefined {
    const hello = decodeServerHello(message.body)
    if (isTlsAlert(hello)) return hello
    // RFC 9001 §8.4: QUIC clients send an empty legacy_session_id, so the echo must be empty.
    if (hello.legacySessionIdEcho.length !== 0) return illegalParameter("legacy_session_id_echo")
    const suite = this.config.cipherSuites.find((s) => s.code === hello.cipherSuite)
    if (suite === undefined) return illegalParameter(`server chose cipher suite ${hello.cipherSuite} we did not offer`)
    const versionData = findExtension(hello.extensions, ExtensionType.supported_versions)
    if (versionData === undefined) return tlsAlert(AlertDescription.protocol_version, "server does not speak TLS 1.3")
    const version = decodeSupportedVersionsServer(versionData)
    if (isTlsAlert(version)) return version
    if (version !== TLS13_VERSION) return illegalParameter(`server selected version ${version}`)
    return isHelloRetryRequest(hello) ? this.onHelloRetryRequest(message, hello, suite, unixMillis) : this.onRealServerHello(message, hello, suite)
  }

  private onHelloRetryRequest(message: HandshakeMessage, hello: ServerHello, suite: CipherSuite, unixMillis: number): TlsFailure | undefined {
    // RFC 8446 §4.1.4: at most one HelloRetryRequest per connection.
    if (this.retried) return tlsAlert(AlertDescription.unexpected_message, "second HelloRetryRequest")
    this.retried = true
    const backend = this.config.backend
    const shareData = findExtension(hello.extensions, ExtensionType.key_share)
    const cookieData = findExtension(hello.extensions, ExtensionType.cookie)
    let group: NamedGroup | undefined = this.keyShare!.group
    if (shareData !== undefined) {
      const code = decodeKeyShareHelloRetry(shareData)
      if (isTlsAlert(code)) return code
      group = groupOf(code)
      // RFC 8446 §4.1.4: the group must be one we offered and must not be the one we already sent a share for.
      if (group === undefined || !this.config.groups.includes(group) || group === this.keyShare!.group) {
        return illegalParameter(`HelloRetryRequest asks for group ${code}`)
      }
    } else if (cookieData === undefined) {
      return illegalParameter("HelloRetryRequest that would not change the ClientHello")
    }
    this.keyShare = backend.generateKeyShare(group)
    this.transcript.replaceWithMessageHash(backend, suite.hash)
    this.transcript.add(message.raw)
    this.helloExtensions = this.helloExtensions
      .filter((e) => e.type !== ExtensionType.early_data && e.type !== ExtensionType.key_share && e.type !== ExtensionType.cookie)
      .concat({
        type: ExtensionType.key_share,
        data: encodeKeyShareClient([{ group: groupCode(group), keyExchange: this.keyShare.publicKey }])
      })
    if (cookieData !== undefined) {
      const cookie = decodeCookie(cookieData)
      if (isTlsAlert(cookie)) return cookie
      this.helloExtensions.push({ type: ExtensionType.cookie, data: encodeCookie(cookie) })
    }
    // RFC 8446 §4.2.10: no early data after a HelloRetryRequest.
    if (this.earlyDataOffered) {
      this.earlyDataOffered = false
      this.emit({ _tag: "EarlyData", accepted: false })
    }
    const session = this.usableSession(unixMillis)
    this.send("initial", this.writeClientHello(session !== undefined && session.suite.hash === suite.hash ? session : undefined, unixMillis))
    return this.levelDrained("initial")
  }

  private onRealServerHello(message: HandshakeMessage, hello: ServerHello, suite: CipherSuite): TlsFailure | undefined {
    const backend = this.config.backend
    if (this.retried && bytesEqual(hello.random, this.clientRandom)) return illegalParameter("server random")
    const shareData = findExtension(hello.extensions, ExtensionType.key_share)
    // We only offer psk_dhe_ke, so the server must always send a key share.
    if (shareData === undefined) return missingExtension("key_share")
    const share = decodeKeyShareServer(shareData)
    if (isTlsAlert(share)) return share
    if (share.group !== groupCode(this.keyShare!.group)) return illegalParameter(`key share for group ${share.group}`)
    const shared = this.keyShare!.computeSecret(share.keyExchange)
    if (shared === undefined) return illegalParameter("server key share")

    const pskData = findExtension(hello.extensions, ExtensionType.pre_shared_key)
    if (pskData !== undefined) {
      const index = decodeSelectedPsk(pskData)
      if (isTlsAlert(index)) return index
      // RFC 8446 §4.2.11: the selected identity must be one we offered, with a suite of the PSK's hash.
      if (this.pskSchedule === undefined || index !== 0 || this.config.session?.suite.hash !== suite.hash) {
        return illegalParameter("server selected a PSK we did not offer")
      }
      this.schedule = this.pskSchedule
      this.resumed = true
    } else {
      this.schedule = new KeySchedule(backend, suite.hash)
    }
    this.suite = suite
    this.transcript.add(message.raw)
    this.schedule.enterHandshake(shared)
    const secrets = this.schedule.handshakeTrafficSecrets(this.transcript.hash(backend, suite.hash))
    this.clientHandshakeSecret = secrets.client
    this.serverHandshakeSecret = secrets.server
    this.logKey("CLIENT_HANDSHAKE_TRAFFIC_SECRET", secrets.client)
    this.logKey("SERVER_HANDSHAKE_TRAFFIC_SECRET", secrets.server)
    this.keys("handshake", "read", suite, secrets.server)
    this.keys("handshake", "write", suite, secrets.client)
    this.state = "wait-encrypted-extensions"
    return this.levelDrained("initial")
  }

  private onEncryptedExtensions(message: HandshakeMessage): TlsFailure | undefined {
    const ee = decodeEncryptedExtensions(message.body)
    if (isTlsAlert(ee)) return ee
    for (const e of ee.extensions) {
      // RFC 8446 §4.3.1: these belong in ServerHello, never in EncryptedExtensions.
      if (
        e.type === ExtensionType.key_share || e.type === ExtensionType.pre_shared_key ||
        e.type === ExtensionType.supported_versions || e.type === ExtensionType.cookie
      ) return illegalParameter(`extension ${e.type} in EncryptedExtensions`)
    }
    const alpnData = findExtension(ee.extensions, ExtensionType.application_layer_protocol_negotiation)
    // RFC 9001 §8.1: a QUIC handshake that negotiates no application protocol fails.
    if (alpnData === undefined) return tlsAlert(AlertDescription.no_application_protocol, "server selected no ALPN protocol")
    const alpn = decodeAlpn(alpnData)
    if (isTlsAlert(alpn)) return alpn
    if (alpn.length !== 1 || !this.config.alpn.includes(alpn[0]!)) return illegalParameter("server selected an ALPN protocol we did not offer")
    this.alpn = alpn[0]!
    const params = findExtension(ee.extensions, ExtensionType.quic_transport_parameters)
    // RFC 9001 §8.2: the transport parameters extension is mandatory.
    if (params === undefined) return missingExtension("quic_transport_parameters")
    this.serverTransportParameters = params.slice()
    const earlyData = findExtension(ee.extensions, ExtensionType.early_data)
    if (earlyData !== undefined && (!this.earlyDataOffered || earlyData.length !== 0)) {
      return illegalParameter("early_data accepted but not offered")
    }
    // RFC 8446 §4.2.10: accepted early data must keep the ticket's application protocol.
    if (earlyData !== undefined && this.alpn !== this.config.session?.alpn) {
      return illegalParameter("early data accepted under a different ALPN protocol")
    }
    this.emit({ _tag: "PeerTransportParameters", data: this.serverTransportParameters })
    if (this.earlyDataOffered) this.emit({ _tag: "EarlyData", accepted: earlyData !== undefined })
    this.transcript.add(message.raw)
    this.state = this.resumed ? "wait-finished" : "wait-certificate-or-request"
    return undefined
  }

  private onCertificateRequest(message: HandshakeMessage): TlsFailure | undefined {
    const request = decodeCertificateRequest(message.body)
    if (isTlsAlert(request)) return request
    // RFC 8446 §4.3.2: the context is empty during the handshake, and signature_algorithms is required.
    if (request.context.length !== 0) return illegalParameter("certificate_request_context")
    if (findExtension(request.extensions, ExtensionType.signature_algorithms) === undefined) return missingExtension("signature_algorithms")
    this.certificateRequest = request
    this.transcript.add(message.raw)
    this.state = "wait-certificate"
    return undefined
  }

  private onCertificate(message: HandshakeMessage, unixMillis: number): TlsFailure | undefined {
    const certificate = decodeCertificate(message.body)
    if (isTlsAlert(certificate)) return certificate
    if (certificate.context.length !== 0) return illegalParameter("certificate_request_context")
    // RFC 8446 §4.4.2.4: a server must send a certificate.
    if (certificate.entries.length === 0) return decodeError("empty server Certificate")
    const peer = verifiedPeer(certificate.entries, this.config.verifier, {
      serverName: this.config.serverName,
      unixMillis,
      purpose: "server"
    })
    if (isTlsAlert(peer)) return peer
    this.peerCertificates = peer.chain
    this.serverKey = peer.key
    this.transcript.add(message.raw)
    this.state = "wait-certificate-verify"
    return undefined
  }

  private onCertificateVerify(message: HandshakeMessage): TlsFailure | undefined {
    const verify = decodeCertificateVerify(message.body)
    if (isTlsAlert(verify)) return verify
    const backend = this.config.backend
    const transcriptHash = this.transcript.hash(backend, this.suite!.hash)
    const failure = checkCertificateVerify(backend, this.acceptedSchemes, verify, this.serverKey!, "server", transcriptHash)
    if (failure !== undefined) return failure
    this.transcript.add(message.raw)
    this.state = "wait-finished"
    return undefined
  }

  private onFinished(message: HandshakeMessage): TlsFailure | undefined {
    const backend = this.config.backend
    const suite = this.suite!
    const schedule = this.schedule!
    const expected = schedule.finishedVerifyData(this.serverHandshakeSecret!, this.transcript.hash(backend, suite.hash))
    if (!bytesEqual(expected, message.body)) return tlsAlert(AlertDescription.decrypt_error, "server Finished does not verify")
    this.transcript.add(message.raw)
    schedule.enterMaster()
    const application = schedule.applicationTrafficSecrets(this.transcript.hash(backend, suite.hash))
    this.logKey("SERVER_TRAFFIC_SECRET_0", application.server)
    this.logKey("CLIENT_TRAFFIC_SECRET_0", application.client)
    this.keys("application", "read", suite, application.server)

    if (this.certificateRequest !== undefined) {
      const failure = this.sendClientCertificate()
      if (failure !== undefined) return failure
    }
    const finished = encodeFinished({
      verifyData: schedule.finishedVerifyData(this.clientHandshakeSecret!, this.transcript.hash(backend, suite.hash))
    })
    this.transcript.add(finished)
    this.send("handshake", finished)
    this.keys("application", "write", suite, application.client)
    this.tickets = new SessionTicketReceiver(
      backend,
      this.config.serverName,
      suite,
      this.alpn!,
      schedule.resumptionMasterSecret(this.transcript.hash(backend, suite.hash)),
      this.serverTransportParameters!
    )
    this.state = "connected"
    this.complete = true
    this.emit({ _tag: "HandshakeComplete" })
    return this.levelDrained("handshake")
  }

  /** RFC 8446 §4.4.2: the client's Certificate (empty when it has none) and, if non-empty, its CertificateVerify. */
  private sendClientCertificate(): TlsAlert | undefined {
    const backend = this.config.backend
    const own = this.config.clientCertificate
    const offered = decodeU16List(findExtension(this.certificateRequest!.extensions, ExtensionType.signature_algorithms)!, "signature_algorithms")
    if (isTlsAlert(offered)) return offered
    const scheme = own === undefined ? undefined : chooseSignatureScheme(offered, own.key)
    const chain = own !== undefined && scheme !== undefined ? own.chain : []
    const certificate = encodeCertificate({ context: new Uint8Array(0), entries: chain.map((data) => ({ data, extensions: [] })) })
    this.transcript.add(certificate)
    this.send("handshake", certificate)
    if (own === undefined || scheme === undefined) return undefined
    const algorithm = handshakeSignatureAlgorithm(scheme, own.key)!
    const input = certificateVerifyInput("client", this.transcript.hash(backend, this.suite!.hash))
    const verify = encodeCertificateVerify({ scheme, signature: signerFor(backend, own.key).sign(algorithm, input) })
    this.transcript.add(verify)
    this.send("handshake", verify)
    return undefined
  }

  private onNewSessionTicket(message: HandshakeMessage, unixMillis: number): TlsFailure | undefined {
    const ticket = this.tickets!.receive(message.body, unixMillis)
    if (ticket === undefined || "_tag" in ticket) return ticket
    this.emit({ _tag: "SessionTicket", ticket })
    return undefined
  }

}
