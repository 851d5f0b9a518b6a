import type { DirectionalKeys } from "../crypto/packetKeys.js"
import type { PacketNumberSpace } from "../recovery/lossDetection.js"
import { RecvBuffer } from "../stream/recvBuffer.js"
import { SendBuffer } from "../stream/sendBuffer.js"
import { AckManager } from "./ackManager.js"

/**
 * One packet number space (RFC 9000 §12.3): its packet numbers, what it has
 * received and must acknowledge, its CRYPTO stream in each direction
 * (RFC 9000 §19.6: one per encryption level), and its keys (Initial and
 * Handshake; 1-RTT keys live in OneRttKeys).
 */
export class PacketSpace {
  readonly ack: AckManager
  cryptoSend = new SendBuffer()
  readonly cryptoRecv = new RecvBuffer()
  nextPacketNumber = 0
  read: DirectionalKeys | undefined
  write: DirectionalKeys | undefined
  /** RFC 9001 §4.9: keys and state dropped for good. */
  discarded = false
  /** Ack-eliciting probe packets owed after a PTO (RFC 9002 §6.2.4). */
  probes = 0

  constructor(
    readonly name: PacketNumberSpace,
    maxAckDelayMicros: number
  ) {
    this.ack = new AckManager(name !== "application", maxAckDelayMicros)
  }

  discard(): void {
    this.discarded = true
    this.read = undefined
    this.write = undefined
    this.probes = 0
    this.cryptoSend.discard()
    this.cryptoRecv.discard()
  }
}
