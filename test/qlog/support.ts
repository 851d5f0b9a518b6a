/**
 * Helpers for the qlog tests: a factory that keeps every trace in memory,
 * and a reader that checks the JSON-SEQ framing while it parses.
 */
import { expect } from "vitest"
import type { QlogFactory, QlogInfo } from "../../src/internal/qlog/types.js"

export interface QlogEvent {
  readonly time: number
  readonly name: string
  readonly data: any
}

export interface CollectedTrace {
  readonly info: QlogInfo
  readonly records: Array<string>
  closed: number
}

/** A qlog factory keeping each connection's records. */
export const collectingFactory = () => {
  const traces: Array<CollectedTrace> = []
  const factory: QlogFactory = (info) => {
    const trace: CollectedTrace = { info, records: [], closed: 0 }
    traces.push(trace)
    return {
      write: (record) => {
        if (trace.closed > 0) throw new Error("record written after close")
        trace.records.push(record)
      },
      close: () => {
        trace.closed++
      }
    }
  }
  return { traces, factory }
}

/** Parses one record, checking it is RS + one JSON text + LF. */
export const parseRecord = (record: string): any => {
  expect(record.startsWith("\x1e")).toBe(true)
  expect(record.endsWith("\n")).toBe(true)
  const body = record.slice(1, -1)
  expect(body).not.toMatch(/[\x1e\n]/)
  return JSON.parse(body)
}

/** The header and events of a trace, with the framing of every record checked. */
export const readTrace = (records: ReadonlyArray<string>): { header: any; events: Array<QlogEvent> } => {
  expect(records.length).toBeGreaterThan(1)
  const [first, ...rest] = records.map(parseRecord)
  return { header: first, events: rest as Array<QlogEvent> }
}

/** The packet number space of a qlog packet type. */
export const spaceOf = (packetType: string): string =>
  packetType === "0RTT" || packetType === "1RTT" ? "application_data" : packetType
