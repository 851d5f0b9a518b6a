import type { CryptoBackend, HashAlgorithm } from "../crypto/backend.js"
import { hashLength } from "../crypto/backend.js"
import { HandshakeType } from "./constants.js"

/**
 * The handshake transcript (RFC 8446 §4.4.1): every handshake message in
 * order, hashed on demand. The hash is only known once the cipher suite is,
 * so the messages themselves are kept (a handshake is a few kilobytes).
 */
export class Transcript {
  private readonly messages: Array<Uint8Array> = []
  private length = 0

  add(message: Uint8Array): void {
    this.messages.push(message)
    this.length += message.length
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length)
    let offset = 0
    for (const m of this.messages) {
      out.set(m, offset)
      offset += m.length
    }
    return out
  }

  hash(backend: CryptoBackend, algorithm: HashAlgorithm): Uint8Array {
    return backend.hash(algorithm, this.bytes())
  }

  /** The hash of the transcript followed by `extra`, without adding it. */
  hashWith(backend: CryptoBackend, algorithm: HashAlgorithm, extra: Uint8Array): Uint8Array {
    const base = this.bytes()
    const all = new Uint8Array(base.length + extra.length)
    all.set(base)
    all.set(extra, base.length)
    return backend.hash(algorithm, all)
  }

  /**
   * RFC 8446 §4.4.1: after a HelloRetryRequest, ClientHello1 is replaced by
   * message_hash(Hash(ClientHello1)) so both sides hash the same thing.
   */
  replaceWithMessageHash(backend: CryptoBackend, algorithm: HashAlgorithm): void {
    const digest = this.hash(backend, algorithm)
    const synthetic = new Uint8Array(4 + hashLength(algorithm))
    synthetic[0] = HandshakeType.message_hash
    synthetic[3] = digest.length
    synthetic.set(digest, 4)
    this.messages.length = 0
    this.length = 0
    this.add(synthetic)
  }
}
