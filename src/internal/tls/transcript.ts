import type { CryptoBackend, HashAlgorithm, RunningHash } from "../crypto/backend.js"
import { hashLength } from "../crypto/backend.js"
import { HandshakeType } from "./constants.js"

/**
 * The handshake transcript (RFC 8446 §4.4.1): every handshake message in
 * order. Its hash is asked for several times as the handshake goes on, so
 * it is kept running (each message is hashed once) from the first time an
 * algorithm is named. The messages themselves are kept too (a handshake is a
 * few kilobytes): a client may hash with a PSK's algorithm for its binders
 * before the server's suite names another.
 */
export class Transcript {
  private readonly messages: Array<Uint8Array> = []
  private running: { readonly backend: CryptoBackend; readonly algorithm: HashAlgorithm; readonly hash: RunningHash } | undefined

  add(message: Uint8Array): void {
    this.messages.push(message)
    this.running?.hash.update(message)
  }

  hash(backend: CryptoBackend, algorithm: HashAlgorithm): Uint8Array {
    return this.runningHash(backend, algorithm).digest()
  }

  /** The hash of the transcript followed by `extra`, without adding it. */
  hashWith(backend: CryptoBackend, algorithm: HashAlgorithm, extra: Uint8Array): Uint8Array {
    const hash = this.runningHash(backend, algorithm).copy()
    hash.update(extra)
    return hash.digest()
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
    this.running = undefined
    this.add(synthetic)
  }

  private runningHash(backend: CryptoBackend, algorithm: HashAlgorithm): RunningHash {
    const running = this.running
    if (running !== undefined && running.algorithm === algorithm && running.backend === backend) return running.hash
    const hash = backend.createHash(algorithm)
    for (const message of this.messages) hash.update(message)
    this.running = { backend, algorithm, hash }
    return hash
  }
}
