import http from 'node:http';
import express from 'express';
import { SSE_BUFFER_MAX_BYTES, SseResponse } from '../src/stream/sse';
import { listen } from './harness';

describe('SseResponse', () => {
  it('when a client stops reading, then it is disconnected once its unread bytes pass the bound, instead of being buffered without end', async () => {
    let sse: SseResponse | undefined;
    const app = express();
    app.get('/events', (_req, res) => {
      sse = new SseResponse(res);
      const line = JSON.stringify({ padding: 'x'.repeat(16 * 1024) });
      // Far more than the socket and the kernel take at once: the rest would wait in the process's memory.
      for (let i = 0; i < 2_000 && sse.isOpen; i += 1) sse.event('order.updated', line, String(i));
    });
    const server = await listen(app);
    try {
      const url = `${server.url}/events`;
      const closed = await new Promise<boolean>((resolve) => {
        const req = http.get(url, (res) => {
          res.pause(); // a client that never reads
          res.on('close', () => resolve(true));
          setTimeout(() => resolve(false), 3_000);
        });
        req.on('error', () => resolve(true));
      });
      expect(closed).toBe(true);
      expect(sse!.isOpen).toBe(false);
      expect(SSE_BUFFER_MAX_BYTES).toBe(1024 * 1024);
    } finally {
      await server.close();
    }
  });
});
