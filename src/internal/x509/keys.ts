/**
 * Public keys (SubjectPublicKeyInfo, RFC 5280 §4.1.2.7) and private keys
 * (PKCS#8 / RFC 5958, SEC1 / RFC 5915, PKCS#1 / RFC 8017 App. A.1.2) for the
 * three key types TLS 1.3 signatures use here: RSA, ECDSA on P-256 / P-384,
 * and Ed25519.
 *
 * Results are the backend-neutral {@link PublicKey} / {@link PrivateKey}
 * values of crypto/backend.ts; a backend turns them into its own key objects.
 * Integers are big-endian magnitudes without a sign octet; EC private scalars
 * are left-padded to the curve's size.
 */
import type { EcCurve, PrivateKey, PublicKey, PublicKeyInfo } from "../crypto/backend.js"
import {
  type AlgorithmIdentifier,
  DerReader,
  Tag,
  type X509Error,
  contextTag,
  isX509Error,
  parametersAbsentOrNull,
  parseDer,
  readAlgorithmIdentifier,
  x509Error
} from "./der.js"
import { decodePem } from "./pem.js"

/** Key-algorithm and curve OIDs. */
export const KeyOid = {
  /** RFC 8017 App. C / RFC 3279 §2.3.1. */
  rsaEncryption: "1.2.840.113549.1.1.1",
  /** RFC 4055 §1.2: an RSA key restricted to RSASSA-PSS. */
  rsassaPss: "1.2.840.113549.1.1.10",
  /** RFC 5480 §2.1.1. */
  ecPublicKey: "1.2.840.10045.2.1",
  /** RFC 5480 §2.1.1.1: secp256r1 / prime256v1. */
  prime256v1: "1.2.840.10045.3.1.7",
  secp384r1: "1.3.132.0.34",
  /** RFC 8410 §3. */
  ed25519: "1.3.101.112"
} as const

const CURVES: Record<string, { readonly curve: EcCurve; readonly size: number }> = {
  [KeyOid.prime256v1]: { curve: "P-256", size: 32 },
  [KeyOid.secp384r1]: { curve: "P-384", size: 48 }
}

const curveSize = (curve: EcCurve): number => (curve === "P-256" ? 32 : 48)

/** The curve named by ECParameters (RFC 5480 §2.1.1: only `namedCurve` is allowed). */
const readNamedCurve = (reader: DerReader, parameters: AlgorithmIdentifier["parameters"], what: string): EcCurve => {
  if (parameters === undefined || parameters.tag !== Tag.OID) {
    reader.fail(`${what}: EC parameters must be a named curve`, "unsupported")
    return "P-256"
  }
  const oid = new DerReader(parameters.bytes).oid(`${what} curve`)
  const known = CURVES[oid]
  if (known === undefined) {
    reader.fail(`${what}: unsupported curve ${oid || "(malformed)"}`, "unsupported")
    return "P-256"
  }
  return known.curve
}

const readRsaPublicKey = (reader: DerReader, what: string): PublicKey => {
  const seq = reader.enter(what)
  const modulus = seq.unsignedInteger(`${what} modulus`)
  const exponent = seq.unsignedInteger(`${what} publicExponent`)
  seq.finish(what)
  if (!reader.failed && (modulus[0] === 0 || exponent[0] === 0)) reader.fail(`${what}: zero modulus or exponent`)
  return { type: "rsa", modulus, exponent }
}

/** Reads a SubjectPublicKeyInfo's contents into a {@link PublicKey}, failing with kind "unsupported" for unknown algorithms. */
const readPublicKey = (reader: DerReader, onAlgorithm: (oid: string) => void): PublicKey => {
  const what = "SubjectPublicKeyInfo"
  const algorithm = readAlgorithmIdentifier(reader, `${what} algorithm`)
  onAlgorithm(algorithm.oid)
  const bits = reader.octetAlignedBitString(`${what} subjectPublicKey`)
  if (reader.failed) return { type: "ed25519", key: bits }
  switch (algorithm.oid) {
    case KeyOid.rsaEncryption:
    case KeyOid.rsassaPss: {
      // RFC 3279 §2.3.1: NULL parameters for rsaEncryption (absent is a common
      // deviation and harmless). RFC 4055 §1.2: id-RSASSA-PSS keys may carry
      // RSASSA-PSS-params restricting their use; they are not enforced here.
      if (algorithm.oid === KeyOid.rsaEncryption && !parametersAbsentOrNull(algorithm.parameters)) {
        reader.fail(`${what}: rsaEncryption parameters must be NULL`)
      }
      return readRsaPublicKey(reader.nested(bits), `${what} RSAPublicKey`)
    }
    case KeyOid.ecPublicKey: {
      const curve = readNamedCurve(reader, algorithm.parameters, what)
      // SEC1 §2.3.3: 0x04 || X || Y uncompressed, 0x02/0x03 || X compressed.
      const size = curveSize(curve)
      const form = bits[0]
      const ok = (form === 0x04 && bits.length === 1 + 2 * size) || ((form === 0x02 || form === 0x03) && bits.length === 1 + size)
      if (!ok) reader.fail(`${what}: malformed ${curve} point`)
      return { type: "ec", curve, point: bits }
    }
    case KeyOid.ed25519: {
      // RFC 8410 §3: parameters MUST be absent; §4: the key is 32 octets.
      if (algorithm.parameters !== undefined) reader.fail(`${what}: Ed25519 parameters must be absent`)
      if (bits.length !== 32) reader.fail(`${what}: Ed25519 key must be 32 bytes`)
      return { type: "ed25519", key: bits }
    }
    default:
      reader.fail(`${what}: unsupported key algorithm ${algorithm.oid}`, "unsupported")
      return { type: "ed25519", key: bits }
  }
}

