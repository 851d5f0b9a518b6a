import { formatIpv4, formatIpv6, ipv4Bytes, ipv6Bytes, isIpv6, type SocketAddress, sameAddress, sameLocal } from "../address.js"
import { decodePacketNumber, packetNumberLength, truncatePacketNumber } from "../codec/packetNumber.js"
import { BufferWriter } from "../codec/writer.js"
import type { TransportConfig } from "../config.js"
import { AEAD_TAG_LENGTH, type CryptoBackend } from "../crypto/backend.js"
import { type InitialKeys, initialKeys } from "../crypto/initial.js"
import { deriveDirectionalKeys, type DirectionalKeys } from "../crypto/packetKeys.js"
import type { CipherSuite } from "../crypto/suite.js"
import { cryptoError, isTransportError, transportError, type TransportError, TransportErrorCode } from "../errors.js"
import type { CloseReason, QuicEvent } from "../events.js"
import { decodeFrames } from "../frame/decode.js"
import { encodeCryptoFrameHeader, cryptoFrameHeaderLength, encodeFrame, frameLength } from "../frame/encode.js"
import type { PacketType } from "../frame/permitted.js"
import type { Frame } from "../frame/types.js"
import { FrameType, frameTypeOf } from "../frame/types.js"
import {
  type LongHeader,
  keyPhaseOf,
  LONG_HEADER_LENGTH_FIELD,
  type PacketHeader,
  reservedBits,
  type ShortHeader,
  setLongHeaderLength,
  writeLongHeader,
  writeShortHeader
} from "../packet/header.js"
import { openPacket, readTruncatedPacketNumber, removeHeaderProtection, sealPacket, SAMPLE_OFFSET } from "../packet/protection.js"
import { verifyRetryIntegrity } from "../packet/retry.js"
import type { RetryHeader } from "../packet/header.js"
import { type QuicVersion, supportedVersions } from "../packet/version.js"
import type { Random } from "../random.js"
import { makeCongestionController } from "../recovery/congestion/factory.js"
import { LossDetection, type PacketNumberSpace, type RecoveryEvents } from "../recovery/lossDetection.js"
import { Pacer } from "../recovery/pacer.js"
import type { SentPacket } from "../recovery/sentPackets.js"
import { StreamManager, type SentStreamFrame } from "../stream/streams.js"
import { isTlsAlert } from "../tls/alert.js"
import { TlsClient } from "../tls/client.js"
import { TlsServer } from "../tls/server.js"
import { CompletedClientHandshake, CompletedServerHandshake } from "../tls/completed.js"
import { type CryptoLevel, keyLogLine, type TlsFailure } from "../tls/session.js"
import {
  decodeTransportParameters,
  encodeTransportParameters,
  type PreferredAddress,
  type TransportParameters,
  validateConnectionIdParameters
} from "../tls/transportParameters.js"
import type { SessionTicket } from "../tls/ticket.js"
import { type CidIssuer, type IssuedCid, LocalCids, type RemoteCid, RemoteCids } from "./cids.js"
import { DatagramQueues, type DatagramSendError } from "./datagrams.js"
import { OneRttKeys } from "./keyUpdate.js"
import { BASE_MTU, MtuDiscovery } from "./mtud.js"
import { PacketSpace } from "./packetSpace.js"
import type { SentFrames } from "./sentFrames.js"
import type { TokenSealer } from "./tokens.js"
import { RecvBuffer } from "../stream/recvBuffer.js"
import { SendBuffer } from "../stream/sendBuffer.js"
import { bytesEqual } from "../codec/bytes.js"
import { toHex } from "../codec/hex.js"
import { describeFrame, describePayload, describeSentFrames } from "../qlog/frames.js"
import { QlogTrace } from "../qlog/trace.js"
import type { QlogFactory, QlogKeyType, QlogPacketHeader, QlogPacketType } from "../qlog/types.js"

/**
 * One QUIC connection (RFC 9000, RFC 9001, RFC 9002, RFC 9221): a pure state
 * machine. The endpoint hands it datagrams addressed to it and asks it for
 * datagrams to send; every call takes `now` in µs. It never throws on
 * anything a peer sends: a malformed or undecryptable packet is dropped, a
 * protocol violation closes the connection with the RFC's error code.
 */

type Sent = SentFrames<SentStreamFrame>

type Tls = TlsClient | TlsServer | CompletedServerHandshake | CompletedClientHandshake

export type ConnectionState = "handshake" | "established" | "closing" | "draining" | "drained"

export interface ConnectionInit {
  readonly handle: number
  readonly role: "client" | "server"
  readonly version: QuicVersion
  readonly transport: TransportConfig
  readonly backend: CryptoBackend
  readonly random: Random
  readonly now: number
  readonly remote: SocketAddress
  /** The local address of the first path; undefined: the endpoint's primary address. */
  readonly local?: SocketAddress | undefined
  /** Server: the addresses to offer in preferred_address (RFC 9000 §9.6). */
  readonly preferredAddress?: { readonly ipv4?: SocketAddress | undefined; readonly ipv6?: SocketAddress | undefined } | undefined
  /** Client: move to the server's preferred address once the handshake is confirmed (RFC 9000 §9.6.1). */
  readonly migrateToPreferredAddress?: boolean | undefined
  /** The connection ID we chose first (sequence 0). */
  readonly localCid: IssuedCid
  /** Client: the random Destination CID of its first Initial. Server: the client's Source CID. */
  readonly remoteCid: Uint8Array
  /** The Destination CID of the client's very first Initial (RFC 9000 §7.3). */
  readonly originalDcid: Uint8Array
  /** Server: the Destination CID of the Initial that created the connection, when it differs (after a Retry). */
  readonly initialDcid?: Uint8Array | undefined
  /** The server's Initial keys, when the endpoint already derived them to authenticate the first packet. */
  readonly initialKeys?: InitialKeys | undefined
  /** Server: the Source CID of the Retry it sent, when address validation used one. */
  readonly retrySourceCid?: Uint8Array | undefined
  /** Client: a token from NEW_TOKEN to put in its Initial packets. */
  readonly token?: Uint8Array | undefined
  /** Server: the client's address is already validated (Retry or NEW_TOKEN token). */
  readonly addressValidated: boolean
  readonly cidIssuer: CidIssuer
  /**
   * Server: the versions it speaks, most preferred first, for compatible
   * version negotiation (RFC 9368 §2.3); undefined answers in the client's version.
   */
  readonly versionPreference?: ReadonlyArray<QuicVersion> | undefined
  /** Builds the TLS session once our transport parameters are encoded. */
  readonly makeTls: (transportParameters: Uint8Array, hooks: TlsHooks) => Tls
  readonly unixMillis: (now: number) => number
  /** Server: seals NEW_TOKEN tokens. */
  readonly tokenSealer?: TokenSealer | undefined
  /** Client: remembers a NEW_TOKEN token or a session ticket for this server. */
  readonly onNewToken?: ((token: Uint8Array) => void) | undefined
  readonly onSessionTicket?: ((ticket: SessionTicket) => void) | undefined
  /** Client resuming with 0-RTT: the server's transport parameters remembered from the ticket (RFC 9000 §7.4.1). */
  readonly rememberedParameters?: Uint8Array | undefined
  readonly keyLog?: ((line: string) => void) | undefined
  /** qlog: asked once for where this connection's trace goes. */
  readonly qlog?: QlogFactory | undefined
}

/** What a connection gives the TLS session it builds. */
export interface TlsHooks {
  /**
   * Server: called by TLS with the client's transport parameters before it
   * builds its flight; it sends what this returns in place of ours (RFC 9368
   * §2.3: the negotiated chosen_version), or fails the handshake with it.
   */
  readonly onClientParameters: ((params: Uint8Array) => Uint8Array | TransportError | undefined) | undefined
  /** The connection's QUIC version now (tickets are bound to it, RFC 9369 §5). */
  readonly quicVersion: () => number
}

/** A datagram to send: `length` bytes were written to the buffer given to `pollTransmit`. */
export interface Transmit {
  readonly destination: SocketAddress
  /** The local address to send from; undefined: the endpoint's primary address. */
  readonly source: SocketAddress | undefined
  readonly length: number
}

export interface ConnectionStats {
  readonly latestRtt: number
  readonly smoothedRtt: number
  readonly minRtt: number
  readonly congestionWindow: number
  readonly bytesInFlight: number
  readonly packetsSent: number
  readonly bytesSent: number
  readonly packetsReceived: number
  readonly bytesReceived: number
  readonly packetsLost: number
  readonly bytesLost: number
  readonly congestionEvents: number
  readonly packetsDropped: number
  readonly pathMtu: number
  readonly frames: Readonly<Record<string, number>>
}

/** RFC 9000 §14.1: the smallest datagram that may carry a client's Initial. */
const MIN_INITIAL_DATAGRAM = 1200

/** Undecryptable packets kept until their keys arrive (RFC 9001 §4.1.4), bounding the memory. */
const MAX_BUFFERED_PACKETS = 16

/** CRYPTO data a peer may send beyond what TLS has consumed (RFC 9000 §7.5). */
const MAX_CRYPTO_BUFFER = 64 * 1024

/**
 * Blocks of a CRYPTO stream's receive buffer: a level's messages are a few
 * KB (a certificate chain the most), and a stream buffer's 16 KB would be
 * allocated for each level of each handshake.
 */
const CRYPTO_BLOCK_SIZE = 4096

/** RFC 9000 §8.1: before validation a server sends at most three times what it received. */
const AMPLIFICATION_FACTOR = 3

/** Smoothed RTTs between handshake confirmation and the first PMTU probe. */
const MTU_SEARCH_DELAY_RTTS = 5

const EMPTY = new Uint8Array(0)

/**
 * RFC 9368 §3: the Available Versions of a client's version_information: the
 * version it starts in, then every other one it could be moved to.
 */
const clientVersions = (first: QuicVersion): Array<QuicVersion> => [first, ...supportedVersions.filter((v) => v !== first)]

const spaceOf = (type: "initial" | "handshake" | "0rtt" | "1rtt"): PacketNumberSpace =>
  type === "initial" ? "initial" : type === "handshake" ? "handshake" : "application"


interface BufferedPacket {
  readonly data: Uint8Array
  readonly header: PacketHeader
  readonly remote: SocketAddress
  readonly local: SocketAddress | undefined
}

/** A network path: the peer's address and ours (undefined: the endpoint's primary address). */
interface Path {
  readonly remote: SocketAddress
  readonly local: SocketAddress | undefined
}

interface PathValidation extends Path {
  /** Every challenge sent on this path (fresh data each time, RFC 9000 §8.2.1); the last is the next to send. */
  readonly challenges: Array<Uint8Array>
  sent: boolean
  readonly deadline: number
  /**
   * A path the connection moves to once it validates (RFC 9000 §9.6: the
   * server's preferred address, seen from either end); false for the
   * current path, checked after a move already made (§9.2, §9.3).
   */
  readonly move: boolean
  /** The peer's CID taken for the probed path (RFC 9000 §9.5), used there and kept if it wins. */
  readonly cid: RemoteCid | undefined
}

interface PendingPathResponse extends Path {
  readonly data: Uint8Array
  /** RFC 9000 §8.2.2, §8.1: the most bytes the response's datagram may take toward an unvalidated address. */
  readonly allowance: number
}

export class Connection {
  readonly handle: number
  readonly role: "client" | "server"
  /** The version of every packet but 0-RTT (and the client's first Initials): the negotiated one (RFC 9368 §2). */
  version: QuicVersion
  /** The version of the client's first Initial (RFC 9368 §2: the original version); 0-RTT stays in it. */
  readonly originalVersion: QuicVersion
  state: ConnectionState = "handshake"
  readonly events: Array<QuicEvent> = []
  remote: SocketAddress
  /** Our address on the current path; undefined: the endpoint's primary address. */
  local: SocketAddress | undefined
  private readonly transport: TransportConfig
  private readonly backend: CryptoBackend
  private readonly random: Random
  private tls: Tls
  /** Initial and Handshake become undefined once discarded (RFC 9001 §4.9), taking their state with them. */
  private readonly spaces: { initial: PacketSpace | undefined; handshake: PacketSpace | undefined; readonly application: PacketSpace }
  private oneRtt: OneRttKeys | undefined
  private pendingOneRttWrite: { suite: CipherSuite; secret: Uint8Array } | undefined
  private pendingOneRttRead: { suite: CipherSuite; secret: Uint8Array } | undefined
  private zeroRttWrite: DirectionalKeys | undefined
  private zeroRttRead: DirectionalKeys | undefined
  private readonly recovery: LossDetection<Sent>
  private readonly pacer = new Pacer()
  readonly streams: StreamManager
  readonly datagrams: DatagramQueues
  readonly localCids: LocalCids
  readonly remoteCids: RemoteCids
  private readonly mtud: MtuDiscovery
  private readonly originalDcid: Uint8Array
  /** Client: the token for its Initial packets (from Retry or NEW_TOKEN). */
  private token: Uint8Array
  private retried = false
  /** The Source CID of the peer's first Initial (RFC 9000 §7.3 checks it against the transport parameters). */
  private peerInitialScid: Uint8Array
  /** Client: the Source CID of the Retry it acted on. */
  private retrySourceCid: Uint8Array | undefined
  /**
   * Server that moved the client to another version: the client's Initial keys
   * of the original version, kept until a packet of the negotiated version opens
   * (RFC 9369 §4.1), because the client's Initials stay in the original version
   * until it hears from us.
   */
  private originalInitialRead: DirectionalKeys | undefined
  /** Client: its Initial CRYPTO bytes, sent again after a Retry. */
  private readonly initialCrypto: Array<Uint8Array> = []
  private receivedFromServer = false
  /** RFC 9000 §8.1: the peer's address is validated (always true for a client). */
  private addressValidated: boolean
  private bytesReceivedOnPath = 0
  private bytesSentOnPath = 0
  private handshakeConfirmed = false
  private handshakeDoneToSend = false
  /** RFC 9002 §6.2.4: PTOs so far, so that each round's probes re-send a packet in flight at most once. */
  private probeRound = 0
  private peerParams: TransportParameters | undefined
  private idleTimeout: number
  private idleDeadline: number
  private lastAckElicitingSent: number | undefined
  /** RFC 9000 §10.1: an ack-eliciting packet went out since the last packet was received. */
  private ackElicitingSentSinceReceive = false
  private closeDeadline: number | undefined
  private closeFrame: Frame | undefined
  private closeFrameSentAt = -1
  private closeReason: CloseReason | undefined
  private readonly buffered: Array<BufferedPacket> = []
  private readonly pendingPathResponses: Array<PendingPathResponse> = []
  private pathValidation: PathValidation | undefined
  private previousRemote: SocketAddress | undefined
  private previousLocal: SocketAddress | undefined
  /** Size of the datagram being processed (for the amplification limit of PATH_RESPONSE datagrams). */
  private datagramLength = 0
  /** Client: may move to a preferred address the server offers (RFC 9000 §9.6.1). */
  private readonly migrateToPreferred: boolean
  /** Client: the server's preferred address in our family, to probe once the handshake is confirmed. */
  private preferredTarget: SocketAddress | undefined
  /**
   * Server: a CID of the client's taken for answering from one of our other
   * local addresses (RFC 9000 §9.5: one CID per local address), kept for the
   * validation of that path if the client moves there.
   */
  private offPathCid: { readonly path: Path; readonly cid: RemoteCid } | undefined
  /** Client: the server's address before we moved to its preferred one; its delayed packets are still accepted. */
  private formerServerAddress: SocketAddress | undefined
  private pendingNewToken: Uint8Array | undefined
  private newTokenIssued = false
  /** RFC 9001 §4.9.1: set when a client seals its first Handshake packet; Initial keys go after that datagram. */
  private discardSpaceAfterSend = false
  private zeroRttAccepted = false
  private zeroRttPackets: Array<number> = []
  private pacingDeadline: number | undefined
  /** When the PMTU search may start (one-shot wake-up for an idle connection). */
  private mtuSearchAt: number | undefined
  private packetsReceived = 0
  private bytesReceived = 0
  private packetsDropped = 0
  private readonly frameCounts: Record<string, number> = {}
  private readonly unixMillis: (now: number) => number
  /** The Source CID of our long-header packets (sequence 0). */
  private readonly localCid: Uint8Array
  private readonly tokenSealer: TokenSealer | undefined
  private readonly onNewToken: ((token: Uint8Array) => void) | undefined
  private readonly onSessionTicket: ((ticket: SessionTicket) => void) | undefined
  private readonly keyLog: ((line: string) => void) | undefined
  private readonly maxAckDelay: number
  /** qlog trace, when enabled: every logging site tests it first, so a connection without one builds no event. */
  private readonly qlog: QlogTrace | undefined

