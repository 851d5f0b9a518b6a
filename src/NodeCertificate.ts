/**
 * Certificates made with `node:crypto`, for servers that have none yet:
 * a self-signed ECDSA P-256 certificate that clients pin with `ca` (or
 * accept with `insecure`), like `openssl req -x509`.
 *
 * ```ts
 * const { certificate, privateKey } = yield* NodeCertificate.selfSigned({ names: ["localhost", "127.0.0.1"] })
 * const endpoint = yield* Endpoint.make({ server: { certificate, privateKey, alpn: ["perf"] } })
 * ```
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto"
import { makeSelfSignedCertificate } from "./internal/x509/selfSigned.js"
import { encodeCertificatePem } from "./internal/x509/pem.js"

/**
 * A certificate with its key, both PEM, ready for `ServerConfig`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SelfSignedCertificate {
  readonly certificate: string
  /** PKCS#8 PEM. */
  readonly privateKey: string
  /** SHA-256 of the DER certificate, colon-separated upper-case hex as browsers show it. */
  readonly fingerprint: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SelfSignedOptions {
  /** DNS names and IP literals; default `localhost`, `127.0.0.1`, `::1`. */
  readonly names?: ReadonlyArray<string> | undefined
  /** Default 30 days from now; valid from one hour ago, allowing for clock skew. */
  readonly validDays?: number | undefined
}

const HOUR = 3_600_000

/**
 * Makes a fresh key pair and a self-signed certificate for it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const selfSigned = (options: SelfSignedOptions = {}): Effect.Effect<SelfSignedCertificate> =>
  Effect.sync(() => {
    // Both keys are encoded by the generation itself: a later `KeyObject.export`
    // can deadlock Node 20 (see ./platform/nodeAsymmetric.ts).
    const keys = generateKeyPairSync("ec", {
      namedCurve: "prime256v1",
      publicKeyEncoding: { type: "spki", format: "der" },
      privateKeyEncoding: { type: "pkcs8", format: "pem" }
    })
    const now = Date.now()
    const der = makeSelfSignedCertificate({
      names: options.names ?? ["localhost", "127.0.0.1", "::1"],
      spki: new Uint8Array(keys.publicKey),
      sign: (tbs) => new Uint8Array(sign("sha256", tbs, keys.privateKey)),
      notBefore: now - HOUR,
      notAfter: now + (options.validDays ?? 30) * 24 * HOUR,
      serial: new Uint8Array(randomBytes(16))
    })
    const digest = createHash("sha256").update(der).digest("hex").toUpperCase()
    return {
      certificate: encodeCertificatePem(der),
      privateKey: keys.privateKey,
      fingerprint: digest.match(/../g)!.join(":")
    }
  })
