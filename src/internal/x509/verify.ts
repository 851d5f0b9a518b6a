/**
 * Certification path building and validation for TLS peers: RFC 5280 §6 as
 * a TLS client or server needs it (no policies, no revocation), plus the
 * server-identity check of RFC 6125 / RFC 9525.
 *
 * The path is built from the leaf upwards. At each step the candidates for
 * the issuer are the trust anchors, then the peer's other certificates (in
 * any order; unused ones are ignored), whose subject DER equals the child's
 * issuer DER. Each candidate must have signed the child (checked with the
 * backend) and be a usable CA right now; the search backtracks through
 * every candidate, so cross-signed and redundant chains work. The first
 * complete path to an anchor wins; when there is none, the most specific
 * failure seen is reported.
 */
import type { AsymmetricCrypto, PublicKeyInfo } from "../crypto/backend.js"
import { type Certificate, ExtKeyUsageOid, KeyUsage, isSelfIssued, parseCertificate } from "./certificate.js"
import { bytesEqual } from "../codec/bytes.js"
import { formatUnixMillis, isX509Error } from "./der.js"
import { type ServerIdentity, matchesServerIdentity, nameConstraintViolation, parseServerName } from "./names.js"

/** Why a chain was refused. */
export type CertificateFailureReason =
  | "malformed"
  | "expired"
  | "not-yet-valid"
  | "unknown-issuer"
  | "bad-signature"
  | "name-mismatch"
  | "not-a-ca"
  | "path-length-exceeded"
  | "key-usage"
  | "extended-key-usage"
  | "unsupported-critical-extension"
  | "name-constraints"
  | "unsupported-algorithm"

export interface CertificateVerifyError {
  readonly _tag: "CertificateVerifyError"
  readonly reason: CertificateFailureReason
  /** For logs: which certificate and what was wrong. */
  readonly message: string
  /** The certificate the failure is about, when it could be parsed. */
  readonly certificate: Certificate | undefined
}

export const isCertificateVerifyError = (value: unknown): value is CertificateVerifyError =>
  typeof value === "object" && value !== null && (value as { _tag?: unknown })._tag === "CertificateVerifyError"

/** A validated path. */
export interface VerifiedPath {
  readonly _tag: "VerifiedPath"
  /** Leaf first, the trust anchor last; a single certificate when the leaf itself is a trust anchor (pinned). */
  readonly certificates: ReadonlyArray<Certificate>
  readonly leaf: Certificate
  /** The leaf's key, for CertificateVerify (always supported on a verified path). */
  readonly leafKey: PublicKeyInfo
  readonly anchor: Certificate
}

export interface VerifyChainOptions {
  /** DER certificates as the peer sent them, leaf first (RFC 8446 §4.4.2). */
  readonly chain: ReadonlyArray<Uint8Array>
  readonly trustAnchors: ReadonlyArray<Certificate>
  /** The time to check validity periods against, in Unix milliseconds. */
  readonly unixMillis: number
  /** The DNS name or IP literal the client connected to; omitted, no identity check (client certificates). */
  readonly serverName?: string | undefined
  /** Which extended key usage the leaf needs: serverAuth or clientAuth. */
  readonly purpose: "server" | "client"
}

/** The most certificates a path may have, leaf and anchor included. */
export const MAX_PATH_LENGTH = 10

/** The most signature checks one verification may spend on building paths (bounds adversarial chains). */
export const MAX_SIGNATURE_CHECKS = 100

const failure = (reason: CertificateFailureReason, message: string, certificate?: Certificate): CertificateVerifyError => ({
  _tag: "CertificateVerifyError",
  reason,
  message,
  certificate
})

const describe = (certificate: Certificate): string => `"${certificate.subject.text}"`

/**
 * RFC 5280 §4.1.2.5 / §6.1.3 (a)(2): the validity period includes both ends.
 * Written to fail closed: a NaN time is "not yet valid".
 */
