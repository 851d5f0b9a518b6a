/**
 * tshark as an independent QUIC decoder for tests and the interop runner:
 * capture real UDP traffic on the loopback interface, then let Wireshark's
 * own QUIC dissector decrypt it with a key-log file. Nothing here uses our
 * codec, so a packet tshark decrypts proves the key-log line that unlocked it.
 *
 * - `tsharkPath`: `$TSHARK` or `tshark` on PATH; `undefined` when neither runs.
 * - `capture({ ports, file })`: scoped; starts `tshark -i lo -f "udp port N ..." -w file`
 *   and returns once a canary datagram shows up in the file, i.e. once the
 *   capture is really running. `stop` sends another canary, waits for it (all
 *   earlier packets are then on disk), sends SIGINT and waits for exit; the
 *   scope's finalizer kills tshark whatever happened.
 * - `decode({ file, port, keyLogFile })`: `tshark -r` with the key log, the port
 *   decoded as QUIC, `-T json`; one `QuicPacket` per QUIC packet (coalesced
 *   packets are separate entries).
 */
import { Data, Duration, Effect, type Scope } from "effect"
import { execFileSync, spawn, type ChildProcess } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import * as dgram from "node:dgram"
import * as fs from "node:fs"

export class TsharkError extends Data.TaggedError("TsharkError")<{ readonly message: string }> {}

const locate = (): string | undefined => {
  const candidates = [process.env["TSHARK"], "tshark"].filter((c): c is string => c !== undefined && c !== "")
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ["--version"], { stdio: "ignore", timeout: 10_000 })
      return candidate
    } catch {
      // not installed or not runnable
    }
  }
  return undefined
}

/** The tshark binary, or `undefined` when it is not installed (tests skip). */
export const tsharkPath: string | undefined = locate()

/** The first line of `tshark --version`, e.g. "TShark (Wireshark) 4.0.17 (...)". */
export const tsharkVersion = (): string =>
  tsharkPath === undefined ? "not installed" :
    execFileSync(tsharkPath, ["--version"], { encoding: "utf8", timeout: 10_000 }).split("\n")[0] ?? ""

const binary = (): Effect.Effect<string, TsharkError> =>
  tsharkPath === undefined ? Effect.fail(new TsharkError({ message: "tshark is not installed" })) : Effect.succeed(tsharkPath)

// ---- capture -------------------------------------------------------------------

export interface Capture {
  readonly file: string
  /**
   * Waits until everything sent so far is in the file, then stops tshark and
   * waits for it to exit; fails when the capture dropped packets. `captured`
   * is tshark's count (canaries included), when it printed one.
   */
  readonly stop: Effect.Effect<{ readonly captured: number | undefined }, TsharkError>
}

export interface CaptureOptions {
  /** Every UDP datagram to or from these ports is captured. */
  readonly ports: ReadonlyArray<number>
  /** The pcapng file to write. */
  readonly file: string
  readonly interface?: string
  /** How long tshark may take to start capturing (default 20 s). */
  readonly startTimeout?: Duration.DurationInput
  /** tshark stops by itself after this long, should this process die without stopping it (default 5 minutes). */
  readonly maxDuration?: Duration.DurationInput
}

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null

/** Resolves when `child` exits, or after `millis`; true when it exited. */
const waitExit = (child: ChildProcess, millis: number): Promise<boolean> =>
  exited(child) ? Promise.resolve(true) : new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off("exit", onExit)
      resolve(false)
    }, millis)
    const onExit = () => {
      clearTimeout(timer)
      resolve(true)
    }
    child.once("exit", onExit)
  })

const fileContains = (file: string, needle: Buffer): boolean => {
  try {
    return fs.readFileSync(file).includes(needle)
  } catch {
    return false
  }
}

/**
 * Starts capturing `udp port <port>` on loopback. The canary socket sends
 * datagrams to itself (its port is in the capture filter too), so it never
 * touches the endpoints under test, and `decode` shows only `port`.
 */
