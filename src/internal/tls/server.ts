import { bytesEqual } from "../codec/bytes.js"
import type { KeyShare, NamedGroup } from "../crypto/backend.js"
import type { CipherSuite } from "../crypto/suite.js"
import { isTransportError, transportError, type TransportError, TransportErrorCode } from "../errors.js"
import { FrameType } from "../frame/types.js"
import { illegalParameter, isTlsAlert, missingExtension, type TlsAlert, tlsAlert } from "./alert.js"
import { leafPublicKey, verifiedPeer } from "./certificates.js"
import {
  AlertDescription,
  ExtensionType,
  HandshakeType,
  HELLO_RETRY_REQUEST_RANDOM,
  NamedGroupCode,
  PskKeyExchangeMode,
  TLS13_VERSION
} from "./constants.js"
import {
  bindersListLength,
  decodeAlpn,
  decodeCookie,
  decodeKeyShareClient,
  decodeOfferedPsks,
  decodePskModes,
  decodeServerName,
  decodeSupportedVersionsClient,
  decodeU16List,
  EMPTY_EXTENSION,
  encodeAlpn,
  encodeCookie,
  encodeKeyShareHelloRetry,
  encodeKeyShareServer,
  encodeMaxEarlyData,
  encodeSelectedPsk,
  encodeSupportedVersionsServer,
  encodeU16List,
  type KeyShareEntry,
  type OfferedPsks
} from "./extensions.js"
import { KeySchedule, resumptionPsk } from "./keySchedule.js"
import {
  type ClientHello,
  decodeCertificate,
  decodeCertificateVerify,
  decodeClientHello,
  encodeCertificate,
  encodeCertificateRequest,
  encodeCertificateVerify,
  encodeEncryptedExtensions,
  encodeFinished,
  encodeNewSessionTicket,
  encodeServerHello,
  type Extension,
  findExtension,
  type HandshakeMessage
} from "./messages.js"
import {
  type CertificateVerifier,
  type CertifiedKey,
  type CryptoLevel,
  type TlsCommonConfig,
  type TlsFailure,
  TlsSession
} from "./session.js"
import {
  certificateVerifyInput,
  checkCertificateVerify,
  chooseSignatureScheme,
  handshakeSignatureAlgorithm,
  signerFor
} from "./signatureSchemes.js"
import { MAX_TICKET_LIFETIME_SECONDS, type TicketSealer, type TicketState, type UsedTickets } from "./ticket.js"
import { Transcript } from "./transcript.js"

/** Server-wide session ticket settings, shared by every connection of an endpoint. */
export interface ServerTicketConfig {
  readonly sealer: TicketSealer
  /** Seconds; at most 604800 (RFC 8446 §4.6.1). */
  readonly lifetime: number
  /** How many tickets to issue after each handshake. */
  readonly count: number
  /** Whether tickets allow 0-RTT (RFC 9001 §4.6.1). */
  readonly earlyData: boolean
  /** Single-use enforcement for 0-RTT (RFC 8446 §8.1). */
  readonly usedTickets: UsedTickets
  /**
   * The server settings 0-RTT depends on (RFC 9000 §7.4.1: the transport
   * parameters it remembers must not shrink); early data is refused when they
   * differ from those sealed in the ticket.
   */
  readonly earlyDataContext: Uint8Array
}

export interface TlsServerConfig extends TlsCommonConfig {
  readonly certificate: CertifiedKey
  /** Mutual TLS: ask clients for a certificate, and whether it is required. */
  readonly clientAuth?: "none" | "optional" | "required" | undefined
  readonly clientVerifier?: CertificateVerifier | undefined
  readonly tickets?: ServerTicketConfig | undefined
  /**
   * Called with the client's quic_transport_parameters once its ClientHello is
   * accepted, before our flight is built: returns the parameters to send in
   * their place (RFC 9368 §2.3: a server that moves the client to another
   * version announces it as its chosen_version), an error that ends the
   * handshake (RFC 9368 §4), or undefined to send `transportParameters`.
   */
  readonly onClientTransportParameters?: ((params: Uint8Array) => Uint8Array | TransportError | undefined) | undefined
  /**
   * The QUIC version of the connection now (RFC 9369 §5 binds tickets to it):
   * offered tickets are opened under the version the client started in, ours
   * are issued under the negotiated one. Version 1 when absent.
   */
  readonly quicVersion?: (() => number) | undefined
}

type State = "wait-client-hello" | "wait-second-client-hello" | "wait-certificate" | "wait-certificate-verify" | "wait-finished" | "connected"

