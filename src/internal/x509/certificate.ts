/**
 * X.509 v1/v3 certificates (RFC 5280 §4): the fields a TLS peer needs to
 * build and check a certification path and to use the end-entity key.
 *
 * Parsing is strict where signatures depend on it (DER, RFC 5280 §4.1.1.2
 * outer/inner algorithm equality, one instance per extension, §4.2) and
 * tolerant where common encoders deviate harmlessly (NULL vs absent RSA
 * parameters, explicitly encoded DEFAULT values, GeneralizedTime before 2050).
 *
 * A certificate whose key or signature algorithm is not supported still
 * parses: `publicKey` is `undefined` or `signatureAlgorithm.kind` is
 * "unsupported", and chain verification refuses it (verify.ts). Large trust
 * stores thus load even when they contain exotic roots.
 */
import { bytesEqual } from "../codec/bytes.js"
import type { PublicKeyInfo, SignatureAlgorithm, SignatureHash } from "../crypto/backend.js"
import {
  type AlgorithmIdentifier,
  type DerElement,
  DerReader,
  Tag,
  type X509Error,
  contextTag,
  isX509Error,
  parametersAbsentOrNull,
  parseDer,
  readAlgorithmIdentifier
} from "./der.js"
import { decodeSubjectPublicKeyInfo } from "./keys.js"
import { decodePem } from "./pem.js"

/** A certificate's signature algorithm, or why it cannot be used. */
export type CertificateSignatureAlgorithm =
  | SignatureAlgorithm
  | {
    readonly kind: "unsupported"
    /** The AlgorithmIdentifier's OID. */
    readonly oid: string
    /** e.g. "SHA-1 is not accepted", "unknown algorithm". */
    readonly reason: string
  }

/** A distinguished name (RFC 5280 §4.1.2.4). */
export interface Name {
  /** The DER encoding: issuer/subject matching compares these bytes exactly. */
  readonly der: Uint8Array
  /** RFC 4514-style text, most specific first, e.g. "CN=localhost, O=Example", for messages. */
  readonly text: string
  /** Attributes in encoding order (least specific first): type OID and decoded value. */
  readonly attributes: ReadonlyArray<{ readonly type: string; readonly value: string }>
}

/** Key usage bits (RFC 5280 §4.2.1.3) as a bit mask: bit n of the BIT STRING is `1 << n`. */
export const KeyUsage = {
  digitalSignature: 1 << 0,
  nonRepudiation: 1 << 1,
  keyEncipherment: 1 << 2,
  dataEncipherment: 1 << 3,
  keyAgreement: 1 << 4,
  keyCertSign: 1 << 5,
  cRLSign: 1 << 6,
  encipherOnly: 1 << 7,
  decipherOnly: 1 << 8
} as const

/** Key purposes (RFC 5280 §4.2.1.12). */
export const ExtKeyUsageOid = {
  anyExtendedKeyUsage: "2.5.29.37.0",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2"
} as const

/** Extension OIDs (RFC 5280 §4.2). */
export const ExtensionOid = {
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  nameConstraints: "2.5.29.30",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37"
} as const

/** An iPAddress name constraint (RFC 5280 §4.2.1.10): address and mask, 4+4 or 16+16 bytes. */
export interface IpSubtree {
  readonly address: Uint8Array
  readonly mask: Uint8Array
}

/** The subtrees of one kind (permitted or excluded) that this stack evaluates. */
export interface GeneralSubtrees {
  readonly dnsNames: ReadonlyArray<string>
  readonly ipAddresses: ReadonlyArray<IpSubtree>
  /** Subtrees of other name forms (directoryName, rfc822Name, URI, ...), which are not evaluated. */
  readonly otherCount: number
}

/** nameConstraints (RFC 5280 §4.2.1.10). */
export interface NameConstraints {
  readonly permitted: GeneralSubtrees | undefined
  readonly excluded: GeneralSubtrees | undefined
}

