import { Effect, Either } from "effect"
import { expect } from "vitest"
import * as Endpoint from "../../src/Endpoint.js"
import * as MemoryNetwork from "../../src/MemoryNetwork.js"
import type { EndpointConfigInput } from "../../src/QuicConfig.js"
import { UdpSocket } from "../../src/UdpSocket.js"
import { encodeCertificatePem } from "../../src/internal/x509/pem.js"
import { cachedKeyPair, makeCertificate } from "../support/certs.js"

/** A self-signed P-256 identity for "localhost" as PEM (made once per file). */
let identity: { certificate: string; privateKey: string } | undefined
export const serverIdentity = () => {
  if (identity === undefined) {
    const issued = makeCertificate({ subject: { CN: "localhost" }, key: cachedKeyPair("p256", "server"), dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"] })
    identity = { certificate: encodeCertificatePem(issued.der), privateKey: issued.keyPem }
  }
  return identity
}

export const SERVER = { address: "10.0.0.1", port: 4433 }
export const CLIENT = { address: "10.0.0.2", port: 50000 }

/** When certificates are valid (the tests' wall clock under TestClock). */
export const NOW = Date.UTC(2026, 0, 1)

export const serverConfig = (extra: Partial<NonNullable<EndpointConfigInput["server"]>> = {}, rest: Partial<EndpointConfigInput> = {}): EndpointConfigInput => ({
  server: { ...serverIdentity(), alpn: ["echo"], ...extra },
  rngSeed: 1,
  ...rest
})

export const clientConfig = (extra: Partial<NonNullable<EndpointConfigInput["client"]>> = {}, rest: Partial<EndpointConfigInput> = {}): EndpointConfigInput => ({
  client: { alpn: ["echo"], ca: serverIdentity().certificate, ...extra },
  rngSeed: 2,
  ...rest
})

/** An endpoint on the MemoryNetwork of the context, at `address`. */
export const endpointAt = (address: { address: string; port: number }, config: EndpointConfigInput) =>
  Effect.gen(function*() {
    const socket = yield* MemoryNetwork.makeSocket(address)
    return yield* Endpoint.make(config).pipe(Effect.provideService(UdpSocket, socket))
  })

/** `Endpoint.make(config)` fails with a ConfigError whose reason names `field`. */
export const expectConfigError = (config: EndpointConfigInput, field: string) =>
  Effect.scoped(Effect.gen(function*() {
    const socket = yield* MemoryNetwork.makeSocket({ address: "10.0.0.9", port: 1 })
    const result = yield* Endpoint.make(config).pipe(Effect.provideService(UdpSocket, socket), Effect.either)
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left._tag).toBe("ConfigError")
      expect(String((result.left as { reason?: string }).reason)).toContain(field)
    }
  }))
