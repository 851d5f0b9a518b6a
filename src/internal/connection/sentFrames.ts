/**
 * What a sent packet carried that matters once its fate is known
 * (RFC 9000 §13.3): on acknowledgement some state can be released, on loss
 * exactly the lost information is queued again, in new frames.
 */
export interface SentFrames<StreamRecord> {
  /** The largest packet number acknowledged by the ACK frame it carried (RFC 9000 §13.2.4), or -1. */
  readonly ackLargest: number
  /** CRYPTO data as flat [offset, length] pairs of the packet's level. */
  readonly crypto: ReadonlyArray<number> | undefined
  /** Stream-layer frames (STREAM, flow control, stream control). */
  readonly streams: ReadonlyArray<StreamRecord> | undefined
  readonly handshakeDone: boolean
  /** Sequence numbers of NEW_CONNECTION_ID frames. */
  readonly newConnectionIds: ReadonlyArray<number> | undefined
  /** Sequence numbers of RETIRE_CONNECTION_ID frames. */
  readonly retiredConnectionIds: ReadonlyArray<number> | undefined
  readonly newToken: Uint8Array | undefined
  /** The PATH_CHALLENGE data it carried (RFC 9000 §8.2.4: re-sent, fresh, when lost). */
  readonly pathChallenge?: Uint8Array | undefined
  /** A 0-RTT packet (RFC 9001 §4.6.2: all of them count as lost if the server rejects 0-RTT). */
  readonly zeroRtt: boolean
  /**
   * The PTO round (RFC 9002 §6.2.4) whose probe re-sent this packet's data,
   * or in which this packet itself went out as a probe; -1 for neither. A
   * round's probes take each packet in flight at most once.
   */
  resentInProbe: number
}
