import { describe, expect, it } from "vitest"
import { type CidIssuer, LocalCids, RemoteCids } from "../../src/internal/connection/cids.js"
import { TransportErrorCode } from "../../src/internal/errors.js"
import { FrameType } from "../../src/internal/frame/types.js"

const cidOf = (n: number): Uint8Array => Uint8Array.of(0xc0, n & 0xff, (n >> 8) & 0xff, 0x01, 0x02, 0x03, 0x04, 0x05)
const tokenOf = (n: number): Uint8Array => new Uint8Array(16).fill(n & 0xff)

/** An issuer that hands out cidOf(101), cidOf(102), …, counts its calls, and gives cidOf(n) the token tokenOf(n). */
const counter = (): CidIssuer & { calls: number } => {
  const issuer = {
    calls: 0,
    generate: () => cidOf(100 + ++issuer.calls),
    resetToken: (cid: Uint8Array) => tokenOf(cid[1]! | (cid[2]! << 8))
  }
  return issuer
}

const makeLocal = () => {
  const generate = counter()
  const initial = { sequence: 0, cid: cidOf(0) }
  return { local: new LocalCids(initial, generate), generate, initial }
}

const sequences = (local: LocalCids): Array<number> => [...local.all()].map((c) => c.sequence).sort((a, b) => a - b)

describe("LocalCids (RFC 9000 §5.1.1, §19.16)", () => {
  it("starts with the initial CID only", () => {
    const { local, initial } = makeLocal()
    expect(local.count).toBe(1)
    expect(local.get(0)).toEqual(initial)
    expect(local.isActive(0)).toBe(true)
    expect(local.isActive(1)).toBe(false)
    expect(local.pendingAnnouncements).toEqual([])
    expect(local.added).toEqual([])
    expect(local.retired).toEqual([])
    expect(local.retirePriorToValue).toBe(0)
  })

  it("replenishes up to the limit with sequence numbers 1, 2, … (each increasing by 1)", () => {
    const { local, generate } = makeLocal()
    local.replenish(4)
    expect(local.count).toBe(4)
    expect(generate.calls).toBe(3)
    expect(sequences(local)).toEqual([0, 1, 2, 3])
    expect(local.pendingAnnouncements.map((c) => c.sequence)).toEqual([1, 2, 3])
    expect(local.pendingAnnouncements.map((c) => c.cid)).toEqual([cidOf(101), cidOf(102), cidOf(103)])
    // RFC 9000 §10.3.2: each token is the issuer's function of its CID, computed when announced.
    expect(local.pendingAnnouncements.map((c) => local.resetTokenOf(c))).toEqual([tokenOf(101), tokenOf(102), tokenOf(103)])
    expect(local.added).toEqual([cidOf(101), cidOf(102), cidOf(103)])
    expect(local.get(2)).toEqual({ sequence: 2, cid: cidOf(102) })
  })

  it("issues nothing when already at the limit (never more than the peer's limit)", () => {
    const { local, generate } = makeLocal()
    local.replenish(3)
    local.replenish(3)
    local.replenish(2)
    local.replenish(1)
    expect(generate.calls).toBe(2)
    expect(local.count).toBe(3)
  })

  it("issues more when the limit rises", () => {
    const { local } = makeLocal()
    local.replenish(2)
    local.replenish(5)
    expect(sequences(local)).toEqual([0, 1, 2, 3, 4])
  })

  it("rejects retiring a sequence number never issued with PROTOCOL_VIOLATION (§19.16)", () => {
    const { local } = makeLocal()
    local.replenish(3)
    const error = local.onRetire(3, cidOf(0))
    expect(error).toMatchObject({ _tag: "TransportError", code: TransportErrorCode.PROTOCOL_VIOLATION, frameType: FrameType.RETIRE_CONNECTION_ID })
    expect(error?.code).toBe(0x0a)
    expect(FrameType.RETIRE_CONNECTION_ID).toBe(0x19)
    expect(local.onRetire(1000, cidOf(0))?.code).toBe(0x0a)
    expect(local.count).toBe(3)
    expect(local.retired).toEqual([])
  })

  it("rejects retiring the CID the carrying packet was sent to with PROTOCOL_VIOLATION (§19.16)", () => {
    const { local } = makeLocal()
    local.replenish(3)
    const error = local.onRetire(1, cidOf(101))
    expect(error).toMatchObject({ code: 0x0a, frameType: FrameType.RETIRE_CONNECTION_ID })
    expect(local.isActive(1)).toBe(true)
    expect(local.retired).toEqual([])
    expect(local.onRetire(0, cidOf(0))?.code).toBe(0x0a)
    expect(local.isActive(0)).toBe(true)
  })

  it("retires an issued CID, reporting it for the endpoint to stop routing", () => {
    const { local } = makeLocal()
    local.replenish(3)
    expect(local.onRetire(0, cidOf(101))).toBeUndefined()
    expect(local.isActive(0)).toBe(false)
    expect(local.get(0)).toBeUndefined()
    expect(local.count).toBe(2)
    expect(local.retired).toEqual([cidOf(0)])
    expect(sequences(local)).toEqual([1, 2])
  })

  it("ignores retiring an already-retired CID (a repeated frame is not an error)", () => {
    const { local } = makeLocal()
    local.replenish(2)
    expect(local.onRetire(0, cidOf(101))).toBeUndefined()
    expect(local.onRetire(0, cidOf(101))).toBeUndefined()
    expect(local.retired).toEqual([cidOf(0)])
    expect(local.count).toBe(1)
  })

  it("replenishes after a retirement with the next sequence number, never reusing one", () => {
    const { local } = makeLocal()
    local.replenish(3)
    local.pendingAnnouncements.length = 0
    local.added.length = 0
    expect(local.onRetire(1, cidOf(0))).toBeUndefined()
    local.replenish(3)
    expect(sequences(local)).toEqual([0, 2, 3])
    expect(local.pendingAnnouncements.map((c) => c.sequence)).toEqual([3])
    expect(local.added).toEqual([cidOf(103)])
    // A retirement of the just-issued sequence is now legitimate; the next one is not.
    expect(local.onRetire(3, cidOf(0))).toBeUndefined()
    expect(local.onRetire(4, cidOf(0))?.code).toBe(0x0a)
  })

  it("supports an initial CID with a non-zero sequence", () => {
    const local = new LocalCids({ sequence: 5, cid: cidOf(5) }, counter())
    local.replenish(2)
    expect(sequences(local)).toEqual([5, 6])
    expect(local.onRetire(7, cidOf(5))?.code).toBe(0x0a)
  })
})

