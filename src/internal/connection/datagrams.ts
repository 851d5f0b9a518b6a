/**
 * Unreliable datagrams (RFC 9221): the bounded outgoing queue. Datagrams are
 * never retransmitted; when the queue is full the caller chooses between
 * dropping the oldest queued datagram and being told to wait
 * (DatagramsUnblocked fires when room frees up). Received datagrams are not
 * kept here: the DatagramReceived event hands them to the application.
 */

export type DatagramSendError =
  | { readonly _tag: "DatagramDisabled" }
  | { readonly _tag: "DatagramUnsupportedByPeer" }
  | { readonly _tag: "DatagramTooLarge"; readonly maxSize: number }
  | { readonly _tag: "DatagramBlocked"; readonly payload: Uint8Array }

export class DatagramQueues {
  private readonly outgoing: Array<Uint8Array> = []
  private outgoingBytes = 0
  /** Set when a send was refused for lack of room, so the unblocking is reported once. */
  blocked = false
  /** Queued datagrams dropped (oldest first) to make room. */
  droppedOutgoing = 0

  constructor(private readonly sendCapacityBytes: number) {}

  get sendBufferSpace(): number {
    return Math.max(0, this.sendCapacityBytes - this.outgoingBytes)
  }

  /** Queues `data`; with `dropOldWhenFull`, makes room by dropping the oldest queued datagrams. */
  push(data: Uint8Array, dropOldWhenFull: boolean): DatagramSendError | undefined {
    // Larger than the whole queue: it could never be accepted.
    if (data.length > this.sendCapacityBytes) return { _tag: "DatagramTooLarge", maxSize: this.sendCapacityBytes }
    if (this.outgoingBytes + data.length > this.sendCapacityBytes) {
      if (!dropOldWhenFull) {
        this.blocked = true
        return { _tag: "DatagramBlocked", payload: data }
      }
      while (this.outgoing.length > 0 && this.outgoingBytes + data.length > this.sendCapacityBytes) {
        this.outgoingBytes -= this.outgoing.shift()!.length
        this.droppedOutgoing++
      }
    }
    this.outgoing.push(data)
    this.outgoingBytes += data.length
    return undefined
  }

  peekOutgoing(): Uint8Array | undefined {
    return this.outgoing[0]
  }

  /** Removes the head of the outgoing queue (it was sent, or can never fit and is dropped). Returns whether a blocked sender may now retry. */
  shiftOutgoing(): boolean {
    const head = this.outgoing.shift()
    if (head !== undefined) this.outgoingBytes -= head.length
    if (this.blocked && this.outgoingBytes < this.sendCapacityBytes) {
      this.blocked = false
      return true
    }
    return false
  }

  get hasOutgoing(): boolean {
    return this.outgoing.length > 0
  }
}
