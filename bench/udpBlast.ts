/**
 * The raw UDP ceiling's two processes (started by bench/udp.ts):
 *
 *   node --import tsx bench/udpBlast.ts receive
 *     binds 127.0.0.1:0, prints {"port"} and counts datagrams; on the stdin
 *     line "report" prints {"received","bytes","seconds"} and exits.
 *   node --import tsx bench/udpBlast.ts send PORT SECONDS SIZE
 *     sends SIZE-byte datagrams to 127.0.0.1:PORT for SECONDS with a bounded
 *     number of sends in flight, then prints {"sent","errors","seconds"}.
 */
import { createSocket } from "node:dgram"
import { createInterface } from "node:readline"

const BUFFER = 4 << 20
const IN_FLIGHT = 256

const receive = (): void => {
  const socket = createSocket({ type: "udp4", recvBufferSize: BUFFER })
  let received = 0
  let bytes = 0
  let first = 0n
  let last = 0n
  socket.on("message", (msg) => {
    const now = process.hrtime.bigint()
    if (received === 0) first = now
    last = now
    received++
    bytes += msg.length
  })
  socket.bind(0, "127.0.0.1", () => {
    console.log(JSON.stringify({ port: socket.address().port }))
  })
  createInterface({ input: process.stdin }).on("line", (line) => {
    if (line.trim() !== "report") return
    console.log(JSON.stringify({ received, bytes, seconds: Number(last - first) / 1e9 }))
    socket.close(() => process.exit(0))
  })
}

const send = (port: number, seconds: number, size: number): void => {
  const socket = createSocket({ type: "udp4", sendBufferSize: BUFFER })
  const payload = Buffer.alloc(size, 0xab)
  let sent = 0
  let errors = 0
  let inFlight = 0
  let stopped = false
  let started = 0n
  const finish = () => {
    const elapsed = Number(process.hrtime.bigint() - started) / 1e9
    console.log(JSON.stringify({ sent, errors, seconds: elapsed }))
    socket.close(() => process.exit(0))
  }
  // Node completes loopback sends synchronously and calls back on the next
  // tick, so refilling from the callback would starve the event loop (and the
  // stop timer): refill once per turn of the loop instead.
  let scheduled = false
  const onSent = (error: Error | null) => {
    inFlight--
    if (error === null) sent++
    else errors++
    if (stopped) {
      if (inFlight === 0) finish()
    } else if (!scheduled) {
      scheduled = true
      setImmediate(pump)
    }
  }
  const pump = () => {
    scheduled = false
    if (stopped) return
    if (Number(process.hrtime.bigint() - started) / 1e9 >= seconds) {
      stopped = true
      if (inFlight === 0) finish()
      return
    }
    while (inFlight < IN_FLIGHT) {
      inFlight++
      socket.send(payload, onSent)
    }
  }
  socket.connect(port, "127.0.0.1", () => {
    started = process.hrtime.bigint()
    pump()
  })
}

const [mode, ...rest] = process.argv.slice(2)
if (mode === "receive") receive()
else if (mode === "send") send(Number(rest[0]), Number(rest[1] ?? 5), Number(rest[2] ?? 1200))
else {
  console.error("usage: udpBlast.ts receive | send PORT SECONDS SIZE")
  process.exit(2)
}
