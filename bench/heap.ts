/** Heap figures after a full collection (node --expose-gc). */
export interface HeapReport {
  readonly heapUsed: number
  readonly rss: number
  readonly external: number
  readonly arrayBuffers: number
  readonly gc: boolean
}

const gc = (globalThis as { gc?: () => void }).gc

export const heapReport = async (): Promise<HeapReport> => {
  if (gc !== undefined) {
    // twice, with a turn of the event loop between, so weak callbacks and finalizers settle
    gc()
    await new Promise((resolve) => setTimeout(resolve, 50))
    gc()
  }
  const m = process.memoryUsage()
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers, gc: gc !== undefined }
}
