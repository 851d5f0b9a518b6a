/**
 * Test certificates, made on the fly (never downloaded): keys from
 * node:crypto, X.509 v3 (or v1) structures from the DER writer in ./der.ts,
 * TBS signatures from node:crypto, and every result parsed back with the
 * core's parser.
 *
 * ```ts
 * const { root, intermediate, leaf, chain } = makeChain({ keyType: "p256" })
 * verifyCertificateChain(backend, { chain, trustAnchors: [root.certificate], unixMillis: TEST_NOW, serverName: "localhost", purpose: "server" })
 *
 * const pinned = makeCertificate({ subject: { CN: "localhost" }, isCA: true, dnsNames: ["localhost"] }) // like `openssl req -x509`
 * ```
 *
 * Signatures: RSA issuers sign with PKCS#1 v1.5 / SHA-256 (RSA-PSS keys with
 * PSS / SHA-256), P-256 with ECDSA / SHA-256, P-384 with ECDSA / SHA-384,
 * Ed25519 with Ed25519; `signatureHash` and `rsaPadding` override.
 *
 * Key generation for RSA takes ~100 ms: pass `key: cachedKeyPair("rsa2048")`
 * to reuse one key per test file (module state is per file under vitest).
 */
import {
  type KeyObject,
  constants,
  createHash,
  generateKeyPairSync,
  sign as nodeSign
} from "node:crypto"
import { type Certificate, ExtKeyUsageOid, KeyUsage, parseCertificate } from "../../src/internal/x509/certificate.js"
import { isX509Error } from "../../src/internal/x509/der.js"
import { encodeCertificatePem } from "../../src/internal/x509/pem.js"
import {
  bitString,
  boolean,
  concat,
  explicit,
  implicit,
  integer,
  nullValue,
  octetString,
  oid,
  printableString,
  seq,
  set,
  utf8String,
  x509Time
} from "../../src/internal/x509/derWriter.js"

export type KeyType = "p256" | "p384" | "rsa2048" | "rsa-pss" | "ed25519"

export interface KeyPair {
  readonly type: KeyType
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Uint8Array
}

/** A fresh key pair. */
export const generateKeyPair = (type: KeyType): KeyPair => {
  const pair = type === "p256"
    ? generateKeyPairSync("ec", { namedCurve: "prime256v1" })
    : type === "p384"
    ? generateKeyPairSync("ec", { namedCurve: "secp384r1" })
    : type === "rsa2048"
    ? generateKeyPairSync("rsa", { modulusLength: 2048 })
    : type === "rsa-pss"
    ? generateKeyPairSync("rsa-pss", { modulusLength: 2048 })
    : generateKeyPairSync("ed25519")
  return {
    type,
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    spki: new Uint8Array(pair.publicKey.export({ type: "spki", format: "der" }))
  }
}

const keyCache = new Map<string, KeyPair>()

/** The same key pair for the same (type, slot) within this module instance (one test file). */
export const cachedKeyPair = (type: KeyType, slot: string | number = 0): KeyPair => {
  const id = `${type}/${slot}`
  let pair = keyCache.get(id)
  if (pair === undefined) {
    pair = generateKeyPair(type)
    keyCache.set(id, pair)
  }
  return pair
}

/** A certificate with its key, as returned by {@link makeCertificate}. */
export interface IssuedCertificate {
  readonly der: Uint8Array
  readonly pem: string
  /** The private key as PKCS#8 PEM. */
  readonly keyPem: string
  readonly key: KeyPair
  readonly privateKey: KeyObject
  /** `der` parsed by the core's parser. */
  readonly certificate: Certificate
}

/** What signs a certificate: a parsed certificate (for its subject name) and its key pair. */
export interface Issuer {
  readonly certificate: Certificate
  readonly key: KeyPair
}

export type KeyUsageName = keyof typeof KeyUsage
/** A key purpose by name, or any OID in dotted form. */
export type ExtKeyUsageName = "serverAuth" | "clientAuth" | "any" | (string & {})

export interface Subject {
  readonly CN: string
  readonly O?: string
}

