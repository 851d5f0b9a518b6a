import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { BufferReader } from "../../src/internal/codec/reader.js"
import { BufferWriter, EncodeOverflow } from "../../src/internal/codec/writer.js"
import { isTransportError, type TransportError, TransportErrorCode } from "../../src/internal/errors.js"
import {
  decodeTransportParameters,
  defaultTransportParameters,
  encodeTransportParameters,
  isReservedTransportParameterId,
  type PreferredAddress,
  type Role,
  type TransportParameters,
  transportParametersLength,
  validateConnectionIdParameters,
  type VersionInformation,
  writeTransportParameters
} from "../../src/internal/tls/transportParameters.js"
import { fixture, fromHex, toHex } from "../helpers.js"

/** Hex with spaces between fields. */
const hex = (text: string): Uint8Array => fromHex(text.replace(/\s+/g, ""))

const decodeOk = (bytes: Uint8Array, sender: Role): TransportParameters => {
  const result = decodeTransportParameters(bytes, sender)
  if (isTransportError(result)) throw new Error(`unexpected TransportError: ${result.reason}`)
  return result
}

const expectParameterError = (result: TransportParameters | TransportError | undefined, reasonPart: string): void => {
  expect(isTransportError(result), `expected a TransportError, got ${JSON.stringify(result)}`).toBe(true)
  const error = result as TransportError
  expect(error.code, error.reason).toBe(TransportErrorCode.TRANSPORT_PARAMETER_ERROR)
  expect(error.code).toBe(0x08)
  expect(error.reason).toContain(reasonPart)
}

const SERVER_ONLY = [
  "originalDestinationConnectionId",
  "statelessResetToken",
  "preferredAddress",
  "retrySourceConnectionId"
] as const

const withoutServerOnly = (params: TransportParameters): TransportParameters => {
  const copy: Record<string, unknown> = { ...params }
  for (const key of SERVER_ONLY) delete copy[key]
  return copy as unknown as TransportParameters
}

// ---------------------------------------------------------------------------
// Arbitraries

const connectionId = fc.uint8Array({ minLength: 0, maxLength: 20 })
const token = fc.uint8Array({ minLength: 16, maxLength: 16 })
/** Small values and values near 2^53-1, so every varint length is exercised. */
const limitValue = fc.oneof(fc.nat({ max: 100_000 }), fc.maxSafeNat())
const version = fc.integer({ min: 1, max: 0xffffffff })

const preferredAddress: fc.Arbitrary<PreferredAddress> = fc.record({
  ipv4Address: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  ipv4Port: fc.integer({ min: 0, max: 0xffff }),
  ipv6Address: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  ipv6Port: fc.integer({ min: 0, max: 0xffff }),
  connectionId: fc.uint8Array({ minLength: 1, maxLength: 20 }),
  statelessResetToken: token
})

/** RFC 9368 §4: a client's Available Versions include its Chosen Version; a server's may be anything, even empty. */
const versionInformation = (role: Role): fc.Arbitrary<VersionInformation> =>
  role === "server"
    ? fc.record({ chosenVersion: version, availableVersions: fc.array(version, { maxLength: 5 }) })
    : fc.tuple(fc.array(version, { minLength: 1, maxLength: 5 }), fc.nat()).map(([availableVersions, pick]) => ({
      chosenVersion: availableVersions[pick % availableVersions.length]!,
      availableVersions
    }))

