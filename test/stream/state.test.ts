import { describe, expect, it } from "vitest"
import {
  canReset,
  isRecvTerminal,
  isSendTerminal,
  recvTransition,
  type RecvEvent,
  type RecvState,
  sendTransition,
  type SendEvent,
  type SendState
} from "../../src/internal/stream/state.js"

const sendStates: Array<SendState> = ["Ready", "Send", "DataSent", "DataRecvd", "ResetSent", "ResetRecvd"]
const recvStates: Array<RecvState> = ["Recv", "SizeKnown", "DataRecvd", "DataRead", "ResetRecvd", "ResetRead"]

describe("sending part (RFC 9000 §3.1, Figure 2)", () => {
  it("follows the figure's arrows and nothing else", () => {
    const arrows: Record<string, SendState> = {
      "Ready SendStream": "Send",
      "Ready SendFin": "DataSent",
      "Ready SendReset": "ResetSent",
      "Send SendFin": "DataSent",
      "Send SendReset": "ResetSent",
      "DataSent AllAcked": "DataRecvd",
      "DataSent SendReset": "ResetSent",
      "ResetSent ResetAcked": "ResetRecvd"
    }
    const events: Array<SendEvent> = ["SendStream", "SendFin", "AllAcked", "SendReset", "ResetAcked"]
    for (const state of sendStates) {
      for (const event of events) {
        expect(sendTransition(state, event), `${state} ${event}`).toBe(arrows[`${state} ${event}`] ?? state)
      }
    }
  })

  it("terminal and resettable states", () => {
    expect(sendStates.filter(isSendTerminal)).toEqual(["DataRecvd", "ResetRecvd"])
    expect(sendStates.filter(canReset)).toEqual(["Ready", "Send", "DataSent"])
  })
})

describe("receiving part (RFC 9000 §3.2, Figure 3)", () => {
  it("follows the figure's arrows; a reset after all data arrived is ignored", () => {
    const arrows: Record<string, RecvState> = {
      "Recv RecvFin": "SizeKnown",
      "Recv RecvReset": "ResetRecvd",
      "SizeKnown AllReceived": "DataRecvd",
      "SizeKnown RecvReset": "ResetRecvd",
      "DataRecvd AllRead": "DataRead",
      "ResetRecvd ResetRead": "ResetRead"
    }
    const events: Array<RecvEvent> = ["RecvFin", "AllReceived", "AllRead", "RecvReset", "ResetRead"]
    for (const state of recvStates) {
      for (const event of events) {
        expect(recvTransition(state, event), `${state} ${event}`).toBe(arrows[`${state} ${event}`] ?? state)
      }
    }
  })

  it("terminal states", () => {
    expect(recvStates.filter(isRecvTerminal)).toEqual(["DataRead", "ResetRead"])
  })
})