export const capture = (options: CaptureOptions): Effect.Effect<Capture, TsharkError, Scope.Scope> =>
  Effect.gen(function*() {
    const tshark = yield* binary()
    const canary = yield* Effect.acquireRelease(
      Effect.async<dgram.Socket, TsharkError>((resume) => {
        const socket = dgram.createSocket("udp4")
        socket.on("error", () => {})
        socket.bind(0, "127.0.0.1", () => resume(Effect.succeed(socket)))
      }),
      (socket) => Effect.sync(() => socket.close())
    )
    const canaryPort = canary.address().port
    const sendCanary = (token: Buffer) => canary.send(token, canaryPort, "127.0.0.1")

    try {
      fs.rmSync(options.file, { force: true })
    } catch {
      // nothing to remove
    }
    let stderr = ""
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawn(tshark, [
          "-i", options.interface ?? "lo",
          "-f", [...options.ports, canaryPort].map((port) => `udp port ${port}`).join(" or "),
          "-w", options.file,
          "-a", `duration:${Math.ceil(Duration.toSeconds(Duration.decode(options.maxDuration ?? "5 minutes")))}`,
          "-q"
        ], { stdio: ["ignore", "ignore", "pipe"] })
        child.stderr?.setEncoding("utf8")
        child.stderr?.on("data", (chunk: string) => {
          stderr += chunk
        })
        child.on("error", (error) => {
          stderr += `\nspawn error: ${error.message}`
        })
        return child
      }),
      (child) =>
        Effect.promise(async () => {
          if (exited(child)) return
          child.kill("SIGINT")
          if (await waitExit(child, 5_000)) return
          child.kill("SIGKILL")
          await waitExit(child, 5_000)
        })
    )

    /** Sends canaries until one is in the file: the capture is running and has flushed it. */
    const barrier = (timeout: Duration.DurationInput, what: string) =>
      Effect.gen(function*() {
        const token = randomBytes(16)
        while (!fileContains(options.file, token)) {
          if (exited(child)) {
            return yield* Effect.fail(new TsharkError({ message: `tshark exited (${child.exitCode ?? child.signalCode}) ${what}: ${stderr.trim()}` }))
          }
          sendCanary(token)
          yield* Effect.sleep("25 millis")
        }
      }).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new TsharkError({ message: `tshark did not capture a canary ${what} within ${Duration.format(Duration.decode(timeout))}: ${stderr.trim()}` })
        })
      )

    yield* barrier(options.startTimeout ?? "20 seconds", "at start")

    const stop = Effect.gen(function*() {
      if (exited(child)) return yield* Effect.fail(new TsharkError({ message: `tshark exited early: ${stderr.trim()}` }))
      yield* barrier("10 seconds", "at stop")
      child.kill("SIGINT")
      const done = yield* Effect.promise(() => waitExit(child, 10_000))
      if (!done) return yield* Effect.fail(new TsharkError({ message: `tshark did not exit after SIGINT: ${stderr.trim()}` }))
      if (child.exitCode !== 0 && child.signalCode !== "SIGINT") {
        return yield* Effect.fail(new TsharkError({ message: `tshark exited with ${child.exitCode ?? child.signalCode}: ${stderr.trim()}` }))
      }
      // "N packets captured", and "(M packets dropped ...)" when the capture lost some.
      const captured = /(\d+) packets? captured/.exec(stderr)
      const dropped = [...stderr.matchAll(/(\d+) packets? dropped/g)].reduce((n, m) => n + Number(m[1]), 0)
      if (dropped > 0) {
        return yield* Effect.fail(new TsharkError({ message: `the capture dropped ${dropped} packets: ${stderr.trim()}` }))
      }
      return { captured: captured === null ? undefined : Number(captured[1]) }
    })
    return { file: options.file, stop }
  })

// ---- decode --------------------------------------------------------------------