describe("RemoteCids (RFC 9000 §5.1.1, §5.1.2, §19.15)", () => {
  it("starts on the initial CID (sequence 0) with no spares and no reset token", () => {
    const remote = new RemoteCids(cidOf(0), 4)
    expect(remote.active).toEqual({ sequence: 0, cid: cidOf(0), resetToken: undefined })
    expect(remote.spareCount).toBe(0)
    expect([...remote.resetTokens()]).toEqual([])
    expect(remote.pendingRetirements).toEqual([])
  })

  it("replaces the initial CID and attaches the stateless_reset_token transport parameter to sequence 0", () => {
    const remote = new RemoteCids(cidOf(0), 4)
    remote.setInitial(cidOf(50))
    expect(remote.active.cid).toEqual(cidOf(50))
    remote.setInitialResetToken(tokenOf(50))
    expect(remote.active).toEqual({ sequence: 0, cid: cidOf(50), resetToken: tokenOf(50) })
    expect([...remote.resetTokens()]).toEqual([tokenOf(50)])
    // setInitial keeps the token.
    remote.setInitial(cidOf(51))
    expect(remote.active.resetToken).toEqual(tokenOf(50))
  })

  it("stores new CIDs as spares without switching", () => {
    const remote = new RemoteCids(cidOf(0), 4)
    expect(remote.onNewConnectionId(1, 0, cidOf(1), tokenOf(1))).toBeUndefined()
    expect(remote.onNewConnectionId(2, 0, cidOf(2), tokenOf(2))).toBeUndefined()
    expect(remote.spareCount).toBe(2)
    expect(remote.active.sequence).toBe(0)
    expect(remote.pendingRetirements).toEqual([])
  })

  it("copies the CID and token out of the frame's buffer", () => {
    const remote = new RemoteCids(cidOf(0), 4)
    const cid = cidOf(1)
    const token = tokenOf(1)
    remote.onNewConnectionId(1, 0, cid, token)
    cid.fill(0)
    token.fill(0)
    expect(remote.rotate()).toBe(true)
    expect(remote.active).toEqual({ sequence: 1, cid: cidOf(1), resetToken: tokenOf(1) })
  })

  it("accepts an exact repeat of a NEW_CONNECTION_ID frame (§19.15)", () => {
    const remote = new RemoteCids(cidOf(0), 4)
    remote.onNewConnectionId(1, 0, cidOf(1), tokenOf(1))
    expect(remote.onNewConnectionId(1, 0, cidOf(1), tokenOf(1))).toBeUndefined()
    expect(remote.spareCount).toBe(1)
  })

  it("rejects a sequence number reused for a different CID with PROTOCOL_VIOLATION", () => {
    const remote = new RemoteCids(cidOf(0), 4)
    remote.onNewConnectionId(1, 0, cidOf(1), tokenOf(1))
    const error = remote.onNewConnectionId(1, 0, cidOf(9), tokenOf(1))
    expect(error).toMatchObject({ code: TransportErrorCode.PROTOCOL_VIOLATION, frameType: FrameType.NEW_CONNECTION_ID })
    expect(FrameType.NEW_CONNECTION_ID).toBe(0x18)
  })

  it("rejects a sequence number repeated with a different reset token with PROTOCOL_VIOLATION", () => {
    const remote = new RemoteCids(cidOf(0), 4)
    remote.onNewConnectionId(1, 0, cidOf(1), tokenOf(1))
    expect(remote.onNewConnectionId(1, 0, cidOf(1), tokenOf(9))?.code).toBe(0x0a)
  })

  it("checks a repeat of sequence 0 against the active CID", () => {
    const remote = new RemoteCids(cidOf(0), 4)
    expect(remote.onNewConnectionId(0, 0, cidOf(0), tokenOf(0))).toBeUndefined()
    expect(remote.onNewConnectionId(0, 0, cidOf(7), tokenOf(0))?.code).toBe(0x0a)
    remote.setInitialResetToken(tokenOf(0))
    expect(remote.onNewConnectionId(0, 0, cidOf(0), tokenOf(8))?.code).toBe(0x0a)
    expect(remote.spareCount).toBe(0)
  })

  it("closes with CONNECTION_ID_LIMIT_ERROR once more than active_connection_id_limit CIDs are active (§5.1.1)", () => {
    const remote = new RemoteCids(cidOf(0), 3)
    expect(remote.onNewConnectionId(1, 0, cidOf(1), tokenOf(1))).toBeUndefined()
    expect(remote.onNewConnectionId(2, 0, cidOf(2), tokenOf(2))).toBeUndefined()
    const error = remote.onNewConnectionId(3, 0, cidOf(3), tokenOf(3))
    expect(error).toMatchObject({ code: TransportErrorCode.CONNECTION_ID_LIMIT_ERROR, frameType: FrameType.NEW_CONNECTION_ID })
    expect(error?.code).toBe(0x09)
  })

  it("does not count CIDs retired by the same frame against the limit (§5.1.1: after adding and retiring)", () => {
    const remote = new RemoteCids(cidOf(0), 2)
    expect(remote.onNewConnectionId(1, 0, cidOf(1), tokenOf(1))).toBeUndefined()
    // Sequence 2 would exceed the limit of 2, but Retire Prior To 2 retires 0 and 1.
    expect(remote.onNewConnectionId(2, 2, cidOf(2), tokenOf(2))).toBeUndefined()
    expect(remote.active).toEqual({ sequence: 2, cid: cidOf(2), resetToken: tokenOf(2) })
    expect(remote.spareCount).toBe(0)
    expect([...remote.pendingRetirements].sort()).toEqual([0, 1])
  })

  it("retires older CIDs on Retire Prior To and switches the active CID to the lowest remaining (§5.1.2)", () => {
    const remote = new RemoteCids(cidOf(0), 8)
    for (let seq = 1; seq <= 4; seq++) remote.onNewConnectionId(seq, 0, cidOf(seq), tokenOf(seq))
    expect(remote.onNewConnectionId(5, 3, cidOf(5), tokenOf(5))).toBeUndefined()
    expect([...remote.pendingRetirements].sort()).toEqual([0, 1, 2])
    expect(remote.active).toEqual({ sequence: 3, cid: cidOf(3), resetToken: tokenOf(3) })
    expect(remote.spareCount).toBe(2)
  })

  it("keeps the active CID when Retire Prior To only covers spares", () => {
    const remote = new RemoteCids(cidOf(0), 8)
    for (let seq = 1; seq <= 3; seq++) remote.onNewConnectionId(seq, 0, cidOf(seq), tokenOf(seq))
    remote.rotate() // active 1, retired 0
    remote.rotate() // active 2, retired 1
    remote.pendingRetirements.length = 0
    expect(remote.onNewConnectionId(4, 2, cidOf(4), tokenOf(4))).toBeUndefined()
    expect(remote.active.sequence).toBe(2)
    expect(remote.pendingRetirements).toEqual([])
    expect(remote.spareCount).toBe(2)
  })

  it("ignores a Retire Prior To lower than one already seen", () => {
    const remote = new RemoteCids(cidOf(0), 8)
    remote.onNewConnectionId(1, 0, cidOf(1), tokenOf(1))
    remote.onNewConnectionId(2, 2, cidOf(2), tokenOf(2))
    remote.pendingRetirements.length = 0
    expect(remote.onNewConnectionId(3, 1, cidOf(3), tokenOf(3))).toBeUndefined()
    expect(remote.active.sequence).toBe(2)
    expect(remote.pendingRetirements).toEqual([])
    expect(remote.spareCount).toBe(1)
  })

  it("retires at once a NEW_CONNECTION_ID below the current Retire Prior To (§5.1.2)", () => {
    const remote = new RemoteCids(cidOf(0), 4)
    remote.onNewConnectionId(3, 3, cidOf(3), tokenOf(3))
    expect(remote.active.sequence).toBe(3)
    remote.pendingRetirements.length = 0
    // Sequences 1 and 2 arrive late (reordered).
    expect(remote.onNewConnectionId(1, 0, cidOf(1), tokenOf(1))).toBeUndefined()
    expect(remote.onNewConnectionId(2, 1, cidOf(2), tokenOf(2))).toBeUndefined()
    expect(remote.pendingRetirements).toEqual([1, 2])
    expect(remote.spareCount).toBe(0)
    expect(remote.active.sequence).toBe(3)
    expect([...remote.resetTokens()]).toEqual([tokenOf(3)])
  })

  it("bounds the RETIRE_CONNECTION_ID backlog a peer can build up", () => {
    const remote = new RemoteCids(cidOf(0), 2)
    let error
    let seq = 1
    // Each frame retires everything before it; the retirements pile up unsent.
    for (; seq < 100 && error === undefined; seq++) error = remote.onNewConnectionId(seq, seq, cidOf(seq), tokenOf(seq))
    expect(error?.code).toBe(TransportErrorCode.CONNECTION_ID_LIMIT_ERROR)
    expect(remote.pendingRetirements.length).toBe(4 * 2 + 1)
  })

  it("rotates to the lowest spare for a new path and retires the old one (§9.5)", () => {
    const remote = new RemoteCids(cidOf(0), 4)
    remote.onNewConnectionId(2, 0, cidOf(2), tokenOf(2))
    remote.onNewConnectionId(1, 0, cidOf(1), tokenOf(1))
    expect(remote.rotate()).toBe(true)
    expect(remote.active).toEqual({ sequence: 1, cid: cidOf(1), resetToken: tokenOf(1) })
    expect(remote.pendingRetirements).toEqual([0])
    expect(remote.spareCount).toBe(1)
    expect(remote.rotate()).toBe(true)
    expect(remote.active.sequence).toBe(2)
    expect(remote.pendingRetirements).toEqual([0, 1])
  })

  it("keeps the CID in use when rotating without a spare", () => {
    const remote = new RemoteCids(cidOf(0), 4)
    expect(remote.rotate()).toBe(false)
    expect(remote.active.sequence).toBe(0)
    expect(remote.pendingRetirements).toEqual([])
  })

  it("lists the reset token of the active CID, and no token of a retired one", () => {
    const remote = new RemoteCids(cidOf(0), 4)
    remote.setInitialResetToken(tokenOf(0))
    remote.onNewConnectionId(1, 0, cidOf(1), tokenOf(1))
    remote.rotate()
    expect([...remote.resetTokens()]).toContainEqual(tokenOf(1))
    expect([...remote.resetTokens()]).not.toContainEqual(tokenOf(0))
  })

  it("ignores setInitialResetToken once the CID moved past sequence 0", () => {
    const remote = new RemoteCids(cidOf(0), 4)
    remote.onNewConnectionId(1, 0, cidOf(1), tokenOf(1))
    remote.rotate()
    remote.setInitialResetToken(tokenOf(0))
    expect(remote.active.resetToken).toEqual(tokenOf(1))
  })
})

