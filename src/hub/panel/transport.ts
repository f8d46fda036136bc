// What the panel core needs from a connection. plugins/panel-gateway.ts adapts `ws` to it; unit
// tests use a fake that records frames and reports whatever buffered amount the test sets.
export interface PanelTransport {
  send (frame: string | Buffer): void
  /** Several frames in one write: the adapter corks the socket around them. */
  sendBatch (frames: ReadonlyArray<string | Buffer>): void
  close (code: number, reason: string): void
  ping (): void
  /** Bytes accepted by send() and not yet handed to the kernel: the measure of a slow reader. */
  bufferedAmount (): number
}
