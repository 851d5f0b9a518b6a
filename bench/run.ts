/**
 * The benchmark driver: `npm run bench -- [crypto] [--millis N]`.
 * Prints a table and writes bench/results.json. Never part of `npm test`.
 */
import { writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { makeNobleCryptoBackend } from "../src/platform/nobleCrypto.js"
import { makeNodeCryptoBackend } from "../src/platform/nodeCrypto.js"
import { benchCrypto } from "./crypto.js"

const args = process.argv.slice(2)
const millisFlag = args.indexOf("--millis")
const millis = millisFlag >= 0 ? Number(args[millisFlag + 1]) : 1000
const selected = args.filter((a, i) => !a.startsWith("--") && (millisFlag < 0 || i !== millisFlag + 1))
const suites = selected.length > 0 ? selected : ["crypto"]
const known = new Set(["crypto"])
for (const name of suites) {
  if (!known.has(name)) {
    console.error(`unknown benchmark "${name}"; known: ${[...known].join(", ")}`)
    process.exit(2)
  }
}

const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length
}

if (suites.includes("crypto")) {
  const rows = [makeNodeCryptoBackend(), makeNobleCryptoBackend()].flatMap((backend) => benchCrypto(backend, millis))
  console.log("crypto: µs per 1200-byte 1-RTT packet (seal/open include header protection)")
  console.table(
    rows.map((r) => ({
      backend: r.backend,
      suite: r.suite,
      "seal µs": r.sealMicros.toFixed(2),
      "open µs": r.openMicros.toFixed(2),
      "header protection µs": r.headerProtectionMicros.toFixed(2)
    }))
  )
  results.crypto = rows
}

writeFileSync(new URL("./results.json", import.meta.url), JSON.stringify(results, null, 2) + "\n")