  constructor(init: ConnectionInit) {
    // Only what outlives the constructor is kept: the rest of `init` (the
    // server's first Initial keys, the TLS factory) is garbage once built.
    this.handle = init.handle
    this.role = init.role
    this.version = init.version
    this.originalVersion = init.version
    this.transport = init.transport
    this.backend = init.backend
    this.random = init.random
    this.remote = init.remote
    this.local = init.local
    this.migrateToPreferred = init.migrateToPreferredAddress ?? true
    this.unixMillis = init.unixMillis
    this.localCid = init.localCid.cid
    this.tokenSealer = init.tokenSealer
    this.onNewToken = init.onNewToken
    this.onSessionTicket = init.onSessionTicket
    this.keyLog = init.keyLog
    this.originalDcid = init.originalDcid
    this.qlog = init.qlog === undefined ? undefined : this.openQlog(init)
    this.token = init.token ?? EMPTY
    this.peerInitialScid = init.remoteCid
    this.addressValidated = init.role === "client" || init.addressValidated
    this.maxAckDelay = init.transport.maxAckDelay * 1000
    this.spaces = {
      initial: new PacketSpace("initial", this.maxAckDelay),
      handshake: new PacketSpace("handshake", this.maxAckDelay),
      application: new PacketSpace("application", this.maxAckDelay)
    }
    // RFC 9001 §5.2: Initial keys come from the DCID of the client's Initial packets,
    // which after a Retry is the Retry's SCID rather than the original DCID.
    const keyDcid = init.role === "client" ? init.remoteCid : init.initialDcid ?? init.originalDcid
    const keys = init.initialKeys ?? initialKeys(init.backend, init.version, keyDcid)
    this.installInitialKeys(keys)
    this.recovery = new LossDetection<Sent>({
      congestion: makeCongestionController(init.transport.congestionController, BASE_MTU),
      isServer: init.role === "server",
      initialRtt: init.transport.initialRtt
    })
    this.localCids = new LocalCids(init.localCid, init.cidIssuer)
    this.remoteCids = new RemoteCids(init.remoteCid, init.transport.activeConnectionIdLimit)
    this.mtud = new MtuDiscovery(init.transport.mtuDiscovery, init.transport.maxUdpPayloadSize)
    this.datagrams = new DatagramQueues(init.transport.datagramSendBuffer)
    const t = init.transport
    this.streams = new StreamManager(init.role, {
      maxConcurrentBidiStreams: t.maxConcurrentBidiStreams,
      maxConcurrentUniStreams: t.maxConcurrentUniStreams,
      streamReceiveWindow: t.initialMaxStreamData,
      maxStreamReceiveWindow: t.maxStreamWindow,
      connectionReceiveWindow: t.initialMaxData,
      maxConnectionReceiveWindow: t.maxConnectionWindow,
      sendBufferSize: t.streamSendBuffer
    })
    const localParams = this.buildLocalParameters(init)
    if (this.qlog !== undefined) this.qlog.parametersSet(init.now, "local", localParams)
    this.idleTimeout = init.transport.maxIdleTimeout * 1000
    this.idleDeadline = init.now + (this.idleTimeout > 0 ? this.idleTimeout : Number.MAX_SAFE_INTEGER / 2)
    const preference = init.versionPreference
    this.tls = init.makeTls(encodeTransportParameters(localParams, init.role), {
      onClientParameters: init.role === "server" ? (params) => this.negotiateVersion(params, localParams, keyDcid, preference) : undefined,
      quicVersion: () => this.version.number
    })
    if (init.role === "client") {
      if (init.rememberedParameters !== undefined) this.applyRememberedParameters(init.rememberedParameters)
      ;(this.tls as TlsClient).start(this.unixMillis(init.now))
      this.drainTls(init.now)
    }
  }

  // ---- setup -----------------------------------------------------------------

  private installInitialKeys(keys: { readonly client: DirectionalKeys; readonly server: DirectionalKeys }): void {
    // Called only before the client's Initial space can be discarded (at construction, on Retry or version switch).
    const initial = this.spaces.initial!
    initial.write = this.role === "client" ? keys.client : keys.server
    initial.read = this.role === "client" ? keys.server : keys.client
    if (this.qlog !== undefined) {
      this.qlog.keyUpdated(this.qlog.lastNow, "client_initial_secret", "tls")
      this.qlog.keyUpdated(this.qlog.lastNow, "server_initial_secret", "tls")
    }
  }

  private buildLocalParameters(init: ConnectionInit): TransportParameters {
    const t = init.transport
    const server = init.role === "server"
    return {
      maxIdleTimeout: t.maxIdleTimeout,
      maxUdpPayloadSize: Math.max(BASE_MTU, t.maxUdpPayloadSize),
      ...this.streams.localParameters(),
      ackDelayExponent: t.ackDelayExponent,
      maxAckDelay: t.maxAckDelay,
      disableActiveMigration: t.disableActiveMigration,
      activeConnectionIdLimit: t.activeConnectionIdLimit,
      initialSourceConnectionId: init.localCid.cid,
      greaseQuicBit: false,
      ...(t.maxDatagramFrameSize === undefined ? {} : { maxDatagramFrameSize: t.maxDatagramFrameSize }),
      ...(server
        ? {
          originalDestinationConnectionId: init.originalDcid,
          statelessResetToken: init.cidIssuer.resetToken(init.localCid.cid),
          ...(init.retrySourceCid === undefined ? {} : { retrySourceConnectionId: init.retrySourceCid }),
          ...(init.preferredAddress === undefined ? {} : { preferredAddress: this.offerPreferredAddress(init) })
        }
        : {}),
      // RFC 9368 §3: a client lists the versions it could be moved to, its
      // own first; a server lists every version it speaks.
      versionInformation: {
        chosenVersion: init.version.number,
        availableVersions: server
          ? (init.versionPreference ?? supportedVersions).map((v) => v.number)
          : clientVersions(init.version).map((v) => v.number)
      }
    }
  }

  /**
   * Server, on the client's ClientHello (RFC 9368 §2.3, §4): checks the
   * client's version_information and, when the client offers a version we
   * prefer to the one it started in, moves the connection to it. Returns the
   * transport parameters to send when they change (chosen_version is the
   * negotiated version), an error when the client's choice is not authentic,
   * or undefined.
   */
  private negotiateVersion(
    data: Uint8Array,
    local: TransportParameters,
    keyDcid: Uint8Array,
    preference: ReadonlyArray<QuicVersion> | undefined
  ): Uint8Array | TransportError | undefined {
    const params = decodeTransportParameters(data, "client")
    // A malformed parameter fails the handshake when the connection reads them in turn.
    if (isTransportError(params)) return undefined
    const info = params.versionInformation
    // Without version_information the client takes part in no negotiation: it stays where it started.
    if (info === undefined) return undefined
    // RFC 9368 §4: the client's Chosen Version must be the version it started in;
    // anything else means its first flight was tampered with.
    if (info.chosenVersion !== this.originalVersion.number) {
      return transportError(
        TransportErrorCode.VERSION_NEGOTIATION_ERROR,
        `client's chosen version 0x${info.chosenVersion.toString(16)} is not the version of its Initial`
      )
    }
    if (preference === undefined) return undefined
    // RFC 9368 §2.3: our most preferred version among the one the client started
    // in and those it can be moved to (v1 and v2 are compatible both ways, RFC 9369 §4).
    const negotiated = preference.find((v) => v === this.originalVersion || info.availableVersions.includes(v.number))
    if (negotiated === undefined || negotiated === this.version) return undefined
    // RFC 9369 §4.1: our Initials use the negotiated version's keys (same DCID, its
    // salt) from now on; the client's Initials in the original version are still read.
    this.originalInitialRead = this.spaces.initial!.read
    this.version = negotiated
    this.installInitialKeys(initialKeys(this.backend, negotiated, keyDcid))
    if (this.qlog !== undefined) {
      this.qlog.versionInformation(this.qlog.lastNow, "server", local.versionInformation!.availableVersions, negotiated.number)
    }
    return encodeTransportParameters(
      { ...local, versionInformation: { chosenVersion: negotiated.number, availableVersions: local.versionInformation!.availableVersions } },
      "server"
    )
  }

  /**
   * RFC 9000 §18.2, §5.1.1: the preferred_address parameter, with a fresh
   * connection ID of sequence number 1 and its stateless reset token; an
   * absent family is sent as zeros.
   */
  private offerPreferredAddress(init: ConnectionInit): PreferredAddress {
    const { ipv4, ipv6 } = init.preferredAddress!
    const issued = this.localCids.issueForPreferredAddress()
    return {
      ipv4Address: (ipv4 === undefined ? undefined : ipv4Bytes(ipv4.address)) ?? new Uint8Array(4),
      ipv4Port: ipv4?.port ?? 0,
      ipv6Address: (ipv6 === undefined ? undefined : ipv6Bytes(ipv6.address)) ?? new Uint8Array(16),
      ipv6Port: ipv6?.port ?? 0,
      connectionId: issued.cid,
      statelessResetToken: init.cidIssuer.resetToken(issued.cid)
    }
  }

  /** RFC 9000 §7.4.1: a 0-RTT client starts with the limits the server gave last time. */
  private applyRememberedParameters(data: Uint8Array): void {
    const params = decodeTransportParameters(data, "server")
    if (isTransportError(params)) return
    this.streams.applyPeerParameters(params)
    this.peerParams = params
    this.drainStreamEvents()
  }

  // ---- receiving -------------------------------------------------------------

  /**
   * A datagram for this connection, split into its packets by the endpoint.
   * `datagram` may be modified in place (packets are decrypted over themselves).
   */
  handleDatagram(
    now: number,
    remote: SocketAddress,
    local: SocketAddress | undefined,
    datagram: Uint8Array,
    packets: ReadonlyArray<PacketHeader>
  ): void {
    if (this.state === "drained") return
    if (this.role === "client" && !sameAddress(remote, this.remote) && !this.isKnownServerAddress(remote)) {
      // RFC 9000 §9: servers do not migrate; a client discards packets from
      // an unknown server address (they neither count as the server's nor
      // keep the connection alive).
      this.packetsDropped += packets.length
      return
    }
    if (this.qlog !== undefined) this.qlog.advance(now)
    this.bytesReceived += datagram.length
    this.datagramLength = datagram.length
    if (sameAddress(remote, this.remote) && sameLocal(local, this.local)) {
      this.bytesReceivedOnPath += datagram.length
      if (!this.addressValidated) this.recovery.setAmplificationLimited(now, false)
    }
    for (const header of packets) {
      if (this.isDrained) return
      this.handlePacket(now, remote, local, datagram, header)
    }
  }

  /**
   * Client: the server's addresses besides the current one that its packets
   * may come from (RFC 9000 §9.6): the preferred address while we probe it,
   * and, once we moved there, the original one, which the server keeps
   * sending from until it has validated the new path itself (§9.6.2).
   */
  private isKnownServerAddress(remote: SocketAddress): boolean {
    const validation = this.pathValidation
    if (validation !== undefined && validation.move && sameAddress(validation.remote, remote)) return true
    return this.formerServerAddress !== undefined && sameAddress(this.formerServerAddress, remote)
  }

  private handlePacket(now: number, remote: SocketAddress, local: SocketAddress | undefined, datagram: Uint8Array, header: PacketHeader): void {
    switch (header.form) {
      case "version-negotiation":
        if (this.qlog !== undefined) this.qlog.versionNegotiationReceived(now, datagram.length, header.versions)
        return this.onVersionNegotiation(now, header.versions)
      case "retry":
        if (this.qlog !== undefined) this.qlogRetryReceived(now, header)
        return this.onRetry(now, datagram, header)
      case "unsupported-version":
        this.packetsDropped++
        return
      case "long":
      case "short":
        return this.onProtectedPacket(now, remote, local, datagram, header)
    }
  }

  private onVersionNegotiation(now: number, versions: ReadonlyArray<number>): void {
    // RFC 9000 §6.2: only before anything else arrived from the server, and a
    // VN that lists the version we used is ignored.
    if (this.role !== "client" || this.receivedFromServer || versions.includes(this.version.number)) return
    this.receivedFromServer = true
    this.close(now, { _tag: "VersionMismatch", serverVersions: versions }, undefined)
    this.state = "drained"
  }

