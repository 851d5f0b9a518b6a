import { describe, expect, it } from "vitest"
import { Prng } from "../../src/internal/platform/prng.js"
import { Bottleneck } from "../../src/netem/bottleneck.js"
import { Departures } from "../../src/netem/departures.js"
import {
  CappedRunProcess,
  corruptByte,
  type Decision,
  type Faults,
  inBlackhole,
  isVersionNegotiation,
  makeDirection,
  noFaults
} from "../../src/netem/faults.js"
import { parseIndexList } from "../../src/netem/indexList.js"

// The fault logic without sockets: time is passed in, randomness is seeded.

const payload = (length: number, seed = 0) => Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff)

/** The decisions for `count` datagrams of 100 bytes, 1 ms apart. */
const run = (faults: Partial<Faults>, count: number, seed = 1, direction: "to_server" | "to_client" = "to_server") => {
  const dir = makeDirection({ ...noFaults, ...faults }, seed, direction)
  return Array.from({ length: count }, (_, i) => dir.decide(i, payload(100, i)))
}

const reasons = (decisions: ReadonlyArray<Decision>) => decisions.map((d) => (d.fate === "dropped" ? d.reason : d.fate))

/**
 * The long-run fraction hit by a CappedRunProcess of probability r and run
 * limit b. The current run length k (0..b) is a Markov chain: from k < b to
 * k + 1 with probability r, else to 0; from b to 0. Its stationary law is
 * π_k = π_0·r^k, so π_0 = (1 − r) / (1 − r^(b+1)) and the hit fraction
 * 1 − π_0 is r·(1 − r^b) / (1 − r^(b+1)) (r when b is unlimited).
 */
const hitRate = (r: number, b: number) => (b === Infinity ? r : (r * (1 - r ** b)) / (1 - r ** (b + 1)))

/** The lengths of the runs of consecutive `true`s. */
const runLengths = (hits: ReadonlyArray<boolean>) => {
  const lengths: Array<number> = []
  hits.forEach((hit, i) => {
    if (!hit) return
    if (i > 0 && hits[i - 1]) lengths[lengths.length - 1]!++
    else lengths.push(1)
  })
  return lengths
}

/** The next `count` events of a CappedRunProcess. */
const events = (percent: number, maxRun: number, count: number, seed = 1) => {
  const process = new CappedRunProcess(percent, maxRun, new Prng(seed))
  return Array.from({ length: count }, () => process.next())
}

