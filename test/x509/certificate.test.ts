import { X509Certificate, generateKeyPairSync, sign as nodeSign } from "node:crypto"
import { describe, expect, it } from "vitest"
import {
  type Certificate,
  KeyUsage,
  commonName,
  isSelfIssued,
  parseCertificate,
  parseCertificatePem
} from "../../src/internal/x509/certificate.js"
import { isX509Error } from "../../src/internal/x509/der.js"
import {
  type IssuedCertificate,
  type KeyPair,
  assembleCertificate,
  cachedKeyPair,
  encodeName,
  makeCertificate,
  makeChain
} from "../support/certs.js"
import * as der from "../../src/internal/x509/derWriter.js"
import { fixture, fromHex, toHex } from "../helpers.js"

const parse = (bytes: Uint8Array): Certificate => {
  const result = parseCertificate(bytes)
  if (isX509Error(result)) throw new Error(result.reason)
  return result
}

describe("the RFC 8448 server certificate", () => {
  const vectors = fixture("vectors/rfc8448-simple-1rtt.json")
  const cert = parse(fromHex(vectors.server_certificate.der))

  it("has the fields of RFC 8448 §3", () => {
    expect(cert.version).toBe(3)
    expect(Array.from(cert.serialNumber)).toEqual([2])
    expect(cert.subject.text).toBe("CN=rsa")
    expect(cert.issuer.text).toBe("CN=rsa")
    expect(commonName(cert.subject)).toBe("rsa")
    expect(isSelfIssued(cert)).toBe(true)
    expect(cert.notBefore).toBe(Date.UTC(2016, 6, 30, 1, 23, 59))
    expect(cert.notAfter).toBe(Date.UTC(2026, 6, 30, 1, 23, 59))
    expect(cert.signatureAlgorithm).toEqual({ kind: "rsa-pkcs1", hash: "sha256" })
    expect(cert.publicKeyAlgorithm).toBe("1.2.840.113549.1.1.1")
    expect(cert.publicKey?.key).toEqual({
      type: "rsa",
      modulus: fromHex(vectors.server_rsa_key.modulus),
      exponent: fromHex(vectors.server_rsa_key.public_exponent)
    })
    expect(cert.publicKey?.key.type === "rsa" && cert.publicKey.key.modulus.length * 8).toBe(1024)
    expect(cert.extensions.basicConstraints).toEqual({ cA: false, pathLenConstraint: undefined })
    expect(cert.extensions.keyUsage).toBe(KeyUsage.digitalSignature | KeyUsage.keyEncipherment)
    expect(cert.extensions.subjectAltName).toBeUndefined()
    expect(cert.extensions.unrecognisedCritical).toEqual([])
  })

  it("keeps the exact tbsCertificate bytes", () => {
    const x = new X509Certificate(Buffer.from(cert.der))
    expect(x.verify(x.publicKey)).toBe(true)
    // tbsCertificate starts after the outer SEQUENCE header (30 82 01 ac).
    expect(toHex(cert.tbs)).toBe(toHex(cert.der.subarray(4, 4 + cert.tbs.length)))
  })
})

/** Node's view of the same certificate. */
const compareWithNode = (issued: IssuedCertificate) => {
  const ours = issued.certificate
  const x = new X509Certificate(Buffer.from(issued.der))
  expect(ours.notBefore).toBe(Date.parse(x.validFrom))
  expect(ours.notAfter).toBe(Date.parse(x.validTo))
  // Node lists RDNs in encoding order, one per line; ours is RFC 4514 order.
  expect(ours.subject.text).toBe(x.subject.split("\n").reverse().join(", "))
  expect(ours.issuer.text).toBe(x.issuer.split("\n").reverse().join(", "))
  expect(toHex(ours.serialNumber).toUpperCase().replace(/^0+(?=.)/, "")).toBe(x.serialNumber.replace(/^0+(?=.)/, ""))
  expect(toHex(ours.spki)).toBe(toHex(new Uint8Array(x.publicKey.export({ type: "spki", format: "der" }))))
  expect(ours.extensions.basicConstraints?.cA ?? false).toBe(x.ca)
  const san = ours.extensions.subjectAltName
  const expected = san === undefined
    ? undefined
    : [
      ...san.dnsNames.map((d) => `DNS:${d}`),
      ...san.ipAddresses.map((ip) =>
        `IP Address:${
          ip.length === 4
            ? Array.from(ip).join(".")
            : Array.from({ length: 8 }, (_, i) => ((ip[2 * i]! << 8) | ip[2 * i + 1]!).toString(16).toUpperCase()).join(":")
        }`
      )
    ].join(", ")
  expect(ours.extensions.subjectAltName === undefined ? undefined : expected).toBe(x.subjectAltName)
  expect(ours.extensions.extKeyUsage ?? undefined).toEqual(x.keyUsage)
}