  private onRetry(now: number, datagram: Uint8Array, header: RetryHeader): void {
    // RFC 9000 §17.2.5.2: one Retry, before any other server packet, with a valid tag.
    if (this.role !== "client" || this.retried || this.receivedFromServer) return this.drop()
    // RFC 9369 §4.1: a Retry comes in the version we started in; one in another version is ignored.
    if (header.version !== this.version) return this.drop()
    if (!verifyRetryIntegrity(this.backend, this.originalDcid, datagram, header)) return this.drop()
    if (bytesEqual(header.scid, this.remoteCids.active.cid)) return this.drop()
    this.retried = true
    this.token = header.token.slice()
    const scid = header.scid.slice()
    this.retrySourceCid = scid
    this.remoteCids.setInitial(scid)
    this.installInitialKeys(initialKeys(this.backend, this.version, scid))
    // RFC 9000 §17.2.5.2: everything sent in Initial packets so far will never
    // be acknowledged; send the ClientHello again, keeping packet numbers rising.
    const initial = this.spaces.initial!
    this.recovery.onRetry(now)
    initial.cryptoSend = new SendBuffer()
    for (const data of this.initialCrypto) initial.cryptoSend.write(data)
  }

  private onProtectedPacket(
    now: number,
    remote: SocketAddress,
    local: SocketAddress | undefined,
    datagram: Uint8Array,
    header: LongHeader | ShortHeader
  ): void {
    const type: "initial" | "handshake" | "0rtt" | "1rtt" = header.form === "short" ? "1rtt" : header.type
    const spaceName = spaceOf(type)
    const space = this.spaces[spaceName]
    // RFC 9001 §4.9: packets of a discarded space are dropped.
    if (space === undefined) return this.drop()
    if (type === "0rtt" && this.role === "client") return this.drop()
    // Initial keys of another version, for a packet not in the connection's version.
    let otherInitial: InitialKeys | undefined
    let initialRead = space.read
    if (header.form === "long" && header.version !== this.version) {
      if (this.role === "client") {
        // RFC 9368 §2.3, RFC 9369 §4.1: the server may answer in a compatible version
        // (after some Initials in ours, e.g. a HelloRetryRequest); we follow its first
        // Initial in it, while nothing of the handshake was derived in our version yet.
        // The switch is kept only if the packet opens under that version's keys.
        if (type !== "initial" || this.version !== this.originalVersion || this.spaces.handshake?.read !== undefined) {
          return this.drop()
        }
        otherInitial = initialKeys(this.backend, header.version, this.retrySourceCid ?? this.originalDcid)
        initialRead = otherInitial.server
      } else if (header.version !== this.originalVersion) {
        return this.drop()
      } else if (type === "initial") {
        // RFC 9369 §4.1: after moving to another version we still read the client's
        // Initials in the one it started in, until it shows it heard us.
        initialRead = this.originalInitialRead
        if (initialRead === undefined) return this.drop()
      } else if (type !== "0rtt") {
        // RFC 9369 §4.1: Handshake packets must be in the negotiated version.
        return this.drop()
      }
    } else if (type === "0rtt" && this.version !== this.originalVersion) {
      // RFC 9369 §4.1: 0-RTT is never in the negotiated version, only in the original one.
      return this.drop()
    }

    const headerKey = type === "1rtt"
      ? this.oneRtt?.readHeader
      : type === "0rtt"
      ? this.zeroRttRead?.header
      : initialRead?.header
    if (headerKey === undefined) return this.bufferPacket(datagram, header, remote, local, type)

    const start = header.start
    const pnLength = removeHeaderProtection(headerKey, datagram, start, header.pnOffset, header.end)
    if (pnLength === 0) return this.drop()
    const first = datagram[start]!
    const truncated = readTruncatedPacketNumber(datagram, header.pnOffset, pnLength)
    const pn = decodePacketNumber(space.ack.largest, truncated, pnLength * 8)
    if (pn < 0) return this.drop()

    let payloadEnd: number
    let phase: 0 | 1 = 0
    if (type === "1rtt") {
      const keys = this.oneRtt!
      phase = keyPhaseOf(first)
      const key = keys.keyFor(phase, pn)
      payloadEnd = key === undefined ? -1 : openPacket(key, datagram, start, header.pnOffset, pnLength, header.end, pn)
      if (payloadEnd < 0) {
        // RFC 9000 §10.3.1: a packet that does not open may be a stateless reset.
        if (this.isStatelessReset(datagram.subarray(0, header.end))) return this.onStatelessReset()
        keys.failedOpens++
        // RFC 9001 §6.6: past the integrity limit the connection must end.
        if (keys.failedOpens >= keys.suite.integrityLimit) {
          this.closeWithError(now, transportError(TransportErrorCode.AEAD_LIMIT_REACHED, "integrity limit reached"))
        }
        return this.drop()
      }
    } else {
      const key = type === "0rtt" ? this.zeroRttRead!.packet : initialRead!.packet
      payloadEnd = openPacket(key, datagram, start, header.pnOffset, pnLength, header.end, pn)
      if (payloadEnd < 0) return this.drop()
    }
    if (otherInitial !== undefined) this.switchVersion((header as LongHeader).version, otherInitial)
    // RFC 9369 §4.1: the original version's Initial keys go once a packet of the negotiated version opens.
    if (this.originalInitialRead !== undefined && (header.form === "short" || header.version === this.version)) {
      this.originalInitialRead = undefined
    }

    if (this.role === "client" && !this.receivedFromServer) {
      this.receivedFromServer = true
      // RFC 9000 §7.2: the client switches to the Source CID of the server's first Initial.
      if (header.form === "long") {
        this.peerInitialScid = header.scid.slice()
        this.remoteCids.setInitial(this.peerInitialScid)
      }
    }
    // RFC 9000 §17.2, §17.3.1: reserved bits must be zero once unprotected.
    if (reservedBits(first) !== 0) {
      return this.closeWithError(now, transportError(TransportErrorCode.PROTOCOL_VIOLATION, "reserved bits set"))
    }
    if (space.ack.isDuplicate(pn)) return this.drop()
    if (type === "1rtt") {
      const keys = this.oneRtt!
      const writeGeneration = keys.writeGeneration
      if (keys.onPacketOpened(phase, pn, now, this.currentPto())) {
        this.logKeyUpdate("read")
        // RFC 9001 §6.2: answering the peer's update moved our write keys as well.
        if (keys.writeGeneration !== writeGeneration) this.logKeyUpdate("write")
      }
    }

    this.packetsReceived++
    if (this.state === "draining") return
    if (this.state === "closing") {
      // RFC 9000 §10.2.1: answer with CONNECTION_CLOSE again, no more often than packets
      // arrive, and only when the packet may tell that our last one was lost: one arriving
      // within the minimum RTT of it left the peer before it could have arrived, and it is
      // still on its way (a client that closes at once would otherwise answer the server's
      // HANDSHAKE_DONE every time).
      if (this.closeFrameSentAt < 0 || now - this.closeFrameSentAt >= this.recovery.rtt.min) this.closeFrameSentAt = -1
      return
    }

    const packetType: PacketType = type
    const frames = decodeFrames(datagram.subarray(header.pnOffset + pnLength, payloadEnd), packetType)
    if (this.qlog !== undefined && !isTransportError(frames)) {
      this.qlogPacketReceived(now, type, pn, header, frames, payloadEnd - header.pnOffset - pnLength)
    }
    if (isTransportError(frames)) return this.closeWithError(now, frames)

    // RFC 9001 §4.9.1: a server drops Initial keys on its first Handshake packet;
    // RFC 9000 §8.1: which also proves the client owns its address.
    if (type === "handshake" && this.role === "server") {
      this.addressValidated = true
      this.recovery.setAmplificationLimited(now, false)
      this.discardSpace("initial", now)
    }

    let ackEliciting = false
    let probingOnly = true
    const dcid = header.dcid
    for (const frame of frames) {
      this.frameCounts[frame._tag] = (this.frameCounts[frame._tag] ?? 0) + 1
      if (frame._tag !== "Ack" && frame._tag !== "Padding" && frame._tag !== "ConnectionClose") ackEliciting = true
      if (
        frame._tag !== "PathChallenge" && frame._tag !== "PathResponse" && frame._tag !== "NewConnectionId" &&
        frame._tag !== "Padding"
      ) probingOnly = false
      const error = this.onFrame(now, spaceName, frame, remote, local, dcid)
      if (error !== undefined) return this.closeWithError(now, error)
      if (this.state !== "handshake" && this.state !== "established") break
    }
    space.ack.onPacketReceived(pn, ackEliciting, now)
    // RFC 9000 §10.1: any packet that opens restarts the idle timer.
    this.idleDeadline = now + this.effectiveIdleTimeout()
    this.ackElicitingSentSinceReceive = false
    if (type === "1rtt" && !probingOnly) {
      if (!sameAddress(remote, this.remote)) this.onPeerAddressChange(now, remote, local)
      else if (!sameLocal(local, this.local)) this.onLocalAddressChange(now, local)
    }
    if (this.role === "server" && type === "1rtt" && !this.newTokenIssued && this.handshakeConfirmed) {
      this.maybeIssueNewToken(now)
    }
    this.retryBuffered(now)
  }

  /**
   * Client (RFC 9368 §2.3, RFC 9369 §4.1): the server answered in another
   * compatible version; every later packet of ours but 0-RTT is in it, and the
   * Initial keys are that version's for the same DCID (the original one, or
   * the Retry's SCID).
   */
  private switchVersion(version: QuicVersion, keys: InitialKeys): void {
    this.version = version
    this.installInitialKeys(keys)
    if (this.qlog !== undefined) {
      this.qlog.versionInformation(this.qlog.lastNow, "client", clientVersions(this.originalVersion).map((v) => v.number), version.number)
    }
  }

  private drop(): void {
    this.packetsDropped++
  }

  private bufferPacket(
    datagram: Uint8Array,
    header: LongHeader | ShortHeader,
    remote: SocketAddress,
    local: SocketAddress | undefined,
    type: string
  ): void {
    // RFC 9001 §4.1.4: keep a few packets whose keys are still coming (Handshake,
    // 1-RTT or 0-RTT arriving before the packets that produce their keys).
    const handshake = this.spaces.handshake
    const keysMayArrive = type === "1rtt"
      ? this.oneRtt === undefined
      : type === "0rtt"
      ? this.role === "server" && handshake !== undefined && handshake.write === undefined
      : type === "handshake" && handshake !== undefined && handshake.read === undefined
    if (!keysMayArrive || this.buffered.length >= MAX_BUFFERED_PACKETS) return this.drop()
    const data = datagram.slice(header.start, header.end)
    const rebased: PacketHeader = header.form === "short"
      ? { ...header, start: 0, pnOffset: header.pnOffset - header.start, end: data.length }
      : { ...header, start: 0, pnOffset: header.pnOffset - header.start, end: data.length }
    this.buffered.push({ data, header: rebased, remote, local })
  }

  private retryBuffered(now: number): void {
    if (this.buffered.length === 0) return
    const ready = this.buffered.splice(0, this.buffered.length)
    for (const packet of ready) {
      if (this.isDrained) return
      this.onProtectedPacket(now, packet.remote, packet.local, packet.data, packet.header as LongHeader | ShortHeader)
    }
  }

  // ---- frames ----------------------------------------------------------------

  private onFrame(
    now: number,
    space: PacketNumberSpace,
    frame: Frame,
    remote: SocketAddress,
    local: SocketAddress | undefined,
    dcid: Uint8Array
  ): TransportError | undefined {
    switch (frame._tag) {
      case "Padding":
      case "Ping":
        return undefined
      case "Ack":
        return this.onAck(now, space, frame.ranges, frame.delay)
      case "Crypto":
        return this.onCrypto(now, space, frame.offset, frame.data)
      case "NewToken":
        // RFC 9000 §19.7: only servers send NEW_TOKEN.
        if (this.role === "server") return transportError(TransportErrorCode.PROTOCOL_VIOLATION, "NEW_TOKEN from a client", FrameType.NEW_TOKEN)
        this.onNewToken?.(frame.token.slice())
        return undefined
      case "Stream":
      case "ResetStream":
      case "StopSending":
      case "MaxData":
      case "MaxStreamData":
      case "MaxStreams":
      case "DataBlocked":
      case "StreamDataBlocked":
      case "StreamsBlocked": {
        const error = this.streams.onFrame(frame)
        this.drainStreamEvents()
        return error
      }
      case "NewConnectionId":
        // RFC 9000 §19.15: a peer that uses zero-length CIDs cannot issue more.
        if (this.remoteCids.active.cid.length === 0) {
          return transportError(TransportErrorCode.PROTOCOL_VIOLATION, "NEW_CONNECTION_ID with zero-length CIDs", FrameType.NEW_CONNECTION_ID)
        }
        return this.remoteCids.onNewConnectionId(frame.sequence, frame.retirePriorTo, frame.connectionId, frame.resetToken)
      case "RetireConnectionId": {
        const error = this.localCids.onRetire(frame.sequence, dcid)
        if (error === undefined) this.localCids.replenish(this.cidLimit())
        return error
      }
      case "PathChallenge":
        // RFC 9000 §8.2.2: answer on the path the challenge came in on (from the
        // local address it reached: a server's preferred address, §9.6.2); bound the backlog.
        if (this.pendingPathResponses.length < 4) {
          // §8.1: toward an address not yet validated, no more than three times what came from it.
          const validated = this.addressValidated && sameAddress(remote, this.remote)
          const allowance = validated ? Number.MAX_SAFE_INTEGER : AMPLIFICATION_FACTOR * this.datagramLength
          this.pendingPathResponses.push({ data: frame.data.slice(), remote, local, allowance })
        }
        return undefined
      case "PathResponse":
        return this.onPathResponse(now, frame.data, remote)
      case "ConnectionClose":
        return this.onConnectionClose(now, frame)
      case "HandshakeDone":
        // RFC 9000 §19.20: only servers send HANDSHAKE_DONE.
        if (this.role === "server") return transportError(TransportErrorCode.PROTOCOL_VIOLATION, "HANDSHAKE_DONE from a client", FrameType.HANDSHAKE_DONE)
        this.confirmHandshake(now)
        this.settleTls()
        return undefined
      case "Datagram": {
        const max = this.transport.maxDatagramFrameSize
        // RFC 9221 §3: DATAGRAM frames we did not advertise, or larger than allowed, are PROTOCOL_VIOLATIONs.
        if (max === undefined || frameLength(frame) > max) {
          return transportError(TransportErrorCode.PROTOCOL_VIOLATION, "unexpected or oversized DATAGRAM", frameTypeOf(frame))
        }
        // The event hands the datagram to the application; nothing else keeps it.
        const data = frame.data.slice()
        this.events.push({ _tag: "DatagramReceived", connection: this.handle, data })
        return undefined
      }
    }
  }