export type PacketType = "initial" | "0rtt" | "handshake" | "retry" | "1rtt" | "version-negotiation" | "unknown"

/** Where a packet's datagram came from and went, as the frame, IP and UDP layers say. */
export interface DatagramInfo {
  /** The capture's frame number (one UDP datagram). */
  readonly frame: number
  /** Seconds since the capture's first frame. */
  readonly time: number
  readonly srcAddress: string
  readonly dstAddress: string
  readonly srcPort: number
  readonly dstPort: number
  /** The UDP payload length of the datagram that carried this packet (shared by coalesced packets). */
  readonly datagramBytes: number
  /** A digest of the datagram's bytes: the same datagram seen on two legs of a relay has the same one. */
  readonly payloadDigest: string
}

export interface QuicPacket extends DatagramInfo {
  /** Connection IDs in lower-case hex; long headers carry both, short headers the destination. */
  readonly dcid?: string
  readonly scid?: string
  /** Initial packets: the length of the token. */
  readonly tokenLength?: number
  readonly header: "long" | "short"
  readonly type: PacketType
  /** Long headers only. */
  readonly version?: number
  /** Present once header protection was removed. */
  readonly packetNumber?: bigint
  /** Short headers only, once header protection was removed. */
  readonly keyPhase?: 0 | 1
  /** Header protection removed, payload decrypted into frames, no decryption error. */
  readonly decrypted: boolean
  /** The expert-info message when tshark could not decrypt the packet. */
  readonly failure?: string
  readonly frameTypes: ReadonlyArray<number>
  /** The TLS ClientHello's random (lower-case hex) when this packet carries one that tshark read. */
  readonly clientRandom?: string
  /** The cipher suite of the TLS ServerHello this packet carries (e.g. 0x1301). */
  readonly cipherSuite?: number
  /** The TLS handshake message types this packet carries (1 ClientHello, 11 Certificate, …). */
  readonly tlsMessages: ReadonlyArray<number>
  /** initial_max_streams_bidi of the transport parameters this packet carries. */
  readonly maxStreamsBidi?: number
  /** The error codes of the CONNECTION_CLOSE frames this packet carries. */
  readonly closeCodes: ReadonlyArray<number>
  /** The offsets of the CRYPTO frames this packet carries. */
  readonly cryptoOffsets: ReadonlyArray<number>
}

export interface DecodeOptions {
  readonly file: string
  /** The UDP port to decode as QUIC (only datagrams to or from it are returned). */
  readonly port: number
  /** Further ports of the same endpoint's connections (a client that moved to a server's preferred address). */
  readonly morePorts?: ReadonlyArray<number>
  /** The NSS key-log file; `undefined` decodes without one. */
  readonly keyLogFile?: string
  readonly timeout?: Duration.DurationInput
}

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
type JsonObject = { readonly [key: string]: Json }

const isObject = (j: Json | undefined): j is JsonObject => typeof j === "object" && j !== null && !Array.isArray(j)
/** `--no-duplicate-keys` turns repeated keys into arrays; a single one stays a value. */
const all = (j: Json | undefined): ReadonlyArray<Json> => j === undefined ? [] : Array.isArray(j) ? j : [j as Json]
const str = (j: Json | undefined): string | undefined => typeof j === "string" ? j : undefined

/** Every value under `key` anywhere in the tree, not descending into matches. */
const findAll = (j: Json | undefined, key: string, out: Array<Json> = []): Array<Json> => {
  if (Array.isArray(j)) for (const item of j) findAll(item, key, out)
  else if (isObject(j)) {
    for (const [k, v] of Object.entries(j)) {
      if (k === key) out.push(...all(v))
      else findAll(v, key, out)
    }
  }
  return out
}

