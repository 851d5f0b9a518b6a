import type { QuicEvent } from "../../src/internal/events.js"

/**
 * The core closes a connection whose own code threw (INTERNAL_ERROR, with
 * the exception as the close reason's `defect`) rather than letting the
 * exception escape. Test networks hand the exception back, so a bug fails
 * the test that met it as plainly as a throw would.
 */
export const failOnDefect = (event: QuicEvent): void => {
  if (event._tag === "ConnectionClosed" && event.reason._tag === "TransportError" && event.reason.defect !== undefined) {
    throw event.reason.defect
  }
}