/** The extensions this stack understands (RFC 5280 §4.2.1). Absent ones are `undefined`. */
export interface Extensions {
  /** §4.2.1.6: dNSName (ASCII, as written) and iPAddress (4 or 16 bytes) entries; other forms are skipped. */
  readonly subjectAltName: { readonly dnsNames: ReadonlyArray<string>; readonly ipAddresses: ReadonlyArray<Uint8Array> } | undefined
  /** §4.2.1.9. */
  readonly basicConstraints: { readonly cA: boolean; readonly pathLenConstraint: number | undefined } | undefined
  /** §4.2.1.3: a mask of {@link KeyUsage} bits. */
  readonly keyUsage: number | undefined
  /** §4.2.1.12: key purpose OIDs. */
  readonly extKeyUsage: ReadonlyArray<string> | undefined
  /** §4.2.1.10. */
  readonly nameConstraints: NameConstraints | undefined
  /** §4.2.1.2: the subjectKeyIdentifier. */
  readonly subjectKeyIdentifier: Uint8Array | undefined
  /** §4.2.1.1: the keyIdentifier of authorityKeyIdentifier (which key signed this certificate). */
  readonly authorityKeyIdentifier: Uint8Array | undefined
  /** OIDs of critical extensions this stack does not process (§4.2: such a certificate MUST be rejected). */
  readonly unrecognisedCritical: ReadonlyArray<string>
  /** Every extension OID present, in order. */
  readonly present: ReadonlyArray<string>
}

/** A parsed certificate. Byte arrays are views into `der` (a private copy of the input). */
export interface Certificate {
  readonly der: Uint8Array
  /** The DER tbsCertificate, the signed bytes. */
  readonly tbs: Uint8Array
  /** 1, 2 or 3 (the encoded value plus one). */
  readonly version: 1 | 2 | 3
  /** The serialNumber INTEGER's contents (two's complement, as encoded). */
  readonly serialNumber: Uint8Array
  readonly signatureAlgorithm: CertificateSignatureAlgorithm
  /** The signatureValue BIT STRING's bytes (for ECDSA a DER Ecdsa-Sig-Value). */
  readonly signature: Uint8Array
  readonly issuer: Name
  readonly subject: Name
  /** Unix milliseconds, inclusive (§4.1.2.5). */
  readonly notBefore: number
  readonly notAfter: number
  /** The DER SubjectPublicKeyInfo. */
  readonly spki: Uint8Array
  /** The SubjectPublicKeyInfo algorithm OID. */
  readonly publicKeyAlgorithm: string
  /** The subject's key, or `undefined` when its algorithm or curve is not supported. */
  readonly publicKey: PublicKeyInfo | undefined
  readonly extensions: Extensions
}

/** Whether subject and issuer are the same name (§3.2, "self-issued"). */
export const isSelfIssued = (certificate: Certificate): boolean =>
  bytesEqual(certificate.subject.der, certificate.issuer.der)

// ---------------------------------------------------------------------------
// Signature algorithms

const SigOid = {
  md5WithRSA: "1.2.840.113549.1.1.4",
  sha1WithRSA: "1.2.840.113549.1.1.5",
  sha256WithRSA: "1.2.840.113549.1.1.11",
  sha384WithRSA: "1.2.840.113549.1.1.12",
  sha512WithRSA: "1.2.840.113549.1.1.13",
  sha224WithRSA: "1.2.840.113549.1.1.14",
  rsassaPss: "1.2.840.113549.1.1.10",
  mgf1: "1.2.840.113549.1.1.8",
  ecdsaWithSha1: "1.2.840.10045.4.1",
  ecdsaWithSha224: "1.2.840.10045.4.3.1",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  ecdsaWithSha384: "1.2.840.10045.4.3.3",
  ecdsaWithSha512: "1.2.840.10045.4.3.4",
  ed25519: "1.3.101.112",
  ed448: "1.3.101.113"
} as const

/** Hash OIDs (RFC 3279 §2.2, RFC 5754 §2). */
const HashOid: Record<string, SignatureHash | "sha1" | "sha224"> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.4": "sha224",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512"
}

const RSA_PKCS1: Record<string, SignatureHash> = {
  [SigOid.sha256WithRSA]: "sha256",
  [SigOid.sha384WithRSA]: "sha384",
  [SigOid.sha512WithRSA]: "sha512"
}

