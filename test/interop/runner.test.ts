/**
 * The interop runner's fast subset (interop/scenarios.ts FAST_CASES), as CI
 * runs it: each case for each pair that can play it, server, quic-netem relay
 * and client in separate processes on loopback, judged from a tshark capture
 * and the relay's log. `npm run interop` runs every case, three times.
 */
import { beforeAll, describe, expect, it } from "vitest"
import { cannotPlay, PAIRS, pairName } from "../../interop/implementations.js"
import { runCase } from "../../interop/runCase.js"
import { FAST_CASES, scenarioByName } from "../../interop/scenarios.js"
import { tsharkPath } from "../../interop/tshark.js"
import { ensureBuilt } from "../support/quicPerf.js"
import { QUICGO_PEER } from "./quicgoPeer.js"

describe.skipIf(tsharkPath === undefined)("interop runner, fast subset (needs tshark; quic-go pairs need QUICGO_PEER)", () => {
  beforeAll(() => ensureBuilt(), 300_000)

  for (const name of FAST_CASES) {
    const scenario = scenarioByName(name)!
    for (const pair of PAIRS) {
      if (cannotPlay(pair, name) !== undefined) continue
      const needsPeer = pair.client === "quic-go" || pair.server === "quic-go"
      it.skipIf(needsPeer && QUICGO_PEER === undefined)(`${name}: ${pairName(pair)}`, async () => {
        const result = await runCase(scenario, pair, { fast: true, quicGo: QUICGO_PEER, seed: 1, keep: false })
        expect(result.reason).toBe("")
        expect(result.status).toBe("pass")
      }, (scenario.timeoutSeconds(true) + 90) * 1000)
    }
  }
})