const transportParameters = (role: Role): fc.Arbitrary<TransportParameters> =>
  fc.record(
    {
      originalDestinationConnectionId: connectionId,
      maxIdleTimeout: limitValue,
      statelessResetToken: token,
      maxUdpPayloadSize: fc.oneof(fc.integer({ min: 1200, max: 65527 }), fc.integer({ min: 1200 })),
      initialMaxData: limitValue,
      initialMaxStreamDataBidiLocal: limitValue,
      initialMaxStreamDataBidiRemote: limitValue,
      initialMaxStreamDataUni: limitValue,
      initialMaxStreamsBidi: limitValue,
      initialMaxStreamsUni: limitValue,
      ackDelayExponent: fc.integer({ min: 0, max: 20 }),
      maxAckDelay: fc.integer({ min: 0, max: 2 ** 14 - 1 }),
      disableActiveMigration: fc.boolean(),
      preferredAddress,
      activeConnectionIdLimit: fc.oneof(fc.integer({ min: 2, max: 10 }), fc.integer({ min: 2 })),
      initialSourceConnectionId: connectionId,
      retrySourceConnectionId: connectionId,
      versionInformation: versionInformation(role),
      maxDatagramFrameSize: limitValue,
      greaseQuicBit: fc.boolean()
    },
    {
      requiredKeys: [
        "maxIdleTimeout",
        "maxUdpPayloadSize",
        "initialMaxData",
        "initialMaxStreamDataBidiLocal",
        "initialMaxStreamDataBidiRemote",
        "initialMaxStreamDataUni",
        "initialMaxStreamsBidi",
        "initialMaxStreamsUni",
        "ackDelayExponent",
        "maxAckDelay",
        "disableActiveMigration",
        "activeConnectionIdLimit",
        "greaseQuicBit"
      ]
    }
  )

// ---------------------------------------------------------------------------

describe("transport parameters round trip", () => {
  it("server: decode(encode(p)) equals p, and the length functions agree", () => {
    fc.assert(
      fc.property(transportParameters("server"), (params) => {
        const bytes = encodeTransportParameters(params, "server")
        expect(transportParametersLength(params, "server")).toBe(bytes.length)
        const written = new Uint8Array(bytes.length + 3)
        const writer = new BufferWriter(written, 3)
        writeTransportParameters(writer, params, "server")
        expect(writer.offset).toBe(written.length)
        expect(written.subarray(3)).toStrictEqual(bytes)
        expect(decodeOk(bytes, "server")).toStrictEqual(params)
      }),
      { numRuns: 500 }
    )
  })

  it("client: decode(encode(p)) equals p without the server-only parameters", () => {
    fc.assert(
      fc.property(transportParameters("client"), (params) => {
        const bytes = encodeTransportParameters(params, "client")
        expect(decodeOk(bytes, "client")).toStrictEqual(withoutServerOnly(params))
        expect(decodeOk(encodeTransportParameters(withoutServerOnly(params), "client"), "client")).toStrictEqual(
          withoutServerOnly(params)
        )
      }),
      { numRuns: 500 }
    )
  })

  it("the defaults encode to nothing, and nothing decodes to the defaults", () => {
    expect(encodeTransportParameters(defaultTransportParameters, "server")).toStrictEqual(new Uint8Array(0))
    expect(decodeOk(new Uint8Array(0), "client")).toStrictEqual(defaultTransportParameters)
    expect(defaultTransportParameters).toStrictEqual({
      maxIdleTimeout: 0,
      maxUdpPayloadSize: 65527,
      initialMaxData: 0,
      initialMaxStreamDataBidiLocal: 0,
      initialMaxStreamDataBidiRemote: 0,
      initialMaxStreamDataUni: 0,
      initialMaxStreamsBidi: 0,
      initialMaxStreamsUni: 0,
      ackDelayExponent: 3,
      maxAckDelay: 25,
      disableActiveMigration: false,
      activeConnectionIdLimit: 2,
      greaseQuicBit: false
    })
  })

  it("byte fields are copies, not views of the decoded buffer", () => {
    const bytes = hex("0f 02 abcd")
    const params = decodeOk(bytes, "client")
    bytes.fill(0)
    expect(params.initialSourceConnectionId).toStrictEqual(hex("abcd"))
  })
})

/** The value of extension 0x0039 in a ClientHello carried by a CRYPTO frame (RFC 8446 §4.1.2). */
const clientHelloTransportParameters = (cryptoFrame: Uint8Array): Uint8Array => {
  const r = new BufferReader(cryptoFrame)
  expect(r.u8()).toBe(0x06) // CRYPTO
  expect(r.varint()).toBe(0) // offset
  const length = r.varint()
  const hello = new BufferReader(r.bytesView(length))
  expect(hello.u8()).toBe(1) // client_hello
  hello.u24()
  hello.u16() // legacy_version
  hello.skip(32) // random
  hello.skip(hello.u8()) // legacy_session_id
  hello.skip(hello.u16()) // cipher_suites
  hello.skip(hello.u8()) // legacy_compression_methods
  const extensions = new BufferReader(hello.bytesView(hello.u16()))
  while (extensions.remaining > 0 && !extensions.failed) {
    const type = extensions.u16()
    const body = extensions.bytesView(extensions.u16())
    if (type === 0x39) return body
  }
  throw new Error("no quic_transport_parameters extension")
}

