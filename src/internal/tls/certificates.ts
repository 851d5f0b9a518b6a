import type { PublicKeyInfo } from "../crypto/backend.js"
import { parseCertificate } from "../x509/certificate.js"
import { isX509Error } from "../x509/der.js"
import type { CertificateVerifier } from "./session.js"

/** The public key of a DER certificate, or undefined when it cannot be read or its algorithm is unsupported. */
export const leafPublicKey = (der: Uint8Array): PublicKeyInfo | undefined => {
  const certificate = parseCertificate(der)
  return isX509Error(certificate) ? undefined : certificate.publicKey
}

/**
 * Trusts any certificate chain. Only for tests and explicit opt-in: the
 * CertificateVerify signature is still checked, so the peer must hold the
 * key of the certificate it sent, but nothing ties that key to a name.
 */
export const insecureVerifier: CertificateVerifier = () => undefined
