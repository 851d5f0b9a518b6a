/**
 * The root certificates Node.js ships (`tls.rootCertificates`, Mozilla's
 * list), parsed by the core's X.509 code, as the default trust anchors of
 * a client. Parsed once per process, on first use.
 */
import { rootCertificates } from "node:tls"
import { type Certificate, parseCertificatePem } from "../internal/x509/certificate.js"
import { isX509Error } from "../internal/x509/der.js"

let anchors: ReadonlyArray<Certificate> | undefined

/** Node's bundled roots; any that our parser cannot read are left out. */
export const nodeTrustAnchors = (): ReadonlyArray<Certificate> => {
  if (anchors === undefined) {
    anchors = rootCertificates.flatMap((pem) => {
      const parsed = parseCertificatePem(pem)
      return isX509Error(parsed) ? [] : parsed
    })
  }
  return anchors
}
