/**
 * The runner's results as a case × pair matrix: a table for the terminal
 * and INTEROP.md for the repository.
 */
import type { CaseResult } from "./runCase.js"

const mark = (result: CaseResult | undefined): string =>
  result === undefined ? "" : result.status === "pass" ? "pass" : result.status === "fail" ? "**fail**" : "—"

/** Results of several runs of one case and pair collapse into one: a failure in any run is a failure. */
export const combine = (runs: ReadonlyArray<CaseResult>): CaseResult => {
  const failure = runs.find((r) => r.status === "fail")
  if (failure !== undefined) {
    const failures = runs.filter((r) => r.status === "fail").length
    return { ...failure, reason: `${failures} of ${runs.length} runs failed: ${failure.reason}` }
  }
  return runs[0]!
}

export const markdownMatrix = (results: ReadonlyArray<CaseResult>, pairs: ReadonlyArray<string>): string => {
  const cases = [...new Set(results.map((r) => r.scenario))]
  const find = (scenario: string, pair: string) => results.find((r) => r.scenario === scenario && r.pair === pair)
  const rows = cases.map((scenario) => `| ${scenario} | ${pairs.map((pair) => mark(find(scenario, pair))).join(" | ")} |`)
  const notes = results.filter((r) => r.status !== "pass").map((r) => `- ${r.scenario}, ${r.pair}: ${r.status === "fail" ? "fail" : "unsupported"}: ${r.reason}`)
  return [
    `| case | ${pairs.join(" | ")} |`,
    `| --- | ${pairs.map(() => "---").join(" | ")} |`,
    ...rows,
    "",
    ...(notes.length === 0 ? [] : ["Why a cell is not a pass (— is a case that pair cannot play):", "", ...notes])
  ].join("\n")
}

export const consoleLine = (result: CaseResult): string =>
  `${result.status.padEnd(11)} ${result.scenario.padEnd(20)} ${result.pair.padEnd(28)} ${result.seconds.toFixed(1).padStart(6)} s` +
  (result.reason === "" ? "" : `  ${result.reason}`) + (result.dir === undefined ? "" : `  [${result.dir}]`)