export interface NameConstraintsOptions {
  readonly permittedDns?: ReadonlyArray<string>
  readonly excludedDns?: ReadonlyArray<string>
  /** CIDR, e.g. "10.0.0.0/8" or "2001:db8::/32". */
  readonly permittedIp?: ReadonlyArray<string>
  readonly excludedIp?: ReadonlyArray<string>
  readonly critical?: boolean
}

export interface RawExtension {
  readonly oid: string
  readonly critical: boolean
  /** The extnValue contents (the DER inside the OCTET STRING). */
  readonly valueDer: Uint8Array
}

export interface CertificateOptions {
  readonly subject: Subject
  /** The signer; self-signed when absent. */
  readonly issuer?: Issuer
  /** The subject's key; otherwise a fresh one of `keyType` (default "p256"). */
  readonly key?: KeyPair
  readonly keyType?: KeyType
  /** Defaults: {@link DEFAULT_NOT_BEFORE} and {@link DEFAULT_NOT_AFTER}. */
  readonly notBefore?: Date | number
  readonly notAfter?: Date | number
  /** Default: a per-file counter. */
  readonly serial?: number | bigint
  readonly isCA?: boolean
  readonly pathLen?: number
  /**
   * basicConstraints: critical by default (CA:TRUE for CAs, an empty
   * SEQUENCE — CA:FALSE — for leaves); "omit" leaves it out.
   */
  readonly basicConstraints?: "critical" | "non-critical" | "omit"
  /** Default: keyCertSign + cRLSign + digitalSignature for CAs, digitalSignature for leaves; "omit" leaves it out. */
  readonly keyUsage?: ReadonlyArray<KeyUsageName> | "omit"
  /** Default: serverAuth + clientAuth for leaves, none for CAs; "omit" leaves it out. */
  readonly extKeyUsage?: ReadonlyArray<ExtKeyUsageName> | "omit"
  readonly dnsNames?: ReadonlyArray<string>
  /** IPv4 or IPv6 literals. */
  readonly ipAddresses?: ReadonlyArray<string>
  readonly nameConstraints?: NameConstraintsOptions
  readonly extraExtensions?: ReadonlyArray<RawExtension>
  /** The hash of the issuer's signature (ECDSA, RSA); Ed25519 ignores it. */
  readonly signatureHash?: "sha256" | "sha384" | "sha512"
  /** For RSA issuers: PKCS#1 v1.5 (default for rsa2048) or PSS (default for rsa-pss keys). */
  readonly rsaPadding?: "pkcs1" | "pss"
  /** 3 by default; 1 makes a v1 certificate without extensions (old-style roots). */
  readonly version?: 1 | 3
  /** Flips a bit of the signature after signing. */
  readonly corruptSignature?: boolean
  /** Adds SubjectKeyIdentifier / AuthorityKeyIdentifier (default true). */
  readonly keyIdentifiers?: boolean
}

export const DEFAULT_NOT_BEFORE = Date.UTC(2020, 0, 1)
export const DEFAULT_NOT_AFTER = Date.UTC(2040, 0, 1)
/** A time inside the default validity, to verify at. */
export const TEST_NOW = Date.UTC(2025, 5, 1)

export const Oids = {
  commonName: "2.5.4.3",
  organizationName: "2.5.4.10",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  nameConstraints: "2.5.29.30",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
  mgf1: "1.2.840.113549.1.1.8",
  rsassaPss: "1.2.840.113549.1.1.10",
  ed25519: "1.3.101.112"
} as const

const RSA_PKCS1_OID = { sha256: "1.2.840.113549.1.1.11", sha384: "1.2.840.113549.1.1.12", sha512: "1.2.840.113549.1.1.13" }
const ECDSA_OID = { sha256: "1.2.840.10045.4.3.2", sha384: "1.2.840.10045.4.3.3", sha512: "1.2.840.10045.4.3.4" }
const HASH_LENGTH = { sha256: 32, sha384: 48, sha512: 64 }

/** Name: O (if any) then CN, as most CAs order them (least specific first). */
export const encodeName = (subject: Subject): Uint8Array =>
  seq(
    ...(subject.O === undefined ? [] : [set(seq(oid(Oids.organizationName), utf8String(subject.O)))]),
    set(seq(oid(Oids.commonName), subject.CN === "" ? utf8String("") : printableOrUtf8(subject.CN)))
  )

