// The connection kernel shared by agent sessions (agents/agent-session.ts) and panel sessions
// (panel/panel-session.ts): heartbeat, the frame rate limit (token bucket), bad-frame counting,
// the bounded outbox (outbox.ts) and closing. The sessions keep only their protocol: what a text
// frame means and how an error frame is spelled. Like centrifuge's Client over its Transport, it
// knows nothing of Fastify or `ws`, and time is injected, so unit tests drive it with fakes.
import { CLOSE } from '../../agent-protocol/codes.ts'
import { createTokenBucket } from '../token-bucket.ts'
import type { FrameMeter } from './frame-meter.ts'
import { createOutbox, type Outbox, type OutboxLimits } from './outbox.ts'
import type { SetTimer, Transport } from './types.ts'

export interface ConnectionLimits extends OutboxLimits {
  heartbeatMs: number
  ratePerSecond: number
  burst: number
  /** Bad frames tolerated before the connection is closed with 4400. */
  maxBadFrames: number
  /** Rate-limited frames tolerated before the connection is closed with 4429. */
  maxLimitedFrames: number
}

export interface ConnectionDeps {
  transport: Transport
  limits: ConnectionLimits
  now: () => number
  setTimer: SetTimer
  /** This protocol's error frames for what the kernel refuses itself. */
  errors: { rateLimited (): string, badFrame (reason: string): string }
  /** A text frame within the rate limit (or exempt from it), while open. */
  onText: (data: string | Buffer, exempt: boolean) => void
  /**
   * Frames this says yes to skip the frame budget and its 4429 count: the session applies a budget
   * of its own (an agent's `console` and `stats`, PROTOCOL.md 1.1, whose excess is dropped silently)
   * and must refuse an exempt frame that turns out to be something else.
   */
  exempt?: (data: string | Buffer) => boolean
  /** The connection ended, whichever side ended it: called once, after the kernel stopped. */
  onEnd: () => void
  /** Counts frames in and out by type (hub_ws_frames_total); absent: not counted. */
  frames?: FrameMeter
}

export interface Connection {
  readonly closed: boolean
  readonly outbox: Outbox
  /** Frames from the transport. */
  onFrame (data: string | Buffer, isBinary: boolean): void
  onPong (): void
  /** The transport closed (for whatever reason). */
  onClosed (): void
  close (code: number, reason: string): void
  /** Shorthands for outbox.send / sendMany. */
  send (frame: string | Buffer): boolean
  sendMany (frames: ReadonlyArray<string | Buffer>): boolean
  /** Answers a bad frame with `errorFrame` and counts it; too many close the connection (4400). */
  bad (errorFrame: string): void
}

export function createConnection (deps: ConnectionDeps): Connection {
  const { limits, now, setTimer, errors, frames } = deps
  // Every frame sent leaves through transport.send, whichever outbox path sent it: counted there.
  const transport: typeof deps.transport = frames === undefined
    ? deps.transport
    : {
        send: frame => { frames.count('out', frame); deps.transport.send(frame) },
        flush: () => deps.transport.flush(),
        close: (code, reason) => deps.transport.close(code, reason),
        ping: () => deps.transport.ping(),
        bufferedAmount: () => deps.transport.bufferedAmount()
      }
  let closed = false
  let badFrames = 0
  let limitedFrames = 0
  let lastSeen = now()
  const bucket = createTokenBucket(limits.ratePerSecond, limits.burst, now)
  const outbox = createOutbox({
    transport,
    limits,
    onOverflow: () => close(CLOSE.POLICY, 'too slow: the peer does not read its frames')
  })

  // Every heartbeat: the peer must have been heard from (any frame or pong) within 2 intervals.
  let heartbeat = setTimer(beat, limits.heartbeatMs)
  function beat () {
    if (now() - lastSeen > 2 * limits.heartbeatMs) return close(CLOSE.TIMEOUT, 'heartbeat lost')
    transport.ping()
    heartbeat = setTimer(beat, limits.heartbeatMs)
  }

  function end () {
    closed = true
    heartbeat.cancel()
    outbox.stop()
    deps.onEnd()
  }
  function close (code: number, reason: string) {
    if (closed) return
    end()
    transport.close(code, reason)
  }

  function bad (errorFrame: string) {
    if (closed) return
    outbox.send(errorFrame)
    if (++badFrames > limits.maxBadFrames) close(CLOSE.PROTOCOL_ERROR, 'too many bad frames')
  }

  return {
    get closed () { return closed },
    outbox,
    onFrame (data, isBinary) {
      if (closed) return
      lastSeen = now()
      frames?.count('in', data)
      const exempt = !isBinary && deps.exempt?.(data) === true
      if (!exempt && !bucket.take()) {
        outbox.send(errors.rateLimited())
        if (++limitedFrames > limits.maxLimitedFrames) close(CLOSE.RATE_LIMITED, 'rate limited')
        return
      }
      if (isBinary) return bad(errors.badFrame('binary frames are not accepted'))
      deps.onText(data, exempt)
    },
    onPong () { lastSeen = now() },
    onClosed () { if (!closed) end() },
    close,
    send: frame => !closed && outbox.send(frame),
    sendMany: frames => !closed && outbox.sendMany(frames),
    bad
  }
}
