import type { DirectionalKeys } from "../crypto/packetKeys.js"
import type { PacketNumberSpace } from "../recovery/lossDetection.js"
import type { RecvBuffer } from "../stream/recvBuffer.js"
import type { SendBuffer } from "../stream/sendBuffer.js"
import { AckManager } from "./ackManager.js"

/**
 * One packet number space (RFC 9000 §12.3): its packet numbers, what it has
 * received and must acknowledge, its CRYPTO stream in each direction
 * (RFC 9000 §19.6: one per encryption level), and its keys (Initial and
 * Handshake; 1-RTT keys live in OneRttKeys).
 *
 * When the keys of an Initial or Handshake space are discarded (RFC 9001
 * §4.9) the connection drops the whole object: nothing in it is of use
 * afterwards, and an idle connection should not carry it.
 */
export class PacketSpace {
  readonly ack: AckManager
  /**
   * The CRYPTO stream in each direction, made with its first bytes: a 1-RTT
   * space carries only session tickets, and often nothing at all.
   */
  cryptoSend: SendBuffer | undefined
  cryptoRecv: RecvBuffer | undefined
  nextPacketNumber = 0
  read: DirectionalKeys | undefined
  write: DirectionalKeys | undefined
  /** Ack-eliciting probe packets owed after a PTO (RFC 9002 §6.2.4). */
  probes = 0

  constructor(
    readonly name: PacketNumberSpace,
    maxAckDelayMicros: number
  ) {
    this.ack = new AckManager(name !== "application", maxAckDelayMicros)
  }
}
