import type { Response } from 'express';

/** Bytes a client may leave unread before it is dropped: a slow reader is cut off, never buffered without bound. */
export const SSE_BUFFER_MAX_BYTES = 1024 * 1024;

/**
 * One Server-Sent Events response: headers at once, then events and comment heartbeats. Writes after the
 * client went away are ignored; a client whose unread bytes pass SSE_BUFFER_MAX_BYTES is disconnected.
 */
export class SseResponse {
  private open = true;

  constructor(private readonly res: Response) {
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      // Proxies such as nginx must pass each event on as it comes.
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    res.once('close', () => {
      this.open = false;
    });
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** An event; `data` is one line of JSON (JSON.stringify never writes a newline). */
  event(type: string, data: string, id?: string): void {
    this.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${type}\ndata: ${data}\n\n`);
  }

  /** How long EventSource waits before it reconnects after a dropped connection. */
  retry(ms: number): void {
    this.write(`retry: ${ms}\n\n`);
  }

  comment(text: string): void {
    this.write(`: ${text}\n\n`);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.res.end();
  }

  private write(chunk: string): void {
    if (!this.open) return;
    this.res.write(chunk);
    if (this.res.writableLength > SSE_BUFFER_MAX_BYTES) {
      this.open = false;
      this.res.destroy();
    }
  }
}