/**
 * Parses a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7). An unknown key
 * algorithm or curve gives an error of kind "unsupported" naming the OID.
 * The input is copied; the result's byte arrays are views of that copy.
 */
export const parseSubjectPublicKeyInfo = (der: Uint8Array): PublicKeyInfo | X509Error =>
  decodeSubjectPublicKeyInfo(der.slice()).result

/**
 * As {@link parseSubjectPublicKeyInfo} without copying, also giving the
 * algorithm OID (empty when the structure is malformed). For certificate.ts,
 * which has its own copy of the bytes.
 */
export const decodeSubjectPublicKeyInfo = (
  spki: Uint8Array
): { readonly algorithm: string; readonly result: PublicKeyInfo | X509Error } => {
  let algorithm = ""
  const result = parseDer(spki, "SubjectPublicKeyInfo", (reader) => {
    const inner = reader.enter("SubjectPublicKeyInfo")
    const key = readPublicKey(inner, (oid) => {
      algorithm = oid
    })
    inner.finish("SubjectPublicKeyInfo")
    return { spki, key }
  })
  return { algorithm, result }
}

/** RSAPrivateKey (RFC 8017 App. A.1.2), two-prime only. */
const readRsaPrivateKey = (reader: DerReader): PrivateKey => {
  const what = "RSAPrivateKey"
  const seq = reader.enter(what)
  const version = seq.smallInteger(`${what} version`, 1)
  if (version !== 0) seq.fail(`${what}: multi-prime keys are not supported`, "unsupported")
  const key: PrivateKey = {
    type: "rsa",
    modulus: seq.unsignedInteger(`${what} modulus`),
    publicExponent: seq.unsignedInteger(`${what} publicExponent`),
    privateExponent: seq.unsignedInteger(`${what} privateExponent`),
    prime1: seq.unsignedInteger(`${what} prime1`),
    prime2: seq.unsignedInteger(`${what} prime2`),
    exponent1: seq.unsignedInteger(`${what} exponent1`),
    exponent2: seq.unsignedInteger(`${what} exponent2`),
    coefficient: seq.unsignedInteger(`${what} coefficient`)
  }
  seq.finish(what)
  return key
}

/**
 * ECPrivateKey (RFC 5915 §3). `outerCurve` is the curve from a PKCS#8
 * AlgorithmIdentifier; the [0] parameters, if present, must agree with it.
 */
const readEcPrivateKey = (reader: DerReader, outerCurve: EcCurve | undefined): PrivateKey => {
  const what = "ECPrivateKey"
  const seq = reader.enter(what)
  const version = seq.smallInteger(`${what} version`, 1)
  if (version !== 1) seq.fail(`${what}: version must be 1`)
  const scalar = seq.octetString(`${what} privateKey`)
  let curve = outerCurve
  const parameters = seq.optional(contextTag(0, true), `${what} parameters`)
  if (parameters !== undefined) {
    const inner = seq.enterElement(parameters)
    const named = readNamedCurve(seq, inner.element(`${what} parameters`), what)
    inner.finish(`${what} parameters`)
    if (curve !== undefined && curve !== named) seq.fail(`${what}: curve differs from the algorithm's`)
    curve = named
  }
  seq.optional(contextTag(1, true), `${what} publicKey`)
  seq.finish(what)
  if (curve === undefined) {
    seq.fail(`${what}: no curve named`)
    return { type: "ec", curve: "P-256", scalar }
  }
  // SEC1 §2.3.7: the scalar is ceil(log2(n)/8) octets; tolerate shorter
  // encodings (leading zeros dropped) and pad them back.
  const size = curveSize(curve)
  if (scalar.length === 0 || scalar.length > size || scalar.every((b) => b === 0)) {
    seq.fail(`${what}: malformed ${curve} private key`)
    return { type: "ec", curve, scalar }
  }
  const padded = new Uint8Array(size)
  padded.set(scalar, size - scalar.length)
  return { type: "ec", curve, scalar: padded }
}

