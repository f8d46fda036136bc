// What the realtime core needs from a connection. The WebSocket route adapts `ws` to it;
// unit tests use a fake that records frames.
export interface Transport {
  send (frame: string): void
  close (code: number, reason: string): void
  ping (): void
}