const printableOrUtf8 = (text: string): Uint8Array =>
  /^[A-Za-z0-9 '()+,./:=?-]*$/.test(text) ? printableString(text) : utf8String(text)

/** IPv4 or IPv6 text to 4 or 16 bytes (independent of the core's parser). */
export const ipBytes = (text: string): Uint8Array => {
  if (!text.includes(":")) {
    const parts = text.split(".").map(Number)
    if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) throw new Error(`bad IPv4 ${text}`)
    return Uint8Array.from(parts)
  }
  let tailV4: Array<number> = []
  let body = text
  const lastColon = text.lastIndexOf(":")
  if (text.slice(lastColon + 1).includes(".")) {
    tailV4 = Array.from(ipBytes(text.slice(lastColon + 1)))
    body = text.slice(0, lastColon + 1) + "0:0"
  }
  const [head, tail] = body.includes("::") ? body.split("::") : [body, undefined]
  const headGroups = head === "" ? [] : head!.split(":")
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":")
  const missing = 8 - headGroups.length - tailGroups.length
  const groups = [...headGroups, ...(tail === undefined ? [] : new Array<string>(missing).fill("0")), ...tailGroups]
  if (groups.length !== 8) throw new Error(`bad IPv6 ${text}`)
  const out = new Uint8Array(16)
  groups.forEach((g, i) => {
    const v = parseInt(g, 16)
    out[2 * i] = v >> 8
    out[2 * i + 1] = v & 0xff
  })
  if (tailV4.length === 4) out.set(tailV4, 12)
  return out
}

const cidrBytes = (cidr: string): Uint8Array => {
  const [address, bits] = cidr.split("/")
  const addr = ipBytes(address!)
  const prefix = Number(bits ?? addr.length * 8)
  const mask = new Uint8Array(addr.length)
  for (let i = 0; i < prefix; i++) mask[i >> 3]! |= 0x80 >> (i & 7)
  return concat(addr, mask)
}

const extension = (extnId: string, critical: boolean, valueDer: Uint8Array): Uint8Array =>
  seq(oid(extnId), ...(critical ? [boolean(true)] : []), octetString(valueDer))

/** KeyUsage as a DER BIT STRING with trailing zero bits removed (X.690 §11.2.2). */
const keyUsageBits = (names: ReadonlyArray<KeyUsageName>): Uint8Array => {
  let mask = 0
  for (const name of names) mask |= KeyUsage[name]
  let highest = -1
  for (let bit = 0; bit < 9; bit++) if (mask & (1 << bit)) highest = bit
  if (highest < 0) return bitString(new Uint8Array(0))
  const bytes = new Uint8Array((highest >> 3) + 1)
  for (let bit = 0; bit <= highest; bit++) if (mask & (1 << bit)) bytes[bit >> 3]! |= 0x80 >> (bit & 7)
  return bitString(bytes, 7 - (highest & 7))
}

const ekuOid = (name: ExtKeyUsageName): string =>
  name === "serverAuth"
    ? ExtKeyUsageOid.serverAuth
    : name === "clientAuth"
    ? ExtKeyUsageOid.clientAuth
    : name === "any"
    ? ExtKeyUsageOid.anyExtendedKeyUsage
    : name

const subtrees = (dns: ReadonlyArray<string> | undefined, ip: ReadonlyArray<string> | undefined): Array<Uint8Array> => [
  ...(dns ?? []).map((d) => seq(implicit(2, Uint8Array.from(d, (c) => c.charCodeAt(0))))),
  ...(ip ?? []).map((c) => seq(implicit(7, cidrBytes(c))))
]

/** SubjectKeyIdentifier method 1 of RFC 5280 §4.2.1.2: SHA-1 of the subjectPublicKey bits. */
const keyIdentifier = (spki: Uint8Array): Uint8Array => createHash("sha1").update(spki).digest().subarray(0, 20)

