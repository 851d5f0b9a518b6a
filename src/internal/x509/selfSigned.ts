/**
 * Self-signed ECDSA P-256 certificates, the way `openssl req -x509` makes
 * them: for a server started without a certificate, whose clients then pin
 * it (`ca`) or skip verification. The signature is computed by the caller's
 * key, so this module stays free of any crypto backend.
 */
import { bitString, boolean, explicit, implicit, integer, octetString, oid, seq, set, utf8String, x509Time } from "./derWriter.js"
import { parseIpAddress } from "./names.js"

/** RFC 5758 §3.2: ecdsa-with-SHA256. */
const ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"

const Oid = {
  commonName: "2.5.4.3",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1"
} as const

/** What goes into a self-signed certificate. */
export interface SelfSignedOptions {
  /** DNS names and IP literals of the subjectAltName; the first is also the common name. */
  readonly names: ReadonlyArray<string>
  /** DER SubjectPublicKeyInfo of a P-256 key. */
  readonly spki: Uint8Array
  /** Signs the TBSCertificate with ECDSA/SHA-256, returning the DER signature. */
  readonly sign: (tbs: Uint8Array) => Uint8Array
  readonly notBefore: number
  readonly notAfter: number
  /** Positive, at most 20 octets (RFC 5280 §4.1.2.2). */
  readonly serial: Uint8Array
}

const extension = (id: string, critical: boolean, value: Uint8Array): Uint8Array =>
  critical ? seq(oid(id), boolean(true), octetString(value)) : seq(oid(id), octetString(value))

// RFC 5280 §4.2.1.6: dNSName is [2] IA5String, iPAddress is [7] OCTET STRING.
const generalName = (name: string): Uint8Array => {
  const ip = parseIpAddress(name)
  return ip === undefined ? implicit(2, new TextEncoder().encode(name)) : implicit(7, ip)
}

/** A DER certificate signed by its own key. */
export const makeSelfSignedCertificate = (options: SelfSignedOptions): Uint8Array => {
  const [first] = options.names
  if (first === undefined) throw new Error("a certificate needs at least one name")
  const name = seq(set(seq(oid(Oid.commonName), utf8String(first))))
  const algorithm = seq(oid(ECDSA_WITH_SHA256))
  // RFC 5280 §4.1.2.2: a positive INTEGER; the first octet stays in 0x40–0x7f so
  // the encoding is also minimal, which strict parsers (Go's) insist on.
  const serial = Uint8Array.from(options.serial, (b, i) => (i === 0 ? (b & 0x3f) | 0x40 : b))
  const extensions = seq(
    // A pinned self-signed certificate is its own trust anchor, as openssl makes them.
    extension(Oid.basicConstraints, true, seq(boolean(true))),
    // digitalSignature (bit 0) and keyCertSign (bit 5).
    extension(Oid.keyUsage, true, bitString(Uint8Array.of(0x84), 2)),
    extension(Oid.extKeyUsage, false, seq(oid(Oid.serverAuth))),
    extension(Oid.subjectAltName, false, seq(...options.names.map(generalName)))
  )
  const tbs = seq(
    explicit(0, integer(2)),
    integer(serial),
    algorithm,
    name,
    seq(x509Time(options.notBefore), x509Time(options.notAfter)),
    name,
    options.spki,
    explicit(3, extensions)
  )
  return seq(tbs, algorithm, bitString(options.sign(tbs)))
}
