import type { CryptoBackend, HashAlgorithm } from "../crypto/backend.js"
import { hashLength } from "../crypto/backend.js"
import { hkdfExpandLabel } from "../crypto/hkdf.js"

const EMPTY = new Uint8Array(0)

/**
 * The TLS 1.3 key schedule (RFC 8446 §7.1) for one handshake:
 *
 *   PSK (or 0) → Early Secret → [binder key, client early traffic]
 *   (EC)DHE    → Handshake Secret → [client/server handshake traffic]
 *   0          → Master Secret → [client/server application traffic, resumption master]
 *
 * Transcript hashes are passed in by the caller, who owns the transcript.
 */
export class KeySchedule {
  readonly hashLength: number
  readonly emptyHash: Uint8Array
  private readonly zeros: Uint8Array
  earlySecret: Uint8Array
  handshakeSecret: Uint8Array | undefined
  masterSecret: Uint8Array | undefined

  constructor(
    readonly backend: CryptoBackend,
    readonly hash: HashAlgorithm,
    psk?: Uint8Array
  ) {
    this.hashLength = hashLength(hash)
    this.zeros = new Uint8Array(this.hashLength)
    this.emptyHash = backend.hash(hash, EMPTY)
    this.earlySecret = backend.hkdfExtract(hash, this.zeros, psk ?? this.zeros)
  }

  /** RFC 8446 §7.1 Derive-Secret(Secret, Label, Messages), given Transcript-Hash(Messages). */
  deriveSecret(secret: Uint8Array, label: string, transcriptHash: Uint8Array): Uint8Array {
    return hkdfExpandLabel(this.backend, this.hash, secret, label, transcriptHash, this.hashLength)
  }

  /** RFC 8446 §4.2.11.2: the binder key of a resumption PSK ("res binder"). */
  binderKey(): Uint8Array {
    return this.deriveSecret(this.earlySecret, "res binder", this.emptyHash)
  }

  /** client_early_traffic_secret over the ClientHello. */
  clientEarlyTrafficSecret(helloHash: Uint8Array): Uint8Array {
    return this.deriveSecret(this.earlySecret, "c e traffic", helloHash)
  }

  /** Mixes in the (EC)DHE shared secret. */
  enterHandshake(sharedSecret: Uint8Array): void {
    const salt = this.deriveSecret(this.earlySecret, "derived", this.emptyHash)
    this.handshakeSecret = this.backend.hkdfExtract(this.hash, salt, sharedSecret)
  }

  /** The client and server handshake traffic secrets over ClientHello..ServerHello. */
  handshakeTrafficSecrets(helloHash: Uint8Array): { readonly client: Uint8Array; readonly server: Uint8Array } {
    const secret = this.requireHandshake()
    return {
      client: this.deriveSecret(secret, "c hs traffic", helloHash),
      server: this.deriveSecret(secret, "s hs traffic", helloHash)
    }
  }

  enterMaster(): void {
    const salt = this.deriveSecret(this.requireHandshake(), "derived", this.emptyHash)
    this.masterSecret = this.backend.hkdfExtract(this.hash, salt, this.zeros)
  }

  /** The application traffic secrets over ClientHello..server Finished. */
  applicationTrafficSecrets(serverFinishedHash: Uint8Array): { readonly client: Uint8Array; readonly server: Uint8Array } {
    const secret = this.requireMaster()
    return {
      client: this.deriveSecret(secret, "c ap traffic", serverFinishedHash),
      server: this.deriveSecret(secret, "s ap traffic", serverFinishedHash)
    }
  }

  /** resumption_master_secret over ClientHello..client Finished. */
  resumptionMasterSecret(clientFinishedHash: Uint8Array): Uint8Array {
    return this.deriveSecret(this.requireMaster(), "res master", clientFinishedHash)
  }

  /** RFC 8446 §4.4.4: verify_data = HMAC(finished_key, transcript hash). */
  finishedVerifyData(baseKey: Uint8Array, transcriptHash: Uint8Array): Uint8Array {
    const finishedKey = hkdfExpandLabel(this.backend, this.hash, baseKey, "finished", EMPTY, this.hashLength)
    return this.backend.hmac(this.hash, finishedKey, transcriptHash)
  }

  private requireHandshake(): Uint8Array {
    if (this.handshakeSecret === undefined) throw new Error("key schedule: handshake secret not yet derived")
    return this.handshakeSecret
  }

  private requireMaster(): Uint8Array {
    if (this.masterSecret === undefined) throw new Error("key schedule: master secret not yet derived")
    return this.masterSecret
  }
}

/** RFC 8446 §4.6.1: the PSK a ticket stands for. */
export const resumptionPsk = (
  backend: CryptoBackend,
  hash: HashAlgorithm,
  resumptionMasterSecret: Uint8Array,
  ticketNonce: Uint8Array
): Uint8Array => hkdfExpandLabel(backend, hash, resumptionMasterSecret, "resumption", ticketNonce, hashLength(hash))