/** RFC 8446 §8.3: how far the client's view of a ticket's age may drift from ours for 0-RTT. */
const MAX_AGE_SKEW_MILLIS = 10_000

interface PskChoice {
  readonly index: number
  readonly state: TicketState
  readonly schedule: KeySchedule
  /** The ticket's age as the client sees it, de-obfuscated (RFC 8446 §4.2.11.1). */
  readonly clientAge: number
}

/** The TLS 1.3 server of a QUIC connection (RFC 8446 §4, RFC 9001 §4). */
export class TlsServer extends TlsSession {
  private state: State = "wait-client-hello"
  private readonly transcript = new Transcript()
  private retrySuite: CipherSuite | undefined
  private retryGroup: NamedGroup | undefined
  private cookie: Uint8Array | undefined
  private schedule: KeySchedule | undefined
  private clientHandshakeSecret: Uint8Array | undefined
  private clientApplicationSecret: Uint8Array | undefined
  private clientKeyPending = false
  /** The ClientHello listed psk_dhe_ke: tickets are issued after the handshake. */
  private clientTakesTickets = false
  private clientCertificateKey: ReturnType<typeof leafPublicKey>
  /** The server name the client asked for (SNI), if any. */
  serverName: string | undefined
  /** Whether 0-RTT data from this client is accepted. */
  earlyDataAccepted = false

  constructor(readonly config: TlsServerConfig) {
    super(config)
  }

  private quicVersion(): number {
    return this.config.quicVersion?.() ?? 1
  }

  protected handle(level: CryptoLevel, message: HandshakeMessage, unixMillis: number): TlsFailure | undefined {
    switch (this.state) {
      case "wait-client-hello":
      case "wait-second-client-hello":
        if (level !== "initial" || message.type !== HandshakeType.client_hello) break
        return this.onClientHello(message, unixMillis)
      case "wait-certificate":
        if (level !== "handshake" || message.type !== HandshakeType.certificate) break
        return this.onClientCertificate(message, unixMillis)
      case "wait-certificate-verify":
        if (level !== "handshake" || message.type !== HandshakeType.certificate_verify) break
        return this.onClientCertificateVerify(message)
      case "wait-finished":
        if (level !== "handshake" || message.type !== HandshakeType.finished) break
        return this.onFinished(message, unixMillis)
      case "connected":
        break
    }
    return this.unexpected(level, message)
  }

