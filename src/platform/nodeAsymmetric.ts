/**
 * The asymmetric half of the `node:crypto` backend: key exchange and
 * signatures through OpenSSL `KeyObject`s.
 *
 * Public keys come from the DER SubjectPublicKeyInfo (one `KeyObject` per
 * `PublicKeyInfo`, cached); private keys are imported as JWK built from the
 * components (RSA, EC) or as PKCS#8 (Ed25519, whose JWK would need the public
 * half). RSA components are checked for consistency first (OpenSSL imports an
 * inconsistent key silently and only its CRT self-check would notice).
 */
import {
  constants,
  createECDH,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  type ECDH,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify
} from "node:crypto"
import type {
  AsymmetricCrypto,
  EcCurve,
  KeyShare,
  NamedGroup,
  PrivateKey,
  PublicKeyInfo,
  SignatureAlgorithm,
  Signer
} from "../internal/crypto/backend.js"
import {
  algorithmFits,
  fixedLengthInteger,
  isAllZero,
  isSmallOrderEd25519,
  stripLeadingZeros,
  unusableAlgorithm
} from "./keyMaterial.js"
import { rsaPrivateKey } from "./rsa.js"

/** Views bytes as a `Buffer` without copying (node's key APIs are typed for `Buffer`). */
const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** Views a node `Buffer` as a plain `Uint8Array` (no copy). */
const toUint8Array = (buffer: Buffer): Uint8Array => new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)

const base64Url = (bytes: Uint8Array): string => asBuffer(bytes).toString("base64url")

/** JWK form of an integer: big-endian without leading zeros (RFC 7518 §6.3). */
const jwkInteger = (bytes: Uint8Array): string => base64Url(stripLeadingZeros(bytes))

/** DER PKCS#8 prefix of an Ed25519 private key (RFC 8410 §7): the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex")

const X25519_LENGTH = 32
const P256_UNCOMPRESSED_LENGTH = 65

const CURVES: Record<EcCurve, { readonly openssl: string; readonly scalarLength: number }> = {
  "P-256": { openssl: "prime256v1", scalarLength: 32 },
  "P-384": { openssl: "secp384r1", scalarLength: 48 }
}

// ---------------------------------------------------------------------------
// Key exchange (RFC 8446 §4.2.8, §7.4)
// ---------------------------------------------------------------------------

interface X25519Pair {
  readonly privateKey: KeyObject
  readonly publicKey: Uint8Array
}

/**
 * The public key is exported by the key generation itself, never by
 * `KeyObject.export` afterwards: Node 20's export holds the key's mutex
 * while it allocates, a collection then may destroy the (already garbage)
 * key-generation job, whose destructor takes the same mutex, and the
 * process deadlocks (seen: a client stuck in a futex wait before its first
 * Initial, `KeyObjectHandle::ExportJWK` → GC → `~KeyGenJob` →
 * `uv_mutex_lock`). During `generateKeyPairSync` the job is still alive.
 * JWK, not DER: OpenSSL 3's DER encoder costs about 80 µs per key.
 */
const newX25519Pair = (): X25519Pair => {
  const { privateKey, publicKey } = generateKeyPairSync("x25519", { publicKeyEncoding: { format: "jwk" } } as object)
  // @types/node does not type the JWK encoding: the public key comes back as a JWK object.
  const jwk = publicKey as unknown as JsonWebKey
  return { privateKey, publicKey: new Uint8Array(Buffer.from(jwk.x ?? "", "base64url")) }
}

/**
 * X25519 key pairs made ahead of need. Making one costs 40–100 µs, and a
 * handshake needs one at its most urgent moment (the client's first flight,
 * the server's answer to a ClientHello); a ready pair is taken instead, and
 * its replacement is made after the current turn of the event loop, while
 * the endpoint waits on the network. Each pair is handed out once, then
 * forgotten here.
 */
const READY_X25519_PAIRS = 2
const readyX25519: Array<X25519Pair> = []
let refillScheduled = false

const refillX25519 = (): void => {
  refillScheduled = false
  while (readyX25519.length < READY_X25519_PAIRS) readyX25519.push(newX25519Pair())
}