/** The first value under `key`, searching only `quic.*` subtrees of this packet (not nested TLS). */
const field = (packet: JsonObject, key: string): string | undefined => {
  const direct = str(all(packet[key])[0])
  if (direct !== undefined) return direct
  const short = all(packet["quic.short"]).find(isObject)
  return short === undefined ? undefined : str(all(short[key])[0])
}

const longTypes: Record<string, PacketType> = { "0": "initial", "1": "0rtt", "2": "handshake", "3": "retry" }
const longTypesV2: Record<string, PacketType> = { "1": "initial", "2": "0rtt", "3": "handshake", "0": "retry" }

const hex = (text: string | undefined): string | undefined => text?.replaceAll(":", "").toLowerCase()

const parsePacket = (datagram: DatagramInfo, q: JsonObject): QuicPacket => {
  const form = field(q, "quic.header_form")
  const header = form === "0" ? "short" : "long"
  const versionText = field(q, "quic.version")
  const version = versionText === undefined ? undefined : Number.parseInt(versionText, 16)
  let type: PacketType
  if (header === "short") type = "1rtt"
  else if (version === 0) type = "version-negotiation"
  else {
    const v2 = field(q, "quic.long.packet_type_v2")
    const v1 = field(q, "quic.long.packet_type")
    type = (v2 !== undefined ? longTypesV2[v2] : v1 !== undefined ? longTypes[v1] : undefined) ?? "unknown"
  }
  const pn = field(q, "quic.packet_number")
  const kp = field(q, "quic.key_phase")
  const frames = all(q["quic.frame"]).filter(isObject)
  const frameTypes = frames.flatMap((f) => {
    const t = str(all(f["quic.frame_type"])[0])
    return t === undefined ? [] : [Number(t)]
  })
  // tshark marks a failure with the quic.decryption_failed expert item (first
  // failure per connection and level) and leaves the ciphertext as
  // quic.remaining_payload with no frames (every later failure).
  const experts = findAll(q, "_ws.expert").filter(isObject).filter((e) => "quic.decryption_failed" in e)
  const failure = experts.map((e) => str(e["_ws.expert.message"]) ?? "decryption failed")[0]
  const hasRemaining = q["quic.remaining_payload"] !== undefined
  const tlsMessages = findAll(q, "tls.handshake").filter(isObject)
  const tlsMessage = (type: string) => tlsMessages.find((h) => str(all(h["tls.handshake.type"])[0]) === type)
  const clientHello = tlsMessage("1")
  const random = clientHello === undefined ? undefined : str(all(clientHello["tls.handshake.random"])[0])
  const serverHello = tlsMessage("2")
  const suite = serverHello === undefined ? undefined : str(all(serverHello["tls.handshake.ciphersuite"])[0])
  const decrypted = type === "version-negotiation" || type === "retry"
    ? true
    : pn !== undefined && frameTypes.length > 0 && failure === undefined && !hasRemaining
  const dcid = hex(field(q, "quic.dcid"))
  const scid = hex(field(q, "quic.scid"))
  const tokenLength = field(q, "quic.token_length")
  const maxStreamsBidi = str(findAll(q, "tls.quic.parameter.initial_max_streams_bidi")[0])
  const closeCodes = [...findAll(q, "quic.cc.error_code"), ...findAll(q, "quic.cc.error_code.app")]
    .flatMap((code) => typeof code === "string" ? [Number(code)] : [])
  const cryptoOffsets = frames.flatMap((f) => {
    const offset = str(all(f["quic.crypto.offset"])[0])
    return offset === undefined ? [] : [Number(offset)]
  })
  return {
    ...datagram,
    ...(dcid !== undefined ? { dcid } : {}),
    ...(scid !== undefined ? { scid } : {}),
    ...(tokenLength !== undefined ? { tokenLength: Number(tokenLength) } : {}),
    header,
    type,
    ...(version !== undefined ? { version } : {}),
    ...(pn !== undefined ? { packetNumber: BigInt(pn) } : {}),
    ...(kp !== undefined ? { keyPhase: (kp === "1" || kp === "True" ? 1 : 0) as 0 | 1 } : {}),
    decrypted,
    ...(failure !== undefined ? { failure } : hasRemaining && !decrypted ? { failure: "payload left encrypted" } : {}),
    frameTypes,
    ...(random !== undefined ? { clientRandom: random.replaceAll(":", "").toLowerCase() } : {}),
    ...(suite !== undefined ? { cipherSuite: Number(suite) } : {}),
    tlsMessages: tlsMessages.flatMap((h) => {
      const t = str(all(h["tls.handshake.type"])[0])
      return t === undefined ? [] : [Number(t)]
    }),
    ...(maxStreamsBidi !== undefined ? { maxStreamsBidi: Number(maxStreamsBidi) } : {}),
    closeCodes,
    cryptoOffsets
  }
}

