import { latin1Bytes } from "../codec/bytes.js"
import type { SocketAddress } from "../address.js"
import { addressKey } from "../address.js"
import { BufferReader } from "../codec/reader.js"
import type { Aead, CryptoBackend } from "../crypto/backend.js"
import { AEAD_TAG_LENGTH } from "../crypto/backend.js"
import { ByteBuilder } from "../tls/builder.js"
import { QUIC_V1 } from "../packet/version.js"

/**
 * Address-validation tokens (RFC 9000 §8.1.2–§8.1.4): sent in a Retry or a
 * NEW_TOKEN frame, returned by the client in its Initial packets. They are
 * sealed with an endpoint-wide AES-256-GCM key, bound to the client's IP
 * address and to a QUIC version (the associated data) and time-limited, so a
 * server can validate an address without keeping per-client state. RFC 9369
 * §5: a token is only good for the version it was issued under (a NEW_TOKEN
 * token: the connection's negotiated version; a Retry token: the version of
 * the Initial it answers, which the client must keep, RFC 9369 §4.1).
 */

export type TokenKind = "retry" | "new-token"

export interface ValidatedToken {
  readonly kind: TokenKind
  /** For Retry tokens: the Destination Connection ID of the client's first Initial. */
  readonly originalDcid: Uint8Array
  /** For Retry tokens: the Source Connection ID the Retry packet carried. */
  readonly retrySourceCid: Uint8Array
}

const NONCE_LENGTH = 12
const FORMAT = 1
const EMPTY = new Uint8Array(0)


export class TokenSealer {
  private readonly aead: Aead

  constructor(
    private readonly backend: CryptoBackend,
    key: Uint8Array,
    /** How long a Retry token stays valid, µs. */
    private readonly retryLifetime: number,
    /** How long a NEW_TOKEN token stays valid, µs. */
    private readonly newTokenLifetime: number
  ) {
    this.aead = backend.createAead("aes-256-gcm", key)
  }

  seal(
    kind: TokenKind,
    client: SocketAddress,
    now: number,
    originalDcid: Uint8Array = EMPTY,
    retrySourceCid: Uint8Array = EMPTY,
    version: number = QUIC_V1.number
  ): Uint8Array {
    const plaintext = new ByteBuilder()
      .u8(FORMAT)
      .u8(kind === "retry" ? 0 : 1)
      .u32(Math.floor(now / 0x100000000))
      .u32(now >>> 0)
      .vector(1, originalDcid)
      .vector(1, retrySourceCid)
      .finish()
    const out = new Uint8Array(NONCE_LENGTH + plaintext.length + AEAD_TAG_LENGTH)
    const nonce = out.subarray(0, NONCE_LENGTH)
    this.backend.randomBytes(nonce)
    this.aead.seal(nonce, this.boundTo(client, version), plaintext, out, NONCE_LENGTH)
    return out
  }

  /**
   * The token's content when we issued it, for this client IP, and it has not
   * expired; undefined otherwise (§8.1.3: an invalid token is then treated
   * as if there were none, or answered with INVALID_TOKEN after a Retry).
   */
  open(token: Uint8Array, client: SocketAddress, now: number, version: number = QUIC_V1.number): ValidatedToken | undefined {
    if (token.length < NONCE_LENGTH + AEAD_TAG_LENGTH) return undefined
    const plaintext = new Uint8Array(token.length - NONCE_LENGTH - AEAD_TAG_LENGTH)
    if (!this.aead.open(token.subarray(0, NONCE_LENGTH), this.boundTo(client, version), token.subarray(NONCE_LENGTH), plaintext, 0)) {
      return undefined
    }
    const r = new BufferReader(plaintext)
    const format = r.u8()
    const kind: TokenKind = r.u8() === 0 ? "retry" : "new-token"
    const issued = r.u32() * 0x100000000 + r.u32()
    const originalDcid = r.bytesView(r.u8()).slice()
    const retrySourceCid = r.bytesView(r.u8()).slice()
    if (r.failed || format !== FORMAT) return undefined
    const lifetime = kind === "retry" ? this.retryLifetime : this.newTokenLifetime
    if (now < issued || now - issued > lifetime) return undefined
    return { kind, originalDcid, retrySourceCid }
  }

  /**
   * Both kinds bind the client's IP but not its port: §8.1.3 expects NEW_TOKEN
   * tokens to survive a port change between connections (NAT rebinding).
   */
  private boundTo(client: SocketAddress, version: number): Uint8Array {
    return latin1Bytes(`${addressKey({ address: client.address, port: 0 })}/${(version >>> 0).toString(16)}`)
  }
}
