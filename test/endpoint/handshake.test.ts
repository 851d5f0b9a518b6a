import { describe, expect, it } from "vitest"
import { backends } from "../helpers.js"
import { CLIENT, makePair, SERVER } from "../support/link.js"

describe.each(backends)("endpoint handshake on the %s backend", (_name, backend) => {
  it("connects a client and a server over a perfect link", () => {
    const { network, client } = makePair(backend)
    const handle = client.connect(network.now, SERVER, "localhost")
    expect(typeof handle).toBe("number")
    const connected = () =>
      network.eventsOf(CLIENT).some((e) => e._tag === "Connected") && network.eventsOf(SERVER).some((e) => e._tag === "Connected")
    expect(network.run(connected, 5_000_000)).toBe(true)
    expect(client.alpn(handle as number)).toBe("test")
  })
})