/** The AlgorithmIdentifier and node signing parameters for an issuer key. */
const signatureScheme = (
  issuerKey: KeyPair,
  hashOption: "sha256" | "sha384" | "sha512" | undefined,
  paddingOption: "pkcs1" | "pss" | undefined
): { algorithm: Uint8Array; sign: (data: Uint8Array) => Uint8Array } => {
  switch (issuerKey.type) {
    case "ed25519":
      return { algorithm: seq(oid(Oids.ed25519)), sign: (data) => new Uint8Array(nodeSign(null, data, issuerKey.privateKey)) }
    case "p256":
    case "p384": {
      const hash = hashOption ?? (issuerKey.type === "p256" ? "sha256" : "sha384")
      return { algorithm: seq(oid(ECDSA_OID[hash])), sign: (data) => new Uint8Array(nodeSign(hash, data, issuerKey.privateKey)) }
    }
    case "rsa2048":
    case "rsa-pss": {
      const hash = hashOption ?? "sha256"
      const padding = paddingOption ?? (issuerKey.type === "rsa-pss" ? "pss" : "pkcs1")
      if (padding === "pkcs1") {
        return {
          algorithm: seq(oid(RSA_PKCS1_OID[hash]), nullValue()),
          sign: (data) => new Uint8Array(nodeSign(hash, data, issuerKey.privateKey))
        }
      }
      const hashAlgorithm = seq(oid(Oids[hash]), nullValue())
      const saltLength = HASH_LENGTH[hash]
      return {
        algorithm: seq(
          oid(Oids.rsassaPss),
          seq(explicit(0, hashAlgorithm), explicit(1, seq(oid(Oids.mgf1), hashAlgorithm)), explicit(2, integer(saltLength)))
        ),
        sign: (data) =>
          new Uint8Array(
            nodeSign(hash, data, { key: issuerKey.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength })
          )
      }
    }
  }
}

let serialCounter = 0x1000

const millis = (value: Date | number): number => (typeof value === "number" ? value : value.getTime())

/** Builds the tbsCertificate for `options`, the subject key and the issuer (name, key). */
const buildTbs = (options: CertificateOptions, key: KeyPair, issuerName: Uint8Array, issuerKey: KeyPair, algorithm: Uint8Array): Uint8Array => {
  const version = options.version ?? 3
  const isCA = options.isCA ?? false
  const extensions: Array<Uint8Array> = []
  if (version === 3) {
    if (options.keyIdentifiers ?? true) {
      extensions.push(extension(Oids.subjectKeyIdentifier, false, octetString(keyIdentifier(key.spki))))
      extensions.push(extension(Oids.authorityKeyIdentifier, false, seq(implicit(0, keyIdentifier(issuerKey.spki)))))
    }
    const bc = options.basicConstraints ?? "critical"
    if (bc !== "omit") {
      const value = isCA ? seq(boolean(true), ...(options.pathLen === undefined ? [] : [integer(options.pathLen)])) : seq()
      extensions.push(extension(Oids.basicConstraints, bc === "critical", value))
    }
    const ku = options.keyUsage ?? (isCA ? ["keyCertSign", "cRLSign", "digitalSignature"] : ["digitalSignature"])
    if (ku !== "omit") extensions.push(extension(Oids.keyUsage, true, keyUsageBits(ku)))
    const eku = options.extKeyUsage ?? (isCA ? "omit" : ["serverAuth", "clientAuth"])
    if (eku !== "omit") extensions.push(extension(Oids.extKeyUsage, false, seq(...eku.map((e) => oid(ekuOid(e))))))
    const names = [
      ...(options.dnsNames ?? []).map((d) => implicit(2, Uint8Array.from(d, (c) => c.charCodeAt(0)))),
      ...(options.ipAddresses ?? []).map((ip) => implicit(7, ipBytes(ip)))
    ]
    if (names.length > 0) extensions.push(extension(Oids.subjectAltName, false, seq(...names)))
    const nc = options.nameConstraints
    if (nc !== undefined) {
      const permitted = subtrees(nc.permittedDns, nc.permittedIp)
      const excluded = subtrees(nc.excludedDns, nc.excludedIp)
      const value = seq(
        ...(permitted.length > 0 ? [implicit(0, concat(...permitted), true)] : []),
        ...(excluded.length > 0 ? [implicit(1, concat(...excluded), true)] : [])
      )
      extensions.push(extension(Oids.nameConstraints, nc.critical ?? true, value))
    }
    for (const extra of options.extraExtensions ?? []) extensions.push(extension(extra.oid, extra.critical, extra.valueDer))
  }
  return seq(
    ...(version === 3 ? [explicit(0, integer(2))] : []),
    integer(options.serial ?? serialCounter++),
    algorithm,
    issuerName,
    seq(x509Time(millis(options.notBefore ?? DEFAULT_NOT_BEFORE)), x509Time(millis(options.notAfter ?? DEFAULT_NOT_AFTER))),
    encodeName(options.subject),
    key.spki,
    ...(extensions.length > 0 ? [explicit(3, seq(...extensions))] : [])
  )
}

