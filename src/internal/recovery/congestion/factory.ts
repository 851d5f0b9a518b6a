/**
 * Builds the congestion controller a connection is configured with.
 */
import type { CongestionController } from "./controller.js"
import { Cubic } from "./cubic.js"
import { NewReno } from "./newReno.js"

export type CongestionControllerKind = "newreno" | "cubic"

export const makeCongestionController = (
  kind: CongestionControllerKind,
  maxDatagramSize: number
): CongestionController => kind === "cubic" ? new Cubic(maxDatagramSize) : new NewReno(maxDatagramSize)