const checkValidity = (certificate: Certificate, now: number): CertificateVerifyError | undefined => {
  if (!(now >= certificate.notBefore)) {
    return failure("not-yet-valid", `certificate ${describe(certificate)} is not valid before ${formatUnixMillis(certificate.notBefore)}`, certificate)
  }
  if (!(now <= certificate.notAfter)) {
    return failure("expired", `certificate ${describe(certificate)} expired at ${formatUnixMillis(certificate.notAfter)}`, certificate)
  }
  return undefined
}

/** RFC 5280 §4.2: a critical extension that is not processed MUST cause rejection. */
const checkCriticalExtensions = (certificate: Certificate): CertificateVerifyError | undefined => {
  const unknown = certificate.extensions.unrecognisedCritical
  return unknown.length === 0
    ? undefined
    : failure("unsupported-critical-extension", `certificate ${describe(certificate)} has unsupported critical extension ${unknown.join(", ")}`, certificate)
}

/** Path-independent checks of the end-entity certificate. */
const checkLeaf = (
  leaf: Certificate,
  options: VerifyChainOptions,
  identity: ServerIdentity | undefined
): CertificateVerifyError | undefined => {
  const time = checkValidity(leaf, options.unixMillis)
  if (time !== undefined) return time
  const critical = checkCriticalExtensions(leaf)
  if (critical !== undefined) return critical
  if (leaf.publicKey === undefined) {
    return failure("unsupported-algorithm", `certificate ${describe(leaf)} has an unsupported key (${leaf.publicKeyAlgorithm})`, leaf)
  }
  // §4.2.1.3: TLS 1.3 authenticates with signatures (CertificateVerify).
  const keyUsage = leaf.extensions.keyUsage
  if (keyUsage !== undefined && (keyUsage & KeyUsage.digitalSignature) === 0) {
    return failure("key-usage", `certificate ${describe(leaf)} key usage lacks digitalSignature`, leaf)
  }
  // §4.2.1.12: when present, the purpose (or anyExtendedKeyUsage) must be listed.
  const eku = leaf.extensions.extKeyUsage
  const wanted = options.purpose === "server" ? ExtKeyUsageOid.serverAuth : ExtKeyUsageOid.clientAuth
  if (eku !== undefined && !eku.includes(wanted) && !eku.includes(ExtKeyUsageOid.anyExtendedKeyUsage)) {
    return failure("extended-key-usage", `certificate ${describe(leaf)} is not for ${options.purpose === "server" ? "serverAuth" : "clientAuth"}`, leaf)
  }
  if (options.serverName !== undefined) {
    if (identity === undefined) {
      return failure("name-mismatch", `"${options.serverName}" is neither a DNS name nor an IP address`, leaf)
    }
    if (!matchesServerIdentity(leaf.extensions.subjectAltName, identity)) {
      return failure("name-mismatch", `certificate ${describe(leaf)} is not valid for "${options.serverName}"`, leaf)
    }
  }
  return undefined
}

/** A failure while extending a path, with how far the path had got (deeper is more informative). */
interface Attempt {
  readonly failure: CertificateVerifyError
  readonly depth: number
}

/** "unknown-issuer" says least: any other failure on some candidate path explains more. */
const moreSpecific = (candidate: Attempt, best: Attempt | undefined): boolean => {
  if (best === undefined) return true
  const a = candidate.failure.reason === "unknown-issuer" ? 0 : 1
  const b = best.failure.reason === "unknown-issuer" ? 0 : 1
  return a > b || (a === b && candidate.depth > best.depth)
}

/** Whether both key identifiers are present and differ: `issuer`'s key is then not the one that signed `child`. */
const keyIdentifiersDiffer = (child: Certificate, issuer: Certificate): boolean => {
  const authority = child.extensions.authorityKeyIdentifier
  const subject = issuer.extensions.subjectKeyIdentifier
  return authority !== undefined && subject !== undefined && !bytesEqual(authority, subject)
}

const KEY_TYPE_FOR: Record<string, string> = { "rsa-pkcs1": "rsa", "rsa-pss": "rsa", ecdsa: "ec", ed25519: "ed25519" }

/**
 * Verifies a peer's certificate chain against trust anchors (see the module
 * comment). Never throws for any input; `backend.verify` must not throw
 * either (its contract).
 */
