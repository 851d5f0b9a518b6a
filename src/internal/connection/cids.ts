import { transportError, type TransportError, TransportErrorCode } from "../errors.js"
import { FrameType } from "../frame/types.js"
import { RangeSet } from "../util/rangeSet.js"
import { bytesEqual } from "../codec/bytes.js"

/**
 * Connection IDs of one connection (RFC 9000 §5.1): the ones we issue to the
 * peer (local) and the ones the peer issued to us (remote).
 */


export interface IssuedCid {
  readonly sequence: number
  readonly cid: Uint8Array
}

/**
 * How the endpoint issues our connection IDs: a fresh CID (unique among its
 * connections), and the stateless reset token that goes with a CID. RFC 9000
 * §10.3.2 lets the token be a keyed function of the CID, so it is computed
 * again whenever a NEW_CONNECTION_ID frame carries it rather than kept with
 * every CID of every connection.
 */
export interface CidIssuer {
  readonly generate: () => Uint8Array
  readonly resetToken: (cid: Uint8Array) => Uint8Array
}

/** The connection IDs we have issued and not yet seen retired. */
export class LocalCids {
  /** By increasing sequence number; a handful at most (the peer's active_connection_id_limit, capped). */
  private readonly active: Array<IssuedCid> = []
  private nextSequence: number
  /** CIDs issued but not yet sent in a NEW_CONNECTION_ID frame (or lost and to be re-sent). */
  readonly pendingAnnouncements: Array<IssuedCid> = []
  /** CIDs the endpoint should start / stop routing to this connection. */
  readonly added: Array<Uint8Array> = []
  readonly retired: Array<Uint8Array> = []
  private retirePriorTo = 0

  constructor(
    initial: IssuedCid,
    private readonly issuer: CidIssuer
  ) {
    this.active.push(initial)
    this.nextSequence = initial.sequence + 1
  }

  get count(): number {
    return this.active.length
  }

  all(): IterableIterator<IssuedCid> {
    return this.active.values()
  }

  /** RFC 9000 §5.1.1: keep the peer supplied with up to `limit` connection IDs. */
  replenish(limit: number): void {
    while (this.active.length < limit) {
      const cid = this.issuer.generate()
      const issued = { sequence: this.nextSequence++, cid }
      this.active.push(issued)
      this.pendingAnnouncements.push(issued)
      this.added.push(cid)
    }
  }

  /**
   * RFC 9000 §5.1.1: the connection ID of a server's preferred_address
   * transport parameter has sequence number 1 and counts as issued; it is
   * announced by the parameter, not by a NEW_CONNECTION_ID frame. Call right
   * after construction.
   */
  issueForPreferredAddress(): IssuedCid {
    const issued = { sequence: this.nextSequence++, cid: this.issuer.generate() }
    this.active.push(issued)
    this.added.push(issued.cid)
    return issued
  }

  /** Whether a NEW_CONNECTION_ID for `sequence` still needs (re)sending after a loss. */
  isActive(sequence: number): boolean {
    return this.get(sequence) !== undefined
  }

  get(sequence: number): IssuedCid | undefined {
    for (const issued of this.active) if (issued.sequence === sequence) return issued
    return undefined
  }

  /** The stateless reset token to announce with `issued` (RFC 9000 §19.15). */
  resetTokenOf(issued: IssuedCid): Uint8Array {
    return this.issuer.resetToken(issued.cid)
  }

  /** The Retire Prior To value to put in NEW_CONNECTION_ID frames. */
  get retirePriorToValue(): number {
    return this.retirePriorTo
  }

  /**
   * RFC 9000 §19.16: the peer retires one of our CIDs. Retiring a sequence we
   * never issued, or the CID the carrying packet was addressed to, is a
   * PROTOCOL_VIOLATION.
   */
  onRetire(sequence: number, packetDcid: Uint8Array): TransportError | undefined {
    if (sequence >= this.nextSequence) {
      return transportError(TransportErrorCode.PROTOCOL_VIOLATION, `retired unissued CID ${sequence}`, FrameType.RETIRE_CONNECTION_ID)
    }
    const at = this.active.findIndex((issued) => issued.sequence === sequence)
    if (at < 0) return undefined
    const entry = this.active[at]!
    if (bytesEqual(entry.cid, packetDcid)) {
      return transportError(TransportErrorCode.PROTOCOL_VIOLATION, "retired the CID in use", FrameType.RETIRE_CONNECTION_ID)
    }
    this.active.splice(at, 1)
    this.retired.push(entry.cid)
    return undefined
  }
}

export interface RemoteCid {
  readonly sequence: number
  readonly cid: Uint8Array
  readonly resetToken: Uint8Array | undefined
}

/** The connection IDs the peer issued to us (RFC 9000 §5.1.1, §19.15). */
export class RemoteCids {
  /** Spare CIDs, in the order they arrived; no more than our active_connection_id_limit. */
  private readonly available: Array<RemoteCid> = []
  /** Spares taken for a path being probed (`take`), until `switchTo` or `discard`. */
  private readonly taken: Array<RemoteCid> = []
  private current: RemoteCid
  private retirePriorTo = 0
  /** Sequences we retired; a repeated NEW_CONNECTION_ID for one is ignored (§19.15). */
  private readonly retiredSequences = new RangeSet()
  /** Sequence numbers to send RETIRE_CONNECTION_ID for. */
  readonly pendingRetirements: Array<number> = []

  constructor(
    initial: Uint8Array,
    /** Our active_connection_id_limit. */
    private readonly limit: number
  ) {
    this.current = { sequence: 0, cid: initial, resetToken: undefined }
  }

  /** The CID we address packets to. */
  get active(): RemoteCid {
    return this.current
  }