describe("generated certificates agree with node's X509Certificate", () => {
  it("for a chain of each key type", () => {
    for (const keyType of ["p256", "p384", "ed25519"] as const) {
      const chain = makeChain({
        keyType,
        leaf: { dnsNames: ["example.com", "*.example.com"], ipAddresses: ["192.0.2.1", "2001:db8::1:0:0:1"] }
      })
      for (const issued of [chain.root, chain.intermediate, chain.leaf]) compareWithNode(issued)
    }
  })

  it("for RSA and RSA-PSS issuers, unusual names and far dates", () => {
    const rsa = makeCertificate({ subject: { CN: "RSA Root" }, isCA: true, key: cachedKeyPair("rsa2048") })
    compareWithNode(rsa)
    const pss = makeCertificate({
      subject: { CN: "Zoë Ünïcode, \"quoted\"", O: "Acme+Co" },
      issuer: { certificate: rsa.certificate, key: rsa.key },
      rsaPadding: "pss",
      signatureHash: "sha384",
      notBefore: Date.UTC(1999, 11, 31, 23, 59, 59),
      notAfter: Date.UTC(2099, 0, 1),
      serial: 0x00ff_ffff_ffffn,
      dnsNames: ["a.test"]
    })
    expect(pss.certificate.signatureAlgorithm).toEqual({ kind: "rsa-pss", hash: "sha384", saltLength: 48 })
    expect(pss.certificate.notAfter).toBe(Date.UTC(2099, 0, 1))
    expect(pss.certificate.subject.attributes).toEqual([
      { type: "2.5.4.10", value: "Acme+Co" },
      { type: "2.5.4.3", value: "Zoë Ünïcode, \"quoted\"" }
    ])
    expect(pss.certificate.subject.text).toBe("CN=Zoë Ünïcode\\, \\\"quoted\\\", O=Acme\\+Co")
    const x = new X509Certificate(Buffer.from(pss.der))
    expect(x.verify(rsa.key.publicKey)).toBe(true)
    expect(Date.parse(x.validTo)).toBe(pss.certificate.notAfter)
    expect(Date.parse(x.validFrom)).toBe(pss.certificate.notBefore)
  })
})

