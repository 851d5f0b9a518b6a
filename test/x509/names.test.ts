import { isIPv4, isIPv6 } from "node:net"
import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import type { NameConstraints } from "../../src/internal/x509/certificate.js"
import {
  dnsPatternMatches,
  dnsWithinSubtree,
  matchesServerIdentity,
  nameConstraintViolation,
  parseIpAddress,
  parseIpv4,
  parseIpv6,
  parseServerName
} from "../../src/internal/x509/names.js"
import { ipBytes } from "../support/certs.js"

describe("IP literals", () => {
  it("IPv4 dotted quads", () => {
    expect(parseIpv4("192.0.2.1")).toEqual(Uint8Array.of(192, 0, 2, 1))
    expect(parseIpv4("0.0.0.0")).toEqual(new Uint8Array(4))
    expect(parseIpv4("255.255.255.255")).toEqual(new Uint8Array(4).fill(255))
    for (const bad of ["256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.", "", "a.b.c.d", "1.2.3.4 ", "0x7f.0.0.1", "+1.2.3.4"]) {
      expect(parseIpv4(bad), bad).toBeUndefined()
    }
  })

  it("IPv6 with :: compression and embedded IPv4", () => {
    const cases: Record<string, string> = {
      "::": "00000000000000000000000000000000",
      "::1": "00000000000000000000000000000001",
      "1::": "00010000000000000000000000000000",
      "2001:db8::1": "20010db8000000000000000000000001",
      "2001:DB8:0:0:1:0:0:1": "20010db8000000000001000000000001",
      "1:2:3:4:5:6:7:8": "00010002000300040005000600070008",
      "1:2:3:4:5:6:7::": "00010002000300040005000600070000",
      "::2:3:4:5:6:7:8": "00000002000300040005000600070008",
      "::ffff:192.0.2.1": "00000000000000000000ffffc0000201",
      "64:ff9b::192.0.2.33": "0064ff9b0000000000000000c0000221",
      "1:2:3:4:5:6:1.2.3.4": "00010002000300040005000601020304"
    }
    for (const [text, hex] of Object.entries(cases)) {
      expect(Buffer.from(parseIpv6(text) ?? []).toString("hex"), text).toBe(hex)
    }
    for (const bad of [":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8", "12345::", "::g", "fe80::1%eth0", "1.2.3.4::", "::1.2.3", ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:", "1:2:3:4:5:6:7:1.2.3.4"]) {
      expect(parseIpv6(bad), bad).toBeUndefined()
    }
    expect(parseIpAddress("[::1]")).toEqual(parseIpv6("::1"))
  })

  it("agrees with node:net and an independent parser on generated addresses", () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (text) => {
        const parsed = parseIpAddress(text)
        expect(parsed, text).toBeDefined()
        expect(parsed).toEqual(ipBytes(text))
      }),
      { numRuns: 2000 }
    )
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (text) => {
        const parsed = parseIpAddress(text)
        if (parsed !== undefined) expect(isIPv4(text) || isIPv6(text.replace(/^\[|\]$/g, "")), text).toBe(true)
      }),
      { numRuns: 2000 }
    )
  })
})

describe("server names (RFC 6125)", () => {
  it("classifies and normalizes", () => {
    expect(parseServerName("Example.COM.")).toEqual({ kind: "dns", name: "example.com" })
    expect(parseServerName("localhost")).toEqual({ kind: "dns", name: "localhost" })
    expect(parseServerName("127.0.0.1")).toEqual({ kind: "ip", address: Uint8Array.of(127, 0, 0, 1) })
    expect(parseServerName("::1")?.kind).toBe("ip")
    for (const bad of ["", ".", "a..b", "*.example.com", "exa mple.com", "-a.com", "a-.com", `${"a".repeat(64)}.com`]) {
      expect(parseServerName(bad), bad).toBeUndefined()
    }
  })

  it("wildcards only as the whole leftmost label, over one label, never above a TLD", () => {
    const match = (pattern: string, name: string) => dnsPatternMatches(pattern, name.toLowerCase().replace(/\.$/, ""))
    expect(match("example.com", "example.com")).toBe(true)
    expect(match("EXAMPLE.com", "example.COM")).toBe(true)
    expect(match("example.com.", "example.com")).toBe(true)
    expect(match("example.com", "example.com.")).toBe(true)
    expect(match("example.com", "www.example.com")).toBe(false)
    expect(match("*.example.com", "a.example.com")).toBe(true)
    expect(match("*.example.com", "A.Example.Com.")).toBe(true)
    expect(match("*.example.com", "example.com")).toBe(false)
    expect(match("*.example.com", "a.b.example.com")).toBe(false)
    expect(match("*.com", "example.com")).toBe(false)
    expect(match("*", "localhost")).toBe(false)
    expect(match("a*.example.com", "ab.example.com")).toBe(false)
    expect(match("*a.example.com", "ba.example.com")).toBe(false)
    expect(match("a.*.example.com", "a.b.example.com")).toBe(false)
    expect(match("*.*.example.com", "a.b.example.com")).toBe(false)
    expect(match("*..com", "a..com")).toBe(false)
  })

  it("DNS identities match only dNSName entries, IP identities only iPAddress entries", () => {
    const san = { dnsNames: ["127.0.0.1", "*.example.com"], ipAddresses: [Uint8Array.of(10, 0, 0, 1), parseIpv6("2001:db8::1")!] }
    expect(matchesServerIdentity(san, parseServerName("127.0.0.1")!)).toBe(false)
    expect(matchesServerIdentity(san, parseServerName("10.0.0.1")!)).toBe(true)
    expect(matchesServerIdentity(san, parseServerName("2001:0db8:0::1")!)).toBe(true)
    expect(matchesServerIdentity(san, parseServerName("::ffff:10.0.0.1")!)).toBe(false)
    expect(matchesServerIdentity(san, parseServerName("www.example.com")!)).toBe(true)
    expect(matchesServerIdentity(undefined, parseServerName("www.example.com")!)).toBe(false)
  })
})

