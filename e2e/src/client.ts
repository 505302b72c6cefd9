import { randomUUID } from 'node:crypto';

/** A tiny API client for the gateway, as a real client would use it (fetch, JSON, bearer tokens). */
export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export class Api {
  constructor(
    readonly baseUrl: string,
    private token?: string,
  ) {}

  as(token: string | undefined): Api {
    return new Api(this.baseUrl, token);
  }

  async request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('GET', path, undefined, headers);
  }
  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', path, body ?? {}, headers);
  }
  patch<T = any>(path: string, body?: unknown) {
    return this.request<T>('PATCH', path, body ?? {});
  }
  delete<T = any>(path: string) {
    return this.request<T>('DELETE', path);
  }
}

let counter = 0;

/** Registers a fresh user and returns a client acting as them. */
export async function newUser(
  api: Api,
  prefix = 'u',
): Promise<{ api: Api; id: string; email: string; refreshToken: string }> {
  counter++;
  const tag = `${prefix}${Date.now().toString(36)}${counter}`;
  const email = `${tag}@e2e.test`;
  const res = await api.post('/api/v1/auth/register', {
    email,
    username: tag.slice(0, 32),
    password: 'correct-horse-battery',
  });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { api: api.as(res.body.accessToken), id: res.body.user.id, email, refreshToken: res.body.refreshToken };
}

export async function login(api: Api, email: string, password: string): Promise<Api> {
  const res = await api.post('/api/v1/auth/login', { email, password });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
  return api.as(res.body.accessToken);
}

/**
 * A POST retried with one Idempotency-Key until it gets a definitive answer, as a real client does while the stack
 * is between states (a crashed service, a restarted Redis): every 5xx, a lost connection, or 409
 * IDEMPOTENCY.IN_PROGRESS is tried again after `pauseMs`, until `deadlineMs` have passed.
 */
export async function postUntilAnswered(
  user: Api,
  path: string,
  body: unknown = {},
  options: { deadlineMs?: number; pauseMs?: number } = {},
): Promise<ApiResponse> {
  const key = randomUUID();
  const deadline = Date.now() + (options.deadlineMs ?? 30_000);
  for (;;) {
    const res = await user
      .post(path, body, { 'idempotency-key': key })
      .catch((): ApiResponse => ({ status: 599, body: undefined, headers: new Headers() }));
    const retry = res.status >= 500 || (res.status === 409 && res.body?.code === 'IDEMPOTENCY.IN_PROGRESS');
    if (!retry || Date.now() > deadline) return res;
    await new Promise((resolve) => setTimeout(resolve, options.pauseMs ?? 200));
  }
}

/** Polls until `probe` returns a truthy value. */
export async function until<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}
