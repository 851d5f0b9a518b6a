/** Test-only: starts and stops the quic-go reference peer (../shared/peers/README.md). */
import { type ChildProcess, spawn } from "node:child_process"
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

export interface PeerProcess {
  readonly process: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
  stop(): Promise<void>
}

export const runPeer = (args: ReadonlyArray<string>, readyText?: string): Promise<PeerProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(QUICGO_PEER!, args, { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)))
    const peer: PeerProcess = {
      process: child,
      stdout: () => out,
      stderr: () => err,
      exited,
      stop: async () => {
        if (child.exitCode === null) child.kill("SIGTERM")
        await exited
      }
    }
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()))
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString()
      if (readyText !== undefined && err.includes(readyText)) resolve(peer)
    })
    child.on("error", reject)
    if (readyText === undefined) resolve(peer)
    else void exited.then((code) => reject(new Error(`quicgo-peer exited (${code}) before ready: ${err}`)))
  })