describe("signature algorithms", () => {
  const cases: ReadonlyArray<[string, () => IssuedCertificate, unknown]> = [
    ["ECDSA P-256 / SHA-256", () => makeCertificate({ subject: { CN: "a" }, keyType: "p256" }), { kind: "ecdsa", hash: "sha256" }],
    ["ECDSA P-384 / SHA-384", () => makeCertificate({ subject: { CN: "a" }, keyType: "p384" }), { kind: "ecdsa", hash: "sha384" }],
    ["ECDSA P-256 / SHA-512", () => makeCertificate({ subject: { CN: "a" }, keyType: "p256", signatureHash: "sha512" }), { kind: "ecdsa", hash: "sha512" }],
    ["Ed25519", () => makeCertificate({ subject: { CN: "a" }, keyType: "ed25519" }), { kind: "ed25519" }],
    ["RSA PKCS#1 SHA-384", () => makeCertificate({ subject: { CN: "a" }, key: cachedKeyPair("rsa2048"), signatureHash: "sha384" }), { kind: "rsa-pkcs1", hash: "sha384" }],
    ["RSA-PSS key, SHA-256", () => makeCertificate({ subject: { CN: "a" }, key: cachedKeyPair("rsa-pss") }), { kind: "rsa-pss", hash: "sha256", saltLength: 32 }]
  ]
  for (const [name, make, expected] of cases) {
    it(name, () => expect(make().certificate.signatureAlgorithm).toEqual(expected))
  }

  /** Re-signs a certificate's TBS with a different AlgorithmIdentifier in both places. */
  const withAlgorithm = (algorithm: Uint8Array, key: KeyPair, hash: string | null): Certificate => {
    const base = makeCertificate({ subject: { CN: "alg" }, key })
    const tbsOriginal = base.certificate.tbs
    // Rebuild the TBS: [0] version, serial, then our algorithm, then the rest unchanged.
    const r = tbsOriginal.subarray(tbsOriginal[1]! < 0x80 ? 2 : 2 + (tbsOriginal[1]! & 0x7f))
    const version = r.subarray(0, 5)
    const serialLength = r[6]! + 2
    const serial = r.subarray(5, 5 + serialLength)
    const afterSerial = r.subarray(5 + serialLength)
    const oldAlgLength = afterSerial[1]! + 2
    const tbs = der.seq(version, serial, algorithm, afterSerial.subarray(oldAlgLength))
    const signature = new Uint8Array(nodeSign(hash, tbs, key.privateKey))
    return parse(assembleCertificate(tbs, algorithm, signature))
  }

  it("SHA-1 signatures parse as unsupported", () => {
    const rsaSha1 = withAlgorithm(der.seq(der.oid("1.2.840.113549.1.1.5"), der.nullValue()), cachedKeyPair("rsa2048"), "sha1")
    expect(rsaSha1.signatureAlgorithm).toMatchObject({ kind: "unsupported", oid: "1.2.840.113549.1.1.5" })
    const ecdsaSha1 = withAlgorithm(der.seq(der.oid("1.2.840.10045.4.1")), cachedKeyPair("p256"), "sha1")
    expect(ecdsaSha1.signatureAlgorithm).toMatchObject({ kind: "unsupported", reason: "SHA-1 is not accepted" })
  })

  it("RSASSA-PSS parameters: defaults mean SHA-1, the MGF1 hash must equal the hash, the trailer must be 1", () => {
    const key = cachedKeyPair("rsa2048")
    const hashAlg = (oid: string) => der.seq(der.oid(oid), der.nullValue())
    const pss = (...fields: Array<Uint8Array>) => der.seq(der.oid("1.2.840.113549.1.1.10"), der.seq(...fields))
    const sha256 = "2.16.840.1.101.3.4.2.1"
    const sha384 = "2.16.840.1.101.3.4.2.2"
    const mgf = (oid: string) => der.explicit(1, der.seq(der.oid("1.2.840.113549.1.1.8"), hashAlg(oid)))
    expect(withAlgorithm(pss(), key, "sha256").signatureAlgorithm).toMatchObject({ kind: "unsupported" })
    expect(withAlgorithm(pss(der.explicit(0, hashAlg(sha256))), key, "sha256").signatureAlgorithm).toMatchObject({ kind: "unsupported" })
    expect(withAlgorithm(pss(der.explicit(0, hashAlg(sha256)), mgf(sha384)), key, "sha256").signatureAlgorithm).toMatchObject({
      kind: "unsupported"
    })
    expect(
      withAlgorithm(pss(der.explicit(0, hashAlg(sha256)), mgf(sha256), der.explicit(2, der.integer(20)), der.explicit(3, der.integer(2))), key, "sha256")
        .signatureAlgorithm
    ).toMatchObject({ kind: "unsupported" })
    expect(withAlgorithm(pss(der.explicit(0, hashAlg(sha384)), mgf(sha384)), key, "sha256").signatureAlgorithm).toEqual({
      kind: "rsa-pss",
      hash: "sha384",
      saltLength: 20
    })
    // Hash identifiers without the NULL are accepted too.
    expect(
      withAlgorithm(
        pss(der.explicit(0, der.seq(der.oid(sha256))), der.explicit(1, der.seq(der.oid("1.2.840.113549.1.1.8"), der.seq(der.oid(sha256)))), der.explicit(2, der.integer(32))),
        key,
        "sha256"
      ).signatureAlgorithm
    ).toEqual({ kind: "rsa-pss", hash: "sha256", saltLength: 32 })
  })

  it("refuses a signatureAlgorithm that differs from tbsCertificate.signature (RFC 5280 §4.1.1.2)", () => {
    const cert = makeCertificate({ subject: { CN: "a" }, keyType: "p256" }).certificate
    const other = der.seq(der.oid("1.2.840.10045.4.3.3"))
    expect(isX509Error(parseCertificate(assembleCertificate(cert.tbs, other, cert.signature)))).toBe(true)
  })
})

