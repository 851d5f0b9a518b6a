import type { SocketAddress } from "./address.js"

/**
 * What the core reports to its driver (ARCHITECTURE.md §1): plain tagged
 * values, drained with `QuicEndpoint.pollEvent()`. `connection` is the
 * handle `connect` returned or `NewConnection` announced; `stream` a stream
 * id.
 */

/** Why a connection ended. */
export type CloseReason =
  /** This side called closeConnection (the code and reason it sent). */
  | { readonly _tag: "LocallyClosed"; readonly code: bigint; readonly reason: string }
  /** The peer's application closed the connection (CONNECTION_CLOSE 0x1d). */
  | { readonly _tag: "ApplicationClosed"; readonly code: bigint; readonly reason: string }
  /**
   * A transport error (CONNECTION_CLOSE 0x1c): sent by the peer when `remote`,
   * or detected here and sent to the peer. TLS alerts appear as 0x100 + alert.
   */
  | {
    readonly _tag: "TransportError"
    readonly code: number
    readonly frameType: number
    readonly reason: string
    readonly remote: boolean
    /**
     * Set when the close was a bug in this library: what its code threw while
     * working on this connection (the peer was sent INTERNAL_ERROR).
     */
    readonly defect?: unknown
  }
  /** Nothing was received for the idle timeout (RFC 9000 §10.1). */
  | { readonly _tag: "TimedOut" }
  /** The peer sent a stateless reset (RFC 9000 §10.3). */
  | { readonly _tag: "Reset" }
  /** The server speaks none of our versions (RFC 9000 §6.2). */
  | { readonly _tag: "VersionMismatch"; readonly serverVersions: ReadonlyArray<number> }
  /** The endpoint shut down or refused the connection before it could start. */
  | { readonly _tag: "EndpointClosed" }

export type QuicEvent =
  | { readonly _tag: "NewConnection"; readonly connection: number; readonly remote: SocketAddress }
  | { readonly _tag: "Connected"; readonly connection: number }
  | { readonly _tag: "ConnectionClosed"; readonly connection: number; readonly reason: CloseReason }
  | { readonly _tag: "HandshakeDataReady"; readonly connection: number }
  | { readonly _tag: "ZeroRttRejected"; readonly connection: number }
  | { readonly _tag: "PeerAddressChanged"; readonly connection: number; readonly previous: SocketAddress; readonly current: SocketAddress }
  | { readonly _tag: "StreamOpened"; readonly connection: number; readonly stream: number; readonly bidi: boolean }
  | { readonly _tag: "StreamReadable"; readonly connection: number; readonly stream: number }
  | { readonly _tag: "StreamWritable"; readonly connection: number; readonly stream: number }
  | { readonly _tag: "StreamFinished"; readonly connection: number; readonly stream: number }
  | { readonly _tag: "StreamStopped"; readonly connection: number; readonly stream: number; readonly code: bigint }
  | { readonly _tag: "StreamsAvailable"; readonly connection: number; readonly bidi: boolean }
  | { readonly _tag: "DatagramReceived"; readonly connection: number; readonly data: Uint8Array }
  | { readonly _tag: "DatagramsUnblocked"; readonly connection: number }
