/**
 * The asymmetric half of the portable backend: key exchange and signatures
 * over @noble/curves (x25519, Ed25519, P-256, P-384) and @noble/hashes, and
 * the bigint RSA of `./rsa.ts` (noble has no RSA). No `node:` import.
 *
 * noble-curves 2.x defaults that matter here: ECDSA `sign`/`verify` hash the
 * message with the curve's own hash unless `prehash: false` (X.509 pairs any
 * hash with any curve, so the digest is computed here and passed with
 * `prehash: false`); `verify` rejects high-S signatures unless `lowS: false`
 * (OpenSSL and most TLS peers produce them); signatures are compact unless
 * `format: "der"`; Ed25519 `verify` follows ZIP-215 unless `zip215: false`
 * (RFC 8032 strict decoding is used, as OpenSSL does).
 */
import { ed25519, x25519 } from "@noble/curves/ed25519.js"
import { p256, p384 } from "@noble/curves/nist.js"
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js"
import type {
  AsymmetricCrypto,
  EcCurve,
  KeyShare,
  NamedGroup,
  PrivateKey,
  PublicKeyInfo,
  SignatureAlgorithm,
  SignatureHash,
  Signer
} from "../internal/crypto/backend.js"
import { algorithmFits, fixedLengthInteger, isAllZero, unusableAlgorithm } from "./keyMaterial.js"
import {
  type RandomFill,
  type RsaHash,
  rsaPrivateKey,
  type RsaPublicKey,
  rsaPublicKey,
  rsaSignPkcs1v15,
  rsaSignPss,
  rsaVerifyPkcs1v15,
  rsaVerifyPss
} from "./rsa.js"

const RSA_HASHES: Record<SignatureHash, RsaHash> = {
  sha256: { name: "sha256", outputLength: 32, digest: (data) => sha256(data) },
  sha384: { name: "sha384", outputLength: 48, digest: (data) => sha384(data) },
  sha512: { name: "sha512", outputLength: 64, digest: (data) => sha512(data) }
}

const digest = (hash: SignatureHash, data: Uint8Array): Uint8Array => RSA_HASHES[hash].digest(data)

const CURVES: Record<EcCurve, { readonly ecdsa: typeof p256; readonly scalarLength: number }> = {
  "P-256": { ecdsa: p256, scalarLength: 32 },
  "P-384": { ecdsa: p384, scalarLength: 48 }
}

/** X25519 public values and secrets are 32 bytes; an uncompressed P-256 point is 65. */
const X25519_LENGTH = 32
const P256_UNCOMPRESSED_LENGTH = 65

// ---------------------------------------------------------------------------
// Key exchange (RFC 8446 §4.2.8, §7.4)
// ---------------------------------------------------------------------------

const x25519Share = (): KeyShare => {
  const { publicKey, secretKey } = x25519.keygen()
  return {
    group: "x25519",
    publicKey,
    computeSecret(peer) {
      if (!(peer instanceof Uint8Array) || peer.length !== X25519_LENGTH) return undefined
      try {
        // noble rejects low-order inputs itself; the all-zero check is kept as
        // the RFC 7748 §6.1 rule, whatever the library version does.
        const secret = x25519.getSharedSecret(secretKey, peer)
        return isAllZero(secret) ? undefined : secret
      } catch {
        return undefined
      }
    }
  }
}

const p256Share = (): KeyShare => {
  const secretKey = p256.utils.randomSecretKey()
  return {
    group: "secp256r1",
    publicKey: p256.getPublicKey(secretKey, false),
    computeSecret(peer) {
      // RFC 8446 §4.2.8.2: only the uncompressed form; noble would also take a compressed point.
      if (!(peer instanceof Uint8Array) || peer.length !== P256_UNCOMPRESSED_LENGTH || peer[0] !== 0x04) {
        return undefined
      }
      try {
        // Validates the point (on the curve, not infinity); the compressed encoding of the
        // shared point is 0x02/0x03 || x, and the ECDH secret is x (RFC 8446 §7.4.2).
        return p256.getSharedSecret(secretKey, peer, true).subarray(1)
      } catch {
        return undefined
      }
    }
  }
}

const generateKeyShare = (group: NamedGroup): KeyShare => {
  switch (group) {
    case "x25519":
      return x25519Share()
    case "secp256r1":
      return p256Share()
    default:
      throw new RangeError(`unsupported key-exchange group ${String(group)}`)
  }
}

// ---------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------

/** Parsed RSA public keys per key object (`null`: not a usable RSA key). */
const rsaKeys = new WeakMap<PublicKeyInfo, RsaPublicKey | null>()

