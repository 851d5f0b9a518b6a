import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { DerReader, Tag, formatUnixMillis, isX509Error, oidToString, parseDer } from "../../src/internal/x509/der.js"
import { base64Decode, base64Encode, decodePem, encodePem } from "../../src/internal/x509/pem.js"
import { fromHex } from "../helpers.js"
import * as der from "../../src/internal/x509/derWriter.js"

const readAll = <A>(bytes: Uint8Array, f: (r: DerReader) => A) => parseDer(bytes, "test", f)

describe("DER lengths (X.690 §10.1)", () => {
  it("reads short and long definite lengths", () => {
    for (const length of [0, 1, 127, 128, 255, 256, 1000, 70000]) {
      const encoding = der.octetString(new Uint8Array(length).fill(7))
      const result = readAll(encoding, (r) => r.octetString("x"))
      expect(isX509Error(result)).toBe(false)
      expect((result as Uint8Array).length).toBe(length)
    }
  })

  it("refuses indefinite, non-minimal, oversized and truncated lengths", () => {
    const cases = [
      "0480", // indefinite
      "048105" + "0505050505", // long form for a value below 128
      "04820005" + "0505050505", // leading zero length octet
      "0485" + "0000000001" + "05", // five length octets
      "0405" + "05050505", // one byte short
      "04", // no length
      "1f0100" // high tag number
    ]
    for (const hex of cases) {
      const result = readAll(fromHex(hex), (r) => r.element("x"))
      expect(isX509Error(result), hex).toBe(true)
    }
  })

  it("refuses trailing data after the top-level element and inside structures", () => {
    expect(isX509Error(readAll(fromHex("0500" + "00"), (r) => r.null("x")))).toBe(true)
    const seqWithExtra = der.seq(der.integer(1), der.integer(2))
    const result = readAll(seqWithExtra, (r) => {
      const inner = r.enter("seq")
      inner.integer("a")
      inner.finish("seq")
    })
    expect(isX509Error(result)).toBe(true)
  })

  it("keeps the first failure and returns empty values afterwards", () => {
    const reader = new DerReader(fromHex("0201"))
    expect(reader.integer("first").length).toBe(0)
    expect(reader.oid("second")).toBe("")
    expect(reader.failed).toBe(true)
    expect(reader.error?.reason).toContain("first")
  })
})

describe("DER primitives", () => {
  it("INTEGER: minimal encodings only; unsigned strips the sign octet", () => {
    expect(readAll(fromHex("020200ff"), (r) => Array.from(r.unsignedInteger("i")))).toEqual([0xff])
    expect(isX509Error(readAll(fromHex("0202007f"), (r) => r.integer("i")))).toBe(true)
    expect(isX509Error(readAll(fromHex("0202ff80"), (r) => r.integer("i")))).toBe(true)
    expect(isX509Error(readAll(fromHex("0200"), (r) => r.integer("i")))).toBe(true)
    expect(isX509Error(readAll(fromHex("020180"), (r) => r.unsignedInteger("i")))).toBe(true)
    expect(readAll(der.integer(123456), (r) => r.smallInteger("i", 1e6))).toBe(123456)
    expect(isX509Error(readAll(der.integer(11), (r) => r.smallInteger("i", 10)))).toBe(true)
  })

  it("OBJECT IDENTIFIER to dotted form, big arcs included", () => {
    for (const dotted of ["1.2.840.113549.1.1.11", "2.5.29.37.0", "1.3.101.112", "0.9.2342.19200300.100.1.25", "2.999.3", "2.25.329800735698586629295641978511506172918"]) {
      expect(readAll(der.oid(dotted), (r) => r.oid("oid"))).toBe(dotted)
    }
    expect(oidToString(fromHex("2a864886f70d0101"))).toBe("1.2.840.113549.1.1")
    expect(oidToString(fromHex("2a864886"))).toBeUndefined() // truncated subidentifier
    expect(oidToString(fromHex("2a8086"))).toBeUndefined() // leading 0x80
    expect(oidToString(new Uint8Array(0))).toBeUndefined()
  })

  it("BOOLEAN accepts only 0x00 and 0xff; NULL must be empty", () => {
    expect(readAll(fromHex("0101ff"), (r) => r.boolean("b"))).toBe(true)
    expect(readAll(fromHex("010100"), (r) => r.boolean("b"))).toBe(false)
    expect(isX509Error(readAll(fromHex("010101"), (r) => r.boolean("b")))).toBe(true)
    expect(isX509Error(readAll(fromHex("050100"), (r) => r.null("n")))).toBe(true)
  })

  it("BIT STRING: unused-bit count and zero padding", () => {
    expect(readAll(fromHex("03020780"), (r) => r.bitString("b"))).toEqual({ bytes: fromHex("80"), unusedBits: 7 })
    expect(isX509Error(readAll(fromHex("03020781"), (r) => r.bitString("b")))).toBe(true) // padding bit set
    expect(isX509Error(readAll(fromHex("03020880"), (r) => r.bitString("b")))).toBe(true) // 8 unused bits
    expect(isX509Error(readAll(fromHex("030107"), (r) => r.bitString("b")))).toBe(true) // unused bits with no data
    expect(isX509Error(readAll(fromHex("03020180"), (r) => r.octetAlignedBitString("b")))).toBe(true)
    expect(readAll(fromHex("030100"), (r) => r.bitString("b").bytes.length)).toBe(0)
  })

  it("UTCTime: YY >= 50 is 19YY, below is 20YY (RFC 5280 §4.1.2.5.1)", () => {
    const t = (text: string, tag: number = Tag.UTCTime) =>
      readAll(der.tlv(tag, Uint8Array.from(text, (c) => c.charCodeAt(0))), (r) => r.time("t"))
    expect(t("500101000000Z")).toBe(Date.UTC(1950, 0, 1))
    expect(t("491231235959Z")).toBe(Date.UTC(2049, 11, 31, 23, 59, 59))
    expect(t("160730010203Z")).toBe(Date.UTC(2016, 6, 30, 1, 2, 3))
    expect(t("20500101000000Z", Tag.GeneralizedTime)).toBe(Date.UTC(2050, 0, 1))
    expect(t("99991231235959Z", Tag.GeneralizedTime)).toBe(Date.UTC(9999, 11, 31, 23, 59, 59))
    expect(t("20000229120000Z", Tag.GeneralizedTime)).toBe(Date.UTC(2000, 1, 29, 12))
    for (const bad of ["1607300102Z", "160730010203", "160730010203+0100", "161330000000Z", "160230000000Z", "160730240000Z", "16073001020aZ"]) {
      expect(isX509Error(t(bad)), bad).toBe(true)
    }
    expect(isX509Error(t("19000229000000Z", Tag.GeneralizedTime))).toBe(true) // 1900 is not a leap year
    expect(isX509Error(t("20160730010203.5Z", Tag.GeneralizedTime))).toBe(true) // fractions are not allowed
  })

  it("formats times like Date.toISOString without the milliseconds", () => {
    fc.assert(
      fc.property(fc.integer({ min: -62135596800000, max: 253402300799999 }), (ms) => {
        expect(formatUnixMillis(ms)).toBe(new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"))
      })
    )
    expect(formatUnixMillis(Number.NaN)).toBe("NaN")
  })

  it("matches Date.UTC for random instants (both encodings)", () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1950, 0, 1) / 1000, max: Date.UTC(9999, 11, 31) / 1000 }), (seconds) => {
        const ms = seconds * 1000
        expect(readAll(der.generalizedTime(ms), (r) => r.time("t"))).toBe(ms)
        if (ms < Date.UTC(2050, 0, 1)) expect(readAll(der.utcTime(ms), (r) => r.time("t"))).toBe(ms)
      })
    )
  })
})

