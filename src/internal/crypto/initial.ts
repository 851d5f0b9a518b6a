import type { QuicVersion } from "../packet/version.js"
import type { CryptoBackend } from "./backend.js"
import { hkdfExpandLabel } from "./hkdf.js"
import { deriveDirectionalKeys, type DirectionalKeys } from "./packetKeys.js"
import { TLS_AES_128_GCM_SHA256 } from "./suite.js"

const EMPTY = new Uint8Array(0)

/**
 * RFC 9001 §5.2: Initial secrets, from the version's salt and the Destination
 * Connection ID of the client's first Initial packet. The labels "client in"
 * and "server in" are the same in QUIC v2 (RFC 9369 §3.3.2).
 */
export const initialSecrets = (
  backend: CryptoBackend,
  version: QuicVersion,
  clientDcid: Uint8Array
): { readonly client: Uint8Array; readonly server: Uint8Array } => {
  const initial = backend.hkdfExtract("sha256", version.initialSalt, clientDcid)
  return {
    client: hkdfExpandLabel(backend, "sha256", initial, "client in", EMPTY, 32),
    server: hkdfExpandLabel(backend, "sha256", initial, "server in", EMPTY, 32)
  }
}

/** Both directions' Initial packet keys. */
export interface InitialKeys {
  readonly client: DirectionalKeys
  readonly server: DirectionalKeys
}

/** RFC 9001 §5.2: Initial packets are protected with AEAD_AES_128_GCM and its SHA-256 key schedule. */
export const initialKeys = (
  backend: CryptoBackend,
  version: QuicVersion,
  clientDcid: Uint8Array
): InitialKeys => {
  const secrets = initialSecrets(backend, version, clientDcid)
  return {
    client: deriveDirectionalKeys(backend, TLS_AES_128_GCM_SHA256, version, secrets.client),
    server: deriveDirectionalKeys(backend, TLS_AES_128_GCM_SHA256, version, secrets.server)
  }
}