const takeX25519Pair = (): X25519Pair => {
  const pair = readyX25519.pop() ?? newX25519Pair()
  if (!refillScheduled) {
    refillScheduled = true
    // Unreferenced: a refill never keeps a process alive.
    setImmediate(refillX25519).unref()
  }
  return pair
}

const x25519Share = (): KeyShare => {
  const { privateKey, publicKey } = takeX25519Pair()
  return {
    group: "x25519",
    publicKey,
    computeSecret(peer) {
      if (!(peer instanceof Uint8Array) || peer.length !== X25519_LENGTH) return undefined
      try {
        const peerKey = createPublicKey({
          key: { kty: "OKP", crv: "X25519", x: asBuffer(peer).toString("base64url") },
          format: "jwk"
        })
        // OpenSSL fails the derivation itself when the result is all zero.
        const secret = toUint8Array(diffieHellman({ privateKey, publicKey: peerKey }))
        return secret.length !== X25519_LENGTH || isAllZero(secret) ? undefined : secret
      } catch {
        return undefined
      }
    }
  }
}

const p256Share = (): KeyShare => {
  const ecdh: ECDH = createECDH(CURVES["P-256"].openssl)
  const publicKey = toUint8Array(ecdh.generateKeys())
  return {
    group: "secp256r1",
    publicKey,
    computeSecret(peer) {
      // RFC 8446 §4.2.8.2: only the uncompressed form (OpenSSL would also decode a compressed one).
      if (!(peer instanceof Uint8Array) || peer.length !== P256_UNCOMPRESSED_LENGTH || peer[0] !== 0x04) {
        return undefined
      }
      try {
        // Throws for a point that is not on the curve; the result is x, padded to 32 bytes.
        const secret = toUint8Array(ecdh.computeSecret(peer))
        return secret.length === 32 ? secret : undefined
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

/** One `KeyObject` per `PublicKeyInfo` (`null`: the SPKI did not parse, or is not a usable key). */
const publicKeys = new WeakMap<PublicKeyInfo, KeyObject | null>()

/**
 * The keys of the last {@link RECENT_KEYS} distinct public keys, by their
 * exact bytes: a client that connects again and again to one server parses
 * the same certificate each time (a new `PublicKeyInfo`), and importing its
 * key into OpenSSL costs more than the signature check it is used for. Only
 * byte-identical input (the DER SPKI and the parsed key material) hits, and
 * an import is a pure function of it, so nothing about verification changes;
 * the map is bounded (oldest entry out first), whatever peers send.
 */
const RECENT_KEYS = 32
const recentKeys = new Map<string, KeyObject | null>()

const latin1 = (bytes: Uint8Array): string => asBuffer(bytes).toString("latin1")

const publicKeyId = (info: PublicKeyInfo): string => {
  const key = info.key
  switch (key.type) {
    case "ec":
      return `ec:${key.curve}:${latin1(key.point)}:${latin1(info.spki)}`
    case "ed25519":
      return `ed25519:${latin1(key.key)}:${latin1(info.spki)}`
    case "rsa":
      return `rsa:${key.modulus.length}:${latin1(key.modulus)}:${latin1(key.exponent)}:${latin1(info.spki)}`
  }
}

/**
 * OpenSSL accepts Ed25519 public keys of small order, under which one fixed
 * signature verifies for every message; they are refused here (as noble's
 * strict RFC 8032 mode does). The raw key is the last 32 bytes of the SPKI.
 */
const usableKeyObject = (key: KeyObject, info: PublicKeyInfo): boolean =>
  key.asymmetricKeyType !== "ed25519" || (info.key.type === "ed25519" && !isSmallOrderEd25519(info.key.key))

/**
 * EC and Ed25519 keys go to OpenSSL as JWK: its DER decoder costs about
 * 100 µs per key (OpenSSL 3), a JWK import about 13 µs, and one key is
 * imported per handshake. OpenSSL still checks that the point is on the curve.
 */
const jwkOf = (key: PublicKeyInfo["key"]): JsonWebKey | undefined => {
  switch (key.type) {
    case "ec": {
      // Uncompressed points only (SEC 1 §2.3.3); anything else takes the DER path.
      if (key.point[0] !== 0x04) return undefined
      const half = (key.point.length - 1) / 2
      return {
        kty: "EC",
        crv: key.curve,
        x: asBuffer(key.point.subarray(1, 1 + half)).toString("base64url"),
        y: asBuffer(key.point.subarray(1 + half)).toString("base64url")
      }
    }
    case "ed25519":
      return { kty: "OKP", crv: "Ed25519", x: asBuffer(key.key).toString("base64url") }
    default:
      return undefined
  }
}

/**
 * An id-RSASSA-PSS key (RFC 4055 §1.2) becomes an OpenSSL "rsa-pss" key that
 * refuses PKCS#1 v1.5 and enforces the SPKI's PSS parameters. The core reads
 * such keys as plain RSA and leaves those restrictions to its own policy, and
 * the portable backend cannot see them, so the key is rebuilt from its
 * modulus and exponent: both backends then give the same answers.
 */
const plainRsaKeyObject = (info: PublicKeyInfo): KeyObject | undefined => {
  const key = info.key
  if (key.type !== "rsa") return undefined
  return createPublicKey({ key: { kty: "RSA", n: jwkInteger(key.modulus), e: jwkInteger(key.exponent) }, format: "jwk" })
}

const publicKeyObject = (info: PublicKeyInfo): KeyObject | undefined => {
  let cached = publicKeys.get(info)
  if (cached !== undefined) return cached ?? undefined
  const id = publicKeyId(info)
  cached = recentKeys.get(id)
  if (cached === undefined) {
    try {
      const jwk = jwkOf(info.key)
      let key: KeyObject | undefined = jwk !== undefined
        ? createPublicKey({ key: jwk, format: "jwk" })
        : createPublicKey({ key: asBuffer(info.spki), format: "der", type: "spki" })
      if (key.asymmetricKeyType === "rsa-pss") key = plainRsaKeyObject(info)
      cached = key !== undefined && usableKeyObject(key, info) ? key : null
    } catch {
      cached = null
    }
    if (recentKeys.size >= RECENT_KEYS) recentKeys.delete(recentKeys.keys().next().value!)
    recentKeys.set(id, cached)
  }
  publicKeys.set(info, cached)
  return cached ?? undefined
}

/** Whether OpenSSL's view of the key agrees with the parsed key and the algorithm. */
const keyObjectFits = (algorithm: SignatureAlgorithm, info: PublicKeyInfo, keyObject: KeyObject): boolean => {
  const type = keyObject.asymmetricKeyType
  switch (algorithm.kind) {
    case "rsa-pkcs1":
    case "rsa-pss":
      return type === "rsa"
    case "ecdsa": {
      if (type !== "ec" || info.key.type !== "ec") return false
      const curve = CURVES[info.key.curve] as (typeof CURVES)[EcCurve] | undefined
      return curve !== undefined && keyObject.asymmetricKeyDetails?.namedCurve === curve.openssl
    }
    case "ed25519":
      return type === "ed25519"
  }
}

const verify = (
  algorithm: SignatureAlgorithm,
  info: PublicKeyInfo,
  data: Uint8Array,
  signature: Uint8Array
): boolean => {
  try {
    if (!algorithmFits(algorithm, info.key.type)) return false
    const key = publicKeyObject(info)
    if (key === undefined || !keyObjectFits(algorithm, info, key)) return false
    switch (algorithm.kind) {
      case "rsa-pkcs1":
        return nodeVerify(algorithm.hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature)
      case "rsa-pss":
        return nodeVerify(
          algorithm.hash,
          data,
          { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: algorithm.saltLength },
          signature
        )
      case "ecdsa":
        return nodeVerify(algorithm.hash, data, { key, dsaEncoding: "der" }, signature)
      case "ed25519":
        return nodeVerify(null, data, key, signature)
    }
  } catch {
    // OpenSSL throws for some malformed signatures and key/parameter mismatches.
    return false
  }
}

// ---------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------

const rsaKeyObject = (key: Extract<PrivateKey, { type: "rsa" }>): KeyObject => {
  rsaPrivateKey(key) // throws for inconsistent components
  const jwk: JsonWebKey = {
    kty: "RSA",
    n: jwkInteger(key.modulus),
    e: jwkInteger(key.publicExponent),
    d: jwkInteger(key.privateExponent),
    p: jwkInteger(key.prime1),
    q: jwkInteger(key.prime2),
    dp: jwkInteger(key.exponent1),
    dq: jwkInteger(key.exponent2),
    qi: jwkInteger(key.coefficient)
  }
  return createPrivateKey({ key: jwk, format: "jwk" })
}

const ecKeyObject = (key: Extract<PrivateKey, { type: "ec" }>): KeyObject => {
  const curve = CURVES[key.curve] as (typeof CURVES)[EcCurve] | undefined
  if (curve === undefined) throw new RangeError(`unsupported EC curve ${String(key.curve)}`)
  const scalar = fixedLengthInteger(key.scalar, curve.scalarLength)
  if (scalar === undefined) throw new RangeError(`EC private key: scalar out of range for ${key.curve}`)
  // JWK needs the public point too: OpenSSL computes it (and rejects 0 and scalars >= n).
  const ecdh = createECDH(curve.openssl)
  try {
    ecdh.setPrivateKey(asBuffer(scalar))
  } catch {
    throw new RangeError(`EC private key: scalar out of range for ${key.curve}`)
  }
  const point = ecdh.getPublicKey()
  const coordinate = curve.scalarLength
  return createPrivateKey({
    key: {
      kty: "EC",
      crv: key.curve,
      d: base64Url(scalar),
      x: base64Url(point.subarray(1, 1 + coordinate)),
      y: base64Url(point.subarray(1 + coordinate))
    },
    format: "jwk"
  })
}

const ed25519KeyObject = (key: Extract<PrivateKey, { type: "ed25519" }>): KeyObject => {
  if (!(key.seed instanceof Uint8Array) || key.seed.length !== 32) {
    throw new RangeError("Ed25519 private key: the seed must be 32 bytes")
  }
  return createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, key.seed]),
    format: "der",
    type: "pkcs8"
  })
}

