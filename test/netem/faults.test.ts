import { describe, expect, it } from "vitest"
import { Prng } from "../../src/internal/platform/prng.js"
import { Bottleneck } from "../../src/netem/bottleneck.js"
import { Departures } from "../../src/netem/departures.js"
import { BurstProcess, corruptBytes, type Decision, type Faults, inBlackhole, makeDirection, noFaults } from "../../src/netem/faults.js"
import { parseIndexList } from "../../src/netem/indexList.js"

// The fault logic without sockets: time is passed in, randomness is seeded.

const payload = (length: number, seed = 0) => Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff)

/** The decisions for `count` datagrams of 100 bytes, 1 ms apart. */
const run = (faults: Partial<Faults>, count: number, seed = 1, direction: "to_server" | "to_client" = "to_server") => {
  const dir = makeDirection({ ...noFaults, ...faults }, seed, direction)
  return Array.from({ length: count }, (_, i) => dir.decide(i, payload(100, i)))
}

const reasons = (decisions: ReadonlyArray<Decision>) => decisions.map((d) => (d.fate === "dropped" ? d.reason : d.fate))

describe("netem fault logic", () => {
  it("without faults forwards everything unchanged and at once", () => {
    const decisions = run({}, 100)
    decisions.forEach((d, i) => expect(d).toEqual({ fate: "forwarded", delay: 0, data: payload(100, i) }))
  })

  it("loses about PCT % over 10 000 datagrams, and the same seed loses the same ones", () => {
    for (const loss of [1, 5, 30]) {
      const decisions = run({ loss }, 10_000)
      const lost = decisions.filter((d) => d.fate === "dropped").length
      // The binomial standard deviation is under 0.5 % here: allow 4 of them.
      expect(Math.abs(lost / 100 - loss)).toBeLessThan(2)
      expect(reasons(run({ loss }, 10_000))).toEqual(reasons(decisions))
    }
    expect(reasons(run({ loss: 5 }, 1000, 2))).not.toEqual(reasons(run({ loss: 5 }, 1000, 1)))
  })

  it("a loss burst drops exactly N consecutive datagrams per event, and the rate stays about PCT %", () => {
    for (const burst of [3, 10]) {
      const decisions = reasons(run({ loss: 5, lossBurst: burst }, 10_000))
      const runs: Array<number> = []
      decisions.forEach((reason, i) => {
        if (reason === "loss") runs.push(1)
        else if (reason === "burst") {
          expect(decisions[i - 1] === "loss" || decisions[i - 1] === "burst").toBe(true)
          runs[runs.length - 1]!++
        }
      })
      expect(runs.length).toBeGreaterThan(0)
      // Only a run cut off by the end of the sample may be shorter.
      runs.slice(0, -1).forEach((length) => expect(length).toBe(burst))
      const dropped = decisions.filter((r) => r === "loss" || r === "burst").length
      expect(Math.abs(dropped / 100 - 5)).toBeLessThan(2.5)
    }
  })

  it("BurstProcess at 100 % covers every datagram, at 0 % none", () => {
    const all = new BurstProcess(100, 4, new Prng(1))
    expect(Array.from({ length: 8 }, () => all.next())).toEqual(["start", "continue", "continue", "continue", "start", "continue", "continue", "continue"])
    const none = new BurstProcess(0, 4, new Prng(1))
    expect(Array.from({ length: 100 }, () => none.next()).every((e) => e === undefined)).toBe(true)
  })

  it("drops exactly the listed 1-based indices, in its own direction only", () => {
    const faults = { dropToServer: parseIndexList("2-7")!, dropToClient: parseIndexList("1,3,5-6")! }
    const dropped = (decisions: ReadonlyArray<Decision>) =>
      decisions.flatMap((d, i) => (d.fate === "dropped" ? [i + 1] : []))
    expect(dropped(run(faults, 20, 1, "to_server"))).toEqual([2, 3, 4, 5, 6, 7])
    expect(dropped(run(faults, 20, 1, "to_client"))).toEqual([1, 3, 5, 6])
    expect(run(faults, 3, 1, "to_server").map((d) => d.fate === "dropped" && d.reason)).toEqual([false, "index", "index"])
  })

  it("index lists: ranges and single indices; anything else is rejected", () => {
    expect(parseIndexList("2-7")).toEqual([[2, 7]])
    expect(parseIndexList("1,3,5-6")).toEqual([[1, 1], [3, 3], [5, 6]])
    for (const bad of ["", "0", "3-2", "a", "1,,2", "1-", "-1", "1.5"]) expect(parseIndexList(bad)).toBeUndefined()
  })

  it("the blackhole is open for `open` ms from the start, then drops for `dropped` ms, repeating", () => {
    const blackhole = { open: 100, dropped: 50 }
    const schedule = [0, 99.9, 100, 149.9, 150, 249.9, 250, 299, 300].map((t) => inBlackhole(blackhole, t))
    expect(schedule).toEqual([false, false, true, true, false, false, true, true, false])
    const decisions = run({ blackhole }, 400)
    expect(decisions.every((d, t) => (d.fate === "dropped") === (t % 150 >= 100))).toBe(true)
    expect(decisions[120]).toEqual({ fate: "dropped", reason: "blackhole" })
  })

  it("corruption changes 1–4 bytes and never leaves the datagram equal", () => {
    const prng = new Prng(7)
    const counts = new Set<number>()
    for (let i = 0; i < 2000; i++) {
      const data = payload(1 + (i % 50), i)
      const corrupted = corruptBytes(data, prng)
      expect(corrupted.length).toBe(data.length)
      const changed = data.reduce((n, byte, j) => n + (byte === corrupted[j] ? 0 : 1), 0)
      expect(changed).toBeGreaterThanOrEqual(1)
      expect(changed).toBeLessThanOrEqual(Math.min(4, data.length))
      counts.add(changed)
    }
    expect([...counts].sort()).toEqual([1, 2, 3, 4])
  })

  it("--corrupt forwards about PCT % corrupted, in bursts of N, the original untouched", () => {
    const decisions = run({ corrupt: 10, corruptBurst: 2 }, 10_000)
    const corrupted = decisions.filter((d) => d.fate === "corrupted")
    expect(Math.abs(corrupted.length / 100 - 10)).toBeLessThan(3)
    const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(b)
    expect(decisions.every((d, i) => d.fate === "dropped" || same(d.data, payload(100, i)) === (d.fate === "forwarded"))).toBe(true)
    // Back-to-back events merge, so every run of corrupted datagrams is a multiple of N (but one cut off at the end).
    const runs = reasons(decisions).join("").split(/forwarded/).filter((r) => r !== "").map((r) => r.length / "corrupted".length)
    runs.slice(0, -1).forEach((length) => expect(length % 2).toBe(0))
  })

  it("delay and jitter: delay ± jitter, never negative", () => {
    expect(run({ delay: 50 }, 10).map((d) => d.fate !== "dropped" && d.delay)).toEqual(Array(10).fill(50))
    const delays = run({ delay: 5, jitter: 20 }, 2000).map((d) => (d.fate === "dropped" ? -1 : d.delay))
    expect(Math.min(...delays)).toBe(0)
    expect(Math.max(...delays)).toBeLessThanOrEqual(25)
    expect(Math.max(...delays)).toBeGreaterThan(20)
  })

  it("the bandwidth queue serializes at the rate and drops what finds it full", () => {
    // 1 Mbit/s: 1000 bytes take 8 ms.
    const link = new Bottleneck(1, 5)
    const burst = Array.from({ length: 10 }, () => link.admit(0, 1000))
    expect(burst).toEqual([8, 16, 24, 32, 40, undefined, undefined, undefined, undefined, undefined])
    // Once two have left, two fit again.
    expect(link.admit(16, 1000)).toBe(32)
    expect(link.admit(16, 1000)).toBe(40)
    expect(link.admit(16, 1000)).toBeUndefined()
    // An idle link only serializes.
    expect(new Bottleneck(10, 25).admit(1000, 1250)).toBeCloseTo(1, 9)

    const decisions = run({ bandwidth: 1, queue: 3, delay: 10 }, 5).map((d) => (d.fate === "dropped" ? d.reason : d.delay))
    // 100 bytes at 1 Mbit/s: 0.8 ms each; the datagrams come 1 ms apart, so none waits.
    expect(decisions).toEqual([10.8, 10.8, 10.8, 10.8, 10.8].map((x) => expect.closeTo(x, 9)))
    const flood = makeDirection({ ...noFaults, bandwidth: 1, queue: 3 }, 1, "to_client")
    expect(Array.from({ length: 5 }, () => flood.decide(0, payload(1000))).map((d) => d.fate === "dropped" ? d.reason : d.fate))
      .toEqual(["forwarded", "forwarded", "forwarded", "queue", "queue"])
  })

  it("faults are independent: jitter does not move the losses", () => {
    const lost = (faults: Partial<Faults>) => run(faults, 5000).map((d) => d.fate === "dropped")
    expect(lost({ loss: 10, jitter: 30, corrupt: 5 })).toEqual(lost({ loss: 10 }))
  })

  it("departures leave in time order, equal times in arrival order", () => {
    const queue = new Departures<string>()
    queue.push(10, "a")
    queue.push(5, "b")
    queue.push(10, "c")
    queue.push(7, "d")
    queue.push(10, "e")
    expect(queue.nextAt()).toBe(5)
    expect(queue.popDue(4)).toBeUndefined()
    const out: Array<string> = []
    for (let item = queue.popDue(10); item !== undefined; item = queue.popDue(10)) out.push(item)
    expect(out).toEqual(["b", "d", "a", "c", "e"])
    queue.push(3, "x")
    queue.push(1, "y")
    expect(queue.drain()).toEqual(["y", "x"])
    expect(queue.nextAt()).toBeUndefined()
  })
})
