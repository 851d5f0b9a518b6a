import { rootCertificates } from "node:tls"
import { describe, expect, it } from "vitest"
import { nodeTrustAnchors } from "../../src/platform/nodeTrustAnchors.js"

describe("Node's bundled trust anchors", () => {
  it("parses every root Node ships", () => {
    const anchors = nodeTrustAnchors()
    expect(rootCertificates.length).toBeGreaterThan(100)
    expect(anchors.length).toBe(rootCertificates.length)
    for (const anchor of anchors) {
      expect(anchor.extensions.basicConstraints?.cA ?? anchor.version === 1).toBe(true)
      expect(anchor.publicKey).toBeDefined()
    }
  })
})