const ECDSA: Record<string, SignatureHash> = {
  [SigOid.ecdsaWithSha256]: "sha256",
  [SigOid.ecdsaWithSha384]: "sha384",
  [SigOid.ecdsaWithSha512]: "sha512"
}

const WEAK: Record<string, string> = {
  [SigOid.md5WithRSA]: "MD5 is not accepted",
  [SigOid.sha1WithRSA]: "SHA-1 is not accepted",
  [SigOid.ecdsaWithSha1]: "SHA-1 is not accepted",
  [SigOid.sha224WithRSA]: "SHA-224 is not supported",
  [SigOid.ecdsaWithSha224]: "SHA-224 is not supported",
  [SigOid.ed448]: "Ed448 is not supported"
}

const unsupported = (oid: string, reason: string): CertificateSignatureAlgorithm => ({ kind: "unsupported", oid, reason })

/** A HashAlgorithm AlgorithmIdentifier (parameters NULL or absent, RFC 4055 §2.1). */
const readHash = (reader: DerReader, what: string): SignatureHash | "sha1" | "sha224" | undefined => {
  const ai = readAlgorithmIdentifier(reader, what)
  if (reader.failed) return undefined
  if (!parametersAbsentOrNull(ai.parameters)) reader.fail(`${what}: unexpected hash parameters`)
  return HashOid[ai.oid]
}

/**
 * RSASSA-PSS-params (RFC 4055 §3.1; explicit tags). MGF1 must use the
 * message hash (RFC 8446 §4.2.3 and the backend contract), and the trailer
 * must be the default 1.
 */
const readPssParameters = (reader: DerReader, parameters: DerElement | undefined): CertificateSignatureAlgorithm => {
  const oid = SigOid.rsassaPss
  const what = "RSASSA-PSS-params"
  if (parameters === undefined || parameters.tag !== Tag.SEQUENCE) {
    reader.fail(`${what}: missing`)
    return unsupported(oid, "malformed")
  }
  const seq = reader.enterElement(parameters)
  let hash: SignatureHash | "sha1" | "sha224" | undefined = "sha1"
  let mgfHash: SignatureHash | "sha1" | "sha224" | undefined = "sha1"
  let saltLength = 20
  let trailer = 1
  const hashField = seq.optional(contextTag(0, true), `${what} hashAlgorithm`)
  if (hashField !== undefined) {
    const inner = seq.enterElement(hashField)
    hash = readHash(inner, `${what} hashAlgorithm`)
    inner.finish(`${what} hashAlgorithm`)
  }
  const mgfField = seq.optional(contextTag(1, true), `${what} maskGenAlgorithm`)
  if (mgfField !== undefined) {
    const inner = seq.enterElement(mgfField)
    const mgf = readAlgorithmIdentifier(inner, `${what} maskGenAlgorithm`)
    inner.finish(`${what} maskGenAlgorithm`)
    if (mgf.oid !== SigOid.mgf1 || mgf.parameters === undefined) {
      mgfHash = undefined
    } else {
      const mgfParameters = seq.nested(mgf.parameters.bytes)
      mgfHash = readHash(mgfParameters, `${what} MGF1 hash`)
      mgfParameters.finish(`${what} MGF1 hash`)
    }
  }
  const saltField = seq.optional(contextTag(2, true), `${what} saltLength`)
  if (saltField !== undefined) {
    const inner = seq.enterElement(saltField)
    saltLength = inner.smallInteger(`${what} saltLength`, 1 << 16)
    inner.finish(`${what} saltLength`)
  }
  const trailerField = seq.optional(contextTag(3, true), `${what} trailerField`)
  if (trailerField !== undefined) {
    const inner = seq.enterElement(trailerField)
    trailer = inner.smallInteger(`${what} trailerField`, 255)
    inner.finish(`${what} trailerField`)
  }
  seq.finish(what)
  if (hash === undefined || hash === "sha1" || hash === "sha224") return unsupported(oid, `RSASSA-PSS with hash ${hash ?? "unknown"}`)
  if (mgfHash !== hash) return unsupported(oid, "RSASSA-PSS with an MGF other than MGF1 with the message hash")
  if (trailer !== 1) return unsupported(oid, "RSASSA-PSS with a trailer field other than 1")
  return { kind: "rsa-pss", hash, saltLength }
}

