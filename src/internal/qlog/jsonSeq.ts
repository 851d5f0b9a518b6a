/**
 * The JSON-SEQ serialization of qlog (draft-ietf-quic-qlog-main-schema,
 * qlog_version 0.3; RFC 7464): every record is RS (0x1e), one JSON text, LF.
 * The first record is the header with the trace's common fields; every
 * later one is an event `{ time, name, data }` with `time` in milliseconds
 * relative to the header's `reference_time`.
 */
import type { QlogSide } from "./types.js"

/** RFC 7464 §2.2: the record separator that starts every record. */
export const RS = "\x1e"

export const QLOG_VERSION = "0.3"
export const QLOG_FORMAT = "JSON-SEQ"

export interface QlogHeader {
  readonly side: QlogSide
  /** The original Destination Connection ID, hex: the trace's ODCID and group_id. */
  readonly odcid: string
  /** Unix time in ms that event times count from. */
  readonly referenceTime: number
}

/** The first record of a trace. */
export const headerRecord = (header: QlogHeader): string =>
  RS +
  JSON.stringify({
    qlog_version: QLOG_VERSION,
    qlog_format: QLOG_FORMAT,
    title: `effect-quic ${header.side} ${header.odcid}`,
    trace: {
      vantage_point: { name: "effect-quic", type: header.side },
      common_fields: {
        ODCID: header.odcid,
        group_id: header.odcid,
        protocol_type: ["QUIC"],
        reference_time: header.referenceTime,
        time_format: "relative"
      }
    }
  }) +
  "\n"

/** One event; `time` in ms (fractions allowed) since the reference time. `data` must hold no bigint. */
export const eventRecord = (time: number, name: string, data: object): string => RS + JSON.stringify({ time, name, data }) + "\n"

/** The JSON texts of a JSON-SEQ stream, for readers and tests (RFC 7464 §2.1: a text that does not parse is skipped). */
export const parseJsonSeq = (text: string): Array<unknown> => {
  const out: Array<unknown> = []
  for (const chunk of text.split(RS)) {
    const trimmed = chunk.trim()
    if (trimmed.length === 0) continue
    try {
      out.push(JSON.parse(trimmed))
    } catch {
      // RFC 7464 §2.3: a truncated or damaged record is dropped, the rest still read.
    }
  }
  return out
}
