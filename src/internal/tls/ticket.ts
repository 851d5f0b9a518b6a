import { latin1Bytes, latin1String } from "../codec/bytes.js"
import { BufferReader } from "../codec/reader.js"
import type { Aead, CryptoBackend } from "../crypto/backend.js"
import { AEAD_TAG_LENGTH } from "../crypto/backend.js"
import { type CipherSuite, cipherSuiteByCode } from "../crypto/suite.js"
import { ByteBuilder } from "./builder.js"

/**
 * Session tickets (RFC 8446 §4.6.1) for resumption and 0-RTT.
 *
 * The client keeps what it needs to offer the PSK later; the server keeps
 * nothing per ticket: its state travels inside the ticket, sealed with a
 * server-wide AES-256-GCM key.
 */

/** What a client remembers from a NewSessionTicket. */
export interface SessionTicket {
  readonly serverName: string
  readonly ticket: Uint8Array
  readonly suite: CipherSuite
  readonly psk: Uint8Array
  readonly ageAdd: number
  /** Unix milliseconds when the ticket arrived. */
  readonly receivedAt: number
  /** Seconds the server will honour it. */
  readonly lifetime: number
  /** RFC 9001 §4.6.1: 0xffffffff when 0-RTT is allowed, 0 otherwise. */
  readonly maxEarlyData: number
  readonly alpn: string
  /**
   * RFC 9000 §7.4.1: the server's transport parameters from the original
   * connection, which bound what a client may send in 0-RTT.
   */
  readonly transportParameters: Uint8Array
  /**
   * The QUIC version of the connection that received it (the negotiated one).
   * RFC 9369 §5: a resuming client starts in that version, the only one the
   * ticket is good for.
   */
  readonly quicVersion?: number | undefined
}

/** A store of tickets the client consults when it connects, keyed by server name. */
export interface TicketStore {
  /** Takes (and removes: tickets are single-use) a ticket for `serverName`, if any. */
  take(serverName: string, unixMillis: number): SessionTicket | undefined
  put(ticket: SessionTicket): void
}

/** RFC 8446 §4.6.1: tickets live at most seven days. */
export const MAX_TICKET_LIFETIME_SECONDS = 604800

/** The state a server seals into a ticket. */
export interface TicketState {
  readonly suite: CipherSuite
  readonly psk: Uint8Array
  readonly createdAt: number
  readonly lifetime: number
  readonly ageAdd: number
  readonly maxEarlyData: number
  readonly alpn: string
  /** Server configuration that must not change for 0-RTT to be accepted (its transport parameters). */
  readonly earlyDataContext: Uint8Array
  /** A random identifier for single-use enforcement. */
  readonly id: Uint8Array
}

const TICKET_FORMAT = 1
const NONCE_LENGTH = 12


const encodeState = (s: TicketState): Uint8Array =>
  new ByteBuilder()
    .u8(TICKET_FORMAT)
    .u16(s.suite.code)
    .u32(Math.floor(s.createdAt / 0x100000000))
    .u32(s.createdAt >>> 0)
    .u32(s.lifetime)
    .u32(s.ageAdd)
    .u32(s.maxEarlyData)
    .vector(1, latin1Bytes(s.alpn))
    .vector(1, s.psk)
    .vector(2, s.earlyDataContext)
    .vector(1, s.id)
    .finish()

const decodeState = (bytes: Uint8Array): TicketState | undefined => {
  const r = new BufferReader(bytes)
  if (r.u8() !== TICKET_FORMAT) return undefined
  const suite = cipherSuiteByCode(r.u16())
  const createdAt = r.u32() * 0x100000000 + r.u32()
  const lifetime = r.u32()
  const ageAdd = r.u32()
  const maxEarlyData = r.u32()
  const alpn = latin1String(r.bytesView(r.u8()))
  const psk = r.bytesView(r.u8()).slice()
  const earlyDataContext = r.bytesView(r.u16()).slice()
  const id = r.bytesView(r.u8()).slice()
  if (r.failed || r.remaining !== 0 || suite === undefined) return undefined
  return { suite, psk, createdAt, lifetime, ageAdd, maxEarlyData, alpn, earlyDataContext, id }
}