  private onClientHello(message: HandshakeMessage, unixMillis: number): TlsFailure | undefined {
    const c = this.config
    const hello = decodeClientHello(message.body)
    if (isTlsAlert(hello)) return hello
    const second = this.state === "wait-second-client-hello"
    // RFC 9001 §8.4: a QUIC ClientHello carries no legacy session id.
    if (hello.legacySessionId.length !== 0) {
      return transportError(TransportErrorCode.PROTOCOL_VIOLATION, "ClientHello with a legacy_session_id", FrameType.CRYPTO)
    }
    if (hello.legacyCompressionMethods.length !== 1 || hello.legacyCompressionMethods[0] !== 0) {
      return illegalParameter("legacy_compression_methods")
    }
    const ext = (type: number): Uint8Array | undefined => findExtension(hello.extensions, type)
    const versionsData = ext(ExtensionType.supported_versions)
    const versions = versionsData === undefined ? [] : decodeSupportedVersionsClient(versionsData)
    if (isTlsAlert(versions)) return versions
    if (!versions.includes(TLS13_VERSION)) return tlsAlert(AlertDescription.protocol_version, "client does not offer TLS 1.3")

    if (second) {
      // RFC 8446 §4.2.2: the second ClientHello echoes our cookie exactly.
      const cookieData = ext(ExtensionType.cookie)
      const cookie = cookieData === undefined ? undefined : decodeCookie(cookieData)
      if (cookie === undefined || isTlsAlert(cookie) || !bytesEqual(cookie, this.cookie!)) return illegalParameter("cookie")
      if (ext(ExtensionType.early_data) !== undefined) return illegalParameter("early_data after HelloRetryRequest")
      if (!bytesEqual(hello.random, this.clientRandom)) return illegalParameter("ClientHello random changed")
    }
    this.clientRandom = hello.random.slice()

    const params = ext(ExtensionType.quic_transport_parameters)
    // RFC 9001 §8.2: mandatory in QUIC.
    if (params === undefined) return missingExtension("quic_transport_parameters")
    const alpn = this.negotiateAlpn(ext(ExtensionType.application_layer_protocol_negotiation))
    if (isTlsAlert(alpn)) return alpn

    const suite = c.cipherSuites.find((s) => hello.cipherSuites.includes(s.code))
    if (suite === undefined) return tlsAlert(AlertDescription.handshake_failure, "no cipher suite in common")
    if (second && suite !== this.retrySuite) return illegalParameter("cipher suite changed after HelloRetryRequest")

    const groupsData = ext(ExtensionType.supported_groups)
    const sharesData = ext(ExtensionType.key_share)
    // RFC 8446 §9.2: a (EC)DHE handshake needs both extensions.
    if (groupsData === undefined) return missingExtension("supported_groups")
    if (sharesData === undefined) return missingExtension("key_share")
    const clientGroups = decodeU16List(groupsData, "supported_groups")
    if (isTlsAlert(clientGroups)) return clientGroups
    const shares = decodeKeyShareClient(sharesData)
    if (isTlsAlert(shares)) return shares
    for (const share of shares) {
      // RFC 8446 §4.2.8: every share must be for a group the client says it supports.
      if (!clientGroups.includes(share.group)) return illegalParameter(`key share for unoffered group ${share.group}`)
    }
    const chosen = this.chooseShare(shares)
    if (chosen === undefined) {
      const group = c.groups.find((g) => clientGroups.includes(NamedGroupCode[g]))
      if (group === undefined) return tlsAlert(AlertDescription.handshake_failure, "no key exchange group in common")
      if (second) return illegalParameter("second ClientHello without a share for the requested group")
      return this.helloRetry(message, suite, group)
    }
    if (second && chosen.group !== this.retryGroup) return illegalParameter("key share is not for the requested group")

    const nameData = ext(ExtensionType.server_name)
    if (nameData !== undefined) {
      const name = decodeServerName(nameData)
      if (isTlsAlert(name)) return name
      this.serverName = name
    }

    const modesData = ext(ExtensionType.psk_key_exchange_modes)
    const modes = modesData === undefined ? undefined : decodePskModes(modesData)
    if (isTlsAlert(modes)) return modes
    // RFC 8446 §4.2.9: our tickets resume only with psk_dhe_ke, so a client
    // that does not list it could use none of them and gets none (as from Go's
    // server): no ticket sealed, sent and parsed for nothing.
    this.clientTakesTickets = modes?.includes(PskKeyExchangeMode.psk_dhe_ke) === true
    // Tickets are opened before any version switch below: a ticket is good only
    // for the version the client started in (RFC 9369 §5).
    const psk = this.choosePsk(hello, modes, message.raw, suite, unixMillis)
    if (isTlsAlert(psk)) return psk
    if (psk === undefined && ext(ExtensionType.signature_algorithms) === undefined) return missingExtension("signature_algorithms")

    let ours = c.transportParameters
    const answer = c.onClientTransportParameters?.(params)
    if (answer !== undefined) {
      if (isTransportError(answer)) return answer
      ours = answer
    }
    this.suite = suite
    this.alpn = alpn
    this.emit({ _tag: "PeerTransportParameters", data: params.slice() })
    this.transcript.add(message.raw)
    const schedule = psk?.schedule ?? new KeySchedule(c.backend, suite.hash)
    this.schedule = schedule
    this.resumed = psk !== undefined

    if (psk !== undefined && ext(ExtensionType.early_data) !== undefined && !second) {
      this.earlyDataAccepted = this.acceptEarlyData(psk, suite, alpn, unixMillis)
      if (this.earlyDataAccepted) {
        const secret = schedule.clientEarlyTrafficSecret(this.transcript.hash(c.backend, suite.hash))
        this.logKey("CLIENT_EARLY_TRAFFIC_SECRET", secret)
        this.keys("early", "read", suite, secret)
      }
    }
    return this.serverFlight(hello, chosen.share, chosen.entry, psk, suite, alpn, ours)
  }

  private negotiateAlpn(data: Uint8Array | undefined): string | TlsAlert {
    const offered = data === undefined ? [] : decodeAlpn(data)
    if (isTlsAlert(offered)) return offered
    // RFC 9001 §8.1 and RFC 7301 §3.2: no protocol in common is fatal.
    const alpn = this.config.alpn.find((p) => offered.includes(p))
    return alpn ?? tlsAlert(AlertDescription.no_application_protocol, `no ALPN protocol in common (client offered ${offered.join(", ") || "none"})`)
  }

