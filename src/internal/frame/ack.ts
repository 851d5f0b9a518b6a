/**
 * The ACK frame's range encoding (RFC 9000 §19.3, §19.3.1), both directions.
 *
 * On the wire a range list is relative: the Largest Acknowledged, a First ACK
 * Range, then (Gap, ACK Range Length) pairs, each counted down from the
 * previous range. The {@link Ack} value holds absolute `[largest, smallest]`
 * pairs, so the arithmetic between the two lives only here.
 */
import type { BufferReader } from "../codec/reader.js"
import { VARINT_UNSAFE, varintLength } from "../codec/varint.js"
import { EncodeOverflow, type BufferWriter } from "../codec/writer.js"
import { type TransportError, TransportErrorCode, transportError } from "../errors.js"
import { type Ack, type EcnCounts, FrameType } from "./types.js"

/** Reads the fields after the Frame Type of an ACK frame (type 0x02 or 0x03). */
export const decodeAckBody = (reader: BufferReader, type: number): Ack | TransportError => {
  const largest = reader.varint()
  const delay = reader.varint()
  const rangeCount = reader.varint()
  const firstRange = reader.varint()
  if (reader.failed) return transportError(TransportErrorCode.FRAME_ENCODING_ERROR, "truncated ACK frame", type)
  // The number form of a packet number caps at 2^53-1: larger would
  // acknowledge packets this endpoint never sent.
  if (largest === VARINT_UNSAFE) {
    return transportError(TransportErrorCode.PROTOCOL_VIOLATION, "ACK of a packet number never sent", type)
  }
  if (delay === VARINT_UNSAFE) {
    return transportError(TransportErrorCode.PROTOCOL_VIOLATION, "ACK Delay beyond any real delay", type)
  }
  // RFC 9000 §19.3.1: "If any computed packet number is negative, an endpoint
  // MUST generate a connection error of type FRAME_ENCODING_ERROR." Largest is
  // at most 2^53-1 here, so an unsafe range (-1) always goes below zero too.
  if (firstRange === VARINT_UNSAFE || firstRange > largest) return belowZero(type)
  // Each ACK Range takes at least two bytes (a Gap and a Length), so a count
  // larger than half of what remains cannot be honest: reject it before the
  // loop, which bounds both the loop and the array by the payload size.
  if (rangeCount === VARINT_UNSAFE || rangeCount * 2 > reader.remaining) {
    return transportError(TransportErrorCode.FRAME_ENCODING_ERROR, "ACK Range Count exceeds the frame", type)
  }
  let smallest = largest - firstRange
  const ranges = [largest, smallest]
  for (let i = 0; i < rangeCount; i++) {
    const gap = reader.varint()
    const length = reader.varint()
    if (reader.failed) return transportError(TransportErrorCode.FRAME_ENCODING_ERROR, "truncated ACK frame", type)
    if (gap === VARINT_UNSAFE || length === VARINT_UNSAFE) return belowZero(type)
    // RFC 9000 §19.3.1: largest = previous_smallest - gap - 2; smallest = largest - ack_range.
    const high = smallest - gap - 2
    smallest = high - length
    if (high < 0 || smallest < 0) return belowZero(type)
    ranges.push(high, smallest)
  }
  if (type === FrameType.ACK) return { _tag: "Ack", ranges, delay }
  const ect0 = reader.varint()
  const ect1 = reader.varint()
  const ce = reader.varint()
  if (reader.failed) return transportError(TransportErrorCode.FRAME_ENCODING_ERROR, "truncated ACK frame", type)
  // An ECN count above 2^53-1 counts more packets than were ever sent.
  if (ect0 === VARINT_UNSAFE || ect1 === VARINT_UNSAFE || ce === VARINT_UNSAFE) {
    return transportError(TransportErrorCode.PROTOCOL_VIOLATION, "ECN count beyond packets sent", type)
  }
  return { _tag: "Ack", ranges, delay, ecn: { ect0, ect1, ce } }
}

const belowZero = (type: number): TransportError =>
  transportError(TransportErrorCode.FRAME_ENCODING_ERROR, "ACK range below packet number 0", type)

/** The encoded size of an ACK frame, Frame Type included. */
export const ackLength = (frame: Ack): number => {
  const ranges = checkRanges(frame.ranges)
  const largest = ranges[0]!
  let length = 1 + varintLength(largest) + varintLength(frame.delay) + varintLength(ranges.length / 2 - 1) +
    varintLength(largest - ranges[1]!)
  for (let i = 2; i < ranges.length; i += 2) {
    length += varintLength(ranges[i - 1]! - ranges[i]! - 2) + varintLength(ranges[i]! - ranges[i + 1]!)
  }
  if (frame.ecn !== undefined) length += ecnLength(frame.ecn)
  return length
}

const ecnLength = (ecn: EcnCounts): number => varintLength(ecn.ect0) + varintLength(ecn.ect1) + varintLength(ecn.ce)

/**
 * Writes an ACK frame. Ranges that overlap, touch or are out of order give a
 * negative Gap or Length, which the writer rejects with `EncodeOverflow`.
 */
export const encodeAck = (writer: BufferWriter, frame: Ack): void => {
  const ranges = checkRanges(frame.ranges)
  const largest = ranges[0]!
  writer.u8(frame.ecn === undefined ? FrameType.ACK : FrameType.ACK_ECN)
  writer.varint(largest)
  writer.varint(frame.delay)
  writer.varint(ranges.length / 2 - 1)
  writer.varint(largest - ranges[1]!)
  for (let i = 2; i < ranges.length; i += 2) {
    // RFC 9000 §19.3.1: gap = previous_smallest - largest - 2; ack_range = largest - smallest.
    writer.varint(ranges[i - 1]! - ranges[i]! - 2)
    writer.varint(ranges[i]! - ranges[i + 1]!)
  }
  if (frame.ecn !== undefined) {
    writer.varint(frame.ecn.ect0)
    writer.varint(frame.ecn.ect1)
    writer.varint(frame.ecn.ce)
  }
}

/** An ACK frame always acknowledges at least one range (§19.3: Largest Acknowledged, First ACK Range). */
const checkRanges = (ranges: ReadonlyArray<number>): ReadonlyArray<number> => {
  if (ranges.length < 2 || ranges.length % 2 !== 0) {
    throw new EncodeOverflow(`ACK ranges must be non-empty [largest, smallest] pairs, got ${ranges.length} numbers`)
  }
  return ranges
}
