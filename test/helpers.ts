import { readFileSync } from "node:fs"
import { fromHex, toHex } from "../src/internal/codec/hex.js"
import type { CryptoBackend } from "../src/internal/crypto/backend.js"
import { makeNobleCryptoBackend } from "../src/platform/nobleCrypto.js"
import { makeNodeCryptoBackend } from "../src/platform/nodeCrypto.js"

export { fromHex, toHex }

/** Reads a JSON fixture from test/fixtures. */
export const fixture = <A = any>(path: string): A =>
  JSON.parse(readFileSync(new URL(`./fixtures/${path}`, import.meta.url), "utf8")) as A

/** Both crypto backends, for `describe.each`. */
export const backends: ReadonlyArray<readonly [string, CryptoBackend]> = [
  ["node", makeNodeCryptoBackend()],
  ["noble", makeNobleCryptoBackend()]
]
