/**
 * `npm run interop`: every interop case for every pair (ours ↔ ours, ours ↔
 * quic-go both ways) through the quic-netem relay, checked from a tshark
 * capture, printed as a matrix and written to INTEROP.md.
 *
 *   npm run interop                                  # everything, 3 runs each, INTEROP.md rewritten
 *   npm run interop -- --cases retry,v2 --runs 1     # a selection (INTEROP.md untouched)
 *   npm run interop -- --fast                        # the smaller file sets CI uses
 *   npm run interop -- --keep                        # keep every case's folder (capture, key logs, qlogs, relay log)
 */
import { spawnSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { killAll } from "../bench/harness.js"
import { findQuicGo, repoRoot } from "../bench/peers.js"
import { PAIRS, pairName } from "./implementations.js"
import { combine, consoleLine, markdownMatrix } from "./matrix.js"
import { type CaseResult, runCase } from "./runCase.js"
import { scenarioByName, scenarios } from "./scenarios.js"
import { tsharkPath, tsharkVersion } from "./tshark.js"

const flag = (name: string): string | undefined => {
  const at = process.argv.indexOf(`--${name}`)
  return at < 0 ? undefined : process.argv[at + 1]
}
const has = (name: string) => process.argv.includes(`--${name}`)

const main = async () => {
  if (tsharkPath === undefined) throw new Error("tshark is needed to check the cases from the packets (apt-get install tshark)")
  const selected = flag("cases")?.split(",") ?? scenarios.map((s) => s.name)
  const unknown = selected.filter((name) => scenarioByName(name) === undefined)
  if (unknown.length > 0) throw new Error(`unknown case(s): ${unknown.join(", ")}`)
  const pairs = PAIRS.filter((pair) => flag("pairs") === undefined || flag("pairs")!.split(",").includes(pairName(pair)))
  const runs = Number(flag("runs") ?? "3")
  const build = spawnSync("npm", ["run", "build", "--silent"], { cwd: repoRoot, stdio: "inherit" })
  if (build.status !== 0) throw new Error("npm run build failed")
  const quicGo = findQuicGo()
  if (!quicGo.ok) console.error(`quic-go pairs are skipped: ${quicGo.reason}`)
  const options = { fast: has("fast"), quicGo: quicGo.ok ? quicGo.value.binary : undefined, keep: has("keep") }

  const results: Array<CaseResult> = []
  for (const name of selected) {
    const scenario = scenarioByName(name)!
    for (const pair of pairs) {
      const attempts: Array<CaseResult> = []
      for (let run = 1; run <= runs; run++) {
        const result = await runCase(scenario, pair, { ...options, seed: run })
        console.log(consoleLine(result))
        attempts.push(result)
        if (result.status === "unsupported") break
      }
      results.push(combine(attempts))
    }
  }
  const matrix = markdownMatrix(results, pairs.map(pairName))
  console.log(`\n${matrix}`)
  if (flag("cases") === undefined && flag("pairs") === undefined && !options.fast) {
    writeFileSync(join(repoRoot, "INTEROP.md"), [
      "# Interop matrix",
      "",
      `\`npm run interop\` on ${new Date().toISOString().slice(0, 10)}: every case of ../shared/spec/interop-endpoint.md, ${runs} runs each,`,
      "server, quic-netem relay and client as separate processes on loopback, each case checked from a tshark capture",
      `decrypted with the endpoints' key logs (${tsharkVersion().replace(/\.$/, "")}) and from the relay's datagram log.`,
      `Peer: ${quicGo.ok ? quicGo.value.version : "not available"}. A pass means every run passed.`,
      "",
      matrix,
      ""
    ].join("\n"))
    console.log("\nINTEROP.md written")
  }
  process.exitCode = results.some((r) => r.status === "fail") ? 1 : 0
}

main().catch((error: unknown) => {
  console.error(`interop: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
}).finally(killAll)
