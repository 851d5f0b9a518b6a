/**
 * Bundles each command under src/bin/ with its dependencies into one file in
 * dist/bin/ (`npm run build` runs this after `tsc`). Node resolves and links
 * every ES module file separately, and the commands import several hundred
 * (effect, @effect/cli, @effect/platform-node): unbundled, `quic-perf --help`
 * took 1.1–1.3 s and 1.4 s of CPU on the project's machine, bundled 0.3 s
 * (BENCHMARKS.md, session 7). The library itself (dist/*.js) stays unbundled.
 *
 * Each command becomes three files: NAME.cjs, the bundle; NAME.js, the
 * executable, which runs the bundle through src/bin/support/runBundle.ts; and
 * NAME.v8cache, V8's bytecode from one run of the command made here, which
 * spares later runs most of their compiling (BENCHMARKS.md, session 10).
 */
import { build } from "esbuild"
import { spawnSync } from "node:child_process"
import { chmodSync, existsSync, readdirSync, rmSync } from "node:fs"
import { basename, join } from "node:path"
import { cachePath, WRITE_CACHE_ENV } from "../src/bin/support/runBundle.js"

const commands = readdirSync("src/bin").filter((file) => file.endsWith(".ts")).map((file) => basename(file, ".ts"))

/** What each command runs while its cache is made: the demo moves data both ways through client and server code. */
const WARM_UP: Record<string, ReadonlyArray<string>> = { "quic-perf": ["demo", "--size", "4M"] }
const WARM_UP_TIMEOUT_MILLIS = 60_000

for (const name of commands) {
  const bundle = join("dist/bin", `${name}.cjs`)
  rmSync(cachePath(bundle), { force: true })
  await build({
    entryPoints: [join("src/bin", `${name}.ts`)],
    outfile: bundle,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    logLevel: "warning"
  })
  await build({
    stdin: {
      contents: `import { runBundle } from "./support/runBundle.js"\nrunBundle(new URL("./${name}.cjs", import.meta.url))\n`,
      resolveDir: "src/bin",
      sourcefile: `${name}.js`,
      loader: "ts"
    },
    outfile: join("dist/bin", `${name}.js`),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    banner: { js: "#!/usr/bin/env node" },
    logLevel: "warning"
  })
  chmodSync(join("dist/bin", `${name}.js`), 0o755)
  const warmUp = spawnSync(process.execPath, [join("dist/bin", `${name}.js`), ...(WARM_UP[name] ?? ["--help"])], {
    env: { ...process.env, [WRITE_CACHE_ENV]: "1" },
    stdio: "ignore",
    timeout: WARM_UP_TIMEOUT_MILLIS
  })
  // A command that cannot run here (no loopback, say) still works, only without a cache.
  const failed = warmUp.status === 0 ? "" : ` (its warm-up run failed: ${warmUp.error?.message ?? `status ${warmUp.status}`})`
  const cache = existsSync(cachePath(bundle)) ? "with a V8 cache" : "without a V8 cache"
  console.log(`src/bin/${name}.ts → dist/bin/${name}.js, ${cache}${failed}`)
}