  private onAck(now: number, space: PacketNumberSpace, ranges: ReadonlyArray<number>, delay: number): TransportError | undefined {
    const exponent = this.peerParams?.ackDelayExponent ?? 3
    const delayMicros = space === "application" ? delay * 2 ** exponent : 0
    const appLimited = this.recovery.bytesInFlight < this.recovery.congestion.window / 2
    const result = this.recovery.onAckReceived(space, ranges, delayMicros, now, appLimited)
    if (isTransportError(result)) return result
    if (this.qlog !== undefined) this.qlogRecovery(now, result, false)
    this.onRecoveryEvents(result)
    return undefined
  }

  /** Acts on what loss recovery reported, then lets its events record go (an idle connection keeps none of it). */
  private onRecoveryEvents(events: RecoveryEvents<Sent>): void {
    const space = this.spaces[events.space]
    // A space discarded while its packet was processed has no packets left to report.
    if (space !== undefined) this.applyRecoveryEvents(space, events)
    this.recovery.releaseEvents()
  }

  private applyRecoveryEvents(space: PacketSpace, events: RecoveryEvents<Sent>): void {
    for (const packet of events.acked) this.onPacketAcked(space, packet)
    for (const packet of events.lost) this.onPacketLost(space, packet)
    for (const probe of events.lostPmtuProbes) this.mtud.onProbeLost(probe.packetNumber)
    if (events.probes > 0) {
      space.probes = Math.max(space.probes, events.probes)
      this.probeRound++
      // RFC 9002 §6.2.4: the PTO also sends an ack-eliciting packet in the later spaces
      // with data in flight, coalesced where it fits. A server's Initial probe carries
      // its Handshake flight too: a client that lost the ServerHello and buffered the
      // Handshake packets would otherwise acknowledge those old packets once it gets
      // the keys, and the server would take their age for an RTT sample. A client whose
      // HANDSHAKE_DONE went missing probes only the Handshake space, whose keys a
      // confirmed server has discarded; its 1-RTT data (a lost request, say) would
      // wait for confirmation.
      if (space.name === "initial") this.oweProbes("handshake", events.probes)
      const application = this.spaces.application
      if (space !== application && this.oneRtt !== undefined && this.recovery.hasAckElicitingInFlight("application")) {
        application.probes = Math.max(application.probes, 1)
      }
    }
    if (events.acked.length > 0 || events.lost.length > 0) this.drainStreamEvents()
  }

  /**
   * RFC 9002 §6.2.4: a probe carries new data when there is some, else data
   * sent before that is not yet acknowledged (the handshake's CRYPTO data,
   * or the oldest ack-eliciting packet's stream frames), and is a bare PING
   * only when there is none. Each of the two probes of a PTO does so: under
   * bursty loss a PING alone only earns an ACK that can be lost in turn
   * (a second Initial with PING cannot start a handshake whose ClientHello
   * was lost, and a server PINGing for its lost response never learns of
   * the loss while the client's ACKs go missing), until the idle timeout.
   */
  /** A packet in flight whose stream frames or HANDSHAKE_DONE this PTO round has not re-sent yet. */
  private readonly resendableInProbe = (sent: Sent): boolean =>
    sent.resentInProbe !== this.probeRound && (sent.streams !== undefined || sent.handshakeDone)

  private fillProbe(space: PacketSpace): void {
    if (space.name !== "application") {
      if (space.cryptoSend?.hasPending !== true) space.cryptoSend?.retransmitUnacked()
      return
    }
    if (this.streams.hasPendingData()) return
    // One in-flight packet's data per probe still owed, oldest first and each only
    // once: a response sent as two packets (the data, then a FIN alone) is re-sent
    // whole, and successive PTOs move on to later packets rather than repeat the oldest.
    for (let i = 0; i < space.probes; i++) {
      const sent = this.recovery.oldestAckElicitingInFlight("application", this.resendableInProbe)
      if (sent === undefined) return
      sent.resentInProbe = this.probeRound
      if (sent.streams !== undefined) for (const record of sent.streams) this.streams.onLost(record)
      if (sent.handshakeDone) this.handshakeDoneToSend = true
    }
  }

  private onPacketAcked(space: PacketSpace, packet: SentPacket<Sent>): void {
    const sent = packet.payload
    if (sent.ackLargest >= 0) space.ack.onAckAcknowledged(sent.ackLargest)
    const send = space.cryptoSend
    if (sent.crypto !== undefined && send !== undefined) {
      for (let i = 0; i < sent.crypto.length; i += 2) send.onAcked(sent.crypto[i]!, sent.crypto[i + 1]!, false)
    }
    if (sent.streams !== undefined) for (const record of sent.streams) this.streams.onAcked(record)
    if (space.name === "application" && this.oneRtt !== undefined && !sent.zeroRtt) this.oneRtt.onPacketAcked(packet.packetNumber)
    if (packet.isPmtuProbe) this.mtud.onProbeAcked(packet.packetNumber)
    else this.mtud.onPacketAcked(packet.size)
    if (this.mtud.current !== this.currentMtu) this.onMtuChange()
  }

  private onPacketLost(space: PacketSpace, packet: SentPacket<Sent>): void {
    const sent = packet.payload
    const send = space.cryptoSend
    if (sent.crypto !== undefined && send !== undefined) {
      for (let i = 0; i < sent.crypto.length; i += 2) send.onLost(sent.crypto[i]!, sent.crypto[i + 1]!, false)
    }
    if (sent.streams !== undefined) for (const record of sent.streams) this.streams.onLost(record)
    if (sent.handshakeDone) this.handshakeDoneToSend = true
    if (sent.newConnectionIds !== undefined) {
      for (const sequence of sent.newConnectionIds) {
        const issued = this.localCids.get(sequence)
        if (issued !== undefined) this.localCids.pendingAnnouncements.push(issued)
      }
    }
    if (sent.retiredConnectionIds !== undefined) this.remoteCids.pendingRetirements.push(...sent.retiredConnectionIds)
    if (sent.newToken !== undefined && this.pendingNewToken === undefined) this.pendingNewToken = sent.newToken
    // RFC 9000 §8.2.4: a lost PATH_CHALLENGE is sent again (with fresh data) while the validation runs.
    const validation = this.pathValidation
    if (sent.pathChallenge !== undefined && validation !== undefined && validation.sent && validation.challenges.includes(sent.pathChallenge)) {
      const fresh = new Uint8Array(8)
      this.random.fill(fresh)
      validation.challenges.push(fresh)
      validation.sent = false
    }
    if (this.mtud.onPacketLost(packet.size)) this.onMtuChange()
  }

  private onCrypto(now: number, level: PacketNumberSpace, offset: number, data: Uint8Array): TransportError | undefined {
    const space = this.spaces[level]
    // RFC 9001 §4.9: the level was discarded while this packet was processed; its data is of no use.
    if (space === undefined) return undefined
    const recv = (space.cryptoRecv ??= new RecvBuffer(CRYPTO_BLOCK_SIZE))
    if (offset + data.length <= recv.readOffset) {
      if (data.length > 0) this.onRepeatedCrypto(level)
      return undefined
    }
    // RFC 9000 §7.5: bound the CRYPTO data buffered ahead of what TLS consumed.
    if (offset + data.length > recv.readOffset + MAX_CRYPTO_BUFFER) {
      return transportError(TransportErrorCode.CRYPTO_BUFFER_EXCEEDED, "too much CRYPTO data buffered", FrameType.CRYPTO)
    }
    const error = recv.insert(offset, data, false, FrameType.CRYPTO)
    if (error !== undefined) return error
    for (let chunk = recv.read(Number.MAX_SAFE_INTEGER); chunk.length > 0; chunk = recv.read(Number.MAX_SAFE_INTEGER)) {
      const failure = this.tls.receive(level as CryptoLevel, chunk, this.unixMillis(now))
      if (failure !== undefined) return this.tlsFailure(failure)
    }
    // After the handshake CRYPTO data is rare (a session ticket): a connection
    // should not keep a block for it until it closes.
    recv.release()
    return this.drainTls(now)
  }

  /**
   * RFC 9002 §6.2.3: CRYPTO data the peer sent before means it has not seen
   * our answer (or our acknowledgement of it), so the unacknowledged CRYPTO
   * data of this space and of the Handshake space goes again at once rather
   * than at our next PTO, which backoff may have put seconds away. The peer's
   * own retransmissions pace this, and a server stays within the
   * anti-amplification limit.
   */
  private onRepeatedCrypto(level: PacketNumberSpace): void {
    if (level === "initial") this.oweProbes("initial", 1)
    if (level !== "application") this.oweProbes("handshake", 1)
  }

  /** At least `count` probes in `name`, when we can write there and it has ack-eliciting data in flight to re-send. */
  private oweProbes(name: "initial" | "handshake", count: number): void {
    const space = this.spaces[name]
    if (space?.write !== undefined && this.recovery.hasAckElicitingInFlight(name)) space.probes = Math.max(space.probes, count)
  }

  private tlsFailure(failure: TlsFailure): TransportError {
    return isTlsAlert(failure) ? cryptoError(failure.description, failure.reason) : failure
  }

  private onConnectionClose(now: number, frame: Extract<Frame, { _tag: "ConnectionClose" }>): undefined {
    const reason = new TextDecoder("utf-8", { fatal: false }).decode(frame.reason)
    const closeReason: CloseReason = frame.application
      ? { _tag: "ApplicationClosed", code: frame.errorCode, reason }
      : {
        _tag: "TransportError",
        code: Number(frame.errorCode),
        frameType: Number(frame.frameType),
        reason,
        remote: true
      }
    // RFC 9000 §10.2.2: the peer is closing; we drain for three PTOs without sending.
    this.emitClosed(closeReason)
    this.state = "draining"
    if (this.qlog !== undefined) this.qlog.stateUpdated(now, "draining")
    this.closeDeadline = now + 3 * this.currentPto()
    return undefined
  }

  private onPathResponse(now: number, data: Uint8Array, remote: SocketAddress): undefined {
    const validation = this.pathValidation
    if (validation === undefined || !validation.challenges.some((c) => bytesEqual(c, data))) return undefined
    this.pathValidation = undefined
    // RFC 9000 §8.2.3: a PATH_RESPONSE on any path validates the path its challenge went on.
    if (validation.move) return this.moveTo(now, validation)
    if (sameAddress(validation.remote, remote) || sameAddress(validation.remote, this.remote)) {
      this.addressValidated = true
      this.recovery.setAmplificationLimited(now, false)
    }
    return undefined
  }

  /**
   * RFC 9000 §9.3: the peer moved (NAT rebinding, or migration). Packets go
   * to the new address at once, limited to 3× what arrives from it until a
   * PATH_CHALLENGE round trip validates it; the old path's congestion state
   * is kept only for a port change (§9.4).
   */
  private onPeerAddressChange(now: number, remote: SocketAddress, local: SocketAddress | undefined): void {
    if (this.role === "client") return
    const previous = this.remote
    this.previousRemote = previous
    this.previousLocal = this.local
    this.remote = remote
    this.local = local
    this.bytesReceivedOnPath = 0
    this.bytesSentOnPath = 0
    this.addressValidated = false
    // RFC 9000 §9.4: unless only the port changed, the new path starts with fresh
    // congestion control and RTT estimates.
    if (previous.address !== remote.address) {
      const congestion = makeCongestionController(this.transport.congestionController, BASE_MTU)
      congestion.onMtuChange(this.currentMtu)
      this.recovery.resetPath(congestion)
    }
    this.remoteCids.rotate()
    const challenge = new Uint8Array(8)
    this.random.fill(challenge)
    // A validation of another path in progress (a preferred address) gives way.
    if (this.pathValidation?.cid !== undefined) this.remoteCids.discard(this.pathValidation.cid)
    this.pathValidation = { remote, local, challenges: [challenge], sent: false, deadline: this.pathValidationDeadline(now), move: false, cid: undefined }
    this.events.push({ _tag: "PeerAddressChanged", connection: this.handle, previous, current: remote })
  }

  /** RFC 9000 §8.2.4: give up on a path after three PTOs (and no less than 6 × kInitialRtt, for a new path's unknown RTT). */
  private pathValidationDeadline(now: number): number {
    return now + Math.max(3 * this.currentPto(), 6 * 333_000)
  }

  private startMoveValidation(now: number, path: Path, cid: RemoteCid | undefined): void {
    const challenge = new Uint8Array(8)
    this.random.fill(challenge)
    this.pathValidation = { ...path, challenges: [challenge], sent: false, deadline: this.pathValidationDeadline(now), move: true, cid }
  }

  /**
   * Server, RFC 9000 §9.6.2: a non-probing packet from the client reached our
   * preferred address. We keep sending from the original address until the
   * path from the preferred one is validated by a PATH_CHALLENGE of our own
   * (guarding against a spurious move), then send only from there; a fresh
   * CID of the client's goes with the new local address (§9.5).
   */
  private onLocalAddressChange(now: number, local: SocketAddress | undefined): void {
    if (this.role !== "server" || this.pathValidation !== undefined) return
    const path = { remote: this.remote, local }
    const cid = this.cidFromOtherLocal(path)
    this.offPathCid = undefined
    this.startMoveValidation(now, path, cid)
  }

  /**
   * RFC 9000 §9.5: "An endpoint MUST NOT reuse a connection ID when sending
   * from more than one local address". The CID for packets on `path` when it
   * leaves from another local address of ours than the current path's: one
   * taken for it (undefined, the active one, when the client gave no spare).
   */
  private cidFromOtherLocal(path: Path): RemoteCid | undefined {
    if (sameLocal(path.local, this.local)) return undefined
    const held = this.offPathCid
    if (held !== undefined) {
      if (sameAddress(held.path.remote, path.remote) && sameLocal(held.path.local, path.local)) return held.cid
      // Another path now: the CID used toward the old one is not used again.
      this.remoteCids.discard(held.cid)
      this.offPathCid = undefined
    }
    const cid = this.remoteCids.take()
    if (cid !== undefined) this.offPathCid = { path, cid }
    return cid
  }

