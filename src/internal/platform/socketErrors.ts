/**
 * Maps operating-system error codes from binding and sending to the reasons
 * `SocketError` carries. Pure, so the mapping is testable without provoking
 * each error (EACCES, for instance, cannot be provoked as root).
 */
export type SocketErrorReason = "AddressInUse" | "AccessDenied" | "AddressNotAvailable" | "SendFailed" | "Closed" | "Unknown"

/** The `code` of a Node system error (`EADDRINUSE`, …), if it has one. */
export const errorCode = (error: unknown): string | undefined => {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = (error as { readonly code: unknown }).code
    return typeof code === "string" ? code : undefined
  }
  return undefined
}

export const bindErrorReason = (code: string | undefined): SocketErrorReason => {
  switch (code) {
    case "EADDRINUSE":
      return "AddressInUse"
    case "EACCES":
    case "EPERM":
      return "AccessDenied"
    case "EADDRNOTAVAIL":
      return "AddressNotAvailable"
    case "ERR_SOCKET_DGRAM_NOT_RUNNING":
      return "Closed"
    default:
      return "Unknown"
  }
}

export const sendErrorReason = (code: string | undefined): SocketErrorReason =>
  code === "ERR_SOCKET_DGRAM_NOT_RUNNING" ? "Closed" : "SendFailed"

/** Whether `port` is a valid UDP port number (0 asks for an ephemeral one). */
export const isValidPort = (port: number): boolean => Number.isInteger(port) && port >= 0 && port <= 65535