/** Maps an AlgorithmIdentifier to a {@link SignatureAlgorithm}; malformed parameters of a known algorithm fail `reader`. */
const readSignatureAlgorithm = (reader: DerReader, ai: AlgorithmIdentifier): CertificateSignatureAlgorithm => {
  const pkcs1 = RSA_PKCS1[ai.oid]
  if (pkcs1 !== undefined) {
    // RFC 4055 §5: parameters MUST be NULL (absent is tolerated, as by most verifiers).
    if (!parametersAbsentOrNull(ai.parameters)) reader.fail("signatureAlgorithm: RSA parameters must be NULL")
    return { kind: "rsa-pkcs1", hash: pkcs1 }
  }
  const ecdsa = ECDSA[ai.oid]
  if (ecdsa !== undefined) {
    // RFC 5758 §3.2: parameters MUST be absent (NULL is tolerated).
    if (!parametersAbsentOrNull(ai.parameters)) reader.fail("signatureAlgorithm: ECDSA parameters must be absent")
    return { kind: "ecdsa", hash: ecdsa }
  }
  if (ai.oid === SigOid.ed25519) {
    // RFC 8410 §3: parameters MUST be absent.
    if (ai.parameters !== undefined) reader.fail("signatureAlgorithm: Ed25519 parameters must be absent")
    return { kind: "ed25519" }
  }
  if (ai.oid === SigOid.rsassaPss) return readPssParameters(reader, ai.parameters)
  return unsupported(ai.oid, WEAK[ai.oid] ?? "unknown signature algorithm")
}

// ---------------------------------------------------------------------------
// Names

const ATTRIBUTE_NAMES: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.4": "SN",
  "2.5.4.5": "serialNumber",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.9": "street",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.12": "title",
  "2.5.4.42": "GN",
  "0.9.2342.19200300.100.1.1": "UID",
  "0.9.2342.19200300.100.1.25": "DC",
  "1.2.840.113549.1.9.1": "emailAddress"
}

/** Decodes UTF-8, replacing invalid sequences with U+FFFD (names are only displayed, never compared as text). */
const decodeUtf8 = (b: Uint8Array): string => {
  let out = ""
  for (let i = 0; i < b.length;) {
    const c = b[i++]!
    let cp = 0xfffd
    if (c < 0x80) cp = c
    else {
      const extra = c >= 0xf0 && c < 0xf5 ? 3 : c >= 0xe0 ? (c < 0xf0 ? 2 : -1) : c >= 0xc2 ? 1 : -1
      if (extra > 0 && i + extra <= b.length) {
        let value = c & (0x3f >> extra)
        let ok = true
        for (let k = 0; k < extra; k++) {
          const d = b[i + k]!
          if ((d & 0xc0) !== 0x80) ok = false
          value = (value << 6) | (d & 0x3f)
        }
        const min = extra === 1 ? 0x80 : extra === 2 ? 0x800 : 0x10000
        if (ok && value >= min && value <= 0x10ffff && (value < 0xd800 || value > 0xdfff)) {
          cp = value
          i += extra
        }
      }
    }
    out += String.fromCodePoint(cp)
  }
  return out
}

const decodeDirectoryString = (element: DerElement): string => {
  const c = element.contents
  switch (element.tag) {
    case Tag.UTF8String:
      return decodeUtf8(c)
    case Tag.PrintableString:
    case Tag.IA5String:
    case Tag.TeletexString: {
      let out = ""
      for (let i = 0; i < c.length; i++) out += String.fromCharCode(c[i]!)
      return out
    }
    case Tag.BMPString: {
      let out = ""
      for (let i = 0; i + 1 < c.length; i += 2) out += String.fromCharCode((c[i]! << 8) | c[i + 1]!)
      return out
    }
    case Tag.UniversalString: {
      let out = ""
      for (let i = 0; i + 3 < c.length; i += 4) {
        const cp = ((c[i]! << 24) | (c[i + 1]! << 16) | (c[i + 2]! << 8) | c[i + 3]!) >>> 0
        out += String.fromCodePoint(cp <= 0x10ffff ? cp : 0xfffd)
      }
      return out
    }
    default: {
      // RFC 4514 §2.4: other types as '#' and the hex of the BER encoding.
      let out = "#"
      for (let i = 0; i < element.bytes.length; i++) out += element.bytes[i]!.toString(16).padStart(2, "0")
      return out
    }
  }
}