describe("transport parameter vectors", () => {
  it("RFC 9001 A.2: the client's transport parameters in the ClientHello", () => {
    const vectors = fixture<{ client_initial: { crypto_frame: string } }>("vectors/rfc9001.json")
    const body = clientHelloTransportParameters(fromHex(vectors.client_initial.crypto_frame))
    expect(toHex(body)).toBe(
      "0408ffffffffffffffff05048000ffff07048000ffff0801100104800075300901100f088394c8f03e51570806048000ffff"
    )
    expect(decodeOk(body, "client")).toStrictEqual({
      ...defaultTransportParameters,
      // 0xffffffffffffffff as an 8-byte varint is 2^62-1: held as 2^53-1.
      initialMaxData: Number.MAX_SAFE_INTEGER,
      initialMaxStreamDataBidiLocal: 65535,
      initialMaxStreamDataUni: 65535,
      initialMaxStreamsBidi: 16,
      maxIdleTimeout: 30000,
      initialMaxStreamsUni: 16,
      initialSourceConnectionId: hex("8394c8f03e515708"),
      initialMaxStreamDataBidiRemote: 65535
    })
  })

  it("a server's parameters, written by hand from RFC 9000 §18.2", () => {
    const params: TransportParameters = {
      ...defaultTransportParameters,
      originalDestinationConnectionId: hex("8394c8f03e515708"),
      maxIdleTimeout: 30000,
      statelessResetToken: new Uint8Array(16).fill(0xaa),
      maxUdpPayloadSize: 1472,
      initialMaxData: 1 << 20,
      ackDelayExponent: 2,
      disableActiveMigration: true,
      preferredAddress: {
        ipv4Address: hex("c0000201"),
        ipv4Port: 443,
        ipv6Address: hex("20010db8000000000000000000000001"),
        ipv6Port: 8443,
        connectionId: hex("0102"),
        statelessResetToken: new Uint8Array(16).fill(0xbb)
      },
      activeConnectionIdLimit: 4,
      initialSourceConnectionId: hex("f067a5502a4262b5"),
      retrySourceConnectionId: new Uint8Array(0),
      versionInformation: { chosenVersion: 0x6b3343cf, availableVersions: [0x6b3343cf, 0x00000001] },
      maxDatagramFrameSize: 65535,
      greaseQuicBit: true
    }
    const expected = hex(`
      00 08 8394c8f03e515708
      01 04 80007530
      02 10 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
      03 02 45c0
      04 04 80100000
      0a 01 02
      0c 00
      0d 2b c0000201 01bb 20010db8000000000000000000000001 20fb 02 0102 bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
      0e 01 04
      0f 08 f067a5502a4262b5
      10 00
      11 0c 6b3343cf 6b3343cf 00000001
      20 04 8000ffff
      6ab2 00
    `)
    expect(toHex(encodeTransportParameters(params, "server"))).toBe(toHex(expected))
    expect(decodeOk(expected, "server")).toStrictEqual(params)
    // The same parameters from a client leave out the four server-only ones.
    expect(toHex(encodeTransportParameters(params, "client"))).toBe(
      toHex(hex(`
        01 04 80007530 03 02 45c0 04 04 80100000 0a 01 02 0c 00 0e 01 04 0f 08 f067a5502a4262b5
        11 0c 6b3343cf 6b3343cf 00000001 20 04 8000ffff 6ab2 00
      `))
    )
  })

  it("varints need not be minimal, and ids and lengths may use long encodings", () => {
    // initial_max_data = 5 in an 8-byte varint; max_ack_delay id as 0x400b, length as 0x4002.
    const params = decodeOk(hex("04 08 c000000000000005  400b 4002 4010"), "client")
    expect(params.initialMaxData).toBe(5)
    expect(params.maxAckDelay).toBe(16)
  })

  it("limits above 2^53-1 are held as Number.MAX_SAFE_INTEGER", () => {
    const params = decodeOk(
      hex(`
        01 08 ffffffffffffffff
        03 08 c020000000000000
        05 08 c020000000000001
        08 08 d000000000000000
      `),
      "client"
    )
    expect(params.maxIdleTimeout).toBe(Number.MAX_SAFE_INTEGER)
    expect(params.maxUdpPayloadSize).toBe(Number.MAX_SAFE_INTEGER) // 2^53
    expect(params.initialMaxStreamDataBidiLocal).toBe(Number.MAX_SAFE_INTEGER)
    expect(params.initialMaxStreamsBidi).toBe(Number.MAX_SAFE_INTEGER) // exactly 2^60: allowed
    // 2^53-1 itself is exact.
    expect(decodeOk(hex("04 08 c01fffffffffffff"), "client").initialMaxData).toBe(2 ** 53 - 1)
  })
})