describe("extensions", () => {
  it("reads SAN, basic constraints, key usage, EKU and name constraints", () => {
    const cert = makeCertificate({
      subject: { CN: "Constrained CA" },
      isCA: true,
      pathLen: 2,
      keyUsage: ["keyCertSign", "cRLSign", "decipherOnly"],
      extKeyUsage: ["serverAuth", "1.2.3.4"],
      dnsNames: ["ca.example"],
      ipAddresses: ["10.1.2.3", "::ffff:10.1.2.3"],
      nameConstraints: {
        permittedDns: ["example.com", ".example.org"],
        excludedDns: ["bad.example.com"],
        permittedIp: ["10.0.0.0/8", "2001:db8::/32"],
        excludedIp: ["10.9.0.0/16"]
      }
    }).certificate
    const ext = cert.extensions
    expect(ext.basicConstraints).toEqual({ cA: true, pathLenConstraint: 2 })
    expect(ext.keyUsage).toBe(KeyUsage.keyCertSign | KeyUsage.cRLSign | KeyUsage.decipherOnly)
    expect(ext.extKeyUsage).toEqual(["1.3.6.1.5.5.7.3.1", "1.2.3.4"])
    expect(ext.subjectAltName?.dnsNames).toEqual(["ca.example"])
    expect(ext.subjectAltName?.ipAddresses).toEqual([
      Uint8Array.of(10, 1, 2, 3),
      Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3)
    ])
    expect(ext.nameConstraints?.permitted?.dnsNames).toEqual(["example.com", ".example.org"])
    expect(ext.nameConstraints?.excluded?.dnsNames).toEqual(["bad.example.com"])
    expect(ext.nameConstraints?.permitted?.ipAddresses).toEqual([
      { address: Uint8Array.of(10, 0, 0, 0), mask: Uint8Array.of(255, 0, 0, 0) },
      { address: fromHex("20010db8000000000000000000000000"), mask: fromHex("ffffffff000000000000000000000000") }
    ])
    expect(ext.nameConstraints?.excluded?.ipAddresses).toHaveLength(1)
    expect(ext.unrecognisedCritical).toEqual([])
  })

  it("flags unrecognised critical extensions and ignores non-critical ones", () => {
    const cert = makeCertificate({
      subject: { CN: "x" },
      extraExtensions: [
        { oid: "1.2.3.4.5", critical: true, valueDer: der.nullValue() },
        { oid: "1.2.3.4.6", critical: false, valueDer: der.nullValue() }
      ]
    }).certificate
    expect(cert.extensions.unrecognisedCritical).toEqual(["1.2.3.4.5"])
    expect(cert.extensions.present).toContain("1.2.3.4.6")
  })

  it("refuses duplicate extensions and malformed known extensions", () => {
    const duplicate = () =>
      makeCertificate({ subject: { CN: "x" }, extraExtensions: [{ oid: "2.5.29.19", critical: false, valueDer: der.seq() }] })
    expect(duplicate).toThrow(/duplicate extension 2\.5\.29\.19/)
    const unknownTwice = () =>
      makeCertificate({
        subject: { CN: "x" },
        extraExtensions: [
          { oid: "1.2.3", critical: false, valueDer: der.nullValue() },
          { oid: "1.2.3", critical: false, valueDer: der.nullValue() }
        ]
      })
    expect(unknownTwice).toThrow(/duplicate/)
    const badSan = () =>
      makeCertificate({ subject: { CN: "x" }, extraExtensions: [{ oid: "2.5.29.17", critical: false, valueDer: der.seq(der.implicit(7, Uint8Array.of(1, 2, 3))) }] })
    expect(badSan).toThrow(/iPAddress/)
    const trailing = () =>
      makeCertificate({
        subject: { CN: "x" },
        keyUsage: "omit",
        extraExtensions: [{ oid: "2.5.29.15", critical: true, valueDer: der.concat(der.bitString(Uint8Array.of(0x80), 7), Uint8Array.of(0)) }]
      })
    expect(trailing).toThrow(/trailing/)
  })

  it("refuses extensions in a v1 certificate, and parses v1 roots", () => {
    const v1 = makeCertificate({ subject: { CN: "Old Root" }, version: 1 }).certificate
    expect(v1.version).toBe(1)
    expect(v1.extensions.present).toEqual([])
    // Splice an extensions field into the v1 TBS.
    const tbsContents = v1.tbs.subarray(v1.tbs[1]! < 0x80 ? 2 : 2 + (v1.tbs[1]! & 0x7f))
    const tbs = der.seq(tbsContents, der.explicit(3, der.seq(der.seq(der.oid("2.5.29.19"), der.octetString(der.seq())))))
    expect(isX509Error(parseCertificate(assembleCertificate(tbs, der.seq(der.oid("1.2.840.10045.4.3.2")), v1.signature)))).toBe(true)
  })
})

