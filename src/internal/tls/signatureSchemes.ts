import { latin1Bytes } from "../codec/bytes.js"
import type { CryptoBackend, PrivateKey, PublicKey, PublicKeyInfo, SignatureAlgorithm, Signer } from "../crypto/backend.js"
import { illegalParameter, type TlsAlert, tlsAlert } from "./alert.js"
import { AlertDescription } from "./constants.js"

/**
 * TLS 1.3 SignatureScheme code points (RFC 8446 §4.2.3) and what each means
 * for our crypto backend. In TLS 1.3 the ECDSA schemes also fix the curve,
 * and the RSA PSS salt is the hash length.
 */
export const SignatureScheme = {
  rsa_pkcs1_sha256: 0x0401,
  rsa_pkcs1_sha384: 0x0501,
  rsa_pkcs1_sha512: 0x0601,
  ecdsa_secp256r1_sha256: 0x0403,
  ecdsa_secp384r1_sha384: 0x0503,
  rsa_pss_rsae_sha256: 0x0804,
  rsa_pss_rsae_sha384: 0x0805,
  rsa_pss_rsae_sha512: 0x0806,
  ed25519: 0x0807
} as const

interface SchemeInfo {
  readonly algorithm: SignatureAlgorithm
  readonly fits: (key: PublicKey | PrivateKey) => boolean
  /** RFC 8446 §4.4.3: RSASSA-PKCS1-v1_5 may sign certificates but never a CertificateVerify. */
  readonly handshake: boolean
}

const rsa = (key: PublicKey | PrivateKey): boolean => key.type === "rsa"
const ec = (curve: "P-256" | "P-384") => (key: PublicKey | PrivateKey): boolean => key.type === "ec" && key.curve === curve
const ed = (key: PublicKey | PrivateKey): boolean => key.type === "ed25519"

const schemes = new Map<number, SchemeInfo>([
  [SignatureScheme.ecdsa_secp256r1_sha256, { algorithm: { kind: "ecdsa", hash: "sha256" }, fits: ec("P-256"), handshake: true }],
  [SignatureScheme.ecdsa_secp384r1_sha384, { algorithm: { kind: "ecdsa", hash: "sha384" }, fits: ec("P-384"), handshake: true }],
  [SignatureScheme.rsa_pss_rsae_sha256, { algorithm: { kind: "rsa-pss", hash: "sha256", saltLength: 32 }, fits: rsa, handshake: true }],
  [SignatureScheme.rsa_pss_rsae_sha384, { algorithm: { kind: "rsa-pss", hash: "sha384", saltLength: 48 }, fits: rsa, handshake: true }],
  [SignatureScheme.rsa_pss_rsae_sha512, { algorithm: { kind: "rsa-pss", hash: "sha512", saltLength: 64 }, fits: rsa, handshake: true }],
  [SignatureScheme.ed25519, { algorithm: { kind: "ed25519" }, fits: ed, handshake: true }],
  [SignatureScheme.rsa_pkcs1_sha256, { algorithm: { kind: "rsa-pkcs1", hash: "sha256" }, fits: rsa, handshake: false }],
  [SignatureScheme.rsa_pkcs1_sha384, { algorithm: { kind: "rsa-pkcs1", hash: "sha384" }, fits: rsa, handshake: false }],
  [SignatureScheme.rsa_pkcs1_sha512, { algorithm: { kind: "rsa-pkcs1", hash: "sha512" }, fits: rsa, handshake: false }]
])

/** The schemes we accept in CertificateVerify, in our order of preference. */
export const handshakeSignatureSchemes: ReadonlyArray<number> = [
  SignatureScheme.ecdsa_secp256r1_sha256,
  SignatureScheme.rsa_pss_rsae_sha256,
  SignatureScheme.ed25519,
  SignatureScheme.ecdsa_secp384r1_sha384,
  SignatureScheme.rsa_pss_rsae_sha384,
  SignatureScheme.rsa_pss_rsae_sha512
]

/** The schemes we accept in certificates (signature_algorithms_cert). */
export const certificateSignatureSchemes: ReadonlyArray<number> = [
  ...handshakeSignatureSchemes,
  SignatureScheme.rsa_pkcs1_sha256,
  SignatureScheme.rsa_pkcs1_sha384,
  SignatureScheme.rsa_pkcs1_sha512
]

/** The backend algorithm of a CertificateVerify scheme if `key` can use it, else undefined. */
export const handshakeSignatureAlgorithm = (scheme: number, key: PublicKey | PrivateKey): SignatureAlgorithm | undefined => {
  const info = schemes.get(scheme)
  return info !== undefined && info.handshake && info.fits(key) ? info.algorithm : undefined
}

/** The first scheme the peer offered (in its order) that our private key can sign with. */
export const chooseSignatureScheme = (offered: ReadonlyArray<number>, key: PrivateKey): number | undefined =>
  offered.find((scheme) => handshakeSignatureAlgorithm(scheme, key) !== undefined)

const CONTEXT_PAD = 64

const SERVER_CONTEXT = latin1Bytes("TLS 1.3, server CertificateVerify")
const CLIENT_CONTEXT = latin1Bytes("TLS 1.3, client CertificateVerify")

/**
 * RFC 8446 §4.4.3: what a CertificateVerify signs: 64 spaces, a context
 * string naming the signer's role, a zero byte, and the transcript hash.
 */
export const certificateVerifyInput = (signer: "client" | "server", transcriptHash: Uint8Array): Uint8Array => {
  const context = signer === "server" ? SERVER_CONTEXT : CLIENT_CONTEXT
  const out = new Uint8Array(CONTEXT_PAD + context.length + 1 + transcriptHash.length)
  out.fill(0x20, 0, CONTEXT_PAD)
  out.set(context, CONTEXT_PAD)
  out.set(transcriptHash, CONTEXT_PAD + context.length + 1)
  return out
}

const signers = new WeakMap<CryptoBackend, WeakMap<PrivateKey, Signer>>()

/** The backend's signer for `key`, prepared once and reused by every handshake. */
export const signerFor = (backend: CryptoBackend, key: PrivateKey): Signer => {
  let byKey = signers.get(backend)
  if (byKey === undefined) {
    byKey = new WeakMap()
    signers.set(backend, byKey)
  }
  let signer = byKey.get(key)
  if (signer === undefined) {
    signer = backend.createSigner(key)
    byKey.set(key, signer)
  }
  return signer
}

/**
 * RFC 8446 §4.4.3: checks a peer's CertificateVerify (its decoded body) —
 * a scheme we accept, that fits the certificate key, and a signature over
 * the transcript up to the Certificate. Returns the alert on failure.
 */
export const checkCertificateVerify = (
  backend: CryptoBackend,
  accepted: ReadonlyArray<number>,
  verify: { readonly scheme: number; readonly signature: Uint8Array },
  key: PublicKeyInfo,
  signer: "client" | "server",
  transcriptHash: Uint8Array
): TlsAlert | undefined => {
  if (!accepted.includes(verify.scheme)) return illegalParameter(`signature scheme ${verify.scheme} not offered`)
  const algorithm = handshakeSignatureAlgorithm(verify.scheme, key.key)
  if (algorithm === undefined) return illegalParameter(`signature scheme ${verify.scheme} does not fit the certificate key`)
  return backend.verify(algorithm, key, certificateVerifyInput(signer, transcriptHash), verify.signature)
    ? undefined
    : tlsAlert(AlertDescription.decrypt_error, `${signer} CertificateVerify signature does not verify`)
}
