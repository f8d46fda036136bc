// The traffic metrics of /metrics (docs/operations.md): WebSocket frames in and out by socket and
// type (connection/frame-meter.ts, counted by the connection kernel), and for each group-committed
// writer (group-commit.ts) the sizes of its batches and the items waiting in its lanes. Writers and
// sockets report through `app.meters`, decorated here (the metrics plugin registers before them);
// every label set is bounded: socket × direction × the protocol's frame types + 'unknown', and the
// writers named in WRITERS.
import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { createFrameMeters, type FrameMeters } from './connection/frame-meter.ts'

/** The group-committed writers that report: status ingest, and the three kinds of action writes. */
export const WRITERS = ['status', 'action_create', 'action_claim', 'action_reply'] as const
export type Writer = typeof WRITERS[number]

export interface Meters {
  frames: FrameMeters
  /** The onBatch of a writer's group commit. */
  batch (writer: Writer): (size: number) => void
  /** Reports a writer's queue depth at each scrape (its GroupCommit's depth; several add up). */
  depth (writer: Writer, read: () => number): void
}

declare module 'fastify' {
  interface FastifyInstance {
    meters: Meters
  }
}

/** Returns the metrics it registered (the counters and gauges fill themselves at each scrape). */
export function registerTrafficMetrics (app: FastifyInstance, registry: Registry): { framesTotal: Counter, batches: Histogram, queueDepth: Gauge } {
  const frames = createFrameMeters()
  const framesTotal = new Counter({
    name: 'hub_ws_frames_total',
    help: 'WebSocket text frames this hub received (in) and sent (out), by socket (agent, panel) and protocol frame type (unknown: not a protocol type)',
    labelNames: ['socket', 'direction', 'type'],
    registers: [registry],
    collect () {
      // The meters hold running totals (plain integers, cheap per frame); the counter takes them.
      this.reset()
      for (const socket of ['agent', 'panel'] as const) {
        for (const [direction, type, n] of frames[socket].entries()) this.inc({ socket, direction, type }, n)
      }
    }
  })
  const batches = new Histogram({
    name: 'hub_write_batch_size',
    help: 'Items per group-committed transaction, by writer (status: agent status reports)',
    labelNames: ['writer'],
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
    registers: [registry]
  })
  const depths = new Map<Writer, Array<() => number>>()
  const queueDepth = new Gauge({
    name: 'hub_write_queue_depth',
    help: 'Items waiting in the lanes of a group-committed writer (not yet in a transaction), by writer',
    labelNames: ['writer'],
    registers: [registry],
    collect () {
      for (const writer of WRITERS) this.set({ writer }, (depths.get(writer) ?? []).reduce((sum, read) => sum + read(), 0))
    }
  })
  app.decorate('meters', {
    frames,
    batch: writer => {
      const child = batches.labels({ writer })
      return size => child.observe(size)
    },
    depth: (writer, read) => { depths.set(writer, [...(depths.get(writer) ?? []), read]) }
  } satisfies Meters)
  return { framesTotal, batches, queueDepth }
}