  /** Our most preferred group among the client's shares, with a fresh key pair for it. */
  private chooseShare(shares: ReadonlyArray<KeyShareEntry>):
    | { readonly group: NamedGroup; readonly entry: KeyShareEntry; readonly share: KeyShare }
    | undefined {
    for (const group of this.config.groups) {
      const entry = shares.find((s) => s.group === NamedGroupCode[group])
      if (entry !== undefined) return { group, entry, share: this.config.backend.generateKeyShare(group) }
    }
    return undefined
  }

  /** RFC 8446 §4.1.4: ask for a share of `group`, with a cookie the second ClientHello must echo. */
  private helloRetry(message: HandshakeMessage, suite: CipherSuite, group: NamedGroup): TlsFailure | undefined {
    const backend = this.config.backend
    this.cookie = new Uint8Array(16)
    backend.randomBytes(this.cookie)
    this.retrySuite = suite
    this.retryGroup = group
    this.transcript.add(message.raw)
    this.transcript.replaceWithMessageHash(backend, suite.hash)
    const retry = encodeServerHello({
      random: HELLO_RETRY_REQUEST_RANDOM,
      legacySessionIdEcho: new Uint8Array(0),
      cipherSuite: suite.code,
      extensions: [
        { type: ExtensionType.supported_versions, data: encodeSupportedVersionsServer(TLS13_VERSION) },
        { type: ExtensionType.key_share, data: encodeKeyShareHelloRetry(NamedGroupCode[group]) },
        { type: ExtensionType.cookie, data: encodeCookie(this.cookie) }
      ]
    })
    this.transcript.add(retry)
    this.send("initial", retry)
    this.state = "wait-second-client-hello"
    return this.levelDrained("initial")
  }

  /**
   * RFC 8446 §4.2.11: the first offered ticket we can open, whose suite hash
   * matches and which has not expired; its binder must verify. Tickets we
   * cannot use are ignored (a full handshake follows).
   */
  private choosePsk(
    hello: ClientHello,
    modes: ReadonlyArray<number> | undefined,
    raw: Uint8Array,
    suite: CipherSuite,
    unixMillis: number
  ): PskChoice | undefined | TlsAlert {
    const tickets = this.config.tickets
    const pskData = findExtension(hello.extensions, ExtensionType.pre_shared_key)
    if (pskData === undefined) return undefined
    // RFC 8446 §4.2.9: a client offering a PSK must say how it may be used.
    if (modes === undefined) return missingExtension("psk_key_exchange_modes")
    const offer: OfferedPsks | TlsAlert = decodeOfferedPsks(pskData)
    if (isTlsAlert(offer)) return offer
    if (tickets === undefined || !modes.includes(PskKeyExchangeMode.psk_dhe_ke)) return undefined
    for (let index = 0; index < offer.identities.length; index++) {
      const state = tickets.sealer.open(offer.identities[index]!.identity, this.quicVersion())
      if (state === undefined || state.suite.hash !== suite.hash) continue
      if (unixMillis < state.createdAt || unixMillis >= state.createdAt + state.lifetime * 1000) continue
      const schedule = new KeySchedule(this.config.backend, suite.hash, state.psk)
      const truncated = raw.subarray(0, raw.length - bindersListLength(offer.binders.map((b) => b.length)))
      const expected = schedule.finishedVerifyData(schedule.binderKey(), this.transcript.hashWith(this.config.backend, suite.hash, truncated))
      if (!bytesEqual(expected, offer.binders[index]!)) return tlsAlert(AlertDescription.decrypt_error, "PSK binder does not verify")
      const clientAge = (offer.identities[index]!.obfuscatedTicketAge - state.ageAdd) >>> 0
      return { index, state, schedule, clientAge }
    }
    return undefined
  }

  /** RFC 8446 §4.2.10 and RFC 9001 §4.6: whether to accept the client's 0-RTT data. */
  private acceptEarlyData(psk: PskChoice, suite: CipherSuite, alpn: string, unixMillis: number): boolean {
    const tickets = this.config.tickets!
    const state = psk.state
    const serverAge = unixMillis - state.createdAt
    return tickets.earlyData && psk.index === 0 && state.maxEarlyData > 0 && state.suite === suite && state.alpn === alpn &&
      bytesEqual(state.earlyDataContext, tickets.earlyDataContext) &&
      Math.abs(psk.clientAge - serverAge) <= MAX_AGE_SKEW_MILLIS &&
      tickets.usedTickets.claim(state.id, state.createdAt + state.lifetime * 1000, unixMillis)
  }

