import * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Option, ParseResult, Schema } from "effect"
import * as QuicConfig from "../../QuicConfig.js"
import { ConfigError } from "../../QuicError.js"
import type * as Core from "../config.js"
import { defaultTransportConfig } from "../config.js"
import type { CryptoBackend, PrivateKey } from "../crypto/backend.js"
import { type CipherSuite, TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256 } from "../crypto/suite.js"
import { QUIC_V1, QUIC_V2 } from "../packet/version.js"
import { tlsAlert } from "../tls/alert.js"
import { insecureVerifier, webPkiVerifier } from "../tls/certificates.js"
import { AlertDescription } from "../tls/constants.js"
import type { CertificateVerifier } from "../tls/session.js"
import { type Certificate, parseCertificatePem } from "../x509/certificate.js"
import { isX509Error } from "../x509/der.js"
import { parsePrivateKeyPem } from "../x509/keys.js"

const versionNumbers: Record<QuicConfig.QuicVersionName, number> = { v1: QUIC_V1.number, v2: QUIC_V2.number }

const suites: Record<QuicConfig.CipherSuiteName, CipherSuite> = {
  aes128gcm: TLS_AES_128_GCM_SHA256,
  aes256gcm: TLS_AES_256_GCM_SHA384,
  chacha20: TLS_CHACHA20_POLY1305_SHA256
}

/** PEM text as given, or the contents of the file it names. */
const readPem = (field: string, value: string): Effect.Effect<string, ConfigError> =>
  value.includes("-----BEGIN")
    ? Effect.succeed(value)
    : Effect.serviceOption(FileSystem.FileSystem).pipe(
      Effect.flatMap(Option.match({
        onNone: () =>
          Effect.fail(new ConfigError({ reason: `${field}: "${value}" is not PEM text, and no FileSystem is provided to read it as a path` })),
        onSome: (fs) =>
          fs.readFileString(value).pipe(
            Effect.mapError((e) => new ConfigError({ reason: `${field}: cannot read ${value}: ${e.message}` }))
          )
      }))
    )

const certificates = (field: string, pem: string): Effect.Effect<ReadonlyArray<Certificate>, ConfigError> => {
  const parsed = parseCertificatePem(pem)
  if (isX509Error(parsed)) return Effect.fail(new ConfigError({ reason: `${field}: ${parsed.reason}` }))
  if (parsed.length === 0) return Effect.fail(new ConfigError({ reason: `${field}: no CERTIFICATE in the PEM` }))
  return Effect.succeed(parsed)
}

const privateKey = (field: string, pem: string): Effect.Effect<PrivateKey, ConfigError> => {
  const key = parsePrivateKeyPem(pem)
  return isX509Error(key) ? Effect.fail(new ConfigError({ reason: `${field}: ${key.reason}` })) : Effect.succeed(key)
}

/** Node's bundled roots when running on Node; other runtimes must configure `ca`. */
const systemRoots: Effect.Effect<ReadonlyArray<Certificate>, ConfigError> = Effect.tryPromise({
  try: () => import("../../platform/nodeTrustAnchors.js").then((m) => m.nodeTrustAnchors()),
  catch: () => new ConfigError({ reason: "client.ca: no CA configured and no system root certificates are available on this runtime" })
})

const customVerifier = (verify: QuicConfig.CertificateVerifier): CertificateVerifier => (chain, context) => {
  const verdict = verify(chain, { serverName: context.serverName, unixMillis: context.unixMillis })
  return verdict === undefined ? undefined : tlsAlert(AlertDescription.bad_certificate, verdict)
}

const transport = (t: QuicConfig.TransportConfig): Core.TransportConfig => ({
  ...defaultTransportConfig,
  maxIdleTimeout: t.idleTimeoutMillis,
  keepAliveInterval: t.keepAliveMillis * 1000,
  initialRtt: t.initialRttMillis * 1000,
  initialMaxData: t.initialConnectionWindow,
  initialMaxStreamData: t.initialStreamWindow,
  maxConnectionWindow: Math.max(t.maxConnectionWindow, t.initialConnectionWindow),
  maxStreamWindow: Math.max(t.maxStreamWindow, t.initialStreamWindow),
  maxConcurrentBidiStreams: t.maxConcurrentBidiStreams,
  maxConcurrentUniStreams: t.maxConcurrentUniStreams,
  streamSendBuffer: t.streamSendBuffer,
  maxDatagramFrameSize: t.maxDatagramFrameSize === 0 ? undefined : t.maxDatagramFrameSize,
  datagramSendBuffer: t.datagramSendBuffer,
  congestionController: t.congestionController,
  maxUdpPayloadSize: t.maxUdpPayloadSize,
  mtuDiscovery: t.mtuDiscovery,
  keyUpdateInterval: t.keyUpdateInterval,
  disableActiveMigration: t.disableActiveMigration,
  activeConnectionIdLimit: t.activeConnectionIdLimit
})

