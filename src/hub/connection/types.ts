// The leaf of the connection kernel: what it needs from a socket and from time. plugins/ws-transport.ts
// adapts `ws` to `Transport`; unit tests use a fake that records frames and reports whatever
// buffered amount the test sets (test/helpers/fake-clock.ts gives the timers).

/** One connection, as the realtime cores see it. No Fastify, no `ws`. */
export interface Transport {
  /** Queues one text frame. Frames sent within one tick leave in one write (the adapter corks). */
  send (frame: string | Buffer): void
  /** Hands what this tick corked to the kernel now, rather than at the end of the tick. */
  flush (): void
  close (code: number, reason: string): void
  ping (): void
  /** Bytes accepted by send() and not yet handed to the kernel (corked ones included): the
   *  memory a connection holds, and after a flush the measure of a slow reader. */
  bufferedAmount (): number
}

export interface Timer { cancel (): void }
export type SetTimer = (fn: () => void, ms: number) => Timer

export interface Log { warn (obj: object, msg: string): void, info? (obj: object, msg: string): void }
