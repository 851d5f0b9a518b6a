/**
 * RFC 9002 §6.2.3 (speeding up handshake completion) and §6.2.4 (a PTO
 * probes every handshake space with data in flight, coalesced): CRYPTO data
 * the peer sends again means our answer went missing, so it goes again at
 * once instead of at our own backed-off PTO; and a server's Initial probe
 * carries its Handshake flight with the ServerHello. Both were found by the
 * interop runner's handshakeloss case (50 handshakes under 30 % loss): a
 * handshake that waited on backed-off PTOs on both sides ran past the peer's
 * handshake timeout.
 *
 * Targeted drops on the 10 ms lab link with a virtual clock; the times are
 * those of RFC 9002: a first PTO of 999 ms before any RTT sample, doubling.
 */
import { describe, expect, it } from "vitest"
import { addressKey } from "../../src/internal/address.js"
import { TLS_AES_128_GCM_SHA256 } from "../../src/internal/crypto/suite.js"
import { QUIC_V1 } from "../../src/internal/packet/version.js"
import { backends } from "../helpers.js"
import { bothConnected, CLIENT, keyLogger, LabDecryptor, makeLab, packetKinds, SERVER } from "../support/handshakeLab.js"

const fromClient = (d: { from: { address: string; port: number } }) => addressKey(d.from) === addressKey(CLIENT)
const fromServer = (d: { from: { address: string; port: number } }) => addressKey(d.from) === addressKey(SERVER)

/** RFC 9002 §6.2.2: 333 ms + 4 × 166.5 ms before any RTT sample. */
const FIRST_PTO = 999_000
const ONE_WAY = 10_000

const lab = (backend: Parameters<typeof makeLab>[0]) => {
  const log = keyLogger()
  const made = makeLab(backend, { client: { cipherSuites: [TLS_AES_128_GCM_SHA256], keyLog: log.keyLog } })
  const connected = new Map<string, number>()
  made.network.onEvent = (endpoint, event) => {
    const key = addressKey(endpoint.localAddress)
    if (event._tag === "Connected" && !connected.has(key)) connected.set(key, made.network.now)
  }
  const connectedAt = (address: typeof CLIENT) => connected.get(addressKey(address)) ?? Number.POSITIVE_INFINITY
  return { ...made, decryptor: new LabDecryptor(backend, QUIC_V1, TLS_AES_128_GCM_SHA256, log), connectedAt }
}

describe.each(backends)("speeding up the handshake on the %s backend", (_name, backend) => {
  it("a repeated ClientHello gets the server's flight again on arrival, not at the server's next PTO", () => {
    const { network, client, decryptor, connectedAt } = lab(backend)
    const start = network.now
    // The client's first Initial is lost, so its PTO (999 ms, then 2997 ms) runs out of step
    // with the server's (armed at 1009 ms by its flight: 2008 ms, then 4006 ms). Every server
    // datagram before 2.5 s is lost: the flight and the first PTO's probes.
    network.drop = (d) => (fromClient(d) && d.index === 0) || (fromServer(d) && d.at - start < 2_500_000)
    client.connect(network.now, SERVER, "localhost")
    expect(network.run(bothConnected(network), 10_000_000)).toBe(true)

    const clientProbes = network.between(CLIENT, SERVER).filter((d) => d.at - start === 3 * FIRST_PTO)
    expect(clientProbes.length).toBeGreaterThan(0)
    const arrival = clientProbes[0]!.deliveredAt!
    expect(arrival - start).toBe(3 * FIRST_PTO + ONE_WAY)
    // On that arrival the server sends its ServerHello (Initial CRYPTO) again, with its Handshake flight.
    const seen = network.wire.map((d) => ({ d, packets: decryptor.packets(d.from, d.data) }))
    const answer = network.between(SERVER, CLIENT).filter((d) => d.at === arrival)
    const frames = seen.filter((s) => answer.includes(s.d)).flatMap((s) => s.packets)
    expect(frames.some((p) => p.type === "initial" && (p.frames ?? []).some((f) => f._tag === "Crypto"))).toBe(true)
    expect(answer.some((d) => packetKinds(d.data).includes("handshake"))).toBe(true)
    // So the client is connected one round trip later, well before the server's PTO at 4006 ms.
    expect(connectedAt(CLIENT) - start).toBe(3 * FIRST_PTO + 2 * ONE_WAY)
  })

  it("a server's Initial PTO probe carries its Handshake flight in the same datagram", () => {
    const { network, client } = lab(backend)
    const start = network.now
    // As above: the server's flight leaves at 1009 ms and its PTO fires 999 ms later, when
    // nothing from the client arrives.
    network.drop = (d) => (fromClient(d) && d.index === 0) || (fromServer(d) && d.at - start < 2_500_000)
    client.connect(network.now, SERVER, "localhost")
    expect(network.run(bothConnected(network), 10_000_000)).toBe(true)
    const ptoAt = start + FIRST_PTO + ONE_WAY + FIRST_PTO
    expect(network.between(CLIENT, SERVER).some((d) => d.deliveredAt === ptoAt)).toBe(false)
    const probes = network.between(SERVER, CLIENT).filter((d) => d.at === ptoAt)
    expect(probes).toHaveLength(2)
    for (const probe of probes) expect(packetKinds(probe.data)).toEqual(["initial", "handshake"])
  })

  it("a repeated server flight gets the client's lost Finished again on arrival, not at the client's next PTO", () => {
    const { network, client, decryptor, connectedAt } = lab(backend)
    const start = network.now
    // Everything the client sends after its ClientHello is lost for 1 s: its ACKs and Finished,
    // and the Handshake probes of its PTO (60 ms after a 20 ms RTT sample: 80, 200, 440, 920 ms;
    // the next at 1880 ms). The server, with nothing acknowledged, probes at 1009 ms.
    network.drop = (d) => fromClient(d) && d.index > 0 && d.at - start < 1_000_000
    client.connect(network.now, SERVER, "localhost")
    expect(network.run(bothConnected(network), 10_000_000)).toBe(true)

    const serverProbe = network.between(SERVER, CLIENT).find((d) => d.at - start === ONE_WAY + FIRST_PTO)!
    expect(serverProbe).toBeDefined()
    const arrival = serverProbe.deliveredAt!
    const seen = network.wire.map((d) => ({ d, packets: decryptor.packets(d.from, d.data) }))
    const answer = network.between(CLIENT, SERVER).filter((d) => d.at === arrival)
    const packets = seen.filter((s) => answer.includes(s.d)).flatMap((s) => s.packets)
    expect(packets.some((p) => p.type === "handshake" && (p.frames ?? []).some((f) => f._tag === "Crypto"))).toBe(true)
    expect(connectedAt(SERVER) - start).toBe(ONE_WAY + FIRST_PTO + 2 * ONE_WAY)
  })
})
