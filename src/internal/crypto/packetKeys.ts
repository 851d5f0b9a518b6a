import type { QuicVersion } from "../packet/version.js"
import type { Aead, CryptoBackend, HeaderProtection } from "./backend.js"
import { hkdfExpandLabel } from "./hkdf.js"
import type { CipherSuite } from "./suite.js"

const EMPTY = new Uint8Array(0)

/**
 * Scratch shared by every key: a nonce (every QUIC AEAD takes 12 bytes,
 * RFC 9001 §5.3) and a header-protection mask (§5.4.1: 5 bytes) are used
 * only within the synchronous seal, open or unmask of one packet, so one of
 * each serves all connections rather than two typed arrays per key.
 */
const NONCE_SCRATCH = new Uint8Array(12)
const MASK_SCRATCH = new Uint8Array(5)

/** The AEAD key and IV of one direction at one key phase (RFC 9001 §5.1). */
export class PacketKey {
  constructor(
    readonly suite: CipherSuite,
    readonly aead: Aead,
    readonly iv: Uint8Array,
    /** The traffic secret these keys came from; the next key phase is derived from it. */
    readonly secret: Uint8Array
  ) {}

  /**
   * RFC 9001 §5.3: the nonce is the IV XORed with the packet number,
   * left-padded to the IV length. Written into shared scratch: valid until
   * the next call on any key.
   */
  nonceFor(packetNumber: number): Uint8Array {
    const nonce = NONCE_SCRATCH
    const iv = this.iv
    const n = iv.length
    nonce.set(iv)
    let low = packetNumber >>> 0
    let high = Math.floor(packetNumber / 0x100000000)
    for (let i = n - 1; i >= n - 4; i--) {
      nonce[i]! ^= low & 0xff
      low >>>= 8
    }
    for (let i = n - 5; i >= n - 8; i--) {
      nonce[i]! ^= high & 0xff
      high >>>= 8
    }
    return nonce
  }
}

/** The header-protection key of one direction (RFC 9001 §5.4); unchanged by key updates. */
export class HeaderKey {
  /** Where the mask is written: shared scratch, see above. */
  readonly mask = MASK_SCRATCH
  constructor(readonly protection: HeaderProtection) {}
}

/** Everything needed to protect or unprotect packets in one direction at one level. */
export interface DirectionalKeys {
  readonly packet: PacketKey
  readonly header: HeaderKey
}

/** RFC 9001 §5.1: the AEAD key and IV from a traffic secret. */
export const derivePacketKey = (
  backend: CryptoBackend,
  suite: CipherSuite,
  version: QuicVersion,
  secret: Uint8Array
): PacketKey => {
  const key = hkdfExpandLabel(backend, suite.hash, secret, version.labels.key, EMPTY, suite.keyLength)
  const iv = hkdfExpandLabel(backend, suite.hash, secret, version.labels.iv, EMPTY, suite.ivLength)
  return new PacketKey(suite, backend.createAead(suite.aead, key), iv, secret)
}

/** RFC 9001 §5.4: the header-protection key from a traffic secret. */
export const deriveHeaderKey = (
  backend: CryptoBackend,
  suite: CipherSuite,
  version: QuicVersion,
  secret: Uint8Array
): HeaderKey => {
  const hp = hkdfExpandLabel(backend, suite.hash, secret, version.labels.hp, EMPTY, suite.keyLength)
  return new HeaderKey(backend.createHeaderProtection(suite.headerProtection, hp))
}

export const deriveDirectionalKeys = (
  backend: CryptoBackend,
  suite: CipherSuite,
  version: QuicVersion,
  secret: Uint8Array
): DirectionalKeys => ({
  packet: derivePacketKey(backend, suite, version, secret),
  header: deriveHeaderKey(backend, suite, version, secret)
})

/**
 * RFC 9001 §6.1: the secret of the next key phase, HKDF-Expand-Label(secret,
 * "quic ku", "", hash length); the header-protection key is not updated.
 */
export const nextTrafficSecret = (
  backend: CryptoBackend,
  suite: CipherSuite,
  version: QuicVersion,
  secret: Uint8Array
): Uint8Array => hkdfExpandLabel(backend, suite.hash, secret, version.labels.ku, EMPTY, secret.length)

/** RFC 9001 §6.1: the packet key of the next key phase. */
export const nextPacketKey = (backend: CryptoBackend, version: QuicVersion, current: PacketKey): PacketKey =>
  derivePacketKey(backend, current.suite, version, nextTrafficSecret(backend, current.suite, version, current.secret))