const createSigner = (key: PrivateKey): Signer => {
  switch (key.type) {
    case "rsa": {
      const keyObject = rsaKeyObject(key)
      return {
        key,
        sign(algorithm, data) {
          if (!algorithmFits(algorithm, "rsa")) throw unusableAlgorithm(algorithm, "rsa")
          if (algorithm.kind === "rsa-pkcs1") {
            return toUint8Array(
              nodeSign(algorithm.hash, data, { key: keyObject, padding: constants.RSA_PKCS1_PADDING })
            )
          }
          if (algorithm.kind === "rsa-pss") {
            return toUint8Array(nodeSign(algorithm.hash, data, {
              key: keyObject,
              padding: constants.RSA_PKCS1_PSS_PADDING,
              saltLength: algorithm.saltLength
            }))
          }
          throw unusableAlgorithm(algorithm, "rsa")
        }
      }
    }
    case "ec": {
      const keyObject = ecKeyObject(key)
      return {
        key,
        sign(algorithm, data) {
          if (algorithm.kind !== "ecdsa" || !algorithmFits(algorithm, "ec")) throw unusableAlgorithm(algorithm, "ec")
          return toUint8Array(nodeSign(algorithm.hash, data, { key: keyObject, dsaEncoding: "der" }))
        }
      }
    }
    case "ed25519": {
      const keyObject = ed25519KeyObject(key)
      return {
        key,
        sign(algorithm, data) {
          if (!algorithmFits(algorithm, "ed25519")) throw unusableAlgorithm(algorithm, "ed25519")
          return toUint8Array(nodeSign(null, data, keyObject))
        }
      }
    }
    default:
      throw new TypeError(`unsupported private key type ${String((key as { type?: unknown }).type)}`)
  }
}

/** The `node:crypto` asymmetric primitives. */
export const makeNodeAsymmetricCrypto = (): AsymmetricCrypto => ({ generateKeyShare, verify, createSigner })
