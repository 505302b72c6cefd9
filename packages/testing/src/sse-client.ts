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
  contentType: string;
  /** The body of an answer other than 200 (a problem+json). */
  body: string;
  events: SseEvent[];
  /** The named events (not comments), in order; only those called `name` when given. */
  named(name?: string): SseEvent[];
  /** Resolves with the events so far once `predicate` holds (checked on each chunk); fails after `timeoutMs`. */
  waitFor(predicate: (client: SseClient) => boolean, timeoutMs?: number): Promise<SseEvent[]>;
  close(): void;
}

/** Opens `url` over node:http (GET, `accept: text/event-stream`); an answer other than 200 resolves once read whole. */
export function openSse(url: string, headers: Record<string, string> = {}, waitTimeoutMs = 15_000): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const waiters: Array<() => void> = [];
      let buffer = '';
      const client: SseClient = {
        status: res.statusCode ?? 0,
        contentType: String(res.headers['content-type'] ?? ''),
        body: '',
        events: [],
        named: (name) => client.events.filter((e) => e.event !== undefined && (name === undefined || e.event === name)),
        waitFor: (predicate, timeoutMs = waitTimeoutMs) =>
          new Promise((done, fail) => {
            const timer = setTimeout(
              () => fail(new Error(`timed out; events so far: ${JSON.stringify(client.events)}`)),
              timeoutMs,
            );
            const check = () => {
              if (!predicate(client)) return void waiters.push(check);
              clearTimeout(timer);
              done(client.events);
            };
            check();
          }),
        close: () => req.destroy(),
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (client.status !== 200) {
          client.body += chunk;
          return;
        }
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          client.events.push(parseEvent(buffer.slice(0, end)));
          buffer = buffer.slice(end + 2);
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

/** One event block (the lines before a blank line); the gateway writes one `data:` line per event. */
function parseEvent(block: string): SseEvent {
  const event: SseEvent = {};
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) event.comment = line.slice(1).trim();
    else if (line.startsWith('id: ')) event.id = line.slice(4);
    else if (line.startsWith('event: ')) event.event = line.slice(7);
    else if (line.startsWith('data: ')) event.data = line.slice(6);
  }
  return event;
}