const rsaKeyOf = (info: PublicKeyInfo): RsaPublicKey | undefined => {
  let cached = rsaKeys.get(info)
  if (cached === undefined) {
    const key = info.key
    cached = (key.type === "rsa" ? rsaPublicKey(key.modulus, key.exponent) : undefined) ?? null
    rsaKeys.set(info, cached)
  }
  return cached ?? undefined
}

const verifyUnchecked = (
  algorithm: SignatureAlgorithm,
  info: PublicKeyInfo,
  data: Uint8Array,
  signature: Uint8Array
): boolean => {
  const key = info.key
  if (!algorithmFits(algorithm, key.type)) return false
  switch (algorithm.kind) {
    case "rsa-pkcs1": {
      const rsa = rsaKeyOf(info)
      return rsa !== undefined && rsaVerifyPkcs1v15(rsa, RSA_HASHES[algorithm.hash], data, signature)
    }
    case "rsa-pss": {
      const rsa = rsaKeyOf(info)
      return rsa !== undefined &&
        rsaVerifyPss(rsa, RSA_HASHES[algorithm.hash], algorithm.saltLength, data, signature)
    }
    case "ecdsa": {
      if (key.type !== "ec") return false
      const curve = CURVES[key.curve] as (typeof CURVES)[EcCurve] | undefined
      if (curve === undefined) return false
      return curve.ecdsa.verify(signature, digest(algorithm.hash, data), key.point, {
        prehash: false,
        lowS: false,
        format: "der"
      })
    }
    case "ed25519": {
      if (key.type !== "ed25519") return false
      return ed25519.verify(signature, data, key.key, { zip215: false })
    }
  }
}

const verify = (
  algorithm: SignatureAlgorithm,
  info: PublicKeyInfo,
  data: Uint8Array,
  signature: Uint8Array
): boolean => {
  try {
    return verifyUnchecked(algorithm, info, data, signature)
  } catch {
    // noble throws for wrong lengths and undecodable encodings.
    return false
  }
}

// ---------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------

const createSigner = (key: PrivateKey, random: RandomFill): Signer => {
  switch (key.type) {
    case "rsa": {
      const rsa = rsaPrivateKey(key)
      return {
        key,
        sign(algorithm, data) {
          if (!algorithmFits(algorithm, "rsa")) throw unusableAlgorithm(algorithm, "rsa")
          if (algorithm.kind === "rsa-pkcs1") return rsaSignPkcs1v15(rsa, RSA_HASHES[algorithm.hash], data, random)
          if (algorithm.kind === "rsa-pss") {
            return rsaSignPss(rsa, RSA_HASHES[algorithm.hash], algorithm.saltLength, data, random)
          }
          throw unusableAlgorithm(algorithm, "rsa")
        }
      }
    }
    case "ec": {
      const curve = CURVES[key.curve] as (typeof CURVES)[EcCurve] | undefined
      if (curve === undefined) throw new RangeError(`unsupported EC curve ${String(key.curve)}`)
      const scalar = fixedLengthInteger(key.scalar, curve.scalarLength)
      if (scalar === undefined || !curve.ecdsa.utils.isValidSecretKey(scalar)) {
        throw new RangeError(`EC private key: scalar out of range for ${key.curve}`)
      }
      return {
        key,
        sign(algorithm, data) {
          if (algorithm.kind !== "ecdsa" || !algorithmFits(algorithm, "ec")) throw unusableAlgorithm(algorithm, "ec")
          // Hedged RFC 6979 nonces (extra entropy) and low-S output, DER-encoded.
          return curve.ecdsa.sign(digest(algorithm.hash, data), scalar, {
            prehash: false,
            format: "der",
            extraEntropy: true
          })
        }
      }
    }
    case "ed25519": {
      if (!(key.seed instanceof Uint8Array) || key.seed.length !== 32) {
        throw new RangeError("Ed25519 private key: the seed must be 32 bytes")
      }
      const seed = key.seed.slice()
      return {
        key,
        sign(algorithm, data) {
          if (!algorithmFits(algorithm, "ed25519")) throw unusableAlgorithm(algorithm, "ed25519")
          return ed25519.sign(data, seed)
        }
      }
    }
    default:
      throw new TypeError(`unsupported private key type ${String((key as { type?: unknown }).type)}`)
  }
}

/** The portable asymmetric primitives; `random` supplies RSA salts and blinding. */
export const makeNobleAsymmetricCrypto = (random: RandomFill): AsymmetricCrypto => ({
  generateKeyShare,
  verify,
  createSigner: (key) => createSigner(key, random)
})