export const verifyCertificateChain = (
  backend: Pick<AsymmetricCrypto, "verify">,
  options: VerifyChainOptions
): VerifiedPath | CertificateVerifyError => {
  const { chain, trustAnchors, unixMillis } = options
  if (chain.length === 0) return failure("malformed", "the peer sent no certificate")
  const parsed: Array<Certificate> = []
  for (let i = 0; i < chain.length; i++) {
    const certificate = parseCertificate(chain[i]!)
    if (isX509Error(certificate)) return failure("malformed", `certificate ${i} of the chain: ${certificate.reason}`)
    parsed.push(certificate)
  }
  const leaf = parsed[0]!
  const identity = options.serverName === undefined ? undefined : parseServerName(options.serverName)
  const leafFailure = checkLeaf(leaf, options, identity)
  if (leafFailure !== undefined) return leafFailure
  const leafKey = leaf.publicKey!

  // A leaf that is itself a trust anchor (a pinned, typically self-signed
  // certificate) is trusted as it stands: its CA flag and signature are moot.
  const pinned = trustAnchors.find((anchor) => bytesEqual(anchor.der, leaf.der))
  if (pinned !== undefined) return { _tag: "VerifiedPath", certificates: [leaf], leaf, leafKey, anchor: pinned }

  // The peer's other certificates, without duplicates or copies of the leaf.
  const intermediates: Array<Certificate> = []
  for (const certificate of parsed.slice(1)) {
    if (!bytesEqual(certificate.der, leaf.der) && !intermediates.some((c) => bytesEqual(c.der, certificate.der))) {
      intermediates.push(certificate)
    }
  }

  // Names the constraints of every issuer apply to: SAN entries of the leaf
  // (and the name actually connected to, which a wildcard may stand for) and
  // of non-self-issued intermediates (§6.1.3 (b)).
  const constrainedNames = (path: ReadonlyArray<Certificate>, index: number): { dns: Array<string>; ip: Array<Uint8Array> } => {
    const certificate = path[index]!
    const san = certificate.extensions.subjectAltName
    const dns = san === undefined ? [] : [...san.dnsNames]
    const ip = san === undefined ? [] : [...san.ipAddresses]
    if (index === 0 && identity !== undefined) {
      if (identity.kind === "dns") dns.push(identity.name)
      else ip.push(identity.address)
    }
    return { dns, ip }
  }

  let best: Attempt | undefined
  let signatureChecks = 0
  const record = (attempt: Attempt): void => {
    if (moreSpecific(attempt, best)) best = attempt
  }

  /** Checks `issuer` as the issuer of the last certificate of `path`. */
  const checkIssuer = (path: ReadonlyArray<Certificate>, issuer: Certificate, isAnchor: boolean): CertificateVerifyError | undefined => {
    const child = path[path.length - 1]!
    const algorithm = child.signatureAlgorithm
    if (algorithm.kind === "unsupported") {
      return failure("unsupported-algorithm", `certificate ${describe(child)} is signed with ${algorithm.oid}: ${algorithm.reason}`, child)
    }
    const key = issuer.publicKey
    if (key === undefined) {
      return failure("unsupported-algorithm", `issuer ${describe(issuer)} has an unsupported key (${issuer.publicKeyAlgorithm})`, issuer)
    }
    if (KEY_TYPE_FOR[algorithm.kind] !== key.key.type) {
      return failure("bad-signature", `certificate ${describe(child)} is signed with ${algorithm.kind} but the issuer's key is ${key.key.type}`, child)
    }
    if (signatureChecks >= MAX_SIGNATURE_CHECKS) {
      return failure("unknown-issuer", "too many candidate issuers: path building abandoned", child)
    }
    signatureChecks++
    if (!backend.verify(algorithm, key, child.tbs, child.signature)) {
      return failure("bad-signature", `the signature on ${describe(child)} does not verify with the key of ${describe(issuer)}`, child)
    }
    const time = checkValidity(issuer, unixMillis)
    if (time !== undefined) return time
    const critical = checkCriticalExtensions(issuer)
    if (critical !== undefined) return critical
    // §6.1.4 (k): an issuer must be a CA. A v1 trust anchor cannot say so
    // (no extensions) and is accepted as configured.
    const basic = issuer.extensions.basicConstraints
    if (basic?.cA !== true && !(isAnchor && issuer.version === 1)) {
      return failure("not-a-ca", `issuer ${describe(issuer)} is not a CA`, issuer)
    }
    // §6.1.4 (n): when key usage is present, keyCertSign must be set.
    const keyUsage = issuer.extensions.keyUsage
    if (keyUsage !== undefined && (keyUsage & KeyUsage.keyCertSign) === 0) {
      return failure("key-usage", `issuer ${describe(issuer)} key usage lacks keyCertSign`, issuer)
    }
    // §4.2.1.9, §6.1.4 (l)-(m): non-self-issued intermediates below this issuer.
    const pathLen = basic?.pathLenConstraint
    if (pathLen !== undefined) {
      let below = 0
      for (let i = 1; i < path.length; i++) if (!isSelfIssued(path[i]!)) below++
      if (below > pathLen) {
        return failure("path-length-exceeded", `issuer ${describe(issuer)} allows ${pathLen} intermediate(s) below it, the path has ${below}`, issuer)
      }
    }
    const constraints = issuer.extensions.nameConstraints
    if (constraints !== undefined) {
      for (let i = 0; i < path.length; i++) {
        if (i > 0 && isSelfIssued(path[i]!)) continue
        const { dns, ip } = constrainedNames(path, i)
        const violation = nameConstraintViolation(constraints, dns, ip)
        if (violation !== undefined) {
          return failure("name-constraints", `${violation} of ${describe(issuer)} (certificate ${describe(path[i]!)})`, path[i]!)
        }
      }
    }
    return undefined
  }

  const extend = (path: Array<Certificate>): VerifiedPath | undefined => {
    const child = path[path.length - 1]!
    const depth = path.length
    if (depth >= MAX_PATH_LENGTH) {
      record({ failure: failure("path-length-exceeded", `no trust anchor within ${MAX_PATH_LENGTH} certificates`, child), depth })
      return undefined
    }
    let found = false
    const tryIssuer = (issuer: Certificate, isAnchor: boolean): VerifiedPath | undefined => {
      found = true
      let problem = checkIssuer(path, issuer, isAnchor)
      if (problem?.reason === "bad-signature" && keyIdentifiersDiffer(child, issuer)) {
        // Same name, another key (e.g. a regenerated CA): not the issuer.
        problem = failure("unknown-issuer", `no trusted issuer "${child.issuer.text}" for ${describe(child)} (a certificate of that name has another key)`, child)
      }
      if (problem !== undefined) {
        record({ failure: problem, depth })
        return undefined
      }
      if (isAnchor) return { _tag: "VerifiedPath", certificates: [...path, issuer], leaf, leafKey, anchor: issuer }
      path.push(issuer)
      const result = extend(path)
      path.pop()
      return result
    }
    // Candidates whose key identifier matches the child's authority key
    // identifier (or that lack one) are tried first (§4.2.1.1); the others are
    // still tried, as identifiers are hints, not part of validation.
    for (const preferred of [true, false]) {
      for (const anchor of trustAnchors) {
        if (!bytesEqual(anchor.subject.der, child.issuer.der) || keyIdentifiersDiffer(child, anchor) === preferred) continue
        const result = tryIssuer(anchor, true)
        if (result !== undefined) return result
      }
      for (const candidate of intermediates) {
        if (!bytesEqual(candidate.subject.der, child.issuer.der) || keyIdentifiersDiffer(child, candidate) === preferred) continue
        if (path.some((c) => bytesEqual(c.der, candidate.der))) continue
        const result = tryIssuer(candidate, false)
        if (result !== undefined) return result
      }
    }
    if (!found) {
      record({ failure: failure("unknown-issuer", `no trusted issuer "${child.issuer.text}" for ${describe(child)}`, child), depth })
    }
    return undefined
  }

  return extend([leaf]) ?? best?.failure ?? failure("unknown-issuer", `no path to a trust anchor for ${describe(leaf)}`, leaf)
}