describe("unknown parameters", () => {
  it("reserved ids 31*N+27 (RFC 9000 §18.1) are recognised by isReservedTransportParameterId", () => {
    expect(isReservedTransportParameterId(27n)).toBe(true)
    expect(isReservedTransportParameterId(58n)).toBe(true)
    expect(isReservedTransportParameterId(28n)).toBe(false)
    expect(isReservedTransportParameterId(0n)).toBe(false)
  })

  it("unknown and GREASE ids of any size, with any value, are skipped", () => {
    // 27 (1-byte id), 0x2ab3 (unknown, next to grease_quic_bit), 0xff73db (the draft
    // version_information id), and 2^62-1 - ((2^62-1-27) mod 31): the largest reserved id.
    const largest = (1n << 62n) - 1n - (((1n << 62n) - 1n - 27n) % 31n)
    expect(isReservedTransportParameterId(largest)).toBe(true)
    const largestHex = largest.toString(16).padStart(16, "0")
    const idBytes = (BigInt(`0x${largestHex}`) | (3n << 62n)).toString(16)
    const params = decodeOk(
      hex(`1b 03 010203  04 01 0a  6ab3 00  80ff73db 02 ffff  ${idBytes} 05 0000000000  09 01 07`),
      "client"
    )
    expect(params).toStrictEqual({ ...defaultTransportParameters, initialMaxData: 10, initialMaxStreamsUni: 7 })
  })

  it("random GREASE parameters around valid ones are skipped", () => {
    const grease = fc.tuple(fc.bigInt({ min: 0n, max: ((1n << 62n) - 1n - 27n) / 31n }), fc.uint8Array({ maxLength: 20 }))
      .map(([n, value]) => {
        const id = 31n * n + 27n
        const bytes = new Uint8Array(8 + 8 + value.length)
        const writer = new BufferWriter(bytes)
        writer.varintBig(id)
        writer.varint(value.length)
        writer.bytesFrom(value)
        return bytes.subarray(0, writer.offset)
      })
    fc.assert(
      fc.property(transportParameters("server"), fc.array(grease, { maxLength: 4 }), (params, extras) => {
        const encoded = encodeTransportParameters(params, "server")
        // Distinct GREASE ids only: a duplicate is an error, even for an unknown id.
        const ids = extras.map((bytes) => new BufferReader(bytes).varintBig())
        fc.pre(new Set(ids).size === ids.length)
        const body = concat(...extras, encoded)
        expect(decodeOk(body, "server")).toStrictEqual(params)
      }),
      { numRuns: 200 }
    )
  })
})

const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

