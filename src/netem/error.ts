/**
 * quic-netem's failures. Each becomes one line on stderr: `Usage` exits with
 * status 2, the others with status 1.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * A relay that could not start: a bad flag (`Usage`), a port already taken
 * (`AddressInUse`), another socket failure (`Socket`) or a log file that
 * cannot be written (`Io`).
 *
 * @since 0.1.0
 * @category errors
 */
export class NetemError extends Data.TaggedError("NetemError")<{
  readonly reason: "Usage" | "AddressInUse" | "Socket" | "Io"
  readonly message: string
}> {}