describe("structure", () => {
  it("refuses trailing data, truncation and a wrong outer tag", () => {
    const { der: bytes } = makeCertificate({ subject: { CN: "x" } })
    expect(isX509Error(parseCertificate(der.concat(bytes, Uint8Array.of(0))))).toBe(true)
    expect(isX509Error(parseCertificate(bytes.subarray(0, bytes.length - 1)))).toBe(true)
    const wrongTag = bytes.slice()
    wrongTag[0] = 0x31
    expect(isX509Error(parseCertificate(wrongTag))).toBe(true)
  })

  it("copies its input", () => {
    const { der: bytes } = makeCertificate({ subject: { CN: "copy" } })
    const input = bytes.slice()
    const cert = parse(input)
    input.fill(0)
    expect(cert.subject.text).toBe("CN=copy")
    expect(cert.der).toEqual(bytes)
  })

  it("gives the same result again for the same bytes, from a cache that holds the last eight", () => {
    const first = makeCertificate({ subject: { CN: "cached" } }).der
    const cert = parse(first)
    // Equal bytes in another array, and the input's own later changes, find the parsed certificate.
    expect(parse(first.slice())).toBe(cert)
    const input = first.slice()
    expect(parse(input)).toBe(cert)
    input[input.length - 1]! ^= 1
    const changed = parseCertificate(input)
    expect(changed).not.toBe(cert)
    expect(cert.der).toEqual(first)
    // Failures are not kept; eight other certificates push this one out.
    for (let i = 0; i < 8; i++) parse(makeCertificate({ subject: { CN: `other ${i}` } }).der)
    const again = parse(first)
    expect(again).not.toBe(cert)
    expect(again).toEqual(cert)
  })

  it("parses an unsupported key without failing, leaving publicKey undefined", () => {
    const x25519 = generateKeyPairSync("x25519")
    const key = { ...cachedKeyPair("p256"), spki: new Uint8Array(x25519.publicKey.export({ type: "spki", format: "der" })) }
    const issuer = makeCertificate({ subject: { CN: "issuer" }, isCA: true })
    const cert = makeCertificate({ subject: { CN: "x25519" }, key, issuer: { certificate: issuer.certificate, key: issuer.key } }).certificate
    expect(cert.publicKey).toBeUndefined()
    expect(cert.publicKeyAlgorithm).toBe("1.3.101.110")
  })

  it("reads every CERTIFICATE block of a PEM bundle", () => {
    const chain = makeChain()
    const bundle = chain.leaf.pem + chain.leaf.keyPem + chain.intermediate.pem + chain.root.pem
    const certs = parseCertificatePem(bundle)
    expect(isX509Error(certs)).toBe(false)
    if (!isX509Error(certs)) expect(certs.map((c) => c.subject.text)).toEqual([chain.leaf, chain.intermediate, chain.root].map((c) => c.certificate.subject.text))
  })

  it("encodes names as given (issuer of a child is the parent's subject DER)", () => {
    const chain = makeChain()
    expect(chain.leaf.certificate.issuer.der).toEqual(chain.intermediate.certificate.subject.der)
    expect(chain.root.certificate.subject.der).toEqual(encodeName({ CN: "Test Root CA", O: "effect-quic tests" }))
  })
})