/** Decodes user configuration and turns it into the core's, reading and parsing certificates and keys. */
export const resolveConfig = (
  input: QuicConfig.EndpointConfigInput,
  backend: CryptoBackend
): Effect.Effect<{ readonly config: QuicConfig.EndpointConfig; readonly core: Core.EndpointConfig }, ConfigError> =>
  Effect.gen(function*() {
    const config = yield* Schema.decodeUnknown(QuicConfig.EndpointConfig)(input).pipe(
      Effect.mapError((e) => new ConfigError({ reason: ParseResult.TreeFormatter.formatErrorSync(e) }))
    )
    const crypto = {
      cipherSuites: config.cipherSuites.map((name) => suites[name]),
      groups: config.groups,
      keyLog: config.keyLog
    }
    let server: Core.ServerConfig | undefined
    if (config.server !== undefined) {
      const s = config.server
      const chain = yield* certificates("server.certificate", yield* readPem("server.certificate", s.certificate))
      const key = yield* privateKey("server.privateKey", yield* readPem("server.privateKey", s.privateKey))
      const clientAnchors = s.clientCa === undefined
        ? undefined
        : yield* certificates("server.clientCa", yield* readPem("server.clientCa", s.clientCa))
      if (s.clientAuth !== "none" && clientAnchors === undefined) {
        return yield* Effect.fail(new ConfigError({ reason: "server.clientCa: required when clientAuth is not \"none\"" }))
      }
      server = {
        ...crypto,
        alpn: s.alpn,
        certificateChain: chain.map((c) => c.der),
        privateKey: key,
        clientAuth: s.clientAuth,
        clientVerifier: clientAnchors === undefined ? undefined : webPkiVerifier(backend, clientAnchors),
        retry: s.retry,
        tickets: s.sessionTickets ? { count: 2, lifetime: 86_400, earlyData: s.earlyData } : undefined,
        newTokens: s.newTokens,
        maxConnections: s.maxConnections,
        maxHandshakes: s.maxHandshakes,
        // The preference order, each version once (the first mention wins).
        versions: s.versions === undefined ? undefined : [...new Set(s.versions.map((v) => versionNumbers[v]))]
      }
    }
    let client: Core.ClientConfig | undefined
    if (config.client !== undefined) {
      const c = config.client
      const verifier = c.verifyCertificate !== undefined
        ? customVerifier(c.verifyCertificate)
        : c.insecure
        ? insecureVerifier
        : webPkiVerifier(backend, c.ca === undefined ? yield* systemRoots : yield* certificates("client.ca", yield* readPem("client.ca", c.ca)))
      if ((c.certificate === undefined) !== (c.privateKey === undefined)) {
        return yield* Effect.fail(new ConfigError({ reason: "client.certificate and client.privateKey go together" }))
      }
      const clientCertificate = c.certificate !== undefined && c.privateKey !== undefined
        ? {
          chain: (yield* certificates("client.certificate", yield* readPem("client.certificate", c.certificate))).map((x) => x.der),
          key: yield* privateKey("client.privateKey", yield* readPem("client.privateKey", c.privateKey))
        }
        : undefined
      client = {
        ...crypto,
        alpn: c.alpn,
        verifier,
        clientCertificate,
        earlyData: c.earlyData,
        resumption: c.resumption,
        version: versionNumbers[c.version],
        migrateToPreferredAddress: c.migrateToPreferredAddress
      }
    }
    const core: Core.EndpointConfig = {
      transport: transport(config.transport),
      server,
      client,
      connectionIdLength: config.connectionIdLength,
      sendQueueCapacity: config.sendQueueCapacity,
      maxTransmitDatagrams: config.maxTransmitDatagrams,
      rngSeed: config.rngSeed,
      // The driver's `now` is Clock time in µs since the Unix epoch.
      unixMillis: (now) => Math.floor(now / 1000),
      qlog: config.qlog
    }
    return { config, core }
  })
