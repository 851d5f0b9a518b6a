import { defineConfig } from "vitest/config"
import { INTEROP_RUNNER_TESTS } from "./vitest.config.js"

/**
 * The interop runner's fast subset, alone: each case emulates 15 ms links and
 * 10 Mbit/s in real time between separate processes, so it gets the machine
 * to itself rather than sharing it with the rest of the suite.
 */
export default defineConfig({
  test: {
    include: [INTEROP_RUNNER_TESTS],
    fileParallelism: false,
    testTimeout: 60_000
  }
})
