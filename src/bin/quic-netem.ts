/**
 * The `quic-netem` executable.
 *
 * @since 0.1.0
 */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { quicNetem } from "../netem/cli.js"

const main = Command.run(quicNetem, { name: "quic-netem", version: "0.1.0" })

main(process.argv).pipe(
  // @effect/cli has already printed what was wrong with the command line.
  Effect.catchAll(() => Effect.sync(() => (process.exitCode = 2))),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