/** Parses `tshark -T json --no-duplicate-keys` output into QUIC packets. */
export const parseDecode = (text: string): ReadonlyArray<QuicPacket> => {
  const out: Array<QuicPacket> = []
  for (const entry of all(JSON.parse(text) as Json)) {
    if (!isObject(entry)) continue
    const source = entry["_source"]
    const layers = isObject(source) ? source["layers"] : undefined
    if (!isObject(layers)) continue
    const frameLayer = all(layers["frame"]).find(isObject)
    const ip = all(layers["ip"]).find(isObject)
    const ipv6 = all(layers["ipv6"]).find(isObject)
    const udp = all(layers["udp"]).find(isObject)
    const datagram: DatagramInfo = {
      frame: Number(str(frameLayer?.["frame.number"]) ?? -1),
      time: Number(str(frameLayer?.["frame.time_relative"]) ?? 0),
      srcAddress: str(ip?.["ip.src"]) ?? str(ipv6?.["ipv6.src"]) ?? "",
      dstAddress: str(ip?.["ip.dst"]) ?? str(ipv6?.["ipv6.dst"]) ?? "",
      srcPort: Number(str(udp?.["udp.srcport"]) ?? -1),
      dstPort: Number(str(udp?.["udp.dstport"]) ?? -1),
      // The UDP length field counts its own 8-byte header.
      datagramBytes: Number(str(udp?.["udp.length"]) ?? 8) - 8,
      payloadDigest: createHash("sha1").update(str(udp?.["udp.payload"]) ?? "").digest("hex")
    }
    for (const q of all(layers["quic"])) if (isObject(q)) out.push(parsePacket(datagram, q))
  }
  return out
}

/** Runs `tshark` over a capture file (`-r …` in `args`) and returns what it printed; killed after `timeout`. */
export const read = (args: ReadonlyArray<string>, timeout: Duration.DurationInput = "60 seconds"): Effect.Effect<string, TsharkError> =>
  Effect.gen(function*() {
    const tshark = yield* binary()
    const millis = Duration.toMillis(Duration.decode(timeout))
    return yield* Effect.async<string, TsharkError>((resume) => {
      const child = spawn(tshark, args, { stdio: ["ignore", "pipe", "pipe"] })
      const out: Array<Buffer> = []
      let err = ""
      child.stdout.on("data", (chunk: Buffer) => out.push(chunk))
      child.stderr.setEncoding("utf8")
      child.stderr.on("data", (chunk: string) => {
        err += chunk
      })
      const timer = setTimeout(() => child.kill("SIGKILL"), millis)
      child.on("error", (error) => {
        clearTimeout(timer)
        resume(Effect.fail(new TsharkError({ message: `tshark: ${error.message}` })))
      })
      child.on("close", (code, signal) => {
        clearTimeout(timer)
        if (code === 0) resume(Effect.succeed(Buffer.concat(out).toString("utf8")))
        else resume(Effect.fail(new TsharkError({ message: `tshark -r exited with ${code ?? signal}: ${err.trim()}` })))
      })
      return Effect.sync(() => {
        clearTimeout(timer)
        if (!exited(child)) child.kill("SIGKILL")
      })
    })
  })