const escapeValue = (value: string): string =>
  value.replace(/[\\,+"<>;=]/g, (ch) => `\\${ch}`).replace(/^[ #]/, (ch) => `\\${ch}`).replace(/ $/, "\\ ")

/** Name ::= SEQUENCE OF RelativeDistinguishedName; RDN ::= SET SIZE (1..MAX) OF AttributeTypeAndValue (§4.1.2.4). */
const readName = (reader: DerReader, what: string): Name => {
  const element = reader.expect(Tag.SEQUENCE, what)
  const seq = reader.enterElement(element)
  const attributes: Array<{ type: string; value: string }> = []
  const rdnTexts: Array<string> = []
  while (!seq.atEnd) {
    const rdn = seq.enter(`${what} RDN`, Tag.SET)
    const parts: Array<string> = []
    if (rdn.atEnd) seq.fail(`${what}: empty RDN`)
    while (!rdn.atEnd) {
      const atv = rdn.enter(`${what} attribute`)
      const type = atv.oid(`${what} attribute type`)
      const value = decodeDirectoryString(atv.element(`${what} attribute value`))
      atv.finish(`${what} attribute`)
      attributes.push({ type, value })
      parts.push(`${ATTRIBUTE_NAMES[type] ?? type}=${escapeValue(value)}`)
    }
    rdnTexts.push(parts.join("+"))
  }
  // RFC 4514 §2.1: the last RDN (the most specific) first.
  return { der: element.bytes, text: rdnTexts.reverse().join(", "), attributes }
}

// ---------------------------------------------------------------------------
// Extensions

/** GeneralName tags (§4.2.1.6, IMPLICIT). */
const GN_DNS = contextTag(2, false)
const GN_IP = contextTag(7, false)

const isIa5 = (c: Uint8Array): boolean => c.every((b) => b < 0x80)

const ascii = (c: Uint8Array): string => {
  let out = ""
  for (let i = 0; i < c.length; i++) out += String.fromCharCode(c[i]!)
  return out
}

/** GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName; keeps dNSName and iPAddress. */
const readSubjectAltName = (reader: DerReader): NonNullable<Extensions["subjectAltName"]> => {
  const what = "subjectAltName"
  const seq = reader.enter(what)
  const dnsNames: Array<string> = []
  const ipAddresses: Array<Uint8Array> = []
  while (!seq.atEnd) {
    const name = seq.element(`${what} GeneralName`)
    if (name.tag === GN_DNS) {
      if (!isIa5(name.contents)) seq.fail(`${what}: dNSName is not IA5String`)
      dnsNames.push(ascii(name.contents))
    } else if (name.tag === GN_IP) {
      if (name.contents.length !== 4 && name.contents.length !== 16) seq.fail(`${what}: iPAddress must be 4 or 16 bytes`)
      ipAddresses.push(name.contents)
    }
  }
  return { dnsNames, ipAddresses }
}

const readBasicConstraints = (reader: DerReader): NonNullable<Extensions["basicConstraints"]> => {
  const what = "basicConstraints"
  const seq = reader.enter(what)
  // cA BOOLEAN DEFAULT FALSE (an explicit FALSE, a DER violation, is tolerated).
  const cA = seq.peekTag() === Tag.BOOLEAN ? seq.boolean(`${what} cA`) : false
  const pathLenConstraint = seq.peekTag() === Tag.INTEGER ? seq.smallInteger(`${what} pathLenConstraint`, 2 ** 31) : undefined
  seq.finish(what)
  return { cA, pathLenConstraint }
}

/** KeyUsage ::= BIT STRING; bit n (counting from the most significant bit of the first octet) becomes `1 << n`. */
const readKeyUsage = (reader: DerReader): number => {
  const { bytes } = reader.bitString("keyUsage")
  let mask = 0
  for (let bit = 0; bit < 9 && bit < bytes.length * 8; bit++) {
    if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) mask |= 1 << bit
  }
  return mask
}

const readExtKeyUsage = (reader: DerReader): ReadonlyArray<string> => {
  const seq = reader.enter("extKeyUsage")
  const purposes: Array<string> = []
  while (!seq.atEnd) purposes.push(seq.oid("extKeyUsage KeyPurposeId"))
  if (purposes.length === 0) seq.fail("extKeyUsage: empty")
  return purposes
}

/** A netmask must be a run of ones followed by zeros. */
const isContiguousMask = (mask: Uint8Array): boolean => {
  let zero = false
  for (let i = 0; i < mask.length; i++) {
    for (let bit = 7; bit >= 0; bit--) {
      const one = ((mask[i]! >> bit) & 1) === 1
      if (one && zero) return false
      if (!one) zero = true
    }
  }
  return true
}

/** GeneralSubtrees (§4.2.1.10); minimum must be 0 and maximum absent. */
const readSubtrees = (reader: DerReader, element: DerElement, what: string): GeneralSubtrees => {
  const seq = reader.enterElement(element)
  const dnsNames: Array<string> = []
  const ipAddresses: Array<IpSubtree> = []
  let otherCount = 0
  if (seq.atEnd) seq.fail(`${what}: empty`)
  while (!seq.atEnd) {
    const subtree = seq.enter(`${what} GeneralSubtree`)
    const base = subtree.element(`${what} base`)
    const minimum = subtree.optional(contextTag(0, false), `${what} minimum`)
    if (minimum !== undefined && !(minimum.contents.length === 1 && minimum.contents[0] === 0)) {
      subtree.fail(`${what}: minimum must be 0`)
    }
    if (subtree.optional(contextTag(1, false), `${what} maximum`) !== undefined) subtree.fail(`${what}: maximum must be absent`)
    subtree.finish(`${what} GeneralSubtree`)
    if (base.tag === GN_DNS) {
      if (!isIa5(base.contents)) seq.fail(`${what}: dNSName is not IA5String`)
      dnsNames.push(ascii(base.contents).toLowerCase())
    } else if (base.tag === GN_IP) {
      const c = base.contents
      if (c.length !== 8 && c.length !== 32) {
        seq.fail(`${what}: iPAddress constraint must be 8 or 32 bytes`)
        continue
      }
      const half = c.length / 2
      const mask = c.subarray(half)
      if (!isContiguousMask(mask)) seq.fail(`${what}: iPAddress mask is not contiguous`)
      ipAddresses.push({ address: c.subarray(0, half), mask })
    } else {
      otherCount++
    }
  }
  return { dnsNames, ipAddresses, otherCount }
}

const readNameConstraints = (reader: DerReader): NameConstraints => {
  const what = "nameConstraints"
  const seq = reader.enter(what)
  const permittedField = seq.optional(contextTag(0, true), `${what} permittedSubtrees`)
  const excludedField = seq.optional(contextTag(1, true), `${what} excludedSubtrees`)
  seq.finish(what)
  // §4.2.1.10: conforming CAs MUST NOT issue an empty nameConstraints.
  if (permittedField === undefined && excludedField === undefined) seq.fail(`${what}: empty`)
  return {
    permitted: permittedField === undefined ? undefined : readSubtrees(seq, permittedField, `${what} permittedSubtrees`),
    excluded: excludedField === undefined ? undefined : readSubtrees(seq, excludedField, `${what} excludedSubtrees`)
  }
}

/**
 * AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] OPTIONAL,
 * authorityCertIssuer [1] OPTIONAL, authorityCertSerialNumber [2] OPTIONAL }
 * (§4.2.1.1); only the key identifier is kept, as a path-building hint.
 */
const readAuthorityKeyIdentifier = (reader: DerReader): Uint8Array | undefined => {
  const seq = reader.enter("authorityKeyIdentifier")
  const keyIdentifier = seq.optional(contextTag(0, false), "authorityKeyIdentifier keyIdentifier")
  seq.optional(contextTag(1, true), "authorityKeyIdentifier authorityCertIssuer")
  seq.optional(contextTag(2, false), "authorityKeyIdentifier authorityCertSerialNumber")
  seq.finish("authorityKeyIdentifier")
  return keyIdentifier?.contents
}

interface MutableExtensions {
  subjectAltName: Extensions["subjectAltName"]
  basicConstraints: Extensions["basicConstraints"]
  keyUsage: Extensions["keyUsage"]
  extKeyUsage: Extensions["extKeyUsage"]
  nameConstraints: Extensions["nameConstraints"]
  subjectKeyIdentifier: Uint8Array | undefined
  authorityKeyIdentifier: Uint8Array | undefined
  unrecognisedCritical: Array<string>
  present: Array<string>
}

const noExtensions = (): MutableExtensions => ({
  subjectAltName: undefined,
  basicConstraints: undefined,
  keyUsage: undefined,
  extKeyUsage: undefined,
  nameConstraints: undefined,
  subjectKeyIdentifier: undefined,
  authorityKeyIdentifier: undefined,
  unrecognisedCritical: [],
  present: []
})

/** Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension (§4.1.2.9); each OID at most once (§4.2). */
const readExtensions = (reader: DerReader): MutableExtensions => {
  const result = noExtensions()
  const seq = reader.enter("extensions")
  while (!seq.atEnd) {
    const ext = seq.enter("Extension")
    const oid = ext.oid("extnID")
    // critical BOOLEAN DEFAULT FALSE (an explicit FALSE is tolerated).
    const critical = ext.peekTag() === Tag.BOOLEAN ? ext.boolean("critical") : false
    const value = ext.octetString("extnValue")
    ext.finish("Extension")
    if (seq.failed) break
    if (result.present.includes(oid)) {
      seq.fail(`extensions: duplicate extension ${oid}`)
      break
    }
    result.present.push(oid)
    const inner = seq.nested(value)
    switch (oid) {
      case ExtensionOid.subjectAltName:
        result.subjectAltName = readSubjectAltName(inner)
        break
      case ExtensionOid.basicConstraints:
        result.basicConstraints = readBasicConstraints(inner)
        break
      case ExtensionOid.keyUsage:
        result.keyUsage = readKeyUsage(inner)
        break
      case ExtensionOid.extKeyUsage:
        result.extKeyUsage = readExtKeyUsage(inner)
        break
      case ExtensionOid.nameConstraints:
        result.nameConstraints = readNameConstraints(inner)
        break
      case ExtensionOid.subjectKeyIdentifier:
        result.subjectKeyIdentifier = inner.octetString("subjectKeyIdentifier")
        break
      case ExtensionOid.authorityKeyIdentifier:
        result.authorityKeyIdentifier = readAuthorityKeyIdentifier(inner)
        break
      default:
        if (critical) result.unrecognisedCritical.push(oid)
        continue
    }
    inner.finish(`extension ${oid}`)
  }
  return result
}

// ---------------------------------------------------------------------------
// Certificate

/**
 * The certificates parsed last, most recent first. A client meets the same
 * server certificate on every connection (and a verified chain parses its
 * leaf twice), and parsing one costs tens of microseconds. A result depends
 * on the bytes alone and is never modified, so a match is returned as is;
 * the few entries bound what a stream of new certificates can hold.
 */
const recentlyParsed: Array<Certificate> = []
const RECENTLY_PARSED = 8

/**
 * Parses a DER certificate (RFC 5280 §4.1). The input is copied. Fails with
 * an {@link X509Error} for anything that is not a well-formed certificate;
 * unsupported key or signature algorithms are reported in the result
 * instead (see the module comment).
 */
export const parseCertificate = (input: Uint8Array): Certificate | X509Error => {
  for (const certificate of recentlyParsed) {
    if (bytesEqual(certificate.der, input)) return certificate
  }
  const parsed = parseFresh(input)
  if (!isX509Error(parsed)) {
    recentlyParsed.unshift(parsed)
    if (recentlyParsed.length > RECENTLY_PARSED) recentlyParsed.pop()
  }
  return parsed
}

const parseFresh = (input: Uint8Array): Certificate | X509Error => {
  const der = input.slice()
  const parsed = parseDer(der, "Certificate", (reader) => {
    const cert = reader.enter("Certificate")
    const tbsElement = cert.expect(Tag.SEQUENCE, "tbsCertificate")
    const outerAlgorithm = readAlgorithmIdentifier(cert, "signatureAlgorithm")
    const signature = cert.octetAlignedBitString("signatureValue")
    cert.finish("Certificate")

    const tbs = cert.enterElement(tbsElement)
    let version = 0
    const versionField = tbs.optional(contextTag(0, true), "version")
    if (versionField !== undefined) {
      const inner = tbs.enterElement(versionField)
      version = inner.smallInteger("version", 2)
      inner.finish("version")
    }
    // §4.1.2.2: positive, at most 20 octets; negative and zero serials exist in
    // the wild and are tolerated, but the INTEGER must be well formed.
    const serialNumber = tbs.integer("serialNumber")
    const innerAlgorithm = readAlgorithmIdentifier(tbs, "signature")
    const issuer = readName(tbs, "issuer")
    const validity = tbs.enter("validity")
    const notBefore = validity.time("notBefore")
    const notAfter = validity.time("notAfter")
    validity.finish("validity")
    const subject = readName(tbs, "subject")
    const spki = tbs.expect(Tag.SEQUENCE, "subjectPublicKeyInfo").bytes
    // §4.1.2.8: unique identifiers, v2 and v3 only.
    if (tbs.optional(contextTag(1, false), "issuerUniqueID") !== undefined && version < 1) tbs.fail("issuerUniqueID in a v1 certificate")
    if (tbs.optional(contextTag(2, false), "subjectUniqueID") !== undefined && version < 1) tbs.fail("subjectUniqueID in a v1 certificate")
    let extensions = noExtensions()
    const extensionsField = tbs.optional(contextTag(3, true), "extensions")
    if (extensionsField !== undefined) {
      // §4.1.2.9: extensions only in v3.
      if (version !== 2) tbs.fail("extensions in a certificate that is not v3")
      const inner = tbs.enterElement(extensionsField)
      extensions = readExtensions(inner)
      inner.finish("extensions")
    }
    tbs.finish("tbsCertificate")
    // §4.1.1.2: signatureAlgorithm MUST be the same as tbsCertificate.signature.
    if (!cert.failed && !bytesEqual(outerAlgorithm.bytes, innerAlgorithm.bytes)) {
      cert.fail("signatureAlgorithm differs from tbsCertificate.signature")
    }
    const signatureAlgorithm = readSignatureAlgorithm(cert, outerAlgorithm)
    return {
      der,
      tbs: tbsElement.bytes,
      version: (version + 1) as 1 | 2 | 3,
      serialNumber,
      signatureAlgorithm,
      signature,
      issuer,
      subject,
      notBefore,
      notAfter,
      spki,
      extensions
    }
  })
  if (isX509Error(parsed)) return parsed
  // The key is read on its own so that an unsupported algorithm does not fail the certificate.
  const { algorithm, result: key } = decodeSubjectPublicKeyInfo(parsed.spki)
  if (isX509Error(key) && key.kind === "malformed") return key
  return { ...parsed, publicKeyAlgorithm: algorithm, publicKey: isX509Error(key) ? undefined : key }
}

/** Every CERTIFICATE block in a PEM text, parsed, in order (other blocks are skipped). */
export const parseCertificatePem = (text: string): ReadonlyArray<Certificate> | X509Error => {
  const blocks = decodePem(text)
  if (isX509Error(blocks)) return blocks
  const out: Array<Certificate> = []
  for (const block of blocks) {
    if (block.label !== "CERTIFICATE") continue
    const certificate = parseCertificate(block.der)
    if (isX509Error(certificate)) return certificate
    out.push(certificate)
  }
  return out
}

/** The first CN attribute of a name, for messages. */
export const commonName = (name: Name): string | undefined => name.attributes.find((a) => a.type === "2.5.4.3")?.value
