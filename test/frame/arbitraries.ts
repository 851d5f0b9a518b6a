/**
 * FastCheck arbitraries for every frame, over the full range each field may
 * take: numbers over 0..2^53-1 and bigints over 0..2^62-1 (2^60 for stream
 * counts), with every varint length (1, 2, 4, 8 bytes) equally likely so the
 * length boundaries are exercised, not just small values.
 */
import { FastCheck as fc } from "effect"
import type { Ack, Frame } from "../../src/internal/frame/types.js"

const MAX_SAFE = 2 ** 53 - 1

/** 0..max (max ≤ 2^53-1), picking each varint size class with equal weight. */
export const varintNumber = (max = MAX_SAFE): fc.Arbitrary<number> =>
  fc.oneof(
    ...[[0, 63], [64, 16383], [16384, 2 ** 30 - 1], [2 ** 30, MAX_SAFE]]
      .filter(([min]) => min! <= max)
      .map(([min, top]) => fc.bigInt({ min: BigInt(min!), max: BigInt(Math.min(top!, max)) }).map(Number))
  )

/** 0..max (max ≤ 2^62-1), picking each varint size class with equal weight. */
export const varintBigint = (max = (1n << 62n) - 1n): fc.Arbitrary<bigint> =>
  fc.oneof(
    fc.bigInt({ min: 0n, max: 63n }),
    fc.bigInt({ min: 64n, max: 16383n }),
    fc.bigInt({ min: 16384n, max: (1n << 30n) - 1n }),
    fc.bigInt({ min: 1n << 30n, max })
  )

const bytes = (minLength: number, maxLength: number) => fc.uint8Array({ minLength, maxLength })

/** Payload-sized data, sometimes large enough to need a 2-byte Length. */
const data = fc.oneof(bytes(0, 16), bytes(64, 300))

/** Stream offsets such that offset + length stays within 2^53-1 (§19.8 with number offsets). */
const streamData = fc.tuple(varintNumber(), data).map(([offset, bytes]) => ({
  offset: Math.min(offset, MAX_SAFE - bytes.length),
  data: bytes
}))

/**
 * Valid ACK ranges: a Largest Acknowledged, a First ACK Range no larger than
 * it, then (gap, length) steps that stop before going below packet 0.
 */
export const ackRanges: fc.Arbitrary<Array<number>> = fc
  .tuple(varintNumber(), varintNumber(), fc.array(fc.tuple(varintNumber(), varintNumber()), { maxLength: 20 }))
  .map(([largest, firstRange, steps]) => {
    let smallest = largest - (firstRange % (largest + 1))
    const ranges = [largest, smallest]
    for (const [gap, length] of steps) {
      const high = smallest - 2 - gap % Math.max(1, smallest - 1)
      if (high < 0) break
      smallest = high - (length % (high + 1))
      ranges.push(high, smallest)
    }
    return ranges
  })

const ecn = fc.record({ ect0: varintNumber(), ect1: varintNumber(), ce: varintNumber() })

const ack: fc.Arbitrary<Ack> = fc.tuple(ackRanges, varintNumber(), fc.option(ecn, { nil: undefined })).map((
  [ranges, delay, counts]
) => (counts === undefined ? { _tag: "Ack", ranges, delay } : { _tag: "Ack", ranges, delay, ecn: counts }))

/** One arbitrary per frame kind, keyed by `_tag` (ConnectionClose and the two-type frames split by variant). */
export const frameArbitraries: Record<string, fc.Arbitrary<Frame>> = {
  Padding: fc.integer({ min: 1, max: 1500 }).map((length) => ({ _tag: "Padding", length })),
  Ping: fc.constant({ _tag: "Ping" }),
  Ack: ack,
  ResetStream: fc.record({
    _tag: fc.constant("ResetStream"),
    id: varintNumber(),
    errorCode: varintBigint(),
    finalSize: varintNumber()
  }),
  StopSending: fc.record({ _tag: fc.constant("StopSending"), id: varintNumber(), errorCode: varintBigint() }),
  Crypto: streamData.map(({ data, offset }) => ({ _tag: "Crypto", offset, data })),
  NewToken: fc.record({ _tag: fc.constant("NewToken"), token: bytes(1, 200) }),
  Stream: fc.tuple(varintNumber(), streamData, fc.boolean(), fc.boolean()).map((
    [id, { data, offset }, fin, withLength]
  ) => ({ _tag: "Stream", id, offset, data, fin, withLength })),
  MaxData: fc.record({ _tag: fc.constant("MaxData"), max: varintBigint() }),
  MaxStreamData: fc.record({ _tag: fc.constant("MaxStreamData"), id: varintNumber(), max: varintBigint() }),
  MaxStreams: fc.record({ _tag: fc.constant("MaxStreams"), bidi: fc.boolean(), max: varintBigint(1n << 60n) }),
  DataBlocked: fc.record({ _tag: fc.constant("DataBlocked"), limit: varintBigint() }),
  StreamDataBlocked: fc.record({
    _tag: fc.constant("StreamDataBlocked"),
    id: varintNumber(),
    limit: varintBigint()
  }),
  StreamsBlocked: fc.record({
    _tag: fc.constant("StreamsBlocked"),
    bidi: fc.boolean(),
    limit: varintBigint(1n << 60n)
  }),
  NewConnectionId: fc.tuple(varintNumber(), varintNumber(), bytes(1, 20), bytes(16, 16)).map((
    [sequence, retire, connectionId, resetToken]
  ) => ({
    _tag: "NewConnectionId",
    sequence,
    retirePriorTo: retire % (sequence + 1),
    connectionId,
    resetToken
  })),
  RetireConnectionId: fc.record({ _tag: fc.constant("RetireConnectionId"), sequence: varintNumber() }),
  PathChallenge: fc.record({ _tag: fc.constant("PathChallenge"), data: bytes(8, 8) }),
  PathResponse: fc.record({ _tag: fc.constant("PathResponse"), data: bytes(8, 8) }),
  TransportClose: fc.record({
    _tag: fc.constant("ConnectionClose"),
    application: fc.constant(false as const),
    errorCode: varintBigint(),
    frameType: varintBigint(),
    reason: data
  }),
  ApplicationClose: fc.record({
    _tag: fc.constant("ConnectionClose"),
    application: fc.constant(true as const),
    errorCode: varintBigint(),
    reason: data
  }),
  HandshakeDone: fc.constant({ _tag: "HandshakeDone" }),
  Datagram: fc.record({ _tag: fc.constant("Datagram"), data, withLength: fc.boolean() })
}

/** Any frame. */
export const anyFrame: fc.Arbitrary<Frame> = fc.oneof(...Object.values(frameArbitraries))

/** Whether a frame's end is marked by its own fields rather than by the end of the packet. */
export const isSelfDelimiting = (frame: Frame): boolean =>
  !(frame._tag === "Padding" || ((frame._tag === "Stream" || frame._tag === "Datagram") && !frame.withLength))
