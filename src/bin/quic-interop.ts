/**
 * The `quic-interop` executable.
 *
 * @since 0.1.0
 */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { quicInterop } from "../interop/cli.js"
import * as NodeCrypto from "../NodeCrypto.js"

const main = Command.run(quicInterop, { name: "quic-interop", version: "0.1.0" })

main(process.argv).pipe(
  // @effect/cli has already printed what was wrong with the command line.
  Effect.catchAll(() => Effect.sync(() => (process.exitCode = 2))),
  Effect.provide(Layer.merge(NodeContext.layer, NodeCrypto.layer)),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