describe("transport parameter errors (TRANSPORT_PARAMETER_ERROR)", () => {
  const cases: Array<[string, string, Role, string]> = [
    // RFC 9000 §7.4
    ["duplicate known parameter", "04 01 01 04 01 02", "client", "duplicate initial_max_data"],
    ["duplicate flag", "0c 00 0c 00", "server", "duplicate disable_active_migration"],
    ["duplicate unknown id", "1b 00 1b 01 00", "client", "duplicate transport parameter 0x1b"],
    ["duplicate with a different id encoding", "04 01 01 4004 01 02", "client", "duplicate initial_max_data"],
    // Lengths
    ["varint longer than its length", "01 02 8000", "client", "max_idle_timeout: varint does not fill"],
    ["length beyond the body", "01 03 4001", "client", "max_idle_timeout: length 3 but 2 bytes left"],
    ["varint with trailing bytes", "01 03 4001 00", "client", "max_idle_timeout: varint does not fill"],
    ["varint cut by its length", "01 01 4001", "client", "max_idle_timeout: varint does not fill"],
    ["empty varint", "04 00", "client", "initial_max_data: varint does not fill"],
    ["truncated id", "40", "client", "truncated transport parameter id"],
    ["truncated 8-byte id", "c0000000", "client", "truncated transport parameter id"],
    ["missing length", "04", "client", "initial_max_data: truncated length"],
    ["truncated length", "04 40", "client", "initial_max_data: truncated length"],
    ["truncated value", "04 04 800000", "client", "initial_max_data: length 4 but 3 bytes left"],
    ["huge length", "1b ffffffffffffffff", "client", "length above 2^53"],
    ["truncated unknown parameter", "1b 05 00", "client", "transport parameter 0x1b: length 5"],
    // Ranges
    ["max_udp_payload_size 1199", "03 02 44af", "client", "max_udp_payload_size: 1199 is below 1200"],
    ["max_udp_payload_size 0", "03 01 00", "server", "max_udp_payload_size"],
    ["ack_delay_exponent 21", "0a 01 15", "client", "ack_delay_exponent: 21 is above 20"],
    ["ack_delay_exponent huge", "0a 08 ffffffffffffffff", "client", "ack_delay_exponent"],
    ["max_ack_delay 2^14", "0b 04 80004000", "client", "max_ack_delay: 16384 is 2^14 or more"],
    ["active_connection_id_limit 1", "0e 01 01", "client", "active_connection_id_limit: 1 is below 2"],
    ["active_connection_id_limit 0", "0e 01 00", "server", "active_connection_id_limit"],
    ["initial_max_streams_bidi 2^60+1", "08 08 d000000000000001", "client", "initial_max_streams_bidi"],
    ["initial_max_streams_uni 2^62-1", "09 08 ffffffffffffffff", "server", "initial_max_streams_uni"],
    // Byte fields
    ["stateless_reset_token of 15 bytes", `02 0f ${"00".repeat(15)}`, "server", "stateless_reset_token: not 16"],
    ["stateless_reset_token of 17 bytes", `02 11 ${"00".repeat(17)}`, "server", "stateless_reset_token"],
    ["initial_source_connection_id of 21 bytes", `0f 15 ${"00".repeat(21)}`, "client", "initial_source_connection_id"],
    ["original_destination_connection_id of 21 bytes", `00 15 ${"00".repeat(21)}`, "server", "original_destination"],
    ["retry_source_connection_id of 21 bytes", `10 15 ${"00".repeat(21)}`, "server", "retry_source_connection_id"],
    ["disable_active_migration with a value", "0c 01 00", "client", "disable_active_migration: value not empty"],
    ["grease_quic_bit with a value", "6ab2 01 01", "server", "grease_quic_bit: value not empty"],
    // preferred_address
    [
      "preferred_address with a zero-length connection ID",
      `0d 29 ${"00".repeat(24)} 00 ${"00".repeat(16)}`,
      "server",
      "preferred_address: zero-length connection ID"
    ],
    [
      "preferred_address with a 21-byte connection ID",
      `0d 3e ${"00".repeat(24)} 15 ${"00".repeat(21 + 16)}`,
      "server",
      "preferred_address: connection ID longer than 20"
    ],
    ["preferred_address cut in the addresses", `0d 10 ${"00".repeat(16)}`, "server", "preferred_address: truncated"],
    [
      "preferred_address without its whole reset token",
      `0d 29 ${"00".repeat(24)} 01 ff ${"00".repeat(15)}`,
      "server",
      "preferred_address: truncated"
    ],
    [
      "preferred_address with a trailing byte",
      `0d 2b ${"00".repeat(24)} 01 ff ${"00".repeat(16)} 00`,
      "server",
      "preferred_address: 1 bytes after"
    ],
    // Server-only parameters from a client (RFC 9000 §18.2)
    ["client sends original_destination_connection_id", "00 01 aa", "client", "original_destination_connection_id sent by a client"],
    ["client sends stateless_reset_token", `02 10 ${"00".repeat(16)}`, "client", "stateless_reset_token sent by a client"],
    [
      "client sends preferred_address",
      `0d 2a ${"00".repeat(24)} 01 ff ${"00".repeat(16)}`,
      "client",
      "preferred_address sent by a client"
    ],
    ["client sends retry_source_connection_id", "10 00", "client", "retry_source_connection_id sent by a client"],
    // version_information (RFC 9368 §4)
    ["version_information empty", "11 00", "server", "version_information: length 0"],
    ["version_information of 3 bytes", "11 03 000001", "server", "version_information: length 3"],
    ["version_information of 6 bytes", "11 06 00000001 0000", "server", "version_information: length 6"],
    ["version_information chosen 0", "11 04 00000000", "server", "version_information: chosen version 0"],
    ["version_information available 0", "11 08 00000001 00000000", "server", "available version 0"],
    ["client chosen version not available", "11 08 00000001 6b3343cf", "client", "not among"],
    ["client with no available versions", "11 04 00000001", "client", "not among"]
  ]
  for (const [name, bytes, sender, reason] of cases) {
    it(`${name} (from ${sender})`, () => {
      expectParameterError(decodeTransportParameters(hex(bytes), sender), reason)
    })
  }

  it("the same server-only parameters are accepted from a server", () => {
    const params = decodeOk(hex(`00 01 aa  02 10 ${"00".repeat(16)}  10 00`), "server")
    expect(params.originalDestinationConnectionId).toStrictEqual(hex("aa"))
    expect(params.retrySourceConnectionId).toStrictEqual(new Uint8Array(0))
  })

  it("boundary values are accepted", () => {
    const params = decodeOk(hex("03 02 44b0  0a 01 14  0b 02 7fff  0e 01 02  11 04 00000001"), "server")
    expect(params).toMatchObject({
      maxUdpPayloadSize: 1200,
      ackDelayExponent: 20,
      maxAckDelay: 16383,
      activeConnectionIdLimit: 2,
      versionInformation: { chosenVersion: 1, availableVersions: [] }
    })
  })
})