  /**
   * The validated path `validation` becomes the current one (RFC 9000 §9.6.1
   * for the client, §9.6.2 for the server): packets go there with the CID
   * taken for it, the old CID is retired (§5.1.2), and congestion control and
   * RTT start over for the new path (§9.4; kept when only a port changed).
   */
  private moveTo(now: number, validation: PathValidation): undefined {
    const previous = this.remote
    const previousLocal = this.local
    if (validation.cid !== undefined) this.remoteCids.switchTo(validation.cid)
    this.remote = validation.remote
    this.local = validation.local
    this.bytesReceivedOnPath = 0
    this.bytesSentOnPath = 0
    this.addressValidated = true
    this.recovery.setAmplificationLimited(now, false)
    const sameHosts = previous.address === validation.remote.address &&
      (previousLocal === undefined ? validation.local === undefined : validation.local !== undefined && previousLocal.address === validation.local.address)
    if (!sameHosts) {
      const congestion = makeCongestionController(this.transport.congestionController, BASE_MTU)
      congestion.onMtuChange(this.currentMtu)
      this.recovery.resetPath(congestion)
    }
    if (this.role === "client") {
      this.formerServerAddress = previous
      this.events.push({ _tag: "PeerAddressChanged", connection: this.handle, previous, current: validation.remote })
    }
    return undefined
  }

  /**
   * Client, RFC 9000 §9.6.1: once the handshake is confirmed, validate the
   * path to the server's preferred address, addressing it with the CID the
   * parameter carried (sequence 1); the move happens when the PATH_RESPONSE
   * arrives, and a failed validation leaves us on the original path.
   */
  private probePreferredAddress(now: number): void {
    const target = this.preferredTarget
    this.preferredTarget = undefined
    if (target === undefined || this.pathValidation !== undefined) return
    const cid = this.remoteCids.take(1)
    if (cid === undefined) return
    this.startMoveValidation(now, { remote: target, local: this.local }, cid)
  }

  /**
   * Client: the preferred_address parameter (RFC 9000 §18.2). Its CID joins
   * the server's as sequence 1 (§5.1.1). We move only to the address of the
   * family we reach the server in (an IPv4 client cannot use an IPv6
   * address), unless configured not to. The server's disable_active_migration
   * does not stand in the way: it "does not prohibit connection migration
   * after a client has acted on a preferred_address transport parameter".
   */
  private onPreferredAddress(preferred: PreferredAddress): TransportError | undefined {
    const error = this.remoteCids.onNewConnectionId(1, 0, preferred.connectionId, preferred.statelessResetToken)
    if (error !== undefined) return error
    const v6 = isIpv6(this.remote.address)
    const bytes = v6 ? preferred.ipv6Address : preferred.ipv4Address
    const port = v6 ? preferred.ipv6Port : preferred.ipv4Port
    // An absent family is sent as zeros.
    if (port === 0 || bytes.every((b) => b === 0)) return undefined
    const target = { address: v6 ? formatIpv6(bytes) : formatIpv4(bytes), port }
    if (this.migrateToPreferred && !this.transport.disableActiveMigration && !sameAddress(target, this.remote)) {
      this.preferredTarget = target
    }
    return undefined
  }

  // ---- TLS -------------------------------------------------------------------

  private drainTls(now: number): TransportError | undefined {
    for (let event = this.tls.pollEvent(); event !== undefined; event = this.tls.pollEvent()) {
      switch (event._tag) {
        case "HandshakeData": {
          const space = this.spaces[event.level]
          // TLS writes nothing at a level after the handshake moved past it (RFC 9001 §4.9).
          if (space !== undefined) (space.cryptoSend ??= new SendBuffer()).write(event.data)
          if (event.level === "initial" && this.role === "client") this.initialCrypto.push(event.data)
          break
        }
        case "Keys": {
          const error = this.installKeys(now, event.level, event.direction, event.suite, event.secret)
          if (error !== undefined) return error
          break
        }
        case "PeerTransportParameters": {
          const error = this.onPeerParameters(now, event.data)
          if (error !== undefined) return error
          this.events.push({ _tag: "HandshakeDataReady", connection: this.handle })
          break
        }
        case "EarlyData":
          if (event.accepted) this.zeroRttAccepted = true
          else this.onZeroRttRejected(now)
          break
        case "HandshakeComplete":
          this.onHandshakeComplete(now)
          break
        case "SessionTicket":
          // RFC 9369 §5: the ticket belongs to the version this connection negotiated.
          this.onSessionTicket?.({ ...event.ticket, quicVersion: this.version.number })
          break
      }
    }
    // Everything TLS had to say (tickets included) is queued.
    if (this.handshakeConfirmed) this.settleTls()
    return undefined
  }

  /**
   * A confirmed connection keeps only the outcome of its TLS session (and a
   * client what it takes to receive later tickets); call when TLS has no
   * events queued.
   */
  private settleTls(): void {
    const tls = this.tls
    if (tls instanceof TlsServer) this.tls = new CompletedServerHandshake(tls)
    else if (tls instanceof TlsClient && tls.complete) this.tls = new CompletedClientHandshake(tls)
  }

  private installKeys(
    now: number,
    level: "early" | "handshake" | "application",
    direction: "read" | "write",
    suite: CipherSuite,
    secret: Uint8Array
  ): TransportError | undefined {
    if (this.qlog !== undefined) this.qlogKeysInstalled(now, level, direction)
    const derive = () => deriveDirectionalKeys(this.backend, suite, this.version, secret)
    if (level === "early") {
      // RFC 9369 §4.1: 0-RTT is in the original version, whatever the negotiation gives.
      const keys = deriveDirectionalKeys(this.backend, suite, this.originalVersion, secret)
      if (direction === "write") this.zeroRttWrite = keys
      else this.zeroRttRead = keys
      return undefined
    }
    if (level === "handshake") {
      // Handshake keys come before the Handshake space can be discarded.
      const space = this.spaces.handshake!
      if (direction === "read") space.read = derive()
      else space.write = derive()
      if (space.read !== undefined && space.write !== undefined) this.recovery.onHandshakeKeysAvailable()
      // RFC 9001 §4.9.1: a client drops its Initial keys when it first sends a
      // Handshake packet, which it can as soon as it has Handshake keys.
      return undefined
    }
    if (direction === "write") this.pendingOneRttWrite = { suite, secret }
    else this.pendingOneRttRead = { suite, secret }
    if (this.pendingOneRttRead !== undefined && this.pendingOneRttWrite !== undefined) {
      this.oneRtt = new OneRttKeys(
        this.backend,
        this.version,
        suite,
        deriveDirectionalKeys(this.backend, suite, this.version, this.pendingOneRttRead.secret),
        deriveDirectionalKeys(this.backend, suite, this.version, this.pendingOneRttWrite.secret)
      )
      this.pendingOneRttRead = undefined
      this.pendingOneRttWrite = undefined
      this.retryBuffered(now)
    }
    return undefined
  }

  private onPeerParameters(now: number, data: Uint8Array): TransportError | undefined {
    const sender = this.role === "client" ? "server" : "client"
    const params = decodeTransportParameters(data, sender)
    if (isTransportError(params)) return params
    // RFC 9000 §7.3: the connection IDs each side used must match what it says it used.
    const cidError = validateConnectionIdParameters(
      params,
      sender === "client"
        ? { sender, initialSourceConnectionId: this.peerInitialScid }
        : {
          sender,
          initialSourceConnectionId: this.peerInitialScid,
          originalDestinationConnectionId: this.originalDcid,
          ...(this.retrySourceCid === undefined ? {} : { retrySourceConnectionId: this.retrySourceCid })
        }
    )
    if (cidError !== undefined) return cidError
    if (this.role === "client") {
      // RFC 9368 §4 (downgrade prevention): the server's Chosen Version must be the
      // version its packets are in. A server without version_information took part
      // in no negotiation, so it must not have moved us.
      const chosen = params.versionInformation?.chosenVersion
      if (chosen === undefined ? this.version !== this.originalVersion : chosen !== this.version.number) {
        return transportError(
          TransportErrorCode.VERSION_NEGOTIATION_ERROR,
          chosen === undefined
            ? "server changed the version without version_information"
            : `server's chosen version 0x${chosen.toString(16)} is not the version of its packets`
        )
      }
    }
    if (this.peerParams !== undefined && this.role === "client") {
      // RFC 9000 §7.4.1: accepting 0-RTT promises the remembered limits were not reduced.
      const remembered = this.peerParams
      if (
        params.initialMaxData < remembered.initialMaxData ||
        params.initialMaxStreamsBidi < remembered.initialMaxStreamsBidi ||
        params.initialMaxStreamsUni < remembered.initialMaxStreamsUni ||
        params.initialMaxStreamDataBidiLocal < remembered.initialMaxStreamDataBidiLocal ||
        params.initialMaxStreamDataBidiRemote < remembered.initialMaxStreamDataBidiRemote ||
        params.initialMaxStreamDataUni < remembered.initialMaxStreamDataUni
      ) {
        if (this.zeroRttWrite !== undefined) {
          return transportError(TransportErrorCode.PROTOCOL_VIOLATION, "server reduced limits it accepted 0-RTT under")
        }
      }
    }
    this.peerParams = params
    if (this.qlog !== undefined) this.qlog.parametersSet(now, "remote", params, this.tls.suite?.name)
    this.streams.applyPeerParameters(params)
    this.drainStreamEvents()
    if (params.statelessResetToken !== undefined) this.remoteCids.setInitialResetToken(params.statelessResetToken)
    if (params.preferredAddress !== undefined && this.role === "client") {
      const error = this.onPreferredAddress(params.preferredAddress)
      if (error !== undefined) return error
    }
    this.recovery.maxAckDelay = params.maxAckDelay * 1000
    this.mtud.setPeerLimit(params.maxUdpPayloadSize)
    this.idleTimeout = params.maxIdleTimeout === 0
      ? this.idleTimeout
      : this.idleTimeout === 0
      ? Math.min(params.maxIdleTimeout, 2 ** 31) * 1000
      : Math.min(this.idleTimeout, Math.min(params.maxIdleTimeout, 2 ** 31) * 1000)
    this.idleDeadline = now + this.effectiveIdleTimeout()
    return undefined
  }

  private onZeroRttRejected(now: number): void {
    this.zeroRttWrite = undefined
    this.events.push({ _tag: "ZeroRttRejected", connection: this.handle })
    // RFC 9001 §4.6.2: nothing sent in 0-RTT arrived; its stream data goes again in 1-RTT.
    const lost = this.recovery.declareLost("application", this.zeroRttPackets, now)
    if (this.qlog !== undefined) for (const packet of lost) this.qlogPacketLost(now, "application", packet, undefined)
    for (const packet of lost) this.onPacketLost(this.spaces.application, packet)
    this.recovery.releaseEvents()
    this.zeroRttPackets = []
    this.drainStreamEvents()
  }

  private onHandshakeComplete(now: number): void {
    this.state = "established"
    if (this.qlog !== undefined) this.qlog.stateUpdated(now, "handshake_complete")
    this.events.push({ _tag: "Connected", connection: this.handle })
    this.zeroRttPackets = []
    if (this.role === "server") {
      // RFC 9001 §4.1.2: the server's handshake is confirmed when it completes.
      this.handshakeDoneToSend = true
      this.confirmHandshake(now)
    }
    this.localCids.replenish(this.cidLimit())
  }

  private confirmHandshake(now: number): void {
    if (this.handshakeConfirmed) return
    this.handshakeConfirmed = true
    if (this.qlog !== undefined) this.qlog.stateUpdated(now, "handshake_confirmed")
    this.recovery.onHandshakeConfirmed(now)
    // RFC 8899 leaves the start of the search to us: a few round trips in,
    // so that a connection that only does a handshake and a request or two
    // does not spend datagrams on probes it would never profit from.
    this.mtuSearchAt = now + MTU_SEARCH_DELAY_RTTS * this.recovery.rtt.smoothed
    this.mtud.startSearchAt(this.mtuSearchAt)
    // RFC 9001 §4.9.2: Handshake keys are dropped once the handshake is confirmed.
    this.discardSpace("initial", now)
    this.discardSpace("handshake", now)
    this.zeroRttRead = undefined
    // RFC 9000 §9.6.1: a client moves to a preferred address only after confirmation.
    if (this.role === "client") this.probePreferredAddress(now)
  }

  private discardSpace(name: "initial" | "handshake", now: number): void {
    if (this.spaces[name] === undefined) return
    this.spaces[name] = undefined
    // The ClientHello kept for a Retry (RFC 9000 §17.2.5.2) is no longer needed either,
    // nor the client's Initial keys of the original version.
    if (name === "initial") {
      this.initialCrypto.length = 0
      this.originalInitialRead = undefined
    }
    this.recovery.discardSpace(name, now)
    if (this.qlog !== undefined) {
      this.qlog.keyDiscarded(now, `client_${name}_secret`)
      this.qlog.keyDiscarded(now, `server_${name}_secret`)
    }
  }

  /** RFC 9000 §8.1.3: one NEW_TOKEN per connection, once the client's address is known good. */
  private maybeIssueNewToken(now: number): void {
    this.newTokenIssued = true
    const sealer = this.tokenSealer
    if (sealer === undefined) return
    // RFC 9369 §5: the token is good for the negotiated version only.
    this.pendingNewToken = sealer.seal("new-token", this.remote, now, undefined, undefined, this.version.number)
  }

  private cidLimit(): number {
    return Math.min(this.peerParams?.activeConnectionIdLimit ?? 2, 8)
  }

  private drainStreamEvents(): void {
    for (let event = this.streams.pollEvent(); event !== undefined; event = this.streams.pollEvent()) {
      switch (event._tag) {
        case "StreamOpened":
          this.events.push({ _tag: "StreamOpened", connection: this.handle, stream: event.id, bidi: event.bidi })
          break
        case "StreamReadable":
          this.events.push({ _tag: "StreamReadable", connection: this.handle, stream: event.id })
          break
        case "StreamWritable":
          this.events.push({ _tag: "StreamWritable", connection: this.handle, stream: event.id })
          break
        case "StreamFinished":
          this.events.push({ _tag: "StreamFinished", connection: this.handle, stream: event.id })
          break
        case "StreamStopped":
          this.events.push({ _tag: "StreamStopped", connection: this.handle, stream: event.id, code: event.code })
          break
        case "StreamsAvailable":
          this.events.push({ _tag: "StreamsAvailable", connection: this.handle, bidi: event.bidi })
          break
      }
    }
  }

