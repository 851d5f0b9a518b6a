/** Test-only: where the quic-go reference peer and its certificate are (../shared/peers/README.md), and a free UDP port for it. */
import { createSocket } from "node:dgram"
import { dirname, join } from "node:path"

/** The peer binary, from QUICGO_PEER; tests that need it are skipped (naming the variable) when it is unset. */
export const QUICGO_PEER = process.env.QUICGO_PEER
export const peerDir = (): string => dirname(QUICGO_PEER ?? "/nonexistent/quicgo-peer")
export const peerCert = (): string => join(peerDir(), "cert.pem")
export const peerKey = (): string => join(peerDir(), "key.pem")

export const freePort = async (): Promise<number> => {
  const socket = createSocket("udp4")
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()))
  const port = socket.address().port
  await new Promise<void>((resolve) => socket.close(() => resolve()))
  return port
}
