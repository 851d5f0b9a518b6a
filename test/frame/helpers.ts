import { expect } from "vitest"
import { fromHex } from "../../src/internal/codec/hex.js"
import { BufferReader } from "../../src/internal/codec/reader.js"
import { BufferWriter } from "../../src/internal/codec/writer.js"
import { isTransportError, type TransportError } from "../../src/internal/errors.js"
import { decodeFrame } from "../../src/internal/frame/decode.js"
import { encodeFrame, frameLength } from "../../src/internal/frame/encode.js"
import type { Frame } from "../../src/internal/frame/types.js"

/** Hex with spaces between fields, as the vectors are written. */
export const hex = (text: string): Uint8Array => fromHex(text.replace(/\s+/g, ""))

export const ascii = (text: string): Uint8Array => new TextEncoder().encode(text)

/** Encodes into a buffer of exactly `frameLength(frame)` bytes and checks every byte was written. */
export const encode = (frame: Frame): Uint8Array => {
  const bytes = new Uint8Array(frameLength(frame))
  const writer = new BufferWriter(bytes)
  encodeFrame(writer, frame)
  expect(writer.offset).toBe(bytes.length)
  return bytes
}

/** Decodes one frame that must fill `bytes` exactly. */
export const decodeAll = (bytes: Uint8Array): Frame | TransportError => {
  const reader = new BufferReader(bytes)
  const frame = decodeFrame(reader)
  if (!isTransportError(frame)) expect(reader.offset).toBe(bytes.length)
  return frame
}

export const expectError = (result: unknown, code: number, frameType?: number): void => {
  expect(isTransportError(result), `expected a TransportError, got ${String((result as Frame)._tag)}`).toBe(true)
  const error = result as TransportError
  expect(error.code, error.reason).toBe(code)
  if (frameType !== undefined) expect(error.frameType).toBe(frameType)
}
