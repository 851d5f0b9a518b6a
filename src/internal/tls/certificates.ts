import type { CryptoBackend, PublicKeyInfo } from "../crypto/backend.js"
import { type Certificate, parseCertificate } from "../x509/certificate.js"
import { isX509Error } from "../x509/der.js"
import { type CertificateFailureReason, isCertificateVerifyError, verifyCertificateChain } from "../x509/verify.js"
import { type TlsAlert, tlsAlert } from "./alert.js"
import { AlertDescription } from "./constants.js"
import type { CertificateEntry } from "./messages.js"
import type { CertificateVerifier } from "./session.js"

/** The public key of a DER certificate, or undefined when it cannot be read or its algorithm is unsupported. */
export const leafPublicKey = (der: Uint8Array): PublicKeyInfo | undefined => {
  const certificate = parseCertificate(der)
  return isX509Error(certificate) ? undefined : certificate.publicKey
}

/**
 * RFC 8446 §4.4.2: the peer's chain (DER, leaf first) once `verifier`
 * trusts it, with the leaf's key for checking its CertificateVerify.
 */
export const verifiedPeer = (
  entries: ReadonlyArray<CertificateEntry>,
  verifier: CertificateVerifier,
  context: Parameters<CertificateVerifier>[1]
): { readonly chain: ReadonlyArray<Uint8Array>; readonly key: PublicKeyInfo } | TlsAlert => {
  const chain = entries.map((e) => e.data.slice())
  const verdict = verifier(chain, context)
  if (verdict !== undefined) return verdict
  const key = leafPublicKey(chain[0]!)
  return key === undefined ? tlsAlert(AlertDescription.bad_certificate, `unreadable ${context.purpose} certificate`) : { chain, key }
}

/** RFC 8446 §6.2: the alert that names each kind of certificate failure. */
const alertFor: Record<CertificateFailureReason, number> = {
  malformed: AlertDescription.bad_certificate,
  expired: AlertDescription.certificate_expired,
  "not-yet-valid": AlertDescription.certificate_expired,
  "unknown-issuer": AlertDescription.unknown_ca,
  "bad-signature": AlertDescription.bad_certificate,
  "name-mismatch": AlertDescription.bad_certificate,
  "not-a-ca": AlertDescription.bad_certificate,
  "path-length-exceeded": AlertDescription.bad_certificate,
  "key-usage": AlertDescription.bad_certificate,
  "extended-key-usage": AlertDescription.bad_certificate,
  "unsupported-critical-extension": AlertDescription.unsupported_certificate,
  "name-constraints": AlertDescription.bad_certificate,
  "unsupported-algorithm": AlertDescription.unsupported_certificate
}

/** Verifies chains against `trustAnchors` (RFC 5280 path validation plus the RFC 6125 name check). */
export const webPkiVerifier = (backend: CryptoBackend, trustAnchors: ReadonlyArray<Certificate>): CertificateVerifier =>
(chain, context): TlsAlert | undefined => {
  const result = verifyCertificateChain(backend, {
    chain,
    trustAnchors,
    unixMillis: context.unixMillis,
    serverName: context.serverName,
    purpose: context.purpose
  })
  return isCertificateVerifyError(result) ? tlsAlert(alertFor[result.reason], `${result.reason}: ${result.message}`) : undefined
}

/**
 * Trusts any certificate chain. Only for tests and explicit opt-in: the
 * CertificateVerify signature is still checked, so the peer must hold the
 * key of the certificate it sent, but nothing ties that key to a name.
 */
export const insecureVerifier: CertificateVerifier = () => undefined