describe("CIDs of a preferred address (RFC 9000 §5.1.1, §9.5, §9.6)", () => {
  it("the server's preferred-address CID is sequence 1, issued (routed) but not announced, and counts toward the limit", () => {
    const { local } = makeLocal()
    const issued = local.issueForPreferredAddress()
    expect(issued.sequence).toBe(1)
    expect(local.added).toEqual([issued.cid])
    expect(local.pendingAnnouncements).toEqual([])
    local.replenish(4)
    expect(sequences(local)).toEqual([0, 1, 2, 3])
    expect(local.pendingAnnouncements.map((c) => c.sequence)).toEqual([2, 3])
  })

  it("take reserves a spare for a probed path; switchTo moves to it retiring the old one; discard retires it unused", () => {
    const remote = new RemoteCids(cidOf(0), 4)
    expect(remote.onNewConnectionId(1, 0, cidOf(1), tokenOf(1))).toBeUndefined()
    expect(remote.onNewConnectionId(2, 0, cidOf(2), tokenOf(2))).toBeUndefined()
    const taken = remote.take(1)!
    expect(taken.sequence).toBe(1)
    expect(remote.spareCount).toBe(1)
    // A repeated NEW_CONNECTION_ID for a taken sequence is recognised, not added again.
    expect(remote.onNewConnectionId(1, 0, cidOf(1), tokenOf(1))).toBeUndefined()
    expect(remote.spareCount).toBe(1)
    // Taken CIDs still count toward our limit (4): 0 active, 1 taken, 2 and 3 spare, 4 is one too many.
    expect(remote.onNewConnectionId(3, 0, cidOf(3), tokenOf(3))).toBeUndefined()
    expect(remote.onNewConnectionId(4, 0, cidOf(4), tokenOf(4))?.code).toBe(TransportErrorCode.CONNECTION_ID_LIMIT_ERROR)

    const other = new RemoteCids(cidOf(0), 4)
    other.onNewConnectionId(1, 0, cidOf(1), tokenOf(1))
    other.onNewConnectionId(2, 0, cidOf(2), tokenOf(2))
    other.switchTo(other.take(1)!)
    expect(other.active.cid).toEqual(cidOf(1))
    expect(other.pendingRetirements).toEqual([0])
    const unused = other.take()!
    expect(unused.sequence).toBe(2)
    other.discard(unused)
    expect(other.pendingRetirements).toEqual([0, 2])
    expect(other.active.cid).toEqual(cidOf(1))
    expect(other.take()).toBeUndefined()
  })
})