describe("base64 and PEM (RFC 4648, RFC 7468)", () => {
  it("base64 round-trips and agrees with Buffer", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = base64Encode(bytes)
        expect(text).toBe(Buffer.from(bytes).toString("base64"))
        expect(base64Decode(text)).toEqual(bytes)
        expect(base64Decode(text.replace(/=+$/, ""))).toEqual(bytes)
      })
    )
  })

  it("base64 refuses bad characters and misplaced padding", () => {
    for (const bad of ["QQ=A", "Q", "QUJD*", "QQ===", "QUJDRA=", "Zm9v=="]) expect(base64Decode(bad), bad).toBeUndefined()
    expect(base64Decode(" QU\nJD \r\n")).toEqual(Uint8Array.from([0x41, 0x42, 0x43]))
  })

  it("decodes several blocks, ignoring text around them", () => {
    const a = Uint8Array.from([1, 2, 3])
    const b = new Uint8Array(100).map((_, i) => i)
    const text = `Bag Attributes: junk\n${encodePem("CERTIFICATE", a)}\r\nsubject=CN=x\n${encodePem("EC PRIVATE KEY", b).replace(/\n/g, "\r\n")}`
    const blocks = decodePem(text)
    expect(blocks).toEqual([
      { label: "CERTIFICATE", der: a },
      { label: "EC PRIVATE KEY", der: b }
    ])
    expect(decodePem("nothing here")).toEqual([])
  })

  it("refuses unterminated, mismatched, encrypted and non-base64 blocks", () => {
    const good = encodePem("CERTIFICATE", Uint8Array.from([1, 2, 3]))
    expect(isX509Error(decodePem(good.replace("-----END CERTIFICATE-----\n", "")))).toBe(true)
    expect(isX509Error(decodePem(good.replace("END CERTIFICATE", "END PRIVATE KEY")))).toBe(true)
    expect(isX509Error(decodePem(good.replace("AQID", "AQ!D")))).toBe(true)
    expect(
      isX509Error(decodePem("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAQID\n-----END RSA PRIVATE KEY-----\n"))
    ).toBe(true)
  })

  it("encodes 64-character lines", () => {
    const pem = encodePem("CERTIFICATE", new Uint8Array(100))
    const lines = pem.trim().split("\n")
    expect(lines[0]).toBe("-----BEGIN CERTIFICATE-----")
    expect(lines[1]!.length).toBe(64)
    expect(lines.at(-1)).toBe("-----END CERTIFICATE-----")
  })

  it("never throws on random text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.constantFrom("", "-----BEGIN X-----\n", "-----END X-----\n"), (s, marker) => {
        const result = decodePem(marker + s + marker)
        expect(Array.isArray(result) || isX509Error(result)).toBe(true)
      })
    )
  })
})