describe("encoding invalid parameters is a programming error", () => {
  const bad: Array<[string, Partial<TransportParameters>]> = [
    ["21-byte connection ID", { initialSourceConnectionId: new Uint8Array(21) }],
    ["15-byte reset token", { statelessResetToken: new Uint8Array(15) }],
    ["max_udp_payload_size 1199", { maxUdpPayloadSize: 1199 }],
    ["ack_delay_exponent 21", { ackDelayExponent: 21 }],
    ["max_ack_delay 2^14", { maxAckDelay: 16384 }],
    ["active_connection_id_limit 1", { activeConnectionIdLimit: 1 }],
    ["a non-integer limit", { initialMaxData: 1.5 }],
    ["a limit above 2^53-1", { initialMaxData: 2 ** 53 }],
    ["chosen version 0", { versionInformation: { chosenVersion: 0, availableVersions: [] } }],
    ["a version above 32 bits", { versionInformation: { chosenVersion: 1, availableVersions: [2 ** 32] } }]
  ]
  for (const [name, patch] of bad) {
    it(name, () => {
      expect(() => encodeTransportParameters({ ...defaultTransportParameters, ...patch }, "server")).toThrow(
        EncodeOverflow
      )
    })
  }
})

describe("validateConnectionIdParameters (RFC 9000 §7.3)", () => {
  const clientScid = hex("c1c1")
  const serverScid = hex("5555")
  const odcid = hex("8394c8f03e515708")
  const retryScid = hex("7777")
  const server = (patch: Partial<TransportParameters>): TransportParameters => ({
    ...defaultTransportParameters,
    initialSourceConnectionId: serverScid,
    originalDestinationConnectionId: odcid,
    ...patch
  })

  it("accepts matching values", () => {
    expect(
      validateConnectionIdParameters(
        { ...defaultTransportParameters, initialSourceConnectionId: clientScid },
        { sender: "client", initialSourceConnectionId: clientScid }
      )
    ).toBeUndefined()
    expect(
      validateConnectionIdParameters(server({}), {
        sender: "server",
        initialSourceConnectionId: serverScid,
        originalDestinationConnectionId: odcid
      })
    ).toBeUndefined()
    expect(
      validateConnectionIdParameters(server({ retrySourceConnectionId: retryScid }), {
        sender: "server",
        initialSourceConnectionId: serverScid,
        originalDestinationConnectionId: odcid,
        retrySourceConnectionId: retryScid
      })
    ).toBeUndefined()
    // Zero-length connection IDs are connection IDs too.
    expect(
      validateConnectionIdParameters(
        { ...defaultTransportParameters, initialSourceConnectionId: new Uint8Array(0) },
        { sender: "client", initialSourceConnectionId: new Uint8Array(0) }
      )
    ).toBeUndefined()
  })

  it("rejects absent and mismatched values", () => {
    const context = { sender: "server", initialSourceConnectionId: serverScid, originalDestinationConnectionId: odcid } as const
    expectParameterError(
      validateConnectionIdParameters(defaultTransportParameters, { sender: "client", initialSourceConnectionId: clientScid }),
      "initial_source_connection_id missing"
    )
    expectParameterError(
      validateConnectionIdParameters(
        { ...defaultTransportParameters, initialSourceConnectionId: hex("c1c2") },
        { sender: "client", initialSourceConnectionId: clientScid }
      ),
      "initial_source_connection_id does not match"
    )
    const { originalDestinationConnectionId: _, ...noOdcid } = server({})
    expectParameterError(validateConnectionIdParameters(noOdcid, context), "original_destination_connection_id missing")
    expectParameterError(
      validateConnectionIdParameters(server({ originalDestinationConnectionId: hex("00") }), context),
      "original_destination_connection_id does not match"
    )
    expectParameterError(
      validateConnectionIdParameters(server({ retrySourceConnectionId: retryScid }), context),
      "retry_source_connection_id without a Retry packet"
    )
    expectParameterError(
      validateConnectionIdParameters(server({}), { ...context, retrySourceConnectionId: retryScid }),
      "retry_source_connection_id missing"
    )
    expectParameterError(
      validateConnectionIdParameters(server({ retrySourceConnectionId: hex("7778") }), {
        ...context,
        retrySourceConnectionId: retryScid
      }),
      "retry_source_connection_id does not match"
    )
  })
})