/** Parses with the core's parser, throwing (a test bug) when it refuses. */
export const parseOrThrow = (der: Uint8Array): Certificate => {
  const certificate = parseCertificate(der)
  if (isX509Error(certificate)) throw new Error(`test certificate does not parse: ${certificate.reason}`)
  return certificate
}

/** Assembles a Certificate from a TBS, an AlgorithmIdentifier and a signature (for crafted certificates). */
export const assembleCertificate = (tbs: Uint8Array, algorithm: Uint8Array, signature: Uint8Array): Uint8Array =>
  seq(tbs, algorithm, bitString(signature))

/** Makes and signs one certificate. */
export const makeCertificate = (options: CertificateOptions): IssuedCertificate => {
  const key = options.key ?? generateKeyPair(options.keyType ?? "p256")
  const issuerKey = options.issuer?.key ?? key
  const issuerName = options.issuer?.certificate.subject.der ?? encodeName(options.subject)
  const scheme = signatureScheme(issuerKey, options.signatureHash, options.rsaPadding)
  const tbs = buildTbs(options, key, issuerName, issuerKey, scheme.algorithm)
  const signature = scheme.sign(tbs)
  if (options.corruptSignature === true) signature[signature.length >> 1]! ^= 0x01
  const der = assembleCertificate(tbs, scheme.algorithm, signature)
  return {
    der,
    pem: encodeCertificatePem(der),
    keyPem: key.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    key,
    privateKey: key.privateKey,
    certificate: parseOrThrow(der)
  }
}

export interface ChainOptions {
  /** Key type for all three certificates (default "p256"), unless overridden per level. */
  readonly keyType?: KeyType
  readonly root?: Partial<CertificateOptions>
  readonly intermediate?: Partial<CertificateOptions>
  readonly leaf?: Partial<CertificateOptions>
}

export interface Chain {
  readonly root: IssuedCertificate
  readonly intermediate: IssuedCertificate
  readonly leaf: IssuedCertificate
  /** DER as a server sends it: leaf, then intermediate. */
  readonly chain: ReadonlyArray<Uint8Array>
  readonly trustAnchors: ReadonlyArray<Certificate>
}

/**
 * Root CA → intermediate CA → leaf. Defaults: names "Test Root CA", "Test
 * Intermediate CA", leaf CN "localhost" with SAN DNS:localhost,
 * IP:127.0.0.1, IP:::1; default validity; per-level options override.
 */
export const makeChain = (options: ChainOptions = {}): Chain => {
  const keyType = options.keyType ?? "p256"
  const root = makeCertificate({ subject: { CN: "Test Root CA", O: "effect-quic tests" }, isCA: true, keyType, ...options.root })
  const intermediate = makeCertificate({
    subject: { CN: "Test Intermediate CA", O: "effect-quic tests" },
    isCA: true,
    keyType,
    issuer: { certificate: root.certificate, key: root.key },
    ...options.intermediate
  })
  const leaf = makeCertificate({
    subject: { CN: "localhost" },
    keyType,
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1", "::1"],
    issuer: { certificate: intermediate.certificate, key: intermediate.key },
    ...options.leaf
  })
  return { root, intermediate, leaf, chain: [leaf.der, intermediate.der], trustAnchors: [root.certificate] }
}

/** A self-signed certificate like `openssl req -x509 -newkey ... -subj /CN=<cn> -addext subjectAltName=...`: CA:TRUE, no key usage. */
export const makeSelfSigned = (options: Partial<CertificateOptions> & { readonly dnsNames?: ReadonlyArray<string> } = {}): IssuedCertificate =>
  makeCertificate({
    subject: { CN: options.dnsNames?.[0] ?? "localhost" },
    isCA: true,
    keyUsage: "omit",
    extKeyUsage: "omit",
    dnsNames: ["localhost"],
    ...options
  })
