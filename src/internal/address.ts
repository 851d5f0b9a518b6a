/** A UDP peer or local address as the core sees it: an IP literal and a port. */
export interface SocketAddress {
  readonly address: string
  readonly port: number
}

export const sameAddress = (a: SocketAddress, b: SocketAddress): boolean => a.port === b.port && a.address === b.address

/** A stable string for maps and logs: `1.2.3.4:443` or `[::1]:443`. */
export const addressKey = (a: SocketAddress): string => (a.address.includes(":") ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`)
