/**
 * The raw UDP ceiling: node:dgram, one process blasting 1200-byte datagrams
 * at another on 127.0.0.1; what the receiver counted.
 */
import { fileURLToPath } from "node:url"
import { lastJson, sleep, start, waitExit } from "./harness.js"

export interface UdpResult {
  readonly payloadBytes: number
  readonly seconds: number
  readonly sent: number
  readonly received: number
  /** Datagrams per second received, over the receiver's first-to-last window. */
  readonly packetsPerSecond: number
  /** Payload bits per second received, in Gbit/s. */
  readonly gbitPerSecond: number
  /** Share of sent datagrams the receiver never counted (kernel drops). */
  readonly lossPercent: number
}

const script = fileURLToPath(new URL("./udpBlast.ts", import.meta.url))

export const benchUdp = async (seconds: number, payloadBytes = 1200): Promise<UdpResult> => {
  const receiver = start("udp receiver", process.execPath, ["--import", "tsx", script, "receive"], { stdin: true })
  try {
    const port = Number((JSON.parse(await receiver.waitForLine(/"port"/, 20_000)) as { port: number }).port)
    const sender = start("udp sender", process.execPath, ["--import", "tsx", script, "send", String(port), String(seconds), String(payloadBytes)])
    const { code, timedOut } = await waitExit(sender, (seconds + 30) * 1000)
    if (code !== 0 || timedOut) throw new Error(`udp sender failed (exit ${code}${timedOut ? ", timed out" : ""}): ${sender.stderr}`)
    const sent = lastJson(sender.stdout) as { sent: number; seconds: number } | undefined
    if (sent === undefined) throw new Error(`udp sender printed no result: ${sender.stdout}`)
    await sleep(300)
    receiver.write("report\n")
    const report = JSON.parse(await receiver.waitForLine(/"received"/, 10_000)) as { received: number; bytes: number; seconds: number }
    const window = report.seconds > 0 ? report.seconds : sent.seconds
    return {
      payloadBytes,
      seconds: sent.seconds,
      sent: sent.sent,
      received: report.received,
      packetsPerSecond: report.received / window,
      gbitPerSecond: (report.bytes * 8) / window / 1e9,
      lossPercent: sent.sent > 0 ? (100 * (sent.sent - report.received)) / sent.sent : 0
    }
  } finally {
    await receiver.stop()
  }
}
