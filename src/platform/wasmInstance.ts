/**
 * Instantiates the embedded WebAssembly modules of ./wasm/ (base64 text, so
 * the library ships no binary file and needs no loader).
 */
import { Buffer } from "node:buffer"

/** The part of the WebAssembly JS API used here (ES2022's lib does not declare it). */
interface WebAssemblyApi {
  readonly Module: new (bytes: Uint8Array) => object
  readonly Instance: new (module: object) => { readonly exports: object }
}

/** A module instance's exports, and its memory as bytes (the modules never grow their memory). */
export interface WasmInstance<Exports> {
  readonly exports: Exports
  readonly memory: Uint8Array
}

/**
 * Compiles and instantiates `base64` synchronously (allowed everywhere for
 * modules this small, a few KiB), once, on the first call of the returned
 * function.
 */
export const lazyInstance = <Exports extends { readonly memory: { readonly buffer: ArrayBuffer } }>(
  base64: string
): (() => WasmInstance<Exports>) => {
  let shared: WasmInstance<Exports> | undefined
  return () => {
    if (shared === undefined) {
      // Node's decoder: `Uint8Array.from(atob(…), mapping)` took 0.56 ms for the 4.7 KB module, on the first handshake.
      const bytes = Buffer.from(base64, "base64")
      const wasm = (globalThis as unknown as { readonly WebAssembly: WebAssemblyApi }).WebAssembly
      const exports = new wasm.Instance(new wasm.Module(bytes)).exports as Exports
      shared = { exports, memory: new Uint8Array(exports.memory.buffer) }
    }
    return shared
  }
}
