import { writeFileSync } from "node:fs"
import { assemble, wasmSources } from "./wasm.js"

for (const source of wasmSources) {
  writeFileSync(source.module, await assemble(source))
  console.log(`${source.wat} → ${source.module}`)
}
