import { toHex } from "../codec/hex.js"
import type { CryptoBackend, NamedGroup, PrivateKey } from "../crypto/backend.js"
import type { CipherSuite } from "../crypto/suite.js"
import type { TransportError } from "../errors.js"
import { isTlsAlert, type TlsAlert, unexpectedMessage } from "./alert.js"
import { HandshakeFramer } from "./framer.js"
import type { HandshakeMessage } from "./messages.js"
import { handshakeSignatureSchemes } from "./signatureSchemes.js"

/**
 * What the QUIC connection and the TLS handshake say to each other
 * (RFC 9001 §4.1): handshake bytes per encryption level in both directions,
 * traffic secrets as they become available, the peer's transport parameters,
 * and the end of the handshake.
 */

/** Levels at which CRYPTO frames carry handshake bytes (0-RTT carries none). */
export type CryptoLevel = "initial" | "handshake" | "application"

/** Levels for which TLS derives traffic secrets. */
export type KeyLevel = "early" | "handshake" | "application"

export type TlsEvent =
  | { readonly _tag: "HandshakeData"; readonly level: CryptoLevel; readonly data: Uint8Array }
  | {
    readonly _tag: "Keys"
    readonly level: KeyLevel
    readonly direction: "read" | "write"
    readonly suite: CipherSuite
    readonly secret: Uint8Array
  }
  | { readonly _tag: "PeerTransportParameters"; readonly data: Uint8Array }
  /** Client: whether the server accepted the 0-RTT data it sent (known at EncryptedExtensions or a HelloRetryRequest). */
  | { readonly _tag: "EarlyData"; readonly accepted: boolean }
  | { readonly _tag: "HandshakeComplete" }
  | { readonly _tag: "SessionTicket"; readonly ticket: import("./ticket.js").SessionTicket }

/** A certificate chain (DER, leaf first) and its private key. */
export interface CertifiedKey {
  readonly chain: ReadonlyArray<Uint8Array>
  readonly key: PrivateKey
}

/**
 * Decides whether a peer's certificate chain (DER, leaf first) is trusted.
 * Returns the alert to send when it is not.
 */
export type CertificateVerifier = (
  chain: ReadonlyArray<Uint8Array>,
  context: { readonly serverName: string | undefined; readonly unixMillis: number; readonly purpose: "server" | "client" }
) => TlsAlert | undefined

export interface TlsCommonConfig {
  readonly backend: CryptoBackend
  /** In order of preference. */
  readonly cipherSuites: ReadonlyArray<CipherSuite>
  /** In order of preference; a client sends a key share for the first. */
  readonly groups: ReadonlyArray<NamedGroup>
  /** ALPN protocol names, in order of preference; QUIC requires at least one (RFC 9001 §8.1). */
  readonly alpn: ReadonlyArray<string>
  /** Our encoded transport parameters (RFC 9001 §8.2). */
  readonly transportParameters: Uint8Array
  /** Receives NSS key-log lines (SSLKEYLOGFILE format). */
  readonly keyLog?: ((line: string) => void) | undefined
  /**
   * CertificateVerify schemes we accept from the peer, in order of preference
   * (signature_algorithms; for a server, what its CertificateRequest asks for).
   * Defaults to {@link handshakeSignatureSchemes}.
   */
  readonly signatureSchemes?: ReadonlyArray<number> | undefined
  /** Largest handshake message accepted, bounding what a peer can make us buffer. */
  readonly maxMessageSize?: number | undefined
}

/** A failure of the handshake: a TLS alert, or a transport error for QUIC-specific rules. */
export type TlsFailure = TlsAlert | TransportError

const DEFAULT_MAX_MESSAGE_SIZE = 1 << 17

/** RFC 9001 §6: TLS KeyUpdate is forbidden in QUIC; §8.3: so is EndOfEarlyData. */
export abstract class TlsSession {
  private readonly events: Array<TlsEvent> = []
  private readonly framers: Record<CryptoLevel, HandshakeFramer>
  private failure: TlsFailure | undefined
  protected clientRandom: Uint8Array = new Uint8Array(32)
  complete = false
  /** The negotiated ALPN protocol, once known. */
  alpn: string | undefined
  /** The negotiated cipher suite, once known. */
  suite: CipherSuite | undefined
  /** The peer's certificate chain (DER, leaf first), when it sent one. */
  peerCertificates: ReadonlyArray<Uint8Array> = []
  /** Whether the handshake used a resumption PSK. */
  resumed = false

  protected readonly acceptedSchemes: ReadonlyArray<number>

  constructor(protected readonly common: TlsCommonConfig) {
    this.acceptedSchemes = common.signatureSchemes ?? handshakeSignatureSchemes
    const max = common.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE
    this.framers = { initial: new HandshakeFramer(max), handshake: new HandshakeFramer(max), application: new HandshakeFramer(max) }
  }

  /** The ClientHello random, which names the connection in key-log lines. */
  get clientRandomBytes(): Uint8Array {
    return this.clientRandom
  }

  pollEvent(): TlsEvent | undefined {
    return this.events.shift()
  }

  get failed(): TlsFailure | undefined {
    return this.failure
  }

  /** The message framer of `level`, for what takes over once the handshake is done. */
  framerOf(level: CryptoLevel): HandshakeFramer {
    return this.framers[level]
  }

  /**
   * Feeds handshake bytes received in CRYPTO frames at `level`, in order.
   * Returns the failure that ends the handshake, if any; after a failure every
   * call returns it again.
   */
  receive(level: CryptoLevel, data: Uint8Array, unixMillis: number): TlsFailure | undefined {
    if (this.failure !== undefined) return this.failure
    const framer = this.framers[level]
    framer.push(data)
    for (;;) {
      const message = framer.next()
      if (message === undefined) return undefined
      const result = isTlsAlert(message) ? message : this.handle(level, message, unixMillis)
      if (result !== undefined) {
        this.failure = result
        return result
      }
    }
  }

  protected abstract handle(level: CryptoLevel, message: HandshakeMessage, unixMillis: number): TlsFailure | undefined

  protected emit(event: TlsEvent): void {
    this.events.push(event)
  }

  protected send(level: CryptoLevel, data: Uint8Array): void {
    this.emit({ _tag: "HandshakeData", level, data })
  }

  protected keys(level: KeyLevel, direction: "read" | "write", suite: CipherSuite, secret: Uint8Array): void {
    this.emit({ _tag: "Keys", level, direction, suite, secret })
  }

  /** RFC 8446 §5.1 as RFC 9001 §4.1.3 applies it: no handshake bytes may be left over when keys change. */
  protected levelDrained(level: CryptoLevel): TlsAlert | undefined {
    return this.framers[level].buffered > 0 ? unexpectedMessage(`data left at the ${level} level when keys changed`) : undefined
  }

  /** Writes an NSS key-log line for `secret`. */
  protected logKey(label: string, secret: Uint8Array): void {
    this.common.keyLog?.(keyLogLine(label, this.clientRandom, secret))
  }

  protected unexpected(level: CryptoLevel, message: HandshakeMessage): TlsAlert {
    return unexpectedMessage(`handshake message type ${message.type} at the ${level} level`)
  }
}

/** One line of the NSS key-log format: `LABEL <client random hex> <secret hex>`. */
export const keyLogLine = (label: string, clientRandom: Uint8Array, secret: Uint8Array): string =>
  `${label} ${toHex(clientRandom)} ${toHex(secret)}`