/** PrivateKeyInfo / OneAsymmetricKey (RFC 5958 §2). */
const readPkcs8 = (reader: DerReader): PrivateKey => {
  const what = "PrivateKeyInfo"
  const seq = reader.enter(what)
  seq.smallInteger(`${what} version`, 1)
  const algorithm = readAlgorithmIdentifier(seq, `${what} privateKeyAlgorithm`)
  const inner = seq.octetString(`${what} privateKey`)
  seq.optional(contextTag(0, true), `${what} attributes`)
  seq.optional(contextTag(1, false), `${what} publicKey`)
  seq.finish(what)
  if (seq.failed) return { type: "ed25519", seed: inner }
  const innerReader = seq.nested(inner)
  let key: PrivateKey
  switch (algorithm.oid) {
    case KeyOid.rsaEncryption:
    case KeyOid.rsassaPss:
      key = readRsaPrivateKey(innerReader)
      break
    case KeyOid.ecPublicKey:
      key = readEcPrivateKey(innerReader, readNamedCurve(seq, algorithm.parameters, what))
      break
    case KeyOid.ed25519: {
      // RFC 8410 §7: privateKey holds CurvePrivateKey ::= OCTET STRING, the 32-byte seed.
      if (algorithm.parameters !== undefined) seq.fail(`${what}: Ed25519 parameters must be absent`)
      const seed = innerReader.octetString("CurvePrivateKey")
      if (!seq.failed && seed.length !== 32) seq.fail("CurvePrivateKey: Ed25519 seed must be 32 bytes")
      key = { type: "ed25519", seed }
      break
    }
    default:
      seq.fail(`${what}: unsupported key algorithm ${algorithm.oid}`, "unsupported")
      return { type: "ed25519", seed: inner }
  }
  innerReader.finish(`${what} privateKey`)
  return key
}

/** The encodings of a private key this module reads. */
export type PrivateKeyFormat = "pkcs8" | "sec1" | "pkcs1"

/**
 * Parses a DER private key. Without `format`, it is recognised from the
 * second field of the outer SEQUENCE: an AlgorithmIdentifier (PKCS#8), an
 * OCTET STRING (SEC1) or an INTEGER (PKCS#1). The input is copied.
 */
export const parsePrivateKeyDer = (der: Uint8Array, format?: PrivateKeyFormat): PrivateKey | X509Error => {
  const bytes = der.slice()
  const detected = format ?? detectFormat(bytes)
  if (detected === undefined) return x509Error("private key: not PKCS#8, SEC1 or PKCS#1")
  return parseDer(bytes, "private key", (reader) =>
    detected === "pkcs8" ? readPkcs8(reader) : detected === "sec1" ? readEcPrivateKey(reader, undefined) : readRsaPrivateKey(reader)
  )
}

const detectFormat = (der: Uint8Array): PrivateKeyFormat | undefined => {
  const outer = new DerReader(der)
  const seq = outer.enter("private key")
  seq.integer("version")
  const tag = seq.peekTag()
  if (outer.failed) return undefined
  return tag === Tag.SEQUENCE ? "pkcs8" : tag === Tag.OCTET_STRING ? "sec1" : tag === Tag.INTEGER ? "pkcs1" : undefined
}

const PRIVATE_KEY_LABELS: Record<string, PrivateKeyFormat> = {
  "PRIVATE KEY": "pkcs8",
  "EC PRIVATE KEY": "sec1",
  "RSA PRIVATE KEY": "pkcs1"
}

/**
 * The first private key in a PEM text (labels PRIVATE KEY, EC PRIVATE KEY,
 * RSA PRIVATE KEY; other blocks such as EC PARAMETERS or CERTIFICATE are
 * skipped). ENCRYPTED PRIVATE KEY is refused as unsupported.
 */
export const parsePrivateKeyPem = (text: string): PrivateKey | X509Error => {
  const blocks = decodePem(text)
  if (isX509Error(blocks)) return blocks
  for (const block of blocks) {
    const format = PRIVATE_KEY_LABELS[block.label]
    if (format !== undefined) return parsePrivateKeyDer(block.der, format)
    if (block.label === "ENCRYPTED PRIVATE KEY") return x509Error("PEM: encrypted private keys are not supported", "unsupported")
  }
  return x509Error("PEM: no private key found")
}

/** The first PUBLIC KEY block (a SubjectPublicKeyInfo, RFC 7468 §13) in a PEM text. */
export const parsePublicKeyPem = (text: string): PublicKeyInfo | X509Error => {
  const blocks = decodePem(text)
  if (isX509Error(blocks)) return blocks
  const block = blocks.find((b) => b.label === "PUBLIC KEY")
  return block === undefined ? x509Error("PEM: no public key found") : parseSubjectPublicKeyInfo(block.der)
}