  private serverFlight(
    hello: ClientHello,
    share: KeyShare,
    entry: KeyShareEntry,
    psk: PskChoice | undefined,
    suite: CipherSuite,
    alpn: string,
    transportParameters: Uint8Array
  ): TlsFailure | undefined {
    const c = this.config
    const backend = c.backend
    const schedule = this.schedule!
    const shared = share.computeSecret(entry.keyExchange)
    if (shared === undefined) return illegalParameter("client key share")
    const random = new Uint8Array(32)
    backend.randomBytes(random)
    const extensions: Array<Extension> = [
      { type: ExtensionType.supported_versions, data: encodeSupportedVersionsServer(TLS13_VERSION) },
      { type: ExtensionType.key_share, data: encodeKeyShareServer({ group: entry.group, keyExchange: share.publicKey }) }
    ]
    if (psk !== undefined) extensions.push({ type: ExtensionType.pre_shared_key, data: encodeSelectedPsk(psk.index) })
    const serverHello = encodeServerHello({ random, legacySessionIdEcho: hello.legacySessionId, cipherSuite: suite.code, extensions })
    this.transcript.add(serverHello)
    this.send("initial", serverHello)

    schedule.enterHandshake(shared)
    const hs = schedule.handshakeTrafficSecrets(this.transcript.hash(backend, suite.hash))
    this.clientHandshakeSecret = hs.client
    this.logKey("CLIENT_HANDSHAKE_TRAFFIC_SECRET", hs.client)
    this.logKey("SERVER_HANDSHAKE_TRAFFIC_SECRET", hs.server)
    this.keys("handshake", "write", suite, hs.server)
    this.keys("handshake", "read", suite, hs.client)

    const eeExtensions: Array<Extension> = [
      { type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn([alpn]) },
      { type: ExtensionType.quic_transport_parameters, data: transportParameters }
    ]
    if (this.earlyDataAccepted) eeExtensions.push({ type: ExtensionType.early_data, data: EMPTY_EXTENSION })
    const flight: Array<Uint8Array> = [encodeEncryptedExtensions({ extensions: eeExtensions })]
    this.transcript.add(flight[0]!)

    if (psk === undefined) {
      const failure = this.authenticate(hello, flight)
      if (failure !== undefined) return failure
    }
    const finished = encodeFinished({ verifyData: schedule.finishedVerifyData(hs.server, this.transcript.hash(backend, suite.hash)) })
    this.transcript.add(finished)
    flight.push(finished)
    for (const m of flight) this.send("handshake", m)

    schedule.enterMaster()
    const ap = schedule.applicationTrafficSecrets(this.transcript.hash(backend, suite.hash))
    this.clientApplicationSecret = ap.client
    this.logKey("SERVER_TRAFFIC_SECRET_0", ap.server)
    this.logKey("CLIENT_TRAFFIC_SECRET_0", ap.client)
    // RFC 9001 §4.1.1: the server may send 1-RTT data right after its Finished (0.5-RTT).
    this.keys("application", "write", suite, ap.server)
    this.state = this.clientKeyPending ? "wait-certificate" : "wait-finished"
    return this.levelDrained("initial")
  }

  /** CertificateRequest (for mutual TLS), Certificate and CertificateVerify (RFC 8446 §4.3.2, §4.4.2, §4.4.3). */
  private authenticate(hello: ClientHello, flight: Array<Uint8Array>): TlsAlert | undefined {
    const c = this.config
    const backend = c.backend
    const offered = decodeU16List(findExtension(hello.extensions, ExtensionType.signature_algorithms)!, "signature_algorithms")
    if (isTlsAlert(offered)) return offered
    const scheme = chooseSignatureScheme(offered, c.certificate.key)
    if (scheme === undefined) return tlsAlert(AlertDescription.handshake_failure, "no signature scheme in common with our certificate key")
    if (c.clientAuth === "optional" || c.clientAuth === "required") {
      const request = encodeCertificateRequest({
        context: new Uint8Array(0),
        extensions: [{ type: ExtensionType.signature_algorithms, data: encodeU16List(this.acceptedSchemes) }]
      })
      this.transcript.add(request)
      flight.push(request)
      this.clientKeyPending = true
    }
    const certificate = encodeCertificate({
      context: new Uint8Array(0),
      entries: c.certificate.chain.map((data) => ({ data, extensions: [] }))
    })
    this.transcript.add(certificate)
    flight.push(certificate)
    const algorithm = handshakeSignatureAlgorithm(scheme, c.certificate.key)!
    const input = certificateVerifyInput("server", this.transcript.hash(backend, this.suite!.hash))
    const verify = encodeCertificateVerify({ scheme, signature: signerFor(backend, c.certificate.key).sign(algorithm, input) })
    this.transcript.add(verify)
    flight.push(verify)
    return undefined
  }

