import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { BASE_MTU, MtuDiscovery } from "../../src/internal/connection/mtud.js"

/** A congestion window with room for any probe. */
const ANY_ROOM = Number.MAX_SAFE_INTEGER

/** RFC 8899 §5.1.1 raise interval used by the module: 600 s in µs. */
const RAISE_INTERVAL = 600_000_000

/**
 * Drives the search over a path that carries datagrams up to `pathMtu` bytes:
 * each probe is sent, then acknowledged when it fits and lost otherwise.
 * Returns the probe sizes in order.
 */
const runSearch = (mtud: MtuDiscovery, pathMtu: number, now = 0, firstPn = 0): Array<number> => {
  const probes: Array<number> = []
  let pn = firstPn
  for (let size = mtud.probeToSend(now, ANY_ROOM); size !== undefined; size = mtud.probeToSend(now, ANY_ROOM)) {
    probes.push(size)
    expect(probes.length).toBeLessThan(200)
    mtud.onProbeSent(pn)
    if (size <= pathMtu) mtud.onProbeAcked(pn)
    else mtud.onProbeLost(pn)
    pn++
  }
  return probes
}

describe("MtuDiscovery (RFC 8899 §5, RFC 9000 §14.3)", () => {
  it("climbs in steps no larger than the congestion window's room, up to a loopback-sized path", () => {
    // A receiver that only acknowledges keeps its initial window: probes must still go out.
    const mtud = new MtuDiscovery(true, 65_507)
    const room = 12_000
    const probes: Array<number> = []
    for (let size = mtud.probeToSend(0, room), pn = 0; size !== undefined; size = mtud.probeToSend(0, room), pn++) {
      probes.push(size)
      expect(probes.length).toBeLessThan(50)
      mtud.onProbeSent(pn)
      mtud.onProbeAcked(pn)
    }
    expect(probes[0]).toBe(room)
    expect(Math.max(...probes)).toBe(room)
    expect(mtud.current).toBe(room)
  })

  it("starts at the QUIC minimum of 1200 bytes", () => {
    expect(BASE_MTU).toBe(1200)
    expect(new MtuDiscovery(true, 1500).current).toBe(1200)
  })

  it("holds the search back until the time given to startSearchAt", () => {
    const mtud = new MtuDiscovery(true, 1500)
    mtud.startSearchAt(100_000)
    expect(mtud.probeToSend(99_999, ANY_ROOM)).toBeUndefined()
    expect(mtud.probeToSend(100_000, ANY_ROOM)).toBe(1350)
  })

  it("never probes when disabled", () => {
    const mtud = new MtuDiscovery(false, 1500)
    expect(mtud.probeToSend(0, ANY_ROOM)).toBeUndefined()
    expect(mtud.probeToSend(10 * RAISE_INTERVAL, ANY_ROOM)).toBeUndefined()
    expect(mtud.current).toBe(1200)
  })

  it("binary-searches from 1200 toward the upper bound while probes are acknowledged", () => {
    const mtud = new MtuDiscovery(true, 1500)
    // 1200 + ⌈300/2⌉, then halving the remaining window each time, and the bound itself last.
    expect(runSearch(mtud, 1500)).toEqual([1350, 1425, 1463, 1482, 1491, 1500])
    expect(mtud.current).toBe(1500)
  })

  it("once under 16 bytes below the upper bound, tries the bound itself and stops", () => {
    const mtud = new MtuDiscovery(true, 1216)
    expect(runSearch(mtud, 1500)).toEqual([1208, 1216])
    expect(mtud.current).toBe(1216)
  })

  it("gives the upper bound up after MAX_PROBES losses and stops under it", () => {
    const mtud = new MtuDiscovery(true, 1500)
    expect(runSearch(mtud, 1495)).toEqual([1350, 1425, 1463, 1482, 1491, 1500, 1500, 1500])
    expect(mtud.current).toBe(1491)
    expect(mtud.probeToSend(0, ANY_ROOM)).toBeUndefined()
  })

  it("does nothing when the upper bound leaves no room above 1200", () => {
    const mtud = new MtuDiscovery(true, 1200)
    expect(mtud.probeToSend(0, ANY_ROOM)).toBeUndefined()
    expect(mtud.current).toBe(1200)
  })

  it("has one probe in flight at a time", () => {
    const mtud = new MtuDiscovery(true, 1500)
    expect(mtud.probeToSend(0, ANY_ROOM)).toBe(1350)
    // Asking again before sending returns the same size.
    expect(mtud.probeToSend(0, ANY_ROOM)).toBe(1350)
    mtud.onProbeSent(7)
    expect(mtud.probeToSend(0, ANY_ROOM)).toBeUndefined()
    expect(mtud.probeToSend(RAISE_INTERVAL, ANY_ROOM)).toBeUndefined()
    mtud.onProbeAcked(7)
    expect(mtud.current).toBe(1350)
    expect(mtud.probeToSend(0, ANY_ROOM)).toBe(1425)
  })

  it("ignores acknowledgements and losses of packets that are not the probe in flight", () => {
    const mtud = new MtuDiscovery(true, 1500)
    mtud.probeToSend(0, ANY_ROOM)
    mtud.onProbeSent(3)
    mtud.onProbeAcked(2)
    mtud.onProbeLost(4)
    expect(mtud.current).toBe(1200)
    expect(mtud.probeToSend(0, ANY_ROOM)).toBeUndefined()
    // A stale ack of an earlier probe after this one resolved changes nothing either.
    mtud.onProbeAcked(3)
    expect(mtud.current).toBe(1350)
    mtud.onProbeAcked(3)
    expect(mtud.current).toBe(1350)
  })

  it("retries a lost probe size until MAX_PROBES (3) consecutive losses, then caps the search below it", () => {
    const mtud = new MtuDiscovery(true, 1500)
    for (let attempt = 0; attempt < 3; attempt++) {
      expect(mtud.probeToSend(0, ANY_ROOM)).toBe(1350)
      mtud.onProbeSent(attempt)
      mtud.onProbeLost(attempt)
    }
    expect(mtud.current).toBe(1200)
    // The search high is now 1349: next probe 1200 + ⌈149/2⌉.
    expect(mtud.probeToSend(0, ANY_ROOM)).toBe(1275)
  })

  it("restarts the loss count after an acknowledged probe", () => {
    const mtud = new MtuDiscovery(true, 1500)
    let pn = 0
    const lose = () => {
      mtud.probeToSend(0, ANY_ROOM)
      mtud.onProbeSent(pn)
      mtud.onProbeLost(pn++)
    }
    lose()
    lose()
    expect(mtud.probeToSend(0, ANY_ROOM)).toBe(1350)
    mtud.onProbeSent(pn)
    mtud.onProbeAcked(pn++)
    expect(mtud.current).toBe(1350)
    // Two losses of the next size do not cap it; a third does.
    lose()
    lose()
    expect(mtud.probeToSend(0, ANY_ROOM)).toBe(1425)
    lose()
    expect(mtud.probeToSend(0, ANY_ROOM)).toBe(1350 + Math.ceil((1424 - 1350) / 2))
  })

  it("finds the path MTU to within the search granularity (16 bytes), never above it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1200, max: 9000 }), fc.integer({ min: 1200, max: 9000 }), (pathMtu, upper) => {
        const mtud = new MtuDiscovery(true, upper)
        runSearch(mtud, pathMtu)
        const target = Math.min(pathMtu, upper)
        expect(mtud.current).toBeLessThanOrEqual(target)
        expect(target - mtud.current).toBeLessThan(16)
      }),
      { numRuns: 300 }
    )
  })

  it("sends every probe size 3 times before giving up on it, and never probes past the upper bound", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1200, max: 1500 }), (pathMtu) => {
        const mtud = new MtuDiscovery(true, 1500)
        const probes = runSearch(mtud, pathMtu)
        const counts = new Map<number, number>()
        for (const size of probes) counts.set(size, (counts.get(size) ?? 0) + 1)
        for (const [size, count] of counts) {
          expect(size).toBeGreaterThan(1200)
          expect(size).toBeLessThanOrEqual(1500)
          expect(count).toBe(size <= pathMtu ? 1 : 3)
        }
      })
    )
  })

  it("caps the search at the peer's max_udp_payload_size (RFC 9000 §18.2)", () => {
    const mtud = new MtuDiscovery(true, 1500)
    mtud.setPeerLimit(1300)
    const probes = runSearch(mtud, 1500)
    expect(probes).toEqual([1250, 1275, 1288, 1300])
    expect(Math.max(...probes)).toBeLessThanOrEqual(1300)
    expect(mtud.current).toBe(1300)
  })

  it("ignores a peer limit above the local upper bound", () => {
    const mtud = new MtuDiscovery(true, 1400)
    mtud.setPeerLimit(65_527)
    expect(mtud.probeToSend(0, ANY_ROOM)).toBe(1300)
  })

  it("completes and probes again only after the raise interval (RFC 8899 §5.1.1)", () => {
    const mtud = new MtuDiscovery(true, 1500)
    const t0 = 5_000_000
    // The path carries 1400: the search settles between 1385 and 1400.
    runSearch(mtud, 1400, t0)
    const settled = mtud.current
    expect(settled).toBeGreaterThan(1400 - 16)
    expect(settled).toBeLessThanOrEqual(1400)
    expect(mtud.probeToSend(t0 + 1, ANY_ROOM)).toBeUndefined()
    expect(mtud.probeToSend(t0 + RAISE_INTERVAL - 1, ANY_ROOM)).toBeUndefined()
    // After the interval the search reopens up to the upper bound, in case the path grew.
    const next = mtud.probeToSend(t0 + RAISE_INTERVAL, ANY_ROOM)
    expect(next).toBe(settled + Math.ceil((1500 - settled) / 2))
    // The path did grow: the new search finds it.
    runSearch(mtud, 1500, t0 + RAISE_INTERVAL, 1000)
    expect(mtud.current).toBeGreaterThan(1500 - 16)
  })

  it("does not reopen the search when the path did not grow", () => {
    const mtud = new MtuDiscovery(true, 1500)
    runSearch(mtud, 1500, 0)
    expect(mtud.current).toBe(1500)
    // The search reached the upper bound: nothing is left to probe, interval after interval.
    expect(mtud.probeToSend(RAISE_INTERVAL, ANY_ROOM)).toBeUndefined()
    expect(mtud.probeToSend(2 * RAISE_INTERVAL - 1, ANY_ROOM)).toBeUndefined()
    expect(mtud.probeToSend(2 * RAISE_INTERVAL, ANY_ROOM)).toBeUndefined()
    expect(mtud.current).toBe(1500)
  })

  it("falls back to 1200 after 6 large packets lost with no large one acknowledged (black hole, RFC 8899 §4.3)", () => {
    const mtud = new MtuDiscovery(true, 1500)
    runSearch(mtud, 1500)
    expect(mtud.current).toBe(1500)
    for (let i = 0; i < 5; i++) expect(mtud.onPacketLost(1500)).toBe(false)
    expect(mtud.current).toBe(1500)
    expect(mtud.onPacketLost(1500)).toBe(true)
    expect(mtud.current).toBe(1200)
    // The count restarts after a fallback.
    for (let i = 0; i < 5; i++) expect(mtud.onPacketLost(1300)).toBe(false)
    expect(mtud.onPacketLost(1300)).toBe(true)
  })

  it("resets the black-hole count when a large packet is acknowledged", () => {
    const mtud = new MtuDiscovery(true, 1500)
    runSearch(mtud, 1500)
    for (let i = 0; i < 5; i++) mtud.onPacketLost(1400)
    mtud.onPacketAcked(1201)
    for (let i = 0; i < 5; i++) expect(mtud.onPacketLost(1400)).toBe(false)
    expect(mtud.onPacketLost(1400)).toBe(true)
  })

  it("does not reset the black-hole count on small acknowledgements", () => {
    const mtud = new MtuDiscovery(true, 1500)
    runSearch(mtud, 1500)
    for (let i = 0; i < 5; i++) {
      mtud.onPacketLost(1400)
      mtud.onPacketAcked(1200)
      mtud.onPacketAcked(100)
    }
    expect(mtud.onPacketLost(1400)).toBe(true)
    expect(mtud.current).toBe(1200)
  })

  it("does not count losses of packets at or below 1200 bytes toward a black hole", () => {
    const mtud = new MtuDiscovery(true, 1500)
    runSearch(mtud, 1500)
    for (let i = 0; i < 20; i++) expect(mtud.onPacketLost(1200)).toBe(false)
    expect(mtud.current).toBe(1500)
  })

  it("abandons a probe in flight on a black-hole fallback", () => {
    const mtud = new MtuDiscovery(true, 1500)
    expect(mtud.probeToSend(0, ANY_ROOM)).toBe(1350)
    mtud.onProbeSent(1)
    for (let i = 0; i < 6; i++) mtud.onPacketLost(1300)
    expect(mtud.current).toBe(1200)
    // The old probe's late acknowledgement no longer raises the MTU.
    mtud.onProbeAcked(1)
    expect(mtud.current).toBe(1200)
    // The search restarts from the base.
    expect(mtud.probeToSend(0, ANY_ROOM)).toBe(1350)
  })

  it("searches again from the base after a black hole once the raise interval has passed", () => {
    const mtud = new MtuDiscovery(true, 1500)
    runSearch(mtud, 1400, 0)
    for (let i = 0; i < 6; i++) mtud.onPacketLost(1390)
    expect(mtud.current).toBe(1200)
    // The path now only carries 1300.
    runSearch(mtud, 1300, RAISE_INTERVAL, 100)
    expect(mtud.current).toBeLessThanOrEqual(1300)
    expect(mtud.current).toBeGreaterThan(1300 - 16)
  })
})