  /** NSS key log: each 1-RTT key generation is CLIENT_/SERVER_TRAFFIC_SECRET_N. */
  private logKeyUpdate(direction: "read" | "write", trigger: "local_update" | "remote_update" = "remote_update"): void {
    const log = this.keyLog
    const keys = this.oneRtt
    if (this.qlog !== undefined && keys !== undefined) this.qlogKeyUpdate(direction, trigger)
    if (log === undefined || keys === undefined) return
    const ours = direction === "write"
    const side = (this.role === "client") === ours ? "CLIENT" : "SERVER"
    const generation = ours ? keys.writeGeneration : keys.readGeneration
    const secret = ours ? keys.write.secret : keys.read.secret
    log(keyLogLine(`${side}_TRAFFIC_SECRET_${generation}`, this.tls.clientRandomBytes, secret))
  }

  // ---- timers ----------------------------------------------------------------

  private currentPto(): number {
    return this.recovery.rtt.pto(this.recovery.maxAckDelay, this.handshakeConfirmed)
  }

  /** RFC 9000 §10.1: at least three PTOs, so a lossy path is not mistaken for a dead one. */
  private effectiveIdleTimeout(): number {
    return this.idleTimeout === 0 ? Number.MAX_SAFE_INTEGER / 4 : Math.max(this.idleTimeout, 3 * this.currentPto())
  }

  /** The earliest time `handleTimeout` has work to do. */
  nextTimeout(): number | undefined {
    if (this.state === "drained") return undefined
    if (this.state === "closing" || this.state === "draining") return this.closeDeadline
    let deadline = Math.min(this.idleDeadline, this.recovery.timerDeadline() ?? Infinity)
    const ack = this.spaces.application.ack.deadline
    if (ack !== undefined) deadline = Math.min(deadline, ack)
    if (this.pacingDeadline !== undefined) deadline = Math.min(deadline, this.pacingDeadline)
    if (this.pathValidation !== undefined) deadline = Math.min(deadline, this.pathValidation.deadline)
    if (this.mtuSearchAt !== undefined) deadline = Math.min(deadline, this.mtuSearchAt)
    const discard = this.oneRtt?.previousReadDiscardAt
    if (discard !== undefined) deadline = Math.min(deadline, discard)
    if (this.transport.keepAliveInterval > 0 && this.state === "established") {
      deadline = Math.min(deadline, (this.lastAckElicitingSent ?? 0) + this.transport.keepAliveInterval)
    }
    return deadline === Infinity ? undefined : deadline
  }

  handleTimeout(now: number): void {
    if (this.state === "drained") return
    if (this.qlog !== undefined) this.qlog.advance(now)
    if (this.state === "closing" || this.state === "draining") {
      if (this.closeDeadline !== undefined && now >= this.closeDeadline) this.state = "drained"
      return
    }
    if (now >= this.idleDeadline) {
      // RFC 9000 §10.1: silently closed; nothing is sent.
      this.emitClosed({ _tag: "TimedOut" })
      this.state = "drained"
      return
    }
    const deadline = this.recovery.timerDeadline()
    if (deadline !== undefined && now >= deadline) {
      const events = this.recovery.onTimeout(now)
      if (this.qlog !== undefined) this.qlogRecovery(now, events, true)
      this.onRecoveryEvents(events)
    }
    if (this.pacingDeadline !== undefined && now >= this.pacingDeadline) this.pacingDeadline = undefined
    // The search's start wakes an idle connection once; its first probe goes out with this transmit.
    if (this.mtuSearchAt !== undefined && now >= this.mtuSearchAt) this.mtuSearchAt = undefined
    this.oneRtt?.onTimer(now)
    if (this.pathValidation !== undefined && now >= this.pathValidation.deadline) {
      const failed = this.pathValidation
      this.pathValidation = undefined
      // RFC 9000 §9.6.1: a path we meant to move to failed: we stay where we are,
      // and its CID, used toward that address only, is retired (§9.5).
      if (failed.move) {
        if (failed.cid !== undefined) this.remoteCids.discard(failed.cid)
      } else if (this.previousRemote !== undefined) {
        // RFC 9000 §9.3.2: the new path failed to validate; go back to the old one.
        this.remote = this.previousRemote
        this.local = this.previousLocal
        this.addressValidated = true
      }
    }
    if (
      this.transport.keepAliveInterval > 0 && this.state === "established" &&
      now >= (this.lastAckElicitingSent ?? 0) + this.transport.keepAliveInterval
    ) this.spaces.application.probes = Math.max(this.spaces.application.probes, 1)
  }

  // ---- closing ---------------------------------------------------------------

  private emitClosed(reason: CloseReason): void {
    if (this.closeReason !== undefined) return
    this.closeReason = reason
    if (this.qlog !== undefined) this.qlog.connectionClosed(this.qlog.lastNow, reason)
    this.events.push({ _tag: "ConnectionClosed", connection: this.handle, reason })
  }

  get closedReason(): CloseReason | undefined {
    return this.closeReason
  }

  /** RFC 9000 §10.2: enter the closing state, sending CONNECTION_CLOSE until 3 PTOs pass. */
  private close(now: number, reason: CloseReason, frame: Frame | undefined): void {
    if (this.state === "closing" || this.state === "draining" || this.state === "drained") return
    if (this.qlog !== undefined) this.qlog.advance(now)
    this.emitClosed(reason)
    this.closeFrame = frame
    this.closeFrameSentAt = -1
    this.state = frame === undefined ? "drained" : "closing"
    if (this.qlog !== undefined && frame !== undefined) this.qlog.stateUpdated(now, "closing")
    this.closeDeadline = now + 3 * this.currentPto()
  }

  closeWithError(now: number, error: TransportError, defect?: unknown): void {
    const reason = { _tag: "TransportError", code: error.code, frameType: error.frameType, reason: error.reason, remote: false } as const
    this.close(now, defect === undefined ? reason : { ...reason, defect }, {
      _tag: "ConnectionClose",
      application: false,
      errorCode: BigInt(error.code),
      frameType: BigInt(error.frameType),
      reason: new TextEncoder().encode(error.reason.slice(0, 200))
    })
  }

  /**
   * A bug surfaced while this connection worked (its code threw). Its state
   * can no longer be trusted, but the peer is told rather than left waiting
   * for the idle timeout: RFC 9000 §20.1 INTERNAL_ERROR. A second failure,
   * while closing, drops the connection at once.
   */
  failInternally(now: number, error: unknown): void {
    if (this.state === "closing" || this.state === "draining") {
      this.state = "drained"
      return
    }
    const reason = `internal error: ${error instanceof Error ? error.message : String(error)}`
    this.closeWithError(now, transportError(TransportErrorCode.INTERNAL_ERROR, reason), error)
  }

  /** Application close (ARCHITECTURE.md: emits ConnectionClosed{LocallyClosed} once; later calls do nothing). */
  closeByApplication(now: number, code: bigint, reason: string): void {
    const encoded = new TextEncoder().encode(reason).slice(0, 512)
    this.close(now, { _tag: "LocallyClosed", code, reason }, { _tag: "ConnectionClose", application: true, errorCode: code, reason: encoded })
  }

  // ---- sending ---------------------------------------------------------------

  private get currentMtu(): number {
    return this.mtud.current
  }

  private onMtuChange(): void {
    this.recovery.congestion.onMtuChange(this.mtud.current)
  }

  /**
   * Writes the next datagram into `buffer` (coalescing packets of several
   * levels, RFC 9000 §12.2) and returns where it goes, or undefined when
   * nothing may be sent now.
   */
  pollTransmit(now: number, buffer: Uint8Array): Transmit | undefined {
    if (this.state === "drained" || this.state === "draining") return undefined
    if (this.state === "closing") return this.transmitClose(now, buffer)

    // RFC 9000 §8.2: challenges and responses for another path than the current one go alone.
    const offPath = this.offPathProbe()
    if (offPath !== undefined) {
      const sent = this.transmitPathProbe(now, buffer, offPath)
      if (sent !== undefined) return sent
    }
    let limit = Math.min(buffer.length, this.handshakeConfirmed ? this.currentMtu : BASE_MTU)
    if (!this.addressValidated) {
      // RFC 9000 §8.1: at most three times the bytes received from the unvalidated address.
      const allowance = AMPLIFICATION_FACTOR * this.bytesReceivedOnPath - this.bytesSentOnPath
      if (allowance < limit) {
        if (allowance <= 0) {
          this.recovery.setAmplificationLimited(now, true)
          return undefined
        }
        limit = allowance
      }
    }

    const probesOwed = (this.spaces.initial?.probes ?? 0) + (this.spaces.handshake?.probes ?? 0) + this.spaces.application.probes
    const congestionBlocked = probesOwed === 0 &&
      this.recovery.bytesInFlight + limit > this.recovery.congestion.window
    // RFC 8899 §5.3: probes take their turn ahead of data, within the congestion window.
    const mtuProbe = this.handshakeConfirmed && this.addressValidated
      ? this.mtud.probeToSend(now, this.recovery.congestion.window - this.recovery.bytesInFlight)
      : undefined
    if (mtuProbe !== undefined && this.recovery.bytesInFlight + mtuProbe <= this.recovery.congestion.window) {
      const sent = this.transmitMtuProbe(now, buffer, mtuProbe)
      if (sent !== undefined) return sent
    }
    const w = new BufferWriter(buffer.subarray(0, limit))
    let containsInitial = false
    let ackElicitingInitial = false
    let pending: PendingPacket | undefined
    if (!congestionBlocked && probesOwed === 0) {
      const delay = this.pacer.delay(now, limit, this.currentMtu, this.recovery.congestion.window, this.recovery.rtt.smoothed)
      if (delay > now) {
        this.pacingDeadline = delay
        return this.transmitAcksOnly(now, buffer, limit)
      }
    }

    let sealedAny = false
    for (const name of ["initial", "handshake", "application"] as const) {
      const space = this.spaces[name]
      if (space === undefined) continue
      const zeroRtt = name === "application" && this.oneRtt === undefined && this.zeroRttWrite !== undefined && this.role === "client"
      const canWrite = name === "application" ? this.oneRtt !== undefined || zeroRtt : space.write !== undefined
      if (!canWrite || !this.wantsToSend(space, now, zeroRtt, congestionBlocked)) continue
      if (w.remaining < 48) break
      if (pending !== undefined) {
        this.finishPacket(now, pending, w, false)
        pending = undefined
        sealedAny = true
      }
      const built = this.buildPacket(now, space, w, zeroRtt, congestionBlocked)
      if (built === undefined) continue
      pending = built
      if (name === "initial") {
        containsInitial = true
        if (built.ackEliciting) ackElicitingInitial = true
      }
      // RFC 9001 §4.9.1: a client's first Handshake packet ends its use of Initial keys.
      if (name === "handshake" && this.role === "client") this.discardSpaceAfterSend = true
    }
    if (pending === undefined && !sealedAny) return undefined
    // RFC 9000 §14.1: client datagrams with Initial packets, and server ones with
    // ack-eliciting Initials, are padded to 1200 bytes.
    const pad = containsInitial && (this.role === "client" || ackElicitingInitial)
    if (pending !== undefined) this.finishPacket(now, pending, w, pad)
    else if (pad && w.offset < MIN_INITIAL_DATAGRAM) w.zeros(Math.min(MIN_INITIAL_DATAGRAM, w.bytes.length) - w.offset)
    if (this.discardSpaceAfterSend) {
      this.discardSpaceAfterSend = false
      this.discardSpace("initial", now)
    }
    this.bytesSentOnPath += w.offset
    this.pacer.onSent(now, w.offset)
    return { destination: this.remote, source: this.local, length: w.offset }
  }

  private onCurrentPath(path: Path): boolean {
    return sameAddress(path.remote, this.remote) && sameLocal(path.local, this.local)
  }

  /** A path other than the current one that a PATH_RESPONSE or our PATH_CHALLENGE waits to go on. */
  private offPathProbe(): Path | undefined {
    if (this.oneRtt === undefined) return undefined
    for (const response of this.pendingPathResponses) if (!this.onCurrentPath(response)) return response
    const validation = this.pathValidation
    if (validation !== undefined && !validation.sent && !this.onCurrentPath(validation)) return validation
    return undefined
  }

  /**
   * One datagram on a path that is not (yet) the current one: the
   * PATH_RESPONSEs owed there and our PATH_CHALLENGE, nothing else (RFC 9000
   * §9.1: probing packets), addressed with the CID taken for that path
   * (§9.5) and padded to 1200 bytes (§8.2.1, §8.2.2) so that the path is
   * known to carry full-size datagrams, short of the 3× anti-amplification
   * limit toward an address not yet validated (§8.1).
   */
  private transmitPathProbe(now: number, buffer: Uint8Array, path: Path): Transmit | undefined {
    const validation = this.pathValidation
    const challenging = validation !== undefined && !validation.sent && sameAddress(validation.remote, path.remote) &&
      sameLocal(validation.local, path.local)
    let size = Math.min(buffer.length, BASE_MTU)
    for (const response of this.pendingPathResponses) {
      if (sameAddress(response.remote, path.remote) && sameLocal(response.local, path.local)) size = Math.min(size, response.allowance)
    }
    const w = new BufferWriter(buffer.subarray(0, Math.max(size, 64)))
    const dcid = challenging && validation.cid !== undefined ? validation.cid.cid : this.cidFromOtherLocal(path)?.cid
    const packet = this.startPacket(w, this.spaces.application, false, dcid)
    for (let i = 0; i < this.pendingPathResponses.length;) {
      const response = this.pendingPathResponses[i]!
      if (!sameAddress(response.remote, path.remote) || !sameLocal(response.local, path.local) || w.remaining < 9 + AEAD_TAG_LENGTH) {
        i++
        continue
      }
      encodeFrame(w, { _tag: "PathResponse", data: response.data })
      this.pendingPathResponses.splice(i, 1)
    }
    if (challenging && w.remaining >= 9 + AEAD_TAG_LENGTH) {
      const challenge = validation.challenges[validation.challenges.length - 1]!
      encodeFrame(w, { _tag: "PathChallenge", data: challenge })
      validation.sent = true
      packet.pathChallenge = challenge
    }
    packet.ackEliciting = true
    const fill = w.bytes.length - AEAD_TAG_LENGTH - w.offset
    if (fill > 0) w.zeros(fill)
    this.finishPacket(now, packet, w, false)
    return { destination: path.remote, source: path.local, length: w.offset }
  }


