import http from 'node:http';

export interface JsonResponse {
  status: number;
  body: unknown;
}

export interface JsonRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  agent?: http.Agent;
  timeoutMs: number;
}

const RESPONSE_BYTES_MAX = 5 * 1024 * 1024;

/**
 * A small JSON client over node:http for the gateway's own calls (health, OpenAPI, API-key resolution),
 * on the upstream's keep-alive agent. Rejects on connection errors, on the timeout, and on bodies over
 * `RESPONSE_BYTES_MAX`; a non-JSON body resolves as `null`.
 */
export function requestJson(url: string, options: JsonRequestOptions): Promise<JsonResponse> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: options.method ?? 'GET',
      agent: options.agent,
      headers: {
        accept: 'application/json',
        ...(payload
          ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
          : {}),
        ...options.headers,
      },
    });
    const timer = setTimeout(
      () => req.destroy(Object.assign(new Error('timed out'), { code: 'UPSTREAM_TIMEOUT' })),
      options.timeoutMs,
    );
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > RESPONSE_BYTES_MAX) return req.destroy(new Error('response too large'));
        chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        let body: unknown = null;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = null;
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    req.end(payload);
  });
}