/** The associated data binding a ticket to the QUIC version it was issued under (RFC 9369 §5). */
const versionData = (quicVersion: number): Uint8Array =>
  Uint8Array.of(quicVersion >>> 24, (quicVersion >>> 16) & 0xff, (quicVersion >>> 8) & 0xff, quicVersion & 0xff)

/**
 * Seals and opens ticket state with one server-wide key. RFC 9369 §5: a
 * ticket is only good for the QUIC version of the connection that issued it,
 * so that version is the AEAD's associated data: opened under another, it
 * does not open, and the handshake is a full one.
 */
export class TicketSealer {
  private readonly aead: Aead

  constructor(
    private readonly backend: CryptoBackend,
    key: Uint8Array
  ) {
    this.aead = backend.createAead("aes-256-gcm", key)
  }

  seal(state: TicketState, quicVersion: number): Uint8Array {
    const plaintext = encodeState(state)
    const out = new Uint8Array(NONCE_LENGTH + plaintext.length + AEAD_TAG_LENGTH)
    const nonce = out.subarray(0, NONCE_LENGTH)
    this.backend.randomBytes(nonce)
    this.aead.seal(nonce, versionData(quicVersion), plaintext, out, NONCE_LENGTH)
    return out
  }

  /** The state inside `ticket`, or undefined for a ticket we did not issue (or one that was altered). */
  open(ticket: Uint8Array, quicVersion: number): TicketState | undefined {
    if (ticket.length < NONCE_LENGTH + AEAD_TAG_LENGTH) return undefined
    const out = new Uint8Array(ticket.length - NONCE_LENGTH - AEAD_TAG_LENGTH)
    const ok = this.aead.open(ticket.subarray(0, NONCE_LENGTH), versionData(quicVersion), ticket.subarray(NONCE_LENGTH), out, 0)
    return ok ? decodeState(out) : undefined
  }
}

/**
 * RFC 8446 §8.1: single-use tickets for 0-RTT anti-replay. Remembers the id
 * of every ticket used for early data until it expires; bounded, and when
 * full it refuses early data rather than forget (safe: the handshake then
 * proceeds without 0-RTT).
 */
export class UsedTickets {
  private readonly used = new Map<string, number>()

  constructor(private readonly capacity: number) {}

  /** Records `id` as used until `expiresAt`; false if it was already used or no room is left. */
  claim(id: Uint8Array, expiresAt: number, unixMillis: number): boolean {
    const key = latin1String(id)
    if (this.used.has(key)) return false
    if (this.used.size >= this.capacity) {
      for (const [k, expiry] of this.used) if (expiry <= unixMillis) this.used.delete(k)
      if (this.used.size >= this.capacity) return false
    }
    this.used.set(key, expiresAt)
    return true
  }

  get size(): number {
    return this.used.size
  }
}

/** An in-memory {@link TicketStore} holding a bounded number of tickets per server name. */
export class MemoryTicketStore implements TicketStore {
  private readonly tickets = new Map<string, Array<SessionTicket>>()

  constructor(private readonly perServer = 4) {}

  take(serverName: string, unixMillis: number): SessionTicket | undefined {
    const list = this.tickets.get(serverName)
    while (list !== undefined && list.length > 0) {
      const ticket = list.pop()!
      if (unixMillis < ticket.receivedAt + ticket.lifetime * 1000) return ticket
    }
    return undefined
  }

  put(ticket: SessionTicket): void {
    const list = this.tickets.get(ticket.serverName) ?? []
    list.push(ticket)
    if (list.length > this.perServer) list.shift()
    this.tickets.set(ticket.serverName, list)
  }
}