describe("decoding arbitrary bytes", () => {
  const knownIds = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x20]
  /** Random entries with a known id, a plausible length and random value bytes, so every decoder is reached. */
  const entry = fc.tuple(fc.constantFrom(...knownIds), fc.uint8Array({ maxLength: 60 }), fc.integer({ min: -2, max: 2 }))
    .map(([id, value, skew]) => concat(new Uint8Array([id, Math.max(0, Math.min(63, value.length + skew))]), value))
  const bodies = fc.oneof(
    fc.uint8Array({ maxLength: 128 }),
    fc.array(entry, { maxLength: 6 }).map((entries) => concat(...entries)),
    transportParameters("server").chain((params) => {
      const bytes = encodeTransportParameters(params, "server")
      // Flip or truncate valid encodings.
      return fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean()).map(([at, xor, truncate]) => {
        if (bytes.length === 0) return bytes
        const i = at % bytes.length
        if (truncate) return bytes.subarray(0, i)
        const copy = bytes.slice()
        copy[i] = copy[i]! ^ xor
        return copy
      })
    })
  )

  it("returns parameters or a TRANSPORT_PARAMETER_ERROR and never throws", () => {
    fc.assert(
      fc.property(bodies, fc.constantFrom<Role>("client", "server"), (bytes, sender) => {
        const result = decodeTransportParameters(bytes, sender)
        if (isTransportError(result)) {
          expect(result.code).toBe(TransportErrorCode.TRANSPORT_PARAMETER_ERROR)
          expect(result.reason.length).toBeGreaterThan(0)
        } else {
          // Whatever decodes re-encodes and decodes to the same parameters.
          expect(decodeOk(encodeTransportParameters(result, sender), sender)).toStrictEqual(result)
        }
      }),
      { numRuns: 3000 }
    )
  })
})
