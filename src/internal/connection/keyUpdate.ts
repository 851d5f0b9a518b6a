import type { CryptoBackend } from "../crypto/backend.js"
import { derivePacketKey, type DirectionalKeys, type HeaderKey, nextTrafficSecret, type PacketKey } from "../crypto/packetKeys.js"
import type { CipherSuite } from "../crypto/suite.js"
import type { QuicVersion } from "../packet/version.js"

/**
 * 1-RTT keys and their key phases (RFC 9001 §6).
 *
 * The header-protection keys never change. The packet keys of each
 * direction move to the next generation independently: our sending keys
 * when we initiate an update (or answer the peer's), our receiving keys
 * when a packet with the other key-phase bit opens under the next keys.
 * The previous receiving key is kept for three PTOs for reordered packets
 * (§6.5). The next receiving key is derived when first needed (§6.3 lets an
 * endpoint generate keys as part of packet processing): for the first packet
 * with the other key phase, or when we start an update, ahead of the peer's
 * answer. An idle connection so holds two packet keys, not three.
 */
export class OneRttKeys {
  readonly readHeader: HeaderKey
  readonly writeHeader: HeaderKey
  read: PacketKey
  write: PacketKey
  /** The next receiving key, once derived. */
  private upcomingRead: PacketKey | undefined
  previousRead: PacketKey | undefined
  /** When to forget `previousRead` (µs). */
  previousReadDiscardAt: number | undefined
  readPhase: 0 | 1 = 0
  writePhase: 0 | 1 = 0
  /** The first packet number we sent under the current write keys. */
  firstWritePacket: number | undefined
  /** The first packet number received under the current read keys. */
  firstReadPacket: number | undefined
  /** Whether a packet sent under the current write keys has been acknowledged (§6.1: required before the next update). */
  writePhaseAcked = false
  /** Packets sealed under the current write keys (for the confidentiality limit, §6.6). */
  sealedInPhase = 0
  /** Packets that failed to open under any 1-RTT key (for the integrity limit, §6.6). */
  failedOpens = 0
  /** Key updates completed in each direction, for key-log labels (CLIENT_TRAFFIC_SECRET_N). */
  readGeneration = 0
  writeGeneration = 0

  constructor(
    private readonly backend: CryptoBackend,
    private readonly version: QuicVersion,
    readonly suite: CipherSuite,
    read: DirectionalKeys,
    write: DirectionalKeys
  ) {
    this.readHeader = read.header
    this.writeHeader = write.header
    this.read = read.packet
    this.write = write.packet
  }

  /** The receiving key of the next phase, derived (once) on first use. */
  get nextRead(): PacketKey {
    return (this.upcomingRead ??= this.next(this.read))
  }

  private next(key: PacketKey): PacketKey {
    return derivePacketKey(this.backend, this.suite, this.version, nextTrafficSecret(this.backend, this.suite, this.version, key.secret))
  }

  /** The key to try for a received packet with key-phase bit `phase` and packet number `pn`. */
  keyFor(phase: 0 | 1, pn: number): PacketKey | undefined {
    if (phase === this.readPhase) return this.read
    // §6.5: a packet older than the first of the current phase belongs to the previous one.
    if (this.firstReadPacket !== undefined && pn < this.firstReadPacket) return this.previousRead
    return this.nextRead
  }

  /** Records a packet that opened; returns true when it moved our receiving keys to the next phase. */
  onPacketOpened(phase: 0 | 1, pn: number, now: number, pto: number): boolean {
    if (phase === this.readPhase) {
      if (this.firstReadPacket === undefined || pn < this.firstReadPacket) this.firstReadPacket = pn
      return false
    }
    if (this.firstReadPacket !== undefined && pn < this.firstReadPacket) return false
    this.previousRead = this.read
    this.previousReadDiscardAt = now + 3 * pto
    this.read = this.nextRead
    this.upcomingRead = undefined
    this.readPhase = phase
    this.firstReadPacket = pn
    this.readGeneration++
    // §6.2: a peer-initiated update is answered by updating our sending keys too.
    if (this.writePhase !== phase) this.rotateWrite()
    return true
  }

  /** Whether we may initiate a key update now (§6.1). */
  canInitiate(): boolean {
    return this.writePhase === this.readPhase && this.writePhaseAcked
  }

  /** Starts a key update from our side (§6.1); the key for the peer's answer is made now, before it arrives. */
  initiate(): void {
    this.rotateWrite()
    this.upcomingRead ??= this.next(this.read)
  }

  private rotateWrite(): void {
    this.write = this.next(this.write)
    this.writePhase = this.writePhase === 0 ? 1 : 0
    this.firstWritePacket = undefined
    this.writePhaseAcked = false
    this.sealedInPhase = 0
    this.writeGeneration++
  }

  onPacketSealed(pn: number): void {
    this.firstWritePacket ??= pn
    this.sealedInPhase++
  }

  /** An acknowledgement of `pn` tells us whether the peer has our current write keys. */
  onPacketAcked(pn: number): void {
    if (this.firstWritePacket !== undefined && pn >= this.firstWritePacket) this.writePhaseAcked = true
  }

  /** Drops the previous receiving key once its three PTOs have passed (§6.5). */
  onTimer(now: number): void {
    if (this.previousReadDiscardAt !== undefined && now >= this.previousReadDiscardAt) {
      this.previousRead = undefined
      this.previousReadDiscardAt = undefined
    }
  }
}
