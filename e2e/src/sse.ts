import http from 'node:http';

export interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** A Server-Sent Events client as a browser's EventSource would be: the answer's status, then its events as they come. */
export interface SseClient {
  status: number;
  /** The body of an answer other than 200 (a problem+json). */
  body: string;
  events: SseEvent[];
  /** The named events (not comments), in order. */
  named(name?: string): SseEvent[];
  waitFor(predicate: (client: SseClient) => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
}

export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const waiters: Array<() => void> = [];
      let buffer = '';
      const client: SseClient = {
        status: res.statusCode ?? 0,
        body: '',
        events: [],
        named: (name) => client.events.filter((e) => e.event !== undefined && (name === undefined || e.event === name)),
        waitFor: (predicate, timeoutMs = 15_000) =>
          new Promise((done, fail) => {
            const timer = setTimeout(() => fail(new Error(`timed out; events so far: ${JSON.stringify(client.named())}`)), timeoutMs);
            const check = () => {
              if (!predicate(client)) return void waiters.push(check);
              clearTimeout(timer);
              done();
            };
            check();
          }),
        close: () => req.destroy(),
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (client.status !== 200) return void (client.body += chunk);
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const event: SseEvent = {};
          for (const line of buffer.slice(0, end).split('\n')) {
            if (line.startsWith(':')) event.comment = line.slice(1).trim();
            else if (line.startsWith('id: ')) event.id = line.slice(4);
            else if (line.startsWith('event: ')) event.event = line.slice(7);
            else if (line.startsWith('data: ')) event.data = line.slice(6);
          }
          buffer = buffer.slice(end + 2);
          client.events.push(event);
        }
        for (const waiter of waiters.splice(0)) waiter();
      });
      res.on('error', () => undefined);
      if (client.status === 200) resolve(client);
      else res.on('end', () => resolve(client));
    });
    req.on('error', reject);
  });
}