  /** When pacing holds data back, ACKs still go out (they are not congestion controlled). */
  private transmitAcksOnly(now: number, buffer: Uint8Array, limit: number): Transmit | undefined {
    const w = new BufferWriter(buffer.subarray(0, limit))
    let pending: PendingPacket | undefined
    for (const name of ["initial", "handshake", "application"] as const) {
      const space = this.spaces[name]
      if (space === undefined || !space.ack.wantsAck(now)) continue
      if (name === "application" ? this.oneRtt === undefined : space.write === undefined) continue
      if (pending !== undefined) this.finishPacket(now, pending, w, false)
      pending = this.buildPacket(now, space, w, false, true)
    }
    if (pending === undefined && w.offset === 0) return undefined
    if (pending !== undefined) this.finishPacket(now, pending, w, false)
    this.bytesSentOnPath += w.offset
    return { destination: this.remote, source: this.local, length: w.offset }
  }

  private transmitMtuProbe(now: number, buffer: Uint8Array, size: number): Transmit | undefined {
    if (buffer.length < size || this.oneRtt === undefined) return undefined
    const w = new BufferWriter(buffer.subarray(0, size))
    const packet = this.startPacket(w, this.spaces.application, false)
    w.u8(FrameType.PING)
    packet.ackEliciting = true
    packet.mtuProbe = true
    // PADDING up to the probe size, the tag included.
    const fill = size - w.offset - AEAD_TAG_LENGTH
    if (fill > 0) w.zeros(fill)
    this.finishPacket(now, packet, w, false)
    this.mtud.onProbeSent(packet.packetNumber)
    this.bytesSentOnPath += w.offset
    return { destination: this.remote, source: this.local, length: w.offset }
  }

  private transmitClose(now: number, buffer: Uint8Array): Transmit | undefined {
    // RFC 9000 §10.2.1: one CONNECTION_CLOSE, then again only in response to incoming packets.
    if (this.closeFrameSentAt >= 0 || this.closeFrame === undefined) return undefined
    this.closeFrameSentAt = now
    const w = new BufferWriter(buffer.subarray(0, Math.min(buffer.length, BASE_MTU)))
    let pending: PendingPacket | undefined
    let containsInitial = false
    for (const name of ["initial", "handshake", "application"] as const) {
      const space = this.spaces[name]
      if (space === undefined) continue
      if (name === "application" ? this.oneRtt === undefined : space.write === undefined) continue
      if (pending !== undefined) this.finishPacket(now, pending, w, false)
      pending = this.startPacket(w, space, false)
      // RFC 9000 §10.2.3: an application close becomes a transport APPLICATION_ERROR before 1-RTT.
      const frame: Frame = name !== "application" && this.closeFrame._tag === "ConnectionClose" && this.closeFrame.application
        ? { _tag: "ConnectionClose", application: false, errorCode: BigInt(TransportErrorCode.APPLICATION_ERROR), frameType: 0n, reason: EMPTY }
        : this.closeFrame
      encodeFrame(w, frame)
      if (name === "initial") containsInitial = true
    }
    if (pending === undefined) return undefined
    this.finishPacket(now, pending, w, containsInitial && this.role === "client")
    this.bytesSentOnPath += w.offset
    return { destination: this.remote, source: this.local, length: w.offset }
  }

  /** `dcid`: another Destination CID than the active one (a probe on another path, RFC 9000 §9.5). */
  private startPacket(w: BufferWriter, space: PacketSpace, zeroRtt: boolean, dcid = this.remoteCids.active.cid): PendingPacket {
    const name = space.name
    const pn = space.nextPacketNumber++
    const largestAcked = this.recovery.largestAcked(name)
    const pnLength = packetNumberLength(pn, largestAcked)
    const truncated = truncatePacketNumber(pn, pnLength)
    const start = w.offset
    let lengthOffset = -1
    let pnOffset: number
    let keys: DirectionalKeys
    if (name === "application" && !zeroRtt) {
      const oneRtt = this.oneRtt!
      pnOffset = writeShortHeader(w, dcid, false, oneRtt.writePhase, truncated, pnLength)
      keys = { packet: oneRtt.write, header: oneRtt.writeHeader }
    } else {
      const type = name === "application" ? "0rtt" : name
      const token = type === "initial" && this.role === "client" ? this.token : EMPTY
      // RFC 9369 §4.1: a client never sends 0-RTT in the negotiated version.
      lengthOffset = writeLongHeader(w, zeroRtt ? this.originalVersion : this.version, type, dcid, this.localCid, token, truncated, pnLength)
      pnOffset = lengthOffset + LONG_HEADER_LENGTH_FIELD
      keys = zeroRtt ? this.zeroRttWrite! : space.write!
    }
    return {
      space: name,
      start,
      pnOffset,
      pnLength,
      lengthOffset,
      packetNumber: pn,
      keys,
      ackEliciting: false,
      mtuProbe: false,
      zeroRtt,
      ackLargest: -1,
      crypto: undefined,
      streams: undefined,
      handshakeDone: false,
      newConnectionIds: undefined,
      retiredConnectionIds: undefined,
      newToken: undefined,
      pathChallenge: undefined,
      probe: false
    }
  }

  /**
   * Writes one packet of `name` with what that space has to send, or returns
   * undefined (writing nothing) when it has nothing.
   */
  /** Whether `name` has anything for a packet now: an ACK due, CRYPTO data, application data or a probe. */
  private wantsToSend(space: PacketSpace, now: number, zeroRtt: boolean, congestionBlocked: boolean): boolean {
    if (space.ack.wantsAck(now) || space.probes > 0) return true
    if (congestionBlocked) return false
    if (!zeroRtt && space.cryptoSend?.hasPending === true) return true
    return space.name === "application" && this.hasApplicationData(zeroRtt)
  }

  private buildPacket(
    now: number,
    space: PacketSpace,
    w: BufferWriter,
    zeroRtt: boolean,
    congestionBlocked: boolean
  ): PendingPacket | undefined {
    if (!this.wantsToSend(space, now, zeroRtt, congestionBlocked)) return undefined
    if (space.probes > 0 && !zeroRtt) this.fillProbe(space)
    const wantsAck = space.ack.wantsAck(now)
    const hasCrypto = !zeroRtt && space.cryptoSend?.hasPending === true
    const app = space.name === "application"
    const hasAppData = app && !congestionBlocked && this.hasApplicationData(zeroRtt)
    const probe = space.probes > 0

    const mark = w.offset
    const packet = this.startPacket(w, space, zeroRtt)
    // Room for the AEAD tag; what remains is the payload budget.
    const end = w.bytes.length - AEAD_TAG_LENGTH
    if (end - w.offset < 8) {
      w.offset = mark
      space.nextPacketNumber--
      return undefined
    }
    const payload = new BufferWriter(w.bytes.subarray(0, end), w.offset)

    if (!zeroRtt && space.ack.canAck && (wantsAck || hasCrypto || hasAppData || probe)) {
      const ack = space.ack.buildAck(now, app ? this.transport.ackDelayExponent : undefined)
      if (frameLength(ack) <= payload.remaining) {
        encodeFrame(payload, ack)
        space.ack.onAckSent()
        packet.ackLargest = ack.ranges[0]!
      }
    }
    if (!congestionBlocked || probe) {
      this.writeCrypto(space, payload, packet)
      if (app) this.writeApplicationFrames(now, payload, packet, zeroRtt)
    }
    if (probe && !packet.ackEliciting && payload.remaining >= 1) {
      // RFC 9002 §6.2.4: a probe must be ack-eliciting; PING when there is nothing else.
      payload.u8(FrameType.PING)
      packet.ackEliciting = true
    }
    if (packet.ackEliciting && probe) {
      space.probes--
      packet.probe = true
    }
    w.offset = payload.offset
    if (w.offset === packet.pnOffset + packet.pnLength) {
      // Nothing fitted after all: give the packet number back.
      w.offset = mark
      space.nextPacketNumber--
      return undefined
    }
    return packet
  }

  private hasApplicationData(zeroRtt: boolean): boolean {
    if (zeroRtt) return this.streams.hasPendingData() || this.datagrams.hasOutgoing
    return (
      this.handshakeDoneToSend || this.pendingPathResponses.length > 0 || this.pathValidationPending ||
      this.localCids.pendingAnnouncements.length > 0 || this.remoteCids.pendingRetirements.length > 0 ||
      this.pendingNewToken !== undefined || this.streams.hasPendingData() || this.datagrams.hasOutgoing ||
      this.spaces.application.cryptoSend?.hasPending === true
    )
  }

  private get pathValidationPending(): boolean {
    return this.pathValidation !== undefined && !this.pathValidation.sent
  }

  private writeCrypto(space: PacketSpace, w: BufferWriter, packet: PendingPacket): void {
    const send = space.cryptoSend
    if (send === undefined) return
    while (send.hasPending) {
      const offset = send.nextOffset
      const header = cryptoFrameHeaderLength(offset, Math.min(send.nextLength, w.remaining))
      const room = w.remaining - header
      if (room <= 0) return
      const range = send.nextRange(room)
      if (range === undefined || range.length === 0) return
      encodeCryptoFrameHeader(w, range.offset, range.length)
      send.copyInto(w.bytes, w.offset, range.offset, range.length)
      w.offset += range.length
      ;(packet.crypto ??= []).push(range.offset, range.length)
      packet.ackEliciting = true
    }
  }

  private writeApplicationFrames(now: number, w: BufferWriter, packet: PendingPacket, zeroRtt: boolean): void {
    if (!zeroRtt) {
      if (this.handshakeDoneToSend && w.remaining >= 1) {
        w.u8(FrameType.HANDSHAKE_DONE)
        this.handshakeDoneToSend = false
        packet.handshakeDone = true
        packet.ackEliciting = true
      }
      // Responses and challenges for another path go in their own datagrams (transmitPathProbe).
      for (let i = 0; i < this.pendingPathResponses.length && w.remaining >= 9;) {
        const response = this.pendingPathResponses[i]!
        if (!this.onCurrentPath(response)) {
          i++
          continue
        }
        encodeFrame(w, { _tag: "PathResponse", data: response.data })
        packet.ackEliciting = true
        this.pendingPathResponses.splice(i, 1)
      }
      const validation = this.pathValidation
      if (validation !== undefined && !validation.sent && w.remaining >= 9 && this.onCurrentPath(validation)) {
        const challenge = validation.challenges[validation.challenges.length - 1]!
        encodeFrame(w, { _tag: "PathChallenge", data: challenge })
        validation.sent = true
        packet.pathChallenge = challenge
        packet.ackEliciting = true
      }
      while (this.localCids.pendingAnnouncements.length > 0) {
        const issued = this.localCids.pendingAnnouncements[0]!
        if (!this.localCids.isActive(issued.sequence)) {
          this.localCids.pendingAnnouncements.shift()
          continue
        }
        const frame: Frame = {
          _tag: "NewConnectionId",
          sequence: issued.sequence,
          retirePriorTo: this.localCids.retirePriorToValue,
          connectionId: issued.cid,
          resetToken: this.localCids.resetTokenOf(issued)
        }
        if (frameLength(frame) > w.remaining) break
        encodeFrame(w, frame)
        this.localCids.pendingAnnouncements.shift()
        ;(packet.newConnectionIds ??= []).push(issued.sequence)
        packet.ackEliciting = true
      }
      while (this.remoteCids.pendingRetirements.length > 0) {
        const sequence = this.remoteCids.pendingRetirements[0]!
        const frame: Frame = { _tag: "RetireConnectionId", sequence }
        if (frameLength(frame) > w.remaining) break
        encodeFrame(w, frame)
        this.remoteCids.pendingRetirements.shift()
        ;(packet.retiredConnectionIds ??= []).push(sequence)
        packet.ackEliciting = true
      }
      if (this.pendingNewToken !== undefined) {
        const frame: Frame = { _tag: "NewToken", token: this.pendingNewToken }
        if (frameLength(frame) <= w.remaining) {
          encodeFrame(w, frame)
          packet.newToken = this.pendingNewToken
          this.pendingNewToken = undefined
          packet.ackEliciting = true
        }
      }
    }
    this.writeDatagrams(w, packet)
    const records: Array<SentStreamFrame> = []
    this.streams.writeFrames(w, w.remaining, records, now, this.recovery.rtt.smoothed)
    if (records.length > 0) {
      packet.streams = records
      packet.ackEliciting = true
    }
  }

  private writeDatagrams(w: BufferWriter, packet: PendingPacket): void {
    for (let data = this.datagrams.peekOutgoing(); data !== undefined; data = this.datagrams.peekOutgoing()) {
      const frame: Frame = { _tag: "Datagram", data, withLength: true }
      const size = frameLength(frame)
      if (size > w.remaining) {
        // A datagram that can never fit any packet is dropped rather than block the queue.
        if (size > this.maxDatagramPayload() + 8) {
          if (this.datagrams.shiftOutgoing()) this.events.push({ _tag: "DatagramsUnblocked", connection: this.handle })
          continue
        }
        return
      }
      encodeFrame(w, frame)
      packet.ackEliciting = true
      if (this.datagrams.shiftOutgoing()) this.events.push({ _tag: "DatagramsUnblocked", connection: this.handle })
    }
  }