/** A Version Negotiation packet: long header, version 0, empty CIDs, one version. */
const versionNegotiation = Uint8Array.from([0xc3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])

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

  it("a capped run process hits r·(1 − r^b)/(1 − r^(b+1)) of 10 000 datagrams", () => {
    // r: the rate, b: the cap. The binomial standard deviation is under 0.5 % here and the runs
    // raise it a little: 2 % is over 3 of them, yet well below the gap from r in the capped cases.
    const cases: ReadonlyArray<readonly [number, number, number]> = [
      [30, 3, 0.2943],
      [50, 1, 1 / 3],
      [60, 2, 0.4898],
      [90, 3, 0.7092],
      [30, Infinity, 0.3],
      [5, Infinity, 0.05]
    ]
    for (const [percent, cap, expected] of cases) {
      expect(hitRate(percent / 100, cap)).toBeCloseTo(expected, 4)
      for (const seed of [1, 2, 3]) {
        const hits = events(percent, cap, 10_000, seed).filter((e) => e !== undefined).length
        expect(Math.abs(hits / 10_000 - expected)).toBeLessThan(0.02)
      }
    }
  })

  it("--loss 30 --loss-burst 3: runs of 1, 2 and 3 losses, never more, `loss` then `burst` within a run", () => {
    const decisions = reasons(run({ loss: 30, lossBurst: 3 }, 10_000))
    decisions.forEach((reason, i) => {
      if (reason === "burst") expect(["loss", "burst"]).toContain(decisions[i - 1])
      if (reason === "loss") expect(["loss", "burst"]).not.toContain(decisions[i - 1])
    })
    const lengths = runLengths(decisions.map((r) => r !== "forwarded"))
    expect(Math.max(...lengths)).toBe(3)
    // A run has length k < 3 with probability r^(k−1)·(1 − r), length 3 with r^2.
    const share = (k: number) => lengths.filter((l) => l === k).length / lengths.length
    expect(Math.abs(share(1) - 0.7)).toBeLessThan(0.03)
    expect(Math.abs(share(2) - 0.21)).toBeLessThan(0.03)
    expect(Math.abs(share(3) - 0.09)).toBeLessThan(0.03)
    const lost = lengths.reduce((n, l) => n + l, 0)
    expect(Math.abs(lost / 10_000 - hitRate(0.3, 3))).toBeLessThan(0.02)
  })

  it("without --loss-burst losses are independent: runs are not limited", () => {
    const lengths = runLengths(run({ loss: 30 }, 10_000).map((d) => d.fate === "dropped"))
    expect(Math.max(...lengths)).toBeGreaterThan(4)
  })

  it("at 100 % with a cap of 3: hit, hit, hit, pass, repeating; at 0 % nothing", () => {
    expect(events(100, 3, 8)).toEqual(["start", "continue", "continue", undefined, "start", "continue", "continue", undefined])
    expect(reasons(run({ loss: 100, lossBurst: 3 }, 8))).toEqual(["loss", "burst", "burst", "forwarded", "loss", "burst", "burst", "forwarded"])
    expect(reasons(run({ loss: 100, lossBurst: 1 }, 4))).toEqual(["loss", "forwarded", "loss", "forwarded"])
    expect(events(0, 3, 1000).every((e) => e === undefined)).toBe(true)
    expect(events(0, Infinity, 1000).every((e) => e === undefined)).toBe(true)
  })

  it("a capped run process: the same seed makes the same decisions, another seed others", () => {
    expect(events(30, 3, 1000, 5)).toEqual(events(30, 3, 1000, 5))
    expect(events(30, 3, 1000, 6)).not.toEqual(events(30, 3, 1000, 5))
    expect(reasons(run({ loss: 30, lossBurst: 3 }, 1000, 7))).toEqual(reasons(run({ loss: 30, lossBurst: 3 }, 1000, 7)))
    expect(reasons(run({ loss: 30, lossBurst: 3 }, 1000, 8))).not.toEqual(reasons(run({ loss: 30, lossBurst: 3 }, 1000, 7)))
  })

  it("an exempt datagram is not hit, ends the run, and still takes its draw", () => {
    const process = new CappedRunProcess(100, 3, new Prng(1))
    expect([process.next(), process.next(), process.next(true), process.next(), process.next(), process.next(), process.next()])
      .toEqual(["start", "continue", undefined, "start", "continue", "continue", undefined])
    // Without a cap, exempting one datagram changes no other decision.
    const exemptAt = (k: number) => {
      const p = new CappedRunProcess(30, Infinity, new Prng(4))
      return Array.from({ length: 200 }, (_, i) => p.next(i === k) !== undefined)
    }
    const plain = exemptAt(-1)
    const first = plain.indexOf(true)
    expect(first).toBeGreaterThanOrEqual(0)
    expect(exemptAt(first)).toEqual(plain.map((hit, i) => hit && i !== first))
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

  it("corruption replaces exactly one byte, among the first 51, by a different value", () => {
    const prng = new Prng(7)
    const indices = new Set<number>()
    for (let i = 0; i < 5000; i++) {
      const data = payload(1 + (i % 120), i)
      const corrupted = corruptByte(data, prng)
      expect(corrupted.length).toBe(data.length)
      const changed = [...data.keys()].filter((j) => data[j] !== corrupted[j])
      expect(changed).toHaveLength(1)
      expect(changed[0]).toBeLessThanOrEqual(Math.min(50, data.length - 1))
      indices.add(changed[0]!)
    }
    expect([...indices].sort((a, b) => a - b)).toEqual(Array.from({ length: 51 }, (_, i) => i))
  })

  it("Version Negotiation: a long header with version 0", () => {
    expect(isVersionNegotiation(versionNegotiation)).toBe(true)
    expect(isVersionNegotiation(Uint8Array.of(0x80, 0, 0, 0, 0))).toBe(true)
    expect(isVersionNegotiation(Uint8Array.of(0xc0, 0, 0, 0, 1, 0))).toBe(false)
    expect(isVersionNegotiation(Uint8Array.of(0x40, 0, 0, 0, 0, 0))).toBe(false)
    expect(isVersionNegotiation(Uint8Array.of(0x80, 0, 0, 0))).toBe(false)
  })

  it("--corrupt forwards the expected share corrupted, at most N in a row, one byte changed, the original untouched", () => {
    const decisions = run({ corrupt: 10, corruptBurst: 2 }, 10_000)
    const corrupted = decisions.filter((d) => d.fate === "corrupted")
    expect(Math.abs(corrupted.length / 10_000 - hitRate(0.1, 2))).toBeLessThan(0.015)
    // Per datagram: the indices of the bytes changed.
    const changed = decisions.map((d, i) => {
      const original = payload(100, i)
      return d.fate === "dropped" ? [] : [...original.keys()].filter((j) => original[j] !== d.data[j])
    })
    expect(decisions.every((d, i) => d.fate !== "forwarded" || changed[i]!.length === 0)).toBe(true)
    expect(decisions.every((d, i) => d.fate !== "corrupted" || (changed[i]!.length === 1 && changed[i]![0]! <= 50))).toBe(true)
    const lengths = runLengths(decisions.map((d) => d.fate === "corrupted"))
    expect(Math.max(...lengths)).toBe(2)
    expect(lengths).toContain(1)
  })

  it("Version Negotiation packets are never corrupted and end the corruption run", () => {
    const dir = makeDirection({ ...noFaults, corrupt: 100, corruptBurst: 3 }, 1, "to_client")
    const sent = [payload(60), payload(60), versionNegotiation, payload(60), payload(60), payload(60), payload(60), versionNegotiation]
    const decisions = sent.map((data, t) => dir.decide(t, data))
    expect(reasons(decisions)).toEqual(["corrupted", "corrupted", "forwarded", "corrupted", "corrupted", "corrupted", "forwarded", "forwarded"])
    expect(decisions[2]).toEqual({ fate: "forwarded", delay: 0, data: versionNegotiation })
    const unlimited = makeDirection({ ...noFaults, corrupt: 100 }, 1, "to_client")
    expect(sent.map((data, t) => unlimited.decide(t, data).fate)).toEqual(sent.map((data) => data === versionNegotiation ? "forwarded" : "corrupted"))
  })

  it("the corrupted bytes do not depend on the losses", () => {
    const corruptedData = (faults: Partial<Faults>) =>
      run(faults, 2000).map((d) => (d.fate === "corrupted" ? Buffer.from(d.data).toString("hex") : undefined))
    const alone = corruptedData({ corrupt: 10 })
    const withLoss = corruptedData({ corrupt: 10, loss: 30 })
    expect(withLoss.filter((d) => d !== undefined).length).toBeGreaterThan(50)
    withLoss.forEach((d, i) => {
      if (d !== undefined) expect(d).toBe(alone[i])
    })
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