describe("name constraints (RFC 5280 §4.2.1.10)", () => {
  it("DNS subtrees", () => {
    expect(dnsWithinSubtree("example.com", "example.com")).toBe(true)
    expect(dnsWithinSubtree("a.b.example.com", "example.com")).toBe(true)
    expect(dnsWithinSubtree("badexample.com", "example.com")).toBe(false)
    expect(dnsWithinSubtree("example.com", ".example.com")).toBe(false)
    expect(dnsWithinSubtree("a.example.com", ".example.com")).toBe(true)
    expect(dnsWithinSubtree("A.Example.COM", "example.com")).toBe(true)
    expect(dnsWithinSubtree("anything", "")).toBe(true)
  })

  const constraints = (partial: Partial<{ pd: Array<string>; ed: Array<string>; pi: Array<[string, string]>; ei: Array<[string, string]> }>): NameConstraints => ({
    permitted: partial.pd || partial.pi
      ? { dnsNames: partial.pd ?? [], ipAddresses: (partial.pi ?? []).map(([a, m]) => ({ address: ipBytes(a), mask: ipBytes(m) })), otherCount: 0 }
      : undefined,
    excluded: partial.ed || partial.ei
      ? { dnsNames: partial.ed ?? [], ipAddresses: (partial.ei ?? []).map(([a, m]) => ({ address: ipBytes(a), mask: ipBytes(m) })), otherCount: 0 }
      : undefined
  })

  it("permitted and excluded DNS names, wildcards included", () => {
    const nc = constraints({ pd: ["example.com"], ed: ["secret.example.com"] })
    expect(nameConstraintViolation(nc, ["www.example.com"], [])).toBeUndefined()
    expect(nameConstraintViolation(nc, ["www.example.org"], [])).toMatch(/outside the permitted/)
    expect(nameConstraintViolation(nc, ["a.secret.example.com"], [])).toMatch(/excluded/)
    expect(nameConstraintViolation(nc, ["*.example.com"], [])).toMatch(/excluded/) // could match secret.example.com
    expect(nameConstraintViolation(nc, ["*.secret.example.com"], [])).toMatch(/excluded/)
    expect(nameConstraintViolation(constraints({ pd: ["a.example.com"] }), ["*.example.com"], [])).toMatch(/permitted/)
    // DNS constraints do not restrict IP addresses and vice versa.
    expect(nameConstraintViolation(nc, [], [ipBytes("192.0.2.1")])).toBeUndefined()
  })

  it("IP ranges, per family", () => {
    const nc = constraints({ pi: [["10.0.0.0", "255.0.0.0"]], ei: [["10.9.0.0", "255.255.0.0"]] })
    expect(nameConstraintViolation(nc, [], [ipBytes("10.1.2.3")])).toBeUndefined()
    expect(nameConstraintViolation(nc, [], [ipBytes("11.1.2.3")])).toMatch(/outside/)
    expect(nameConstraintViolation(nc, [], [ipBytes("10.9.2.3")])).toMatch(/excluded/)
    expect(nameConstraintViolation(nc, [], [ipBytes("::1")])).toMatch(/outside/)
    expect(nameConstraintViolation(nc, ["host.example"], [])).toBeUndefined()
  })
})
