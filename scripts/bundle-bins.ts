/**
 * Bundles each command under src/bin/ with its dependencies into one file in
 * dist/bin/ (`npm run build` runs this after `tsc`). Node resolves and links
 * every ES module file separately, and the commands import several hundred
 * (effect, @effect/cli, @effect/platform-node): unbundled, `quic-perf --help`
 * took 1.1–1.3 s and 1.4 s of CPU on the project's machine, bundled 0.3 s
 * (BENCHMARKS.md, session 7). The library itself (dist/*.js) stays unbundled.
 */
import { build } from "esbuild"
import { readdirSync } from "node:fs"
import { join } from "node:path"

const commands = readdirSync("src/bin").filter((file) => file.endsWith(".ts")).map((file) => join("src/bin", file))

await build({
  entryPoints: commands,
  outdir: "dist/bin",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  logLevel: "warning",
  // Some dependencies are CommonJS and `require` node's modules, which an ES
  // module bundle can only do through a `require` made here.
  banner: { js: "import { createRequire as __createRequire } from \"node:module\"; const require = __createRequire(import.meta.url);" }
})
for (const command of commands) console.log(`${command} → dist/bin/`)
