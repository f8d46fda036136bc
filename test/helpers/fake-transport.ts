// The connection kernel's Transport without a socket: records frames (parsed), closes and pings,
// and reports whatever buffered amount the test sets. Sent bytes are not added to it: a test that
// wants a reader that never reads sets `grow: true`, and every frame then stays "buffered".
import type { Transport } from '../../src/hub/connection/types.ts'

export interface FakeTransport extends Transport {
  frames: any[]
  closes: Array<[number, string]>
  pings: number
  buffered: number
  grow: boolean
}

export function createFakeTransport (): FakeTransport {
  const t: FakeTransport = {
    frames: [],
    closes: [],
    pings: 0,
    buffered: 0,
    grow: false,
    send (frame) {
      t.frames.push(JSON.parse(String(frame)))
      if (t.grow) t.buffered += typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length
    },
    close (code, reason) { t.closes.push([code, reason]) },
    flush () {},
    ping () { t.pings++ },
    bufferedAmount: () => t.buffered
  }
  return t
}
