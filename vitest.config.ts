import { defineConfig } from "vitest/config"

/** The interop runner's scenarios run on their own afterwards (vitest.interop.config.ts): they emulate a network in real time. */
export const INTEROP_RUNNER_TESTS = "test/interop/runner.test.ts"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: [INTEROP_RUNNER_TESTS, "**/node_modules/**"],
    testTimeout: 60_000
  }
})
