/**
 * The stream state machines of RFC 9000 §3: one for the sending part of a
 * stream (§3.1, Figure 2) and one for the receiving part (§3.2, Figure 3).
 *
 * States and events carry the RFC's names. A transition is a pure function of
 * (state, event); an event the figure does not show leaving a state leaves it
 * unchanged, which is how the RFC's "MAY ignore" cases are expressed (a
 * RESET_STREAM arriving in Data Recvd, §3.2). {@link SendStream} and
 * {@link RecvStream} drive these machines; this file only knows the figures.
 */

/** RFC 9000 §3.1, Figure 2: states of the sending part of a stream. */
export type SendState = "Ready" | "Send" | "DataSent" | "DataRecvd" | "ResetSent" | "ResetRecvd"

/** RFC 9000 §3.1: the labels on Figure 2's arrows. */
export type SendEvent =
  /** "Send STREAM / STREAM_DATA_BLOCKED". */
  | "SendStream"
  /** "Send STREAM + FIN". */
  | "SendFin"
  /** "Recv All ACKs": every byte and the FIN acknowledged. */
  | "AllAcked"
  /** "Send RESET_STREAM" (we move when the application resets, as the frame is then queued). */
  | "SendReset"
  /** "Recv ACK" of the RESET_STREAM. */
  | "ResetAcked"

export const sendTransition = (state: SendState, event: SendEvent): SendState => {
  switch (event) {
    case "SendStream":
      return state === "Ready" ? "Send" : state
    case "SendFin":
      return state === "Ready" || state === "Send" ? "DataSent" : state
    case "AllAcked":
      return state === "DataSent" ? "DataRecvd" : state
    case "SendReset":
      // RFC 9000 §3.1: "From any of the "Ready", "Send", or "Data Sent"
      // states, an application can signal that it wishes to abandon
      // transmission of stream data."
      return state === "Ready" || state === "Send" || state === "DataSent" ? "ResetSent" : state
    case "ResetAcked":
      return state === "ResetSent" ? "ResetRecvd" : state
  }
}

/** RFC 9000 §3.1: "Data Recvd" and "Reset Recvd" are terminal. */
export const isSendTerminal = (state: SendState): boolean => state === "DataRecvd" || state === "ResetRecvd"

/** Whether the sending part may still be reset (§3.1) — also when it must answer STOP_SENDING (§3.5). */
export const canReset = (state: SendState): boolean =>
  state === "Ready" || state === "Send" || state === "DataSent"

/** RFC 9000 §3.2, Figure 3: states of the receiving part of a stream. */
export type RecvState = "Recv" | "SizeKnown" | "DataRecvd" | "DataRead" | "ResetRecvd" | "ResetRead"

/** RFC 9000 §3.2: the labels on Figure 3's arrows. */
export type RecvEvent =
  /** "Recv STREAM + FIN": the final size is known. */
  | "RecvFin"
  /** "Recv All Data". */
  | "AllReceived"
  /** "App Read All Data". */
  | "AllRead"
  /** "Recv RESET_STREAM". */
  | "RecvReset"
  /** "App Read Reset". */
  | "ResetRead"

export const recvTransition = (state: RecvState, event: RecvEvent): RecvState => {
  switch (event) {
    case "RecvFin":
      return state === "Recv" ? "SizeKnown" : state
    case "AllReceived":
      return state === "SizeKnown" ? "DataRecvd" : state
    case "AllRead":
      return state === "DataRecvd" ? "DataRead" : state
    case "RecvReset":
      // RFC 9000 §3.2: a reset moves "Recv" and "Size Known" to "Reset Recvd".
      // In "Data Recvd" all data is already here and the RFC lets us ignore
      // the reset and deliver it; we do, so a completed stream is never lost.
      return state === "Recv" || state === "SizeKnown" ? "ResetRecvd" : state
    case "ResetRead":
      return state === "ResetRecvd" ? "ResetRead" : state
  }
}

/** RFC 9000 §3.2: "Data Read" and "Reset Read" are terminal. */
export const isRecvTerminal = (state: RecvState): boolean => state === "DataRead" || state === "ResetRead"

/**
 * RFC 9000 §3.2: in "Recv" and "Size Known" the stream still takes data; once
 * all of it arrived (or a reset did) STREAM frames are retransmissions to
 * discard, and no further MAX_STREAM_DATA or STOP_SENDING is useful (§3.5).
 */
export const isReceiving = (state: RecvState): boolean => state === "Recv" || state === "SizeKnown"