  /** Fills the Length field (long headers), pads if asked, seals, and records the packet. */
  private finishPacket(now: number, packet: PendingPacket, w: BufferWriter, padDatagram: boolean): void {
    const buffer = w.bytes
    let payloadEnd = w.offset
    // RFC 9001 §5.4.2: enough bytes after the packet number for a header-protection sample.
    const minimum = packet.pnOffset + SAMPLE_OFFSET
    let padTo = minimum
    if (padDatagram) padTo = Math.max(padTo, Math.min(MIN_INITIAL_DATAGRAM, buffer.length) - AEAD_TAG_LENGTH)
    if (payloadEnd < padTo) {
      buffer.fill(0, payloadEnd, padTo)
      payloadEnd = padTo
    }
    if (packet.lengthOffset >= 0) setLongHeaderLength(buffer, packet.lengthOffset, payloadEnd + AEAD_TAG_LENGTH - packet.pnOffset)
    // qlog: the frames as they go out, decoded from the plaintext before it is sealed.
    const qlogFrames = this.qlog === undefined ? undefined : this.qlogSentFrames(packet, buffer.subarray(packet.pnOffset + packet.pnLength, payloadEnd))
    const end = sealPacket(packet.keys, buffer, packet.start, packet.pnOffset, packet.pnLength, payloadEnd, packet.packetNumber)
    w.offset = end
    if (packet.space === "application" && !packet.zeroRtt) this.oneRtt!.onPacketSealed(packet.packetNumber)
    if (packet.zeroRtt) this.zeroRttPackets.push(packet.packetNumber)
    const size = end - packet.start
    const inFlight = packet.ackEliciting || padDatagram
    this.recovery.onPacketSent(packet.space, {
      packetNumber: packet.packetNumber,
      timeSent: now,
      size,
      ackEliciting: packet.ackEliciting,
      inFlight,
      isPmtuProbe: packet.mtuProbe,
      payload: {
        ackLargest: packet.ackLargest,
        crypto: packet.crypto,
        streams: packet.streams,
        handshakeDone: packet.handshakeDone,
        newConnectionIds: packet.newConnectionIds,
        retiredConnectionIds: packet.retiredConnectionIds,
        newToken: packet.newToken,
        pathChallenge: packet.pathChallenge,
        zeroRtt: packet.zeroRtt,
        resentInProbe: packet.probe ? this.probeRound : -1
      }
    })
    if (qlogFrames !== undefined) this.qlogPacketSent(now, packet, qlogFrames, size, payloadEnd - packet.pnOffset - packet.pnLength)
    if (packet.ackEliciting) {
      this.lastAckElicitingSent = now
      // RFC 9000 §10.1: only the first ack-eliciting packet since the last one received restarts the idle timer.
      if (!this.ackElicitingSentSinceReceive) {
        this.ackElicitingSentSinceReceive = true
        this.idleDeadline = Math.max(this.idleDeadline, now + this.effectiveIdleTimeout())
      }
    }
    this.maybeInitiateKeyUpdate()
  }

  /** RFC 9001 §6.1, §6.6: update the 1-RTT keys on the configured interval or before the confidentiality limit. */
  private maybeInitiateKeyUpdate(): void {
    const keys = this.oneRtt
    if (keys === undefined || !this.handshakeConfirmed || !keys.canInitiate()) return
    const interval = this.transport.keyUpdateInterval
    const limit = Math.min(keys.suite.confidentialityLimit * 0.9, interval ?? Infinity)
    if (keys.sealedInPhase >= limit) {
      keys.initiate()
      this.logKeyUpdate("write", "local_update")
    }
  }

  /**
   * RFC 9000 §9.2: the client moves to a new local address (the driver has
   * already rebound its socket). A fresh connection ID keeps the old and new
   * paths unlinkable (§9.5) and a PATH_CHALLENGE validates the new path.
   * Returns false when migration is not allowed or possible now.
   */
  migrate(now: number): boolean {
    if (this.role !== "client" || !this.handshakeConfirmed || this.peerParams?.disableActiveMigration === true) return false
    // One path validation at a time: a move to the preferred address finishes first.
    if (this.pathValidation?.move === true) return false
    if (!this.remoteCids.rotate()) return false
    const challenge = new Uint8Array(8)
    this.random.fill(challenge)
    this.pathValidation = {
      remote: this.remote,
      local: this.local,
      challenges: [challenge],
      sent: false,
      deadline: this.pathValidationDeadline(now),
      move: false,
      cid: undefined
    }
    return true
  }

  /** Starts a 1-RTT key update now if the RFC allows it (RFC 9001 §6.1); false otherwise. */
  initiateKeyUpdate(): boolean {
    const keys = this.oneRtt
    if (keys === undefined || !this.handshakeConfirmed || !keys.canInitiate()) return false
    keys.initiate()
    this.logKeyUpdate("write", "local_update")
    return true
  }

  // ---- qlog (only called when a trace is open) ------------------------------------

  private openQlog(init: ConnectionInit): QlogTrace | undefined {
    const trace = QlogTrace.open(init.qlog!, { side: init.role, odcid: init.originalDcid, now: init.now, unixMillis: init.unixMillis(init.now) })
    if (trace === undefined) return undefined
    trace.connectionStarted(init.now, init.remote, init.localCid.cid, init.remoteCid)
    const versions = init.role === "server" ? init.versionPreference ?? supportedVersions : clientVersions(init.version)
    trace.versionInformation(init.now, init.role, versions.map((v) => v.number), init.version.number)
    trace.stateUpdated(init.now, init.role === "client" ? "attempted" : "handshake_started")
    return trace
  }

  /** Ends the trace (the endpoint calls this when it lets the connection go). */
  endQlog(): void {
    if (this.qlog !== undefined) this.qlog.end(this.qlog.lastNow)
  }

  private qlogSentFrames(packet: PendingPacket, payload: Uint8Array) {
    const type = packet.space === "application" ? (packet.zeroRtt ? "0rtt" : "1rtt") : packet.space
    // RFC 9000 §19.3: our exponent scales the delay of our application ACKs; the others carry 0.
    return describePayload(payload, type, packet.space === "application" ? this.transport.ackDelayExponent : 3)
  }

  private qlogPacketSent(now: number, packet: PendingPacket, frames: ReturnType<typeof describePayload>, size: number, payloadLength: number): void {
    const qlog = this.qlog!
    const type: QlogPacketType = packet.space === "application" ? (packet.zeroRtt ? "0RTT" : "1RTT") : packet.space
    const dcid = toHex(this.remoteCids.active.cid)
    const header: QlogPacketHeader = type === "1RTT"
      ? { packet_type: type, packet_number: packet.packetNumber, dcid }
      : {
        packet_type: type,
        packet_number: packet.packetNumber,
        version: (packet.zeroRtt ? this.originalVersion : this.version).number.toString(16).padStart(8, "0"),
        dcid,
        scid: toHex(this.localCid),
        ...(type === "initial" ? { token: { raw: { length: this.role === "client" ? this.token.length : 0 } } } : {})
      }
    qlog.packetSent(now, header, frames, size, payloadLength)
    this.qlogMetrics(now)
  }

  private qlogPacketReceived(
    now: number,
    type: "initial" | "handshake" | "0rtt" | "1rtt",
    pn: number,
    header: LongHeader | ShortHeader,
    frames: ReadonlyArray<Frame>,
    payloadLength: number
  ): void {
    const packetType: QlogPacketType = type === "0rtt" ? "0RTT" : type === "1rtt" ? "1RTT" : type
    const qlogHeader: QlogPacketHeader = header.form === "short"
      ? { packet_type: packetType, packet_number: pn, dcid: toHex(header.dcid) }
      : {
        packet_type: packetType,
        packet_number: pn,
        version: header.version.number.toString(16).padStart(8, "0"),
        dcid: toHex(header.dcid),
        scid: toHex(header.scid),
        ...(type === "initial" ? { token: { raw: { length: header.token.length } } } : {})
      }
    // RFC 9000 §19.3: the peer's exponent scales its application ACK delays.
    const exponent = type === "1rtt" || type === "0rtt" ? this.peerParams?.ackDelayExponent ?? 3 : 3
    const described = new Array<ReturnType<typeof describePayload>[number]>(frames.length)
    for (let i = 0; i < frames.length; i++) described[i] = describeFrame(frames[i]!, exponent)
    this.qlog!.packetReceived(now, qlogHeader, described, header.end - header.start, payloadLength)
  }

  private qlogRetryReceived(now: number, header: RetryHeader): void {
    this.qlog!.packetReceived(now, {
      packet_type: "retry",
      version: header.version.number.toString(16).padStart(8, "0"),
      dcid: toHex(header.dcid),
      scid: toHex(header.scid),
      token: { raw: { length: header.token.length } }
    }, [], header.end - header.start)
  }

  /** transport:packets_acked, recovery:packet_lost and recovery:metrics_updated for what an ACK or a timer produced. */
  private qlogRecovery(now: number, events: RecoveryEvents<Sent>, timer: boolean): void {
    const qlog = this.qlog!
    if (events.acked.length > 0) {
      const numbers = new Array<number>(events.acked.length)
      for (let i = 0; i < events.acked.length; i++) numbers[i] = events.acked[i]!.packetNumber
      qlog.packetsAcked(now, events.space === "application" ? "application_data" : events.space, numbers)
    }
    const largestAcked = this.recovery.largestAcked(events.space) ?? -1
    for (const list of [events.lost, events.lostPmtuProbes]) {
      for (const packet of list) {
        // RFC 9002 §6.1.1: kPacketThreshold (3) later packets acknowledged; otherwise the time threshold (§6.1.2).
        const trigger = !timer && largestAcked - packet.packetNumber >= 3 ? "reordering_threshold" : "time_threshold"
        this.qlogPacketLost(now, events.space, packet, trigger)
      }
    }
    this.qlogMetrics(now)
  }

  private qlogPacketLost(now: number, space: PacketNumberSpace, packet: SentPacket<Sent>, trigger: "reordering_threshold" | "time_threshold" | undefined): void {
    const type: QlogPacketType = space === "application" ? (packet.payload.zeroRtt ? "0RTT" : "1RTT") : space
    this.qlog!.packetLost(now, { packet_type: type, packet_number: packet.packetNumber }, describeSentFrames(packet.payload), trigger, packet.isPmtuProbe)
  }

  private qlogMetrics(now: number): void {
    const r = this.recovery
    this.qlog!.metricsUpdated(now, {
      minRtt: r.rtt.min,
      smoothedRtt: r.rtt.smoothed,
      latestRtt: r.rtt.latest,
      rttVariance: r.rtt.rttvar,
      congestionWindow: r.congestion.window,
      bytesInFlight: r.bytesInFlight,
      ssthresh: r.congestion.slowStartThreshold,
      ptoCount: r.consecutivePtoCount
    })
  }

  private qlogKeysInstalled(now: number, level: "early" | "handshake" | "application", direction: "read" | "write"): void {
    // Whose secret: ours when we write with it, the peer's when we read.
    const side = (this.role === "client") === (direction === "write") ? "client" : "server"
    const keyType: QlogKeyType = `${side}_${level === "early" ? "0rtt" : level === "handshake" ? "handshake" : "1rtt"}_secret`
    this.qlog!.keyUpdated(now, keyType, "tls", level === "application" ? 0 : undefined)
  }

  private qlogKeyUpdate(direction: "read" | "write", trigger: "local_update" | "remote_update"): void {
    const keys = this.oneRtt!
    const ours = direction === "write"
    const side = (this.role === "client") === ours ? "client" : "server"
    this.qlog!.keyUpdated(this.qlog!.lastNow, `${side}_1rtt_secret`, trigger, ours ? keys.writeGeneration : keys.readGeneration)
  }

  // ---- application API ---------------------------------------------------------

  /** Largest DATAGRAM payload that fits in one packet now, or 0 when the peer does not accept datagrams. */
  maxDatagramPayload(): number {
    const peerMax = this.peerParams?.maxDatagramFrameSize
    if (peerMax === undefined || peerMax === 0) return 0
    // Short header (1 + CID + 4-byte packet number), the frame type and length, and the tag.
    const overhead = 1 + this.remoteCids.active.cid.length + 4 + 1 + 2 + AEAD_TAG_LENGTH
    return Math.max(0, Math.min(peerMax - 3, this.currentMtu - overhead))
  }

  sendDatagram(data: Uint8Array, dropOldWhenFull: boolean): DatagramSendError | undefined {
    if (this.transport.maxDatagramFrameSize === undefined) return { _tag: "DatagramDisabled" }
    const peerMax = this.peerParams?.maxDatagramFrameSize
    if (peerMax === undefined || peerMax === 0) return { _tag: "DatagramUnsupportedByPeer" }
    const max = this.maxDatagramPayload()
    if (data.length > max) return { _tag: "DatagramTooLarge", maxSize: max }
    return this.datagrams.push(data, dropOldWhenFull)
  }

  /** Whether the connection is over for good: its slot can be reaped. */
  get isDrained(): boolean {
    return this.state === "drained"
  }

  get isHandshaking(): boolean {
    return this.state === "handshake"
  }

  get alpn(): string | undefined {
    return this.tls.alpn
  }

  get peerCertificates(): ReadonlyArray<Uint8Array> {
    return this.tls.peerCertificates
  }

  get resumed(): boolean {
    return this.tls.resumed
  }

  get cipherSuite(): CipherSuite | undefined {
    return this.tls.suite
  }

  get has0Rtt(): boolean {
    return this.role === "client" ? this.zeroRttWrite !== undefined || this.zeroRttPackets.length > 0 : this.zeroRttRead !== undefined
  }

  get accepted0Rtt(): boolean {
    return this.role === "server" ? (this.tls as TlsServer).earlyDataAccepted : this.zeroRttAccepted
  }


  stats(): ConnectionStats {
    const r = this.recovery.stats()
    return {
      latestRtt: r.latestRtt,
      smoothedRtt: r.smoothedRtt,
      minRtt: r.minRtt,
      congestionWindow: r.congestionWindow,
      bytesInFlight: r.bytesInFlight,
      packetsSent: r.packetsSent,
      bytesSent: r.bytesSent,
      packetsReceived: this.packetsReceived,
      bytesReceived: this.bytesReceived,
      packetsLost: r.packetsLost,
      bytesLost: r.bytesLost,
      congestionEvents: r.congestionEvents,
      packetsDropped: this.packetsDropped,
      pathMtu: this.currentMtu,
      frames: { ...this.frameCounts }
    }
  }

  /** RFC 9000 §10.3.1: whether the last 16 bytes of an undecryptable datagram are a reset token the peer gave us. */
  isStatelessReset(datagram: Uint8Array): boolean {
    if (datagram.length < 21) return false
    const tail = datagram.subarray(datagram.length - 16)
    for (const token of this.remoteCids.resetTokens()) if (bytesEqual(token, tail)) return true
    return false
  }

  onStatelessReset(): void {
    this.emitClosed({ _tag: "Reset" })
    this.state = "drained"
  }
}

interface PendingPacket {
  readonly space: PacketNumberSpace
  readonly start: number
  readonly pnOffset: number
  readonly pnLength: number
  readonly lengthOffset: number
  readonly packetNumber: number
  readonly keys: DirectionalKeys
  ackEliciting: boolean
  mtuProbe: boolean
  readonly zeroRtt: boolean
  ackLargest: number
  crypto: Array<number> | undefined
  streams: Array<SentStreamFrame> | undefined
  handshakeDone: boolean
  newConnectionIds: Array<number> | undefined
  retiredConnectionIds: Array<number> | undefined
  newToken: Uint8Array | undefined
  pathChallenge: Uint8Array | undefined
  /** Sent as a PTO probe (RFC 9002 §6.2.4). */
  probe: boolean
}