  private onClientCertificate(message: HandshakeMessage, unixMillis: number): TlsFailure | undefined {
    const certificate = decodeCertificate(message.body)
    if (isTlsAlert(certificate)) return certificate
    if (certificate.context.length !== 0) return illegalParameter("certificate_request_context")
    this.transcript.add(message.raw)
    if (certificate.entries.length === 0) {
      // RFC 8446 §4.4.2.4: a server that requires a certificate aborts with certificate_required.
      if (this.config.clientAuth === "required") return tlsAlert(AlertDescription.certificate_required, "client sent no certificate")
      this.state = "wait-finished"
      return undefined
    }
    const verifier = this.config.clientVerifier
    if (verifier === undefined) return tlsAlert(AlertDescription.unknown_ca, "no trust anchors configured for client certificates")
    const peer = verifiedPeer(certificate.entries, verifier, { serverName: undefined, unixMillis, purpose: "client" })
    if (isTlsAlert(peer)) return peer
    this.peerCertificates = peer.chain
    this.clientCertificateKey = peer.key
    this.state = "wait-certificate-verify"
    return undefined
  }

  private onClientCertificateVerify(message: HandshakeMessage): TlsFailure | undefined {
    const verify = decodeCertificateVerify(message.body)
    if (isTlsAlert(verify)) return verify
    const backend = this.config.backend
    const transcriptHash = this.transcript.hash(backend, this.suite!.hash)
    const failure = checkCertificateVerify(backend, this.acceptedSchemes, verify, this.clientCertificateKey!, "client", transcriptHash)
    if (failure !== undefined) return failure
    this.transcript.add(message.raw)
    this.state = "wait-finished"
    return undefined
  }

  private onFinished(message: HandshakeMessage, unixMillis: number): TlsFailure | undefined {
    const backend = this.config.backend
    const suite = this.suite!
    const schedule = this.schedule!
    const expected = schedule.finishedVerifyData(this.clientHandshakeSecret!, this.transcript.hash(backend, suite.hash))
    if (!bytesEqual(expected, message.body)) return tlsAlert(AlertDescription.decrypt_error, "client Finished does not verify")
    this.transcript.add(message.raw)
    this.keys("application", "read", suite, this.clientApplicationSecret!)
    this.state = "connected"
    this.complete = true
    this.emit({ _tag: "HandshakeComplete" })
    const drained = this.levelDrained("handshake")
    if (drained !== undefined) return drained
    this.issueTickets(unixMillis)
    return undefined
  }

  /** RFC 8446 §4.6.1: NewSessionTicket messages, sent at the application level once the handshake completes. */
  private issueTickets(unixMillis: number): void {
    const tickets = this.config.tickets
    if (tickets === undefined || tickets.count <= 0 || !this.clientTakesTickets) return
    const backend = this.config.backend
    const suite = this.suite!
    const resumptionMasterSecret = this.schedule!.resumptionMasterSecret(this.transcript.hash(backend, suite.hash))
    const lifetime = Math.min(tickets.lifetime, MAX_TICKET_LIFETIME_SECONDS)
    for (let i = 0; i < tickets.count; i++) {
      const nonce = new Uint8Array([i])
      const scratch = new Uint8Array(20)
      backend.randomBytes(scratch)
      const ageAdd = ((scratch[0]! << 24) | (scratch[1]! << 16) | (scratch[2]! << 8) | scratch[3]!) >>> 0
      const state: TicketState = {
        suite,
        psk: resumptionPsk(backend, suite.hash, resumptionMasterSecret, nonce),
        createdAt: unixMillis,
        lifetime,
        ageAdd,
        maxEarlyData: tickets.earlyData ? 0xffffffff : 0,
        alpn: this.alpn!,
        earlyDataContext: tickets.earlyDataContext,
        id: scratch.slice(4)
      }
      const extensions: Array<Extension> = tickets.earlyData
        ? [{ type: ExtensionType.early_data, data: encodeMaxEarlyData(0xffffffff) }]
        : []
      this.send("application", encodeNewSessionTicket({ lifetime, ageAdd, nonce, ticket: tickets.sealer.seal(state, this.quicVersion()), extensions }))
    }
  }
}