  /** Replaces the initial CID (the server's SCID, or a Retry's) before the handshake settles it. */
  setInitial(cid: Uint8Array): void {
    this.current = { sequence: 0, cid, resetToken: this.current.resetToken }
  }

  /** The stateless_reset_token transport parameter belongs to sequence 0 (RFC 9000 §18.2). */
  setInitialResetToken(token: Uint8Array): void {
    if (this.current.sequence === 0) this.current = { ...this.current, resetToken: token }
  }

  /**
   * The reset tokens to compare a stateless reset against: §10.3.1 forbids
   * checking those of CIDs we have not used, so only the active one's.
   */
  *resetTokens(): IterableIterator<Uint8Array> {
    if (this.current.resetToken !== undefined) yield this.current.resetToken
  }

  private retire(sequence: number): void {
    this.retiredSequences.insert(sequence, sequence + 1)
    this.pendingRetirements.push(sequence)
  }

  get spareCount(): number {
    return this.available.length
  }

  onNewConnectionId(sequence: number, retirePriorTo: number, cid: Uint8Array, resetToken: Uint8Array): TransportError | undefined {
    const known = sequence === this.current.sequence
      ? this.current
      : this.available.find((entry) => entry.sequence === sequence) ?? this.taken.find((entry) => entry.sequence === sequence)
    if (this.retiredSequences.has(sequence)) return undefined
    if (known !== undefined) {
      // §19.15: the same sequence number must always carry the same CID.
      if (!bytesEqual(known.cid, cid) || (known.resetToken !== undefined && !bytesEqual(known.resetToken, resetToken))) {
        return transportError(TransportErrorCode.PROTOCOL_VIOLATION, `CID sequence ${sequence} reused`, FrameType.NEW_CONNECTION_ID)
      }
      return undefined
    }
    if (sequence < this.retirePriorTo) {
      // §19.15: a CID already covered by Retire Prior To is retired straight away.
      this.retire(sequence)
      return undefined
    }
    // One copy holds both (the frame's bytes belong to the datagram).
    const copy = new Uint8Array(cid.length + resetToken.length)
    copy.set(cid)
    copy.set(resetToken, cid.length)
    this.available.push({ sequence, cid: copy.subarray(0, cid.length), resetToken: copy.subarray(cid.length) })
    if (retirePriorTo > this.retirePriorTo) {
      this.retirePriorTo = retirePriorTo
      for (const entry of this.available.filter((spare) => spare.sequence < retirePriorTo)) {
        this.available.splice(this.available.indexOf(entry), 1)
        this.retire(entry.sequence)
      }
      if (this.current.sequence < retirePriorTo) {
        this.retire(this.current.sequence)
        this.switchToNext()
      }
    }
    // §5.1.1: more active CIDs than our limit is a CONNECTION_ID_LIMIT_ERROR.
    if (this.available.length + this.taken.length + 1 > this.limit) {
      return transportError(TransportErrorCode.CONNECTION_ID_LIMIT_ERROR, "too many connection IDs", FrameType.NEW_CONNECTION_ID)
    }
    // Bound the RETIRE_CONNECTION_ID backlog a peer can make us accumulate.
    if (this.pendingRetirements.length > 4 * this.limit) {
      return transportError(TransportErrorCode.CONNECTION_ID_LIMIT_ERROR, "too many retirements pending", FrameType.NEW_CONNECTION_ID)
    }
    return undefined
  }

  /** Moves to the unused CID with the lowest sequence; false when none is left. */
  private switchToNext(): boolean {
    let next: RemoteCid | undefined
    for (const entry of this.available) if (next === undefined || entry.sequence < next.sequence) next = entry
    if (next === undefined) return false
    this.available.splice(this.available.indexOf(next), 1)
    this.current = next
    return true
  }

  /**
   * Takes a spare CID out of the pool for a path being probed (RFC 9000 §9.5:
   * a CID is used toward one destination only): the one with `sequence`, or
   * else the lowest; undefined when there is none. Give it back to
   * `switchTo` (the path won) or `discard` (it did not).
   */
  take(sequence?: number): RemoteCid | undefined {
    let chosen: RemoteCid | undefined
    for (const entry of this.available) {
      if (entry.sequence === sequence) {
        chosen = entry
        break
      }
      if (chosen === undefined || entry.sequence < chosen.sequence) chosen = entry
    }
    if (chosen === undefined) return undefined
    this.available.splice(this.available.indexOf(chosen), 1)
    this.taken.push(chosen)
    return chosen
  }

  private untake(entry: RemoteCid): void {
    const at = this.taken.indexOf(entry)
    if (at >= 0) this.taken.splice(at, 1)
  }

  /** RFC 9000 §5.1.2, §9.5: moves to `entry` (from `take`) for a new path, retiring the CID used so far. */
  switchTo(entry: RemoteCid): void {
    this.untake(entry)
    this.retire(this.current.sequence)
    this.current = entry
    // §19.15: a Retire Prior To that arrived meanwhile covers it too.
    if (entry.sequence < this.retirePriorTo) {
      this.retire(entry.sequence)
      this.switchToNext()
    }
  }

  /** A CID from `take` that was used on a path we did not move to: retired, never used again (§9.5). */
  discard(entry: RemoteCid): void {
    this.untake(entry)
    this.retire(entry.sequence)
  }

  /**
   * RFC 9000 §9.5: a new path uses a fresh CID, retiring the old one. Returns
   * false when the peer has given us no spare (the old CID stays in use).
   */
  rotate(): boolean {
    const old = this.current.sequence
    if (!this.switchToNext()) return false
    this.retire(old)
    return true
  }
}
