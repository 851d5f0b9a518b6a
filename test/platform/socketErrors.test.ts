import { describe, expect, it } from "vitest"
import { segmentCount, segments } from "../../src/internal/platform/segments.js"
import { bindErrorReason, errorCode, isValidPort, sendErrorReason } from "../../src/internal/platform/socketErrors.js"

describe("socket error mapping", () => {
  it("maps bind errno codes to SocketError reasons", () => {
    expect(bindErrorReason("EADDRINUSE")).toBe("AddressInUse")
    expect(bindErrorReason("EACCES")).toBe("AccessDenied")
    expect(bindErrorReason("EPERM")).toBe("AccessDenied")
    expect(bindErrorReason("EADDRNOTAVAIL")).toBe("AddressNotAvailable")
    expect(bindErrorReason("EINVAL")).toBe("Unknown")
    expect(bindErrorReason(undefined)).toBe("Unknown")
  })

  it("maps send errors", () => {
    expect(sendErrorReason("EMSGSIZE")).toBe("SendFailed")
    expect(sendErrorReason("ERR_SOCKET_DGRAM_NOT_RUNNING")).toBe("Closed")
  })

  it("reads the code of a system error", () => {
    expect(errorCode(Object.assign(new Error("x"), { code: "EACCES" }))).toBe("EACCES")
    expect(errorCode(new Error("x"))).toBeUndefined()
    expect(errorCode("EACCES")).toBeUndefined()
  })

  it("validates ports", () => {
    expect(isValidPort(0)).toBe(true)
    expect(isValidPort(65535)).toBe(true)
    expect(isValidPort(65536)).toBe(false)
    expect(isValidPort(-1)).toBe(false)
    expect(isValidPort(1.5)).toBe(false)
  })
})

describe("GSO-style segments", () => {
  it("splits into segmentSize datagrams, the last one shorter", () => {
    const data = Uint8Array.from({ length: 25 }, (_, i) => i)
    const parts = segments(data, 10)
    expect(parts.map((p) => p.length)).toEqual([10, 10, 5])
    expect(parts[2]).toEqual(data.subarray(20))
    expect(segmentCount(25, 10)).toBe(3)
  })

  it("keeps one datagram without a usable segment size", () => {
    const data = new Uint8Array(25)
    expect(segments(data, undefined)).toEqual([data])
    expect(segments(data, 0)).toEqual([data])
    expect(segments(data, 25)).toEqual([data])
    expect(segments(data, 100)).toEqual([data])
    expect(segmentCount(25, undefined)).toBe(1)
  })
})