/** Decodes the capture with tshark's QUIC dissector and the given key log. */
export const decode = (options: DecodeOptions): Effect.Effect<ReadonlyArray<QuicPacket>, TsharkError> =>
  Effect.gen(function*() {
    const ports = [options.port, ...(options.morePorts ?? [])]
    const args = [
      "-r", options.file,
      "-n",
      // An explicit empty value disables a key log from the user's preferences.
      "-o", `tls.keylog_file:${options.keyLogFile ?? ""}`,
      ...ports.flatMap((port) => ["-d", `udp.port==${port},quic`]),
      // Only the ports asked for are QUIC: a relay's other leg carries the same packets, and
      // tshark would take their second copies for duplicates and leave them undecrypted.
      "--disable-heuristic", "quic",
      "-Y", ports.map((port) => `udp.port==${port}`).join(" || "),
      "-T", "json",
      "--no-duplicate-keys",
      "-J", "frame ip ipv6 udp quic"
    ]
    const stdout = yield* read(args, options.timeout)
    return yield* Effect.try({
      try: () => parseDecode(stdout),
      catch: (error) => new TsharkError({ message: `tshark's JSON did not parse: ${String(error)}` })
    })
  })

/** One UDP datagram of a capture: its ports and payload length. */
export interface UdpDatagram {
  readonly srcPort: number
  readonly dstPort: number
  readonly bytes: number
}

/**
 * Every UDP datagram to or from `port`, whatever it holds: a datagram a relay
 * corrupted may not dissect as QUIC at all, but it still crossed the wire.
 */
export const udpDatagrams = (options: { readonly file: string; readonly port: number }): Effect.Effect<ReadonlyArray<UdpDatagram>, TsharkError> =>
  Effect.gen(function*() {
    const text = yield* read([
      "-r", options.file, "-n", "--disable-heuristic", "quic", "-Y", `udp.port==${options.port}`,
      "-T", "fields", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "udp.length"
    ])
    return text.split("\n").filter((line) => line.trim() !== "").map((line) => {
      const [src, dst, length] = line.split("\t").map(Number)
      // The UDP length field counts its own 8-byte header.
      return { srcPort: src!, dstPort: dst!, bytes: length! - 8 }
    })
  })

// ---- counting ------------------------------------------------------------------

/** Frame type values (RFC 9000 §19, RFC 9221), grouped as tests ask for them. */
export const FrameType = {
  PADDING: [0x00],
  PING: [0x01],
  ACK: [0x02, 0x03],
  CRYPTO: [0x06],
  NEW_TOKEN: [0x07],
  STREAM: [0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f],
  CONNECTION_CLOSE: [0x1c, 0x1d],
  HANDSHAKE_DONE: [0x1e],
  PATH_CHALLENGE: [0x1a],
  PATH_RESPONSE: [0x1b],
  MAX_STREAMS: [0x12, 0x13],
  DATAGRAM: [0x30, 0x31]
} as const

export const countBy = <K extends string>(packets: ReadonlyArray<QuicPacket>, key: (p: QuicPacket) => K): Record<K, number> => {
  const out = {} as Record<K, number>
  for (const p of packets) out[key(p)] = (out[key(p)] ?? 0) + 1
  return out
}

/** Packets of `type` by whether tshark decrypted them. */
export const decryptedCounts = (packets: ReadonlyArray<QuicPacket>, type: PacketType) => {
  const of = packets.filter((p) => p.type === type)
  return { total: of.length, decrypted: of.filter((p) => p.decrypted).length }
}

/** How many frames of the group (e.g. `FrameType.STREAM`) the packets carry. */
export const countFrames = (packets: ReadonlyArray<QuicPacket>, group: ReadonlyArray<number>): number =>
  packets.reduce((n, p) => n + p.frameTypes.filter((t) => group.includes(t)).length, 0)
